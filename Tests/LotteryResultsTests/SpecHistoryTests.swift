import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Issue 17, "Extend a sweep": a spec that adds trials to a folder reuses what is recorded, keeps the spec history,
/// and every row says which spec version it came from.
@Suite("Results store: extending a sweep")
struct SpecHistoryTests {
    static func open(_ dir: URL, _ fingerprint: String, _ planned: [TrialSpec]?, name: String = "quick") throws
        -> ResultsStore
    {
        try ResultsStore.openOrCreate(
            directory: dir, sweepName: name, specText: "name: \(name) # \(fingerprint)\n", fingerprint: fingerprint,
            plannedTrialIDs: planned?.map(\.trialID), now: StoreFixture.epoch)
    }

    static func register(_ store: ResultsStore, _ specs: [TrialSpec]) throws {
        try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 2) })
    }

    /// The `spec_version` cell of each row of a CSV, by trial id.
    static func versions(_ dir: URL, _ file: String) throws -> [String: [String]] {
        let lines = try StoreFixture.text(dir, file).split(separator: "\n")
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(header.first == "trial_id" && header.last == "spec_version")
        var out: [String: [String]] = [:]
        for line in lines.dropFirst() {
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            out[String(cells[0]), default: []].append(String(cells[cells.count - 1]))
        }
        return out
    }

    @Test func aSpecThatOnlyAddsTrialsIsAVersionOfTheSameSweep() throws {
        try withTemporaryDirectory { dir in
            let first = (1...2).map { StoreFixture.spec(seed: $0) }
            let more = first + [StoreFixture.spec(seed: 3)]
            do {
                let store = try Self.open(dir, "fp-1", first)
                #expect(store.specVersion == 1 && store.specChange == nil)
                try Self.register(store, first)
                for spec in first { try store.record(StoreFixture.result(spec, round: 0)) }
            }
            do {
                let store = try Self.open(dir, "fp-2", more)
                #expect(store.specVersion == 2)
                #expect(
                    store.specChange == SpecChange(version: 2, reused: 2, added: 1, leftOut: 0, file: "sweep.v2.yaml"))
                #expect(store.specChange?.onlyAdds == true)
                try Self.register(store, more)
                // Reused trials keep their rounds and their version; the added one is version 2.
                let state = try store.recoveredState()
                #expect(state.lastRecordedRound == [first[0].trialID: 0, first[1].trialID: 0])
                try store.record(StoreFixture.result(more[2], round: 0))
                try store.exportCSVs()
                let trials = try Self.versions(dir, "trials.csv")
                #expect(trials[first[0].trialID] == ["1"] && trials[more[2].trialID] == ["2"])
                #expect(try Self.versions(dir, "rounds.csv")[more[2].trialID] == ["2"])
                #expect(try store.events().contains { $0.kind == "spec-extended" && $0.message.contains("1 added") })
            }
            // lth status shows the history.
            let history = try ResultsReader.open(directory: dir).status().specVersions
            #expect(history.map(\.version) == [1, 2])
            #expect(history.map(\.trialsAdded) == [2, 1] && history[1].trialsReused == 2)
            // The history is kept: the first spec as sweep.yaml, the extension as sweep.v2.yaml.
            #expect(try StoreFixture.text(dir, "sweep.yaml") == "name: quick # fp-1\n")
            #expect(try StoreFixture.text(dir, "sweep.v2.yaml") == "name: quick # fp-2\n")
            // Either spec opens again without a new version.
            #expect(try Self.open(dir, "fp-2", more).specVersion == 2)
            #expect(try Self.open(dir, "fp-1", first).specVersion == 1)
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("sweep.v3.yaml").path))
        }
    }

    @Test func aChangedValueGivesNewTrialsAndSaysSo() throws {
        try withTemporaryDirectory { dir in
            let first = (1...2).map { StoreFixture.spec(seed: $0) }
            do {
                let store = try Self.open(dir, "fp-1", first)
                try Self.register(store, first)
            }
            let changed = first.map { spec in
                var spec = spec
                spec.train.iterations = 2_000  // a base value: every id changes
                return spec
            }
            let store = try Self.open(dir, "fp-3", changed)
            let change = try #require(store.specChange)
            #expect(change == SpecChange(version: 2, reused: 0, added: 2, leftOut: 2, file: "sweep.v2.yaml"))
            #expect(!change.onlyAdds)
            #expect(change.description.contains("this spec changes trials that already ran: 2 trial(s)"))
            #expect(change.description.contains("spec_version column"))
            try Self.register(store, changed)
            try store.exportCSVs()
            let trials = try Self.versions(dir, "trials.csv")
            #expect(trials.count == 4)
            #expect(
                Set(first.map { trials[$0.trialID]! }) == [["1"]] && Set(changed.map { trials[$0.trialID]! }) == [["2"]]
            )
        }
    }

    @Test func anotherSweepOrAnUnplannedChangeIsStillRefused() throws {
        try withTemporaryDirectory { dir in
            let first = [StoreFixture.spec(seed: 1)]
            _ = try Self.open(dir, "fp-1", first)
            #expect(throws: StoreError.self) { _ = try Self.open(dir, "fp-2", first, name: "other") }
            #expect(throws: StoreError.self) { _ = try Self.open(dir, "fp-2", nil) }  // lth train: no plan
        }
    }

    /// A spec that gives registered trials new control branches: reused, counted, kept in the history.
    @Test func trialsGivenNewControlsAreReusedAndCountedInTheHistory() throws {
        try withTemporaryDirectory { dir in
            let first = (1...2).map { StoreFixture.spec(seed: $0) }
            do { try Self.register(try Self.open(dir, "fp-1", first), first) }
            // The caller planned the registered trials under their ids (`SweepPlan.extending(registered:)`).
            let store = try ResultsStore.openOrCreate(
                directory: dir, sweepName: "quick", specText: "name: quick # fp-2\n", fingerprint: "fp-2",
                plannedTrialIDs: first.map(\.trialID), trialsNewControls: 2, now: StoreFixture.epoch)
            let change = try #require(store.specChange)
            #expect(
                change
                    == SpecChange(version: 2, reused: 2, added: 0, leftOut: 0, newControls: 2, file: "sweep.v2.yaml"))
            #expect(
                change.description
                    == "extending the sweep (spec version 2, saved as sweep.v2.yaml): 2 trial(s) reused with their "
                    + "recorded rounds, 2 of them with new control branches, 0 added; only the added trials and "
                    + "control branches run")
            #expect(
                try store.events().contains { $0.message.contains("2 trials reused (2 with new control branches)") })
            let history = try ResultsReader.open(directory: dir).status().specVersions
            #expect(history.map(\.trialsNewControls) == [0, 2])
        }
    }

    @Test func aVersion3DatabaseGetsItsFirstSpecAsVersion1() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 1)
            do {
                let store = try StoreFixture.open(dir)
                try store.record(StoreFixture.result(spec, round: 0))
            }
            _ = try StoreCSVTests.runPython(
                """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1] + "/results.db")
                c.execute("DROP TABLE specs"); c.execute("ALTER TABLE trials DROP COLUMN spec_version")
                c.execute("PRAGMA user_version=3"); c.commit()
                """, argument: dir.path)
            // Read-only first: the reader cannot migrate, and reads the old schema as it is.
            let reader = try ResultsReader.open(directory: dir)
            #expect(try reader.exportCSVs().rounds == 1)
            #expect(try Self.versions(dir, "trials.csv")[spec.trialID] == ["1"])
            #expect(try Self.versions(dir, "rounds.csv")[spec.trialID] == ["1"])
            #expect(try reader.status().roundsRecorded == 1)
            let store = try StoreFixture.open(dir)
            #expect(store.specVersion == 1)
            try store.exportCSVs()
            #expect(try Self.versions(dir, "trials.csv")[spec.trialID] == ["1"])
            // The first spec is version 1 of the history: opening it again is no extension.
            #expect(try Self.open(dir, "fp-1", [spec]).specChange == nil)
        }
    }
}
