/// One evaluation of the network during a round: validation loss/accuracy and test accuracy.
public struct EvalPoint: Codable, Sendable, Hashable {
    public var iteration: Int
    public var valLoss: Double
    public var valAcc: Double
    public var testAcc: Double

    public init(iteration: Int, valLoss: Double, valAcc: Double, testAcc: Double) {
        self.iteration = iteration
        self.valLoss = valLoss
        self.valAcc = valAcc
        self.testAcc = testAcc
    }

    enum CodingKeys: String, CodingKey {
        case iteration
        case valLoss = "val_loss"
        case valAcc = "val_acc"
        case testAcc = "test_acc"
    }
}

/// Summary of one weight layer's kept weights, for structural analysis (sign and magnitude at init and after).
public struct LayerSummary: Codable, Sendable, Hashable {
    /// Fraction of kept weights that are positive at the start of the round (after reinit).
    public var positiveAtInit: Double
    /// Fraction of kept weights that are positive after the round's training.
    public var positiveAfter: Double
    /// Mean |w| of kept weights at the start of the round.
    public var meanAbsAtInit: Double
    /// Mean |w| of kept weights after the round's training.
    public var meanAbsAfter: Double

    public init(positiveAtInit: Double, positiveAfter: Double, meanAbsAtInit: Double, meanAbsAfter: Double) {
        self.positiveAtInit = positiveAtInit
        self.positiveAfter = positiveAfter
        self.meanAbsAtInit = meanAbsAtInit
        self.meanAbsAfter = meanAbsAfter
    }

    enum CodingKeys: String, CodingKey {
        case positiveAtInit = "positive_at_init"
        case positiveAfter = "positive_after"
        case meanAbsAtInit = "mean_abs_at_init"
        case meanAbsAfter = "mean_abs_after"
    }
}

/// What one IMP round of one trial measured: the row of `rounds.csv` plus its learning curve.
///
/// Accuracies are fractions in [0, 1]; densities count kernel weights only (biases are never pruned).
/// The early-stopping iteration is the evaluation step of minimum validation loss, found after the round
/// trained its full length (Frankle & Carbin 2019).
public struct RoundMetrics: Codable, Sendable, Hashable {
    public var trialID: String
    public var round: Int
    /// Kept kernel weights / all kernel weights.
    public var density: Double
    /// Per weight layer, the same fraction.
    public var layerDensities: [Double]
    /// Per weight layer, kept weight count.
    public var keptCounts: [Int]
    public var earlyStopIteration: Int
    public var valLossAtES: Double
    public var valAccAtES: Double
    public var testAccAtES: Double
    public var testAccFinal: Double
    public var trainAccFinal: Double
    /// Wall-clock seconds the round took on its worker.
    public var seconds: Double
    public var curve: [EvalPoint]
    public var layers: [LayerSummary]
    /// Supermask (Zhou et al. 2019): test accuracy of this round's mask applied to the trial's untrained θ₀, and
    /// to θ₀'s signed-constant version (kept weights sign(θ₀)·σ_l), no training. `nil` where not measured
    /// (synthetic runs, results recorded before the field existed).
    public var supermaskTestAcc: Double?
    public var supermaskSignedConstantTestAcc: Double?

    public init(
        trialID: String, round: Int, density: Double, layerDensities: [Double], keptCounts: [Int],
        earlyStopIteration: Int, valLossAtES: Double, valAccAtES: Double, testAccAtES: Double, testAccFinal: Double,
        trainAccFinal: Double, seconds: Double, curve: [EvalPoint], layers: [LayerSummary],
        supermaskTestAcc: Double? = nil, supermaskSignedConstantTestAcc: Double? = nil
    ) {
        self.supermaskTestAcc = supermaskTestAcc
        self.supermaskSignedConstantTestAcc = supermaskSignedConstantTestAcc
        self.trialID = trialID
        self.round = round
        self.density = density
        self.layerDensities = layerDensities
        self.keptCounts = keptCounts
        self.earlyStopIteration = earlyStopIteration
        self.valLossAtES = valLossAtES
        self.valAccAtES = valAccAtES
        self.testAccAtES = testAccAtES
        self.testAccFinal = testAccFinal
        self.trainAccFinal = trainAccFinal
        self.seconds = seconds
        self.curve = curve
        self.layers = layers
    }

    enum CodingKeys: String, CodingKey {
        case trialID = "trial_id"
        case round, density, seconds, curve, layers
        case layerDensities = "layer_densities"
        case keptCounts = "kept_counts"
        case earlyStopIteration = "early_stop_iteration"
        case valLossAtES = "val_loss_at_es"
        case valAccAtES = "val_acc_at_es"
        case testAccAtES = "test_acc_at_es"
        case testAccFinal = "test_acc_final"
        case trainAccFinal = "train_acc_final"
        case supermaskTestAcc = "supermask_test_acc"
        case supermaskSignedConstantTestAcc = "supermask_signed_constant_test_acc"
    }
}

/// A pruning mask as the training core sees it: one kept/pruned flag per kernel weight, per layer.
///
/// Layer `l` is `[rows, cols]` = `[fan_in, fan_out]`, row-major, matching the weight layout.
public struct LayerMask: Sendable, Hashable {
    public let rows: Int
    public let cols: Int
    public var kept: [Bool]

    public init(rows: Int, cols: Int, kept: [Bool]) {
        precondition(kept.count == rows * cols, "LayerMask: \(kept.count) flags for a \(rows)x\(cols) layer")
        self.rows = rows
        self.cols = cols
        self.kept = kept
    }

    public init(rows: Int, cols: Int, fill: Bool) {
        self.init(rows: rows, cols: cols, kept: Array(repeating: fill, count: rows * cols))
    }

    public var keptCount: Int { kept.reduce(0) { $0 + ($1 ? 1 : 0) } }
    public var density: Double { kept.isEmpty ? 0 : Double(keptCount) / Double(kept.count) }
}
