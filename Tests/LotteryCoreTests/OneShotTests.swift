import Foundation
import LotteryCore
import Testing

private func oneShotSpec(densities: [Double]? = nil, reinit: ReinitRule = .rewind(iteration: 0)) -> TrialSpec {
    var spec = criteriaTinySpec(reinit: reinit)
    spec.prune.schedule = .oneshot
    spec.prune.densities = densities
    return spec
}

@Suite("prune.schedule: oneshot — every density a branch of round 0")
struct OneShotTests {
    @Test func defaultScheduleKeepsIdsAndJSON() throws {
        let spec = TrialSpec()
        #expect(!spec.canonicalText.contains("prune.schedule") && !spec.canonicalText.contains("prune.densities"))
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(!json.contains("schedule") && !json.contains("densities"))
        var oneshot = spec
        try oneshot.set("prune.schedule", to: .string("oneshot"))
        try oneshot.validate()
        #expect(oneshot.trialID != spec.trialID)
        try oneshot.set("prune.densities", to: .parse("[0.5, 0.2]"))
        #expect(try JSONDecoder().decode(TrialSpec.self, from: JSONEncoder().encode(oneshot)) == oneshot)
    }

    @Test func badSchedulesAreOneLineErrors() throws {
        var spec = TrialSpec()
        let unknown = #expect(throws: SpecError.self) { try spec.set("prune.schedule", to: .string("one-shot")) }
        #expect(unknown?.key == "prune.schedule" && unknown?.message.contains("iterative, oneshot") == true)
        spec.prune.schedule = .oneshot
        spec.prune.rounds = 0
        let nothing = #expect(throws: SpecError.self) { try spec.validate() }
        #expect(nothing?.key == "prune.schedule" && nothing?.message.contains("no densities") == true)
        spec.prune.densities = [0.5, 1.0]
        #expect((#expect(throws: SpecError.self) { try spec.validate() })?.key == "prune.densities")
        spec.prune.densities = [0.5]
        try spec.validate()
        spec.controls = [.reinitRandom]
        #expect((#expect(throws: SpecError.self) { try spec.validate() })?.key == "controls")
        spec.controls = []
        spec.prune.schedule = .iterative
        let iterative = #expect(throws: SpecError.self) { try spec.validate() }
        #expect(iterative?.key == "prune.densities")
        #expect(throws: SpecError.self) { try spec.set("controls", to: .parse("[oneshot]")) }
    }

    @Test func planFollowsTheLadderOrTheGivenDensities() throws {
        let ladder = try IMPRunner(spec: oneShotSpec(), data: criteriaTinyData)
        let plan = try #require(ladder.oneShotPlan)
        #expect(plan.keptPerLayer == Array(ladder.plan.keptPerLayer!.dropFirst()))
        #expect(plan.keptTotals == Array(ladder.plan.keptTotals.dropFirst()) && ladder.lastRound == 0)
        let given = try #require(try IMPRunner(spec: oneShotSpec(densities: [0.5, 0.1]), data: criteriaTinyData).oneShotPlan)
        // 20·16, 16·8, 8·2 weights: round(0.5·n) and round(0.1·n) per layer.
        #expect(given.keptPerLayer == [[160, 64, 8], [32, 13, 2]])
    }

    /// The trial records only the dense round 0; density 0 of the ladder is IMP's first pruning step, so that branch
    /// must reproduce the iterative trial's round 1 exactly (same mask from the same dense run, same start, same
    /// training), while deeper densities prune the dense run in one step.
    @Test func branchesPruneTheDenseRunStraightToEachDensity() throws {
        let spec = oneShotSpec()
        let runner = try IMPRunner(spec: spec, data: criteriaTinyData)
        let trial = try runAllRounds(runner)
        #expect(trial.count == 1 && trial[0].nextMask == nil)
        let iterative = try runAllRounds(IMPRunner(spec: criteriaTinySpec(), data: criteriaTinyData))
        #expect(trial[0].metrics.curve == iterative[0].metrics.curve)
        let plan = try #require(runner.oneShotPlan)
        var branches: [RoundOutcome] = []
        for index in 0..<plan.count {
            let branchSpec = spec.branch(.oneshot, round: 0, index: index)
            try branchSpec.validate()
            branches.append(try runner.runBranch(spec: branchSpec, mask: trial[0].mask))
            #expect(branches[index].mask.map(\.keptCount) == plan.keptPerLayer![index])
            #expect(branches[index].metrics.trialID == branchSpec.trialID && branches[index].metrics.round == 0)
        }
        #expect(branches[0].mask == iterative[1].mask)
        #expect(branches[0].metrics.curve == iterative[1].metrics.curve)
        #expect(branches[1].mask != iterative[2].mask)
        #expect(branches[1].metrics.density == iterative[2].metrics.density)
        // Both densities keep the largest |w| of the same dense run, so the deeper one-shot mask is a subset.
        #expect(Pruning.isNested(branches[1].mask, in: branches[0].mask))
    }

    @Test(arguments: [ReinitRule.rewind(iteration: 20), .none, .random])
    func branchesStartFromTheRulesWeights(reinit: ReinitRule) throws {
        let spec = oneShotSpec(densities: [0.3], reinit: reinit)
        let runner = try IMPRunner(spec: spec, data: criteriaTinyData)
        let branch = try runner.runBranch(spec: spec.branch(.oneshot, round: 0, index: 0), mask: runner.denseMasks)
        #expect(branch.mask.map(\.keptCount) == [96, 38, 5])
        // The start is not θ₀ under any of these rules: its mean |w| at init differs from θ₀'s on the same mask.
        let theta0 = runner.initialNetwork
        for l in theta0.layers.indices {
            let kept = branch.mask[l].kept.indices.filter { branch.mask[l].kept[$0] }
            let mean = kept.reduce(0.0) { $0 + Double(abs(theta0.layers[l].weight.data[$1])) } / Double(kept.count)
            #expect(branch.metrics.layers[l].meanAbsAtInit != mean)
        }
        #expect(throws: IMPError.self) {
            try runner.runBranch(spec: spec.branch(.oneshot, round: 0, index: 1), mask: runner.denseMasks)
        }
    }
}
