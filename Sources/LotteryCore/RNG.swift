import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit generator used to seed ``LotteryRNG`` and derive seeds.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// The project's random number generator: xoshiro256** (Blackman & Vigna 2018), seeded by SplitMix64.
///
/// Every random choice whose result is recorded (initialisation, split, batch order, random pruning,
/// random reinit) draws from one of these, seeded from the trial spec, so a trial is reproducible bit for
/// bit on any worker. The output sequence is fixed by this file: changing it changes every result.
/// A value type: copy it to fork a stream; not shared between threads.
public struct LotteryRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    /// A second Box–Muller output waiting to be returned.
    private var spareGaussian: Double?

    public init(seed: Int) {
        var seeder = SplitMix64(seed: UInt64(bitPattern: Int64(seed)))
        s0 = seeder.next()
        s1 = seeder.next()
        s2 = seeder.next()
        s3 = seeder.next()
    }

    /// A generator for the named stream of `seed` (``Seed/derive(_:_:)``).
    public init(seed: Int, stream: String) {
        self.init(seed: Seed.derive(seed, stream))
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<bound (Lemire's nearly-divisionless method, unbiased).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "LotteryRNG.below: bound must be positive, got \(bound)")
        return Int(truncatingIfNeeded: next(upperBound: UInt64(bound)))
    }

    /// Standard normal draw (Box–Muller in Double precision; deterministic given the state).
    public mutating func gaussian() -> Double {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        var u1 = uniform()
        while u1 <= .leastNormalMagnitude { u1 = uniform() }
        let u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareGaussian = radius * sin(angle)
        return radius * cos(angle)
    }

    /// Fisher–Yates shuffle driven by this generator (the standard library's shuffle is not guaranteed stable
    /// across releases).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = below(i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}
