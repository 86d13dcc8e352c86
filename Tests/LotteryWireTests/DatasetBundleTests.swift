import Foundation
import LotteryCore
import LotteryWire
import Testing

@Suite struct DatasetBundleTests {
    static func files(seed: Int) -> [(name: String, bytes: [UInt8])] {
        [
            ("train-images-idx3-ubyte", Fixtures.bytes(3000, seed: seed)),
            ("train-labels-idx1-ubyte", Fixtures.bytes(17, seed: seed + 1)),
            ("empty", []),
            ("t10k-images-idx3-ubyte", Fixtures.bytes(1, seed: seed + 2)),
        ]
    }

    @Test func roundTrip() throws {
        let files = Self.files(seed: 3)
        let packed = DatasetBundle.pack(files: files)
        let unpacked = try DatasetBundle.unpack(packed)
        #expect(unpacked.map(\.name) == files.map(\.name))
        #expect(unpacked.map(\.bytes) == files.map(\.bytes))
        #expect(Array(packed.prefix(4)) == Array("LTDB".utf8))
        #expect(DatasetBundle.checksum(packed) == SHA256.hexDigest(packed))
        #expect(DatasetBundle.checksum(packed).count == 64)
    }

    @Test func packIsDeterministic() {
        #expect(DatasetBundle.pack(files: Self.files(seed: 5)) == DatasetBundle.pack(files: Self.files(seed: 5)))
    }

    @Test(arguments: ["", ".", "..", "a/b", "../x", "a\\b", "x\u{0}y", "tab\there", String(repeating: "n", count: 256)])
    func invalidNames(_ name: String) {
        #expect(!DatasetBundle.isValidName(name))
    }

    @Test(arguments: ["mnist", "train-images-idx3-ubyte", "a..b", "ünïcode"])
    func validNames(_ name: String) {
        #expect(DatasetBundle.isValidName(name))
    }

    /// A bundle with a hand-written header, so hostile names and lengths can be tried.
    static func raw(
        magic: String = "LTDB", version: UInt16 = 1, entries: [(name: [UInt8], length: UInt64)], data: [UInt8]
    )
        -> [UInt8]
    {
        var out = Array(magic.utf8)
        out += [UInt8(version >> 8), UInt8(version & 0xFF), UInt8(entries.count >> 8), UInt8(entries.count & 0xFF)]
        for entry in entries {
            out.append(UInt8(entry.name.count))
            out += entry.name
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: entry.length >> UInt64(shift)))
            }
        }
        return out + data
    }

    @Test func hostileHeaders() {
        let good = Array("a".utf8)
        let cases: [[UInt8]] = [
            [],
            Array("LTD".utf8),
            Self.raw(magic: "XXXX", entries: [(good, 1)], data: [0]),
            Self.raw(version: 2, entries: [(good, 1)], data: [0]),
            Self.raw(entries: [], data: []),
            Self.raw(entries: Array(repeating: (good, 0), count: 17), data: []),
            Self.raw(entries: [(Array("../etc".utf8), 1)], data: [0]),
            Self.raw(entries: [(Array("a/b".utf8), 1)], data: [0]),
            Self.raw(entries: [(Array("..".utf8), 1)], data: [0]),
            Self.raw(entries: [([0xFF, 0xFE], 1)], data: [0]),
            Self.raw(entries: [([], 1)], data: [0]),
            Self.raw(entries: [(good, 1), (good, 1)], data: [0, 0]),
            Self.raw(entries: [(good, 2)], data: [0]),
            Self.raw(entries: [(good, 1)], data: [0, 0]),
            Self.raw(entries: [(good, UInt64.max)], data: [0]),
            Self.raw(entries: [(good, UInt64(1) << 40)], data: [0]),
            Self.raw(entries: [(good, UInt64(300 << 20)), (Array("b".utf8), UInt64(300 << 20))], data: [0]),
        ]
        for bytes in cases {
            #expect(throws: DatasetBundleError.self) { try DatasetBundle.unpack(bytes) }
        }
        // A name length byte that runs past the end.
        var truncated = Self.raw(entries: [(good, 1)], data: [0])
        truncated[8] = 200
        #expect(throws: DatasetBundleError.self) { try DatasetBundle.unpack(truncated) }
    }

    /// Every truncation and 2,000 seeded single-byte mutations of a real bundle unpack or throw, never trap.
    @Test func truncationsAndMutations() throws {
        let packed = DatasetBundle.pack(files: Self.files(seed: 9))
        for length in 0..<packed.count where length < 200 || length % 97 == 0 {
            #expect(throws: DatasetBundleError.self) { try DatasetBundle.unpack(Array(packed.prefix(length))) }
        }
        var rng = LotteryRNG(seed: 11, stream: "bundle-mutations")
        var decoded = 0
        for _ in 0..<2000 {
            var bytes = packed
            let header = 8 + 4 * (1 + 8) + 23 + 23 + 5 + 22
            let index = rng.below(header)
            bytes[index] = UInt8(truncatingIfNeeded: rng.next())
            if let files = try? DatasetBundle.unpack(bytes) {
                decoded += 1
                #expect(files.allSatisfy { DatasetBundle.isValidName($0.name) })
                #expect(files.reduce(0) { $0 + $1.bytes.count } <= bytes.count)
            }
        }
        #expect(decoded < 2000)
    }

    @Test func packDirectoryReadsIDXFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bundle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("tiny")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(throws: DatasetBundleError.self) { try DatasetBundle.packDirectory(root, dataset: "tiny") }
        for (index, name) in DatasetBundle.idxFileNames.enumerated() {
            try Data(Fixtures.bytes(100 + index, seed: index)).write(to: folder.appendingPathComponent(name))
        }
        let packed = try DatasetBundle.packDirectory(root, dataset: "tiny")
        let files = try DatasetBundle.unpack(packed)
        #expect(files.map(\.name) == DatasetBundle.idxFileNames)
        #expect(files.map(\.bytes.count) == [100, 101, 102, 103])
        let out = root.appendingPathComponent("out")
        let urls = try DatasetBundle.unpack(packed, into: out)
        #expect(try Data(contentsOf: urls[2]) == Data(Fixtures.bytes(102, seed: 2)))
        #expect(throws: DatasetBundleError.self) { try DatasetBundle.packDirectory(root, dataset: "../tiny") }
    }
}
