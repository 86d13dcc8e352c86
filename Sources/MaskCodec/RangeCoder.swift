/// Binary range coder after LZMA's `rc` (Igor Pavlov, LZMA SDK `LzmaEnc.c` / `LzmaDec.c`): 32-bit range,
/// 33-bit `low` with a cached byte and a run of 0xFF bytes to propagate carries, renormalisation by whole
/// bytes once the range drops below 2^24.
///
/// Two changes from LZMA, both to save bytes on small payloads:
/// - the first output byte (always 0 in LZMA) is not written; the decoder starts without it;
/// - `finish()` picks the value in the final interval with the most trailing zero bytes and drops trailing
///   zero bytes; the decoder reads zeros past the end of its payload.
///
/// Probabilities are not LZMA's 11-bit adaptive shift counters (too coarse below ~1.5% density): every
/// model here passes the exact width of the zero branch, computed from counts with one 64-bit division.
struct RangeEncoder {
    private var low: UInt64 = 0
    private var range: UInt32 = 0xFFFF_FFFF
    private var cache: UInt8 = 0
    private var cacheSize = 1
    private var skipFirst = true
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Codes `bit` with probability of zero `zeros / total` (0 < zeros < total).
    @inline(__always)
    mutating func encode(_ bit: Bool, zeros: UInt64, total: UInt64) {
        let bound = zeroWidth(range: range, zeros: zeros, total: total)
        if bit {
            low &+= UInt64(bound)
            range &-= bound
        } else {
            range = bound
        }
        while range < (1 << 24) {
            range <<= 8
            shiftLow()
        }
    }

    private mutating func shiftLow() {
        if low < 0xFF00_0000 || low >= (1 << 32) {
            let carry = UInt8(truncatingIfNeeded: low >> 32)
            var pending = cache
            repeat {
                emit(pending &+ carry)
                pending = 0xFF
                cacheSize -= 1
            } while cacheSize != 0
            cache = UInt8(truncatingIfNeeded: low >> 24)
        }
        cacheSize += 1
        low = (low & 0x00FF_FFFF) << 8
    }

    @inline(__always)
    private mutating func emit(_ byte: UInt8) {
        if skipFirst {
            skipFirst = false  // LZMA's leading byte: always 0, never carried into.
        } else {
            bytes.append(byte)
        }
    }

    /// Flushes and returns the payload.
    mutating func finish() -> [UInt8] {
        // Any value in [low, low + range) decodes the same; take the one with most trailing zero bytes.
        let end = low + UInt64(range)
        for shift in stride(from: 32, through: 0, by: -8) {
            let mask: UInt64 = (1 << UInt64(shift)) - 1
            let candidate = (low + mask) & ~mask
            if candidate < end {
                low = candidate
                break
            }
        }
        for _ in 0..<5 { shiftLow() }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        return bytes
    }
}

/// The decoding half of `RangeEncoder`. Reads zeros past the end of its bytes; never traps on any input
/// (wrapping arithmetic; a corrupt stream only yields wrong bits, which the container's CRC and kept counts catch).
struct RangeDecoder {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var range: UInt32 = 0xFFFF_FFFF
    private var code: UInt32 = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        for _ in 0..<4 { code = (code << 8) | nextByte() }
    }

    @inline(__always)
    private mutating func nextByte() -> UInt32 {
        let byte: UInt32 = position < bytes.count ? UInt32(bytes[position]) : 0
        position &+= 1
        return byte
    }

    /// Decodes one bit coded with probability of zero `zeros / total` (0 < zeros < total).
    @inline(__always)
    mutating func decode(zeros: UInt64, total: UInt64) -> Bool {
        let bound = zeroWidth(range: range, zeros: zeros, total: total)
        let bit: Bool
        if code < bound {
            range = bound
            bit = false
        } else {
            code &-= bound
            range &-= bound
            bit = true
        }
        while range < (1 << 24) {
            range <<= 8
            code = (code << 8) | nextByte()
        }
        return bit
    }

    /// ``decode(zeros:total:)`` without a branch on the bit: faster where the bits are unpredictable (the count
    /// model on random-looking masks), where a mispredicted branch costs more than both arms; slower where a
    /// context model predicts them well.
    @inline(__always)
    mutating func decodeUnpredictable(zeros: UInt64, total: UInt64) -> Bool {
        let bound = zeroWidth(range: range, zeros: zeros, total: total)
        let bit = code >= bound
        let one = 0 &- UInt32(bit ? 1 : 0)
        code &-= bound & one
        range = (bound & ~one) | ((range &- bound) & one)
        while range < (1 << 24) {
            range <<= 8
            code = (code << 8) | nextByte()
        }
        return bit
    }
}

/// Width of the zero branch: `range * zeros / total`, clamped to [1, range − 1] so both symbols stay codable.
/// `range < 2^32` and `total ≤ 2^30` keep the product below 2^62.
@inline(__always)
func zeroWidth(range: UInt32, zeros: UInt64, total: UInt64) -> UInt32 {
    let width = (UInt64(range) &* zeros) / total
    return UInt32(truncatingIfNeeded: min(max(width, 1), UInt64(range) - 1))
}
