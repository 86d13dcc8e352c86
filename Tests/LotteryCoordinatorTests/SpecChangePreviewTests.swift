import Foundation
import LotteryCoordinator
import LotteryResults
import Testing

/// What a coordinator makes of a results folder before it opens it for writing.
@Suite("Spec change preview")
struct SpecChangePreviewTests {
    /// A `results.db` with no sweep in it (a coordinator died while creating it) is a new folder to the next run,
    /// which `lth status` tells the user to do: no preview, nothing to reuse, and the store starts the sweep there.
    @Test func aHalfWrittenFolderIsStartedAfresh() throws {
        try withTemporaryDirectory { dir in
            let folder = URL(fileURLWithPath: dir.path, isDirectory: true)
            try Data().write(to: folder.appendingPathComponent("results.db"))
            let plan = try parseSweep(text: "name: hw\nbase: {prune: {rounds: 1}}\nseeds: 2\n", file: "hw.yaml")
            let error = try #require(throws: ResultsFolderError.self) { try ResultsReader.open(directory: folder) }
            #expect(error.code == .halfWritten)
            #expect(try plan.specChange(in: folder) == nil)
            #expect(try plan.extending(folder: folder).plan.trials == plan.trials)
            let store = try ResultsStore.openOrCreate(
                directory: folder, sweepName: plan.name, specText: plan.sourceText, fingerprint: plan.fingerprint,
                plannedTrialIDs: plan.trials.map(\.id))
            #expect(store.specVersion == 1 && store.specChange == nil)
            #expect(try ResultsReader.open(directory: folder).status().sweep == "hw")
        }
    }
}
