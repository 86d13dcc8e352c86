import Foundation
import LotteryCore
import Testing

/// Six hand-made weights of one 2×3 layer, chosen so that the criteria disagree.
///   |w_init|  = .1 .5 .3  .2 .05 .9
///   |w_final| = .6 .2 .35 .7 0   .5
private let w0: [Float] = [0.1, -0.5, 0.3, -0.2, 0.05, -0.9]
private let wf: [Float] = [-0.6, -0.2, -0.35, -0.7, 0.0, 0.5]

private func keptIndices(_ mask: LayerMask) -> Set<Int> { Set(mask.kept.indices.filter { mask.kept[$0] }) }

private func prune(_ criterion: PruneCriterion, initial: [Float] = w0, final: [Float] = wf, rate: Double = 0.5)
    -> Set<Int>
{
    let mask = LayerMask(rows: 2, cols: 3, fill: true)
    let next = Pruning.prune(
        strategy: .layerwiseMagnitude, criterion: criterion, weights: [final], initial: [initial], masks: [mask],
        rates: [rate], randomSeed: 1)
    return keptIndices(next[0])
}

private func gaussian(_ sizes: [Int], seed: Int) -> [[Float]] {
    var rng = LotteryRNG(seed: seed, stream: "criteria-test")
    return sizes.map { n in (0..<n).map { _ in Float(rng.gaussian()) } }
}

@Suite("Mask criteria (Zhou et al. 2019) and random masks")
struct PruningCriteriaTests {
    /// Each criterion on the hand-made layer, half the weights removed; expectations worked out by hand from the
    /// definitions in docs/imp.md (scores in the comments).
    @Test func eachCriterionKeepsWhatItsDefinitionSays() {
        // |w_f|: remove 0 (i4), .2 (i1), .35 (i2).
        #expect(prune(.largeFinal) == [0, 3, 5])
        // −|w_f|: remove .7 (i3), .6 (i0), .5 (i5).
        #expect(prune(.smallFinal) == [1, 2, 4])
        // |w_i|: remove .05 (i4), .1 (i0), .2 (i3).
        #expect(prune(.largeInit) == [1, 2, 5])
        // −|w_i|: remove .9 (i5), .5 (i1), .3 (i2).
        #expect(prune(.smallInit) == [0, 3, 4])
        // |w_f| − |w_i| = .5 −.3 .05 .5 −.05 −.4: remove i5, i1, i4.
        #expect(prune(.magnitudeIncrease) == [0, 2, 3])
        // |w_f − w_i| = .7 .3 .65 .5 .05 1.4: remove i4, i1, i3.
        #expect(prune(.movement) == [0, 2, 5])
        // rank↓|w_i| = 4 1 2 3 5 0, rank↓|w_f| = 1 4 3 0 5 2, max = 4 4 3 3 5 2: keep i5, i2, i3 — the top 4 of
        // both orders ({5,1,2,3} ∩ {3,0,5,2}).
        #expect(prune(.largeInitLargeFinal) == [2, 3, 5])
        // rank↑|w_i| = 1 4 3 2 0 5, rank↑|w_f| = 4 1 2 5 0 3, max = 4 4 3 5 0 5: remove i3, i5 (−5), then the tie
        // at −4 by smaller index (i0).
        #expect(prune(.smallInitSmallFinal) == [1, 2, 4])
    }

    @Test func largeFinalIsTodaysRuleBitForBit() {
        let sizes = [40 * 12, 12 * 6, 6 * 3]
        let masks = [LayerMask(rows: 40, cols: 12, fill: true), .init(rows: 12, cols: 6, fill: true),
                     .init(rows: 6, cols: 3, fill: true)]
        let weights = gaussian(sizes, seed: 1), initial = gaussian(sizes, seed: 2)
        let layerwise = Pruning.prune(
            strategy: .layerwiseMagnitude, criterion: .largeFinal, weights: weights, initial: initial, masks: masks,
            rates: [0.2, 0.2, 0.1], randomSeed: 5)
        #expect(layerwise == Pruning.layerwiseMagnitude(weights: weights, masks: masks, rates: [0.2, 0.2, 0.1]))
        let global = Pruning.prune(
            strategy: .globalMagnitude, criterion: .largeFinal, weights: weights, initial: nil, masks: masks,
            rates: [0.3], randomSeed: 5)
        #expect(global == Pruning.globalMagnitude(weights: weights, masks: masks, rate: 0.3))
    }

    /// Equal scores (a signed-constant init has one |w_i| per layer) fall to the smaller index first, as today.
    @Test func tiesGoBySmallerIndexFirst() {
        let constant: [Float] = [0.3, -0.3, 0.3, 0.3, -0.3, 0.3]
        #expect(prune(.largeInit, initial: constant) == [3, 4, 5])  // 3 of 6 removed: i0, i1, i2
        #expect(prune(.smallInit, initial: constant, rate: 1.0 / 3.0) == [2, 3, 4, 5])
    }

    /// Global pruning ranks all layers' survivors together; scores tie across layers by earlier layer first.
    @Test func globalCriteriaPoolAllLayers() {
        // Layer 0: |w_f| = .1 .9 ; layer 1: |w_f| = .5 .1 .8 .2 → small_final removes the 3 largest: .9, .8, .5.
        let masks = [LayerMask(rows: 1, cols: 2, fill: true), LayerMask(rows: 2, cols: 2, fill: true)]
        let final: [[Float]] = [[0.1, -0.9], [0.5, 0.1, -0.8, 0.2]]
        let next = Pruning.prune(
            strategy: .globalMagnitude, criterion: .smallFinal, weights: final, initial: nil, masks: masks,
            rates: [0.5], randomSeed: 0)
        #expect(keptIndices(next[0]) == [0] && keptIndices(next[1]) == [1, 3])
        // A tie at .1 between layer 0 index 0 and layer 1 index 1: large_init keeps the later one when one must go.
        let initial: [[Float]] = [[0.1, 0.4], [0.3, -0.1, 0.2, 0.6]]
        let tie = Pruning.prune(
            strategy: .globalMagnitude, criterion: .largeInit, weights: final, initial: initial, masks: masks,
            rates: [1.0 / 6.0], randomSeed: 0)
        #expect(keptIndices(tie[0]) == [1] && keptIndices(tie[1]) == [0, 1, 2, 3])
    }

    /// Every criterion, both strategies, from a partly pruned mask: survivors only, today's counts.
    @Test(arguments: PruneCriterion.allCases)
    func countsAndNestingMatchTodaysRule(criterion: PruneCriterion) {
        let shapes = [(30, 10), (10, 6), (6, 3)]
        let sizes = shapes.map { $0.0 * $0.1 }
        var rng = LotteryRNG(seed: 9, stream: "criteria-mask")
        let masks = shapes.map { s in
            LayerMask(rows: s.0, cols: s.1, kept: (0..<(s.0 * s.1)).map { _ in rng.uniform() < 0.7 })
        }
        let weights = gaussian(sizes, seed: 3), initial = gaussian(sizes, seed: 4)
        let rates = [0.2, 0.2, 0.1]
        let layerwise = Pruning.prune(
            strategy: .layerwiseMagnitude, criterion: criterion, weights: weights, initial: initial, masks: masks,
            rates: rates, randomSeed: 11)
        #expect(Pruning.isNested(layerwise, in: masks))
        #expect(layerwise.map(\.keptCount) == Pruning.keptAfterRound(kept: masks.map(\.keptCount), rates: rates))
        let global = Pruning.prune(
            strategy: .globalMagnitude, criterion: criterion, weights: weights, initial: initial, masks: masks,
            rates: [0.25], randomSeed: 11)
        let total = masks.reduce(0) { $0 + $1.keptCount }
        #expect(Pruning.isNested(global, in: masks))
        #expect(global.reduce(0) { $0 + $1.keptCount } == total - Pruning.removalCount(rate: 0.25, remaining: total))
    }

    @Test func randomCriterionIsSeededAndWeightBlind() {
        let sizes = [200]
        let masks = [LayerMask(rows: 20, cols: 10, fill: true)]
        let a = gaussian(sizes, seed: 1), b = gaussian(sizes, seed: 2)
        func run(_ w: [[Float]], seed: Int) -> [LayerMask] {
            Pruning.prune(
                strategy: .layerwiseMagnitude, criterion: .random, weights: w, initial: nil, masks: masks,
                rates: [0.5], randomSeed: seed)
        }
        #expect(run(a, seed: 7) == run(b, seed: 7))
        #expect(run(a, seed: 7) != run(a, seed: 8))
        #expect(run(a, seed: 7)[0].keptCount == 100)
        #expect(run(a, seed: 7) != Pruning.layerwiseMagnitude(weights: a, masks: masks, rates: [0.5]))
    }

    /// A diverged run: a NaN score counts as +∞ (kept), as a NaN weight counts as the largest magnitude today.
    @Test func nanScoresAreKept() {
        var final = wf
        final[4] = .nan
        #expect(prune(.magnitudeIncrease, final: final).contains(4))
        #expect(prune(.movement, final: final).contains(4))
    }

    @Test func randomMaskKeepsEachLayersCountAnywhere() {
        let masks = [
            LayerMask(rows: 20, cols: 10, kept: (0..<200).map { $0 < 37 }),
            LayerMask(rows: 10, cols: 4, kept: (0..<40).map { $0 % 3 == 0 }),
        ]
        let a = Pruning.randomMask(like: masks, seed: 3)
        #expect(a.map(\.keptCount) == masks.map(\.keptCount))
        #expect(a.map(\.rows) == masks.map(\.rows) && a.map(\.cols) == masks.map(\.cols))
        #expect(a == Pruning.randomMask(like: masks, seed: 3))
        #expect(a != Pruning.randomMask(like: masks, seed: 4))
        // Positions are drawn among all weights, not among the ticket's survivors.
        #expect(!Pruning.isNested(a, in: masks))
    }
}
