import Foundation
import TestPrerequisites
import Testing

/// `synthetic.round_ms` sweeps: no training and no dataset anywhere.
@Suite(.serialized) struct SyntheticSweepTests {
    /// `lth sweep` of a synthetic LeNet-300-100 spec with a `--data-dir` that does not exist: it completes, every
    /// trial × round is in rounds.csv once, with LeNet-sized masks on the trial's density ladder.
    @Test(.requires(.binaries)) func syntheticSweepNeedsNoDataDirectory() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let spec = dir.appendingPathComponent("synthetic.yaml")
            try """
            name: synthetic
            base:
              synthetic:
                round_ms: 20
              prune:
                rounds: 2
            grid:
              prune.strategy: [layerwise-magnitude, global-magnitude]
            seeds: 2

            """.write(to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let missing = dir.appendingPathComponent("no-such-data")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                [
                    "sweep", spec.path, "--workers", "2", "--out", out.path, "--data-dir", missing.path,
                    "--heartbeat-ms", "200",
                ],
                log: dir.appendingPathComponent("sweep.log"))
            let status = sweep.wait(seconds: 120)
            #expect(status == 0, "lth sweep: \(sweep.output)")
            #expect(!FileManager.default.fileExists(atPath: missing.path), "nothing was written into the data folder")
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 12)
            #expect(Set(rows.map { "\($0["trial_id"]!)#\($0["round"]!)" }).count == 12)
            for row in rows {
                let round = Int(row["round"] ?? "") ?? -1
                let density = Double(row["density"] ?? "") ?? -1
                // The paper's rates: 20% of hidden-layer and 10% of output weights per round (global: 20% overall).
                #expect(round >= 0 && round <= 2)
                if round == 0 { #expect(density == 1) } else { #expect(density < 1 && density > 0.5) }
                let mask = out.appendingPathComponent("masks/\(row["trial_id"]!)/round-0\(round).ltmask")
                #expect(FileManager.default.fileExists(atPath: mask.path), "\(mask.path)")
            }
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("cache/mnist").path))
        }
    }
}
