import Foundation
import LotteryCore
#if canImport(Glibc)
    import Glibc
#endif
import LotteryResults
import Testing

/// Issue 17: reading a results folder from another process — status, export — while a coordinator writes it.
@Suite("Results reader: status and export, read-only")
struct ResultsReaderTests {
    /// Every file under `dir` with its size and modification time (what "never writes" is checked against).
    static func listing(_ dir: URL) throws -> [String: String] {
        var files: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: dir.path)
        while let relative = walker?.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(relative).path)
            let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            files[relative] = "\(size) \(modified)"
        }
        return files
    }

    /// Takes `DIR/.lock` as a coordinator does (flock, exclusive), so readers know one is running; released when the
    /// returned descriptor is closed.
    static func holdFolderLock(_ dir: URL) throws -> Int32 {
        let fd = open(dir.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        try #require(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        return fd
    }

    /// Two trials registered, trial 1 finished (3 rounds), trial 2 two rounds in; the store is closed when this returns
    /// unless kept.
    static func folder(_ dir: URL) throws -> (ResultsStore, [TrialSpec]) {
        let store = try StoreFixture.open(dir)
        let specs = [StoreFixture.spec(seed: 1), StoreFixture.spec(seed: 2), StoreFixture.spec(seed: 3)]
        try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 3) })
        try store.logEvent(
            kind: "worker-joined", worker: "w1", message: "host node-1, instance i1, 2 slot(s), cpu x, build y",
            at: StoreFixture.epoch)
        try store.markRunning(trialID: specs[0].trialID, worker: "w1", host: "node-1", at: StoreFixture.epoch)
        for round in 0..<3 {
            try store.record(
                StoreFixture.result(specs[0], round: round),
                at: StoreFixture.epoch.addingTimeInterval(Double(10 + round)))
        }
        try store.markDone(trialID: specs[0].trialID, at: StoreFixture.epoch.addingTimeInterval(13))
        try store.markRunning(trialID: specs[1].trialID, worker: "w1", host: "node-1", at: StoreFixture.epoch)
        for round in 0..<2 {
            try store.record(
                StoreFixture.result(specs[1], round: round),
                at: StoreFixture.epoch.addingTimeInterval(Double(20 + round)))
        }
        try store.logEvent(
            kind: "requeued", trialID: specs[2].trialID, message: "resumes at round 0",
            at: StoreFixture.epoch.addingTimeInterval(22))
        return (store, specs)
    }

    @Test func statusCountsTrialsRoundsWorkersAndEvents() throws {
        try withTemporaryDirectory { dir in
            let specs: [TrialSpec]
            do { (_, specs) = try Self.folder(dir) }
            let reader = try ResultsReader.open(directory: dir)
            let status = try reader.status(now: StoreFixture.epoch.addingTimeInterval(30))
            #expect(status.sweep == "quick")
            #expect(status.state == .interrupted)  // no coordinator holds the lock, trials unfinished
            #expect(status.trials == SweepStatus.Counts(total: 3, done: 1, running: 1, queued: 1, failed: 0))
            #expect(status.roundsRecorded == 5)
            #expect(status.roundsExpected == 3 + 3 + 3)
            #expect(status.etaSeconds == nil)  // only while running
            let running = try #require(status.running.first)
            #expect(running.trialID == specs[1].trialID && running.round == 2 && running.worker == "w1")
            #expect(running.lastDensity == StoreFixture.metrics(trialID: specs[1].trialID, round: 1).density)
            #expect(abs((running.secondsInRound ?? 0) - 9) < 1e-3)
            let worker = try #require(status.workers.first)
            #expect(worker.name == "w1" && worker.host == "node-1" && worker.slots == 2 && worker.roundsRecorded == 5)
            #expect(worker.recent.map(\.round) == [1, 0, 2])  // most recent first
            #expect(abs((worker.secondsSinceHeard ?? 0) - 9) < 1e-3)
            #expect(status.events.map(\.kind) == ["requeued"])
            // 5 rounds in 11 s (epoch+10 … epoch+21): 27.3 per minute.
            #expect(abs((status.roundsPerMinute ?? 0) - 5.0 / 11 * 60) < 1e-9)
            #expect(
                status.progressLine
                    == "interrupted: 1/3 trials done, 1 cut short, 1 queued, 0 failed; 5 of 9 rounds recorded")
            #expect(status.text().contains("unfinished (were running when it stopped)"))
        }
    }

    @Test func jsonUsesTheDocumentedSnakeCaseKeys() throws {
        try withTemporaryDirectory { dir in
            _ = try Self.folder(dir)
            let status = try ResultsReader.open(directory: dir).status(now: StoreFixture.epoch.addingTimeInterval(30))
            let data = try SweepStatus.jsonEncoder.encode(status)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for key in [
                "folder", "sweep", "state", "trials", "rounds_recorded", "rounds_expected", "rounds_per_minute",
                "eta_seconds", "running", "failed", "workers", "events", "timeline",
            ] where key != "eta_seconds" {
                #expect(object[key] != nil, "missing \(key)")
            }
            let timeline = try #require(object["timeline"] as? [String: Any])
            #expect(timeline["efficiency"] is Double && timeline["busy_seconds"] is Double)
            #expect((object["trials"] as? [String: Any])?["done"] as? Int == 1)
            let running = try #require((object["running"] as? [[String: Any]])?.first)
            #expect(
                running["trial_id"] as? String == status.running[0].trialID && running["seconds_in_round"] is Double)
        }
    }

    /// A WAL reader holding its snapshot does not block the writer: every record commits at once (a blocked writer
    /// would fail with "database is locked" after the store's 5 s busy timeout), and the reader's snapshot stays put.
    @Test func aReaderNeverBlocksTheStoresWrites() throws {
        try withTemporaryDirectory { dir in
            let (store, specs) = try Self.folder(dir)
            let lock = try Self.holdFolderLock(dir)  // a coordinator runs: the reader reads the live database
            defer { close(lock) }
            let reader = try ResultsReader.open(directory: dir)
            #expect(try reader.status().state == .running)
            try reader.snapshot {
                let before = try reader.status(now: StoreFixture.epoch)
                #expect(before.roundsRecorded == 5)
                try store.record(StoreFixture.result(specs[1], round: 2))
                try store.markDone(trialID: specs[1].trialID)
                for round in 0..<3 { try store.record(StoreFixture.result(specs[2], round: round)) }
                _ = try store.exportCSVs()
                #expect(try reader.status(now: StoreFixture.epoch).roundsRecorded == 5)  // same snapshot
            }
            #expect(try reader.status(now: StoreFixture.epoch).roundsRecorded == 9)
            #expect(try store.recoveredState().trials.map(\.roundsDone) == [3, 3, 3])
        }
    }

    @Test func readingAndExportingNeverTouchTheDatabaseOrTheMasks() throws {
        try withTemporaryDirectory { dir in
            do { _ = try Self.folder(dir) }  // store closed: no -wal left
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results.db-wal").path))
            let before = try Self.listing(dir)
            let reader = try ResultsReader.open(directory: dir)
            _ = try reader.status()
            _ = try reader.specText()
            #expect(try Self.listing(dir) == before, "status wrote into the folder")
            let summary = try reader.exportCSVs()
            #expect(summary == ResultsStore.ExportSummary(trials: 3, rounds: 5, curvePoints: 25))
            var after = try Self.listing(dir)
            for name in ["trials.csv", "rounds.csv", "curves.csv"] { #expect(after.removeValue(forKey: name) != nil) }
            #expect(after == before, "export wrote something other than the three CSVs")
        }
    }

    /// A killed coordinator leaves results.db-wal (and -shm) behind: the reader sees every committed round, and
    /// reads a private copy, so not even SQLite's lock file in the folder changes.
    @Test func aWriteAheadLogLeftBehindIsReadFromAPrivateCopy() throws {
        try withTemporaryDirectory { dir in
            let (store, _) = try Self.folder(dir)  // open: its -wal and -shm exist, as after a kill -9
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("results.db-wal").path))
            let before = try Self.listing(dir)
            let status = try ResultsReader.open(directory: dir).status()
            #expect(status.roundsRecorded == 5 && status.state == .interrupted)
            #expect(try Self.listing(dir) == before, "the reader wrote into the folder")
            withExtendedLifetime(store) {}
        }
    }

    @Test func exportWhileTheStoreIsOpenMatchesTheStoresOwnExport() throws {
        try withTemporaryDirectory { dir in
            let (store, _) = try Self.folder(dir)
            let reader = try ResultsReader.open(directory: dir)
            try reader.exportCSVs()
            let mine = try ["trials.csv", "rounds.csv", "curves.csv"].map { try StoreFixture.text(dir, $0) }
            _ = try store.exportCSVs()
            let theirs = try ["trials.csv", "rounds.csv", "curves.csv"].map { try StoreFixture.text(dir, $0) }
            #expect(mine == theirs)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
                $0.hasSuffix(".tmp")
            }
            #expect(leftovers.isEmpty)
        }
    }

    @Test func notAResultsFolderIsOneLine() throws {
        try withTemporaryDirectory { dir in
            for (folder, code, words) in [
                (dir.appendingPathComponent("missing"), ResultsFolderError.Code.notAResultsFolder, "no such folder"),
                (dir, .notAResultsFolder, "is not a results folder (no results.db)"),
            ] {
                let error = try #require(throws: ResultsFolderError.self) { try ResultsReader.open(directory: folder) }
                #expect(error.code == code && error.description.contains(words), "\(error)")
                #expect(!error.description.contains("\n"))
            }
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("results.db").path))
        }
    }

    @Test func halfWrittenAndDamagedDatabasesAreOneLine() throws {
        try withTemporaryDirectory { dir in
            let db = dir.appendingPathComponent("results.db")
            try Data().write(to: db)  // created, nothing in it yet
            let empty = try #require(throws: ResultsFolderError.self) { try ResultsReader.open(directory: dir) }
            #expect(empty.code == .halfWritten && empty.description.contains("half-written"), "\(empty)")
            try Data(repeating: 0x41, count: 4096).write(to: db)
            let garbage = try #require(throws: ResultsFolderError.self) { try ResultsReader.open(directory: dir) }
            #expect(garbage.code == .damaged && garbage.description.contains("not a results database"), "\(garbage)")
            #expect(!garbage.description.contains("\n"))
            #expect(try Data(contentsOf: db) == Data(repeating: 0x41, count: 4096), "the reader changed the file")
        }
    }

    @Test func aNewerSchemaIsRefused() throws {
        try withTemporaryDirectory { dir in
            do { _ = try StoreFixture.open(dir) }
            _ = try StoreCSVTests.runPython(
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1] + '/results.db'); c.execute('PRAGMA user_version=99'); c.commit()",
                argument: dir.path)
            let error = try #require(throws: ResultsFolderError.self) { try ResultsReader.open(directory: dir) }
            #expect(error.code == .schemaTooNew && error.description.contains("schema version 99"), "\(error)")
        }
    }

    /// A process holding an exclusive lock (not what a coordinator does: it lets readers in) makes the reader say so
    /// in one line after its 2 s busy timeout, rather than hang.
    @Test func aLockedDatabaseIsOneLine() throws {
        try withTemporaryDirectory { dir in
            do { _ = try Self.folder(dir) }
            let lock = try Self.holdFolderLock(dir)
            defer { close(lock) }
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            holder.arguments = [
                "python3", "-c",
                """
                import sqlite3, sys, time
                c = sqlite3.connect(sys.argv[1] + '/results.db', isolation_level=None)
                c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')
                c.execute("INSERT INTO events (time, kind, message) VALUES ('t', 'k', 'm')")
                print('locked', flush=True); time.sleep(30)
                """, dir.path,
            ]
            let pipe = Pipe()
            holder.standardOutput = pipe
            try holder.run()
            defer {
                kill(holder.processIdentifier, SIGKILL)
                holder.waitUntilExit()
            }
            let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
            try #require(line.contains("locked"), "python3 could not lock the database: \(line)")
            let error = try #require(throws: ResultsFolderError.self) {
                _ = try ResultsReader.open(directory: dir).status()
            }
            #expect(error.code == .locked && error.description.contains("locked by another process"), "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func timelineEfficiencyIsBusyOverAvailable() throws {
        let t0 = StoreFixture.epoch
        // w1: 2 slots from 0 to 100 s; busy 30 + 40 s. w2: joined at 50, lost at 80, busy 20 s.
        let timeline = try #require(
            Timeline.build(
                rounds: [
                    ("w1", "a", 0, t0.addingTimeInterval(30), 30), ("w1", "b", 0, t0.addingTimeInterval(90), 40),
                    ("w2", "c", 0, t0.addingTimeInterval(75), 20),
                ],
                joins: [("w1", t0, 2), ("w2", t0.addingTimeInterval(50), 1)],
                losses: [("w2", t0.addingTimeInterval(80))], end: t0.addingTimeInterval(100)))
        #expect(timeline.workers == ["w1", "w2"])
        #expect(timeline.busySeconds == 90)
        #expect(timeline.availableSeconds == 2 * 100 + 30)
        #expect(timeline.efficiency == 90.0 / 230)
        #expect(timeline.perWorker["w2"] == [20, 30])
        #expect(timeline.spans.map(\.start) == [0, 50, 55])
        #expect(timeline.seconds == 100)
    }
}
