import Foundation
import LotteryAnalysis
import Testing

/// The report's view of issue 16's rows: supermask columns, one-shot branches at their own densities, and the
/// random-pruning control, from a hand-made rounds.csv (no masks: the report goes on without them).
@Suite struct ReportIssue16Tests {
    /// Two seeds of one iterative ticket (rounds 0–2), their prune-random and reinit-random controls of round 1 and 2,
    /// and one one-shot trial (round 0) with two density branches.
    static func roundsCSV() -> String {
        var lines = [
            "trial_id,seed,prune.schedule,branch.kind,branch.parent_trial,branch.parent_round,branch.index,round,density,test_acc_at_es,supermask_test_acc,supermask_signed_constant_test_acc"
        ]
        for seed in 0..<2 {
            let s = Double(seed) * 0.01
            lines += [
                "ti\(seed),\(seed),iterative,,,,,0,1.0,0.97,0.1\(seed),0.1\(seed)",
                "ti\(seed),\(seed),iterative,,,,,1,0.5,0.98,\(0.6 + s),\(0.7 + s)",
                "ti\(seed),\(seed),iterative,,,,,2,0.25,0.981,\(0.7 + s),\(0.8 + s)",
                "tp1\(seed),\(seed),iterative,prune-random,ti\(seed),1,0,0,0.5,0.975,0.09,0.1",
                "tp2\(seed),\(seed),iterative,prune-random,ti\(seed),2,0,0,0.25,0.97,0.1,0.11",
                "tr1\(seed),\(seed),iterative,reinit-random,ti\(seed),1,0,0,0.5,0.976,\(0.6 + s),\(0.7 + s)",
            ]
        }
        lines += [
            "to,0,oneshot,,,,,0,1.0,0.97,0.1,0.1",
            "to0,0,oneshot,oneshot,to,0,0,0,0.5,0.979,0.55,0.6",
            "to1,0,oneshot,oneshot,to,0,1,0,0.25,0.972,,",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func supermaskOneShotAndRandomPruningAppear() throws {
        try withTemporaryDirectory { directory in
            try Self.roundsCSV().write(toFile: directory + "/rounds.csv", atomically: true, encoding: .utf8)
            let folder = try ResultsFolder(directory: directory)
            // One-shot branches sit at their own density index + 1, not all at round 0.
            let oneShot = folder.rounds.filter { $0.trialID.hasPrefix("to") && $0.trialID != "to" }
            #expect(oneShot.map(\.maskRound) == [1, 2])
            #expect(folder.rounds.first { $0.trialID == "ti1" && $0.round == 2 }?.supermaskTestAcc == 0.71)
            #expect(folder.rounds.first { $0.trialID == "to1" }?.supermaskTestAcc == nil)
            let names = Set(folder.configurations.map(\.name))
            #expect(names.contains { $0.hasSuffix("random pruning (control)") })
            #expect(names.contains { $0.hasSuffix("one-shot pruning") })
            _ = try Report.write(directory: directory)
            let report = try scan(directory + "/report.html")
            let supermask = try #require(report.markers["chart-supermask"])
            // The iterative ticket's 3 rounds, the random-pruning control's 2, the one-shot trial's round 0 and its
            // one measured branch; random reinit controls are left out (they repeat their parent round).
            let ticket = try #require(supermask.first { $0.key.contains("iterative") && !$0.key.contains("control") })
            #expect(ticket.value == 3)
            #expect(supermask.first { $0.key.hasSuffix("random pruning (control)") }?.value == 2)
            #expect(supermask.first { $0.key.hasSuffix("one-shot pruning") }?.value == 1)
            #expect(!supermask.keys.contains { $0.contains("random reinit") })
            #expect(report.markers["chart-supermask-signed"] != nil)
            // The accuracy chart puts one-shot densities at two points too.
            #expect(report.markers["chart-accuracy"]?.first { $0.key.hasSuffix("one-shot pruning") }?.value == 2)
        }
    }

    @Test func noSupermaskColumnsNoSection() throws {
        try withTemporaryDirectory { directory in
            try "trial_id,seed,round,density,test_acc_at_es\nt0,0,0,1.0,0.97\nt0,0,1,0.5,0.98\n".write(
                toFile: directory + "/rounds.csv", atomically: true, encoding: .utf8)
            _ = try Report.write(directory: directory)
            let report = try scan(directory + "/report.html")
            #expect(report.markers["chart-supermask"] == nil && report.markers["chart-accuracy"] != nil)
        }
    }
}
