import Foundation
import TestPrerequisites
import Testing

/// `scripts/chaos` (docs/faults.md, "Chaos run") checked end to end in well under 90 s: 20 s of faults on a real
/// sweep, with `--corrupt 1`, which changes one number and one mask of the first sweep after it ran. The script must
/// then report exactly those two differences and exit 1, and everything else as 0: so a passing figure is one the
/// comparison could have failed. Network namespaces are used where they can be made (bed `lthcheck`, never the
/// one of the other tests or of a chaos run), else loopback.
@Suite(.serialized) struct ChaosScriptTests {
    @Test(.requires(.binaries)) func chaosRunFindsOneCorruptedNumberAndMaskAndNothingElse() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let work = dir.appendingPathComponent("chaos")
            let child = try Child(
                packageRoot.appendingPathComponent("scripts/chaos"),
                ["--minutes", "0.34", "--seed", "7", "--bed", "lthcheck", "--corrupt", "1", "--keep", work.path],
                log: dir.appendingPathComponent("chaos.log"), environment: ["LTH_BIN": bin.path])
            let status = child.wait(seconds: 300)
            let output = child.output
            if status == nil {
                // A chaos sweep that never ends. Found 2026-12-05 (CI of stop 20): a worker whose trial ended while it
                // was disconnected said READY before that trial's TRIAL_DONE, was capped to no credit and never got
                // the trial another worker's death put back (fixed in the worker; the in-memory replay is in
                // CoordinatorStateMachineTests, aWorkerWhoseTrialEndedWhileDisconnected…).
                // Kill what the script left running, then fail with its output.
                let leftovers = Process()
                leftovers.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
                leftovers.arguments = ["-f", work.path]
                try? leftovers.run()
                leftovers.waitUntilExit()
                Issue.record("scripts/chaos did not finish in 300 s (a sweep that never ends): \(output)")
                return
            }
            #expect(status == 1, "the corrupted run must fail: \(output)")
            func figure(_ name: String) -> Int? {
                for line in output.split(separator: "\n") where line.hasPrefix("  \(name) ") {
                    return Int(line.dropFirst(2 + name.count).split(separator: " ").first ?? "")
                }
                return nil
            }
            #expect(figure("numbers that differ") == 1, "\(output)")
            #expect(figure("mask files that differ") == 1, "\(output)")
            for name in [
                "rounds lost", "rounds not in the reference", "rounds recorded twice", "rounds recomputed",
                "trials not done", "sweeps not ending with exit 0",
            ] {
                #expect(figure(name) == 0, "\(name): \(output)")
            }
            #expect((figure("rounds compared") ?? 0) >= 60, "at least one whole sweep: \(output)")
            let injected = ["kill -9 worker", "kill -9 coordinator", "SIGSTOP/SIGCONT worker", "hostile client"]
                .compactMap(figure).reduce(0, +)
            #expect(injected >= 3, "faults were injected: \(output)")
            #expect(output.contains("chaos: FAIL"), "\(output)")
        }
    }
}
