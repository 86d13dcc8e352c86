// TEMPORARY: private CRC-32 until branch `codec` (MaskCodec.CRC32) is merged; delete this file then.
enum WireCRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var state: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            state = table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8)
        }
        return ~state
    }

    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = (value & 1) != 0 ? (0xEDB8_8320 ^ (value >> 1)) : (value >> 1) }
        return value
    }
}
