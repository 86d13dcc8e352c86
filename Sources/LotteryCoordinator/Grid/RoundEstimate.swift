public import LotteryCore

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
        guard spec.prune.targetDensity != nil else { return spec.prune.rounds + 1 }
        guard let architecture = try? spec.architecture() else { return 1 }
        guard let plan = try? PruningPlan(spec: spec, layerSizes: architecture.layerSizes) else {
            return maximumRounds + 1
        }
        return min(plan.lastRound, maximumRounds) + 1
    }

    /// Control branch trials the trial spawns: one per control kind × `controls_seeds` × pruned round (1…last).
    public static func branchTrials(of spec: TrialSpec) -> Int {
        guard spec.branch == nil, !spec.controls.isEmpty else { return 0 }
        return (rounds(of: spec) - 1) * spec.controls.count * spec.controlsSeeds
    }

    /// The branch specs of `spec`'s round `round` (≥ 1), in queue order: control kinds in spec order, then index.
    public static func branches(of spec: TrialSpec, round: Int) -> [TrialSpec] {
        guard spec.branch == nil, round >= 1 else { return [] }
        return spec.controls.flatMap { kind in
            (0..<spec.controlsSeeds).map { spec.branch(kind, round: round, index: $0) }
        }
    }
}
