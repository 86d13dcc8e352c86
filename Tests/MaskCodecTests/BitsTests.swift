import MaskCodec
import Testing

/// The word-at-a-time loops behind `packedBits`, `keptCount` and `isSubset` against flag-by-flag definitions, on
/// lengths that are and are not multiples of 8 and on every density from empty to full.
@Suite struct BitsTests {
    static let lengths = [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 30_001]

    static func naivePacked(_ flags: [Bool]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (flags.count + 7) / 8)
        for (index, flag) in flags.enumerated() where flag { out[index / 8] |= 1 << UInt8(index % 8) }
        return out
    }

    @Test("packedBits and keptCount equal the flag-by-flag definitions", arguments: lengths)
    func packAndCount(length: Int) {
        var rng = SplitMix64(seed: UInt64(length) &+ 17)
        for density in [0.0, 0.03, 0.5, 0.97, 1.0] {
            let layer = randomLayer(rows: 1, cols: length, density: density, rng: &rng)
            #expect(layer.packedBits() == Self.naivePacked(layer.kept))
            #expect(layer.keptCount == layer.kept.filter { $0 }.count)
            #expect(MaskLayer(rows: 1, cols: length, packed: layer.packedBits()) == layer)
        }
    }

    @Test("isSubset finds a single extra flag anywhere", arguments: lengths.filter { $0 > 0 })
    func subset(length: Int) {
        var rng = SplitMix64(seed: UInt64(length) &+ 99)
        let parent = randomLayer(rows: 1, cols: length, density: 0.6, rng: &rng)
        let child = pruneSurvivors(parent, fraction: 0.3, rng: &rng)
        #expect(child.isSubset(of: parent))
        #expect(parent.isSubset(of: parent))
        // Every position the parent drops, set in the child alone, breaks the subset relation.
        for index in parent.kept.indices where !parent.kept[index] {
            var flags = child.kept
            flags[index] = true
            #expect(!MaskLayer(rows: 1, cols: length, kept: flags).isSubset(of: parent))
        }
    }
}
