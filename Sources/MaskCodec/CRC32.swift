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

    private static func run(_ start: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var state = start
        table.withUnsafeBufferPointer { table in
            for byte in buffer {
                state = table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8)
            }
        }
        return state
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1)
        }
        return value
    }
}
