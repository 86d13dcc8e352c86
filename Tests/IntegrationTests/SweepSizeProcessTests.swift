import Foundation
import Testing

/// Issue 17, "Bad input and safety", as a user meets it: both executables say a sweep's size before they register
/// anything, and refuse a typo's millions of trials at once, in one line, leaving no results folder.
@Suite(.serialized) struct SweepSizeProcessTests {
    static func typo(_ dir: URL) throws -> URL {
        let rates = (1...1_000).map { "\(Double($0) * 1e-6)" }.joined(separator: ", ")
        let url = dir.appendingPathComponent("typo.yaml")
        try """
        name: typo
        base: {synthetic: {round_ms: 10}, train: {iterations: 1000}}
        grid:
          train.lr: [\(rates)]
          prune.rounds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        seeds: 1000

        """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func tenMillionTrialsAreRefusedBeforeAnythingIsWritten() throws {
        guard let bin = Binaries.require("tenMillionTrialsAreRefusedBeforeAnythingIsWritten") else { return }
        try withTemporaryDirectory { dir in
            let spec = try Self.typo(dir)
            for (binary, arguments) in [
                ("lth", ["sweep", spec.path, "--workers", "1"]),
                ("lth-coordinator", [spec.path, "--bind", "tcp://127.0.0.1:0"]),
            ] {
                let out = dir.appendingPathComponent("out-\(binary)")
                let child = try Child(
                    bin.appendingPathComponent(binary), arguments + ["--out", out.path],
                    log: dir.appendingPathComponent("\(binary).log"))
                let status = child.wait(seconds: 60)
                #expect(status == 1, "\(binary): \(child.output)")
                let lines = child.output.split(separator: "\n")
                #expect(lines.count == 1, "\(binary) says it in one line: \(child.output)")
                #expect(child.output.contains("10,000,000 trials"), "\(binary): \(child.output)")
                #expect(child.output.contains("--max-trials 10000000"), "\(binary): \(child.output)")
                #expect(!FileManager.default.fileExists(atPath: out.path), "\(binary) created \(out.path)")
            }
        }
    }

    @Test func aSweepSaysItsSizeBeforeItRuns() throws {
        guard let bin = Binaries.require("aSweepSaysItsSizeBeforeItRuns") else { return }
        try withTemporaryDirectory { dir in
            let spec = dir.appendingPathComponent("small.yaml")
            try "name: small\nbase: {synthetic: {round_ms: 10}, prune: {rounds: 1}}\nseeds: 3\n"
                .write(to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let refused = try Child(
                bin.appendingPathComponent("lth"), ["sweep", spec.path, "--out", out.path, "--max-trials", "2"],
                log: dir.appendingPathComponent("refused.log"))
            #expect(refused.wait(seconds: 60) == 1)
            #expect(refused.output.contains("limit of 2 trials"), "\(refused.output)")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                [
                    "sweep", spec.path, "--out", out.path, "--workers", "1", "--max-trials", "3", "--heartbeat-ms",
                    "200",
                ],
                log: dir.appendingPathComponent("sweep.log"))
            #expect(sweep.wait(seconds: 120) == 0, "\(sweep.output)")
            let first = sweep.output.split(separator: "\n").first.map(String.init) ?? ""
            #expect(first.hasPrefix("sweep 'small': 3 trials, 6 rounds, ~"), "first line: \(first)")
        }
    }
}
