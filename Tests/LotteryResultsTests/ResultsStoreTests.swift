import Foundation
import LotteryCore
import LotteryResults
import Testing

@Suite("Results store: results.db, mask files, recovery")
struct ResultsStoreTests {
    @Test func recordAndReadBack() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let a = StoreFixture.spec(seed: 1)
            let b = StoreFixture.spec(seed: 2)
            try store.registerTrials([(a.trialID, a, 4), (b.trialID, b, 4)])
            for round in 0..<3 {
                let outcome = try store.record(StoreFixture.result(a, round: round), at: StoreFixture.epoch)
                #expect(outcome == .recorded(maskPath: "masks/\(a.trialID)/round-0\(round).ltmask"))
            }
            let maskFile = dir.appendingPathComponent("masks/\(a.trialID)/round-02.ltmask")
            #expect(try Data(contentsOf: maskFile) == Data(StoreFixture.mask(seed: 102)))
            #expect(try store.maskBytes(trialID: a.trialID, round: 1) == StoreFixture.mask(seed: 101))
            #expect(try store.maskBytes(trialID: a.trialID, round: 3) == nil)

            let state = try store.recoveredState()
            #expect(state.trials.map(\.id) == [a.trialID, b.trialID])
            let trialA = try #require(state.trials.first)
            #expect(trialA.status == .running && trialA.roundsDone == 3 && trialA.lastRecordedRound == 2)
            #expect(trialA.worker == "w1" && trialA.host == "node-1" && trialA.expectedRounds == 4)
            #expect(trialA.spec == a)
            #expect(state.trials[1].status == .queued && state.trials[1].lastRecordedRound == nil)
            #expect(state.lastRecordedRound == [a.trialID: 2])
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("sweep.yaml").path))
        }
    }

    @Test func unregisteredTrialIsRegisteredByItsFirstResult() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 9)
            try store.record(StoreFixture.result(spec, round: 0))
            let state = try store.recoveredState()
            #expect(state.trials.map(\.id) == [spec.trialID])
            #expect(state.trials[0].expectedRounds == nil && state.trials[0].roundsDone == 1)
        }
    }

    @Test func duplicateRoundIsRecordedExactlyOnce() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 1)
            try store.record(StoreFixture.result(spec, round: 0), at: StoreFixture.epoch)
            let before = try StoreFixture.csvSnapshot(store)
            let stateBefore = try store.recoveredState()

            var again = StoreFixture.result(spec, round: 0, points: 9, worker: "w2", host: "node-2")
            again.maskBytes = StoreFixture.mask(seed: 777)
            again.metrics.density = 0.5
            #expect(try store.record(again, at: StoreFixture.epoch.addingTimeInterval(60)) == .duplicate)

            #expect(try StoreFixture.csvSnapshot(store) == before)
            #expect(try store.recoveredState() == stateBefore)
            #expect(try store.maskBytes(trialID: spec.trialID, round: 0) == StoreFixture.mask(seed: 100))
        }
    }

    @Test func restartRecoversLastRoundsDoneFailedAndTries() throws {
        try withTemporaryDirectory { dir in
            let specs = (1...4).map { StoreFixture.spec(seed: $0) }
            do {
                let store = try StoreFixture.open(dir)
                try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 3) })
                for round in 0..<3 { try store.record(StoreFixture.result(specs[0], round: round)) }
                try store.markDone(trialID: specs[0].trialID)
                try store.record(StoreFixture.result(specs[1], round: 0))
                try store.incrementTries(trialID: specs[1].trialID)
                try store.markFailed(trialID: specs[1].trialID, reason: "loss is NaN at iteration 300")
                try store.markRunning(trialID: specs[2].trialID, worker: "w3", host: "node-3")
                try store.incrementTries(trialID: specs[2].trialID)
                #expect(try store.incrementTries(trialID: specs[2].trialID) == 2)
                // Rounds 0 and 2 recorded, 1 missing: the trial resumes after round 0.
                try store.record(StoreFixture.result(specs[3], round: 0))
                try store.record(StoreFixture.result(specs[3], round: 2))
            }
            let store = try StoreFixture.open(dir)
            // Registering the same list again changes nothing (idempotent).
            try store.registerTrials(
                specs.reversed().map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 3) })
            let state = try store.recoveredState()
            #expect(state.trials.map(\.id) == specs.map(\.trialID))
            #expect(state.done == [specs[0].trialID])
            #expect(state.failed == [specs[1].trialID: "loss is NaN at iteration 300"])
            #expect(state.tries[specs[1].trialID] == 1 && state.tries[specs[2].trialID] == 2)
            #expect(state.trials[2].status == .running && state.trials[2].worker == "w3")
            #expect(
                state.lastRecordedRound == [specs[0].trialID: 2, specs[1].trialID: 0, specs[3].trialID: 0])
            #expect(state.trials[3].roundsDone == 2)
            #expect(try store.maskBytes(trialID: specs[0].trialID, round: 2) == StoreFixture.mask(seed: 102))
        }
    }

    @Test func orphanMasksFromAnInterruptedWriteAreRemovedOnReopen() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 1)
            let trialFolder = dir.appendingPathComponent("masks/\(spec.trialID)")
            do {
                let store = try StoreFixture.open(dir)
                try store.record(StoreFixture.result(spec, round: 0))
            }
            // A power cut after the rename but before the commit, and one in the middle of a write:
            try Data([1, 2, 3]).write(to: trialFolder.appendingPathComponent("round-01.ltmask"))
            try Data([4, 5]).write(to: trialFolder.appendingPathComponent("round-02.ltmask.tmp"))
            // A trial whose first round never committed:
            let other = dir.appendingPathComponent("masks/0123456789abcdef")
            try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
            try Data([6]).write(to: other.appendingPathComponent("round-00.ltmask"))

            let store = try StoreFixture.open(dir)
            #expect(
                Set(store.removedOrphans) == [
                    "masks/\(spec.trialID)/round-01.ltmask", "masks/\(spec.trialID)/round-02.ltmask.tmp",
                    "masks/0123456789abcdef/round-00.ltmask", "masks/0123456789abcdef/",
                ])
            let remaining = try FileManager.default.contentsOfDirectory(atPath: trialFolder.path)
            #expect(remaining == ["round-00.ltmask"])
            #expect(!FileManager.default.fileExists(atPath: other.path))
            #expect(try store.maskBytes(trialID: spec.trialID, round: 0) == StoreFixture.mask(seed: 100))
            #expect(try store.events().filter { $0.kind == "orphan-removed" }.count == 4)
            // Round 1 can now be recorded normally.
            #expect(try store.record(StoreFixture.result(spec, round: 1)) != .duplicate)
        }
    }

    @Test func anotherSweepsFolderIsRefused() throws {
        try withTemporaryDirectory { dir in
            _ = try StoreFixture.open(dir, name: "quick", fingerprint: "fp-1")
            #expect {
                _ = try StoreFixture.open(dir, name: "paper", fingerprint: "fp-2")
            } throws: { error in
                guard let error = error as? StoreError else { return false }
                let text = String(describing: error)
                return error.code == .sweepMismatch
                    && text.contains("\(dir.standardizedFileURL.path) already holds sweep 'quick' (fingerprint fp-1)")
                    && text.hasSuffix("use another --out or delete it")
            }
            // The same sweep reopens fine.
            _ = try StoreFixture.open(dir, name: "quick", fingerprint: "fp-1")
        }
    }

    @Test func newerSchemaIsRefused() throws {
        try withTemporaryDirectory { dir in
            do { _ = try StoreFixture.open(dir) }  // closing the last connection checkpoints the WAL into the file
            let path = dir.appendingPathComponent("results.db")
            var bytes = try Data(contentsOf: path)
            #expect(bytes.count >= 100 && bytes.prefix(15) == Data("SQLite format 3".utf8))
            bytes.replaceSubrange(60..<64, with: [0, 0, 0, 99])  // user_version, big-endian, in the file header
            try bytes.write(to: path)
            #expect {
                _ = try StoreFixture.open(dir)
            } throws: { error in
                guard let error = error as? StoreError else { return false }
                return error.code == .schemaTooNew && String(describing: error).contains("schema version 99")
            }
        }
    }

    /// Tests run as root here, so `chmod 0500` would not stop writes: a file where the trial's mask folder must go
    /// stands in for an unwritable folder (the same code path: the create fails with an errno).
    @Test func unwritableMaskFolderIsATypedErrorAndLeavesTheDatabaseConsistent() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 1)
            try store.record(StoreFixture.result(spec, round: 0))
            let before = try StoreFixture.csvSnapshot(store)
            let blocker = dir.appendingPathComponent("masks/\(spec.trialID)")
            try FileManager.default.removeItem(at: blocker)
            try Data("in the way".utf8).write(to: blocker)

            #expect {
                try store.record(StoreFixture.result(spec, round: 1))
            } throws: { error in
                guard let error = error as? StoreError else { return false }
                return error.code == .io && error.path == blocker.path && error.detail == "Not a directory"
            }
            #expect(try StoreFixture.csvSnapshot(store) == before)
            #expect(try store.recoveredState().lastRecordedRound == [spec.trialID: 0])

            try FileManager.default.removeItem(at: blocker)
            #expect(try store.record(StoreFixture.result(spec, round: 1)) != .duplicate)
            #expect(try store.recoveredState().lastRecordedRound == [spec.trialID: 1])
        }
    }

    /// A database failure in the middle of the transaction (after the round row, before the curve points),
    /// injected with a trigger added through Python's sqlite3 while the store is closed.
    @Test func failedTransactionRollsBackAndRemovesTheNewMaskFile() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 1)
            try StoreFixture.folderFailingAt(round: 1, dir, spec: spec)
            let store = try StoreFixture.open(dir)
            let before = try StoreFixture.csvSnapshot(store)
            #expect {
                try store.record(StoreFixture.result(spec, round: 1))
            } throws: { error in
                guard let error = error as? StoreError else { return false }
                return error.code == .database && (error.detail ?? "").contains("simulated failure")
                    && (error.sql ?? "").contains("INSERT INTO curve_points")
            }
            #expect(try StoreFixture.csvSnapshot(store) == before)
            #expect(try store.recoveredState().trials.map(\.roundsDone) == [1])
            let maskFile = dir.appendingPathComponent(ResultsStore.maskRelativePath(trialID: spec.trialID, round: 1))
            #expect(!FileManager.default.fileExists(atPath: maskFile.path))
            // The store keeps working for rounds the trigger lets through.
            #expect(try store.record(StoreFixture.result(spec, round: 2)) != .duplicate)
        }
    }

    @Test func unwritableResultsFolderIsATypedError() {
        #expect {
            _ = try StoreFixture.open(URL(fileURLWithPath: "/proc/lth-results-test/quick"))
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .io && error.path == "/proc/lth-results-test" && error.detail != nil
        }
    }

    @Test func inconsistentOrUnsafeResultsAreRejected() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 1)
            var wrongRound = StoreFixture.result(spec, round: 1)
            wrongRound.metrics.round = 2
            var escaping = StoreFixture.result(spec, round: 0)
            escaping.trialID = "../../etc"
            escaping.metrics.trialID = "../../etc"
            for result in [wrongRound, escaping] {
                #expect {
                    try store.record(result)
                } throws: { error in
                    (error as? StoreError)?.code == .invalidResult
                }
            }
            #expect {
                try store.markDone(trialID: "no-such-trial")
            } throws: { error in
                (error as? StoreError)?.code == .invalidResult
            }
            #expect(try store.recoveredState().trials.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("masks").path))
        }
    }

    @Test func corruptedMaskFileIsDetected() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 1)
            try store.record(StoreFixture.result(spec, round: 0))
            let path = dir.appendingPathComponent(ResultsStore.maskRelativePath(trialID: spec.trialID, round: 0))
            var bytes = try Data(contentsOf: path)
            bytes[10] ^= 0xff
            try bytes.write(to: path)
            #expect {
                _ = try store.maskBytes(trialID: spec.trialID, round: 0)
            } throws: { error in
                (error as? StoreError)?.code == .corruptMask
            }
        }
    }
}
