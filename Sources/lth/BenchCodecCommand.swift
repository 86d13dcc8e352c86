import ArgumentParser
import Foundation
import MaskCodec

/// `lth bench codec`: mask file sizes against the entropy bounds and zlib, and coding throughput.
///
/// Measurements, never tests: every mask comes from a fixed seed, so sizes are reproducible; times are not.
struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Mask coding: bits/weight vs the order-0 and conditional bounds and zlib; Mbit/s.",
        discussion: """
            Random masks: LeNet-300-100 shapes, every flag an independent draw at the given density (seeded). \
            Nested masks: an IMP-like ladder (seeded): weight scores = pixel importance × unit strength × noise, \
            the outer ring of input pixels (whole rows of layer 1) scores 0; each round prunes the lowest 20% of \
            survivors in layers 1-2 and 10% in layer 3. zlib (level 9 on the packed bits) runs in python3 and is \
            skipped if python3 is absent.
            """
    )

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "Timed repetitions per measurement (median reported).")
    var repetitions = 15

    @Option(help: "Also write the nested ladder as DIR/round-NN.ltmask (round 0 self-contained, later rounds delta).")
    var writeLadder: String?

    @Option(
        help: ArgumentHelp(
            "Instead: measure the mask files of a results folder (DIR/masks/<trial>/round-NN.ltmask, any model), per round over its trials.",
            valueName: "DIR"))
    var masks: String?

    static let shapes: [(rows: Int, cols: Int)] = [(784, 300), (300, 100), (100, 10)]
    static let densities: [Double] = [0.8, 0.51, 0.21, 0.07, 0.036, 0.019]
    /// Ladder rounds whose overall density is closest to `densities` (0.8^r).
    static let rounds = [1, 3, 7, 12, 15, 18]

    struct RandomRow: Codable {
        var density: Double
        var fileBytes: Int
        var bitsPerWeight: Double
        var order0BitsPerWeight: Double
        var ratioToOrder0: Double
        var zlibBitsPerWeight: Double?
        var codecs: [String]
        var encodeMbitPerSecond: Double
        var decodeMbitPerSecond: Double
    }

    struct NestedRow: Codable {
        var round: Int
        var density: Double
        var selfContainedBitsPerWeight: Double
        var order0BitsPerWeight: Double
        var selfContainedToOrder0: Double
        var zlibBitsPerWeight: Double?
        var deltaBytes: Int
        var deltaBitsPerWeight: Double
        var conditionalBitsPerWeight: Double
        var deltaPayloadToConditional: Double
        var deltaFileToConditional: Double
        var selfContainedCodecs: [String]
        var deltaEncodeMbitPerSecond: Double
        var deltaDecodeMbitPerSecond: Double
    }

    struct Report: Codable {
        var weights: Int
        var zlib: String
        var random: [RandomRow]
        var nested: [NestedRow]
    }

    func run() throws {
        if let masks { return try measureStored(URL(fileURLWithPath: masks)) }
        let zlib = Zlib()
        var report = Report(weights: 266_200, zlib: zlib.note, random: [], nested: [])
        var rng = BenchRNG(seed: 0x5EED_C0DE)
        for density in Self.densities {
            let mask = Mask(
                layers: Self.shapes.map { shape in
                    MaskLayer(
                        rows: shape.rows, cols: shape.cols,
                        kept: (0..<(shape.rows * shape.cols)).map { _ in rng.unit() < density })
                })
            let bytes = MaskFile.encode(mask)
            let info = try MaskFile.info(bytes)
            let bound = order0(mask)
            let (encode, decode) = try throughput(mask, parent: nil)
            report.random.append(
                RandomRow(
                    density: mask.density, fileBytes: bytes.count,
                    bitsPerWeight: Double(bytes.count * 8) / Double(mask.count),
                    order0BitsPerWeight: bound / Double(mask.count),
                    ratioToOrder0: Double(bytes.count * 8) / bound,
                    zlibBitsPerWeight: zlib.bits(of: mask).map { $0 / Double(mask.count) },
                    codecs: info.layers.map(\.codec.description),
                    encodeMbitPerSecond: encode, decodeMbitPerSecond: decode))
        }
        let ladder = Self.ladder(rounds: Self.rounds.max()!, seed: 0x1A_DDE2)
        if let writeLadder {
            let folder = URL(fileURLWithPath: writeLadder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (round, mask) in ladder.enumerated() {
                let bytes = MaskFile.encode(mask, parent: round == 0 ? nil : ladder[round - 1])
                let name = "round-" + String(format: "%02d", round) + ".ltmask"
                try Data(bytes).write(to: folder.appendingPathComponent(name))
            }
        }
        for round in Self.rounds {
            let (parent, child) = (ladder[round - 1], ladder[round])
            let plain = MaskFile.encode(child)
            let delta = MaskFile.encode(child, parent: parent)
            let deltaInfo = try MaskFile.info(delta)
            let bound = order0(child)
            let conditional = zip(child.layers, parent.layers).reduce(0.0) { sum, pair in
                pair.1.keptCount == 0
                    ? sum
                    : sum + Double(pair.1.keptCount) * entropy(Double(pair.0.keptCount) / Double(pair.1.keptCount))
            }
            let payload = deltaInfo.layers.reduce(0) { $0 + $1.payloadBytes }
            let (encode, decode) = try throughput(child, parent: parent)
            report.nested.append(
                NestedRow(
                    round: round, density: child.density,
                    selfContainedBitsPerWeight: Double(plain.count * 8) / Double(child.count),
                    order0BitsPerWeight: bound / Double(child.count),
                    selfContainedToOrder0: Double(plain.count * 8) / bound,
                    zlibBitsPerWeight: zlib.bits(of: child).map { $0 / Double(child.count) },
                    deltaBytes: delta.count,
                    deltaBitsPerWeight: Double(delta.count * 8) / Double(child.count),
                    conditionalBitsPerWeight: conditional / Double(child.count),
                    deltaPayloadToConditional: Double(payload * 8) / conditional,
                    deltaFileToConditional: Double(delta.count * 8) / conditional,
                    selfContainedCodecs: try MaskFile.info(plain).layers.map(\.codec.description),
                    deltaEncodeMbitPerSecond: encode, deltaDecodeMbitPerSecond: decode))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printTables(report)
        }
    }

    func printTables(_ report: Report) {
        let f = { (value: Double, digits: Int) in String(format: "%.\(digits)f", value) }
        let z = { (value: Double?) in value.map { String(format: "%.4f", $0) } ?? "—" }
        print("Mask codec, LeNet-300-100 masks (\(report.weights) weights); sizes are whole files (header + CRC).")
        print("zlib: \(report.zlib)")
        print("")
        print("Random masks (independent flags). Packed bits = 1.0000 bits/weight.")
        print("density   zlib b/w  ours b/w  order-0 b/w  ours/order-0  codecs                 enc Mbit/s  dec Mbit/s")
        for row in report.random {
            print(
                pad(f(row.density * 100, 2) + "%", 8) + "  " + pad(z(row.zlibBitsPerWeight), 8) + "  "
                    + pad(f(row.bitsPerWeight, 4), 8) + "  " + pad(f(row.order0BitsPerWeight, 4), 11) + "  "
                    + pad(f(row.ratioToOrder0, 4), 12) + "  " + pad(row.codecs.joined(separator: ","), 21) + "  "
                    + pad(f(row.encodeMbitPerSecond, 0), 10) + "  " + f(row.decodeMbitPerSecond, 0))
        }
        print("")
        print("Nested IMP-like ladder: self-contained vs order-0, delta (given round r-1) vs the conditional bound.")
        print(
            "round  density   zlib b/w  self b/w  order-0 b/w  self/order-0  delta b/w  cond b/w  payload/cond  file/cond  delta enc/dec Mbit/s"
        )
        for row in report.nested {
            print(
                pad("\(row.round)", 5) + "  " + pad(f(row.density * 100, 2) + "%", 8) + "  "
                    + pad(z(row.zlibBitsPerWeight), 8)
                    + "  " + pad(f(row.selfContainedBitsPerWeight, 4), 8) + "  "
                    + pad(f(row.order0BitsPerWeight, 4), 11)
                    + "  " + pad(f(row.selfContainedToOrder0, 4), 12) + "  " + pad(f(row.deltaBitsPerWeight, 4), 9)
                    + "  " + pad(f(row.conditionalBitsPerWeight, 4), 8) + "  "
                    + pad(f(row.deltaPayloadToConditional, 4), 12)
                    + "  " + pad(f(row.deltaFileToConditional, 4), 9) + "  "
                    + f(row.deltaEncodeMbitPerSecond, 0) + " / " + f(row.deltaDecodeMbitPerSecond, 0))
        }
        print("")
        print(
            "self codecs per round: "
                + report.nested.map { "r\($0.round) " + $0.selfContainedCodecs.joined(separator: ",") }.joined(
                    separator: "; "))
        print(
            "Throughput = mask bits per second, median of \(repetitions) runs; encode tries every codec and keeps the smallest."
        )
    }

    /// Per round of the stored masks of a results folder: the files as written (round 0 self-contained, later
    /// rounds deltas against the round before) against the order-0 bound of the mask and, for deltas, the
    /// conditional bound given its parent; the medians over trials.
    func measureStored(_ folder: URL) throws {
        let root = folder.appendingPathComponent("masks")
        guard let trials = try? FileManager.default.contentsOfDirectory(atPath: root.path).sorted(), !trials.isEmpty else {
            throw MaskToolError(description: "\(root.path): no masks folder with trials (is \(folder.path) a results folder?)")
        }
        struct Row {
            var density: Double
            var weights: Int
            var fileBits: Double
            var order0: Double
            var conditional: Double?
            var selfContainedBits: Double
        }
        var rows: [Int: [Row]] = [:]
        var shapes = ""
        for trial in trials {
            let dir = root.appendingPathComponent(trial)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { $0.hasPrefix("round-") && $0.hasSuffix(".ltmask") }.sorted()
            var previous: Mask?
            for file in files {
                guard let round = Int(file.dropFirst(6).dropLast(7)) else { continue }
                let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(file)))
                let info = try MaskFile.info(bytes)
                guard let mask = try? MaskFile.decode(bytes, parent: info.parentChecksum == nil ? nil : previous) else {
                    previous = nil
                    continue
                }
                if shapes.isEmpty { shapes = mask.layers.map { "\($0.rows)×\($0.cols)" }.joined(separator: ", ") }
                var conditional: Double?
                if info.parentChecksum != nil, let parent = previous {
                    conditional = zip(mask.layers, parent.layers).reduce(0.0) { sum, pair in
                        pair.1.keptCount == 0
                            ? sum
                            : sum + Double(pair.1.keptCount) * entropy(Double(pair.0.keptCount) / Double(pair.1.keptCount))
                    }
                }
                rows[round, default: []].append(
                    Row(
                        density: mask.density, weights: mask.count, fileBits: Double(bytes.count * 8),
                        order0: order0(mask), conditional: conditional,
                        selfContainedBits: Double(MaskFile.encode(mask).count * 8)))
                previous = mask
            }
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let f = { (value: Double, digits: Int) in String(format: "%.\(digits)f", value) }
        print("Stored masks of \(folder.path): \(trials.count) trial(s); layers \(shapes).")
        print("Medians over trials; sizes are whole files (header + CRC); packed bits = 1.0000 bits/weight.")
        print("round  trials  density   file b/w  file kind   order-0 b/w  self b/w  self/order-0  cond b/w  file/cond")
        for round in rows.keys.sorted() {
            let r = rows[round]!
            let weights = Double(r[0].weights)
            let conditional = r.compactMap(\.conditional)
            print(
                pad("\(round)", 5) + "  " + pad("\(r.count)", 6) + "  " + pad(f(median(r.map(\.density)) * 100, 2) + "%", 8)
                    + "  " + pad(f(median(r.map(\.fileBits)) / weights, 4), 8) + "  "
                    + pad(conditional.isEmpty ? "self" : "delta", 10) + "  "
                    + pad(f(median(r.map(\.order0)) / weights, 4), 11) + "  "
                    + pad(f(median(r.map(\.selfContainedBits)) / weights, 4), 8) + "  "
                    + pad(
                        r.allSatisfy { $0.order0 >= 1 }
                            ? f(median(r.map { $0.selfContainedBits / $0.order0 }), 4) : "— (dense)", 12) + "  "
                    + (conditional.isEmpty
                        ? pad("—", 8) + "  —"
                        : pad(f(median(conditional) / weights, 4), 8) + "  "
                            + f(median(r.compactMap { row in row.conditional.map { row.fileBits / max($0, 1) } }), 4)))
        }
    }

    /// Median encode and decode throughput in Mbit/s of mask bits.
    func throughput(_ mask: Mask, parent: Mask?) throws -> (Double, Double) {
        let clock = ContinuousClock()
        var encodes: [Double] = []
        var decodes: [Double] = []
        var bytes: [UInt8] = []
        for _ in 0..<max(1, repetitions) {
            let start = clock.now
            bytes = MaskFile.encode(mask, parent: parent)
            let middle = clock.now
            let decoded = try MaskFile.decode(bytes, parent: parent)
            let end = clock.now
            guard decoded == mask else { throw MaskToolError(description: "bench: round trip failed") }
            encodes.append(seconds(middle - start))
            decodes.append(seconds(end - middle))
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let megabits = Double(mask.count) / 1e6
        return (megabits / median(encodes), megabits / median(decodes))
    }

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    func order0(_ mask: Mask) -> Double {
        mask.layers.reduce(0) { $0 + Double($1.count) * entropy($1.density) }
    }

    func entropy(_ p: Double) -> Double {
        p <= 0 || p >= 1 ? 0 : -p * log2(p) - (1 - p) * log2(1 - p)
    }

    /// The IMP-like nested ladder, rounds 0 (dense) … `rounds`.
    static func ladder(rounds: Int, seed: UInt64) -> [Mask] {
        var rng = BenchRNG(seed: seed)
        var scores: [[Double]] = []
        for (index, shape) in shapes.enumerated() {
            let rowStrength: [Double] = (0..<shape.rows).map { row in
                guard index == 0 else { return 0.5 + rng.unit() }
                let (y, x) = (Double(row / 28) - 13.5, Double(row % 28) - 13.5)
                if abs(y) > 12.5 || abs(x) > 12.5 { return 0 }  // outer ring of pixels: dead from round 1
                return exp(-(x * x + y * y) / (2 * 9 * 9))
            }
            let colStrength = (0..<shape.cols).map { _ in 0.2 + rng.unit() }
            scores.append(
                (0..<(shape.rows * shape.cols)).map { i in
                    rowStrength[i / shape.cols] * colStrength[i % shape.cols] * rng.unit()
                })
        }
        var masks = [Mask(shapes: shapes)]
        for _ in 0..<rounds {
            let previous = masks.last!
            masks.append(
                Mask(
                    layers: previous.layers.enumerated().map { index, layer in
                        let survivors = layer.kept.indices.filter { layer.kept[$0] }.sorted {
                            scores[index][$0] < scores[index][$1]
                        }
                        let prune = Int((Double(survivors.count) * (index == 2 ? 0.1 : 0.2)).rounded())
                        var flags = layer.kept
                        for i in survivors.prefix(prune) { flags[i] = false }
                        return MaskLayer(rows: layer.rows, cols: layer.cols, kept: flags)
                    }))
        }
        return masks
    }
}

/// zlib sizes of packed bits, measured by python3's zlib (level 9): the project links no zlib of its own.
struct Zlib {
    let available: Bool
    let note: String

    init() {
        let probe = Self.compressedSize([1, 2, 3])
        available = probe != nil
        note =
            available
            ? "python3 zlib.compress(level 9) of the concatenated packedBits() of all layers"
            : "python3 not found: zlib column skipped"
    }

    func bits(of mask: Mask) -> Double? {
        guard available else { return nil }
        return Self.compressedSize(mask.layers.flatMap { $0.packedBits() }).map { Double($0 * 8) }
    }

    static func compressedSize(_ bytes: [UInt8]) -> Int? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("lth-zlib-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try Data(bytes).write(to: file)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-c", "import sys,zlib;print(len(zlib.compress(open(sys.argv[1],'rb').read(),9)))",
                file.path,
            ]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { return nil }
            return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            return nil
        }
    }
}

/// SplitMix64: the bench's masks must not depend on the system generator.
struct BenchRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
