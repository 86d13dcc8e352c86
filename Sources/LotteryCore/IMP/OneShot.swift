/// One-shot pruning (`prune.schedule: oneshot`; Frankle & Carbin 2019, Figure 4 and §5, iterative vs one-shot):
/// train the dense network once, prune it straight to each density, rewind by the trial's rule and train.
///
/// The trial itself records only round 0 (the dense run). Each density `i` is a branch trial of round 0
/// (``ControlKind/oneshot``, `branch.parent_round` 0, `branch.index` i), scheduled in parallel like control
/// branches. Trained weights do not travel between workers, so a branch first re-trains the dense round 0 from θ₀ —
/// the same spec, seeds and data, hence bit for bit the parent's round 0 — then prunes it. docs/imp.md, "One-shot
/// pruning".
public struct OneShotPlan: Sendable, Hashable {
    /// Per branch index: kept kernel weights per layer (`layerwise-magnitude`, `random`), or `nil` (`global`).
    public let keptPerLayer: [[Int]]?
    /// Per branch index: kept kernel weights in total.
    public let keptTotals: [Int]
    /// Number of density branches.
    public var count: Int { keptTotals.count }

    /// - Parameters:
    ///   - spec: a `prune.schedule: oneshot` trial.
    ///   - plan: the trial's iterative ladder (``PruningPlan``), used when `prune.densities` is not given: branch i
    ///     keeps exactly what IMP's round i+1 keeps, per layer (global: in total), so the rows compare directly.
    /// With `prune.densities`, branch i keeps `round(d_i × n_l)` weights of each layer of n_l (layer-wise and
    /// random pruning: every layer at density d_i) or `round(d_i × N)` in total (global), rounding half away from 0.
    public init(spec: TrialSpec, plan: PruningPlan) {
        if let densities = spec.prune.densities {
            let sizes = plan.layerSizes
            let total = plan.totalWeights
            if spec.prune.strategy == .globalMagnitude {
                keptPerLayer = nil
                keptTotals = densities.map { Int(($0 * Double(total)).rounded()) }
            } else {
                let perLayer = densities.map { d in sizes.map { Int((d * Double($0)).rounded()) } }
                keptPerLayer = perLayer
                keptTotals = perLayer.map { $0.reduce(0, +) }
            }
        } else {
            keptPerLayer = plan.keptPerLayer.map { Array($0.dropFirst()) }
            keptTotals = Array(plan.keptTotals.dropFirst())
        }
    }

    /// The mask of branch `index`: `trained`'s kernels (round 0's trained weights) pruned from all-kept `dense`
    /// masks to the branch's counts by the trial's strategy and criterion (``Pruning``), `initial` = θ₀'s kernels.
    public func mask(
        index: Int, spec: TrialSpec, trained: [[Float]], initial: [[Float]], dense: [LayerMask]
    ) -> [LayerMask] {
        let removing: [Int]
        if let keptPerLayer {
            removing = zip(dense, keptPerLayer[index]).map { $0.kept.count - $1 }
        } else {
            removing = [dense.reduce(0) { $0 + $1.kept.count } - keptTotals[index]]
        }
        let round = index + 1  // random streams as IMP's round index+1 would draw
        return Pruning.prune(
            strategy: spec.prune.strategy, criterion: spec.prune.criterion, weights: trained,
            initial: spec.prune.criterion.usesInitialWeights ? initial : nil, masks: dense, removing: removing,
            randomSeed: spec.prune.criterion == .random
                ? Reinit.criterionRandomSeed(spec, round: round) : Reinit.randomPruneSeed(spec, round: round))
    }
}

extension IMPRunner {
    /// The last round this runner's ``run(startRound:startMask:progress:onRound:)`` trains: ``PruningPlan/lastRound``
    /// for iterative pruning, 0 for one-shot (its densities are branches).
    public var lastRound: Int { spec.prune.schedule == .oneshot ? 0 : plan.lastRound }

    /// The one-shot branches' plan (``OneShotPlan``); `nil` for an iterative trial.
    public var oneShotPlan: OneShotPlan? {
        spec.prune.schedule == .oneshot ? OneShotPlan(spec: spec, plan: plan) : nil
    }

    /// The start of one-shot branch `branchSpec` (``ControlKind/oneshot``): re-trains the dense round 0 (reported as
    /// replaying), prunes it to the branch's density, and returns the network the branch trains from — the trial's
    /// reinit rule applied as for IMP round index+1: θ₀ (`rewind`), the dense run at k (`rewind:k`), a fresh draw
    /// (`random`), sign(θ₀)·σ (`signed-constant`), or the dense run's trained weights (`none`: one-shot prune and
    /// fine-tune) — with its mask.
    /// - Throws: ``IMPError`` for a branch index outside the plan; whatever `progress` throws.
    func oneShotStart(branchSpec: TrialSpec, progress: ((IMPProgress) throws -> Void)?) throws -> (
        start: MLP, mask: [LayerMask]
    ) {
        let oneShot = OneShotPlan(spec: branchSpec, plan: plan)
        guard let branch = branchSpec.branch, branch.index < oneShot.count else {
            throw IMPError("trial \(branchSpec.trialID): one-shot branch index outside the trial's densities")
        }
        let theta0 = initialNetwork
        var dense = theta0
        var rewindIteration = 0
        if case .rewind(let k) = branchSpec.reinit { rewindIteration = k }
        let run = try Trainer(spec: branchSpec, data: data, threads: threads).train(
            &dense, snapshotAt: rewindIteration > 0 ? rewindIteration : nil
        ) { [lastRound = plan.lastRound] p in
            try progress?(
                IMPProgress(
                    round: 0, lastRound: lastRound, iteration: p.iteration, iterations: p.iterations, density: 1,
                    replaying: true, lastEval: p.lastEval))
        }
        let mask = oneShot.mask(
            index: branch.index, spec: branchSpec, trained: dense.layers.map(\.weight.data),
            initial: theta0.layers.map(\.weight.data), dense: denseMasks)
        let start = Reinit.startingNetwork(
            spec: branchSpec, round: branch.index + 1, mask: mask, theta0: theta0, rewindPoint: run.snapshot,
            trained: dense)
        return (start, mask)
    }
}
