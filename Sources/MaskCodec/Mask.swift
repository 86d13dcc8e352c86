/// The pruning mask of a whole network: one `MaskLayer` per weight matrix, in forward order.
///
/// For LeNet-300-100 the layers are `[784, 300]`, `[300, 100]`, `[100, 10]` (266,200 flags).
/// A value type; `Sendable`.
public struct Mask: Sendable, Hashable {
    /// The layers, in forward order.
    public var layers: [MaskLayer]

    /// A mask from its layers.
    public init(layers: [MaskLayer]) {
        self.layers = layers
    }

    /// A mask with every flag of every `[rows, cols]` shape set to `fill`.
    public init(shapes: [(rows: Int, cols: Int)], fill: Bool = true) {
        self.layers = shapes.map { MaskLayer(rows: $0.rows, cols: $0.cols, fill: fill) }
    }

    /// Total number of weights.
    public var count: Int { layers.reduce(0) { $0 + $1.count } }

    /// Total number of kept weights.
    public var keptCount: Int { layers.reduce(0) { $0 + $1.keptCount } }

    /// Fraction of all weights kept; 0 for a mask without weights.
    public var density: Double { count == 0 ? 0 : Double(keptCount) / Double(count) }

    /// The `[rows, cols]` of each layer.
    public var shapes: [(rows: Int, cols: Int)] { layers.map { ($0.rows, $0.cols) } }

    /// 64-bit FNV-1a of the canonical content; the id by which a delta file names its parent.
    ///
    /// Canonical content: layer count as UInt32 LE; per layer rows and cols as UInt32 LE; then every layer's
    /// `packedBits()` in order. Two masks have the same checksum iff (up to FNV collisions) they have the same
    /// shapes and flags. O(weights) on each call: keep the value if you need it often.
    public var checksum: UInt64 {
        var hash = FNV1a64()
        hash.add(UInt32(truncatingIfNeeded: layers.count))
        for layer in layers {
            hash.add(UInt32(truncatingIfNeeded: layer.rows))
            hash.add(UInt32(truncatingIfNeeded: layer.cols))
        }
        for layer in layers {
            hash.add(bytes: layer.packedBits())
        }
        return hash.value
    }

    /// Whether every kept weight here is also kept in `other`, layer by layer (same shapes, else `false`).
    /// IMP masks are nested: round r is a subset of round r−1.
    public func isSubset(of other: Mask) -> Bool {
        guard layers.count == other.layers.count else { return false }
        return zip(layers, other.layers).allSatisfy { $0.isSubset(of: $1) }
    }
}

/// 64-bit FNV-1a (Fowler–Noll–Vo), offset basis 0xcbf29ce484222325, prime 0x100000001b3.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ word: UInt32) {
        add(bytes: [UInt8(word & 0xFF), UInt8((word >> 8) & 0xFF), UInt8((word >> 16) & 0xFF), UInt8(word >> 24)])
    }

    mutating func add(bytes: [UInt8]) {
        var hash = value
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
            }
        }
        value = hash
    }
}
