import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Group commit (`ResultsStore.record(batch:)`): the same rows and files as one `record` each, exactly once, and
/// all or nothing.
@Suite("Results store: group commit")
struct ResultsStoreBatchTests {
    @Test func batchRecordsLikeSingleRecordsAndSkipsDuplicates() throws {
        try withTemporaryDirectory { dir in
            let single = dir.appendingPathComponent("single")
            let batched = dir.appendingPathComponent("batched")
            let a = StoreFixture.spec(seed: 1)
            let b = StoreFixture.spec(seed: 2)
            let results = [
                StoreFixture.result(a, round: 0), StoreFixture.result(b, round: 0), StoreFixture.result(a, round: 1),
                StoreFixture.result(b, round: 1),
            ]
            let one = try StoreFixture.open(single)
            for result in results { try one.record(result, at: StoreFixture.epoch) }
            let many = try StoreFixture.open(batched)
            try many.record(StoreFixture.result(a, round: 0), at: StoreFixture.epoch)
            // a#0 was recorded before, b#1 comes twice: both count once.
            let outcomes = try many.record(batch: results + [StoreFixture.result(b, round: 1)], at: StoreFixture.epoch)
            #expect(outcomes.map { $0 == .duplicate } == [true, false, false, false, true])
            #expect(try StoreFixture.csvSnapshot(many) == StoreFixture.csvSnapshot(one))
            #expect(try many.recoveredState().lastRecordedRound == [a.trialID: 1, b.trialID: 1])
            for result in results {
                let path = ResultsStore.maskRelativePath(trialID: result.trialID, round: result.round)
                #expect(try Data(contentsOf: batched.appendingPathComponent(path)) == Data(result.maskBytes))
            }
        }
    }

    @Test func failedBatchRecordsNothingAndRemovesItsMaskFiles() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 1)
            try StoreFixture.folderFailingAt(round: 2, dir, spec: spec)
            let store = try StoreFixture.open(dir)
            let before = try StoreFixture.csvSnapshot(store)
            #expect(throws: StoreError.self) {
                try store.record(batch: [StoreFixture.result(spec, round: 1), StoreFixture.result(spec, round: 2)])
            }
            #expect(try StoreFixture.csvSnapshot(store) == before)
            #expect(try store.recoveredState().trials.map(\.roundsDone) == [1])
            for round in [1, 2] {
                let mask = dir.appendingPathComponent(
                    ResultsStore.maskRelativePath(trialID: spec.trialID, round: round))
                #expect(!FileManager.default.fileExists(atPath: mask.path), "round \(round)'s mask file was removed")
            }
        }
    }
}
