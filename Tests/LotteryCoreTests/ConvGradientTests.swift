import Foundation
import LotteryCore
import Testing

/// The conv engine's backward pass against finite differences (in Double, the same generic kernels that train in
/// Float), and its promise that the thread count never changes a bit.
@Suite("Conv and pool gradients")
struct ConvGradientTests {
    struct Net {
        let architecture: Architecture
        var weights: [[Double]]
        var biases: [[Double]]
        var masks: [[Double]]
        var inputs: [Double]
        var labels: [UInt8]

        init(architecture: Architecture, rows: Int, seed: Int, pruneFraction: Double) {
            var rng = LotteryRNG(seed: seed)
            self.architecture = architecture
            weights = architecture.weightLayers.map { shape in
                (0..<shape.count).map { _ in rng.gaussian() * (2.0 / Double(shape.fanIn)).squareRoot() }
            }
            biases = architecture.weightLayers.map { shape in (0..<shape.cols).map { _ in rng.gaussian() * 0.1 } }
            masks = weights.map { $0.map { _ in rng.uniform() < pruneFraction ? 0 : 1 } }
            inputs = (0..<(rows * architecture.input.features)).map { _ in rng.uniform() }
            labels = (0..<rows).map { _ in UInt8(rng.below(architecture.classes)) }
        }

        /// `sparse`: every conv layer on the weight-sparse convolution.
        func loss(sparse: Bool = false) -> Double {
            Backprop.lossAndGradients(
                architecture: architecture, weights: weights, biases: biases, masks: masks, inputs: inputs,
                labels: labels, sparse: sparse
            ).loss
        }
    }

    /// `|a − b|` relative to `|a| + |b|`, or to 1e-4 for smaller gradients: a central difference with h = 1e-6 on a
    /// loss near 1 carries ~1e-10 of rounding noise, which a gradient that is exactly 0 would otherwise turn into a
    /// relative error of 1e-3.
    static func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1e-4, abs(a) + abs(b)) }

    /// Stacks that exercise every path: two channels in, an odd side that a pool truncates, conv after pool, a
    /// pool straight into the output layer, and more chunks than one (7 images, chunks of 5). The last three have
    /// conv layers with 8 or more input channels, which run Winograd when dense: F(2×2, 3×3) on 5×5 maps (odd
    /// sides, partial tiles), F(2×2) on 3×3 maps after a pool with one Winograd layer feeding another, and
    /// F(4×4, 3×3) on 13×13 maps (16 tiles, the last row and column of them cut to one output).
    static let stacks: [(tokens: [LayerToken], input: InputShape)] = [
        ([.conv(3), .pool, .conv(4), .fc(6)], InputShape(channels: 2, height: 5, width: 5)),
        ([.conv(2), .conv(3), .pool], InputShape(channels: 1, height: 4, width: 6)),
        ([.pool, .conv(2), .fc(3)], InputShape(channels: 3, height: 4, width: 4)),
        ([.conv(8), .conv(3), .pool, .fc(4)], InputShape(channels: 2, height: 5, width: 5)),
        ([.conv(9), .pool, .conv(8), .conv(4), .fc(6)], InputShape(channels: 1, height: 6, width: 7)),
        ([.conv(8), .conv(6), .pool, .fc(4)], InputShape(channels: 2, height: 13, width: 13)),
    ]

    /// Dense (im2col + gemm below 8 input channels, Winograd from 8) and weight-sparse convolutions alike. Every
    /// weight layer must get some gradient: a stack whose ReLUs are all dead would check nothing.
    @Test(arguments: 0..<6, [false, true])
    func everyWeightAndBiasMatchesFiniteDifferences(stack: Int, sparse: Bool) throws {
        let (tokens, input) = Self.stacks[stack]
        let architecture = try Architecture(tokens: tokens, input: input, classes: 3)
        var net = Net(architecture: architecture, rows: 7, seed: 20 + stack, pruneFraction: 0.3)
        let analytic = Backprop.lossAndGradients(
            architecture: architecture, weights: net.weights, biases: net.biases, masks: net.masks,
            inputs: net.inputs, labels: net.labels, sparse: sparse)
        let h = 1e-6
        var worst = 0.0
        var checked = 0
        for l in net.weights.indices {
            #expect(analytic.weightGradients[l].contains { $0 != 0 }, "layer \(l) gets no gradient: nothing to check")
            for i in net.weights[l].indices {
                if net.masks[l][i] == 0 {
                    #expect(analytic.weightGradients[l][i] == 0, "pruned weight \(l):\(i) has a gradient")
                    continue
                }
                let saved = net.weights[l][i]
                net.weights[l][i] = saved + h
                let plus = net.loss(sparse: sparse)
                net.weights[l][i] = saved - h
                let minus = net.loss(sparse: sparse)
                net.weights[l][i] = saved
                let numeric = (plus - minus) / (2 * h)
                worst = max(worst, Self.relativeError(numeric, analytic.weightGradients[l][i]))
                checked += 1
            }
            for j in net.biases[l].indices {
                let saved = net.biases[l][j]
                net.biases[l][j] = saved + h
                let plus = net.loss(sparse: sparse)
                net.biases[l][j] = saved - h
                let minus = net.loss(sparse: sparse)
                net.biases[l][j] = saved
                worst = max(worst, Self.relativeError((plus - minus) / (2 * h), analytic.biasGradients[l][j]))
                checked += 1
            }
        }
        #expect(checked > 50)
        #expect(worst < 1e-5, "worst relative error \(worst) over \(checked) parameters")
    }

    /// Its second conv layer runs Winograd F(4×4) on 20×20 maps in chunks of 5 images, its third F(4×4) on 10×10
    /// maps in chunks of 15, its fourth F(2×2) on 5×5 maps (chunks of 15).
    @Test func gradientsAreBitIdenticalForAnyThreadCount() throws {
        let architecture = try Architecture(
            tokens: [.conv(8), .conv(8), .pool, .conv(8), .pool, .conv(8), .fc(16)],
            input: InputShape(channels: 3, height: 20, width: 20), classes: 10)
        var model = MLP(architecture: architecture, initializer: .glorotNormal, seed: 5)
        var rng = LotteryRNG(seed: 9)
        model.apply(masks: model.layers.map { layer in
            LayerMask(rows: layer.weight.rows, cols: layer.weight.cols, kept: (0..<layer.weight.count).map { _ in rng.uniform() < 0.7 })
        })
        let rows = 23  // 5 chunks of 5 images and 2 of 15, the last of each partial
        let inputs = (0..<(rows * architecture.input.features)).map { _ in Float(rng.uniform()) }
        let labels = (0..<rows).map { _ in UInt8(rng.below(10)) }
        let f4 = KernelPolicy.cpuHasFusedMultiplyAdd ? "winograd4x4" : "winograd2x2"  // F(2×2) without AVX2 + FMA
        #expect(KernelPolicy.dense.layerKernels(of: model) == ["im2col", f4, f4, "winograd2x2", "dense", "dense"])
        let one = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: 1)
        for threads in [2, 3, 8] {
            let many = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: threads)
            #expect(many.loss == one.loss)
            #expect(many.weightGradients == one.weightGradients, "\(threads) threads")
            #expect(many.biasGradients == one.biasGradients, "\(threads) threads")
        }
        #expect(one.weightGradients[0].contains { $0 != 0 })
    }

    @Test func floatKernelsAgreeWithDoubleToFloatRounding() throws {
        let architecture = try Architecture(
            tokens: [.conv(4), .pool, .fc(8)], input: InputShape(channels: 1, height: 6, width: 6), classes: 4)
        let model = MLP(architecture: architecture, initializer: .glorotNormal, seed: 2)
        var rng = LotteryRNG(seed: 4)
        let rows = 6
        let inputs = (0..<(rows * 36)).map { _ in Float(rng.uniform()) }
        let labels = (0..<rows).map { _ in UInt8(rng.below(4)) }
        let float = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: 1)
        let double = Backprop.lossAndGradients(
            architecture: architecture, weights: model.layers.map { $0.weight.data.map(Double.init) },
            biases: model.layers.map { $0.bias.map(Double.init) },
            masks: model.layers.map { $0.mask.data.map(Double.init) }, inputs: inputs.map(Double.init), labels: labels)
        #expect(abs(float.loss - double.loss) < 1e-5)
        for l in model.layers.indices {
            for (a, b) in zip(float.weightGradients[l], double.weightGradients[l]) {
                #expect(abs(Double(a) - b) <= 1e-5 + 1e-4 * abs(b))
            }
        }
    }

    @Test func trainingAConvNetIsDeterministicAndThreadCountFree() throws {
        var spec = try smallSpec(iterations: 12, evalEvery: 6, batch: 12)
        try spec.set("model.layers", to: .list([.string("conv4"), .string("pool"), .int(8)]))
        let train = imageDataset(count: 60, seed: 1), validation = imageDataset(count: 20, seed: 2)
        let data = DataSplits(train: train, validation: validation, test: imageDataset(count: 20, seed: 3))
        let architecture = try Architecture(tokens: spec.model.layers, input: train.shape, classes: 10)
        let start = MLP(architecture: architecture, initializer: .glorotNormal, seed: 1)
        var a = start, b = start, c = start
        let runA = Trainer(spec: spec, data: data, threads: 1).train(&a)
        _ = Trainer(spec: spec, data: data, threads: 1).train(&b)
        let runC = Trainer(spec: spec, data: data, threads: 2).train(&c)
        #expect(a == b && a == c)
        #expect(runA.curve == runC.curve)
        #expect(a != start, "training changed nothing")
        #expect(runA.curve.map(\.iteration) == [6, 12])
    }

    @Test func convIMPTrialGivesTheSameMasksAndMetricsOnAnyThreadCount() throws {
        var spec = try smallSpec(iterations: 10, evalEvery: 5, batch: 12)
        try spec.set("model.layers", to: .list([.string("conv4"), .string("pool"), .int(8)]))
        try spec.set("prune.rounds", to: .int(2))
        let data = DataSplits(
            train: imageDataset(count: 48, seed: 4), validation: imageDataset(count: 12, seed: 5),
            test: imageDataset(count: 12, seed: 6))
        func run(_ threads: Int) throws -> [RoundOutcome] {
            var outcomes: [RoundOutcome] = []
            try IMPRunner(spec: spec, data: data, threads: threads).run { outcome in
                var o = outcome
                o.metrics.seconds = 0
                outcomes.append(o)
            }
            return outcomes
        }
        let one = try run(1), three = try run(3)
        #expect(one.count == 3 && one == three)
        // The conv layer (27x4 = 108 weights) loses round(0.1 × 108) = 11, then round(0.1 × 97) = 10.
        let masks = try #require(one.last?.mask)
        #expect(masks.map(\.rows) == [27, 36, 8] && masks[0].keptCount == 108 - 11 - 10)
    }

    /// Random 3×6×6 images of 10 classes whose class shows as a brighter pixel block.
    func imageDataset(count: Int, seed: Int) -> Dataset {
        var rng = LotteryRNG(seed: seed)
        let shape = InputShape(channels: 3, height: 6, width: 6)
        var images: [Float] = []
        var labels: [UInt8] = []
        for _ in 0..<count {
            let label = rng.below(10)
            labels.append(UInt8(label))
            for i in 0..<shape.features { images.append(Float(rng.uniform()) * 0.5 + (i % 10 == label ? 0.5 : 0)) }
        }
        return Dataset(images: images, labels: labels, shape: shape, classes: 10)
    }
}
