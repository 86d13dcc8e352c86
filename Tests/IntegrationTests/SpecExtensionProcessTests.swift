import Foundation
import Testing

/// Issue 17, "Extend a sweep", as a researcher does it: the same `lth sweep` command with more seeds, then with a
/// changed base value, on the same folder.
@Suite(.serialized) struct SpecExtensionProcessTests {
    static func spec(seeds: Int, rounds: Int) -> String {
        "name: grow\nbase: {synthetic: {round_ms: 20}, prune: {rounds: \(rounds)}}\nseeds: \(seeds)\n"
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

    @Test func moreSeedsRunOnlyTheNewTrialsAndAChangedValueIsSaidPlainly() throws {
        guard let bin = Binaries.require("moreSeedsRunOnlyTheNewTrialsAndAChangedValueIsSaidPlainly") else { return }
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
        }
    }
}
