/// Mask criteria: which survivors a magnitude pruning strategy keeps, as a function of each weight's value at
/// the start of the round (`w_init`) and after its training (`w_final`).
///
/// Names and definitions are those of Zhou et al. (2019, "Deconstructing Lottery Tickets: Zeros, Signs, and the
/// Supermask", §2 and Figure 2); docs/imp.md gives each one precisely, with ties and counts. `large_final` is
/// Frankle & Carbin's magnitude rule and the default.
public enum PruneCriterion: String, Codable, Sendable, Hashable, CaseIterable {
    /// Keep the largest |w_final| (Frankle & Carbin 2019).
    case largeFinal = "large_final"
    /// Keep the smallest |w_final|.
    case smallFinal = "small_final"
    /// Keep the largest |w_init|.
    case largeInit = "large_init"
    /// Keep the smallest |w_init|.
    case smallInit = "small_init"
    /// Keep weights large both at init and after training (a common rank cut-off in |w_init| and |w_final|).
    case largeInitLargeFinal = "large_init_large_final"
    /// Keep weights small both at init and after training (a common rank cut-off from the small end).
    case smallInitSmallFinal = "small_init_small_final"
    /// Keep the largest |w_final| − |w_init|.
    case magnitudeIncrease = "magnitude_increase"
    /// Keep the largest |w_final − w_init|.
    case movement
    /// Keep uniformly random survivors (scores from a ``LotteryRNG`` stream of the trial and round).
    case random

    /// Whether the criterion reads `w_init` (the weights the round started training from).
    public var usesInitialWeights: Bool {
        switch self {
        case .largeFinal, .smallFinal, .random: return false
        default: return true
        }
    }
}

/// How a trial reaches its densities (Frankle & Carbin 2019, Figure 4 and §5: iterative vs one-shot pruning).
public enum PruneSchedule: String, Codable, Sendable, Hashable, CaseIterable {
    /// Train, prune a fraction of the survivors, rewind, repeat (IMP): every density is one more round.
    case iterative
    /// Train the dense network once (round 0), then prune it straight to each density, rewind and train: one
    /// independent branch of round 0 per density.
    case oneshot
}

extension TrialSpec.Prune {
    // Written by hand only so that a default `criterion` is neither required when decoding (specs stored or sent
    // before the key existed) nor written when encoding (the JSON of a default spec stays byte for byte the same).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        strategy = try c.decode(PruneStrategy.self, forKey: .strategy)
        rates = try c.decodeIfPresent([Double].self, forKey: .rates)
        rounds = try c.decode(Int.self, forKey: .rounds)
        targetDensity = try c.decodeIfPresent(Double.self, forKey: .targetDensity)
        criterion = try c.decodeIfPresent(PruneCriterion.self, forKey: .criterion) ?? .largeFinal
        schedule = try c.decodeIfPresent(PruneSchedule.self, forKey: .schedule) ?? .iterative
        densities = try c.decodeIfPresent([Double].self, forKey: .densities)
        kindRates = try c.decodeIfPresent(TrialSpec.KindRates.self, forKey: .kindRates)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(strategy, forKey: .strategy)
        try c.encodeIfPresent(rates, forKey: .rates)
        try c.encode(rounds, forKey: .rounds)
        try c.encodeIfPresent(targetDensity, forKey: .targetDensity)
        if criterion != .largeFinal { try c.encode(criterion, forKey: .criterion) }
        if schedule != .iterative { try c.encode(schedule, forKey: .schedule) }
        try c.encodeIfPresent(densities, forKey: .densities)
        try c.encodeIfPresent(kindRates, forKey: .kindRates)
    }
}

extension TrialSpec {
    /// Consistency checks of the issue-16 keys (mask criteria, control branches); called by ``validate()``.
    func validateCriteria() throws(SpecError) {
        if prune.strategy == .random && prune.criterion != .largeFinal {
            throw SpecError(
                key: "prune.criterion",
                message:
                    "\(prune.criterion.rawValue) needs a magnitude strategy; prune.strategy random ignores the weights (use prune.criterion: random with layerwise-magnitude instead)"
            )
        }
        if let densities = prune.densities {
            guard prune.schedule == .oneshot else {
                throw SpecError(
                    key: "prune.densities", message: "is for prune.schedule: oneshot; IMP's densities come from prune.rates")
            }
            if densities.isEmpty {
                throw SpecError(key: "prune.densities", message: "is empty; give at least one density in (0, 1)")
            }
            if let dense = densities.first(where: { $0 >= 1 }) {
                throw SpecError(key: "prune.densities", message: "\(dense) prunes nothing; give densities below 1")
            }
        }
        if prune.schedule == .oneshot {
            if prune.densities == nil && prune.rounds == 0 && prune.targetDensity == nil {
                throw SpecError(
                    key: "prune.schedule",
                    message:
                        "oneshot has no densities to reach: set prune.densities, prune.rounds ≥ 1 or prune.target_density"
                )
            }
            if !controls.isEmpty {
                throw SpecError(
                    key: "controls",
                    message:
                        "control branches run on IMP rounds ≥ 1; a oneshot trial has only round 0 and its density branches (use controls with prune.schedule: iterative)"
                )
            }
        }
        if let branch, branch.kind == .oneshot, branch.parentRound != 0 || branch.index < 0 || prune.schedule != .oneshot {
            throw SpecError(
                key: "branch", message: "oneshot branch index \(branch.index) / parent round \(branch.parentRound) out of range")
        }
    }
}
