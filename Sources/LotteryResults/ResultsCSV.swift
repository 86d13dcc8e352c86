public import Foundation
public import LotteryCore

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The one definition of the columns of `trials.csv`, `rounds.csv` and `curves.csv` (docs/results.md).
///
/// Pure functions of LotteryCore values, so `lth train` and the coordinator write the same columns in the
/// same order. Cells are RFC 4180 fields (quoted when they hold a comma, quote or line break, quotes doubled);
/// lines end in `\n`. Hyperparameters are the dotted keys of ``TrialSpec/keys`` in canonical order, with values
/// as ``SpecValue/description`` prints them (lists as `[300, 100]`, unset values empty), followed by the branch
/// identity columns ``TrialSpec/branchColumns`` (empty on a non-branch trial). Per-layer columns use the suffix
/// `_l<i>`, `i` = 0 for the first weight layer; a file holds as many as its widest trial, narrower trials leave
/// the extra cells empty.
public enum ResultsCSV {
    /// File names inside a results folder.
    public static let trialsFileName = "trials.csv"
    public static let roundsFileName = "rounds.csv"
    public static let curvesFileName = "curves.csv"

    /// Hyperparameter and branch columns, shared by `trials.csv` and `rounds.csv`.
    public static var specColumns: [String] { TrialSpec.columnNames + TrialSpec.branchColumns }

    /// Cells of ``specColumns`` for one trial.
    public static func specCells(_ spec: TrialSpec) -> [String] {
        var cells = spec.columns.map { $0.value.description }
        if let branch = spec.branch {
            cells += [branch.kind.rawValue, branch.parentTrial, String(branch.parentRound), String(branch.index)]
        } else {
            cells += Array(repeating: "", count: TrialSpec.branchColumns.count)
        }
        return cells
    }

    // MARK: rounds.csv

    typealias C = ResultsColumn

    /// Metric columns of `rounds.csv` before the per-layer density columns.
    static let roundsLeadingMetrics = [C.round, C.density]
    /// Metric columns after the per-layer densities and before the layer summaries.
    static let roundsScalarMetrics = [
        C.earlyStopIteration, C.valLossAtES, C.valAccAtES, C.testAccAtES, C.testAccFinal, C.trainAccFinal, C.seconds,
        C.worker, C.host,
    ]
    /// Per-layer groups at the end of `rounds.csv`, each `<name>_l0 … <name>_l{L-1}`.
    static let roundsTrailingLayerGroups: [C.LayerGroup] = [
        .kept, .positiveAtInit, .positiveAfter, .meanAbsAtInit, .meanAbsAfter,
    ]
    /// Columns appended after the per-layer groups (added later; appended so earlier columns keep their places).
    static let roundsAppendedMetrics = [C.supermaskTestAcc, C.supermaskSignedConstantTestAcc, C.specVersion]

    /// Header of `rounds.csv` for trials with at most `layerCount` weight layers:
    /// `trial_id`, spec columns, `round`, `density`, `density_l*`, early-stopping and final metrics, `seconds`,
    /// `worker`, `host`, then `kept_l*`, `positive_at_init_l*`, `positive_after_l*`, `mean_abs_at_init_l*`,
    /// `mean_abs_after_l*`, then `supermask_test_acc`, `supermask_signed_constant_test_acc` (empty when not measured),
    /// then `spec_version`.
    public static func roundsHeader(layerCount: Int) -> [String] {
        var header = [C.trialID] + specColumns + roundsLeadingMetrics
        header += perLayer(.density, layerCount)
        header += roundsScalarMetrics
        for group in roundsTrailingLayerGroups { header += perLayer(group, layerCount) }
        return header + roundsAppendedMetrics
    }

    /// One `rounds.csv` row, aligned with ``roundsHeader(layerCount:)``.
    public static func roundsRow(
        spec: TrialSpec, metrics: RoundMetrics, worker: String, host: String, layerCount: Int, specVersion: Int = 1
    ) -> [String] {
        var row = [metrics.trialID] + specCells(spec) + [String(metrics.round), CSV.number(metrics.density)]
        row += padded(metrics.layerDensities.map { CSV.number($0) }, layerCount)
        row += [
            String(metrics.earlyStopIteration), CSV.number(metrics.valLossAtES), CSV.number(metrics.valAccAtES),
            CSV.number(metrics.testAccAtES), CSV.number(metrics.testAccFinal), CSV.number(metrics.trainAccFinal),
            CSV.number(metrics.seconds), worker, host,
        ]
        row += padded(metrics.keptCounts.map(String.init), layerCount)
        row += padded(metrics.layers.map { CSV.number($0.positiveAtInit) }, layerCount)
        row += padded(metrics.layers.map { CSV.number($0.positiveAfter) }, layerCount)
        row += padded(metrics.layers.map { CSV.number($0.meanAbsAtInit) }, layerCount)
        row += padded(metrics.layers.map { CSV.number($0.meanAbsAfter) }, layerCount)
        row += [metrics.supermaskTestAcc, metrics.supermaskSignedConstantTestAcc].map { $0.map(CSV.number) ?? "" }
        return row + [String(specVersion)]
    }

    // MARK: curves.csv

    /// Header of `curves.csv`: one row per trial × round × evaluation.
    public static let curvesHeader = [C.trialID, C.round, C.iteration, C.valLoss, C.valAcc, C.testAcc]

    /// One `curves.csv` row.
    public static func curvesRow(trialID: String, round: Int, point: EvalPoint) -> [String] {
        [
            trialID, String(round), String(point.iteration), CSV.number(point.valLoss), CSV.number(point.valAcc),
            CSV.number(point.testAcc),
        ]
    }

    // MARK: trials.csv

    /// Status columns of `trials.csv` after the spec columns.
    static let trialsStatusColumns = [
        C.status, C.tries, C.reason, C.worker, C.host, C.startedAt, C.endedAt, C.roundsDone, C.expectedRounds,
        C.specVersion,
    ]

    /// Header of `trials.csv`: `trial_id`, spec columns, then status, tries, reason, worker, host, started_at,
    /// ended_at, rounds_done, expected_rounds, spec_version.
    public static var trialsHeader: [String] { [C.trialID] + specColumns + trialsStatusColumns }

    /// One `trials.csv` row, aligned with ``trialsHeader``; `nil` cells are empty.
    public static func trialsRow(
        trialID: String, spec: TrialSpec, status: String, tries: Int, reason: String?, worker: String?,
        host: String?, startedAt: String?, endedAt: String?, roundsDone: Int, expectedRounds: Int?, specVersion: Int = 1
    ) -> [String] {
        [trialID] + specCells(spec) + [status, String(tries)]
            + [reason, worker, host, startedAt, endedAt].map { $0 ?? "" }
            + [String(roundsDone), expectedRounds.map(String.init) ?? "", String(specVersion)]
    }

    // MARK: cells and lines

    /// ISO 8601 UTC with milliseconds, e.g. `2025-03-01T12:34:56.789Z` (the form of every timestamp column).
    public static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(fraction), 3))Z"
    }

    static func perLayer(_ group: C.LayerGroup, _ count: Int) -> [String] {
        (0..<count).map { C.perLayer(group, $0) }
    }

    static func padded(_ cells: [String], _ count: Int) -> [String] {
        Array(cells.prefix(count)) + Array(repeating: "", count: max(0, count - cells.count))
    }
}
