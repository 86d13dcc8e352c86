/// CRC-32 (IEEE 802.3 / zlib / PNG polynomial 0xEDB88320, reflected, init and final XOR 0xFFFFFFFF).
///
/// The same checksum as `zlib.crc32` and `cksum -o 3`, so a mask file's trailer can be checked from Python.
/// `LotteryWire` reuses it for frame checksums. Thread-safe: the table is an immutable global.
public enum CRC32 {
    /// The CRC-32 of `bytes`; `CRC32.checksum(Array("123456789".utf8)) == 0xCBF43926`.
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        update(0, with: bytes)
    }

    /// Continues a CRC-32 over more bytes: `update(checksum(a), with: b) == checksum(a + b)`.
    ///
    /// - Parameters:
    ///   - crc: the checksum of the bytes so far (0 for none).
    ///   - bytes: the next bytes.
    /// - Returns: the checksum of the bytes so far followed by `bytes`.
    public static func update(_ crc: UInt32, with bytes: some Collection<UInt8>) -> UInt32 {
        var state = ~crc
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            state = run(state, buffer)
        }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { state = run(state, $0) }
        }
        return ~state
    }

    /// Slicing-by-8 (Intel's "slice by 8", as in zlib's braided CRC): eight table lookups per 8 bytes instead of
    /// one per byte, about five times faster on the coordinator's hot path (every blob is checked twice).
    private static func run(_ start: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var state = start
        let raw = UnsafeRawBufferPointer(buffer)
        tables.withUnsafeBufferPointer { t in
            var index = 0
            while index + 8 <= raw.count {
                let one = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt32.self)) ^ state
                let two = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index + 4, as: UInt32.self))
                state =
                    t[7 * 256 + Int(one & 0xFF)] ^ t[6 * 256 + Int((one >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((one >> 16) & 0xFF)] ^ t[4 * 256 + Int(one >> 24)]
                    ^ t[3 * 256 + Int(two & 0xFF)] ^ t[2 * 256 + Int((two >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((two >> 16) & 0xFF)] ^ t[Int(two >> 24)]
                index += 8
            }
            while index < raw.count {
                state = t[Int((state ^ UInt32(raw[index])) & 0xFF)] ^ (state >> 8)
                index += 1
            }
        }
        return state
    }

    /// Eight 256-entry tables, concatenated: table 0 is the byte-wise CRC table, table k advances table k−1 by
    /// one more zero byte.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var value = UInt32(index)
            for _ in 0..<8 {
                value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1)
            }
            tables[index] = value
        }
        for k in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(k - 1) * 256 + index]
                tables[k * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()
}
