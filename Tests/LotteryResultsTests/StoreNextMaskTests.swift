import Foundation
import LotteryCore
import LotteryResults
import Testing

/// `rounds.next_mask` (schema version 2): the mask a resumed trial trains with, and the migration from version 1.
@Suite struct StoreNextMaskTests {
    @Test func nextMaskIsStoredWithItsRoundAndSurvivesReopen() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 4)
            let next = StoreFixture.mask(seed: 99, count: 700)
            do {
                let store = try StoreFixture.open(dir)
                var result = StoreFixture.result(spec, round: 0)
                result.nextMaskBytes = next
                try store.record(result)
                try store.record(StoreFixture.result(spec, round: 1))  // a last round: no next mask
                #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 0) == next)
            }
            let store = try StoreFixture.open(dir)
            #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 0) == next)
            #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 1) == nil)
            #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 2) == nil)
        }
    }

    /// A version-1 results.db (no `next_mask` column, nor the later supermask columns) opens, is migrated to the
    /// current version, keeps its rows and stores next masks from then on. The version-1 file is made with Python's sqlite3 (DROP COLUMN needs SQLite 3.35).
    @Test func versionOneDatabaseIsMigrated() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 5)
            do {
                let store = try StoreFixture.open(dir)
                try store.record(StoreFixture.result(spec, round: 0))
            }
            let db = dir.appendingPathComponent("results.db").path
            let script = """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1])
                c.execute("ALTER TABLE rounds DROP COLUMN next_mask")
                c.execute("ALTER TABLE rounds DROP COLUMN supermask_test_acc")
                c.execute("ALTER TABLE rounds DROP COLUMN supermask_signed_constant_test_acc")
                c.execute("PRAGMA user_version=1")
                c.commit()
                print(c.execute("PRAGMA user_version").fetchone()[0])
                """
            guard let output = runPython(script, db) else {
                print("skipped: python3 with sqlite3 ≥ 3.35 not available")
                return
            }
            #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
            let store = try StoreFixture.open(dir)
            #expect(try store.recoveredState().lastRecordedRound[spec.trialID] == 0)
            #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 0) == nil)
            var result = StoreFixture.result(spec, round: 1)
            result.nextMaskBytes = [1, 2, 3]
            try store.record(result)
            #expect(try store.nextMaskBytes(trialID: spec.trialID, round: 1) == [1, 2, 3])
            let version = runPython(
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA user_version').fetchone()[0])",
                db)
            #expect(version?.trimmingCharacters(in: .whitespacesAndNewlines) == String(ResultsStore.schemaVersion))
        }
    }

    func runPython(_ script: String, _ argument: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, argument]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
