/// The reinitialisation rules of IMP: what the surviving weights start from in rounds ≥ 1, and the seeds of
/// every random draw a trial makes besides θ₀ and the batch order.
///
/// Every seed derives from the trial's ``TrialSpec/initSeed`` and the round (or the branch identity) on a
/// named stream (``Seed/derive(_:_:)``), so a round resumed on another worker draws exactly the same values.
public enum Reinit {
    /// Seed of the fresh initialisation of round `round` under `reinit: random`.
    public static func randomInitSeed(_ spec: TrialSpec, round: Int) -> Int {
        Seed.derive(spec.initSeed, "reinit-random/round\(round)")
    }

    /// Seed of `prune.strategy: random` when it produces the mask of round `round` (pruning at the end of
    /// round `round − 1`).
    public static func randomPruneSeed(_ spec: TrialSpec, round: Int) -> Int {
        Seed.derive(spec.initSeed, "prune-random/round\(round)")
    }

    /// Seed of the fresh initialisation of a control branch (``TrialSpec/branch``): different for every
    /// kind, parent round and seed index, and different from θ₀ and from every `reinit: random` round.
    ///
    /// - Precondition: `spec.branch` is set.
    public static func branchInitSeed(_ spec: TrialSpec) -> Int {
        guard let branch = spec.branch else { preconditionFailure("Reinit.branchInitSeed: spec has no branch") }
        return Seed.derive(
            spec.initSeed, "branch/\(branch.kind.rawValue)/round\(branch.parentRound)/index\(branch.index)")
    }

    /// The network a round ≥ 1 starts from, with `mask` applied (pruned weights exactly 0).
    ///
    /// | rule | kept kernel weights | biases |
    /// |---|---|---|
    /// | `rewind` | θ₀ (bit for bit) | θ₀'s |
    /// | `rewind:k` | the dense run's weights after k iterations | the same snapshot's |
    /// | `random` | a fresh draw of the init scheme from ``randomInitSeed(_:round:)`` | zero |
    /// | `none` | the previous round's trained weights | trained |
    /// | `signed-constant` | sign(θ₀)·σ_l, σ_l the layer's init std (``MLP/initStd(fanIn:fanOut:initializer:)``); sign(0) = + | θ₀'s |
    ///
    /// Rewinding is Frankle & Carbin (2019); `rewind:k` is Frankle et al. (2019, "Stabilizing the Lottery
    /// Ticket Hypothesis"); signed constants are Zhou et al. (2019, "Deconstructing Lottery Tickets").
    /// - Parameters:
    ///   - spec: the trial (rule, init scheme, seeds).
    ///   - round: the round about to train (≥ 1; used by `random`).
    ///   - mask: the round's mask, one per layer, `[in, out]`.
    ///   - theta0: the trial's initial network.
    ///   - rewindPoint: the dense run's network after `k` iterations (required for `rewind:k`, k > 0).
    ///   - trained: the previous round's trained network (required for `none`).
    public static func startingNetwork(
        spec: TrialSpec, round: Int, mask: [LayerMask], theta0: MLP, rewindPoint: MLP? = nil, trained: MLP? = nil
    ) -> MLP {
        var model: MLP
        switch spec.reinit {
        case .rewind(let k):
            if k == 0 {
                model = theta0
            } else {
                guard let rewindPoint else {
                    preconditionFailure("Reinit: rewind:\(k) needs the dense run's weights at iteration \(k)")
                }
                model = rewindPoint
            }
        case .random:
            model = MLP(
                architecture: theta0.architecture, initializer: spec.model.initializer,
                seed: randomInitSeed(spec, round: round))
            for l in model.layers.indices {
                model.layers[l].bias = [Float](repeating: 0, count: model.layers[l].bias.count)
            }
        case .none:
            guard let trained else {
                preconditionFailure("Reinit: reinit none needs the previous round's trained weights")
            }
            model = trained
        case .signedConstant:
            model = signedConstant(theta0, initializer: spec.model.initializer)
        }
        model.apply(masks: mask)
        return model
    }

    /// θ₀ with every kernel weight replaced by sign(w)·σ of its layer (sign(0) taken as +); biases unchanged.
    public static func signedConstant(_ theta0: MLP, initializer: InitScheme) -> MLP {
        var model = theta0
        for l in model.layers.indices {
            let layer = model.layers[l]
            let sigma = Float(theta0.initStd(layer: l, initializer: initializer))
            model.layers[l].weight.data = layer.weight.data.map { $0 < 0 ? -sigma : sigma }
        }
        return model
    }

    /// A fresh, dense network for a control branch (``branchInitSeed(_:)``), biases zero.
    public static func branchNetwork(spec: TrialSpec, architecture: Architecture) -> MLP {
        MLP(architecture: architecture, initializer: spec.model.initializer, seed: branchInitSeed(spec))
    }
}
