import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Supermask accuracies (schema version 3): stored per round, exported as the last two `rounds.csv` columns,
/// empty when not measured, and added to older databases by migration.
@Suite struct StoreSupermaskTests {
    private func cells(_ line: Substring) -> [String] { line.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }

    @Test func supermaskAccuraciesAreTheLastRoundsColumns() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let spec = StoreFixture.spec(seed: 6)
            var measured = StoreFixture.result(spec, round: 0)
            var rng = LotteryRNG(seed: 6, stream: "supermask-store")
            let initial = rng.uniform(), signed = rng.uniform()
            measured.metrics.supermaskTestAcc = initial
            measured.metrics.supermaskSignedConstantTestAcc = signed
            try store.record(measured, at: StoreFixture.epoch)
            try store.record(StoreFixture.result(spec, round: 1), at: StoreFixture.epoch)  // not measured
            try store.exportCSVs()
            let lines = try StoreFixture.text(dir, "rounds.csv").split(separator: "\n")
            let header = cells(lines[0])
            #expect(Array(header.suffix(3)) == ["supermask_test_acc", "supermask_signed_constant_test_acc", "spec_version"])
            let row0 = cells(lines[1]), row1 = cells(lines[2])
            // (Quoted list cells such as "[300, 100]" hold commas, so only the row ends are compared here.)
            #expect(Double(row0[row0.count - 3]) == initial && Double(row0[row0.count - 2]) == signed)
            #expect(Array(row1.suffix(3)) == ["", "", "1"])
        }
    }

    /// A version-2 database (before the supermask columns) is migrated in place: old rows read back with empty
    /// supermask cells, new rows store them.
    @Test func versionTwoDatabaseIsMigrated() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 7)
            do {
                let store = try StoreFixture.open(dir)
                try store.record(StoreFixture.result(spec, round: 0))
            }
            let db = dir.appendingPathComponent("results.db").path
            let script = """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1])
                c.execute("ALTER TABLE rounds DROP COLUMN supermask_test_acc")
                c.execute("ALTER TABLE rounds DROP COLUMN supermask_signed_constant_test_acc")
                c.execute("PRAGMA user_version=2")
                c.commit()
                print(c.execute("PRAGMA user_version").fetchone()[0])
                """
            guard let output = StoreNextMaskTests().runPython(script, db) else {
                print("skipped: python3 with sqlite3 ≥ 3.35 not available")
                return
            }
            #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
            let store = try StoreFixture.open(dir)
            var result = StoreFixture.result(spec, round: 1)
            result.metrics.supermaskTestAcc = 0.25
            result.metrics.supermaskSignedConstantTestAcc = 0.5
            try store.record(result)
            try store.exportCSVs()
            let lines = try StoreFixture.text(dir, "rounds.csv").split(separator: "\n")
            #expect(Array(cells(lines[1]).suffix(3)) == ["", "", "1"])
            #expect(Array(cells(lines[2]).suffix(3)) == ["0.25", "0.5", "1"])
            let version = StoreNextMaskTests().runPython(
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA user_version').fetchone()[0])",
                db)
            #expect(version?.trimmingCharacters(in: .whitespacesAndNewlines) == String(ResultsStore.schemaVersion))
        }
    }
}
