/// Mask criteria (``PruneCriterion``) for the magnitude strategies, and random masks for the `prune-random` control.
///
/// Like the rest of ``Pruning``: pure functions over flat per-layer kernel values (`[[Float]]`, row-major
/// `[in, out]`) and ``LayerMask``s, pruning only among survivors, with exactly the counts of today's rule
/// (``Pruning/removalCount(rate:remaining:)`` per layer for `layerwise-magnitude`, in total for
/// `global-magnitude`).
///
/// Every criterion gives each survivor a **keep score** (a `Double`); the survivors with the lowest scores are
/// removed, ties by position (smaller flat index first; for global pruning earlier layer first, then smaller
/// index), exactly as ``Pruning/layerwiseMagnitude(weights:masks:rates:)`` breaks ties in `|w|`. A NaN score (a
/// diverged run) counts as +∞, as a NaN weight counts as the largest magnitude today. The scores, over a *pool*
/// of survivors (one layer, or all layers for global pruning), in pool order:
///
/// | criterion | keep score |
/// |---|---|
/// | `large_final` | \|w_f\| (today's rule, run by today's code: bit-identical masks) |
/// | `small_final` | −\|w_f\| |
/// | `large_init` | \|w_i\| |
/// | `small_init` | −\|w_i\| |
/// | `large_init_large_final` | −max(rank↓(\|w_i\|), rank↓(\|w_f\|)) |
/// | `small_init_small_final` | −max(rank↑(\|w_i\|), rank↑(\|w_f\|)) |
/// | `magnitude_increase` | \|w_f\| − \|w_i\| |
/// | `movement` | \|w_f − w_i\| |
/// | `random` | U[0, 1) from `LotteryRNG(seed:)`, one draw per survivor in pool order |
///
/// rank↓ is the 0-based position in the pool sorted by decreasing magnitude, rank↑ by increasing magnitude (ties
/// by pool position, NaN as the largest magnitude). Keeping the n best by −max(rank, rank) keeps exactly the
/// weights that are in the top k of *both* orders for the largest k that keeps at most n, which is Zhou et al.'s
/// "same percentile in both" rule with the count met exactly (their code searches the percentile numerically).
/// Differences are taken in `Double`.
extension Pruning {
    /// The next mask of `strategy` under `criterion`.
    ///
    /// `large_final` (and every criterion under `prune.strategy: random`, which validation forbids) runs
    /// ``prune(strategy:weights:masks:rates:randomSeed:)`` unchanged.
    /// - Parameters:
    ///   - initial: per layer, the kernel the round started training from (`w_init`); required by criteria that
    ///     ``PruneCriterion/usesInitialWeights``.
    ///   - randomSeed: seed of `random` (the criterion or the strategy).
    public static func prune(
        strategy: PruneStrategy, criterion: PruneCriterion, weights: [[Float]], initial: [[Float]]?,
        masks: [LayerMask], rates: [Double], randomSeed: Int
    ) -> [LayerMask] {
        guard criterion != .largeFinal, strategy != .random else {
            return prune(strategy: strategy, weights: weights, masks: masks, rates: rates, randomSeed: randomSeed)
        }
        let removing: [Int]
        if strategy == .globalMagnitude {
            precondition(rates.count == 1, "Pruning.prune: global-magnitude takes one rate, got \(rates.count)")
            removing = [removalCount(rate: rates[0], remaining: masks.reduce(0) { $0 + $1.keptCount })]
        } else {
            precondition(rates.count == masks.count, "Pruning: \(masks.count) layers but \(rates.count) rates")
            removing = zip(masks, rates).map { removalCount(rate: $1, remaining: $0.keptCount) }
        }
        return prune(
            strategy: strategy, criterion: criterion, weights: weights, initial: initial, masks: masks,
            removing: removing, randomSeed: randomSeed)
    }

    /// The same rules with explicit counts: `removing[l]` survivors of layer `l` (`layerwise-magnitude`, `random`)
    /// or `removing[0]` in total (`global-magnitude`). One-shot pruning uses it to reach a density in one step.
    /// Every strategy and criterion (including `large_final`) goes through the keep scores here; `random` removes
    /// uniformly drawn survivors per layer (partial Fisher–Yates, as ``random(masks:rates:seed:)``).
    public static func prune(
        strategy: PruneStrategy, criterion: PruneCriterion, weights: [[Float]], initial: [[Float]]?,
        masks: [LayerMask], removing: [Int], randomSeed: Int
    ) -> [LayerMask] {
        checkCriterionShapes(weights: weights, initial: initial, masks: masks, criterion: criterion)
        let w0 = initial ?? weights  // unused when the criterion does not read w_init
        var rng = LotteryRNG(seed: randomSeed)
        switch strategy {
        case .random:
            precondition(removing.count == masks.count, "Pruning: \(masks.count) layers but \(removing.count) counts")
            return masks.indices.map { l in
                var survivors = survivorList(masks[l])
                let count = min(removing[l], survivors.count)
                var next = masks[l]
                for i in 0..<count {
                    let j = i + rng.below(survivors.count - i)
                    survivors.swapAt(i, j)
                    next.kept[survivors[i]] = false
                }
                return next
            }
        case .layerwiseMagnitude:
            precondition(removing.count == masks.count, "Pruning: \(masks.count) layers but \(removing.count) counts")
            return masks.indices.map { l in
                let survivors = survivorList(masks[l])
                let count = min(removing[l], survivors.count)
                var next = masks[l]
                guard count > 0 else { return next }
                let scores = keepScores(
                    criterion, initial: survivors.map { w0[l][$0] }, final: survivors.map { weights[l][$0] },
                    rng: &rng)
                for position in lowest(scores, count: count) { next.kept[survivors[position]] = false }
                return next
            }
        case .globalMagnitude:
            precondition(removing.count == 1, "Pruning.prune: global-magnitude takes one count, got \(removing.count)")
            var pool: [(layer: Int, index: Int)] = []
            for l in masks.indices { for index in survivorList(masks[l]) { pool.append((l, index)) } }
            let count = min(removing[0], pool.count)
            var next = masks
            guard count > 0 else { return next }
            let scores = keepScores(
                criterion, initial: pool.map { w0[$0.layer][$0.index] }, final: pool.map { weights[$0.layer][$0.index] },
                rng: &rng)
            for position in lowest(scores, count: count) { next[pool[position].layer].kept[pool[position].index] = false }
            return next
        }
    }

    /// Keep scores of a pool of survivors (see the type's table), aligned with `initial`/`final`.
    public static func keepScores(
        _ criterion: PruneCriterion, initial: [Float], final: [Float], rng: inout LotteryRNG
    ) -> [Double] {
        precondition(initial.count == final.count, "Pruning.keepScores: \(initial.count) vs \(final.count) weights")
        func mag(_ w: Float) -> Double { w.isNaN ? .infinity : Double(abs(w)) }
        switch criterion {
        case .largeFinal: return final.map { mag($0) }
        case .smallFinal: return final.map { -mag($0) }
        case .largeInit: return initial.map { mag($0) }
        case .smallInit: return initial.map { -mag($0) }
        case .magnitudeIncrease: return zip(final, initial).map { Double(abs($0)) - Double(abs($1)) }
        case .movement: return zip(final, initial).map { abs(Double($0) - Double($1)) }
        case .random: return final.map { _ in rng.uniform() }
        case .largeInitLargeFinal, .smallInitSmallFinal:
            let descending = criterion == .largeInitLargeFinal
            let ri = ranks(initial.map { mag($0) }, descending: descending)
            let rf = ranks(final.map { mag($0) }, descending: descending)
            return zip(ri, rf).map { -Double(max($0, $1)) }
        }
    }

    /// A fresh random mask shaped like `masks` with exactly each layer's kept count, positions drawn uniformly
    /// among all of the layer's weights (partial Fisher–Yates, layers in order from one `LotteryRNG(seed:)`).
    /// The `prune-random` control (a random mask with the ticket's per-layer densities).
    public static func randomMask(like masks: [LayerMask], seed: Int) -> [LayerMask] {
        var rng = LotteryRNG(seed: seed)
        return masks.map { mask in
            let size = mask.kept.count
            let keep = mask.keptCount
            var positions = Array(0..<size)
            var next = LayerMask(rows: mask.rows, cols: mask.cols, fill: false)
            for i in 0..<keep {
                let j = i + rng.below(size - i)
                positions.swapAt(i, j)
                next.kept[positions[i]] = true
            }
            return next
        }
    }

    /// 0-based rank of each value when sorted by value (decreasing or increasing), ties by position.
    static func ranks(_ values: [Double], descending: Bool) -> [Int] {
        let order = values.indices.sorted { a, b in
            let va = values[a], vb = values[b]
            if va != vb { return descending ? va > vb : va < vb }
            return a < b
        }
        var rank = [Int](repeating: 0, count: values.count)
        for (r, position) in order.enumerated() { rank[position] = r }
        return rank
    }

    /// Positions of the `count` lowest scores (NaN as +∞), ties by smaller position.
    static func lowest(_ scores: [Double], count: Int) -> ArraySlice<Int> {
        func key(_ s: Double) -> Double { s.isNaN ? .infinity : s }
        return scores.indices.sorted { a, b in
            let ka = key(scores[a]), kb = key(scores[b])
            return ka < kb || (ka == kb && a < b)
        }.prefix(count)
    }

    static func survivorList(_ mask: LayerMask) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(mask.kept.count)
        for i in mask.kept.indices where mask.kept[i] { result.append(i) }
        return result
    }

    private static func checkCriterionShapes(
        weights: [[Float]], initial: [[Float]]?, masks: [LayerMask], criterion: PruneCriterion
    ) {
        precondition(weights.count == masks.count, "Pruning: \(weights.count) weight layers but \(masks.count) masks")
        for l in masks.indices {
            precondition(
                weights[l].count == masks[l].kept.count,
                "Pruning: layer \(l) has \(weights[l].count) weights but its mask is \(masks[l].rows)x\(masks[l].cols)")
        }
        if criterion.usesInitialWeights {
            guard let initial else { preconditionFailure("Pruning: \(criterion.rawValue) needs the initial weights") }
            precondition(
                initial.map(\.count) == weights.map(\.count),
                "Pruning: initial weights \(initial.map(\.count)) do not match the trained ones \(weights.map(\.count))")
        }
    }
}

extension Reinit {
    /// Seed of `prune.criterion: random` when it produces the mask of round `round` (stream
    /// `prune-criterion-random/round<r>` of the init seed).
    public static func criterionRandomSeed(_ spec: TrialSpec, round: Int) -> Int {
        Seed.derive(spec.initSeed, "prune-criterion-random/round\(round)")
    }
}
