import Foundation
import LotteryCore
import Testing

/// The sparse kernels (``KernelPolicy/sparse``) against the dense row-major sgemm path: same mathematics to
/// float32 rounding, pruned weights exactly zero, dead units untouched, bit-identical reruns.
@Suite("Sparse kernels: agreement with dense, masking, dead units, determinism, the auto rule")
struct SparseKernelTests {
    /// `model` with each layer keeping a `keep[l]` fraction of its weights at random positions.
    static func pruned(_ model: MLP, keep: [Double], seed: Int) -> MLP {
        var model = model
        var rng = LotteryRNG(seed: seed, stream: "test-mask")
        model.apply(
            masks: zip(model.masks(), keep).map { mask, fraction in
                LayerMask(rows: mask.rows, cols: mask.cols, kept: mask.kept.map { _ in rng.uniform() < fraction })
            })
        return model
    }

    static func randomBatch(rows: Int, features: Int, classes: Int, seed: Int) -> ([Float], [UInt8]) {
        var rng = LotteryRNG(seed: seed, stream: "test-batch")
        return (
            (0..<(rows * features)).map { _ in Float(rng.uniform()) }, (0..<rows).map { _ in UInt8(rng.below(classes)) }
        )
    }

    /// `|a − b| ≤ tolerance · scale` elementwise, where `scale` is the largest magnitude in `a` (float32 rounding of
    /// sums in a different order).
    static func close(_ a: [Float], _ b: [Float], tolerance: Float = 2e-5) -> Bool {
        let scale = max(a.map { abs($0) }.max() ?? 0, 1e-12)
        return zip(a, b).allSatisfy { abs($0 - $1) <= tolerance * scale }
    }

    @Test(arguments: [1, 13, 60])
    func gradientsAgreeWithDenseAndArePrunedExactly(rows: Int) {
        let widths = [30, 40, 20, 5]
        let model = Self.pruned(
            MLP(widths: widths, initializer: .glorotNormal, seed: 4), keep: [0.3, 0.1, 0.6], seed: 5)
        let (x, y) = Self.randomBatch(rows: rows, features: 30, classes: 5, seed: rows)
        let dense = Backprop.lossAndGradients(model: model, inputs: x, labels: y, kernels: .dense)
        let sparse = Backprop.lossAndGradients(model: model, inputs: x, labels: y, kernels: .sparse)
        #expect(abs(dense.loss - sparse.loss) <= 1e-5 * max(abs(dense.loss), 1), "loss \(dense.loss) vs \(sparse.loss)")
        for l in 0..<model.layers.count {
            #expect(
                Self.close(dense.weightGradients[l], sparse.weightGradients[l]), "layer \(l) weight gradients differ")
            #expect(Self.close(dense.biasGradients[l], sparse.biasGradients[l]), "layer \(l) bias gradients differ")
            let mask = model.layers[l].mask.data
            #expect(
                zip(mask, sparse.weightGradients[l]).allSatisfy { $0 != 0 || $1 == 0 }, "a pruned gradient is non-zero")
            #expect(sparse.weightGradients[l].contains { $0 != 0 }, "layer \(l) has no gradient at all")
        }
    }

    /// Trains the same pruned model with both kernel kinds and returns both results.
    static func trainBoth(
        widths: [Int], keep: [Double], iterations: Int, optimizer: OptimizerKind = .adam,
        kernelsB: KernelPolicy = .sparse
    ) throws -> (initial: MLP, dense: MLP, sparse: MLP, runDense: TrainingRun, runSparse: TrainingRun) {
        var spec = try smallSpec(
            iterations: iterations, evalEvery: max(iterations / 2, 1), batch: 20, optimizer: optimizer)
        try spec.set("model.layers", to: .list(widths.dropFirst().dropLast().map { .int($0) }))
        let data = DataSplits(
            train: syntheticDataset(count: 400, features: widths[0], classes: widths.last!, seed: 3),
            test: syntheticDataset(count: 120, features: widths[0], classes: widths.last!, seed: 4),
            validationCount: 60, seed: 5)
        let initial = Self.pruned(MLP(widths: widths, initializer: .glorotNormal, seed: 8), keep: keep, seed: 9)
        var dense = initial, sparse = initial
        let runDense = Trainer(spec: spec, data: data, kernels: .dense).train(&dense)
        let runSparse = Trainer(spec: spec, data: data, kernels: kernelsB).train(&sparse)
        return (initial, dense, sparse, runDense, runSparse)
    }

    @Test(arguments: [OptimizerKind.adam, .sgd])
    func oneStepAgreesWithDense(optimizer: OptimizerKind) throws {
        let r = try Self.trainBoth(widths: [12, 16, 8, 4], keep: [0.4, 0.3, 0.7], iterations: 1, optimizer: optimizer)
        for l in r.dense.layers.indices {
            #expect(
                Self.close(r.dense.layers[l].weight.data, r.sparse.layers[l].weight.data, tolerance: 1e-5),
                "layer \(l) weights differ after one step")
            #expect(
                Self.close(r.dense.layers[l].bias, r.sparse.layers[l].bias, tolerance: 1e-5), "layer \(l) biases differ"
            )
            // Something moved, so the comparison is not vacuous.
            #expect(r.sparse.layers[l].weight.data != r.initial.layers[l].weight.data)
        }
    }

    @Test(arguments: [OptimizerKind.adam, .sgd])
    func trainingAgreesPrunedStayZeroKeptMove(optimizer: OptimizerKind) throws {
        let r = try Self.trainBoth(
            widths: [12, 16, 8, 4], keep: [0.5, 0.4, 0.8], iterations: 60, optimizer: optimizer)
        var kept = 0, moved = 0
        for l in r.dense.layers.indices {
            let mask = r.sparse.layers[l].mask.data
            #expect(mask == r.initial.layers[l].mask.data)
            for i in mask.indices {
                if mask[i] == 0 {
                    #expect(
                        r.sparse.layers[l].weight.data[i].bitPattern == 0,
                        "pruned weight became \(r.sparse.layers[l].weight.data[i])")
                } else {
                    kept += 1
                    if r.sparse.layers[l].weight.data[i] != r.initial.layers[l].weight.data[i] { moved += 1 }
                }
            }
            #expect(
                Self.close(r.dense.layers[l].weight.data, r.sparse.layers[l].weight.data, tolerance: 1e-3),
                "layer \(l) drifted apart in 60 steps")
        }
        #expect(Double(moved) > 0.8 * Double(kept), "only \(moved) of \(kept) kept weights moved")
        for (a, b) in zip(r.runDense.curve, r.runSparse.curve) {
            #expect(abs(a.valLoss - b.valLoss) < 1e-3 * max(a.valLoss, 1))
        }
    }

    @Test func mixedSparseAndDenseLayersAgreeWithDense() throws {
        // [200, 60, 10]: layer 0 (12,000 weights at 15%) is sparse under `auto`, layer 1 (600 weights) stays dense,
        // so this runs the feature-major sgemm kernels next to the sparse ones.
        let widths = [200, 60, 10]
        let model = Self.pruned(MLP(widths: widths, initializer: .glorotNormal, seed: 8), keep: [0.15, 0.5], seed: 9)
        #expect(KernelPolicy.auto.sparseLayers(of: model) == [true, false])
        let (x, y) = Self.randomBatch(rows: 20, features: 200, classes: 10, seed: 1)
        let dense = Backprop.lossAndGradients(model: model, inputs: x, labels: y, kernels: .dense)
        let mixed = Backprop.lossAndGradients(model: model, inputs: x, labels: y, kernels: .auto)
        for l in 0..<2 {
            #expect(
                Self.close(dense.weightGradients[l], mixed.weightGradients[l]), "layer \(l) weight gradients differ")
            #expect(Self.close(dense.biasGradients[l], mixed.biasGradients[l]), "layer \(l) bias gradients differ")
        }
        let r = try Self.trainBoth(widths: widths, keep: [0.15, 0.5], iterations: 30, kernelsB: .auto)
        for l in 0..<2 {
            #expect(Self.close(r.dense.layers[l].weight.data, r.sparse.layers[l].weight.data, tolerance: 1e-3))
        }
        #expect(abs(r.runDense.finalTestAccuracy - r.runSparse.finalTestAccuracy) <= 0.02)
    }

    @Test func deadUnitsKeepTheirWeightsAsTheDensePathDoes() throws {
        // Hidden unit 3 of layer 0 has no kept outgoing weight: it cannot affect the loss. The sparse kernels skip
        // it; the dense path computes exactly-zero gradients for it. Both must leave its weights and bias as they were.
        let widths = [12, 16, 8, 4]
        var model = Self.pruned(
            MLP(widths: widths, initializer: .glorotNormal, seed: 8), keep: [0.6, 0.5, 0.8], seed: 9)
        var masks = model.masks()
        for j in 0..<8 { masks[1].kept[3 * 8 + j] = false }
        model.apply(masks: masks)
        model.layers[0].bias[3] = 0.25
        let spec = try smallSpec(iterations: 40, evalEvery: 20)
        var dense = model, sparse = model
        _ = Trainer(spec: spec, data: smallSplits(), kernels: .dense).train(&dense)
        _ = Trainer(spec: spec, data: smallSplits(), kernels: .sparse).train(&sparse)
        for i in 0..<12 {
            let index = i * 16 + 3
            #expect(dense.layers[0].weight.data[index].bitPattern == model.layers[0].weight.data[index].bitPattern)
            #expect(sparse.layers[0].weight.data[index].bitPattern == model.layers[0].weight.data[index].bitPattern)
        }
        #expect(dense.layers[0].bias[3] == 0.25 && sparse.layers[0].bias[3] == 0.25)
        #expect(sparse.layers[0].bias[2] != 0, "a live unit's bias did not move")
    }

    @Test func sparseRunsAreBitIdentical() throws {
        func run() throws -> (TrainingRun, MLP) {
            let spec = try smallSpec(iterations: 120, evalEvery: 40)
            var model = Self.pruned(MLP(spec: spec, features: 12, classes: 4), keep: [0.3, 0.3, 0.6], seed: 2)
            let run = Trainer(spec: spec, data: smallSplits(), kernels: .sparse).train(&model, snapshotAt: 50)
            return (run, model)
        }
        let (a, modelA) = try run()
        let (b, modelB) = try run()
        for (x, y) in zip(modelA.layers, modelB.layers) {
            #expect(x.weight.data.map(\.bitPattern) == y.weight.data.map(\.bitPattern))
            #expect(x.bias.map(\.bitPattern) == y.bias.map(\.bitPattern))
        }
        #expect(a.curve.map(\.valLoss.bitPattern) == b.curve.map(\.valLoss.bitPattern))
        #expect(a.curve.map(\.testAcc) == b.curve.map(\.testAcc))
        #expect(a.snapshot == b.snapshot && a.snapshot != nil)
        #expect(a.finalTrainAccuracy == b.finalTrainAccuracy)
    }

    @Test func sparseEvaluationAgreesWithDense() {
        let model = Self.pruned(
            MLP(widths: [12, 16, 8, 4], initializer: .glorotNormal, seed: 3), keep: [0.4, 0.4, 0.9], seed: 6)
        let data = syntheticDataset(count: 2_345, features: 12, classes: 4, seed: 11)  // chunks of 1,000 and a partial one
        let spec = TrialSpec()
        let splits = DataSplits(train: data, test: data, validationCount: 10, seed: 1)
        let dense = Trainer(spec: spec, data: splits, kernels: .dense).evaluate(model, on: data)
        let sparse = Trainer(spec: spec, data: splits, kernels: .sparse).evaluate(model, on: data)
        #expect(abs(dense.loss - sparse.loss) <= 1e-5 * max(dense.loss, 1))
        #expect(
            abs(dense.accuracy - sparse.accuracy) <= 2.0 / 2_345, "accuracy \(dense.accuracy) vs \(sparse.accuracy)")
    }

    @Test func autoRuleDependsOnlyOnShapeAndDensity() {
        #expect(!KernelPolicy.usesSparseKernel(inputs: 784, outputs: 300, kept: 235_200))
        #expect(!KernelPolicy.usesSparseKernel(inputs: 784, outputs: 300, kept: 100_000))
        #expect(KernelPolicy.usesSparseKernel(inputs: 784, outputs: 300, kept: 16_000))
        #expect(KernelPolicy.usesSparseKernel(inputs: 300, outputs: 100, kept: 600))
        #expect(!KernelPolicy.usesSparseKernel(inputs: 100, outputs: 10, kept: 10), "tiny layers stay dense")
        let lenet = MLP(widths: [784, 300, 100, 10], initializer: .glorotNormal, seed: 1)
        #expect(KernelPolicy.auto.sparseLayers(of: lenet) == [false, false, false])
        let pruned = KernelBenchmark.pruned(lenet, density: 0.07)
        #expect(abs(pruned.density - 0.07) < 0.002, "density \(pruned.density)")
        #expect(KernelPolicy.auto.sparseLayers(of: pruned) == [true, true, false])
        #expect(KernelPolicy.dense.sparseLayers(of: pruned) == [false, false, false])
        #expect(KernelPolicy.sparse.sparseLayers(of: pruned) == [true, true, true])
    }
}
