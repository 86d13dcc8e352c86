/// What a mask file's header says, read without decoding the payloads (and without the parent).
public struct MaskFileInfo: Sendable, Hashable {
    /// One layer's header entry.
    public struct Layer: Sendable, Hashable {
        public let rows: Int
        public let cols: Int
        /// Declared number of kept weights.
        public let keptCount: Int
        public let codec: LayerCodec
        /// Bytes of this layer's coded payload.
        public let payloadBytes: Int

        /// `rows * cols`.
        public var count: Int { rows * cols }
        /// Fraction kept; 0 for an empty layer.
        public var density: Double { count == 0 ? 0 : Double(keptCount) / Double(count) }
    }

    /// Format version (1).
    public let version: Int
    /// The checksum (`Mask.checksum`) of the parent mask for a delta file; `nil` for a self-contained one.
    public let parentChecksum: UInt64?
    public let layers: [Layer]
    /// Size of the whole file in bytes.
    public let byteCount: Int
    /// Bytes before the first payload (magic … last layer entry); the trailer adds 4 more.
    public let headerBytes: Int

    /// Whether decoding needs the parent mask.
    public var isDelta: Bool { parentChecksum != nil }
    /// Total weights.
    public var count: Int { layers.reduce(0) { $0 + $1.count } }
    /// Total kept weights.
    public var keptCount: Int { layers.reduce(0) { $0 + $1.keptCount } }
    /// Fraction of all weights kept.
    public var density: Double { count == 0 ? 0 : Double(keptCount) / Double(count) }
    /// File bits per weight (whole file, header and trailer included).
    public var bitsPerWeight: Double { count == 0 ? 0 : Double(byteCount * 8) / Double(count) }
}
