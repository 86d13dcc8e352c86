import Foundation
import LotteryCore
import Testing

/// The first layer's zero-skipping kernels (``KernelPolicy/auto`` on mostly-zero inputs such as MNIST) against
/// plain sgemm (``KernelPolicy/dense``): same mathematics to float32 rounding, the rule a function of the data,
/// dense inputs untouched bit for bit.
@Suite("Sparse inputs: zero-skipping first layer against sgemm")
struct SparseInputTests {
    /// `syntheticDataset` with about `zeros` of its values set to exactly zero (some to −0), MNIST-like.
    static func sparseDataset(count: Int, features: Int, classes: Int, seed: Int, zeros: Double = 0.8) -> Dataset {
        let dense = syntheticDataset(count: count, features: features, classes: classes, seed: seed)
        var rng = LotteryRNG(seed: seed, stream: "test-zeros")
        let images = dense.images.map { v -> Float in
            let u = rng.uniform()
            return u < zeros * 0.9 ? 0 : u < zeros ? -0.0 : v
        }
        return Dataset(images: images, labels: dense.labels, features: features, classes: classes)
    }

    static func nonzeros(_ values: [Float]) -> Int { values.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }

    @Test func theRuleIsTheInputDensity() {
        #expect(KernelPolicy.usesSparseInput(nonzeros: 9_000, rows: 60, features: 784), "MNIST's 19 %")
        #expect(!KernelPolicy.usesSparseInput(nonzeros: 47_040, rows: 60, features: 784), "every input nonzero")
        let limit = Int(KernelPolicy.sparseInputDensityLimit * 60 * 784)
        #expect(KernelPolicy.usesSparseInput(nonzeros: limit - 1, rows: 60, features: 784))
        #expect(!KernelPolicy.usesSparseInput(nonzeros: limit + 1, rows: 60, features: 784))
        #expect(KernelPolicy.auto.skipsZeroInputs && !KernelPolicy.dense.skipsZeroInputs)
        #expect(!KernelPolicy.sparse.skipsZeroInputs)
    }

    @Test func mostlyZeroDataLowersTheWeightSparseLimit() throws {
        let size = 784 * 300
        for (density, plain, zeros) in [(0.26, true, false), (0.21, true, true), (0.35, false, false)] {
            let kept = Int(density * Double(size))
            #expect(KernelPolicy.usesSparseKernel(inputs: 784, outputs: 300, kept: kept) == plain, "\(density)")
            #expect(
                KernelPolicy.usesSparseKernel(inputs: 784, outputs: 300, kept: kept, zeroInputs: true) == zeros,
                "\(density) with zero inputs")
        }
        // The trainer decides from its training set alone.
        var spec = try smallSpec(iterations: 1, evalEvery: 1)
        try spec.set("model.layers", to: .list([.int(300)]))
        let sparseData = Self.sparseDataset(count: 100, features: 64, classes: 4, seed: 1)
        let denseData = syntheticDataset(count: 100, features: 64, classes: 4, seed: 1)
        #expect(KernelPolicy.isMostlyZero(sparseData) && !KernelPolicy.isMostlyZero(denseData))
        let model = SparseKernelTests.pruned(MLP(spec: spec, features: 64, classes: 4), keep: [0.27, 0.27], seed: 2)
        let onZeros = Trainer(
            spec: spec, data: DataSplits(train: sparseData, test: sparseData, validationCount: 10, seed: 1))
        let onDense = Trainer(
            spec: spec, data: DataSplits(train: denseData, test: denseData, validationCount: 10, seed: 1))
        #expect(onZeros.zeroInputs && !onDense.zeroInputs)
        #expect(onZeros.sparseLayers(of: model) == [false, false], "26-27 % with zero inputs: dense, zeros skipped")
        #expect(onDense.sparseLayers(of: model) == [true, false], "the 300×4 layer is too small to go sparse")
        let dense = Trainer(
            spec: spec, data: DataSplits(train: sparseData, test: sparseData, validationCount: 10, seed: 1),
            kernels: .dense)
        #expect(!dense.zeroInputs, "--kernels dense never looks at the data")
    }

    /// Arguments: rows, and output widths that exercise the 96-wide register blocks, the 8-wide ones and the
    /// scalar tail of the AVX2 kernel (and the 32-wide and scalar parts of the portable one).
    @Test(arguments: [(1, [40, 300, 20, 5]), (13, [40, 105, 9, 3]), (60, [50, 7, 6, 4])])
    func gradientsAgreeWithSgemm(rows: Int, widths: [Int]) {
        let model = MLP(widths: widths, initializer: .glorotNormal, seed: 4)
        let data = Self.sparseDataset(count: rows, features: widths[0], classes: widths.last!, seed: rows)
        #expect(
            KernelPolicy.usesSparseInput(nonzeros: Self.nonzeros(data.images), rows: rows, features: widths[0]),
            "the batch is not sparse enough to test the sparse-input path")
        let sgemm = Backprop.lossAndGradients(model: model, inputs: data.images, labels: data.labels, kernels: .dense)
        let skip = Backprop.lossAndGradients(model: model, inputs: data.images, labels: data.labels, kernels: .auto)
        #expect(abs(sgemm.loss - skip.loss) <= 1e-5 * max(abs(sgemm.loss), 1), "loss \(sgemm.loss) vs \(skip.loss)")
        for l in 0..<model.layers.count {
            #expect(
                SparseKernelTests.close(sgemm.weightGradients[l], skip.weightGradients[l]),
                "layer \(l) weight gradients differ")
            #expect(
                SparseKernelTests.close(sgemm.biasGradients[l], skip.biasGradients[l]),
                "layer \(l) bias gradients differ")
            #expect(skip.weightGradients[l].contains { $0 != 0 }, "layer \(l) has no gradient at all")
        }
        // A feature that is zero in every row has an exactly zero weight gradient row, as with sgemm.
        for f in 0..<widths[0] where (0..<rows).allSatisfy({ data.images[$0 * widths[0] + f] == 0 }) {
            let row = skip.weightGradients[0][(f * widths[1])..<((f + 1) * widths[1])]
            #expect(row.allSatisfy { $0 == 0 }, "feature \(f) is zero everywhere but has a gradient")
        }
    }

    @Test func denseInputsKeepTheSgemmBits() {
        let widths = [30, 40, 20, 5]
        let model = MLP(widths: widths, initializer: .glorotNormal, seed: 4)
        let data = syntheticDataset(count: 20, features: 30, classes: 5, seed: 2)
        #expect(!KernelPolicy.usesSparseInput(nonzeros: Self.nonzeros(data.images), rows: 20, features: 30))
        let sgemm = Backprop.lossAndGradients(model: model, inputs: data.images, labels: data.labels, kernels: .dense)
        let auto = Backprop.lossAndGradients(model: model, inputs: data.images, labels: data.labels, kernels: .auto)
        #expect(sgemm.loss.bitPattern == auto.loss.bitPattern)
        for l in 0..<model.layers.count {
            #expect(sgemm.weightGradients[l].map(\.bitPattern) == auto.weightGradients[l].map(\.bitPattern))
        }
    }

    @Test func trainingAndEvaluationAgreeWithSgemm() throws {
        var spec = try smallSpec(iterations: 80, evalEvery: 20, batch: 20)
        try spec.set("model.layers", to: .list([.int(100), .int(30)]))
        // 2,345 test images: evaluation chunks of 1,000, 1,000 and 345 out of the compressed set.
        let data = DataSplits(
            train: Self.sparseDataset(count: 600, features: 64, classes: 4, seed: 3),
            test: Self.sparseDataset(count: 2_345, features: 64, classes: 4, seed: 4), validationCount: 100, seed: 5)
        let initial = MLP(spec: spec, features: 64, classes: 4)
        var sgemm = initial, skip = initial
        let runSgemm = Trainer(spec: spec, data: data, kernels: .dense).train(&sgemm)
        let runSkip = Trainer(spec: spec, data: data, kernels: .auto).train(&skip)
        for l in initial.layers.indices {
            #expect(
                SparseKernelTests.close(sgemm.layers[l].weight.data, skip.layers[l].weight.data, tolerance: 1e-3),
                "layer \(l) drifted apart in 80 steps")
            #expect(skip.layers[l].weight.data != initial.layers[l].weight.data, "layer \(l) did not train")
        }
        #expect(runSgemm.curve.count == runSkip.curve.count)
        for (a, b) in zip(runSgemm.curve, runSkip.curve) {
            #expect(abs(a.valLoss - b.valLoss) < 1e-3 * max(a.valLoss, 1), "val loss \(a.valLoss) vs \(b.valLoss)")
            #expect(abs(a.testAcc - b.testAcc) <= 3.0 / 2_345, "test accuracy \(a.testAcc) vs \(b.testAcc)")
        }
        #expect(runSkip.curve.last!.testAcc > 0.5, "the sparse-input run did not learn")
        // The stand-alone evaluation (each chunk compressed as it comes) agrees too.
        let e1 = Trainer(spec: spec, data: data, kernels: .dense).evaluate(skip, on: data.test)
        let e2 = Trainer(spec: spec, data: data, kernels: .auto).evaluate(skip, on: data.test)
        #expect(abs(e1.loss - e2.loss) <= 1e-5 * max(e1.loss, 1))
        #expect(abs(e1.accuracy - e2.accuracy) <= 2.0 / 2_345)
    }

    @Test func sparseInputRunsAreBitIdentical() throws {
        func run() throws -> (TrainingRun, MLP) {
            let spec = try smallSpec(iterations: 60, evalEvery: 20)
            let data = DataSplits(
                train: Self.sparseDataset(count: 300, features: 12, classes: 4, seed: 1),
                test: Self.sparseDataset(count: 100, features: 12, classes: 4, seed: 2), validationCount: 50, seed: 3)
            var model = MLP(spec: spec, features: 12, classes: 4)
            return (Trainer(spec: spec, data: data, kernels: .auto).train(&model), model)
        }
        let (a, modelA) = try run()
        let (b, modelB) = try run()
        for (x, y) in zip(modelA.layers, modelB.layers) {
            #expect(x.weight.data.map(\.bitPattern) == y.weight.data.map(\.bitPattern))
        }
        #expect(a.curve.map(\.valLoss.bitPattern) == b.curve.map(\.valLoss.bitPattern))
    }
}
