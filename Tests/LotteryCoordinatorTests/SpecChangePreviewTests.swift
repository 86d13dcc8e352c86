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

    /// The registered trials a plan has are taken from the plan, not decoded (`lth status --watch` and every
    /// coordinator start read them): a folder whose stored specs are unreadable but all planned still extends.
    @Test func registeredTrialsThePlanHasAreNotDecoded() throws {
        try withTemporaryDirectory { dir in
            let plan = try parseSweep(text: "name: hw\nbase: {prune: {rounds: 1}}\nseeds: 2\n", file: "hw.yaml")
            do {
                let store = try ResultsStore.openOrCreate(
                    directory: dir, sweepName: plan.name, specText: plan.sourceText, fingerprint: plan.fingerprint,
                    plannedTrialIDs: plan.trials.map(\.id))
                try store.registerTrials(
                    plan.trials.map { TrialRegistration(id: $0.id, spec: $0.spec, expectedRounds: 2) })
            }
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = [
                "python3", "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE trials SET spec_json = '{'\"); c.commit()",
                dir.appendingPathComponent("results.db").path,
            ]
            try python.run()
            python.waitUntilExit()
            try #require(python.terminationStatus == 0)
            let reader = try ResultsReader.open(directory: dir)
            #expect(throws: ResultsFolderError.self) { try reader.registeredTopLevelSpecs(sweepName: "hw") }
            #expect(try plan.extending(folder: dir).plan.trials == plan.trials)
            #expect(try plan.specChange(in: dir) == nil)
        }
    }
}
