import Foundation
import LotteryCore
import LotteryResults
import Testing

@Suite("Results store: derived CSVs")
struct StoreCSVTests {
    static let hyperparameters = [
        "dataset", "model", "model.layers", "model.init", "train.optimizer", "train.lr", "train.momentum", "train.batch",
        "train.iterations", "train.eval_every", "data.validation", "seed", "seeds.init", "seeds.order",
        "seeds.split", "prune.strategy", "prune.rates", "prune.rounds", "prune.target_density", "prune.criterion", "prune.schedule", "prune.densities", "reinit", "controls",
        "controls_seeds", "synthetic.round_ms", "branch.kind", "branch.parent_trial", "branch.parent_round",
        "branch.index",
    ]

    @Test func headersAreExactAndStable() {
        #expect(ResultsCSV.specColumns == Self.hyperparameters)
        #expect(
            ResultsCSV.roundsHeader(layerCount: 3)
                == ["trial_id"] + Self.hyperparameters + [
                    "round", "density", "density_l0", "density_l1", "density_l2", "early_stop_iteration",
                    "val_loss_at_es", "val_acc_at_es", "test_acc_at_es", "test_acc_final", "train_acc_final", "seconds",
                    "worker", "host", "kept_l0", "kept_l1", "kept_l2", "positive_at_init_l0", "positive_at_init_l1",
                    "positive_at_init_l2", "positive_after_l0", "positive_after_l1", "positive_after_l2",
                    "mean_abs_at_init_l0", "mean_abs_at_init_l1", "mean_abs_at_init_l2", "mean_abs_after_l0",
                    "mean_abs_after_l1", "mean_abs_after_l2", "supermask_test_acc", "supermask_signed_constant_test_acc",
                    "spec_version",
                ])
        #expect(
            ResultsCSV.trialsHeader
                == ["trial_id"] + Self.hyperparameters + [
                    "status", "tries", "reason", "worker", "host", "started_at", "ended_at", "rounds_done",
                    "expected_rounds", "spec_version",
                ])
        #expect(ResultsCSV.curvesHeader == ["trial_id", "round", "iteration", "val_loss", "val_acc", "test_acc"])
    }

    @Test(arguments: [
        ("plain", "plain"), ("[300, 100]", "\"[300, 100]\""), ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("two\nlines", "\"two\nlines\""), ("", ""),
    ])
    func fieldsAreQuotedPerRFC4180(raw: String, quoted: String) {
        #expect(CSV.field(raw) == quoted)
    }

    @Test func timestampsAreISO8601UTCWithMilliseconds() {
        #expect(ResultsCSV.timestamp(Date(timeIntervalSince1970: 0.5)) == "1970-01-01T00:00:00.500Z")
        #expect(ResultsCSV.timestamp(StoreFixture.epoch) == "2023-11-14T22:13:20.000Z")
    }

    @Test func exportedFilesHaveTheDocumentedShapeOrderAndQuoting() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let wide = StoreFixture.spec(seed: 2)
            let narrow = StoreFixture.spec(seed: 1, layers: [100])
            let branch = wide.branch(.reinitRandom, round: 1, index: 0)
            // Registration order, not id order, decides row order.
            try store.registerTrials([
                (wide.trialID, wide, 3), (narrow.trialID, narrow, 3), (branch.trialID, branch, 1),
            ])
            for round in [0, 2, 1] { try store.record(StoreFixture.result(wide, round: round), at: StoreFixture.epoch) }
            try store.record(StoreFixture.result(narrow, round: 0, points: 3), at: StoreFixture.epoch)
            var nan = StoreFixture.result(branch, round: 0)
            nan.metrics.valLossAtES = .nan
            nan.metrics.curve[0].valLoss = .nan
            try store.record(nan, at: StoreFixture.epoch)
            try store.markDone(trialID: wide.trialID, at: StoreFixture.epoch.addingTimeInterval(90))
            try store.markFailed(trialID: narrow.trialID, reason: "worker w1 lost, 3 tries", at: StoreFixture.epoch)

            let summary = try store.exportCSVs()
            let expectedPoints = 5 * 3 + 3 + 5
            #expect(summary == ResultsStore.ExportSummary(trials: 3, rounds: 5, curvePoints: expectedPoints))

            let rounds = try StoreFixture.text(dir, "rounds.csv").split(
                separator: "\n", omittingEmptySubsequences: false)
            #expect(rounds.count == 1 + 5 + 1)  // header, rows, empty after the final newline
            #expect(rounds[0] == Substring(ResultsCSV.roundsHeader(layerCount: 3).joined(separator: ",")))
            let ids: [String] = rounds.dropFirst().dropLast().map { String($0.prefix(while: { $0 != "," })) }
            let expectedIDs: [String] = [wide.trialID, wide.trialID, wide.trialID, narrow.trialID, branch.trialID]
            #expect(ids == expectedIDs)
            let wideRows = rounds[1...3]
            #expect(wideRows.allSatisfy { $0.contains(",mnist,lenet300-100,\"[300, 100]\",glorot-normal,adam,") })
            #expect(wideRows.allSatisfy { $0.contains(",\"[0.2, 0.2, 0.1]\",") })
            let roundColumn = ResultsCSV.roundsHeader(layerCount: 3).firstIndex(of: "round")!
            // Fields before `round` contain quoted lists with commas; count quoted fields as one.
            #expect(wideRows.map { Self.fields($0)[roundColumn] } == ["0", "1", "2"])
            let narrowRow = Self.fields(rounds[4])
            let header = ResultsCSV.roundsHeader(layerCount: 3)
            #expect(narrowRow.count == header.count)
            #expect(narrowRow[header.firstIndex(of: "density_l2")!] == "")
            #expect(narrowRow[header.firstIndex(of: "density_l1")!] != "")
            let branchRow = Self.fields(rounds[5])
            #expect(branchRow[header.firstIndex(of: "branch.kind")!] == "reinit-random")
            #expect(branchRow[header.firstIndex(of: "branch.parent_trial")!] == wide.trialID)
            #expect(branchRow[header.firstIndex(of: "branch.parent_round")!] == "1")
            #expect(branchRow[header.firstIndex(of: "val_loss_at_es")!] == "nan")

            let trials = try StoreFixture.text(dir, "trials.csv").split(separator: "\n").map { Self.fields($0) }
            let trialsHeader = ResultsCSV.trialsHeader
            #expect(trials[0] == trialsHeader)
            #expect(trials.dropFirst().map { $0[0] } == [wide.trialID, narrow.trialID, branch.trialID])
            #expect(trials[1][trialsHeader.firstIndex(of: "status")!] == "done")
            #expect(trials[1][trialsHeader.firstIndex(of: "ended_at")!] == "2023-11-14T22:14:50.000Z")
            #expect(trials[2][trialsHeader.firstIndex(of: "reason")!] == "worker w1 lost, 3 tries")
            #expect(trials[2][trialsHeader.firstIndex(of: "status")!] == "failed")

            let curves = try StoreFixture.text(dir, "curves.csv").split(separator: "\n")
            #expect(curves[0] == "trial_id,round,iteration,val_loss,val_acc,test_acc")
            #expect(curves[1].hasPrefix("\(wide.trialID),0,100,"))
            #expect(curves[6].hasPrefix("\(wide.trialID),1,100,"))
            #expect(curves[19].hasPrefix("\(branch.trialID),0,100,nan,"))
        }
    }

    @Test func twoRunsGiveByteIdenticalFiles() throws {
        var snapshots: [[String: Data]] = []
        for _ in 0..<2 {
            try withTemporaryDirectory { dir in
                let store = try StoreFixture.open(dir)
                let specs = [StoreFixture.spec(seed: 5), StoreFixture.spec(seed: 3)]
                try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 2) })
                for spec in specs {
                    for round in 0..<2 {
                        try store.record(StoreFixture.result(spec, round: round), at: StoreFixture.epoch)
                    }
                    try store.markDone(trialID: spec.trialID, at: StoreFixture.epoch)
                }
                snapshots.append(try StoreFixture.csvSnapshot(store))
            }
        }
        #expect(snapshots[0] == snapshots[1])
        #expect(snapshots[0]["rounds.csv"]!.count > 1_000)
    }

    /// Every CSV loads with `pandas.read_csv(path)` and no options (or, without pandas, Python's csv module).
    @Test func filesLoadInPython() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let specs = [StoreFixture.spec(seed: 1), StoreFixture.spec(seed: 2, layers: [50])]
            try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 2) })
            for spec in specs {
                for round in 0..<2 { try store.record(StoreFixture.result(spec, round: round, points: 4)) }
            }
            try store.markFailed(trialID: specs[1].trialID, reason: "said \"no\", twice")
            try store.exportCSVs()

            let script = """
                import json, sys
                out = {}
                try:
                    import pandas
                    out["loader"] = "pandas " + pandas.__version__
                    for name in ["trials", "rounds", "curves"]:
                        frame = pandas.read_csv(sys.argv[1] + "/" + name + ".csv")
                        out[name] = {"shape": list(frame.shape), "columns": list(frame.columns),
                                     "first": {k: str(v) for k, v in frame.iloc[0].items()}}
                    out["reason"] = str(pandas.read_csv(sys.argv[1] + "/trials.csv")["reason"].iloc[1])
                except ImportError:
                    import csv
                    out["loader"] = "csv module"
                    for name in ["trials", "rounds", "curves"]:
                        with open(sys.argv[1] + "/" + name + ".csv", newline="") as f:
                            rows = list(csv.reader(f))
                        out[name] = {"shape": [len(rows) - 1, len(rows[0])], "columns": rows[0],
                                     "first": dict(zip(rows[0], rows[1]))}
                        if name == "trials":
                            out["reason"] = rows[2][rows[0].index("reason")]
                print(json.dumps(out))
                """
            let output = try Self.runPython(script, argument: dir.path)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            print("StoreCSVTests.filesLoadInPython: loaded with \(json["loader"] ?? "?")")

            func table(_ name: String) throws -> (shape: [Int], columns: [String], first: [String: String]) {
                let entry = try #require(json[name] as? [String: Any])
                return (
                    try #require(entry["shape"] as? [Int]), try #require(entry["columns"] as? [String]),
                    try #require(entry["first"] as? [String: String])
                )
            }
            let trials = try table("trials")
            #expect(trials.shape == [2, ResultsCSV.trialsHeader.count])
            #expect(trials.columns == ResultsCSV.trialsHeader)
            #expect(trials.first["model.layers"] == "[300, 100]")
            #expect(json["reason"] as? String == "said \"no\", twice")
            let rounds = try table("rounds")
            #expect(rounds.shape == [4, ResultsCSV.roundsHeader(layerCount: 3).count])
            #expect(rounds.columns == ResultsCSV.roundsHeader(layerCount: 3))
            #expect(rounds.first["prune.rates"] == "[0.2, 0.2, 0.1]")
            let curves = try table("curves")
            #expect(curves.shape == [16, 6])
            #expect(curves.columns == ResultsCSV.curvesHeader)
        }
    }

    /// Splits one CSV line into fields (RFC 4180 quoting; no embedded newlines in these tests).
    static func fields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let char = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if char == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(char)
                }
            } else if char == "\"" {
                quoted = true
            } else if char == "," {
                fields.append(current)
                current = ""
            } else {
                current.append(char)
            }
        }
        fields.append(current)
        return fields
    }

    static func runPython(_ script: String, argument: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, argument]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("python3 failed: \(String(decoding: errors, as: UTF8.self))")
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
