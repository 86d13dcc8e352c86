import Foundation

/// Stands in for ``IMPRunner`` in scheduler benchmarks (`synthetic.round_ms`): each round sleeps instead of
/// training and produces a random nested mask and plausible metrics.
///
/// The masks have the shapes of the spec's network (`[784] + model.layers + [10]`, LeNet-300-100:
/// `[784,300]`, `[300,100]`, `[100,10]`, each `[in, out]`) and follow the trial's density ladder
/// (``PruningPlan``): round r+1's mask removes, among round r's survivors, the same counts magnitude pruning
/// would (per layer, or in total for `global-magnitude`), drawn at random from a stream seeded with the trial's
/// init seed and the round. So a synthetic trial is deterministic and resumable exactly like a real one: the
/// same spec gives the same masks and metrics (except `seconds`), whether it runs in one go or is resumed from
/// a recorded mask. No dataset is read; input and output widths are MNIST's (784 and 10).
///
/// The metrics are a short curve (5 evaluations) of an accuracy that rises with the iteration and falls off
/// slowly with density, with seeded noise. They are there so the results folder, the CSVs and the report look
/// like a real sweep's; they mean nothing.
public struct SyntheticRunner: Sendable {
    public let spec: TrialSpec
    /// The density ladder and the last round.
    public let plan: PruningPlan
    /// The network of the spec on its data set's input shape (no data is read).
    public let architecture: Architecture
    /// How long each round sleeps (`synthetic.round_ms`).
    public let roundDuration: Duration

    /// The process's last synthetic ladder steps: the same seed gives the same masks, so trials that share one need
    /// not draw them again. A hit needs the same input mask too (compared in full, or at once when it is the very
    /// array an earlier step returned).
    static let ladders = ComputeOnceCache<LadderKey, (input: [LayerMask], output: [LayerMask])>(capacity: 64)

    /// - Throws: ``SpecError`` when the spec is inconsistent, has no `synthetic`, or its
    ///   `prune.target_density` cannot be reached.
    public init(spec: TrialSpec) throws(SpecError) {
        try spec.validate()
        guard let synthetic = spec.synthetic else {
            throw SpecError(key: "synthetic.round_ms", message: "not set: this trial is not synthetic")
        }
        self.spec = spec
        architecture = try spec.architecture()
        plan = try PruningPlan(spec: spec, layerSizes: architecture.layerSizes)
        roundDuration = .milliseconds(synthetic.roundMilliseconds)
    }

    /// The all-kept masks of round 0.
    public var denseMasks: [LayerMask] {
        architecture.weightLayers.map { LayerMask(rows: $0.rows, cols: $0.cols, fill: true) }
    }

    /// The mask of round `round + 1`, pruned at random from `mask` (round `round`'s) with the round's seed.
    ///
    /// - Parameters:
    ///   - mask: round `round`'s mask.
    ///   - round: the round that just ended, `0 ..< plan.lastRound`.
    /// - Returns: masks nested in `mask`, keeping `plan.keptTotals[round + 1]` weights.
    public func nextMask(after mask: [LayerMask], round: Int) -> [LayerMask] {
        // Benchmarks run hundreds of trials of a few seeds in one worker process: draw each ladder step once.
        let key = LadderKey(
            seed: spec.initSeed, round: round, strategy: spec.prune.strategy.rawValue, rates: spec.resolvedRates)
        return Self.ladders.value(for: key, isValid: { $0.input == mask }) {
            (mask, drawNextMask(after: mask, round: round))
        }.output
    }

    private func drawNextMask(after mask: [LayerMask], round: Int) -> [LayerMask] {
        let seed = Seed.derive(spec.initSeed, "synthetic/prune/round\(round + 1)")
        let rates = spec.resolvedRates
        if spec.prune.strategy != .globalMagnitude {
            return Pruning.random(masks: mask, rates: rates, seed: seed)
        }
        // Global: the plan's total count, drawn uniformly among the survivors of all layers.
        var survivors: [(layer: Int, index: Int)] = []
        for l in mask.indices {
            for i in mask[l].kept.indices where mask[l].kept[i] { survivors.append((l, i)) }
        }
        let count = Pruning.removalCount(rate: rates[0], remaining: survivors.count)
        var rng = LotteryRNG(seed: seed)
        var next = mask
        for i in 0..<count {
            let j = i + rng.below(survivors.count - i)
            survivors.swapAt(i, j)
            next[survivors[i].layer].kept[survivors[i].index] = false
        }
        return next
    }

    /// Runs rounds `startRound ... plan.lastRound`, sleeping ``roundDuration`` each, calling `onRound` after each.
    ///
    /// The same contract as ``IMPRunner/run(startRound:startMask:progress:onRound:)``.
    /// - Parameters:
    ///   - startRound: the first round; 0 for a fresh trial.
    ///   - startMask: the mask round `startRound` uses (the previous round's ``RoundOutcome/nextMask``); required
    ///     when `startRound > 0`.
    ///   - progress: called on this thread at the start and end of each round's sleep.
    ///   - onRound: receives each round's outcome.
    /// - Throws: ``IMPError`` when `startRound`/`startMask` do not fit this trial; whatever `onRound` throws.
    public func run(
        startRound: Int = 0, startMask: [LayerMask]? = nil, progress: ((IMPProgress) throws -> Void)? = nil,
        onRound: (RoundOutcome) throws -> Void
    ) throws {
        guard startRound >= 0 && startRound <= plan.lastRound else {
            throw IMPError("trial \(spec.trialID): start round \(startRound) is outside 0...\(plan.lastRound)")
        }
        if startRound > 0 && startMask == nil {
            throw IMPError("trial \(spec.trialID): resuming at round \(startRound) needs the mask recorded for it")
        }
        var mask = startRound == 0 ? denseMasks : startMask!
        if let startMask { try check(startMask, round: startRound) }
        if startRound == 0, mask != denseMasks {
            throw IMPError("trial \(spec.trialID): round 0 trains the dense network, but a pruned start mask was given")
        }
        var round = startRound
        while true {
            let started = ContinuousClock.now
            try sleep(round: round, mask: mask, progress: progress)
            let next = round < plan.lastRound ? nextMask(after: mask, round: round) : nil
            try onRound(
                RoundOutcome(
                    metrics: metrics(trialID: spec.trialID, round: round, mask: mask, since: started),
                    mask: mask, nextMask: next))
            guard let next else { return }
            mask = next
            round += 1
        }
    }

    /// A control branch's only round: sleeps once and reports `mask` with synthetic metrics (round 0, the branch
    /// trial's id, no next mask), like ``IMPRunner/runBranch(spec:mask:progress:)``.
    ///
    /// - Throws: ``IMPError`` when the mask does not fit the network.
    public func runBranch(
        spec branchSpec: TrialSpec, mask: [LayerMask], progress: ((IMPProgress) throws -> Void)? = nil
    ) throws -> RoundOutcome {
        guard let branch = branchSpec.branch else {
            preconditionFailure("SyntheticRunner.runBranch: spec has no branch")
        }
        try check(mask, round: nil)
        let started = ContinuousClock.now
        try sleep(round: branch.parentRound, mask: mask, progress: progress)
        return RoundOutcome(
            metrics: metrics(trialID: branchSpec.trialID, round: 0, mask: mask, since: started, salt: "branch"),
            mask: mask, nextMask: nil)
    }

    // MARK: - Internals

    /// Sleeps the round's duration in slices of at most 100 ms, reporting proportional progress after each, so a
    /// throwing `progress` stops a synthetic round as promptly as a real one.
    private func sleep(round: Int, mask: [LayerMask], progress: ((IMPProgress) throws -> Void)?) throws {
        let density = Pruning.density(mask)
        let iterations = spec.train.iterations
        func report(_ iteration: Int) throws {
            try progress?(
                IMPProgress(
                    round: round, lastRound: plan.lastRound, iteration: iteration, iterations: iterations,
                    density: density, replaying: false, lastEval: nil))
        }
        try report(0)
        let c = roundDuration.components
        let seconds = Double(c.seconds) + Double(c.attoseconds) * 1e-18
        var slept = 0.0
        while slept < seconds {
            let slice = min(0.1, seconds - slept)
            Thread.sleep(forTimeInterval: slice)
            slept += slice
            if slept < seconds { try report(Int(Double(iterations) * slept / seconds)) }
        }
        try report(iterations)
    }

    /// Plausible numbers: accuracy ≈ 0.98 at full density, a little lower when very sparse, rising over the curve.
    private func metrics(
        trialID: String, round: Int, mask: [LayerMask], since started: ContinuousClock.Instant, salt: String = "imp"
    ) -> RoundMetrics {
        var rng = LotteryRNG(seed: Seed.derive(spec.initSeed, "synthetic/metrics/\(salt)/round\(round)"))
        let density = Pruning.density(mask)
        let ceiling = 0.98 - 0.1 * max(0, 0.02 - density) / 0.02 + 0.002 * rng.gaussian()
        let iterations = spec.train.iterations
        let curve = (1...5).map { k -> EvalPoint in
            let progress = Double(k) / 5
            let acc = min(0.999, max(0.1, ceiling - 0.08 * (1 - progress) * (1 - progress) + 0.002 * rng.gaussian()))
            return EvalPoint(
                iteration: max(1, iterations * k / 5), valLoss: max(0.01, (1 - acc) * 3 + 0.01 * rng.uniform()),
                valAcc: acc, testAcc: min(0.999, acc + 0.001 * rng.gaussian()))
        }
        let best = curve.indices.min { curve[$0].valLoss < curve[$1].valLoss }!
        let layers = mask.map { m in
            LayerSummary(
                positiveAtInit: 0.5 + 0.01 * rng.gaussian(), positiveAfter: 0.5 + 0.02 * rng.gaussian(),
                meanAbsAtInit: 0.04 * (1 + 0.05 * rng.gaussian()),
                meanAbsAfter: 0.05 * (1 + 0.1 * rng.gaussian()) * (m.density > 0 ? 1 : 0))
        }
        let c = started.duration(to: .now).components
        return RoundMetrics(
            trialID: trialID, round: round, density: density, layerDensities: mask.map(\.density),
            keptCounts: mask.map(\.keptCount), earlyStopIteration: curve[best].iteration,
            valLossAtES: curve[best].valLoss, valAccAtES: curve[best].valAcc, testAccAtES: curve[best].testAcc,
            testAccFinal: curve[curve.count - 1].testAcc, trainAccFinal: min(1, curve[curve.count - 1].valAcc + 0.01),
            seconds: Double(c.seconds) + Double(c.attoseconds) * 1e-18, curve: curve, layers: layers)
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
}

/// What a synthetic ladder step depends on besides its input mask.
struct LadderKey: Hashable {
    var seed: Int
    var round: Int
    var strategy: String
    var rates: [Double]
}
