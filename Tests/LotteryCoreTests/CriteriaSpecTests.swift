import Foundation
import LotteryCore
import Testing

/// Two Gaussian blobs in 20 dimensions, labels 0/1 (as in IMPRunnerTests).
private func blobs(count: Int, seed: Int) -> Dataset {
    var rng = LotteryRNG(seed: seed, stream: "criteria-blobs")
    var images: [Float] = []
    var labels: [UInt8] = []
    for i in 0..<count {
        let label = UInt8(i % 2)
        let mean = label == 0 ? -0.5 : 0.5
        for _ in 0..<20 { images.append(Float(mean + rng.gaussian())) }
        labels.append(label)
    }
    return Dataset(images: images, labels: labels, features: 20, classes: 2)
}

let criteriaTinyData = DataSplits(
    train: blobs(count: 400, seed: 1), validation: blobs(count: 100, seed: 2), test: blobs(count: 200, seed: 3))

/// 20-16-8-2, 40 iterations per round, 2 pruning rounds at 30/30/20%.
func criteriaTinySpec(criterion: PruneCriterion = .largeFinal, reinit: ReinitRule = .rewind(iteration: 0))
    -> TrialSpec
{
    var spec = TrialSpec()
    spec.model.layers = [16, 8]
    spec.train.batch = 20
    spec.train.iterations = 40
    spec.train.evalEvery = 20
    spec.train.lr = 1e-2
    spec.data.validation = 100
    spec.seed = 5
    spec.prune.rates = [0.3, 0.3, 0.2]
    spec.prune.rounds = 2
    spec.prune.criterion = criterion
    spec.reinit = reinit
    return spec
}

func runAllRounds(_ runner: IMPRunner, startRound: Int = 0, startMask: [LayerMask]? = nil) throws -> [RoundOutcome] {
    var outcomes: [RoundOutcome] = []
    try runner.run(startRound: startRound, startMask: startMask) { outcomes.append($0) }
    return outcomes
}

@Suite("prune.criterion: spec key, trial ids, IMP runs")
struct CriteriaSpecTests {
    /// The default criterion leaves the canonical text, the JSON and so the trial id exactly as before the key.
    @Test func defaultCriterionKeepsIdsAndJSON() throws {
        var spec = TrialSpec()
        spec.seed = 3
        spec.controls = [.reinitRandom]
        // The canonical text as it was before issue 16's keys existed.
        let added: Set<String> = ["prune.criterion", "prune.schedule", "prune.densities"]
        let before = try TrialSpec.keys.filter { $0.isCanonical && !added.contains($0.name) }.map {
            "\($0.name)=\(try spec.value(of: $0.name))"
        }
        #expect(spec.canonicalText == before.joined(separator: "\n"))
        #expect(spec.trialID == "t" + String(SHA256.hexDigest(Array(before.joined(separator: "\n").utf8)).prefix(16)))
        var explicit = spec
        try explicit.set("prune.criterion", to: .string("large_final"))
        #expect(explicit.trialID == spec.trialID)
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(!json.contains("criterion"))
        // JSON written before the key existed still decodes, to the default.
        #expect(try JSONDecoder().decode(TrialSpec.self, from: Data(json.utf8)) == spec)
        // The CSV column exists and reads the default.
        #expect(try spec.value(of: "prune.criterion") == .string("large_final"))
    }

    @Test func otherCriteriaChangeTheIdAndRoundTrip() throws {
        var ids: Set<String> = []
        for criterion in PruneCriterion.allCases {
            var spec = TrialSpec()
            try spec.set("prune.criterion", to: .string(criterion.rawValue))
            try spec.validate()
            ids.insert(spec.trialID)
            let back = try JSONDecoder().decode(TrialSpec.self, from: JSONEncoder().encode(spec))
            #expect(back == spec && back.prune.criterion == criterion)
            #expect(spec.canonicalText.contains("prune.criterion") == (criterion != .largeFinal))
        }
        #expect(ids.count == PruneCriterion.allCases.count)
    }

    /// Prune's hand-written Codable (it omits default criteria) must carry every other field, per-kind rates too.
    @Test func pruneJSONKeepsEveryField() throws {
        var spec = TrialSpec()
        try spec.set("prune.rates.conv", to: .double(0.3))
        try spec.set("prune.criterion", to: .string("movement"))
        try spec.set("prune.target_density", to: .double(0.5))
        let back = try JSONDecoder().decode(TrialSpec.self, from: JSONEncoder().encode(spec))
        #expect(back.prune.kindRates != nil && back.prune.kindRates == spec.prune.kindRates)
        #expect(back == spec)
    }

    @Test func badCriteriaAreOneLineErrors() throws {
        var spec = TrialSpec()
        let unknown = #expect(throws: SpecError.self) { try spec.set("prune.criterion", to: .string("largest")) }
        #expect(unknown?.key == "prune.criterion")
        #expect(unknown?.message.contains("large_final") == true && unknown?.description.contains("\n") == false)
        try spec.set("prune.strategy", to: .string("random"))
        try spec.set("prune.criterion", to: .string("movement"))
        let meaningless = #expect(throws: SpecError.self) { try spec.validate() }
        #expect(meaningless?.key == "prune.criterion")
    }

    /// A criterion that reads w_init prunes from the weights the round started from, follows the plan, nests,
    /// differs from large_final, and resumes bit for bit from a recorded mask.
    @Test(arguments: [PruneCriterion.smallFinal, .largeInitLargeFinal, .magnitudeIncrease, .random])
    func imp(criterion: PruneCriterion) throws {
        let runner = try IMPRunner(spec: criteriaTinySpec(criterion: criterion), data: criteriaTinyData)
        let outcomes = try runAllRounds(runner)
        #expect(outcomes.map { $0.metrics.keptCounts } == runner.plan.keptPerLayer)
        for r in 0..<2 { #expect(Pruning.isNested(outcomes[r + 1].mask, in: outcomes[r].mask)) }
        let baseline = try runAllRounds(IMPRunner(spec: criteriaTinySpec(), data: criteriaTinyData))
        #expect(outcomes[1].mask != baseline[1].mask)
        #expect(outcomes[0].metrics.testAccAtES == baseline[0].metrics.testAccAtES)  // round 0 is the same dense run
        let resumed = try runAllRounds(runner, startRound: 1, startMask: outcomes[0].nextMask)
        func timeless(_ o: RoundOutcome) -> RoundOutcome {
            var c = o
            c.metrics.seconds = 0
            return c
        }
        #expect(resumed.map(timeless) == outcomes.dropFirst().map(timeless))
    }
}
