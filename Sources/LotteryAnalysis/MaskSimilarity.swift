public import MaskCodec

/// How much two masks of the same shape overlap, and how that compares with chance.
///
/// For masks A and B over N weights with kept counts k_A and k_B, two independent random masks of those
/// densities share on average `E = d_A · d_B · N = k_A · k_B / N` weights. `overlapOverChance = |A ∩ B| / E`
/// is 1 for unrelated masks and above 1 when the masks agree more than chance; `jaccardOverChance` compares
/// the Jaccard index `|A ∩ B| / |A ∪ B|` with `E / (k_A + k_B − E)`, the Jaccard index at chance overlap.
public struct MaskOverlap: Sendable, Hashable {
    /// Weights in the layer (or network).
    public var count: Int
    public var keptA: Int
    public var keptB: Int
    /// Weights kept in both masks.
    public var intersection: Int

    public init(count: Int, keptA: Int, keptB: Int, intersection: Int) {
        precondition(
            intersection <= min(keptA, keptB) && max(keptA, keptB) <= count, "MaskOverlap: inconsistent counts")
        self.count = count
        self.keptA = keptA
        self.keptB = keptB
        self.intersection = intersection
    }

    /// Weights kept in either mask.
    public var union: Int { keptA + keptB - intersection }
    /// `|A ∩ B| / |A ∪ B|`; 1 when both masks are empty.
    public var jaccard: Double { union == 0 ? 1 : Double(intersection) / Double(union) }
    /// `d_A · d_B · N`: the expected intersection of independent masks of the same densities.
    public var expectedIntersection: Double { count == 0 ? 0 : Double(keptA) * Double(keptB) / Double(count) }
    /// `|A ∩ B| / (d_A · d_B · N)`; `nil` when the expectation is 0 (an empty mask).
    public var overlapOverChance: Double? {
        expectedIntersection > 0 ? Double(intersection) / expectedIntersection : nil
    }
    /// The Jaccard index independent masks of these densities would have on average (to first order).
    public var chanceJaccard: Double? {
        let expected = expectedIntersection
        let union = Double(keptA + keptB) - expected
        return union > 0 && expected > 0 ? expected / union : nil
    }
    /// `jaccard / chanceJaccard`; `nil` when either mask is empty.
    public var jaccardOverChance: Double? { chanceJaccard.map { jaccard / $0 } }

    /// Sum of overlaps of disjoint parts (the layers of one network).
    public static func + (lhs: MaskOverlap, rhs: MaskOverlap) -> MaskOverlap {
        MaskOverlap(
            count: lhs.count + rhs.count, keptA: lhs.keptA + rhs.keptA, keptB: lhs.keptB + rhs.keptB,
            intersection: lhs.intersection + rhs.intersection)
    }
}

/// Mask similarity: overlaps of pairs and the consensus of many masks.
public enum MaskSimilarity {
    /// Overlap of two layers of the same shape (a programmer error otherwise).
    public static func overlap(_ a: MaskLayer, _ b: MaskLayer) -> MaskOverlap {
        overlap(BitLayer(a), BitLayer(b))
    }

    /// Per-layer overlaps and the whole-network overlap of two masks of the same shapes.
    ///
    /// - Returns: `layers[l]` for layer `l`, and `total`, their sum.
    public static func overlap(_ a: Mask, _ b: Mask) -> (layers: [MaskOverlap], total: MaskOverlap) {
        overlap(BitMask(a), BitMask(b))
    }

    static func overlap(_ a: BitMask, _ b: BitMask) -> (layers: [MaskOverlap], total: MaskOverlap) {
        precondition(a.layers.count == b.layers.count, "MaskSimilarity: \(a.layers.count) vs \(b.layers.count) layers")
        let layers = zip(a.layers, b.layers).map { overlap($0, $1) }
        return (layers, layers.reduce(MaskOverlap(count: 0, keptA: 0, keptB: 0, intersection: 0), +))
    }

    static func overlap(_ a: BitLayer, _ b: BitLayer) -> MaskOverlap {
        precondition(
            a.rows == b.rows && a.cols == b.cols,
            "MaskSimilarity: shapes [\(a.rows), \(a.cols)] vs [\(b.rows), \(b.cols)]")
        var shared = 0
        a.words.withUnsafeBufferPointer { x in
            b.words.withUnsafeBufferPointer { y in
                for index in x.indices { shared += (x[index] & y[index]).nonzeroBitCount }
            }
        }
        return MaskOverlap(count: a.rows * a.cols, keptA: a.kept, keptB: b.kept, intersection: shared)
    }

    /// Consensus of masks of one layer: for each weight, how many of the masks keep it.
    ///
    /// - Parameter layers: masks of the same `[rows, cols]` shape, e.g. one per seed.
    /// - Returns: `rows * cols` counts in `0...layers.count`, row-major.
    public static func consensusCounts(_ layers: [MaskLayer]) -> [Int] {
        guard let first = layers.first else { return [] }
        var counts = Array(repeating: 0, count: first.count)
        for layer in layers {
            precondition(
                layer.rows == first.rows && layer.cols == first.cols, "MaskSimilarity: consensus of different shapes")
            layer.kept.withUnsafeBufferPointer { flags in
                for index in flags.indices where flags[index] { counts[index] += 1 }
            }
        }
        return counts
    }

    /// Histogram of consensus counts: `result[k]` = weights kept by exactly `k` of the `n` masks.
    public static func consensusHistogram(_ layers: [MaskLayer]) -> [Int] {
        var histogram = Array(repeating: 0, count: layers.count + 1)
        for count in consensusCounts(layers) { histogram[count] += 1 }
        return histogram
    }
}

/// A layer's flags packed 64 per word, for fast intersections.
struct BitLayer: Sendable {
    let rows: Int
    let cols: Int
    let kept: Int
    let words: [UInt64]

    init(_ layer: MaskLayer) {
        rows = layer.rows
        cols = layer.cols
        kept = layer.keptCount
        var words = [UInt64](repeating: 0, count: (layer.count + 63) / 64)
        layer.kept.withUnsafeBufferPointer { flags in
            for index in flags.indices where flags[index] { words[index >> 6] |= 1 << UInt64(index & 63) }
        }
        self.words = words
    }
}

/// A whole mask packed as ``BitLayer``s.
struct BitMask: Sendable {
    let layers: [BitLayer]
    init(_ mask: Mask) { layers = mask.layers.map(BitLayer.init) }
}
