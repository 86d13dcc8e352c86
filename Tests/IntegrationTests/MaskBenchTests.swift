import Foundation
import Testing

/// `lth bench codec --masks DIR` on the masks a real conv trial wrote: every round measured, the delta files
/// close to their conditional bound.
@Suite struct MaskBenchTests {
    @Test func storedConvMasksAreMeasuredRoundByRound() throws {
        guard let bin = Binaries.require("storedConvMasksAreMeasuredRoundByRound") else { return }
        try withTemporaryDirectory { dir in
            try writeTinyMNIST(dir.appendingPathComponent("data"), train: 300, test: 100)
            let out = dir.appendingPathComponent("out")
            let settings = [
                "model.layers=[conv8,pool,32]", "prune.rounds=3", "train.iterations=20", "train.eval_every=10",
                "data.validation=50", "controls=[]",
            ].flatMap { ["--set", $0] }
            let train = try Child(
                bin.appendingPathComponent("lth"),
                ["train"] + settings + ["--data-dir", dir.appendingPathComponent("data").path, "--out", out.path],
                log: dir.appendingPathComponent("train.log"))
            #expect(train.wait(seconds: 240) == 0, "lth train: \(train.output)")
            let bench = try Child(
                bin.appendingPathComponent("lth"), ["bench", "codec", "--masks", out.path],
                log: dir.appendingPathComponent("bench.log"))
            #expect(bench.wait(seconds: 120) == 0, "lth bench codec: \(bench.output)")
            let lines = bench.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            let rounds = lines.filter { $0.count >= 5 && Int($0[0]) != nil && $0[1] == "1" }
            #expect(rounds.map { Int($0[0])! } == [0, 1, 2, 3], "\(bench.output)")
            #expect(bench.output.contains("9×8"), "the conv layer's shape is listed: \(bench.output)")
            // Rounds 2 and 3 are deltas; their files stay within 25 % of the conditional bound (header included).
            for row in rounds.suffix(2) {
                #expect(row[4] == "delta", "\(row)")
                let ratio = try #require(Double(row.last!))
                #expect(ratio >= 0.99 && ratio < 1.25, "file/cond \(ratio)")
            }
            let missing = try Child(
                bin.appendingPathComponent("lth"), ["bench", "codec", "--masks", dir.appendingPathComponent("nothing").path],
                log: dir.appendingPathComponent("missing.log"))
            #expect(missing.wait(seconds: 60) != 0)
            #expect(missing.output.contains("no masks folder"), "\(missing.output)")
        }
    }
}
