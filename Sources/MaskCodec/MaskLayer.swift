/// The pruning mask of one weight matrix: `true` where the weight is kept.
///
/// Layout is row-major `[in, out]` like the weight it masks: `kept[row * cols + col]`, a row is an input unit
/// and a column an output unit. `keptCount` is kept in step with `kept` (setting `kept` recounts, O(n);
/// `self[row, col] = …` updates it in O(1)). A value type; `Sendable`.
public struct MaskLayer: Sendable, Hashable {
    /// Number of rows (input units).
    public let rows: Int
    /// Number of columns (output units).
    public let cols: Int
    /// Row-major `rows * cols` flags; `true` = kept. Setting it (also `layer.kept[i] = x`) recounts `keptCount`
    /// in O(n); use `layer[row, col] = x` for single flags.
    public var kept: [Bool] {
        get { storage }
        set {
            precondition(
                newValue.count == rows * cols, "MaskLayer: kept has \(newValue.count) flags, shape needs \(rows * cols)"
            )
            storage = newValue
            keptCount = Self.count(newValue)
        }
    }
    private var storage: [Bool]
    /// Number of `true` flags in `kept`.
    public private(set) var keptCount: Int

    /// A layer from its flags.
    ///
    /// - Parameters:
    ///   - rows: input units, ≥ 0.
    ///   - cols: output units, ≥ 0.
    ///   - kept: row-major flags; `kept.count == rows * cols` (a programmer error otherwise).
    public init(rows: Int, cols: Int, kept: [Bool]) {
        precondition(rows >= 0 && cols >= 0, "MaskLayer: negative shape [\(rows), \(cols)]")
        precondition(kept.count == rows * cols, "MaskLayer: kept has \(kept.count) flags, shape needs \(rows * cols)")
        self.rows = rows
        self.cols = cols
        self.storage = kept
        self.keptCount = Self.count(kept)
    }

    /// A layer with every flag set to `fill` (`true`: dense, the mask of round 0).
    public init(rows: Int, cols: Int, fill: Bool = true) {
        self.init(rows: rows, cols: cols, kept: [Bool](repeating: fill, count: rows * cols))
    }

    /// Number of weights, `rows * cols`.
    public var count: Int { rows * cols }

    /// Fraction of weights kept, in [0, 1]; 0 for an empty layer.
    public var density: Double { count == 0 ? 0 : Double(keptCount) / Double(count) }

    /// The flag of weight `[row, col]`; setting it updates `keptCount` in O(1).
    public subscript(row: Int, col: Int) -> Bool {
        get { storage[row * cols + col] }
        set {
            precondition(row >= 0 && row < rows && col >= 0 && col < cols, "MaskLayer: [\(row), \(col)] out of shape")
            let index = row * cols + col
            guard storage[index] != newValue else { return }
            storage[index] = newValue
            keptCount += newValue ? 1 : -1
        }
    }

    /// The flags packed 8 per byte, LSB first: weight `i` is bit `i % 8` of byte `i / 8`; the last byte's unused
    /// high bits are 0. `ceil(count / 8)` bytes. The same order as `numpy.packbits(m.ravel(), bitorder="little")`.
    public func packedBits() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (count + 7) / 8)
        kept.withUnsafeBufferPointer { flags in
            out.withUnsafeMutableBufferPointer { BoolBits.pack(flags, into: $0) }
        }
        return out
    }

    /// The inverse of `packedBits()`.
    ///
    /// - Parameters:
    ///   - rows: input units.
    ///   - cols: output units.
    ///   - packed: at least `ceil(rows * cols / 8)` bytes, LSB first; extra bits are ignored.
    public init(rows: Int, cols: Int, packed: [UInt8]) {
        let total = rows * cols
        precondition(packed.count * 8 >= total, "MaskLayer: \(packed.count) packed bytes cannot hold \(total) bits")
        var flags = [Bool](repeating: false, count: total)
        packed.withUnsafeBufferPointer { bytes in
            flags.withUnsafeMutableBufferPointer { BoolBits.unpack(bytes, into: $0) }
        }
        self.init(rows: rows, cols: cols, kept: flags)
    }

    /// Whether every weight kept here is also kept in `other` (same shape required, else `false`).
    public func isSubset(of other: MaskLayer) -> Bool {
        guard rows == other.rows, cols == other.cols else { return false }
        return kept.withUnsafeBufferPointer { mine in
            other.kept.withUnsafeBufferPointer { BoolBits.isSubset(mine, of: $0) }
        }
    }

    static func count(_ flags: [Bool]) -> Int {
        flags.withUnsafeBufferPointer { BoolBits.count($0) }
    }
}
