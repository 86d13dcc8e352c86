/// How a sweep's spec compares with the trials a results folder already holds (extending a sweep, issue 17).
///
/// Trials are compared by id (the hash of every hyperparameter), so a spec that adds seeds or grid values reuses
/// every trial already registered and adds the new ones; a spec that changes a value the old trials share (a base
/// key) gives every trial a new id: nothing is reused, and the old trials stay in the folder under their version.
/// A spec that adds `controls` (or more `controls_seeds`) reuses the registered trials under their ids and gives
/// them the new control branches (``newControls``): the caller maps such trials to the registered ones first
/// (`SweepPlan.extending(registered:)`), so they count as reused here.
public struct SpecChange: Sendable, Hashable, CustomStringConvertible {
    /// The version this spec gets in the folder's history (1 = the spec as first run).
    public var version: Int
    /// Trials of this spec already registered (their recorded rounds are kept and not recomputed).
    public var reused: Int
    /// Trials of this spec that are new to the folder.
    public var added: Int
    /// Top-level trials of earlier versions that this spec does not have (they stay in the folder, with their rows).
    public var leftOut: Int
    /// Reused trials this spec gives control branches they did not have (the branches run, for the rounds already
    /// recorded too).
    public var newControls: Int
    /// The file the spec is saved as in the folder (`sweep.v2.yaml`).
    public var file: String

    public init(version: Int, reused: Int, added: Int, leftOut: Int, newControls: Int = 0, file: String) {
        self.version = version
        self.reused = reused
        self.added = added
        self.leftOut = leftOut
        self.newControls = newControls
        self.file = file
    }

    /// Counts only (`version` and `file` not yet known). `newControls`: how many of the planned trials are
    /// registered ones given new controls.
    public static func compare(registered: Set<String>, planned: [String], newControls: Int = 0) -> SpecChange {
        let plannedSet = Set(planned)
        let reused = plannedSet.intersection(registered).count
        return SpecChange(
            version: 0, reused: reused, added: plannedSet.count - reused,
            leftOut: registered.subtracting(plannedSet).count, newControls: newControls, file: "")
    }

    /// Whether the spec only adds trials (everything registered before is part of it).
    public var onlyAdds: Bool { leftOut == 0 }

    /// What a person is told before the sweep runs.
    public var description: String {
        if onlyAdds {
            let controls = newControls > 0 ? ", \(newControls) of them with new control branches" : ""
            return "extending the sweep (spec version \(version)\(file.isEmpty ? "" : ", saved as \(file)")): "
                + "\(reused) trial(s) reused with their recorded rounds\(controls), \(added) added; only the added "
                + (newControls > 0 ? "trials and control branches run" : "ones run")
        }
        return "this spec changes trials that already ran: \(leftOut) trial(s) of earlier versions are not in it "
            + "(a changed value gives every trial a new id); they stay in the folder as they are, and \(added) "
            + "new trial(s) run as spec version \(version)\(file.isEmpty ? "" : " (saved as \(file))")"
            + (reused > 0 ? ", \(reused) reused" : "") + ". The spec_version column of trials.csv and rounds.csv "
            + "tells the versions apart"
    }
}
