import LotteryCore

/// A ROUND_RESULT's metrics as the wire spells them: the JSON keys of the current protocol version, written here and
/// not taken from ``RoundMetrics``' `Codable` conformance (see ``WireSpec``). `GoldenBytesTests` pins the bytes.
struct WireMetrics: Codable {
    var trialID: String
    var round: Int
    var density: Double
    var layerDensities: [Double]
    var keptCounts: [Int]
    var earlyStopIteration: Int
    var valLossAtES: Double
    var valAccAtES: Double
    var testAccAtES: Double
    var testAccFinal: Double
    var trainAccFinal: Double
    var seconds: Double
    var curve: [Point]
    var layers: [Layer]
    var supermaskTestAcc: Double?
    var supermaskSignedConstantTestAcc: Double?

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

    /// One point of the learning curve.
    struct Point: Codable {
        var iteration: Int
        var valLoss: Double
        var valAcc: Double
        var testAcc: Double

        enum CodingKeys: String, CodingKey {
            case iteration
            case valLoss = "val_loss"
            case valAcc = "val_acc"
            case testAcc = "test_acc"
        }
    }

    /// One weight layer's kept weights, at init and after training.
    struct Layer: Codable {
        var positiveAtInit: Double
        var positiveAfter: Double
        var meanAbsAtInit: Double
        var meanAbsAfter: Double

        enum CodingKeys: String, CodingKey {
            case positiveAtInit = "positive_at_init"
            case positiveAfter = "positive_after"
            case meanAbsAtInit = "mean_abs_at_init"
            case meanAbsAfter = "mean_abs_after"
        }
    }
}

extension WireMetrics {
    init(_ m: RoundMetrics) {
        self.init(
            trialID: m.trialID, round: m.round, density: m.density, layerDensities: m.layerDensities,
            keptCounts: m.keptCounts, earlyStopIteration: m.earlyStopIteration, valLossAtES: m.valLossAtES,
            valAccAtES: m.valAccAtES, testAccAtES: m.testAccAtES, testAccFinal: m.testAccFinal,
            trainAccFinal: m.trainAccFinal, seconds: m.seconds,
            curve: m.curve.map {
                Point(iteration: $0.iteration, valLoss: $0.valLoss, valAcc: $0.valAcc, testAcc: $0.testAcc)
            },
            layers: m.layers.map {
                Layer(
                    positiveAtInit: $0.positiveAtInit, positiveAfter: $0.positiveAfter,
                    meanAbsAtInit: $0.meanAbsAtInit, meanAbsAfter: $0.meanAbsAfter)
            },
            supermaskTestAcc: m.supermaskTestAcc, supermaskSignedConstantTestAcc: m.supermaskSignedConstantTestAcc)
    }

    var metrics: RoundMetrics {
        RoundMetrics(
            trialID: trialID, round: round, density: density, layerDensities: layerDensities, keptCounts: keptCounts,
            earlyStopIteration: earlyStopIteration, valLossAtES: valLossAtES, valAccAtES: valAccAtES,
            testAccAtES: testAccAtES, testAccFinal: testAccFinal, trainAccFinal: trainAccFinal, seconds: seconds,
            curve: curve.map {
                EvalPoint(iteration: $0.iteration, valLoss: $0.valLoss, valAcc: $0.valAcc, testAcc: $0.testAcc)
            },
            layers: layers.map {
                LayerSummary(
                    positiveAtInit: $0.positiveAtInit, positiveAfter: $0.positiveAfter,
                    meanAbsAtInit: $0.meanAbsAtInit, meanAbsAfter: $0.meanAbsAfter)
            },
            supermaskTestAcc: supermaskTestAcc, supermaskSignedConstantTestAcc: supermaskSignedConstantTestAcc)
    }
}
