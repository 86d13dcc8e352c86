/// Pruning strategies of iterative magnitude pruning, as pure functions over kernel weights and masks.
///
/// Every strategy prunes only among the survivors of `masks` (so masks are nested round to round), only
/// kernel weights (biases are never pruned: they are not an input here), and is deterministic:
///
/// - **How many.** A layer (or, for `global-magnitude`, the whole network) with `remaining` kept weights
///   loses ``removalCount(rate:remaining:)`` = `round(rate × remaining)` of them, computed in `Double`
///   and rounded to nearest with ties away from zero (Swift's `rounded()`). Frankle & Carbin (2019)
///   prune "p% of the remaining weights" per round without saying how they round; open_lth uses
///   `ceil`. We round to nearest so that the densities match the paper's closed form `(1−p)^r` as
///   closely as integer counts allow.
/// - **Which.** Magnitude strategies remove the survivors with the smallest `|w|` (never the signed
///   value: a large negative weight is important). Ties in `|w|` are broken by position: the smaller
///   flat index (row-major, and for global pruning the earlier layer first) is removed first, so the
///   result never depends on a sort's stability. `random` removes the same per-layer counts as
///   `layerwise-magnitude`, chosen uniformly among survivors with a ``LotteryRNG`` seeded by the caller.
///
/// Weights are given per layer as the flat row-major `[in, out]` values of the kernel (the layer's
/// `weight.data`); `masks[l]` must have the same element count.
public enum Pruning {
    /// Number of weights removed from `remaining` survivors at `rate`: `round(rate × remaining)`,
    /// ties away from zero, never more than `remaining`.
    ///
    /// - Parameters:
    ///   - rate: fraction of the remaining weights to remove, in [0, 1].
    ///   - remaining: kept weights before this round's pruning.
    public static func removalCount(rate: Double, remaining: Int) -> Int {
        precondition(rate >= 0 && rate <= 1, "Pruning.removalCount: rate \(rate) is not in [0, 1]")
        precondition(remaining >= 0, "Pruning.removalCount: negative remaining count \(remaining)")
        return min(remaining, Int((rate * Double(remaining)).rounded()))
    }

    /// Kept counts per layer after one round of layer-wise pruning (what `layerwise-magnitude` and
    /// `random` produce): `kept[l] − removalCount(rate: rates[l], remaining: kept[l])`.
    public static func keptAfterRound(kept: [Int], rates: [Double]) -> [Int] {
        precondition(kept.count == rates.count, "Pruning.keptAfterRound: \(kept.count) layers but \(rates.count) rates")
        return zip(kept, rates).map { $0 - removalCount(rate: $1, remaining: $0) }
    }

    /// The next mask of `strategy`, pruned among the survivors of `masks`.
    ///
    /// - Parameters:
    ///   - strategy: which strategy.
    ///   - weights: per layer, the flat `[in, out]` kernel values the magnitudes are read from (the round's
    ///     trained weights). Ignored by `random`.
    ///   - masks: the masks the weights were trained with.
    ///   - rates: one per layer (`layerwise-magnitude`, `random`) or one in total (`global-magnitude`).
    ///   - randomSeed: seed of the stream `random` draws from (derive it from the trial seed and round).
    /// - Returns: new masks, each a subset of the corresponding old one.
    public static func prune(
        strategy: PruneStrategy, weights: [[Float]], masks: [LayerMask], rates: [Double], randomSeed: Int
    ) -> [LayerMask] {
        switch strategy {
        case .layerwiseMagnitude: return layerwiseMagnitude(weights: weights, masks: masks, rates: rates)
        case .globalMagnitude:
            precondition(rates.count == 1, "Pruning.prune: global-magnitude takes one rate, got \(rates.count)")
            return globalMagnitude(weights: weights, masks: masks, rate: rates[0])
        case .random: return random(masks: masks, rates: rates, seed: randomSeed)
        }
    }

    /// Layer-wise magnitude pruning (Frankle & Carbin 2019, §2): in each layer `l`, removes the
    /// `round(rates[l] × kept_l)` survivors with the smallest `|w|`, ties by smaller index first.
    public static func layerwiseMagnitude(weights: [[Float]], masks: [LayerMask], rates: [Double]) -> [LayerMask] {
        checkShapes(weights: weights, masks: masks)
        precondition(
            rates.count == masks.count, "Pruning.layerwiseMagnitude: \(masks.count) layers but \(rates.count) rates")
        return masks.indices.map { l in
            let survivors = survivorIndices(masks[l])
            let count = removalCount(rate: rates[l], remaining: survivors.count)
            var next = masks[l]
            guard count > 0 else { return next }
            let w = weights[l]
            let order = survivors.sorted { a, b in
                let ma = magnitude(w[a]), mb = magnitude(w[b])
                return ma < mb || (ma == mb && a < b)
            }
            for index in order.prefix(count) { next.kept[index] = false }
            return next
        }
    }

    /// Global magnitude pruning: one `|w|` threshold over the survivors of all layers, removing exactly
    /// `round(rate × total kept)` of them (ties at the threshold by earlier layer, then smaller index).
    public static func globalMagnitude(weights: [[Float]], masks: [LayerMask], rate: Double) -> [LayerMask] {
        checkShapes(weights: weights, masks: masks)
        // (layer, index) pairs of every survivor, ordered by (|w|, layer, index).
        var survivors: [(layer: Int, index: Int, magnitude: Float)] = []
        survivors.reserveCapacity(masks.reduce(0) { $0 + $1.keptCount })
        for l in masks.indices {
            for index in survivorIndices(masks[l]) { survivors.append((l, index, magnitude(weights[l][index]))) }
        }
        let count = removalCount(rate: rate, remaining: survivors.count)
        var next = masks
        guard count > 0 else { return next }
        survivors.sort { a, b in
            if a.magnitude != b.magnitude { return a.magnitude < b.magnitude }
            return a.layer != b.layer ? a.layer < b.layer : a.index < b.index
        }
        for victim in survivors.prefix(count) { next[victim.layer].kept[victim.index] = false }
        return next
    }

    /// Random pruning (control): the same per-layer counts as ``layerwiseMagnitude(weights:masks:rates:)``,
    /// each layer's victims drawn uniformly without replacement among its survivors.
    ///
    /// Layers draw in order from one ``LotteryRNG`` seeded with `seed` (a partial Fisher–Yates shuffle of
    /// the survivor indices), so the result is a function of (`masks`, `rates`, `seed`).
    public static func random(masks: [LayerMask], rates: [Double], seed: Int) -> [LayerMask] {
        precondition(rates.count == masks.count, "Pruning.random: \(masks.count) layers but \(rates.count) rates")
        var rng = LotteryRNG(seed: seed)
        return masks.indices.map { l in
            var survivors = survivorIndices(masks[l])
            let count = removalCount(rate: rates[l], remaining: survivors.count)
            var next = masks[l]
            for i in 0..<count {
                let j = i + rng.below(survivors.count - i)
                survivors.swapAt(i, j)
                next.kept[survivors[i]] = false
            }
            return next
        }
    }

    /// Kept kernel weights over all layers divided by all kernel weights.
    public static func density(_ masks: [LayerMask]) -> Double {
        let total = masks.reduce(0) { $0 + $1.kept.count }
        return total == 0 ? 0 : Double(masks.reduce(0) { $0 + $1.keptCount }) / Double(total)
    }

    /// Whether every weight kept by `inner` is also kept by `outer` (masks nested), shapes equal.
    public static func isNested(_ inner: [LayerMask], in outer: [LayerMask]) -> Bool {
        guard inner.count == outer.count else { return false }
        for (a, b) in zip(inner, outer) {
            guard a.rows == b.rows, a.cols == b.cols else { return false }
            for i in a.kept.indices where a.kept[i] && !b.kept[i] { return false }
        }
        return true
    }

    /// `|w|`, with NaN (a diverged run) ordered as the largest magnitude so the sort stays a strict weak order.
    private static func magnitude(_ w: Float) -> Float { w.isNaN ? .infinity : abs(w) }

    private static func survivorIndices(_ mask: LayerMask) -> [Int] {
        var result: [Int] = []
        result.reserveCapacity(mask.kept.count)
        for i in mask.kept.indices where mask.kept[i] { result.append(i) }
        return result
    }

    private static func checkShapes(weights: [[Float]], masks: [LayerMask]) {
        precondition(weights.count == masks.count, "Pruning: \(weights.count) weight layers but \(masks.count) masks")
        for l in masks.indices {
            precondition(
                weights[l].count == masks[l].kept.count,
                "Pruning: layer \(l) has \(weights[l].count) weights but its mask is \(masks[l].rows)x\(masks[l].cols)")
        }
    }
}
