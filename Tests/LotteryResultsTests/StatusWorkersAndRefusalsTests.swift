import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Issue 17, the rest of `lth status`: per worker when it was last heard (heartbeats included, as the coordinator
/// persists them), and refused peers among the events.
@Suite("Results reader: last heard and refused peers")
struct StatusWorkersAndRefusalsTests {
    /// Two workers that joined at the epoch and recorded one round each at +10 s; the store stays open.
    static func twoWorkers(_ dir: URL) throws -> ResultsStore {
        let store = try StoreFixture.open(dir)
        let specs = [StoreFixture.spec(seed: 1), StoreFixture.spec(seed: 2)]
        try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 4) })
        for (index, worker) in ["busy", "quiet"].enumerated() {
            try store.logEvent(
                kind: "worker-joined", worker: worker, message: "host node-\(index), instance i\(index), 1 slot(s)",
                at: StoreFixture.epoch)
            try store.markRunning(trialID: specs[index].trialID, worker: worker, host: "node-\(index)")
            try store.record(
                StoreFixture.result(specs[index], round: 0, worker: worker, host: "node-\(index)"),
                at: StoreFixture.epoch.addingTimeInterval(10))
        }
        return store
    }

    static func at(_ seconds: Double) -> Date { StoreFixture.epoch.addingTimeInterval(seconds) }

    /// A worker that keeps heartbeating shows the time the coordinator persisted, not its last round; one silent
    /// since then shows an older time.
    @Test func lastHeardIsThePersistedTimeAndASilentWorkerShowsAnOlderOne() throws {
        try withTemporaryDirectory { dir in
            let store = try Self.twoWorkers(dir)
            try store.recordHeard([("busy", Self.at(200)), ("quiet", Self.at(12))])
            try store.recordHeard([("busy", Self.at(290))])
            try store.recordHeard([("busy", Self.at(250))])  // an older time never replaces a newer one
            #expect(try store.lastHeard() == ["busy": Self.at(290), "quiet": Self.at(12)])

            let status = try ResultsReader.open(directory: dir).status(now: Self.at(300))
            let byName = Dictionary(uniqueKeysWithValues: status.workers.map { ($0.name, $0) })
            let busy = try #require(byName["busy"])
            let quiet = try #require(byName["quiet"])
            #expect(busy.lastHeard == ResultsCSV.timestamp(Self.at(290)))
            #expect(abs((busy.secondsSinceHeard ?? 0) - 10) < 1e-3)
            #expect(quiet.lastHeard == ResultsCSV.timestamp(Self.at(12)))
            #expect(abs((quiet.secondsSinceHeard ?? 0) - 288) < 1e-3)
            #expect(status.text().contains("10s ago"), "\(status.text())")
            #expect(status.text().contains("4m48s ago"), "\(status.text())")
            let json = try #require(
                try JSONSerialization.jsonObject(with: SweepStatus.jsonEncoder.encode(status)) as? [String: Any])
            let workers = try #require(json["workers"] as? [[String: Any]])
            #expect(
                workers.first { $0["name"] as? String == "busy" }?["last_heard"] as? String
                    == ResultsCSV.timestamp(Self.at(290)))
        }
    }

    /// `worker-lost` is the coordinator giving up on a silent worker, not something it heard: the worker's last
    /// heard time stays what it was.
    @Test func aLostWorkerWasLastHeardBeforeItWasLost() throws {
        try withTemporaryDirectory { dir in
            let store = try Self.twoWorkers(dir)
            try store.recordHeard([("quiet", Self.at(20))])
            try store.logEvent(kind: "worker-lost", worker: "quiet", message: "silent for 3.0 s", at: Self.at(23))
            let status = try ResultsReader.open(directory: dir).status(now: Self.at(30))
            let quiet = try #require(status.workers.first { $0.name == "quiet" })
            #expect(quiet.left)
            #expect(quiet.lastHeard == ResultsCSV.timestamp(Self.at(20)))
        }
    }

    /// Refused peers are events worth a person's attention: in the text and in `--json`, with the key as journaled.
    @Test func refusedPeersAreListedAmongTheEvents() throws {
        try withTemporaryDirectory { dir in
            let store = try Self.twoWorkers(dir)
            let line =
                "refused 10.0.0.7 with public key rq:rt0ZvQ-7Z3oXvHBmXhx[JxS@RLj8K7dY3iJmT: client key not allowed"
            try store.logEvent(kind: "peer-refused", message: line, at: Self.at(15))
            try store.logEvent(kind: "task", worker: "busy", message: "task 1 start_round 1", at: Self.at(16))
            let status = try ResultsReader.open(directory: dir).status(now: Self.at(30))
            #expect(status.events.map(\.kind) == ["peer-refused"])
            #expect(status.events.first?.message == line)
            #expect(status.text().contains("peer-refused  \(line)"), "\(status.text())")
            let json = try #require(
                try JSONSerialization.jsonObject(with: SweepStatus.jsonEncoder.encode(status)) as? [String: Any])
            let events = try #require(json["events"] as? [[String: Any]])
            #expect(events.first?["kind"] as? String == "peer-refused")
            #expect((events.first?["message"] as? String)?.contains("rq:rt0ZvQ-7Z3oXvHBmXhx[JxS@RLj8K7dY3iJmT") == true)
        }
    }

    /// A version-4 database (before `worker_heard`) is read as it is, and gets the table when a store opens it.
    @Test func aVersion4DatabaseIsReadAsItIsAndMigrated() throws {
        try withTemporaryDirectory { dir in
            do { _ = try Self.twoWorkers(dir) }
            _ = try StoreCSVTests.runPython(
                """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1] + "/results.db")
                c.execute("DROP TABLE worker_heard"); c.execute("ALTER TABLE specs DROP COLUMN trials_new_controls")
                c.execute("PRAGMA user_version=4"); c.commit()
                """, argument: dir.path)
            let old = try ResultsReader.open(directory: dir).status(now: Self.at(30))
            #expect(
                old.workers.map(\.lastHeard) == [ResultsCSV.timestamp(Self.at(10))] + [
                    ResultsCSV.timestamp(Self.at(10))
                ])
            let store = try StoreFixture.open(dir)
            try store.recordHeard([("busy", Self.at(25))])
            #expect(try store.lastHeard() == ["busy": Self.at(25)])
            #expect(try ResultsReader.open(directory: dir).status().specVersions.map(\.trialsNewControls) == [0])
        }
    }
}
