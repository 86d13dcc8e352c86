/// How one layer's flags are stored in a mask file (the codec id byte of the layer's header entry).
///
/// See docs/mask-format.md for the models. The encoder tries every codec allowed and keeps the smallest.
public enum LayerCodec: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `MaskLayer.packedBits()`: 1 bit per weight, LSB first.
    case raw = 0
    /// Range coded with the exact-count model: P(kept) = kept left / weights left. Costs log2 C(n, k) bits
    /// (below the order-0 bound n·H(k/n)) plus ≤ 1 flush byte.
    case count = 1
    /// Range coded with an adaptive context model (bit above, bit left, the row's and the column's kept rate
    /// so far): goes below order-0 on real IMP masks with dead input pixels (rows) and dead units (columns).
    case context = 2
    /// Delta: only the positions kept in the parent layer, exact-count model: log2 C(m, k) bits for k of the
    /// parent's m kept weights. Needs the child to be a subset of the parent in this layer.
    case deltaCount = 3

    /// Whether decoding needs the parent mask.
    public var needsParent: Bool { self == .deltaCount }

    public var description: String {
        switch self {
        case .raw: "raw"
        case .count: "count"
        case .context: "context"
        case .deltaCount: "delta-count"
        }
    }
}

// MARK: - Models (internal)

/// Exact-count (enumerative) model over a flat sequence: P(1) = onesLeft / left. Once the rest is determined
/// (no ones left, or only ones left) nothing more is coded.
enum CountModel {
    static func encode(_ flags: UnsafeBufferPointer<Bool>, ones: Int) -> [UInt8] {
        var encoder = RangeEncoder(capacity: 64)
        var onesLeft = UInt64(ones)
        var left = UInt64(flags.count)
        var index = 0
        while onesLeft != 0 && onesLeft != left {
            let bit = flags[index]
            encoder.encode(bit, zeros: left - onesLeft, total: left)
            if bit { onesLeft -= 1 }
            left -= 1
            index += 1
        }
        return encoder.finish()
    }

    /// Fills `flags` (all of it) with `ones` ones decoded from `payload`.
    static func decode(_ payload: UnsafeBufferPointer<UInt8>, into flags: UnsafeMutableBufferPointer<Bool>, ones: Int) {
        var decoder = RangeDecoder(payload)
        var onesLeft = UInt64(ones)
        var left = UInt64(flags.count)
        var index = 0
        while onesLeft != 0 && onesLeft != left {
            let bit = decoder.decodeUnpredictable(zeros: left - onesLeft, total: left)
            flags[index] = bit
            onesLeft &-= bit ? 1 : 0
            left -= 1
            index += 1
        }
        let rest = onesLeft != 0
        while index < flags.count {
            flags[index] = rest
            index += 1
        }
    }
}

/// Adaptive context model for a `[rows, cols]` layer, row-major. Context of weight (r, c), 100 in all:
/// - bit above (r−1, c) and bit left (r, c−1), 0 outside the matrix;
/// - row class: c < 8 → 0; no kept so far in the row → 1; else the row's kept rate so far vs the layer's
///   declared density k/n: < ½ → 2, < 1½ → 3, else 4;
/// - column class: the same with the column's kept rate over rows 0..<r (r < 8 → 0).
/// Each context counts its zeros and ones and predicts with the Krichevsky–Trofimov estimator
/// P(0) = (zeros + ½) / (total + 1). As in `CountModel`, coding stops once the rest of the layer is determined.
struct ContextModel {
    static let contextCount = 100
    let rows: Int
    let cols: Int
    let ones: Int

    private func rateClass(_ seen: Int, of positions: Int) -> Int {
        if positions < 8 { return 0 }
        if seen == 0 { return 1 }
        let n = rows * cols
        let actual = 2 * seen * n
        let expected = positions * ones
        if actual < expected { return 2 }
        if actual < 3 * expected { return 3 }
        return 4
    }

    func encode(_ flags: UnsafeBufferPointer<Bool>) -> [UInt8] {
        var encoder = RangeEncoder(capacity: 64)
        _ = run(flags.count) { index, _, zeros, total in
            let bit = flags[index]
            encoder.encode(bit, zeros: zeros, total: total)
            return bit
        }
        return encoder.finish()
    }

    func decode(_ payload: UnsafeBufferPointer<UInt8>, into flags: UnsafeMutableBufferPointer<Bool>) {
        var decoder = RangeDecoder(payload)
        let done = run(flags.count) { index, _, zeros, total in
            let bit = decoder.decode(zeros: zeros, total: total)
            flags[index] = bit
            return bit
        }
        // The undetermined part ended with every remaining flag known: all ones or all zeros.
        var index = done.index
        while index < flags.count {
            flags[index] = done.restAreOnes
            index += 1
        }
    }

    /// Walks the layer in row-major order, calling `step` with (index, context, zero weight, total weight) for
    /// every coded flag; `step` returns the flag. Stops once the rest is determined.
    @inline(__always)
    private func run(
        _ count: Int,
        _ step: (_ index: Int, _ context: Int, _ zeros: UInt64, _ total: UInt64) -> Bool
    ) -> (index: Int, restAreOnes: Bool) {
        var zeroCounts = [UInt32](repeating: 0, count: Self.contextCount)
        var oneCounts = [UInt32](repeating: 0, count: Self.contextCount)
        var colOnes = [Int](repeating: 0, count: cols)
        var above = [Bool](repeating: false, count: cols)  // the previous row's flags
        var onesLeft = ones
        var left = count
        var index = 0
        return zeroCounts.withUnsafeMutableBufferPointer { zeroCounts in
            oneCounts.withUnsafeMutableBufferPointer { oneCounts in
                colOnes.withUnsafeMutableBufferPointer { colOnes in
                    above.withUnsafeMutableBufferPointer { above in
                        for row in 0..<rows {
                            var rowOnes = 0
                            var leftBit = false
                            for col in 0..<cols {
                                if onesLeft == 0 || onesLeft == left {
                                    return (index, onesLeft != 0)
                                }
                                let neighbours = (above[col] ? 2 : 0) + (leftBit ? 1 : 0)
                                let context =
                                    (neighbours * 5 + rateClass(rowOnes, of: col)) * 5
                                    + rateClass(colOnes[col], of: row)
                                let zeros = UInt64(zeroCounts[context])
                                let total = zeros + UInt64(oneCounts[context])
                                let bit = step(index, context, 2 * zeros + 1, 2 * total + 2)
                                if bit {
                                    oneCounts[context] += 1
                                    rowOnes += 1
                                    colOnes[col] += 1
                                    onesLeft -= 1
                                } else {
                                    zeroCounts[context] += 1
                                }
                                above[col] = bit
                                leftBit = bit
                                left -= 1
                                index += 1
                            }
                        }
                        return (index, onesLeft != 0)
                    }
                }
            }
        }
    }
}
