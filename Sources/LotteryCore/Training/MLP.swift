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

/// A network's parameters: one masked weight layer per weight layer of its ``Architecture`` (convolutions, fully
/// connected layers, the output layer), each a `[in, out]` kernel with its mask and bias.
///
/// The name is historical: the type began as the multilayer perceptron of LeNet-300-100
/// (`MLP(widths: [784, 300, 100, 10], …)`, Frankle & Carbin 2019, Figure 2); the conv networks of the same paper
/// (``ModelPreset/conv2`` …) are the same type with convolution kernels as `[3·3·in, out]` layers.
public struct MLP: Sendable, Hashable {
    public var layers: [DenseLayer]
    /// The layer stack and every shape in it.
    public let architecture: Architecture

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
        self.init(architecture: .mlp(widths: widths), initializer: initializer, seed: seed)
    }

    /// A freshly initialised, dense network of `architecture`.
    ///
    /// Weight layer `l` draws its `[rows, cols]` kernel from the RNG stream `"init/layer<l>"` of `seed`
    /// (``LotteryRNG``) in row-major order, with the fans of ``WeightLayerShape`` (a convolution's are
    /// `3·3·in` and `3·3·out`). Biases start at zero.
    public init(architecture: Architecture, initializer: InitScheme, seed: Int) {
        var layers: [DenseLayer] = []
        for (l, shape) in architecture.weightLayers.enumerated() {
            let fanIn = shape.fanIn, fanOut = shape.fanOut
            var rng = LotteryRNG(seed: seed, stream: "init/layer\(l)")
            let std = MLP.initStd(fanIn: fanIn, fanOut: fanOut, initializer: initializer)
            var values = [Float](repeating: 0, count: shape.count)
            switch initializer {
            case .glorotNormal, .heNormal:
                for i in values.indices { values[i] = Float(rng.gaussian() * std) }
            case .glorotUniform:
                let limit = (6.0 / Double(fanIn + fanOut)).squareRoot()
                for i in values.indices { values[i] = Float((2 * rng.uniform() - 1) * limit) }
            }
            layers.append(
                DenseLayer(
                    weight: Matrix(rows: shape.rows, cols: shape.cols, data: values),
                    bias: [Float](repeating: 0, count: shape.cols),
                    mask: Matrix(rows: shape.rows, cols: shape.cols, repeating: 1)))
        }
        self.layers = layers
        self.architecture = architecture
    }

    /// The network a trial spec describes on its data set, initialised from its init seed.
    ///
    /// - Precondition: the spec is valid (``TrialSpec/validate()``).
    public init(spec: TrialSpec) {
        let architecture: Architecture
        do { architecture = try spec.architecture() } catch { preconditionFailure("MLP(spec:): \(error)") }
        self.init(architecture: architecture, initializer: spec.model.initializer, seed: spec.initSeed)
    }

    /// A fully connected network of `spec` on flat inputs of `features` values (synthetic data in tests and
    /// benchmarks).
    ///
    /// - Precondition: `spec.model.layers` has only fully connected layers.
    public init(spec: TrialSpec, features: Int, classes: Int = 10) {
        let widths = spec.model.layers.map { token -> Int in
            guard case .fc(let n) = token else { preconditionFailure("MLP(spec:features:): '\(token)' is not fully connected") }
            return n
        }
        self.init(
            architecture: .mlp(widths: [features] + widths + [classes]), initializer: spec.model.initializer,
            seed: spec.initSeed)
    }

    /// A fully connected network from explicit layers (e.g. decoded from a checkpoint).
    public init(layers: [DenseLayer]) {
        for l in 1..<max(layers.count, 1) {
            precondition(
                layers[l].inputs == layers[l - 1].outputs,
                "MLP: layer \(l) takes \(layers[l].inputs) inputs, previous gives \(layers[l - 1].outputs)")
        }
        self.layers = layers
        self.architecture = .mlp(widths: layers.isEmpty ? [1, 1] : [layers[0].inputs] + layers.map(\.outputs))
    }

    /// Explicit layers of `architecture`.
    ///
    /// - Precondition: one layer per weight layer of `architecture`, each of its shape.
    public init(architecture: Architecture, layers: [DenseLayer]) {
        precondition(
            layers.count == architecture.weightLayers.count
                && zip(layers, architecture.weightLayers).allSatisfy { $0.inputs == $1.rows && $0.outputs == $1.cols },
            "MLP: layers do not fit the architecture")
        self.layers = layers
        self.architecture = architecture
    }

    /// σ of the init distribution of weight layer `l` (``initStd(fanIn:fanOut:initializer:)`` with its fans).
    public func initStd(layer l: Int, initializer: InitScheme) -> Double {
        let shape = architecture.weightLayers[l]
        return MLP.initStd(fanIn: shape.fanIn, fanOut: shape.fanOut, initializer: initializer)
    }

    /// Units per layer including input and output (for a conv network: kernel rows of the first layer, then
    /// each layer's outputs; use ``architecture`` for its shapes).
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
