import Foundation
import LotteryCore
import Testing

/// The weight-sparse 3×3 convolution: the same mathematics as the dense engine (to rounding), the same bits for
/// any thread count, and the `auto` rule that picks it.
@Suite("Weight-sparse convolution")
struct SparseConvTests {
    /// A conv model with every weight layer pruned to about `keep` at random (an empty filter and an empty input
    /// channel included in layer 1).
    static func model(_ tokens: [LayerToken], input: InputShape, keep: Double, seed: Int) throws -> MLP {
        let architecture = try Architecture(tokens: tokens, input: input, classes: 5)
        var model = MLP(architecture: architecture, initializer: .glorotNormal, seed: seed)
        var rng = LotteryRNG(seed: seed + 100)
        model.apply(
            masks: model.layers.enumerated().map { l, layer in
                let rows = layer.weight.rows, cols = layer.weight.cols
                let channels = rows / 9
                let kept = (0..<layer.weight.count).map { i -> Bool in
                    let out = i % cols, ch = (i / cols) % max(channels, 1)
                    if l == 1 && (out == 0 || ch == 1) { return false }  // filter 0 and input channel 1: nothing kept
                    return rng.uniform() < keep
                }
                return LayerMask(rows: rows, cols: cols, kept: kept)
            })
        return model
    }

    static func batch(_ architecture: Architecture, rows: Int, seed: Int) -> ([Float], [UInt8]) {
        var rng = LotteryRNG(seed: seed)
        let inputs = (0..<(rows * architecture.input.features)).map { _ in Float(rng.uniform() * 2 - 1) }
        return (inputs, (0..<rows).map { _ in UInt8(rng.below(architecture.classes)) })
    }

    /// Float sparse against Float dense: loss and every gradient to float rounding, on stacks with odd sides,
    /// two sparse layers in a row, a pool between, a short last chunk (13 images, chunks of 5).
    @Test(arguments: [
        ([LayerToken.conv(12), .conv(16), .pool, .conv(9), .fc(7)], InputShape(channels: 3, height: 9, width: 7)),
        ([LayerToken.conv(10), .pool, .conv(20), .conv(8)], InputShape(channels: 10, height: 6, width: 6)),
    ])
    func sparseAgreesWithDenseToFloatRounding(tokens: [LayerToken], input: InputShape) throws {
        let model = try Self.model(tokens, input: input, keep: 0.3, seed: 3)
        let (inputs, labels) = Self.batch(model.architecture, rows: 13, seed: 4)
        let dense = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: 1, kernels: .dense)
        let sparse = Backprop.lossAndGradients(
            model: model, inputs: inputs, labels: labels, threads: 1, kernels: .sparse)
        #expect(abs(dense.loss - sparse.loss) <= 1e-5 * abs(dense.loss))
        var compared = 0
        for l in model.layers.indices {
            let scale = dense.weightGradients[l].map { abs($0) }.max() ?? 0
            #expect(scale > 0, "layer \(l) has no gradient to compare")
            for (i, (a, b)) in zip(dense.weightGradients[l], sparse.weightGradients[l]).enumerated() {
                #expect(abs(a - b) <= 1e-5 * scale, "layer \(l) weight \(i): dense \(a), sparse \(b)")
                compared += a != 0 ? 1 : 0
            }
            for (a, b) in zip(dense.biasGradients[l], sparse.biasGradients[l]) {
                #expect(abs(a - b) <= 1e-5 * max(scale, abs(a)))
            }
        }
        #expect(compared > 500)
        // Different summation orders: equal to rounding, yet not the same bits (the sparse path really ran).
        #expect(dense.weightGradients != sparse.weightGradients)
    }

    @Test func sparseGradientsAreBitIdenticalForAnyThreadCount() throws {
        let model = try Self.model(
            [.conv(16), .conv(16), .pool, .fc(8)], input: InputShape(channels: 2, height: 8, width: 8), keep: 0.25,
            seed: 8)
        let (inputs, labels) = Self.batch(model.architecture, rows: 23, seed: 9)
        let one = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: 1, kernels: .sparse)
        for threads in [2, 3] {
            let many = Backprop.lossAndGradients(
                model: model, inputs: inputs, labels: labels, threads: threads, kernels: .sparse)
            #expect(many.loss == one.loss)
            #expect(many.weightGradients == one.weightGradients, "\(threads) threads")
            #expect(many.biasGradients == one.biasGradients, "\(threads) threads")
        }
    }

    /// Training steps on the sparse path keep pruned weights at zero and follow the dense path closely.
    @Test func trainingStepsOnTheSparsePathFollowTheDensePath() throws {
        let model = try Self.model(
            [.conv(12), .pool, .conv(12), .fc(8)], input: InputShape(channels: 3, height: 8, width: 8), keep: 0.3,
            seed: 11)
        let spec = try smallSpec(iterations: 4, evalEvery: 4, batch: 10)
        var batches: [[Float]] = []
        var labels: [[UInt8]] = []
        for step in 0..<4 {
            let (x, y) = Self.batch(model.architecture, rows: 10, seed: 20 + step)
            batches.append(x)
            labels.append(y)
        }
        let dense = Backprop.trainSteps(model: model, spec: spec, batches: batches, labels: labels, kernels: .dense)
        let sparse = Backprop.trainSteps(model: model, spec: spec, batches: batches, labels: labels, kernels: .sparse)
        for (a, b) in zip(dense.losses, sparse.losses) { #expect(abs(a - b) <= 1e-4 * abs(a)) }
        for l in model.layers.indices {
            let w = sparse.model.layers[l].weight.data, m = model.layers[l].mask.data
            #expect(zip(w, m).allSatisfy { $1 != 0 || $0 == 0 }, "layer \(l): a pruned weight moved")
            let moved = zip(w, model.layers[l].weight.data).filter { $0 != $1 }.count
            #expect(moved > 0, "layer \(l): training changed nothing")
        }
        #expect(sparse.model != dense.model, "the sparse path did not run")
    }

    /// `auto`: conv layers below the density limit with enough input channels; never the first layer of an RGB
    /// or grey net, never an fc layer; a pure function of shape and kept count.
    @Test func theAutoRulePicksPrunedConvLayersOnly() throws {
        let limit = KernelPolicy.sparseConvDensityLimit
        #expect(KernelPolicy.usesSparseConv(inChannels: 64, outChannels: 64, kept: Int(Double(9 * 64 * 64) * limit) - 1))
        #expect(!KernelPolicy.usesSparseConv(inChannels: 64, outChannels: 64, kept: Int(Double(9 * 64 * 64) * limit) + 1))
        #expect(!KernelPolicy.usesSparseConv(inChannels: 3, outChannels: 64, kept: 10))
        let model = try Self.model(
            [.conv(16), .conv(16), .pool, .fc(8)], input: InputShape(channels: 3, height: 8, width: 8), keep: 0.05,
            seed: 1)
        #expect(KernelPolicy.auto.sparseLayers(of: model) == [false, true, false, false])
        #expect(KernelPolicy.sparse.sparseLayers(of: model) == [true, true, false, false])
        #expect(KernelPolicy.dense.sparseLayers(of: model) == [false, false, false, false])
        let dense = try Self.model(
            [.conv(16), .conv(16), .pool, .fc(8)], input: InputShape(channels: 3, height: 8, width: 8), keep: 1,
            seed: 1)
        #expect(KernelPolicy.auto.sparseLayers(of: dense) == [false, false, false, false])
    }
}
