public import LotteryCore

/// The one list of the column names of `trials.csv`, `rounds.csv` and `curves.csv` (docs/results.md).
///
/// Everything that writes or reads those files names a column through these constants: ``ResultsCSV`` builds its
/// headers from them, and `LotteryAnalysis` looks columns up by them, so a rename happens here or nowhere
/// (`ColumnLiteralTests` fails when a column name appears as a string literal elsewhere in `Sources/`).
///
/// Hyperparameter columns are the dotted keys of ``TrialSpec/keys`` (LotteryCore owns that vocabulary); the few the
/// readers need by name are restated here and checked against `TrialSpec.columnNames` by a test.
public enum ResultsColumn {
    // MARK: identity and spec columns read by name

    public static let trialID = "trial_id"
    /// Spec keys the report groups by (``TrialSpec/keys``).
    public static let dataset = "dataset"
    public static let modelLayers = "model.layers"
    public static let seed = "seed"
    public static let seedsInit = "seeds.init"
    public static let seedsOrder = "seeds.order"
    public static let seedsSplit = "seeds.split"
    public static let controls = "controls"
    public static let controlsSeeds = "controls_seeds"
    public static let pruneStrategy = "prune.strategy"
    public static let reinit = "reinit"
    /// Branch identity (``TrialSpec/branchColumns``), empty on a main trial.
    public static let branchKind = TrialSpec.branchColumns[0]
    public static let branchParentTrial = TrialSpec.branchColumns[1]
    public static let branchParentRound = TrialSpec.branchColumns[2]
    public static let branchIndex = TrialSpec.branchColumns[3]

    // MARK: rounds.csv

    public static let round = "round"
    public static let density = "density"
    public static let earlyStopIteration = "early_stop_iteration"
    public static let valLossAtES = "val_loss_at_es"
    public static let valAccAtES = "val_acc_at_es"
    public static let testAccAtES = "test_acc_at_es"
    public static let testAccFinal = "test_acc_final"
    public static let trainAccFinal = "train_acc_final"
    public static let seconds = "seconds"
    public static let worker = "worker"
    public static let host = "host"
    public static let supermaskTestAcc = "supermask_test_acc"
    public static let supermaskSignedConstantTestAcc = "supermask_signed_constant_test_acc"

    /// Per-layer groups, each written as `<group>_l0 … <group>_l{L-1}` (``perLayer(_:_:)``).
    public enum LayerGroup: String, Sendable, CaseIterable {
        case density
        case kept
        case positiveAtInit = "positive_at_init"
        case positiveAfter = "positive_after"
        case meanAbsAtInit = "mean_abs_at_init"
        case meanAbsAfter = "mean_abs_after"
    }

    /// `<group>_l<layer>`, `layer` 0 being the first weight layer.
    public static func perLayer(_ group: LayerGroup, _ layer: Int) -> String { "\(group.rawValue)_l\(layer)" }

    // MARK: curves.csv

    public static let iteration = "iteration"
    public static let valLoss = "val_loss"
    public static let valAcc = "val_acc"
    public static let testAcc = "test_acc"

    // MARK: trials.csv

    public static let status = "status"
    public static let tries = "tries"
    public static let reason = "reason"
    public static let startedAt = "started_at"
    public static let endedAt = "ended_at"
    public static let roundsDone = "rounds_done"
    public static let expectedRounds = "expected_rounds"

    // MARK: both trials.csv and rounds.csv, last

    /// The version of the sweep's spec that registered the trial (1 = as first run; each extension adds one).
    public static let specVersion = "spec_version"
}
