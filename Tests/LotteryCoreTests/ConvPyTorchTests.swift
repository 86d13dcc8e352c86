import Foundation
import LotteryCore
import Testing

/// Three Adam steps of a small conv network (conv, pool, conv, pool, fc) from the same weights and batches as
/// PyTorch 2.15 (Fixtures/conv-pytorch.json, written by scripts/fixtures/conv_pytorch.py): the losses and every
/// final weight agree to float32 tolerance. Checks the layouts too (OIHW ↔ HWIO, torch.flatten's order).
@Suite("Conv engine against PyTorch")
struct ConvPyTorchTests {
    struct Fixture: Decodable {
        struct Parameters: Decodable {
            var weights: [[Float]]
            var biases: [[Float]]
        }
        var input: [Int]
        var layers: [String]
        var classes: Int
        var lr: Double
        var initial: Parameters
        var batches: [[Float]]
        var labels: [[UInt8]]
        var losses: [Double]
        var final: Parameters
    }

    static func load() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conv-pytorch.json")
        return try JSONDecoder().decode(Fixture.self, from: try Data(contentsOf: url))
    }

    /// PyTorch-layout values of weight layer `l` in our layout (the inverse of ``Architecture/pytorchLayout``).
    static func ours(_ torch: [Float], layer l: Int, _ arch: Architecture) -> [Float] {
        let permutation = arch.pytorchLayout(layer: l, Array(0..<torch.count)).values
        var out = [Float](repeating: .nan, count: torch.count)
        for (i, source) in permutation.enumerated() { out[source] = torch[i] }
        return out
    }

    @Test(arguments: [1, 2])
    func threeAdamStepsMatchPyTorch(threads: Int) throws {
        let fixture = try Self.load()
        let tokens = fixture.layers.compactMap(LayerToken.init)
        let input = InputShape(channels: fixture.input[0], height: fixture.input[1], width: fixture.input[2])
        let arch = try Architecture(tokens: tokens, input: input, classes: fixture.classes)
        let layers = arch.weightLayers.indices.map { l in
            let shape = arch.weightLayers[l]
            return DenseLayer(
                weight: Matrix(rows: shape.rows, cols: shape.cols, data: Self.ours(fixture.initial.weights[l], layer: l, arch)),
                bias: fixture.initial.biases[l], mask: Matrix(rows: shape.rows, cols: shape.cols, repeating: 1))
        }
        var spec = TrialSpec()
        try spec.set("train.lr", to: .double(fixture.lr))
        let result = Backprop.trainSteps(
            model: MLP(architecture: arch, layers: layers), spec: spec, batches: fixture.batches,
            labels: fixture.labels, threads: threads)
        for (ours, theirs) in zip(result.losses, fixture.losses) {
            #expect(abs(ours - theirs) <= 1e-5 * abs(theirs), "loss \(ours) vs PyTorch \(theirs)")
        }
        var worst: Float = 0
        for l in arch.weightLayers.indices {
            let expected = Self.ours(fixture.final.weights[l], layer: l, arch)
            for (a, b) in zip(result.model.layers[l].weight.data, expected) { worst = max(worst, abs(a - b)) }
            for (a, b) in zip(result.model.layers[l].bias, fixture.final.biases[l]) { worst = max(worst, abs(a - b)) }
        }
        // Each step moves a weight by about lr = 1e-3; the two frameworks' float32 sums differ by far less.
        #expect(worst < 2e-6, "largest weight difference \(worst)")
        #expect(result.model.layers[0].weight.data != layers[0].weight.data)
    }

    struct GradientFixture: Decodable {
        var input: [Int]
        var layers: [String]
        var classes: Int
        var weights: [[Float]]
        var biases: [[Float]]
        var batch: [Float]
        var labels: [UInt8]
        var loss: Double
        var weight_gradients: [[Float]]
        var bias_gradients: [[Float]]
    }

    /// One batch through a network whose inner conv layers have 16 input channels (our Winograd paths: with `auto`
    /// F(4×4, 3×3) on its 18×18 maps in chunks of 5 images and on its 9×9 ones in chunks of 15; with
    /// `winograd2x2` F(2×2, 3×3) on both) and whose first has 3 (im2col): the loss and every gradient against
    /// PyTorch's (Fixtures/conv-pytorch-gradients.json, written by scripts/fixtures/conv_pytorch_gradients.py, which
    /// says why gradients rather than weights after Adam), on 1 and 2 threads.
    @Test(arguments: [(1, KernelPolicy.auto), (2, .auto), (1, .winograd2x2), (2, .winograd2x2)])
    func gradientsOfWinogradLayersMatchPyTorch(threads: Int, kernels: KernelPolicy) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/conv-pytorch-gradients.json")
        let fixture = try JSONDecoder().decode(GradientFixture.self, from: try Data(contentsOf: url))
        let input = InputShape(channels: fixture.input[0], height: fixture.input[1], width: fixture.input[2])
        let arch = try Architecture(
            tokens: fixture.layers.compactMap(LayerToken.init), input: input, classes: fixture.classes)
        #expect(arch.weightLayers.map { $0.rows / 9 }.prefix(3) == [3, 16, 16], "the stack changed")
        let layers = arch.weightLayers.indices.map { l in
            let shape = arch.weightLayers[l]
            return DenseLayer(
                weight: Matrix(rows: shape.rows, cols: shape.cols, data: Self.ours(fixture.weights[l], layer: l, arch)),
                bias: fixture.biases[l], mask: Matrix(rows: shape.rows, cols: shape.cols, repeating: 1))
        }
        let model = MLP(architecture: arch, layers: layers)
        // F(2×2) without AVX2 + FMA.
        let f4 = KernelPolicy.cpuHasFusedMultiplyAdd && kernels != .winograd2x2 ? "winograd4x4" : "winograd2x2"
        #expect(kernels.layerKernels(of: model) == ["im2col", f4, f4, "dense"])
        let ours = Backprop.lossAndGradients(
            model: model, inputs: fixture.batch, labels: fixture.labels, threads: threads, kernels: kernels)
        #expect(abs(ours.loss - fixture.loss) <= 1e-5 * abs(fixture.loss), "loss \(ours.loss) vs \(fixture.loss)")
        for l in arch.weightLayers.indices {
            let expected = Self.ours(fixture.weight_gradients[l], layer: l, arch)
            let scale = expected.map(abs).max() ?? 0
            #expect(scale > 0, "layer \(l): PyTorch's gradient is zero")
            var worst: Float = 0
            for (a, b) in zip(ours.weightGradients[l], expected) { worst = max(worst, abs(a - b)) }
            for (a, b) in zip(ours.biasGradients[l], fixture.bias_gradients[l]) { worst = max(worst, abs(a - b)) }
            #expect(worst <= 1e-5 * scale, "layer \(l): largest difference \(worst), largest gradient \(scale)")
        }
    }
}
