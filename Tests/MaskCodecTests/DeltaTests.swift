import MaskCodec
import Testing

@Suite("Delta mode")
struct DeltaTests {
    static func ladder(seed: UInt64, rounds: Int) -> [Mask] {
        var rng = SplitMix64(seed: seed)
        var masks = [Mask(shapes: lenetShapes)]
        for _ in 0..<rounds {
            masks.append(Mask(layers: masks.last!.layers.enumerated().map { index, layer in
                pruneSurvivors(layer, fraction: index == 2 ? 0.1 : 0.2, rng: &rng)
            }))
        }
        return masks
    }

    @Test("missing parent is a typed error naming the parent")
    func missingParent() throws {
        let masks = Self.ladder(seed: 1, rounds: 2)
        let bytes = MaskFile.encode(masks[2], parent: masks[1])
        let error = try #require(throws: MaskFileError.self) { try MaskFile.decode(bytes) }
        #expect(error.code == .parentRequired)
        #expect(error.message.contains("parent mask required"))
    }

    @Test("wrong parent is a typed error")
    func wrongParent() throws {
        let masks = Self.ladder(seed: 2, rounds: 3)
        let bytes = MaskFile.encode(masks[3], parent: masks[2])
        let error = try #require(throws: MaskFileError.self) { try MaskFile.decode(bytes, parent: masks[1]) }
        #expect(error.code == .parentMismatch)
        let shapes = Mask(shapes: [(784, 300), (300, 100)])
        let other = try #require(throws: MaskFileError.self) { try MaskFile.decode(bytes, parent: shapes) }
        #expect(other.code == .parentMismatch)
    }

    @Test("a child that is not a subset falls back to self-contained layers and round-trips")
    func fallback() throws {
        let masks = Self.ladder(seed: 3, rounds: 2)
        var child = masks[2]
        // Regrow one weight of layer 2 that the parent pruned: layer 2 is no longer nested.
        let regrown = try #require(masks[1].layers[1].kept.firstIndex(of: false))
        child.layers[1][regrown / 100, regrown % 100] = true
        let bytes = MaskFile.encode(child, parent: masks[1])
        let info = try MaskFile.info(bytes)
        #expect(info.layers[0].codec == .deltaCount)
        #expect(info.layers[1].codec != .deltaCount)
        #expect(try MaskFile.decode(bytes, parent: masks[1]) == child)

        // Nothing nested at all: a self-contained file that needs no parent.
        let unrelated = Self.ladder(seed: 4, rounds: 2)[2]
        let plain = MaskFile.encode(unrelated, parent: masks[1])
        #expect(try MaskFile.info(plain).parentChecksum == nil)
        #expect(try MaskFile.decode(plain) == unrelated)
    }

    @Test("a parent of other shapes is ignored by the encoder")
    func otherShapes() throws {
        let masks = Self.ladder(seed: 5, rounds: 1)
        let bytes = MaskFile.encode(masks[1], parent: Mask(shapes: [(10, 10)]))
        #expect(try MaskFile.info(bytes).parentChecksum == nil)
        #expect(try MaskFile.decode(bytes) == masks[1])
    }

    @Test("decodeChain resolves a chain of delta files")
    func chain() throws {
        let masks = Self.ladder(seed: 6, rounds: 5)
        var files = [MaskFile.encode(masks[0])]
        for round in 1..<masks.count { files.append(MaskFile.encode(masks[round], parent: masks[round - 1])) }
        var depths: [Int] = []
        let decoded = try MaskFile.decodeChain(files[5]) { depth, checksum in
            depths.append(depth)
            return files[5 - depth]
        }
        #expect(decoded == masks[5])
        #expect(depths == [1, 2, 3, 4])  // round 1 of a dense round 0 is self-contained (delta saves nothing)

        let broken = try #require(throws: MaskFileError.self) {
            try MaskFile.decodeChain(files[5]) { depth, _ in depth < 3 ? files[5 - depth] : nil }
        }
        #expect(broken.code == .parentRequired)

        // A lookup that hands back the wrong round is caught by the checksum.
        let wrong = try #require(throws: MaskFileError.self) {
            try MaskFile.decodeChain(files[5]) { depth, _ in depth == 1 ? files[3] : files[5 - depth] }
        }
        #expect(wrong.code == .parentMismatch)

        let loop = try #require(throws: MaskFileError.self) {
            try MaskFile.decodeChain(files[5], maxDepth: 10) { _, _ in files[5] }
        }
        #expect(loop.code == .chainTooLong)
    }
}
