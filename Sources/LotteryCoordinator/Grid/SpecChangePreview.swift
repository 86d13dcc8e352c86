public import Foundation
import LotteryCore
public import LotteryResults

extension SweepPlan {
    /// What running this plan on `directory` will do to the folder's spec history, said plainly before the
    /// coordinator starts (issue 17, "Extend a sweep"): `nil` for a new folder (or a half-written one), a resume, or
    /// another sweep's folder (which the store refuses). For a spec that changes trials that already ran, it names the keys whose values
    /// differ from the spec as first run (compared on the first trial of each). Trials that only add control branches
    /// to registered ones count as reused (``extending(registered:)``), with ``SpecChange/newControls``.
    ///
    /// - Throws: ``ResultsFolderError`` when the folder's database cannot be read.
    public func specChange(in directory: URL) throws -> (change: SpecChange, changedKeys: [String])? {
        guard let reader = try Self.readerOfSweep(in: directory) else { return nil }
        let extended = extending(registered: try reader.registeredTopLevelSpecs(sweepName: name, known: knownSpecs))
        guard
            let change = try reader.preview(
                sweepName: name, fingerprint: fingerprint, plannedTrialIDs: extended.plan.trials.map(\.id),
                newControls: extended.newControls)
        else { return nil }
        var changed: [String] = []
        if !change.onlyAdds, let first = trials.first?.spec,
            let earlier = try? parseSweep(text: try reader.specText(), file: "results.db", maxTrials: .max).trials
                .first?.spec
        {
            let before = Dictionary(
                earlier.columns.map { ($0.key, $0.value.description) }, uniquingKeysWith: { a, _ in a })
            for (key, value) in first.columns.map({ ($0.key, $0.value.description) }) where before[key] != value {
                if key == "seed" { continue }  // seeds differ between trials anyway
                changed.append("\(key) \(before[key] ?? "unset") → \(value)")
            }
        }
        return (change, changed)
    }

    /// The folder's database opened read-only, or `nil` when there is none or it holds no sweep yet (a coordinator
    /// that died while creating it): the coordinator starts the sweep afresh there.
    static func readerOfSweep(in directory: URL) throws(ResultsFolderError) -> ResultsReader? {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("results.db").path) else {
            return nil
        }
        do {
            return try ResultsReader.open(directory: directory)
        } catch {
            if error.code == .halfWritten { return nil }
            throw error
        }
    }

    /// The line `lth sweep` and `lth-coordinator` print for ``specChange(in:)``.
    public static func describe(_ preview: (change: SpecChange, changedKeys: [String])) -> String {
        var text = preview.change.description
        if !preview.changedKeys.isEmpty { text += " (changed: \(preview.changedKeys.joined(separator: ", ")))" }
        return text
    }
}
