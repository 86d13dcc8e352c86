import LotteryCore
import LotteryWire
import Testing

/// Seeded random and mutated frame sequences: decoding must return a message or a `WireError`, never trap.
@Suite struct FuzzTests {
    static let iterations = 6_000

    /// Valid encodings to mutate (the 1 MiB chunk sample is left out to keep the test fast).
    static let valid: [[[UInt8]]] = Fixtures.all.map { try! $0.encode() }
        .filter { frames in frames.allSatisfy { $0.count <= 64 << 10 } }

    static func randomBytes(_ rng: inout LotteryRNG, maxCount: Int) -> [UInt8] {
        (0..<rng.below(maxCount + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    /// Frames from scratch: sometimes a valid header, sometimes JSON-ish text, else random bytes.
    static func randomFrames(_ rng: inout LotteryRNG) -> [[UInt8]] {
        let alphabet = Array(#"{}[]":,-.0123456789abcdeflnrstu"#.utf8)
        return (0..<rng.below(Wire.maxFrames + 2)).map { index in
            switch (index, rng.below(3)) {
            case (0, 0): return Wire.header(MessageType.allCases[rng.below(MessageType.allCases.count)])
            case (0, 1): return Wire.magic + randomBytes(&rng, maxCount: 4)
            case (1, 0): return (0..<rng.below(80)).map { _ in alphabet[rng.below(alphabet.count)] }
            case (1, 1): return Array(#"{"blobs":[],"message":{}}"#.utf8)
            default: return randomBytes(&rng, maxCount: 40)
            }
        }
    }

    /// One to three mutations of a valid message.
    static func mutate(_ original: [[UInt8]], _ rng: inout LotteryRNG) -> [[UInt8]] {
        var frames = original
        for _ in 0..<(1 + rng.below(3)) {
            guard !frames.isEmpty else { return frames }
            let index = rng.below(frames.count)
            switch rng.below(8) {
            case 0:  // truncate a frame
                frames[index] = Array(frames[index].prefix(rng.below(frames[index].count + 1)))
            case 1:  // flip one bit
                if !frames[index].isEmpty {
                    let byte = rng.below(frames[index].count)
                    frames[index][byte] ^= UInt8(1) << UInt8(rng.below(8))
                }
            case 2:  // drop a frame
                frames.remove(at: index)
            case 3:  // duplicate a frame
                frames.insert(frames[index], at: rng.below(frames.count + 1))
            case 4:  // swap two frames
                frames.swapAt(index, rng.below(frames.count))
            case 5, 6:  // change a digit of the JSON body: often still valid JSON, sometimes a valid message
                if frames.count > 1 {
                    let digits = frames[1].indices.filter { (48...57).contains(frames[1][$0]) }
                    if !digits.isEmpty {
                        frames[1][digits[rng.below(digits.count)]] = UInt8(48 + rng.below(10))
                    }
                }
            default:  // append garbage
                frames[index] += randomBytes(&rng, maxCount: 16)
            }
        }
        return frames
    }

    static func name(_ kind: WireError.Kind) -> String {
        String(describing: kind).prefix { $0 != "(" }.description
    }

    @Test func randomAndMutatedFramesNeverTrap() throws {
        var rng = LotteryRNG(seed: 20_190_306, stream: "wire-fuzz")
        var decoded = 0
        var rejected = 0
        var kinds: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            let frames =
                iteration % 4 == 0
                ? Self.randomFrames(&rng) : Self.mutate(Self.valid[rng.below(Self.valid.count)], &rng)
            do {
                let message = try WireMessage.decode(frames)
                decoded += 1
                // Whatever decodes re-encodes, and decodes to the same value.
                #expect(try WireMessage.decode(try message.encode()) == message)
            } catch {
                rejected += 1
                kinds[Self.name(error.kind), default: 0] += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(decoded + rejected == Self.iterations)
        // The mutations reach deep into the decoder: many error kinds, and some mutants are valid messages.
        #expect(decoded > 100, "decoded \(decoded), rejected \(kinds)")
        #expect(kinds.count >= 10, "error kinds reached: \(kinds)")
        print("fuzz: \(decoded) decoded, \(rejected) rejected: \(kinds.sorted { $0.key < $1.key })")
    }

    @Test func routerSplitIsTotal() {
        var rng = LotteryRNG(seed: 7, stream: "router-fuzz")
        var split = 0
        for _ in 0..<2_000 {
            let frames = (0..<rng.below(6)).map { _ in Self.randomBytes(&rng, maxCount: 300) }
            if let (identity, payload) = try? Wire.splitRouterFrames(frames) {
                split += 1
                #expect(identity.count >= 1 && identity.count <= Wire.maxIdentityBytes)
                #expect(payload.count == frames.count - 1)
            }
        }
        #expect(split > 0)
    }
}
