import Foundation
import MaskCodec
import TestPrerequisites
import Testing

@Suite("NumPy export and mask files on disk")
struct NPYAndFileTests {
    @Test func npyHeaderAndDataAreNumpyFormat() throws {
        let layer = MaskLayer(rows: 3, cols: 5, kept: (0..<15).map { $0 % 3 == 0 })
        let bytes = layer.npyBytes()
        #expect(Array(bytes[0..<6]) == [0x93] + Array("NUMPY".utf8))
        #expect(bytes[6] == 1 && bytes[7] == 0)
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<10 + headerLength], as: UTF8.self)
        #expect(header.contains("'descr': '|b1'") && header.contains("'shape': (3, 5)") && header.hasSuffix("\n"))
        #expect(Array(bytes[(10 + headerLength)...]) == layer.kept.map { $0 ? 1 : 0 })
    }

    @Test(.requires(.numpy)) func numpyLoadsTheExport() throws {
        try Prerequisite.numpy.check()
        let layer = MaskLayer(rows: 4, cols: 7, kept: (0..<28).map { ($0 * 7) % 5 < 2 })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lth-npy-\(UUID().uuidString).npy")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(layer.npyBytes()).write(to: url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script =
            "import numpy as n,sys;a=n.load(sys.argv[1]);print(a.dtype,a.shape,''.join('1' if v else '0' for v in a.ravel()))"
        process.arguments = ["python3", "-c", script, url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try #require(process.terminationStatus == 0, "python3 failed to load the .npy file with numpy")
        let bits = layer.kept.map { $0 ? "1" : "0" }.joined()
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "bool (4, 7) \(bits)")
    }

    @Test func loadResolvesDeltaFilesThroughTheirFolder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lth-masks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Nested masks with an irregular pattern (a hash of index and round), so a delta beats self-contained.
        var masks = [Mask(layers: [MaskLayer(rows: 40, cols: 50, fill: true)])]
        for round in 1...3 {
            var next = masks[round - 1]
            for index in 0..<next.layers[0].count where next.layers[0].kept[index] {
                var z = UInt64(index &* 1_000 &+ round) &* 0x9e37_79b9_7f4a_7c15
                z = (z ^ (z >> 29)) &* 0xbf58_476d_1ce4_e5b9
                if (z ^ (z >> 32)) % 10 < 3 { next.layers[0].kept[index] = false }
            }
            masks.append(next)
        }
        for (round, mask) in masks.enumerated() {
            let bytes = MaskFile.encode(mask, parent: round == 0 ? nil : masks[round - 1])
            try Data(bytes).write(to: folder.appendingPathComponent(MaskFile.roundFileName(round)))
        }
        #expect(try MaskFile.info(Array(Data(contentsOf: folder.appendingPathComponent("round-03.ltmask")))).isDelta)
        let loaded = try MaskFile.load(path: folder.appendingPathComponent("round-03.ltmask").path)
        #expect(loaded == masks[3])
        try FileManager.default.removeItem(at: folder.appendingPathComponent("round-01.ltmask"))
        #expect(throws: MaskFileError.self) {
            try MaskFile.load(path: folder.appendingPathComponent("round-03.ltmask").path)
        }
    }
}
