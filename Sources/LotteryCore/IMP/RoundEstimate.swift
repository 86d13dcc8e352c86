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

    /// Control branch trials the trial spawns: one per control kind × `controls_seeds` × pruned round (1…last).
    public static func branchTrials(of spec: TrialSpec) -> Int {
        if spec.branch == nil, spec.prune.schedule == .oneshot { return oneShotDensities(of: spec) }
        guard spec.branch == nil, !spec.controls.isEmpty else { return 0 }
        return (rounds(of: spec) - 1) * spec.controls.count * spec.controlsSeeds
    }

    /// The branch specs of `spec`'s round `round` (≥ 1), in queue order: control kinds in spec order, then index.
    public static func branches(of spec: TrialSpec, round: Int) -> [TrialSpec] {
        if spec.branch == nil, spec.prune.schedule == .oneshot {
            // One branch per density, all of round 0 (docs/imp.md, "One-shot pruning").
            return round == 0 ? (0..<oneShotDensities(of: spec)).map { spec.branch(.oneshot, round: 0, index: $0) } : []
        }
        guard spec.branch == nil, round >= 1 else { return [] }
        return spec.controls.flatMap { kind in
            (0..<spec.controlsSeeds).map { spec.branch(kind, round: round, index: $0) }
        }
    }
}
