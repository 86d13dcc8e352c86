import LotteryCore
import Testing

@Suite("Supermask accuracy: the round's mask on untrained θ₀ and on its signed constants")
struct SupermaskTests {
    /// Every round reports both accuracies, computed from its own mask on the trial's θ₀ (not the round's start).
    @Test(arguments: [ReinitRule.rewind(iteration: 0), .random])
    func everyRoundMeasuresItsMaskOnTheta0(reinit: ReinitRule) throws {
        let spec = criteriaTinySpec(reinit: reinit)
        let runner = try IMPRunner(spec: spec, data: criteriaTinyData)
        let outcomes = try runAllRounds(runner)
        let theta0 = runner.initialNetwork
        for outcome in outcomes {
            var onInit = theta0
            onInit.apply(masks: outcome.mask)
            var signed = Reinit.signedConstant(theta0, initializer: spec.model.initializer)
            signed.apply(masks: outcome.mask)
            #expect(outcome.metrics.supermaskTestAcc == Trainer.evaluate(onInit, on: criteriaTinyData.test).accuracy)
            #expect(
                outcome.metrics.supermaskSignedConstantTestAcc
                    == Trainer.evaluate(signed, on: criteriaTinyData.test).accuracy)
        }
        // Round 0 is the dense θ₀.
        #expect(outcomes[0].metrics.supermaskTestAcc == Trainer.evaluate(theta0, on: criteriaTinyData.test).accuracy)
        // Control branches measure their own mask the same way.
        guard reinit == .rewind(iteration: 0) else { return }
        var branchSpec = spec
        branchSpec.controls = [.reinitRandom]
        let branchRunner = try IMPRunner(spec: branchSpec, data: criteriaTinyData)
        let branch = try branchRunner.runBranch(
            spec: branchSpec.branch(.reinitRandom, round: 1, index: 0), mask: outcomes[1].mask)
        #expect(branch.metrics.supermaskTestAcc == outcomes[1].metrics.supermaskTestAcc)
    }

    /// With every kernel weight pruned the logits are θ₀'s zero biases, so every image gets class 0 (the first
    /// maximum): accuracy is the test set's share of label 0, for both versions.
    @Test func emptyMaskScoresTheShareOfClassZero() throws {
        let runner = try IMPRunner(spec: criteriaTinySpec(), data: criteriaTinyData)
        let empty = runner.denseMasks.map { LayerMask(rows: $0.rows, cols: $0.cols, fill: false) }
        let test = criteriaTinyData.test
        let share = Double(test.labels.filter { $0 == 0 }.count) / Double(test.count)
        let accuracies = Supermask.testAccuracies(
            mask: empty, theta0: runner.initialNetwork, initializer: .glorotNormal, test: test)
        #expect(accuracies.initial == share && accuracies.signedConstant == share)
    }
}
