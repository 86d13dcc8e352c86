/// How many rounds a trial will record, computed from its spec (for progress bars and ETAs).
public enum RoundEstimate {
    /// Upper bound on simulated rounds for `prune.target_density` (a rate that removes nothing never ends).
    public static let maximumRounds = 1_000

    /// Rounds the trial records, round 0 (dense) included.
    ///
    /// - A branch (control) trial trains its parent's mask once: 1 round.
    /// - `prune.rounds` R: R + 1 rounds (0…R).
    /// - `prune.target_density` d: the trial's own ``PruningPlan`` (the counts the IMP loop prunes, on the
    ///   network of ``TrialSpec/architecture()``), so the estimate is exact.
    ///
    ///   A target the ladder never reaches (rates that stop removing weights) counts as ``maximumRounds`` + 1; a
    ///   network that does not fit its input (refused at validation, before any trial is registered) as 1.
    public static func rounds(of spec: TrialSpec) -> Int {
        if spec.branch != nil { return 1 }
        if spec.prune.schedule == .oneshot { return 1 }  // round 0; its densities are branches
        guard spec.prune.targetDensity != nil else { return spec.prune.rounds + 1 }
        guard let architecture = try? spec.architecture() else { return 1 }
        guard let plan = try? PruningPlan(spec: spec, layerSizes: architecture.layerSizes) else {
            return maximumRounds + 1
        }
        return min(plan.lastRound, maximumRounds) + 1
    }

    /// Densities of a `prune.schedule: oneshot` trial: `prune.densities`, or the iterative ladder's rounds 1…last
    /// (the same arithmetic as ``rounds(of:)``).
    public static func oneShotDensities(of spec: TrialSpec) -> Int {
        if let densities = spec.prune.densities { return densities.count }
        var iterative = spec
        iterative.prune.schedule = .iterative
        return rounds(of: iterative) - 1
    }

    /// Control branch trials the trial spawns: one per control kind × `controls_seeds` × pruned round (1…last),
    /// with the controls a later spec version added to it (``AddedControls``) counted too.
    public static func branchTrials(of spec: TrialSpec, adding added: AddedControls? = nil) -> Int {
        if spec.branch == nil, spec.prune.schedule == .oneshot { return oneShotDensities(of: spec) }
        guard spec.branch == nil else { return 0 }
        return (rounds(of: spec) - 1) * branchesPerRound(of: spec, adding: added)
    }

    /// Control branches of each pruned round (0 for a branch or a one-shot trial, whose branches are its densities).
    public static func branchesPerRound(of spec: TrialSpec, adding added: AddedControls? = nil) -> Int {
        guard spec.branch == nil, spec.prune.schedule != .oneshot else { return 0 }
        return controlPairs(of: spec, adding: added).count
    }

    /// The branch specs of `spec`'s round `round` (≥ 1), in queue order: control kinds in spec order, then index;
    /// then those of the controls a later spec version added (``AddedControls``), in its order.
    ///
    /// A branch of `spec`'s own controls is `spec.branch(kind, round:, index:)` (its id as ever). An added one is the
    /// same with the extending spec's `controls_seeds` (the value a sweep run with that spec from the start gives
    /// it): it differs from the branch such a sweep makes only in its parent, which is the registered trial.
    public static func branches(of spec: TrialSpec, adding added: AddedControls? = nil, round: Int) -> [TrialSpec] {
        if spec.branch == nil, spec.prune.schedule == .oneshot {
            // One branch per density, all of round 0 (docs/imp.md, "One-shot pruning").
            return round == 0 ? (0..<oneShotDensities(of: spec)).map { spec.branch(.oneshot, round: 0, index: $0) } : []
        }
        guard spec.branch == nil, round >= 1 else { return [] }
        return controlPairs(of: spec, adding: added).map { pair in
            var branch = spec.branch(pair.kind, round: round, index: pair.index)
            if let seeds = pair.addedSeeds { branch.controlsSeeds = seeds }
            return branch
        }
    }

    /// (kind, index) of every control branch of a round; `addedSeeds` set on those only `added` asks for.
    static func controlPairs(of spec: TrialSpec, adding added: AddedControls?) -> [(
        kind: ControlKind, index: Int, addedSeeds: Int?
    )] {
        var pairs = spec.controls.flatMap { kind in
            (0..<spec.controlsSeeds).map { (kind: kind, index: $0, addedSeeds: Int?.none) }
        }
        guard let added else { return pairs }
        for kind in added.kinds {
            for index in 0..<added.seeds where !(spec.controls.contains(kind) && index < spec.controlsSeeds) {
                pairs.append((kind, index, added.seeds))
            }
        }
        return pairs
    }
}

/// Control branches a later version of a sweep's spec gives a trial that is already registered with fewer
/// (``TrialSpec/addsControls(to:)``): the trial keeps its id and its spec (its recorded rounds are reused), and its
/// branches are those of its spec plus these (``RoundEstimate/branches(of:adding:round:)``), for its recorded
/// rounds as well as the ones to come. docs/results.md, "Extending a sweep".
public struct AddedControls: Sendable, Hashable {
    /// The control kinds of the extending spec, in its order (those the trial has already included).
    public var kinds: [ControlKind]
    /// Its `controls_seeds`.
    public var seeds: Int

    public init(kinds: [ControlKind], seeds: Int) {
        self.kinds = kinds
        self.seeds = seeds
    }

    /// The controls of `spec` (the extending spec).
    public init(of spec: TrialSpec) {
        self.init(kinds: spec.controls, seeds: spec.controlsSeeds)
    }
}
