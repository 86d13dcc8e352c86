import Foundation
import LotteryCore
import Testing

@Suite("Trainer: masking, determinism, early stopping, snapshots")
struct TrainerTests {
    static func randomlyPruned(_ model: MLP, fraction: Double, seed: Int) -> MLP {
        var model = model
        var rng = LotteryRNG(seed: seed)
        model.apply(
            masks: model.masks().map { mask in
                LayerMask(rows: mask.rows, cols: mask.cols, kept: mask.kept.map { _ in rng.uniform() >= fraction })
            })
        return model
    }

    @Test(arguments: [OptimizerKind.adam, .sgd])
    func prunedWeightsStayZeroAndKeptOnesMove(optimizer: OptimizerKind) throws {
        let spec = try smallSpec(iterations: 1_000, evalEvery: 500, optimizer: optimizer)
        let data = smallSplits()
        let initial = Self.randomlyPruned(MLP(spec: spec, features: 12, classes: 4), fraction: 0.5, seed: 1)
        var model = initial
        let run = Trainer(spec: spec, data: data).train(&model)
        var pruned = 0, kept = 0, moved = 0
        for (before, after) in zip(initial.layers, model.layers) {
            #expect(before.mask == after.mask)
            for i in 0..<after.weight.count {
                if after.mask.data[i] == 0 {
                    pruned += 1
                    #expect(after.weight.data[i].bitPattern == 0, "pruned weight became \(after.weight.data[i])")
                } else {
                    kept += 1
                    if after.weight.data[i] != before.weight.data[i] { moved += 1 }
                }
            }
        }
        #expect(pruned > 50 && kept > 50)
        #expect(Double(moved) > 0.9 * Double(kept), "only \(moved) of \(kept) kept weights moved")
        #expect(run.finalTestAccuracy > 0.5, "did not learn: \(run.finalTestAccuracy)")
    }

    @Test func weightsUnderAMaskAreZeroedOnEntry() throws {
        let spec = try smallSpec(iterations: 10, evalEvery: 10)
        var model = Self.randomlyPruned(MLP(spec: spec, features: 12, classes: 4), fraction: 0.5, seed: 2)
        model.layers[0].weight.data = model.layers[0].weight.data.map { $0 == 0 ? 0.5 : $0 }  // break the invariant
        _ = Trainer(spec: spec, data: smallSplits()).train(&model)
        for i in 0..<model.layers[0].weight.count where model.layers[0].mask.data[i] == 0 {
            #expect(model.layers[0].weight.data[i] == 0)
        }
    }

    @Test func sameSeedsGiveIdenticalBitsDifferentSeedsDoNot() throws {
        let data = smallSplits()
        func run(seed: Int) throws -> (TrainingRun, MLP) {
            let spec = try smallSpec(iterations: 300, evalEvery: 50, seed: seed)
            var model = MLP(spec: spec, features: 12, classes: 4)
            let run = Trainer(
                spec: spec,
                data: DataSplits(train: data.train, test: data.test, validationCount: 100, seed: spec.splitSeed)
            ).train(&model)
            return (run, model)
        }
        let (a, modelA) = try run(seed: 7)
        let (b, modelB) = try run(seed: 7)
        #expect(a.curve.count == 6)
        #expect(a.curve == b.curve)
        #expect(a.finalTrainAccuracy == b.finalTrainAccuracy)
        #expect(modelA == modelB)
        let bitsA = modelA.layers.flatMap { $0.weight.data.map(\.bitPattern) + $0.bias.map(\.bitPattern) }
        let bitsB = modelB.layers.flatMap { $0.weight.data.map(\.bitPattern) + $0.bias.map(\.bitPattern) }
        #expect(bitsA == bitsB)
        let (c, modelC) = try run(seed: 8)
        #expect(c.curve != a.curve)
        #expect(modelC != modelA)
    }

    @Test func earlyStopIsTheFirstMinimumOfValidationLoss() throws {
        let spec = try smallSpec(iterations: 400, evalEvery: 40)
        var model = MLP(spec: spec, features: 12, classes: 4)
        let run = Trainer(spec: spec, data: smallSplits()).train(&model)
        #expect(run.curve.map(\.iteration) == Array(stride(from: 40, through: 400, by: 40)))
        let minimum = run.curve.map(\.valLoss).min()!
        #expect(run.earlyStop == run.curve.first { $0.valLoss == minimum })
        let tied = [
            EvalPoint(iteration: 1, valLoss: 0.5, valAcc: 0, testAcc: 0),
            EvalPoint(iteration: 2, valLoss: 0.3, valAcc: 0, testAcc: 0),
            EvalPoint(iteration: 3, valLoss: 0.3, valAcc: 1, testAcc: 1),
        ]
        #expect(TrainingRun.earlyStop(in: tied)?.iteration == 2)
    }

    /// A snapshot after k iterations equals training for exactly k iterations (same batches, same Adam state):
    /// what late rewinding relies on. Snapshot 0 is the model on entry.
    @Test func snapshotsMatchShorterRuns() throws {
        let data = smallSplits()
        let long = try smallSpec(iterations: 200, evalEvery: 100)
        let initial = MLP(spec: long, features: 12, classes: 4)
        var model = initial
        let run = Trainer(spec: long, data: data).train(&model, snapshotAt: 60)
        var shortSpec = long
        try shortSpec.set("train.iterations", to: .int(60))
        try shortSpec.set("train.eval_every", to: .int(60))
        var short = initial
        _ = Trainer(spec: shortSpec, data: data).train(&short)
        #expect(run.snapshot == short)
        var again = initial
        #expect(Trainer(spec: long, data: data).train(&again, snapshotAt: 0).snapshot == initial)
    }

    @Test(arguments: InitScheme.allCases)
    func initialisationHasTheSchemesScale(scheme: InitScheme) {
        let model = MLP(widths: [784, 300, 100, 10], initializer: scheme, seed: 11)
        #expect(model.widths == [784, 300, 100, 10])
        for layer in model.layers {
            let values = layer.weight.data.map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
            let expected = MLP.initStd(fanIn: layer.inputs, fanOut: layer.outputs, initializer: scheme)
            #expect(abs(std / expected - 1) < 0.1, "σ \(std), expected \(expected)")
            #expect(layer.bias.allSatisfy { $0 == 0 })
        }
        #expect(MLP(widths: [784, 300, 100, 10], initializer: scheme, seed: 11) == model)
        #expect(MLP(widths: [784, 300, 100, 10], initializer: scheme, seed: 12) != model)
    }
}
