public import LotteryCore

/// How many rounds a trial will record, computed from its spec (for progress bars and ETAs).
public enum RoundEstimate {
    /// Upper bound on simulated rounds for `prune.target_density` (a rate that removes nothing never ends).
    public static let maximumRounds = 1_000

    /// Rounds the trial records, round 0 (dense) included.
    ///
    /// - A branch (control) trial trains its parent's mask once: 1 round.
    /// - `prune.rounds` R: R + 1 rounds (0…R).
    /// - `prune.target_density` d: the IMP loop stops after the first round whose kernel density is ≤ d. We
    ///   replay its arithmetic on weight counts: per weight layer `remaining -= round(rate × remaining)`
    ///   (`global-magnitude`: one rate over all kernels together), rounding half away from zero. This is
    ///   exact if the IMP loop rounds the same way; otherwise it may be off by a round near the threshold.
    ///   Layer widths: 784 inputs and 10 outputs (MNIST, Fashion-MNIST).
    public static func rounds(of spec: TrialSpec) -> Int {
        if spec.branch != nil { return 1 }
        if spec.prune.schedule == .oneshot { return 1 }  // round 0; its densities are branches
        guard let target = spec.prune.targetDensity else { return spec.prune.rounds + 1 }
        let widths = [784] + spec.model.layers + [10]
        let sizes = (0..<(widths.count - 1)).map { widths[$0] * widths[$0 + 1] }
        let total = Double(sizes.reduce(0, +))
        var remaining = sizes
        let rates = spec.resolvedRates
        var round = 0
        while Double(remaining.reduce(0, +)) / total > target, round < maximumRounds {
            round += 1
            if spec.prune.strategy == .globalMagnitude {
                // Only the total matters for density; put the whole count in one bucket.
                let all = remaining.reduce(0, +)
                remaining = [all - Int((rates[0] * Double(all)).rounded())]
            } else {
                for layer in remaining.indices {
                    let rate = layer < rates.count ? rates[layer] : rates.last ?? 0
                    remaining[layer] -= Int((rate * Double(remaining[layer])).rounded())
                }
            }
        }
        return round + 1
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
