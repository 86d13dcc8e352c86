/// A fully connected layer whose kernel carries a pruning mask.
///
/// `weight` and `mask` are `[in, out]` (row-major, row = input unit), `bias` is `[out]`. The forward pass
/// computes `x · (weight ⊙ mask) + bias`. Biases are never pruned. Invariant kept by ``MLP/apply(masks:)``
/// and the ``Trainer``: a pruned weight is exactly `0.0`.
public struct DenseLayer: Sendable, Hashable {
    /// Kernel, `[in, out]`.
    public var weight: Matrix
    /// Bias, `[out]`, dense, zero at initialisation.
    public var bias: [Float]
    /// `[in, out]`: 1 = kept, 0 = pruned.
    public var mask: Matrix

    public init(weight: Matrix, bias: [Float], mask: Matrix) {
        precondition(bias.count == weight.cols, "DenseLayer: \(bias.count) biases for \(weight.cols) outputs")
        precondition(
            mask.rows == weight.rows && mask.cols == weight.cols,
            "DenseLayer: mask \(mask.rows)x\(mask.cols) for weight \(weight.rows)x\(weight.cols)")
        self.weight = weight
        self.bias = bias
        self.mask = mask
    }

    public var inputs: Int { weight.rows }
    public var outputs: Int { weight.cols }

    /// This layer's mask as flags.
    public var layerMask: LayerMask {
        LayerMask(rows: mask.rows, cols: mask.cols, kept: mask.data.map { $0 != 0 })
    }
}

/// A multilayer perceptron: dense layers with ReLU between them and softmax cross-entropy on the logits.
///
/// The paper's LeNet-300-100 is `MLP(widths: [784, 300, 100, 10], …)` (Frankle & Carbin 2019, Figure 2).
public struct MLP: Sendable, Hashable {
    public var layers: [DenseLayer]

    /// A freshly initialised, dense network.
    ///
    /// Layer `l` draws its kernel from the RNG stream `"init/layer<l>"` of `seed` (``LotteryRNG``), row by
    /// row, so changing one layer's width leaves the other layers' draws unchanged. Biases start at zero.
    /// - Parameters:
    ///   - widths: units per layer including input and output, e.g. `[784, 300, 100, 10]`; at least two.
    ///   - initializer: the kernel distribution (``InitScheme``).
    ///   - seed: the init seed (``TrialSpec/initSeed``).
    public init(widths: [Int], initializer: InitScheme, seed: Int) {
        precondition(
            widths.count >= 2 && widths.allSatisfy { $0 >= 1 }, "MLP: widths \(widths) need ≥ 2 positive entries")
        var layers: [DenseLayer] = []
        for l in 0..<(widths.count - 1) {
            let fanIn = widths[l], fanOut = widths[l + 1]
            var rng = LotteryRNG(seed: seed, stream: "init/layer\(l)")
            let std = MLP.initStd(fanIn: fanIn, fanOut: fanOut, initializer: initializer)
            var values = [Float](repeating: 0, count: fanIn * fanOut)
            switch initializer {
            case .glorotNormal, .heNormal:
                for i in values.indices { values[i] = Float(rng.gaussian() * std) }
            case .glorotUniform:
                let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
                for i in values.indices { values[i] = Float((2 * rng.uniform() - 1) * limit) }
            }
            layers.append(
                DenseLayer(
                    weight: Matrix(rows: fanIn, cols: fanOut, data: values),
                    bias: [Float](repeating: 0, count: fanOut),
                    mask: Matrix(rows: fanIn, cols: fanOut, repeating: 1)))
        }
        self.layers = layers
    }

    /// The network a trial spec describes, initialised from its init seed.
    ///
    /// - Parameters:
    ///   - spec: gives hidden widths, init scheme and ``TrialSpec/initSeed``.
    ///   - features: input width (784 for MNIST).
    ///   - classes: output width (10).
    public init(spec: TrialSpec, features: Int = 784, classes: Int = 10) {
        self.init(
            widths: [features] + spec.model.layers + [classes], initializer: spec.model.initializer,
            seed: spec.initSeed)
    }

    /// A network from explicit layers (e.g. decoded from a checkpoint).
    public init(layers: [DenseLayer]) {
        for l in 1..<max(layers.count, 1) {
            precondition(
                layers[l].inputs == layers[l - 1].outputs,
                "MLP: layer \(l) takes \(layers[l].inputs) inputs, previous gives \(layers[l - 1].outputs)")
        }
        self.layers = layers
    }

    /// Units per layer including input and output.
    public var widths: [Int] {
        guard let first = layers.first else { return [] }
        return [first.inputs] + layers.map(\.outputs)
    }

    /// The standard deviation σ of the kernel init distribution of a `fanIn × fanOut` layer.
    ///
    /// Gaussian Glorot: √(2/(fan_in+fan_out)) (Glorot & Bengio 2010); Glorot uniform U(−a, a) with
    /// a = √(6/(fan_in+fan_out)) has the same σ; He normal: √(2/fan_in) (He et al. 2015).
    /// The signed-constant reinit sets kept weights to ±σ.
    public static func initStd(fanIn: Int, fanOut: Int, initializer: InitScheme) -> Double {
        switch initializer {
        case .glorotNormal, .glorotUniform: return (2.0 / Double(fanIn + fanOut)).squareRoot()
        case .heNormal: return (2.0 / Double(fanIn)).squareRoot()
        }
    }

    /// The current masks, one per layer, `[in, out]`.
    public func masks() -> [LayerMask] { layers.map(\.layerMask) }

    /// Sets every layer's mask and zeroes its pruned weights (biases untouched).
    ///
    /// - Precondition: one mask per layer with the layer's shape.
    public mutating func apply(masks: [LayerMask]) {
        precondition(masks.count == layers.count, "MLP.apply: \(masks.count) masks for \(layers.count) layers")
        for l in layers.indices {
            let mask = masks[l]
            precondition(
                mask.rows == layers[l].weight.rows && mask.cols == layers[l].weight.cols,
                "MLP.apply: mask \(l) is \(mask.rows)x\(mask.cols), layer is \(layers[l].weight.rows)x\(layers[l].weight.cols)"
            )
            layers[l].mask.data = mask.kept.map { $0 ? 1 : 0 }
        }
        enforceMasks()
    }

    /// Makes `weight = weight ⊙ mask` exactly (pruned weights become `0.0`).
    public mutating func enforceMasks() {
        for l in layers.indices {
            let mask = layers[l].mask.data
            layers[l].weight.data.withUnsafeMutableBufferPointer { w in
                for i in w.indices where mask[i] == 0 { w[i] = 0 }
            }
        }
    }

    /// Kept kernel weights per layer.
    public var keptCounts: [Int] {
        layers.map { layer in layer.mask.data.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
    }

    /// Kept kernel weights / all kernel weights (biases excluded).
    public var density: Double {
        let total = layers.reduce(0) { $0 + $1.weight.count }
        return total == 0 ? 0 : Double(keptCounts.reduce(0, +)) / Double(total)
    }
}
