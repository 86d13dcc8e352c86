import Foundation
import MaskCodec

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator so every test mask is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// A layer whose flags are independent Bernoulli(density) draws.
func randomLayer(rows: Int, cols: Int, density: Double, rng: inout SplitMix64) -> MaskLayer {
    var flags = [Bool](repeating: false, count: rows * cols)
    for index in flags.indices { flags[index] = rng.unit() < density }
    return MaskLayer(rows: rows, cols: cols, kept: flags)
}

/// Keeps a uniformly random `1 - fraction` of `layer`'s kept weights (rounded), like one IMP round on random
/// magnitudes.
func pruneSurvivors(_ layer: MaskLayer, fraction: Double, rng: inout SplitMix64) -> MaskLayer {
    var survivors = layer.kept.indices.filter { layer.kept[$0] }
    survivors.shuffle(using: &rng)
    let remove = Int((Double(survivors.count) * fraction).rounded())
    var flags = layer.kept
    for index in survivors.prefix(remove) { flags[index] = false }
    return MaskLayer(rows: layer.rows, cols: layer.cols, kept: flags)
}

let lenetShapes: [(rows: Int, cols: Int)] = [(784, 300), (300, 100), (100, 10)]

/// Binary entropy in bits.
func entropy(_ p: Double) -> Double {
    if p <= 0 || p >= 1 { return 0 }
    return -p * log2(p) - (1 - p) * log2(1 - p)
}

/// Payload bytes of a file (everything but header and trailer).
func payloadBytes(_ info: MaskFileInfo) -> Int { info.layers.reduce(0) { $0 + $1.payloadBytes } }
