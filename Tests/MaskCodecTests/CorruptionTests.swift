import MaskCodec
import Testing

@Suite("Corrupt and hostile input")
struct CorruptionTests {
    static func smallFile() -> (Mask, [UInt8]) {
        var rng = SplitMix64(seed: 99)
        let mask = Mask(layers: [
            randomLayer(rows: 12, cols: 10, density: 0.3, rng: &rng), randomLayer(rows: 10, cols: 3, density: 0.5, rng: &rng),
        ])
        return (mask, MaskFile.encode(mask))
    }

    @Test("every truncation is an error")
    func truncation() throws {
        let (_, bytes) = Self.smallFile()
        for length in 0..<bytes.count {
            let error = try #require(throws: MaskFileError.self) { try MaskFile.decode(Array(bytes.prefix(length))) }
            #expect(error.code == .truncated || error.code == .checksumMismatch || error.code == .badMagic)
        }
        let short = try #require(throws: MaskFileError.self) { try MaskFile.decode(Array(bytes.prefix(bytes.count - 1))) }
        #expect(short.code == .truncated)
        #expect(short.message.contains("truncated at byte \(bytes.count - 1) of \(bytes.count)"))
        let long = try #require(throws: MaskFileError.self) { try MaskFile.decode(bytes + [0]) }
        #expect(long.code == .malformed)
    }

    @Test("random byte flips are caught, never a crash", arguments: [false, true])
    func flips(delta: Bool) throws {
        let (mask, plain) = Self.smallFile()
        var rng = SplitMix64(seed: delta ? 0xF11D : 0xF11)
        let parent = Mask(layers: mask.layers.map { MaskLayer(rows: $0.rows, cols: $0.cols, fill: true) })
        let bytes = delta ? MaskFile.encode(mask, parent: parent) : plain
        var caught = 0
        for _ in 0..<3000 {
            var copy = bytes
            // 1 to 3 distinct bytes, each changed (so the copy always differs from the file).
            let flipCount = 1 + Int(rng.next() % 3)
            var positions = Set<Int>()
            while positions.count < flipCount { positions.insert(Int(rng.next() % UInt64(copy.count))) }
            for index in positions { copy[index] ^= UInt8(1 + rng.next() % 255) }
            #expect(copy != bytes)
            do {
                _ = try MaskFile.decode(copy, parent: parent)
            } catch {
                caught += 1
            }
        }
        // CRC-32 catches every error of ≤ 3 bit flips and misses others with probability 2^-32: all of them.
        #expect(caught == 3000)
    }

    @Test("random buffers, some with a valid magic and version, never crash")
    func fuzz() {
        var rng = SplitMix64(seed: 0xF022)
        var errors = 0
        let rounds = 5000
        for round in 0..<rounds {
            let length = Int(rng.next() % 80)
            var buffer = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0 {
                buffer = MaskFile.magic + [MaskFile.version, UInt8(rng.next() % 2), UInt8(rng.next() % 4)] + buffer
            }
            if round % 4 == 0 && buffer.count > 4 {
                // Give it a correct trailer so decoding goes past the CRC into the payloads.
                let body = Array(buffer.dropLast(4))
                let crc = CRC32.checksum(body)
                buffer = body + [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
            }
            do {
                _ = try MaskFile.info(buffer)
                _ = try MaskFile.decode(buffer, parent: Mask(layers: []))
            } catch {
                errors += 1
            }
        }
        #expect(errors > rounds * 9 / 10)
    }

    @Test("huge declared shapes are refused before allocating")
    func limits() throws {
        // One layer of 4294967295 × 1 weights: varint ff ff ff ff 0f.
        var body = MaskFile.magic + [MaskFile.version, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 0, 1, 0]
        let crc = CRC32.checksum(body)
        body += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
        let error = try #require(throws: MaskFileError.self) { try MaskFile.decode(body) }
        #expect(error.code == .limitExceeded)
        #expect(error.message.contains("4294967295"))

        let layers = try #require(throws: MaskFileError.self) { try MaskFile.info(MaskFile.magic + [1, 0, 200, 0, 0, 0, 0]) }
        #expect(layers.code == .limitExceeded)
        let magic = try #require(throws: MaskFileError.self) { try MaskFile.info(Array("PK\u{3}\u{4}rest".utf8)) }
        #expect(magic.code == .badMagic)
        let version = try #require(throws: MaskFileError.self) { try MaskFile.info(MaskFile.magic + [9, 0, 0, 0, 0, 0, 0]) }
        #expect(version.code == .unsupportedVersion)
    }

    @Test("a declared kept count that the payload does not match is detected")
    func keptCountMismatch() throws {
        let layer = MaskLayer(rows: 1, cols: 8, kept: [true, false, false, true, true, false, false, false])
        var bytes = MaskFile.encode(Mask(layers: [layer]), codecs: [.raw])
        // Header: "LTMK" 1 0 1 | rows 1 | cols 8 | kept 3 | codec 0 | size 1 — kept is byte 9.
        #expect(bytes[9] == 3)
        bytes[9] = 4
        let body = Array(bytes.dropLast(4))
        let crc = CRC32.checksum(body)
        bytes = body + [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
        let error = try #require(throws: MaskFileError.self) { try MaskFile.decode(bytes) }
        #expect(error.code == .keptCountMismatch)
        #expect(error.message.contains("layer 1"))
    }
}
