import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17 with real processes: `lth status`, `lth export` and `lth report` from another shell while `lth sweep`
/// runs, after it is interrupted, and after it finished.
@Suite(.serialized) struct WatchSweepProcessTests {
    static let spec = """
        name: watch
        base: {synthetic: {round_ms: 150}, prune: {rounds: 3}}
        grid:
          prune.strategy: [layerwise-magnitude, random]
        seeds: 4

        """

    /// Runs `lth ARGS` to the end; (status, output).
    static func lth(_ bin: URL, _ arguments: [String], in dir: URL, name: String) throws -> (Int32?, String) {
        let child = try Child(bin.appendingPathComponent("lth"), arguments, log: dir.appendingPathComponent(name))
        let status = child.wait(seconds: 60)
        return (status, child.output)
    }

    static func json(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    static func files(_ dir: URL) -> [String: String] {
        var files: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: dir.path)
        while let relative = walker?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(
                atPath: dir.appendingPathComponent(relative).path)
            files[relative] =
                "\((attributes?[.size] as? NSNumber)?.intValue ?? -1) \((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1)"
        }
        return files
    }

    @Test func statusAndExportWhileASweepRunsThenFinished() throws {
        guard let bin = Binaries.require("statusAndExportWhileASweepRunsThenFinished") else { return }
        try withTemporaryDirectory { dir in
            let spec = dir.appendingPathComponent("watch.yaml")
            try Self.spec.write(to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                ["sweep", spec.path, "--out", out.path, "--workers", "2", "--heartbeat-ms", "200"],
                log: dir.appendingPathComponent("sweep.log"))
            #expect(sweep.waitForOutput("started 2 lth-worker", seconds: 60), "\(sweep.output)")
            // Poll while it runs: every read succeeds, counts only grow, and the sweep is never slowed into an error.
            var states: Set<String> = []
            var lastRounds = 0
            var exported = false
            var polls = 0
            while sweep.process.isRunning, polls < 200 {
                polls += 1
                let (code, output) = try Self.lth(bin, ["status", out.path, "--json"], in: dir, name: "status.log")
                guard sweep.process.isRunning || code == 0 else { break }
                #expect(code == 0, "lth status: \(output)")
                guard let status = Self.json(output) else {
                    Issue.record("not JSON: \(output)")
                    break
                }
                states.insert(status["state"] as? String ?? "?")
                let rounds = status["rounds_recorded"] as? Int ?? -1
                #expect(rounds >= lastRounds)
                lastRounds = rounds
                #expect(status["rounds_expected"] as? Int == 8 * 4)
                if !exported, rounds >= 4, status["state"] as? String == "running" {
                    let (exportCode, exportOutput) = try Self.lth(
                        bin, ["export", out.path], in: dir, name: "export.log")
                    #expect(exportCode == 0, "lth export: \(exportOutput)")
                    let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
                    #expect(rows.count >= rounds, "export had \(rows.count) rounds, status had seen \(rounds)")
                    exported = true
                }
            }
            #expect(sweep.wait(seconds: 120) == 0, "lth sweep: \(sweep.output)")
            #expect(states.contains("running"), "states seen: \(states)")
            #expect(exported, "the sweep ended before an export could run mid-sweep")
            #expect(!sweep.output.contains("locked"), "\(sweep.output)")

            // Finished: said so, every round counted, and reading changes nothing in the folder.
            let before = Self.files(out)
            let (code, text) = try Self.lth(bin, ["status", out.path], in: dir, name: "final.log")
            #expect(code == 0)
            #expect(text.hasPrefix("sweep 'watch' — finished"), "\(text)")
            #expect(text.contains("rounds   32 of 32 recorded"), "\(text)")
            #expect(text.contains("efficiency"), "\(text)")
            let (_, json) = try Self.lth(bin, ["status", out.path, "--json"], in: dir, name: "final.json")
            let final = try #require(Self.json(json))
            #expect(final["state"] as? String == "finished")
            #expect((final["trials"] as? [String: Any])?["done"] as? Int == 8)
            #expect(Self.files(out) == before, "lth status wrote into the folder")

            // --watch --json: one compact document per refresh, until stopped.
            let watch = try Child(
                bin.appendingPathComponent("lth"), ["status", out.path, "--watch", "--json", "--interval", "0.2"],
                log: dir.appendingPathComponent("watch.log"))
            var lines: [Substring] = []
            for _ in 0..<300 where lines.count < 3 {
                lines = watch.output.split(separator: "\n")
                usleep(50_000)
            }
            watch.terminate()
            _ = watch.wait(seconds: 10)
            #expect(lines.count >= 3, "\(watch.output)")
            for line in lines.prefix(3) {
                #expect(Self.json(String(line))?["state"] as? String == "finished", "\(line)")
            }
            #expect(Self.files(out) == before, "lth status --watch wrote into the folder")
        }
    }

    @Test func anInterruptedSweepSaysHowFarItGot() throws {
        guard let bin = Binaries.require("anInterruptedSweepSaysHowFarItGot") else { return }
        try withTemporaryDirectory { dir in
            let spec = dir.appendingPathComponent("watch.yaml")
            try Self.spec.replacingOccurrences(of: "round_ms: 150", with: "round_ms: 400")
                .write(to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                ["sweep", spec.path, "--out", out.path, "--workers", "1", "--heartbeat-ms", "200"],
                log: dir.appendingPathComponent("sweep.log"))
            #expect(sweep.waitForOutput("recorded", seconds: 60) || sweep.waitForOutput("round 1", seconds: 30))
            var rounds = 0
            for _ in 0..<100 where rounds < 3 {
                let (_, output) = try Self.lth(bin, ["status", out.path, "--json"], in: dir, name: "status.log")
                rounds = Self.json(output)?["rounds_recorded"] as? Int ?? 0
                usleep(100_000)
            }
            kill(sweep.process.processIdentifier, SIGINT)
            #expect(sweep.wait(seconds: 60) == 1, "\(sweep.output)")
            let (code, text) = try Self.lth(bin, ["status", out.path], in: dir, name: "status.txt")
            #expect(code == 0)
            #expect(text.hasPrefix("sweep 'watch' — interrupted"), "\(text)")
            let (reportCode, report) = try Self.lth(bin, ["report", out.path], in: dir, name: "report.log")
            #expect(reportCode == 0, "\(report)")
            #expect(report.contains("sweep 'watch' interrupted: "), "\(report)")
            #expect(report.contains("of 32 rounds recorded"), "\(report)")
            let html = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
            #expect(html.contains("sweep progress"))
            #expect(html.contains("<section id=\"timeline\">") && html.contains("Efficiency = busy worker-seconds"))
        }
    }

    @Test func aFolderThatIsNotAResultsFolderIsOneLine() throws {
        guard let bin = Binaries.require("aFolderThatIsNotAResultsFolderIsOneLine") else { return }
        try withTemporaryDirectory { dir in
            for command in ["status", "export"] {
                let (code, output) = try Self.lth(bin, [command, dir.path], in: dir, name: "\(command).log")
                #expect(code != 0 && code != nil)
                #expect(output.contains("is not a results folder (no results.db)"), "\(output)")
                #expect(output.split(separator: "\n").count == 1, "one line: \(output)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results.db").path))
        }
    }
}
