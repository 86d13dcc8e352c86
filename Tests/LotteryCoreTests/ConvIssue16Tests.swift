import LotteryCore
import Testing

/// Issue 16's features on a conv network (the layer stack merged from main): criteria, supermasks, prune-random and
/// one-shot work on flat per-layer kernels whatever the layer kind.
@Suite("Mask criteria, supermasks and issue-16 branches on a conv network")
struct ConvIssue16Tests {
    /// Random 1×6×6 images of 4 classes whose class shows as a brighter pixel row.
    static func images(count: Int, seed: Int) -> Dataset {
        var rng = LotteryRNG(seed: seed, stream: "conv-issue16")
        let shape = InputShape(channels: 1, height: 6, width: 6)
        var images: [Float] = []
        var labels: [UInt8] = []
        for _ in 0..<count {
            let label = rng.below(4)
            labels.append(UInt8(label))
            for i in 0..<shape.features { images.append(Float(rng.uniform()) * 0.5 + (i / 6 == label ? 0.5 : 0)) }
        }
        return Dataset(images: images, labels: labels, shape: shape, classes: 4)
    }

    static let data = DataSplits(
        train: images(count: 200, seed: 1), validation: images(count: 60, seed: 2), test: images(count: 80, seed: 3))

    static func spec() throws -> TrialSpec {
        var spec = TrialSpec()
        try spec.set("model.layers", to: .list([.string("conv4"), .string("pool"), .int(8)]))
        spec.train.batch = 20
        spec.train.iterations = 20
        spec.train.evalEvery = 10
        spec.train.lr = 1e-2
        spec.data.validation = 60
        spec.prune.rates = [0.3, 0.3, 0.2]
        spec.prune.rounds = 2
        spec.prune.criterion = .magnitudeIncrease
        return spec
    }

    @Test func criteriaSupermasksAndBranchesOnConvLayers() throws {
        var spec = try Self.spec()
        spec.controls = [.pruneRandom]
        let runner = try IMPRunner(spec: spec, data: Self.data)
        #expect(runner.architecture.hasConvolutions)
        var outcomes: [RoundOutcome] = []
        try runner.run { outcomes.append($0) }
        #expect(outcomes.map(\.metrics.keptCounts) == runner.plan.keptPerLayer)
        for outcome in outcomes {
            var onInit = runner.initialNetwork
            onInit.apply(masks: outcome.mask)
            #expect(outcome.metrics.supermaskTestAcc == Trainer.evaluate(onInit, on: Self.data.test).accuracy)
        }
        let control = try runner.runBranch(spec: spec.branch(.pruneRandom, round: 2, index: 0), mask: outcomes[2].mask)
        #expect(control.mask.map(\.keptCount) == outcomes[2].mask.map(\.keptCount) && control.mask != outcomes[2].mask)

        var oneshot = try Self.spec()
        oneshot.prune.schedule = .oneshot
        let oneShotRunner = try IMPRunner(spec: oneshot, data: Self.data)
        let plan = try #require(oneShotRunner.oneShotPlan)
        let branch = try oneShotRunner.runBranch(
            spec: oneshot.branch(.oneshot, round: 0, index: 1), mask: oneShotRunner.denseMasks)
        #expect(branch.mask.map(\.keptCount) == plan.keptPerLayer?[1])
        #expect(branch.metrics.supermaskSignedConstantTestAcc != nil)
    }
}
