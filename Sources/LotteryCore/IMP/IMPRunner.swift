/// What one IMP round (or one control branch) produced: its metrics, the mask it trained with, and the mask
/// the next round trains with.
///
/// The resumable state of a trial is "the mask round r trains with". It is computed at the end of round r−1
/// (by pruning round r−1's trained weights) and travels in round r−1's outcome as ``nextMask``, so a trial
/// whose worker died after recording round r−1 resumes with
/// `run(startRound: r, startMask: outcome[r−1].nextMask)` and produces the same numbers.
public struct RoundOutcome: Sendable, Hashable {
    /// The round's row of `rounds.csv` and its learning curve.
    public var metrics: RoundMetrics
    /// The mask this round trained with (`[in, out]` per layer); round 0's is all-kept.
    public var mask: [LayerMask]
    /// The mask of round `round + 1`, pruned from this round's trained weights; `nil` after the last round
    /// and for branches.
    public var nextMask: [LayerMask]?

    public init(metrics: RoundMetrics, mask: [LayerMask], nextMask: [LayerMask]?) {
        self.metrics = metrics
        self.mask = mask
        self.nextMask = nextMask
    }
}

/// Where an IMP run is, for progress displays and ETAs.
public struct IMPProgress: Sendable, Hashable {
    /// The round training (for a branch: its parent round).
    public var round: Int
    /// The trial's last round (``PruningPlan/lastRound``).
    public var lastRound: Int
    /// Iterations done in this round, and its length.
    public var iteration: Int
    public var iterations: Int
    /// Kernel density of the round's mask.
    public var density: Double
    /// True while a resumed `reinit: none` trial retrains earlier rounds to recover their weights.
    public var replaying: Bool
    /// The latest evaluation of this round, if any yet.
    public var lastEval: EvalPoint?
}

/// A problem with the state a run was asked to resume from (a mask that does not fit the trial).
public struct IMPError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one IMP trial round by round (Frankle & Carbin 2019, §2, "iterative pruning").
///
/// Round 0 trains the dense network from θ₀. At the end of every round but the last, the round's trained
/// kernel weights are pruned among the survivors by `prune.strategy` (``Pruning``) into the next round's mask;
/// the next round starts from the reinit rule's weights (``Reinit/startingNetwork(spec:round:mask:theta0:rewindPoint:trained:)``)
/// with that mask fixed (the ``Trainer`` keeps pruned weights exactly 0). The trial ends after
/// ``PruningPlan/lastRound`` (from `prune.rounds` or `prune.target_density`).
///
/// Deterministic: the same spec and data give bit-identical metrics (except `seconds`) and masks, whether a
/// trial runs in one go or is resumed from a recorded mask. What a resume recomputes:
/// - `rewind:k` (k > 0): the dense run's weights after k iterations, by re-running the first k iterations of
///   round 0 from θ₀ with the same batch order (the ``Trainer`` restarts its order stream every call).
/// - `none`: the previous round's trained weights are not in any mask, so the rounds before `startRound` are
///   retrained (replayed, not reported) and the replayed mask is checked against `startMask`.
///
/// Not thread-safe to share across threads while running (it drives one single-threaded ``Trainer``).
public struct IMPRunner: Sendable {
    public let spec: TrialSpec
    public let data: DataSplits
    /// The density ladder and the last round.
    public let plan: PruningPlan
    /// The network: `spec.model.layers` on the data's input shape.
    public let architecture: Architecture
    /// Threads each training call may use (conv networks; ``Trainer/threads``). Not part of the trial: the
    /// numbers are the same for any value.
    public let threads: Int

    /// - Throws: ``SpecError`` when the spec is inconsistent (``TrialSpec/validate()``) or its
    ///   `prune.target_density` cannot be reached.
    public init(spec: TrialSpec, data: DataSplits, threads: Int = 1) throws(SpecError) {
        precondition(threads >= 1, "IMPRunner: \(threads) threads")
        try spec.validate()
        self.threads = threads
        self.spec = spec
        self.data = data
        architecture = try Architecture(
            tokens: spec.model.layers, input: data.train.shape, classes: data.train.classes)
        plan = try PruningPlan(spec: spec, layerSizes: architecture.layerSizes)
    }

    /// θ₀: the trial's initial network (``TrialSpec/initSeed``).
    public var initialNetwork: MLP {
        MLP(architecture: architecture, initializer: spec.model.initializer, seed: spec.initSeed)
    }

    /// The all-kept masks of round 0.
    public var denseMasks: [LayerMask] {
        architecture.weightLayers.map { LayerMask(rows: $0.rows, cols: $0.cols, fill: true) }
    }

    /// Runs rounds `startRound ... plan.lastRound`, calling `onRound` after each.
    ///
    /// - Parameters:
    ///   - startRound: the first round to train; 0 for a fresh trial.
    ///   - startMask: the mask round `startRound` trains with (the previous round's ``RoundOutcome/nextMask``);
    ///     required when `startRound > 0`, must be `nil` or all-kept for round 0.
    ///   - progress: called on this thread during training (every 100 iterations and every evaluation); it may
    ///     throw to stop the run at once, mid-round (a cancelled trial).
    ///   - onRound: receives each round's outcome as soon as it is known (stream it, store it).
    /// - Throws: ``IMPError`` when `startRound`/`startMask` do not fit this trial; whatever `progress` or `onRound`
    ///   throws (the run stops there).
    public func run(
        startRound: Int = 0, startMask: [LayerMask]? = nil, progress: ((IMPProgress) throws -> Void)? = nil,
        onRound: (RoundOutcome) throws -> Void
    ) throws {
        let lastRound = self.lastRound  // 0 for one-shot: its densities are branches (OneShot.swift)
        guard startRound >= 0 && startRound <= lastRound else {
            throw IMPError("trial \(spec.trialID): start round \(startRound) is outside 0...\(lastRound)")
        }
        if let startMask { try check(startMask, round: startRound) }
        if startRound > 0 && startMask == nil {
            throw IMPError("trial \(spec.trialID): resuming at round \(startRound) needs the mask recorded for it")
        }
        if startRound == 0, let startMask, startMask != denseMasks {
            throw IMPError("trial \(spec.trialID): round 0 trains the dense network, but a pruned start mask was given")
        }
        let theta0 = initialNetwork
        let rewindIteration: Int
        if case .rewind(let k) = spec.reinit { rewindIteration = k } else { rewindIteration = 0 }
        let trainer = Trainer(spec: spec, data: data, threads: threads)

        // `none` cannot be resumed from a mask alone: replay from round 0 (see the type's discussion).
        let replay = spec.reinit == .none && startRound > 0
        var round = replay ? 0 : startRound
        var mask = round == 0 ? denseMasks : startMask!
        var rewindPoint: MLP? = nil
        if rewindIteration > 0 && round > 0 { rewindPoint = denseRunWeights(at: rewindIteration, from: theta0) }
        var trained: MLP? = nil

        while true {
            let started = ContinuousClock.now
            if replay && round == startRound && mask != startMask! {
                throw IMPError(
                    "trial \(spec.trialID): the mask given for round \(startRound) is not the one this trial produces (replayed from round 0); it belongs to another trial or run"
                )
            }
            let start =
                round == 0
                ? theta0
                : Reinit.startingNetwork(
                    spec: spec, round: round, mask: mask, theta0: theta0, rewindPoint: rewindPoint, trained: trained)
            var model = start
            let density = Pruning.density(mask)
            let replaying = round < startRound
            let run = try trainer.train(&model, snapshotAt: round == 0 && rewindIteration > 0 ? rewindIteration : nil) {
                [round, lastRound] p in
                try progress?(
                    IMPProgress(
                        round: round, lastRound: lastRound, iteration: p.iteration, iterations: p.iterations,
                        density: density, replaying: replaying, lastEval: p.lastEval))
            }
            if round == 0 && rewindIteration > 0 { rewindPoint = run.snapshot }

            var next: [LayerMask]? = nil
            if round < lastRound {
                let criterion = spec.prune.criterion
                let pruned = Pruning.prune(
                    strategy: spec.prune.strategy, criterion: criterion, weights: model.layers.map(\.weight.data),
                    initial: criterion.usesInitialWeights ? start.layers.map(\.weight.data) : nil, masks: mask,
                    rates: spec.resolvedRates,
                    randomSeed: criterion == .random
                        ? Reinit.criterionRandomSeed(spec, round: round + 1)
                        : Reinit.randomPruneSeed(spec, round: round + 1))
                precondition(
                    pruned.reduce(0) { $0 + $1.keptCount } == plan.keptTotals[round + 1],
                    "IMPRunner: pruning kept a different count than the plan at round \(round + 1)")
                next = pruned
            }
            if !replaying {
                let seconds = seconds(since: started)
                let metrics = Self.metrics(
                    trialID: spec.trialID, round: round, start: start, trained: model, run: run, seconds: seconds
                ).withSupermask(mask: mask, theta0: theta0, initializer: spec.model.initializer, test: data.test)
                try onRound(RoundOutcome(metrics: metrics, mask: mask, nextMask: next))
            }
            guard let next else { return }
            trained = model
            mask = next
            round += 1
        }
    }

    /// Trains one control branch: `branchSpec`'s parent-round mask from a fresh random initialisation
    /// (``Reinit/branchInitSeed(_:)``), one round (the paper's randomly reinitialised tickets, Figure 4).
    ///
    /// The outcome is the branch trial's only round: `metrics.trialID` is `branchSpec.trialID`,
    /// `metrics.round` is 0, densities are those of `mask`, ``RoundOutcome/nextMask`` is `nil`.
    /// - Parameters:
    ///   - branchSpec: a spec with ``TrialSpec/branch`` set (``TrialSpec/branch(_:round:index:)``), with the same
    ///     model and data as this runner.
    ///   - mask: the parent trial's mask of round `branchSpec.branch.parentRound`.
    ///   - progress: called during training; it may throw to stop the run at once.
    /// - Throws: ``IMPError`` when the mask does not fit the network; whatever `progress` throws.
    public func runBranch(
        spec branchSpec: TrialSpec, mask: [LayerMask], progress: ((IMPProgress) throws -> Void)? = nil
    ) throws -> RoundOutcome {
        guard let branch = branchSpec.branch else { preconditionFailure("IMPRunner.runBranch: spec has no branch") }
        precondition(branchSpec.model == spec.model, "IMPRunner.runBranch: branch model differs from the runner's")
        try check(mask, round: nil)
        let started = ContinuousClock.now
        var start: MLP
        var mask = mask
        switch branch.kind {
        case .reinitRandom:
            start = Reinit.branchNetwork(spec: branchSpec, architecture: architecture)
            start.apply(masks: mask)
        case .pruneRandom:
            mask = Pruning.randomMask(like: mask, seed: Reinit.branchMaskSeed(branchSpec))
            start = pruneRandomStart(branchSpec: branchSpec, round: branch.parentRound, mask: mask)
        case .oneshot:
            (start, mask) = try oneShotStart(branchSpec: branchSpec, progress: progress)
        }
        var model = start
        let density = Pruning.density(mask)
        let run = try Trainer(spec: branchSpec, data: data, threads: threads).train(&model) { [lastRound = plan.lastRound] p in
            try progress?(
                IMPProgress(
                    round: branch.parentRound, lastRound: lastRound, iteration: p.iteration, iterations: p.iterations,
                    density: density, replaying: false, lastEval: p.lastEval))
        }
        let metrics = Self.metrics(
            trialID: branchSpec.trialID, round: 0, start: start, trained: model, run: run,
            seconds: seconds(since: started)
        ).withSupermask(mask: mask, theta0: initialNetwork, initializer: spec.model.initializer, test: data.test)
        return RoundOutcome(metrics: metrics, mask: mask, nextMask: nil)
    }

    /// The dense run's network after `iteration` iterations from `theta0`: the first `iteration` steps of round
    /// 0 re-run with the same batch order (the rewind point of `rewind:k`).
    public func denseRunWeights(at iteration: Int, from theta0: MLP) -> MLP {
        precondition(
            iteration >= 0 && iteration <= spec.train.iterations,
            "IMPRunner: rewind iteration \(iteration) out of range")
        guard iteration > 0 else { return theta0 }
        var short = spec
        short.train.iterations = iteration
        short.train.evalEvery = iteration
        var model = theta0
        _ = Trainer(spec: short, data: data, threads: threads).train(&model)
        return model
    }

    /// A round's metrics (``RoundMetrics/init(trialID:round:initial:trained:run:)``) with `seconds` the round's
    /// wall time (pruning and reinit included, not only training).
    static func metrics(trialID: String, round: Int, start: MLP, trained: MLP, run: TrainingRun, seconds: Double)
        -> RoundMetrics
    {
        var metrics = RoundMetrics(trialID: trialID, round: round, initial: start, trained: trained, run: run)
        metrics.seconds = seconds
        return metrics
    }

    private func check(_ mask: [LayerMask], round: Int?) throws {
        let shapes = architecture.weightLayers.map { [$0.rows, $0.cols] }
        guard mask.map({ [$0.rows, $0.cols] }) == shapes else {
            throw IMPError(
                "trial \(spec.trialID): mask shapes \(mask.map { "\($0.rows)x\($0.cols)" }) do not fit the network's \(shapes.map { "\($0[0])x\($0[1])" })"
            )
        }
        if let round, round > 0 {
            let kept = mask.reduce(0) { $0 + $1.keptCount }
            guard kept == plan.keptTotals[round] else {
                throw IMPError(
                    "trial \(spec.trialID): the mask for round \(round) keeps \(kept) weights, the trial's round \(round) keeps \(plan.keptTotals[round])"
                )
            }
        }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let c = start.duration(to: .now).components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
