import Foundation
import TestPrerequisites
import Testing

/// Issue 17, "Extend a sweep", as a researcher does it: the same `lth sweep` command with more seeds, then with a
/// changed base value, on the same folder.
@Suite(.serialized) struct SpecExtensionProcessTests {
    static func spec(seeds: Int, rounds: Int, controls: String = "") -> String {
        "name: grow\nbase: {synthetic: {round_ms: 20}, prune: {rounds: \(rounds)}\(controls)}\nseeds: \(seeds)\n"
    }

    static func sweep(_ bin: URL, _ dir: URL, _ text: String, log: String) throws -> (Int32?, String) {
        let spec = dir.appendingPathComponent("grow.yaml")
        try text.write(to: spec, atomically: true, encoding: .utf8)
        let child = try Child(
            bin.appendingPathComponent("lth"),
            [
                "sweep", spec.path, "--out", dir.appendingPathComponent("out").path, "--workers", "1", "--heartbeat-ms",
                "200",
            ],
            log: dir.appendingPathComponent(log))
        return (child.wait(seconds: 120), child.output)
    }

    static func started(_ output: String) -> Int {
        output.split(separator: "\n").filter { $0.contains("] trial ") && $0.contains(" started on ") }.count
    }

    @Test(.requires(.binaries)) func moreSeedsRunOnlyTheNewTrialsAndAChangedValueIsSaidPlainly() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let (first, firstOutput) = try Self.sweep(bin, dir, Self.spec(seeds: 2, rounds: 1), log: "v1.log")
            #expect(first == 0, "\(firstOutput)")
            #expect(Self.started(firstOutput) == 2, "\(firstOutput)")

            let (second, output) = try Self.sweep(bin, dir, Self.spec(seeds: 3, rounds: 1), log: "v2.log")
            #expect(second == 0, "\(output)")
            #expect(
                output.contains(
                    "extending the sweep (spec version 2, saved as sweep.v2.yaml): 2 trial(s) reused with their recorded rounds, 1 added; only the added ones run"
                ), "\(output)")
            #expect(Self.started(output) == 1, "only the added trial runs: \(output)")
            let out = dir.appendingPathComponent("out")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("sweep.v2.yaml").path))
            let trials = try readCSV(out.appendingPathComponent("trials.csv"))
            #expect(trials.map { $0["spec_version"] ?? "?" } == ["1", "1", "2"])
            #expect(trials.allSatisfy { $0["status"] == "done" })
            // lth status counts the rounds of the newest spec: 3 trials × rounds 0…1, all recorded.
            #expect(try Self.rounds(bin, dir) == [6, 6])

            let (third, changed) = try Self.sweep(bin, dir, Self.spec(seeds: 3, rounds: 2), log: "v3.log")
            #expect(third == 0, "\(changed)")
            #expect(
                changed.contains("this spec changes trials that already ran: 3 trial(s) of earlier versions"),
                "\(changed)")
            #expect(changed.contains("changed: prune.rounds 1 → 2"), "\(changed)")
            #expect(Self.started(changed) == 3, "\(changed)")
            let all = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(all.filter { $0["spec_version"] == "3" }.count == 3 * 3)  // 3 trials × rounds 0…2
            #expect(all.filter { $0["spec_version"] != "3" }.count == 3 * 2)  // the earlier rows stay as they were
            // The newest spec's 9 rounds and the 6 the earlier ones left: nothing is missing.
            #expect(try Self.rounds(bin, dir) == [15, 15])
        }
    }

    /// `rounds_recorded` and `rounds_expected` of `lth status --json DIR/out`.
    static func rounds(_ bin: URL, _ dir: URL) throws -> [Int] {
        let (code, json) = try WatchSweepProcessTests.lth(
            bin, ["status", dir.appendingPathComponent("out").path, "--json"], in: dir, name: "status.json")
        #expect(code == 0, "\(json)")
        let status = WatchSweepProcessTests.json(json) ?? [:]
        return [status["rounds_recorded"] as? Int ?? -1, status["rounds_expected"] as? Int ?? -1]
    }

    /// Adding `controls` to the base is an addition too: the trials keep their ids and rows, and only the control
    /// branches run, for every round already recorded; adding a second control kind later runs only its branches.
    @Test(.requires(.binaries)) func addingControlsRunsOnlyTheNewBranchesOfTheTrialsAlreadyRun() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("out")
            let (first, firstOutput) = try Self.sweep(bin, dir, Self.spec(seeds: 2, rounds: 2), log: "v1.log")
            #expect(first == 0 && Self.started(firstOutput) == 2, "\(firstOutput)")
            let before = try readCSV(out.appendingPathComponent("rounds.csv"))

            let (second, output) = try Self.sweep(
                bin, dir, Self.spec(seeds: 2, rounds: 2, controls: ", controls: [reinit-random]"), log: "v2.log")
            #expect(second == 0, "\(output)")
            #expect(
                output.contains(
                    "extending the sweep (spec version 2, saved as sweep.v2.yaml): 2 trial(s) reused with their recorded rounds, 2 of them with new control branches, 0 added; only the added trials and control branches run"
                ), "\(output)")
            // 2 trials × pruned rounds 1…2 × 1 control: 4 branch trials started, no top-level trial again.
            let started = output.split(separator: "\n").filter {
                $0.contains("] trial ") && $0.contains(" started on ")
            }
            #expect(started.count == 4 && started.allSatisfy { $0.contains("(reinit-random control of ") }, "\(output)")
            let trials = try readCSV(out.appendingPathComponent("trials.csv"))
            let top = trials.filter { ($0["branch.kind"] ?? "").isEmpty }
            let branches = trials.filter { $0["branch.kind"] == "reinit-random" }
            #expect(Set(top.map { $0["trial_id"] ?? "" }) == Set(before.map { $0["trial_id"] ?? "" }) && top.count == 2)
            #expect(top.allSatisfy { $0["spec_version"] == "1" && $0["status"] == "done" })
            #expect(branches.count == 4 && branches.allSatisfy { $0["spec_version"] == "2" && $0["status"] == "done" })
            #expect(Set(branches.map { $0["branch.parent_trial"] ?? "" }) == Set(top.map { $0["trial_id"] ?? "" }))
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == before.count + 4)
            for row in before {
                #expect(
                    rows.contains { $0 == row }, "round \(row["round"] ?? "?") of \(row["trial_id"] ?? "?") unchanged")
            }
            // lth status counts the whole sweep: every round recorded, none left.
            let (code, json) = try WatchSweepProcessTests.lth(
                bin, ["status", out.path, "--json"], in: dir, name: "s.json")
            let status = WatchSweepProcessTests.json(json) ?? [:]
            #expect(code == 0 && status["state"] as? String == "finished", "\(json)")
            #expect(status["rounds_recorded"] as? Int == 6 + 4 && status["rounds_expected"] as? Int == 6 + 4, "\(json)")
            let versions = status["spec_versions"] as? [[String: Any]] ?? []
            #expect(versions.last?["trials_new_controls"] as? Int == 2, "\(json)")

            // Another control kind on top: only its 4 branches run; the reinit-random ones are recognised.
            let (third, more) = try Self.sweep(
                bin, dir, Self.spec(seeds: 2, rounds: 2, controls: ", controls: [reinit-random, prune-random]"),
                log: "v3.log")
            #expect(third == 0, "\(more)")
            let again = more.split(separator: "\n").filter { $0.contains("] trial ") && $0.contains(" started on ") }
            #expect(again.count == 4 && again.allSatisfy { $0.contains("(prune-random control of ") }, "\(more)")
            #expect(try readCSV(out.appendingPathComponent("rounds.csv")).count == 6 + 4 + 4)
        }
    }
}
