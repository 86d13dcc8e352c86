import Foundation

/// Builds RFC 4180 CSV text: fields with a comma, quote, CR or LF are quoted, quotes doubled; lines end in LF.
public struct CSVWriter: Sendable {
    public private(set) var text = ""

    public init() {}

    /// Appends one record.
    public mutating func append(_ fields: [String]) {
        text += fields.map(Self.escape).joined(separator: ",")
        text += "\n"
    }

    /// One field, quoted if it needs to be.
    public static func escape(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Writes the text atomically.
    public func write(to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// The columns and rows of `rounds.csv` and `curves.csv` (see the README's results layout).
///
/// `rounds.csv`: `trial_id`, every ``TrialSpec/columns`` key (dotted names) — plus the ``TrialSpec/branchColumns``
/// when `branchColumns` is set — then `round, density, density_l0 … density_l{L-1}, early_stop_iteration,
/// val_loss_at_es, val_acc_at_es, test_acc_at_es, test_acc_final, train_acc_final, seconds`.
/// `curves.csv`: `trial_id, round, iteration, val_loss, val_acc, test_acc`.
/// Numbers use Swift's shortest round-trip form.
public enum ResultTables {
    public static func roundsHeader(layerCount: Int, branchColumns: Bool = false) -> [String] {
        ["trial_id"] + TrialSpec.keys.map(\.name) + (branchColumns ? TrialSpec.branchColumns : []) + ["round", "density"]
            + (0..<layerCount).map { "density_l\($0)" }
            + ["early_stop_iteration", "val_loss_at_es", "val_acc_at_es", "test_acc_at_es", "test_acc_final",
               "train_acc_final", "seconds"]
    }

    public static func roundsRow(spec: TrialSpec, metrics: RoundMetrics, branchColumns: Bool = false) -> [String] {
        var row = [metrics.trialID] + spec.columns.map(\.value.description)
        if branchColumns {
            if let branch = spec.branch {
                row += [branch.kind.rawValue, branch.parentTrial, String(branch.parentRound), String(branch.index)]
            } else {
                row += ["", "", "", ""]
            }
        }
        row += [String(metrics.round), number(metrics.density)] + metrics.layerDensities.map(number)
        row += [String(metrics.earlyStopIteration), number(metrics.valLossAtES), number(metrics.valAccAtES),
                number(metrics.testAccAtES), number(metrics.testAccFinal), number(metrics.trainAccFinal),
                number(metrics.seconds)]
        return row
    }

    public static let curvesHeader = ["trial_id", "round", "iteration", "val_loss", "val_acc", "test_acc"]

    public static func curvesRows(metrics: RoundMetrics) -> [[String]] {
        metrics.curve.map {
            [metrics.trialID, String(metrics.round), String($0.iteration), number($0.valLoss), number($0.valAcc), number($0.testAcc)]
        }
    }

    /// Both files' full text for one trial's rounds.
    public static func render(spec: TrialSpec, rounds: [RoundMetrics]) -> (rounds: String, curves: String) {
        var roundsCSV = CSVWriter(), curvesCSV = CSVWriter()
        let branch = spec.branch != nil
        roundsCSV.append(roundsHeader(layerCount: spec.weightLayerCount, branchColumns: branch))
        curvesCSV.append(curvesHeader)
        for metrics in rounds {
            roundsCSV.append(roundsRow(spec: spec, metrics: metrics, branchColumns: branch))
            for row in curvesRows(metrics: metrics) { curvesCSV.append(row) }
        }
        return (roundsCSV.text, curvesCSV.text)
    }

    static func number(_ value: Double) -> String { SpecValue.double(value).description }
}
