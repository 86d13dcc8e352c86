import LotteryCore
import Testing

@Suite("prune-random control: a random mask with the ticket's per-layer counts, from the rewound weights")
struct PruneRandomControlTests {
    private func ticketAndBranch(reinit: ReinitRule, index: Int = 0) throws -> (
        runner: IMPRunner, ticket: RoundOutcome, branch: RoundOutcome, spec: TrialSpec
    ) {
        var spec = criteriaTinySpec(reinit: reinit)
        spec.controls = [.pruneRandom]
        spec.controlsSeeds = 2
        try spec.validate()
        let runner = try IMPRunner(spec: spec, data: criteriaTinyData)
        let outcomes = try runAllRounds(runner)
        let branchSpec = spec.branch(.pruneRandom, round: 2, index: index)
        let branch = try runner.runBranch(spec: branchSpec, mask: outcomes[2].mask)
        return (runner, outcomes[2], branch, branchSpec)
    }

    @Test func keepsEachLayersCountWithAnotherMaskAndIsSeeded() throws {
        let (runner, ticket, branch, branchSpec) = try ticketAndBranch(reinit: .rewind(iteration: 0))
        #expect(branch.mask.map(\.keptCount) == ticket.mask.map(\.keptCount))
        #expect(branch.metrics.keptCounts == ticket.metrics.keptCounts && branch.metrics.density == ticket.metrics.density)
        #expect(branch.mask != ticket.mask)
        #expect(branch.metrics.trialID == branchSpec.trialID && branch.metrics.round == 0 && branch.nextMask == nil)
        // Same branch again: same mask, same numbers; another seed index: another mask.
        let again = try runner.runBranch(spec: branchSpec, mask: ticket.mask)
        #expect(again.mask == branch.mask && again.metrics.testAccAtES == branch.metrics.testAccAtES)
        let other = try runner.runBranch(spec: branchSpec.withBranchIndex(1), mask: ticket.mask)
        #expect(other.mask != branch.mask)
    }

    /// The branch starts from what the trial's round starts from under its rule, on the random mask: θ₀ for
    /// rewind, the round's fresh draw for random reinit (checked through the "at init" layer statistics).
    @Test(arguments: [ReinitRule.rewind(iteration: 0), .random, .rewind(iteration: 20), .signedConstant])
    func startsFromTheTrialsRewoundWeights(reinit: ReinitRule) throws {
        let (runner, _, branch, branchSpec) = try ticketAndBranch(reinit: reinit)
        var rewindPoint: MLP? = nil
        if case .rewind(let k) = reinit, k > 0 { rewindPoint = runner.denseRunWeights(at: k, from: runner.initialNetwork) }
        let expectedStart = Reinit.startingNetwork(
            spec: branchSpec, round: 2, mask: branch.mask, theta0: runner.initialNetwork, rewindPoint: rewindPoint)
        for l in expectedStart.layers.indices {
            var sum = 0.0
            var kept = 0
            for i in branch.mask[l].kept.indices where branch.mask[l].kept[i] {
                sum += Double(abs(expectedStart.layers[l].weight.data[i]))
                kept += 1
            }
            #expect(branch.metrics.layers[l].meanAbsAtInit == sum / Double(max(kept, 1)))
        }
    }

    @Test func pruneRandomNeedsARewindingRule() throws {
        var spec = criteriaTinySpec(reinit: .none)
        spec.controls = [.pruneRandom]
        let error = #expect(throws: SpecError.self) { try spec.validate() }
        #expect(error?.key == "controls" && error?.message.contains("reinit: none") == true)
        spec.controls = [.reinitRandom]
        try spec.validate()  // reinit-random trains from a fresh init: fine under none
        spec.reinit = .random
        spec.controls = [.pruneRandom, .reinitRandom]
        try spec.validate()
        spec.controls = [.pruneRandom, .pruneRandom]
        #expect(throws: SpecError.self) { try spec.validate() }
        var text = TrialSpec()
        try text.set("controls", to: .parse("[reinit-random, prune-random]"))
        #expect(text.controls == [.reinitRandom, .pruneRandom])
    }
}

extension TrialSpec {
    /// The same branch with another seed index.
    fileprivate func withBranchIndex(_ index: Int) -> TrialSpec {
        var copy = self
        copy.branch?.index = index
        return copy
    }
}
