import MaskCodec
import Testing

/// Sizes against the information-theoretic bounds. Allowance: the bound is on payload bits; every layer may
/// add 1 byte of range-coder flush, and the header (magic … layer entries, ≤ 24 bytes here) and the 4-byte
/// CRC trailer are constant and not counted.
@Suite("Compression")
struct CompressionTests {
    @Test(
        "784×300 random masks within 2% of n·H(p)",
        arguments: [0.001, 0.0036, 0.019, 0.036, 0.07, 0.21, 0.51, 0.8, 0.93, 0.999]
    )
    func orderZero(density: Double) throws {
        var rng = SplitMix64(seed: 0xC0DEC + UInt64(density * 10_000))
        let layer = randomLayer(rows: 784, cols: 300, density: density, rng: &rng)
        let bytes = MaskFile.encode(Mask(layers: [layer]))
        let info = try MaskFile.info(bytes)
        let bound = Double(layer.count) * entropy(layer.density)
        let payloadBits = Double(payloadBytes(info) * 8)
        #expect(payloadBits <= bound * 1.02 + 8, "payload \(payloadBits) bits vs n·H(p) \(bound)")
        #expect(info.headerBytes <= 24)
        #expect(payloadBits < Double(layer.count), "beats bit-packing")
    }

    @Test("nested random ladder: delta within 5% of the conditional bound", arguments: [1, 3, 7, 12, 15, 18])
    func delta(round: Int) throws {
        var rng = SplitMix64(seed: 0xDE17A)
        var parent = Mask(shapes: lenetShapes)
        var child = parent
        for _ in 0..<round {
            parent = child
            child = Mask(layers: child.layers.enumerated().map { index, layer in
                pruneSurvivors(layer, fraction: index == 2 ? 0.1 : 0.2, rng: &rng)
            })
        }
        #expect(child.isSubset(of: parent))
        let bytes = MaskFile.encode(child, parent: parent)
        let info = try MaskFile.info(bytes)
        if round > 1 {
            #expect(info.parentChecksum == parent.checksum)
            #expect(info.layers.allSatisfy { $0.codec == .deltaCount })
        } else {
            // The parent is dense: coding only its kept positions saves nothing, so no parent is named.
            #expect(info.parentChecksum == nil)
        }
        let bound = zip(child.layers, parent.layers).reduce(0.0) { sum, pair in
            let (c, p) = pair
            return sum + (p.keptCount == 0 ? 0 : Double(p.keptCount) * entropy(Double(c.keptCount) / Double(p.keptCount)))
        }
        let payloadBits = Double(payloadBytes(info) * 8)
        #expect(payloadBits <= bound * 1.05 + 8 * 3, "delta payload \(payloadBits) bits vs conditional bound \(bound)")
        // Delta is never larger than the self-contained file, and much smaller once the parent is sparse.
        let selfContained = MaskFile.encode(child).count
        #expect(round == 1 ? bytes.count == selfContained : Double(bytes.count) < 0.8 * Double(selfContained))
        #expect(try MaskFile.decode(bytes, parent: parent) == child)
    }

    @Test("the context model goes below order-0 on masks with dead rows and columns")
    func structured() throws {
        // Dead border pixels (rows) and dead units (columns), random elsewhere at 30%.
        var rng = SplitMix64(seed: 0x5eed)
        var layer = MaskLayer(rows: 784, cols: 300, fill: false)
        for row in 0..<784 {
            let (y, x) = (row / 28, row % 28)
            if y < 4 || y >= 24 || x < 4 || x >= 24 { continue }
            for col in 0..<300 where col % 7 != 0 && rng.unit() < 0.3 { layer[row, col] = true }
        }
        let bytes = MaskFile.encode(Mask(layers: [layer]))
        let info = try MaskFile.info(bytes)
        let bound = Double(layer.count) * entropy(layer.density)
        #expect(info.layers[0].codec == .context)
        #expect(Double(payloadBytes(info) * 8) < 0.8 * bound)
        #expect(try MaskFile.decode(bytes) == Mask(layers: [layer]))
    }
}
