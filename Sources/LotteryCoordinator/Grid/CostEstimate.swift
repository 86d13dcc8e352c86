import Foundation
public import LotteryCore

/// What a sweep will cost, said before anything is registered (issue 17, "Bad input and safety").
///
/// An **estimate** from the network's floating-point work, not a measurement: a round is its training steps
/// (forward + backward ≈ 3 × the forward pass, × batch), an evaluation of the validation split and the 10,000 test
/// images every `train.eval_every` iterations, and one pass over the training images; all at
/// ``flopsPerCoreSecond``. Synthetic trials (`synthetic.round_ms`) cost their sleep.
public enum CostEstimate {
    /// 160 GFLOP/s per core: a Conv-2 training step on one thread with Winograd F(4×4) (10.2 steps/s × 15.8 GFLOP)
    /// and its evaluation (1,900 images/s × 0.088 GFLOP) on the Intel family 6 model 207 VM of docs/conv.md (Conv-4
    /// and Conv-6 run 200–240 there, so this is the low end). MLP trials on MNIST run faster than their FLOPs say
    /// (zero pixels and pruned weights are skipped): for LeNet-300-100 this estimate is about 1.2× the measured
    /// dense round (2.5× at the 80 GFLOP/s this was before Winograd F(4×4); docs/performance.md), so read it as an
    /// upper bound there.
    public static let flopsPerCoreSecond = 160e9

    /// Test images evaluated with the validation split at every evaluation (MNIST, Fashion-MNIST, CIFAR-10).
    static let testImages = 10_000.0
    /// Training images evaluated once per round (the `train_acc_final` pass).
    static let trainImages = 55_000.0

    /// Core-seconds of one round of `spec` (0 when its network does not fit its data: refused at validation).
    public static func coreSecondsPerRound(of spec: TrialSpec) -> Double {
        if let synthetic = spec.synthetic { return Double(synthetic.roundMilliseconds) / 1000 }
        guard let architecture = try? spec.architecture() else { return 0 }
        let forward = architecture.forwardFLOPs
        let iterations = Double(spec.train.iterations)
        let evaluations = (iterations / Double(max(1, spec.train.evalEvery))).rounded(.up)
        let evaluated = Double(spec.data.validation) + testImages
        let flops =
            3 * forward * Double(spec.train.batch) * iterations + forward * evaluations * evaluated
            + forward * trainImages
        return flops / flopsPerCoreSecond
    }

    /// Core-seconds of a top-level trial and every control branch it spawns (each branch trains one round), those
    /// of controls a later spec version added included.
    public static func coreSeconds(of spec: TrialSpec, adding added: AddedControls? = nil) -> Double {
        let rounds = RoundEstimate.rounds(of: spec) + RoundEstimate.branchTrials(of: spec, adding: added)
        return coreSecondsPerRound(of: spec) * Double(rounds)
    }

    /// "12,345" (thousands separated by commas, whatever the locale).
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// Core-hours as people read them: "0.02", "5.4", "1,980".
    public static func hours(_ coreSeconds: Double) -> String {
        let hours = coreSeconds / 3600
        if hours >= 100 { return grouped(Int(hours.rounded())) }
        if hours >= 1 { return String(format: "%.1f", hours) }
        return String(format: "%.2g", hours)
    }
}

/// The size of a sweep, known before its trials are expanded: counts from the grid's shape, cost from a sample.
public struct SweepSize: Sendable, Hashable, CustomStringConvertible {
    /// Top-level trials: the product of the axis sizes × seeds (computed without expanding them).
    public var trials: Int
    /// Control branch trials they will spawn (exact when the sweep was expanded, else estimated from the sample).
    public var branchTrials: Int
    /// Rounds the whole sweep records, branches included (same caveat).
    public var rounds: Int
    /// ``CostEstimate`` of the whole sweep.
    public var coreSeconds: Double
    /// Whether the figures come from every trial (`true`) or from a sample of grid points scaled up.
    public var exact: Bool
    /// Each axis and its size, then the seeds, as in "1000 train.lr × 10 prune.rounds × 1000 seeds".
    public var shape: String

    public init(
        trials: Int, branchTrials: Int, rounds: Int, coreSeconds: Double, exact: Bool, shape: String
    ) {
        self.trials = trials
        self.branchTrials = branchTrials
        self.rounds = rounds
        self.coreSeconds = coreSeconds
        self.exact = exact
        self.shape = shape
    }

    /// "600 trials (+ 400 control branches), 1,000 rounds, ~5.4 core-hours (estimate)".
    public var description: String {
        let approximate = exact ? "" : "~"
        var text = "\(CostEstimate.grouped(trials)) trial\(trials == 1 ? "" : "s")"
        if branchTrials > 0 { text += " (+ \(approximate)\(CostEstimate.grouped(branchTrials)) control branches)" }
        text += ", \(approximate)\(CostEstimate.grouped(rounds)) rounds, ~\(CostEstimate.hours(coreSeconds)) core-hours"
        return text + " (estimate at \(Int(CostEstimate.flopsPerCoreSecond / 1e9)) GFLOP/s per core)"
    }
}
