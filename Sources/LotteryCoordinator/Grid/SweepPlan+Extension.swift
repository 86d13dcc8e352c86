public import Foundation
public import LotteryCore
public import LotteryResults

extension SweepPlan {
    /// The plan as it runs on a folder that already holds trials of this sweep: a planned trial that only adds
    /// control branches to a registered one (``TrialSpec/addsControls(to:)``: more kinds, or more
    /// `controls_seeds`) becomes that trial (its id and spec, so its recorded rounds are reused) with the new
    /// controls as ``PlannedTrial/addedControls``. Every other trial is left as it is.
    ///
    /// Without this a spec that adds `controls` to the base would give every trial a new id (the keys are part of
    /// it) and rerun everything. A registered trial is taken by one planned trial at most: one planned under its
    /// own id first (a grid over `controls` plans the bare trial too).
    ///
    /// - Parameter registered: the folder's top-level trials by id (``ResultsReader/registeredTopLevelSpecs(sweepName:known:)``).
    /// - Returns: the plan, and how many of its trials gained controls.
    public func extending(registered: [String: TrialSpec]) -> (plan: SweepPlan, newControls: Int) {
        guard !registered.isEmpty else { return (self, 0) }
        var taken = Set(trials.map(\.id).filter { registered[$0] != nil })
        // Registered trials by what they train, ids sorted so the choice does not depend on dictionary order.
        var byTraining: [String: [String]] = [:]
        for (id, spec) in registered where spec.branch == nil && spec.trialID == id && !taken.contains(id) {
            byTraining[spec.withoutControls.canonicalText, default: []].append(id)
        }
        guard !byTraining.isEmpty else { return (self, 0) }
        var plan = self
        var gained = 0
        for index in plan.trials.indices where registered[plan.trials[index].id] == nil {
            let planned = plan.trials[index]
            let candidates = byTraining[planned.spec.withoutControls.canonicalText] ?? []
            guard
                let match = candidates.sorted().first(where: {
                    !taken.contains($0) && planned.spec.addsControls(to: registered[$0]!)
                })
            else { continue }
            taken.insert(match)
            plan.trials[index] = PlannedTrial(
                spec: registered[match]!, axisValues: planned.axisValues, addedControls: AddedControls(of: planned.spec)
            )
            gained += 1
        }
        return (plan, gained)
    }

    /// The plan's specs by id (``ResultsReader/registeredTopLevelSpecs(sweepName:known:)`` decodes only the others).
    var knownSpecs: [String: TrialSpec] {
        Dictionary(trials.map { ($0.id, $0.spec) }, uniquingKeysWith: { first, _ in first })
    }

    /// ``extending(registered:)`` with the top-level trials `directory` holds for this sweep (read-only); the plan
    /// as it is for a folder without `results.db`, with a half-written one, or of another sweep.
    ///
    /// - Throws: ``ResultsFolderError`` when the folder's database cannot be read.
    public func extending(folder directory: URL) throws -> (plan: SweepPlan, newControls: Int) {
        guard let reader = try Self.readerOfSweep(in: directory) else { return (self, 0) }
        return extending(registered: try reader.registeredTopLevelSpecs(sweepName: name, known: knownSpecs))
    }
}
