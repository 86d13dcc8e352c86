import LotteryCore
import Testing

/// LeNet-300-100 kernel shapes `[in, out]`.
private let lenetShapes = [(784, 300), (300, 100), (100, 10)]

private func denseMasks(_ shapes: [(Int, Int)]) -> [LayerMask] {
    shapes.map { LayerMask(rows: $0.0, cols: $0.1, fill: true) }
}

private func gaussianWeights(_ shapes: [(Int, Int)], seed: Int) -> [[Float]] {
    var rng = LotteryRNG(seed: seed)
    return shapes.map { shape in (0..<(shape.0 * shape.1)).map { _ in Float(rng.gaussian()) } }
}

@Suite("Pruning strategies and the density ladder")
struct PruningTests {
    /// Expected kept counts computed with integer arithmetic only: round(n/5) = (2n+5)/10 and
    /// round(n/10) = (n+5)/10 for n ≥ 0 (round half up = half away from zero for non-negative n).
    private static func expectedLeNetLadder(rounds: Int) -> [[Int]] {
        var kept = [784 * 300, 300 * 100, 100 * 10]
        var ladder = [kept]
        for _ in 0..<rounds {
            kept = [kept[0] - (2 * kept[0] + 5) / 10, kept[1] - (2 * kept[1] + 5) / 10, kept[2] - (kept[2] + 5) / 10]
            ladder.append(kept)
        }
        return ladder
    }

    @Test func densityLadderMatchesPaperClosedForm() throws {
        var spec = TrialSpec()
        spec.prune.rounds = 12
        let plan = try PruningPlan(spec: spec, layerSizes: lenetShapes.map { $0.0 * $0.1 })
        let expected = Self.expectedLeNetLadder(rounds: 12)
        #expect(plan.keptPerLayer == expected)
        #expect(plan.keptTotals == expected.map { $0.reduce(0, +) })
        #expect(plan.lastRound == 12)
        // The paper's closed form 0.8^r·265,200 + 0.9^r·1,000 over 266,200, to two decimals in percent.
        for (round, percent) in [(3, 51.28), (7, 21.07), (12, 6.95)] {
            #expect(
                abs(plan.density(round: round) * 100 - percent) < 0.005, "round \(round): \(plan.density(round: round))"
            )
        }
        // And the integer counts themselves (from the expected ladder above).
        #expect(plan.keptTotals[3] == 136_511 && plan.keptTotals[7] == 56_094 && plan.keptTotals[12] == 18_506)
    }

    @Test func layerwiseMagnitudeFollowsTheLadderWithNestedMasks() {
        let expected = Self.expectedLeNetLadder(rounds: 12)
        var masks = denseMasks(lenetShapes)
        for round in 1...12 {
            // New weights every round, as training would give.
            let weights = gaussianWeights(lenetShapes, seed: round)
            let next = Pruning.layerwiseMagnitude(weights: weights, masks: masks, rates: [0.2, 0.2, 0.1])
            #expect(Pruning.isNested(next, in: masks))
            #expect(next.map(\.keptCount) == expected[round])
            masks = next
        }
        #expect(abs(Pruning.density(masks) - 0.069519) < 1e-6)
    }

    @Test func magnitudeNotSignedValueIsUsed() {
        // Large negative weights must survive; small positive ones must go.
        let weights: [[Float]] = [[-5, 0.1, 4, -0.2, 3, -0.05, 2, 1, -3, 0.3]]
        let masks = [LayerMask(rows: 2, cols: 5, fill: true)]
        let next = Pruning.layerwiseMagnitude(weights: weights, masks: masks, rates: [0.4])
        // Four smallest |w|: 0.05 (5), 0.1 (1), 0.2 (3), 0.3 (9).
        #expect(next[0].kept == [true, false, true, false, true, false, true, true, true, false])
        let global = Pruning.globalMagnitude(weights: weights, masks: masks, rate: 0.4)
        #expect(global == next)
    }

    @Test func tiesAreBrokenByIndexAndOnlySurvivorsArePruned() {
        let weights: [[Float]] = [[1, 1, 1, 1, 0, 1, 1, 1]]
        var mask = LayerMask(rows: 2, cols: 4, fill: true)
        mask.kept[4] = false  // already pruned; its small value must not count
        mask.kept[0] = false
        let next = Pruning.layerwiseMagnitude(weights: weights, masks: [mask], rates: [0.5])
        // 6 survivors, remove 3 of equal magnitude: the smallest indices 1, 2, 3.
        #expect(next[0].kept == [false, false, false, false, false, true, true, true])
    }

    @Test func globalMagnitudeRemovesExactFractionWithOneThreshold() throws {
        let shapes = [(20, 16), (16, 8), (8, 2)]
        var masks = denseMasks(shapes)
        for round in 1...6 {
            var weights = gaussianWeights(shapes, seed: 100 + round)
            // Scale layers differently so a global threshold prunes them unevenly.
            weights[0] = weights[0].map { $0 * 0.5 }
            weights[2] = weights[2].map { $0 * 3 }
            let before = masks.reduce(0) { $0 + $1.keptCount }
            let next = Pruning.globalMagnitude(weights: weights, masks: masks, rate: 0.3)
            let after = next.reduce(0) { $0 + $1.keptCount }
            #expect(before - after == Int((0.3 * Double(before)).rounded()))
            #expect(Pruning.isNested(next, in: masks))
            // One threshold: every removed survivor is no larger in |w| than every kept one.
            var removedMax: Float = 0
            var keptMin = Float.infinity
            for l in masks.indices {
                for i in masks[l].kept.indices where masks[l].kept[i] {
                    if next[l].kept[i] {
                        keptMin = min(keptMin, abs(weights[l][i]))
                    } else {
                        removedMax = max(removedMax, abs(weights[l][i]))
                    }
                }
            }
            #expect(removedMax <= keptMin)
            masks = next
        }
        let densities = masks.map(\.density)
        #expect(densities[0] < densities[2], "global pruning should hit the small-weight layer hardest: \(densities)")
        var spec = TrialSpec()
        spec.prune.strategy = .globalMagnitude
        spec.prune.rates = [0.3]
        spec.prune.rounds = 6
        let plan = try PruningPlan(spec: spec, layerSizes: shapes.map { $0.0 * $0.1 })
        #expect(plan.keptTotals.last == masks.reduce(0) { $0 + $1.keptCount })
        #expect(plan.keptPerLayer == nil)
    }

    @Test func randomPruningKeepsMagnitudeCountsAndIsSeedDetermined() {
        var magnitude = denseMasks(lenetShapes)
        var random = denseMasks(lenetShapes)
        for round in 1...4 {
            let weights = gaussianWeights(lenetShapes, seed: round)
            magnitude = Pruning.layerwiseMagnitude(weights: weights, masks: magnitude, rates: [0.2, 0.2, 0.1])
            let next = Pruning.random(masks: random, rates: [0.2, 0.2, 0.1], seed: 7 + round)
            #expect(Pruning.isNested(next, in: random))
            #expect(next.map(\.keptCount) == magnitude.map(\.keptCount))
            #expect(next == Pruning.random(masks: random, rates: [0.2, 0.2, 0.1], seed: 7 + round))
            #expect(next != Pruning.random(masks: random, rates: [0.2, 0.2, 0.1], seed: 1_000 + round))
            random = next
        }
        #expect(random != magnitude)
    }

    @Test func targetDensityStopsAtFirstRoundAtOrBelowAndUnreachableTargetsAreErrors() throws {
        var spec = TrialSpec()
        spec.prune.targetDensity = 0.25
        let plan = try PruningPlan(spec: spec, layerSizes: lenetShapes.map { $0.0 * $0.1 })
        #expect(plan.lastRound == 7)  // 26.3% after 6 rounds, 21.07% after 7
        #expect(plan.density(round: 7) <= 0.25 && plan.density(round: 6) > 0.25)

        var stalled = TrialSpec()
        stalled.model.layers = [2]
        stalled.prune.rates = [0.1]
        stalled.prune.targetDensity = 0.01
        #expect(throws: SpecError.self) { try PruningPlan(spec: stalled, layerSizes: [8, 4]) }
    }

    @Test func ratesThatPruneNothingAreRejected() throws {
        var spec = TrialSpec()
        try spec.set("prune.rates", to: .parse("[0, 0, 0]"))
        let error = #expect(throws: SpecError.self) { try spec.validate() }
        #expect(error?.key == "prune.rates")
        spec.prune.rounds = 0
        try spec.validate()
    }
}
