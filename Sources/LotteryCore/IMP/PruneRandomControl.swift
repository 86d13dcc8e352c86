/// The `prune-random` control branch (random pruning with the ticket's per-layer densities, trained from the
/// trial's own rewound weights): the control of open_lth's random-pruning branch and of Frankle & Carbin's
/// random-sparsity comparisons. docs/imp.md, "Control branches".
extension Reinit {
    /// Seed of a `prune-random` branch's mask: stream `branch/prune-random/round<r>/index<i>/mask` of the init seed,
    /// so it is drawn afresh for every parent round and seed index and shares no draws with any init.
    ///
    /// - Precondition: `spec.branch` is set.
    public static func branchMaskSeed(_ spec: TrialSpec) -> Int {
        guard let branch = spec.branch else { preconditionFailure("Reinit.branchMaskSeed: spec has no branch") }
        return Seed.derive(
            spec.initSeed, "branch/\(branch.kind.rawValue)/round\(branch.parentRound)/index\(branch.index)/mask")
    }
}

extension IMPRunner {
    /// The network a `prune-random` branch of parent round `round` starts from: what the trial's own round `round`
    /// starts from under its reinit rule (θ₀; the dense run's weights at k for `rewind:k`, recomputed; the round's
    /// fresh draw for `random`; sign(θ₀)·σ for `signed-constant`), with the random `mask` applied.
    ///
    /// - Precondition: the reinit rule is not `none` (a branch has no previous round's trained weights; spec
    ///   validation rejects the combination).
    func pruneRandomStart(branchSpec: TrialSpec, round: Int, mask: [LayerMask]) -> MLP {
        precondition(branchSpec.reinit != .none, "IMPRunner: prune-random needs a reinit rule that rewinds")
        let theta0 = initialNetwork
        var rewindPoint: MLP? = nil
        if case .rewind(let k) = branchSpec.reinit, k > 0 { rewindPoint = denseRunWeights(at: k, from: theta0) }
        return Reinit.startingNetwork(
            spec: branchSpec, round: round, mask: mask, theta0: theta0, rewindPoint: rewindPoint)
    }
}

extension TrialSpec {
    /// Control branches that the trial's own rules make meaningless or impossible (called by ``validate()``).
    func validateControls() throws(SpecError) {
        var seen: Set<ControlKind> = []
        for kind in controls where !seen.insert(kind).inserted {
            throw SpecError(key: "controls", message: "'\(kind.rawValue)' is listed twice; list each control once")
        }
        // reinit-random under reinit: random is redundant (one more fresh init), not meaningless, and the shipped
        // paper sweep grids it; only prune-random under none has nothing to train from.
        if controls.contains(.pruneRandom) && reinit == .none {
            throw SpecError(
                key: "controls",
                message:
                    "prune-random trains from the trial's rewound weights, and reinit: none has none (it keeps the previous round's trained weights); use a rewinding reinit rule"
            )
        }
    }
}
