/// Word-at-a-time helpers over `[Bool]` storage (one byte per flag, always 0 or 1): eight flags per 64-bit load,
/// no branch per flag (a branch on random flags mispredicts about once in four).
enum BoolBits {
    /// Number of `true` flags.
    @inline(__always)
    static func count(_ flags: UnsafeBufferPointer<Bool>) -> Int {
        let raw = UnsafeRawBufferPointer(flags)
        var total = 0
        var index = 0
        while index + 8 <= raw.count {
            // Bytes are 0 or 1: the sum of the eight lands in the top byte (at most 8, no carry past it).
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            total &+= Int(truncatingIfNeeded: (word &* 0x0101_0101_0101_0101) >> 56)
            index += 8
        }
        while index < raw.count {
            total &+= Int(raw[index])
            index += 1
        }
        return total
    }

    /// Packs flags 8 per byte, LSB first, into `bytes` (at least `ceil(flags.count / 8)` bytes; the rest of the
    /// last byte is left 0).
    @inline(__always)
    static func pack(_ flags: UnsafeBufferPointer<Bool>, into bytes: UnsafeMutableBufferPointer<UInt8>) {
        let raw = UnsafeRawBufferPointer(flags)
        var index = 0
        var out = 0
        while index + 8 <= raw.count {
            // Byte i (0/1) sits at bit 8i; the multiplier moves it to bit 56 + i, and no two partial products
            // collide in bits 56...63.
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            bytes[out] = UInt8(truncatingIfNeeded: (word &* 0x0102_0408_1020_4080) >> 56)
            index += 8
            out += 1
        }
        if index < raw.count {
            var last: UInt8 = 0
            var bit: UInt8 = 0
            while index < raw.count {
                last |= raw[index] << bit
                bit += 1
                index += 1
            }
            bytes[out] = last
        }
    }

    /// Unpacks `flags.count` flags from `bytes` (LSB first; at least `ceil(count / 8)` bytes), eight per byte
    /// without a branch: the byte is copied into all eight lanes, lane i keeps bit i, and adding 0x7F sets a
    /// lane's top bit exactly when that bit was set.
    @inline(__always)
    static func unpack(_ bytes: UnsafeBufferPointer<UInt8>, into flags: UnsafeMutableBufferPointer<Bool>) {
        let raw = UnsafeMutableRawBufferPointer(flags)
        var index = 0
        var byte = 0
        while index + 8 <= raw.count {
            let spread = (UInt64(bytes[byte]) &* 0x0101_0101_0101_0101) & 0x8040_2010_0804_0201
            let lanes = ((spread &+ 0x7F7F_7F7F_7F7F_7F7F) >> 7) & 0x0101_0101_0101_0101
            raw.storeBytes(of: lanes, toByteOffset: index, as: UInt64.self)
            index += 8
            byte += 1
        }
        while index < raw.count {
            raw[index] = (bytes[index >> 3] >> UInt8(index & 7)) & 1
            index += 1
        }
    }

    /// Whether no flag is set in `mine` that is not set in `theirs` (same count).
    @inline(__always)
    static func isSubset(_ mine: UnsafeBufferPointer<Bool>, of theirs: UnsafeBufferPointer<Bool>) -> Bool {
        let a = UnsafeRawBufferPointer(mine)
        let b = UnsafeRawBufferPointer(theirs)
        var extra: UInt64 = 0
        var index = 0
        while index + 8 <= a.count {
            extra |= a.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                & ~b.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < a.count {
            extra |= UInt64(a[index] & ~b[index])
            index += 1
        }
        return extra == 0
    }
}
