import MaskCodec
import Testing

@Suite("Round trip")
struct RoundTripTests {
    static let shapes: [(Int, Int)] = [(0, 0), (1, 1), (1, 37), (53, 1), (784, 300)]
    static let densities: [Double] = [0, 0.001, 0.019, 0.07, 0.5, 0.93, 0.999, 1]

    @Test("seeded random layers of every shape and density", arguments: 0..<shapes.count, densities)
    func randomLayers(shapeIndex: Int, density: Double) throws {
        let (rows, cols) = Self.shapes[shapeIndex]
        var rng = SplitMix64(seed: UInt64(shapeIndex * 1000) + UInt64(density * 1000))
        let mask = Mask(layers: [randomLayer(rows: rows, cols: cols, density: density, rng: &rng)])
        let bytes = MaskFile.encode(mask)
        #expect(try MaskFile.decode(bytes) == mask)
    }

    @Test("every codec round-trips on its own", arguments: LayerCodec.allCases.filter { !$0.needsParent })
    func forcedCodec(codec: LayerCodec) throws {
        var rng = SplitMix64(seed: 7)
        for (rows, cols) in Self.shapes {
            for density in Self.densities {
                let mask = Mask(layers: [randomLayer(rows: rows, cols: cols, density: density, rng: &rng)])
                let bytes = MaskFile.encode(mask, codecs: [codec])
                let info = try MaskFile.info(bytes)
                #expect(info.layers[0].codec == codec)
                #expect(try MaskFile.decode(bytes) == mask, "codec \(codec) [\(rows), \(cols)] at \(density)")
            }
        }
    }

    @Test("all-zero and all-one layers cost no payload", arguments: [false, true])
    func constantLayers(fill: Bool) throws {
        let mask = Mask(shapes: lenetShapes, fill: fill)
        let bytes = MaskFile.encode(mask)
        #expect(payloadBytes(try MaskFile.info(bytes)) == 0)
        let decoded = try MaskFile.decode(bytes)
        #expect(decoded == mask)
        #expect(decoded.keptCount == (fill ? 266_200 : 0))
    }

    @Test("a mask without layers, and empty layers among others")
    func emptyLayers() throws {
        let none = Mask(layers: [])
        #expect(try MaskFile.decode(MaskFile.encode(none)) == none)
        var rng = SplitMix64(seed: 11)
        let mixed = Mask(layers: [
            MaskLayer(rows: 0, cols: 5, fill: true), randomLayer(rows: 9, cols: 4, density: 0.3, rng: &rng),
            MaskLayer(rows: 3, cols: 0, fill: false),
        ])
        let decoded = try MaskFile.decode(MaskFile.encode(mixed))
        #expect(decoded == mixed)
        #expect(decoded.layers.map(\.rows) == [0, 9, 3])
        #expect(decoded.layers.map(\.cols) == [5, 4, 0])
    }

    @Test("a single kept weight anywhere in a layer", arguments: [0, 1, 299, 300, 235_199])
    func singleBit(position: Int) throws {
        var layer = MaskLayer(rows: 784, cols: 300, fill: false)
        layer[position / 300, position % 300] = true
        #expect(layer.keptCount == 1)
        let mask = Mask(layers: [layer])
        let bytes = MaskFile.encode(mask)
        #expect(bytes.count < 24)
        #expect(try MaskFile.decode(bytes) == mask)
    }

    @Test("multi-layer LeNet masks at several densities", arguments: [0.8, 0.21, 0.019])
    func multiLayer(density: Double) throws {
        var rng = SplitMix64(seed: 0x1E7)
        let mask = Mask(
            layers: lenetShapes.map { randomLayer(rows: $0.rows, cols: $0.cols, density: density, rng: &rng) })
        let bytes = MaskFile.encode(mask)
        let info = try MaskFile.info(bytes)
        #expect(info.layers.map(\.keptCount) == mask.layers.map(\.keptCount))
        #expect(info.count == 266_200)
        #expect(info.parentChecksum == nil)
        #expect(try MaskFile.decode(bytes) == mask)
    }

    @Test("packedBits is LSB first and inverts")
    func packedBits() {
        let layer = MaskLayer(
            rows: 1, cols: 10, kept: [true, false, true, true, false, false, false, false, false, true])
        #expect(layer.packedBits() == [0b0000_1101, 0b0000_0010])
        #expect(MaskLayer(rows: 1, cols: 10, packed: layer.packedBits()) == layer)
    }

    @Test("CRC-32 matches the standard check value")
    func crc() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        let data = Array("hello, lottery".utf8)
        #expect(CRC32.update(CRC32.checksum(data.prefix(5)), with: data.dropFirst(5)) == CRC32.checksum(data))
        // Longer inputs (8-byte blocks plus a tail), against Python's zlib.crc32 of the same bytes.
        let long = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 * 31 + 7) }
        #expect(CRC32.checksum(long) == 0x1734_0963)
        #expect(CRC32.checksum(long.prefix(13)) == 0xB64E_57AC)
        #expect(CRC32.checksum(long.prefix(64)) == 0x84C8_6088)
        for split in [1, 7, 8, 9, 4096, 99_999] {
            #expect(CRC32.update(CRC32.checksum(long.prefix(split)), with: long.dropFirst(split)) == 0x1734_0963)
        }
    }

    @Test("checksum depends on shapes and flags")
    func maskChecksum() {
        let a = Mask(layers: [MaskLayer(rows: 2, cols: 3, fill: true)])
        let b = Mask(layers: [MaskLayer(rows: 3, cols: 2, fill: true)])
        var c = a
        c.layers[0][1, 2] = false
        #expect(a.checksum != b.checksum)
        #expect(a.checksum != c.checksum)
        #expect(a.checksum == Mask(layers: [MaskLayer(rows: 2, cols: 3, fill: true)]).checksum)
    }
}
