import Foundation
public import LotteryCore
import LotteryResults

private typealias C = ResultsColumn

/// A results folder from `lth sweep` or `lth train --out`, read through its CSVs (never `results.db`).
///
/// Layout (docs/report.md): `rounds.csv` (required), `curves.csv`, `trials.csv`, `masks/<trial>/round-NN.ltmask`.
/// Columns are read by name. Trials are grouped into *configurations*: all hyperparameter columns except
/// `seed` and `seeds.*` (the configuration's seeds are averaged over) and except `controls`/`controls_seeds`
/// (which say which branches run beside a trial, not how it trains), plus `branch.kind`, so control branches
/// form their own configurations.
public struct ResultsFolder: Sendable {
    /// One trial: a row group of `rounds.csv`.
    public struct Trial: Sendable, Hashable {
        public var id: String
        /// Index into ``ResultsFolder/configurations``.
        public var configuration: Int
        /// The `seed` column (text as written).
        public var seed: String
        /// `branch.kind` (e.g. `reinit-random`), `nil` on a main IMP trial.
        public var branchKind: String?
        public var parentTrial: String?
        public var parentRound: Int?
        /// The network, from the `dataset` and `model.layers` columns (`nil` when they are missing or unreadable).
        public var architecture: Architecture? = nil
        /// `branch.index` (seed index of a control; density index of a one-shot branch).
        public var branchIndex: Int? = nil
    }

    /// Trials that differ only in their seeds.
    public struct Configuration: Sendable, Hashable {
        /// Display name: the hyperparameters that vary across the sweep (`reinit=random, prune.strategy=random`),
        /// or "winning ticket" / "random reinit (control)" when nothing varies.
        public var name: String
        /// Canonical text of the grouping columns (`name=value; …`).
        public var key: String
        /// Whether its trials are control branches.
        public var isControl: Bool
        /// Its trials' ids, in file order.
        public var trialIDs: [String]
    }

    /// One row of `rounds.csv`.
    public struct Round: Sendable, Hashable {
        public var trialID: String
        /// The `round` column.
        public var round: Int
        /// The IMP round whose mask was trained: `round` for a main trial, `branch.parent_round` for a control
        /// branch, `branch.index + 1` for a one-shot branch (its density is the ladder's round index+1 by default).
        public var maskRound: Int
        public var density: Double
        public var earlyStopIteration: Double?
        public var testAccAtES: Double?
        public var valAccAtES: Double?
        public var testAccFinal: Double?
        public var seconds: Double?
        public var host: String?
        /// Per layer, from `positive_at_init_l*` … `mean_abs_after_l*` (`nil` where the columns are absent).
        public var summaries: [LayerSummary?]
        /// `supermask_test_acc`, `supermask_signed_constant_test_acc` (`nil` when absent or empty).
        public var supermaskTestAcc: Double? = nil
        public var supermaskSignedConstantTestAcc: Double? = nil
    }

    public let directory: String
    public let trials: [Trial]
    public let configurations: [Configuration]
    public let rounds: [Round]
    /// `curves.csv`, or `nil` when the folder has none.
    public let curves: CSVTable?
    /// `trials.csv`, or `nil` when the folder has none.
    public let trialsTable: CSVTable?
    /// Hyperparameter columns that vary across main trials (the parts of configuration names).
    public let varyingColumns: [String]
    private let trialIndex: [String: Int]

    /// Columns that never separate configurations.
    static let seedColumns: Set<String> = [
        C.seed, C.seedsInit, C.seedsOrder, C.seedsSplit, C.controls, C.controlsSeeds,
    ]

    /// Reads the folder's CSVs.
    ///
    /// - Throws: ``ReportError`` naming the file when `rounds.csv` is missing, or a CSV is malformed or lacks a
    ///   required column (`trial_id`, `round`, `density`).
    public init(directory: String) throws(ReportError) {
        self.directory = directory
        let roundsPath = (directory as NSString).appendingPathComponent(ResultsCSV.roundsFileName)
        guard FileManager.default.fileExists(atPath: roundsPath) else {
            throw ReportError(
                path: roundsPath, "no rounds.csv: give the folder written by `lth sweep` or `lth train --out DIR`")
        }
        let table = try CSVTable(contentsOf: roundsPath)
        for required in [C.trialID, C.round, C.density] where !table.has(required) {
            throw ReportError(path: roundsPath, line: 1, "missing column '\(required)'")
        }
        let hyperColumns = TrialSpec.columnNames.filter { table.has($0) && !Self.seedColumns.contains($0) }
        let cell = { (row: [String], name: String) -> String? in
            guard let position = table.column(name) else { return nil }
            let text = row[position].trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? nil : text
        }
        let number = { (row: [String], name: String) -> Double? in cell(row, name).flatMap(Double.init) }

        // Trials in file order, with their grouping values.
        var trialOrder: [String] = []
        var firstRow: [String: [String]] = [:]
        for row in table.rows {
            let id = row[table.column(C.trialID)!]
            if firstRow[id] == nil {
                firstRow[id] = row
                trialOrder.append(id)
            }
        }
        let mainIDs = trialOrder.filter { cell(firstRow[$0]!, C.branchKind) == nil }
        var varying: [String] = []
        for column in hyperColumns {
            let values = Set(mainIDs.map { cell(firstRow[$0]!, column) ?? "" })
            if values.count > 1 { varying.append(column) }
        }
        self.varyingColumns = varying

        var configurations: [Configuration] = []
        var configurationIndex: [String: Int] = [:]
        var trials: [Trial] = []
        var trialIndex: [String: Int] = [:]
        for id in trialOrder {
            let row = firstRow[id]!
            let kind = cell(row, C.branchKind)
            var key = hyperColumns.map { "\($0)=\(cell(row, $0) ?? "")" }.joined(separator: "; ")
            if let kind { key += "; branch.kind=\(kind)" }
            let index: Int
            if let known = configurationIndex[key] {
                index = known
            } else {
                let base = varying.map { "\($0)=\(cell(row, $0) ?? "")" }.joined(separator: ", ")
                let name: String
                if let kind {
                    let control =
                        switch kind {
                        case "reinit-random": "random reinit (control)"
                        case "prune-random": "random pruning (control)"
                        case "oneshot": "one-shot pruning"
                        default: "\(kind) (control)"
                        }
                    name = base.isEmpty ? control : "\(base) · \(control)"
                } else {
                    name = base.isEmpty ? "winning ticket" : base
                }
                index = configurations.count
                configurationIndex[key] = index
                configurations.append(Configuration(name: name, key: key, isControl: kind != nil, trialIDs: []))
            }
            configurations[index].trialIDs.append(id)
            trialIndex[id] = trials.count
            trials.append(
                Trial(
                    id: id, configuration: index, seed: cell(row, C.seed) ?? "", branchKind: kind,
                    parentTrial: cell(row, C.branchParentTrial),
                    parentRound: cell(row, C.branchParentRound).flatMap { Int($0) },
                    architecture: Self.architecture(dataset: cell(row, C.dataset), layers: cell(row, C.modelLayers)),
                    branchIndex: cell(row, C.branchIndex).flatMap { Int($0) }))
        }

        var layerCount = 0
        while table.has(C.perLayer(.density, layerCount)) || table.has(C.perLayer(.positiveAtInit, layerCount)) { layerCount += 1 }
        var rounds: [Round] = []
        rounds.reserveCapacity(table.rows.count)
        for (offset, row) in table.rows.enumerated() {
            let id = row[table.column(C.trialID)!]
            guard let round = cell(row, C.round).flatMap({ Int($0) }) else {
                throw ReportError(path: roundsPath, line: offset + 2, "column 'round' is not an integer")
            }
            guard let density = number(row, C.density) else {
                throw ReportError(path: roundsPath, line: offset + 2, "column 'density' is not a number")
            }
            let trial = trials[trialIndex[id]!]
            let summaries: [LayerSummary?] = (0..<layerCount).map { layer in
                guard let positiveAtInit = number(row, C.perLayer(.positiveAtInit, layer)),
                    let positiveAfter = number(row, C.perLayer(.positiveAfter, layer)),
                    let meanAbsAtInit = number(row, C.perLayer(.meanAbsAtInit, layer)),
                    let meanAbsAfter = number(row, C.perLayer(.meanAbsAfter, layer))
                else { return nil }
                return LayerSummary(
                    positiveAtInit: positiveAtInit, positiveAfter: positiveAfter, meanAbsAtInit: meanAbsAtInit,
                    meanAbsAfter: meanAbsAfter)
            }
            rounds.append(
                Round(
                    trialID: id, round: round,
                    maskRound: trial.branchKind == nil
                        ? round
                        : trial.branchKind == "oneshot" ? (trial.branchIndex ?? 0) + 1 : (trial.parentRound ?? round),
                    density: density, earlyStopIteration: number(row, C.earlyStopIteration),
                    testAccAtES: number(row, C.testAccAtES), valAccAtES: number(row, C.valAccAtES),
                    testAccFinal: number(row, C.testAccFinal), seconds: number(row, C.seconds),
                    host: cell(row, C.host), summaries: summaries,
                    supermaskTestAcc: number(row, C.supermaskTestAcc),
                    supermaskSignedConstantTestAcc: number(row, C.supermaskSignedConstantTestAcc)))
        }
        self.trials = trials
        self.trialIndex = trialIndex
        self.configurations = configurations
        self.rounds = rounds

        let curvesPath = (directory as NSString).appendingPathComponent(ResultsCSV.curvesFileName)
        curves = FileManager.default.fileExists(atPath: curvesPath) ? try CSVTable(contentsOf: curvesPath) : nil
        if let curves {
            for required in [C.trialID, C.round, C.iteration, C.testAcc] where !curves.has(required) {
                throw ReportError(path: curvesPath, line: 1, "missing column '\(required)'")
            }
        }
        let trialsPath = (directory as NSString).appendingPathComponent(ResultsCSV.trialsFileName)
        trialsTable = FileManager.default.fileExists(atPath: trialsPath) ? try CSVTable(contentsOf: trialsPath) : nil
    }

    /// The trial with id `id`.
    public func trial(_ id: String) -> Trial? { trialIndex[id].map { trials[$0] } }

    /// Path of the mask file of `trial`'s `round`, whether or not it exists: `masks/<trial>/round-NN.ltmask`.
    public func maskPath(trial: String, round: Int) -> String {
        let name = round < 10 ? "round-0\(round).ltmask" : "round-\(round).ltmask"
        return (directory as NSString).appendingPathComponent("masks/\(trial)/\(name)")
    }

    /// The network a trial's `dataset` and `model.layers` cells describe.
    public static func architecture(dataset: String?, layers: String?) -> Architecture? {
        guard let layers else { return nil }
        var spec = TrialSpec()
        do {
            if let dataset { try spec.set("dataset", to: .string(dataset)) }
            try spec.set("model.layers", to: SpecValue.parse(layers))
            return try spec.architecture()
        } catch {
            return nil
        }
    }

}
