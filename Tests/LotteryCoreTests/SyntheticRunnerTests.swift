import LotteryCore
import Testing

/// `synthetic.round_ms` trials: LeNet-shaped random nested masks on the trial's density ladder, deterministic.
@Suite struct SyntheticRunnerTests {
    func spec(seed: Int = 3, rounds: Int = 4, strategy: String? = nil) throws -> TrialSpec {
        var spec = TrialSpec()
        try spec.set("seed", to: .int(seed))
        try spec.set("prune.rounds", to: .int(rounds))
        try spec.set("synthetic.round_ms", to: .int(0))
        if let strategy { try spec.set("prune.strategy", to: .string(strategy)) }
        return spec
    }

    func outcomes(_ runner: SyntheticRunner, startRound: Int = 0, startMask: [LayerMask]? = nil) throws
        -> [RoundOutcome]
    {
        var result: [RoundOutcome] = []
        try runner.run(startRound: startRound, startMask: startMask) { result.append($0) }
        return result
    }

    /// Without seconds, which are wall time.
    func timeless(_ outcome: RoundOutcome) -> RoundOutcome {
        var copy = outcome
        copy.metrics.seconds = 0
        return copy
    }

    /// The process-wide ladder cache returns a step only for the same input mask: pruning another mask with the
    /// same seed and round gives masks nested in *that* mask, and the first input still gets its own step back.
    @Test func cachedStepsAreKeyedByTheirInputMaskToo() throws {
        let runner = try SyntheticRunner(spec: spec(seed: 11))
        let dense = runner.denseMasks
        let first = runner.nextMask(after: dense, round: 0)
        var other = dense
        other[0].kept[0] = false
        other[2].kept = other[2].kept.indices.map { $0 % 2 == 0 }
        let fromOther = runner.nextMask(after: other, round: 0)
        #expect(Pruning.isNested(fromOther, in: other))
        #expect(fromOther != first)
        #expect(runner.nextMask(after: dense, round: 0) == first)
        #expect(try SyntheticRunner(spec: spec(seed: 11)).nextMask(after: dense, round: 0) == first)
    }

    @Test(arguments: ["layerwise-magnitude", "global-magnitude", "random"])
    func masksAreLeNetShapedNestedAndFollowThePlan(strategy: String) throws {
        let runner = try SyntheticRunner(spec: spec(strategy: strategy))
        let rounds = try outcomes(runner)
        #expect(rounds.map(\.metrics.round) == [0, 1, 2, 3, 4])
        for outcome in rounds {
            #expect(outcome.mask.map { [$0.rows, $0.cols] } == [[784, 300], [300, 100], [100, 10]])
            let kept = outcome.mask.reduce(0) { $0 + $1.keptCount }
            #expect(kept == runner.plan.keptTotals[outcome.metrics.round])
            #expect(outcome.metrics.keptCounts == outcome.mask.map(\.keptCount))
            #expect(abs(outcome.metrics.density - runner.plan.density(round: outcome.metrics.round)) < 1e-12)
            #expect(outcome.metrics.curve.count == 5)
            #expect(outcome.metrics.testAccFinal > 0.5 && outcome.metrics.testAccFinal < 1)
        }
        #expect(rounds[0].mask == runner.denseMasks)
        for (earlier, later) in zip(rounds, rounds.dropFirst()) {
            #expect(earlier.nextMask == later.mask)
            #expect(Pruning.isNested(later.mask, in: earlier.mask))
            #expect(later.mask != earlier.mask)
        }
        #expect(rounds.last?.nextMask == nil)
        if strategy == "layerwise-magnitude", let per = runner.plan.keptPerLayer {
            #expect(rounds.map { $0.mask.map(\.keptCount) } == Array(per))
        }
    }

    @Test func sameSpecSameMasksAndMetricsAndAResumeAgrees() throws {
        let runner = try SyntheticRunner(spec: spec())
        let first = try outcomes(runner).map(timeless)
        let second = try outcomes(try SyntheticRunner(spec: spec())).map(timeless)
        #expect(first == second)
        let resumed = try outcomes(runner, startRound: 2, startMask: first[1].nextMask).map(timeless)
        #expect(resumed == Array(first[2...]))
        let other = try outcomes(try SyntheticRunner(spec: spec(seed: 4)))
        #expect(other[1].mask != first[1].mask, "another seed draws other masks")
    }

    @Test func branchReportsTheParentMaskAsRoundZero() throws {
        let parentSpec = try spec()
        let runner = try SyntheticRunner(spec: parentSpec)
        let rounds = try outcomes(runner)
        let branchSpec = parentSpec.branch(.reinitRandom, round: 2, index: 0)
        let branch = try runner.runBranch(spec: branchSpec, mask: rounds[2].mask)
        #expect(branch.metrics.round == 0 && branch.metrics.trialID == branchSpec.trialID)
        #expect(branch.mask == rounds[2].mask && branch.nextMask == nil)
    }

    @Test func badStartStateAndNonSyntheticSpecsAreRefused() throws {
        let runner = try SyntheticRunner(spec: spec())
        #expect(throws: IMPError.self) { try runner.run(startRound: 2) { _ in } }
        #expect(throws: IMPError.self) { try runner.run(startRound: 2, startMask: runner.denseMasks) { _ in } }
        #expect(throws: IMPError.self) { try runner.run(startRound: 9, startMask: runner.denseMasks) { _ in } }
        #expect(throws: SpecError.self) { try SyntheticRunner(spec: TrialSpec()) }
    }
}
