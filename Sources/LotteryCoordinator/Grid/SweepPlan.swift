import Foundation
public import LotteryCore
public import LotterySpecFile
import Yams

/// One value of one grid axis at a grid point, e.g. `prune.strategy = random`.
public struct AxisValue: Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var value: SpecValue

    public init(key: String, value: SpecValue) {
        self.key = key
        self.value = value
    }

    public var description: String { "\(key)=\(value)" }
}

/// One axis of a sweep grid: a dotted hyperparameter and the values it takes, in file order.
public struct GridAxis: Sendable, Hashable {
    public var key: String
    public var values: [SpecValue]

    public init(key: String, values: [SpecValue]) {
        self.key = key
        self.values = values
    }
}

/// One top-level trial of a sweep: its spec, its id and the grid point it came from.
public struct PlannedTrial: Sendable, Hashable {
    /// ``TrialSpec/trialID`` of ``spec``.
    public var id: String
    public var spec: TrialSpec
    /// The grid point, axes in file order (for display; the seed is `spec.seed`).
    public var axisValues: [AxisValue]
    /// Controls the spec asks for beyond ``spec``'s own, when the trial was registered by an earlier version of the
    /// sweep with fewer (``SweepPlan/extending(registered:)``); `nil` otherwise.
    public var addedControls: AddedControls?

    public init(spec: TrialSpec, axisValues: [AxisValue] = [], addedControls: AddedControls? = nil) {
        self.id = spec.trialID
        self.spec = spec
        self.axisValues = axisValues
        self.addedControls = addedControls
    }

    /// Control branch trials it spawns in all (``RoundEstimate/branchTrials(of:adding:)``).
    public var branchTrials: Int { RoundEstimate.branchTrials(of: spec, adding: addedControls) }
}

/// A sweep expanded into trials: the cartesian product of the grid axes × seeds, applied to `base`.
///
/// Order is deterministic: axes in file order, the last axis varying fastest, seeds innermost.
/// Branch (control) trials are not listed: they exist only once their parent's round mask is recorded
/// (the scheduler creates them), but they are counted in ``expectedBranchTrials`` and ``expectedRounds``.
public struct SweepPlan: Sendable {
    /// The sweep's name: the results folder `results/<name>/`.
    public var name: String
    /// Path of the file it was loaded from.
    public var file: String
    /// The file as written, byte for byte: saved as `sweep.yaml` ("the spec as run").
    public var sourceText: String
    public var axes: [GridAxis]
    public var seeds: [Int]
    /// Top-level trials in expansion order.
    public var trials: [PlannedTrial]

    public init(name: String, file: String, sourceText: String, axes: [GridAxis], seeds: [Int], trials: [PlannedTrial])
    {
        self.name = name
        self.file = file
        self.sourceText = sourceText
        self.axes = axes
        self.seeds = seeds
        self.trials = trials
    }

    /// Identity of the sweep as run: SHA-256 (hex) of its sorted trial ids, one per line.
    ///
    /// Trial ids hash every resolved hyperparameter, so two files that expand to the same trials have the
    /// same fingerprint (comments, key order and axis order do not matter) and any change to a trial
    /// changes it. A restart on an existing results folder checks it before resuming.
    public var fingerprint: String {
        SHA256.hexDigest(Array(trials.map(\.id).sorted().joined(separator: "\n").utf8))
    }

    /// Branch trials the sweep will create: per trial, one per control kind × `controls_seeds` × pruned round.
    public var expectedBranchTrials: Int {
        trials.reduce(0) { $0 + $1.branchTrials }
    }

    /// Trials, branches, rounds and estimated core-hours of the expanded sweep (``CostEstimate``).
    public var size: SweepSize {
        SweepSize(
            trials: trials.count, branchTrials: expectedBranchTrials, rounds: expectedRounds,
            coreSeconds: trials.reduce(0) { $0 + CostEstimate.coreSeconds(of: $1.spec, adding: $1.addedControls) },
            exact: true,
            shape: SweepLoader.shape(axes: axes, seeds: seeds.count))
    }

    /// Rounds the whole sweep will record, branch trials included (for progress and ETA).
    ///
    /// Exact for `prune.rounds`; for `prune.target_density` see ``RoundEstimate/rounds(of:)``.
    public var expectedRounds: Int {
        trials.reduce(0) { $0 + RoundEstimate.rounds(of: $1.spec) + $1.branchTrials }
    }
}

/// Loads a sweep file and expands it into trials.
///
/// Format (docs/sweep-spec.md): `name`, optional `description`, `base` (hyperparameters, nested or dotted),
/// `grid` (dotted key → non-empty list of values) and `seeds` (a count n meaning 0..<n, or a list).
/// - Parameter path: The YAML file.
/// - Returns: The expanded plan.
/// - Throws: ``SpecFileError`` naming the file, line and key: YAML syntax, unknown section or key, a bad
///   value (with the allowed values), an empty or non-list axis, a trial that fails validation, two grid
///   points that give the same trial.
/// - Parameter maxTrials: the most top-level trials the sweep may expand to (``SweepLoader/defaultMaxTrials``
///   unless the user raised it with `--max-trials`). The count is computed from the grid's shape before any trial
///   is expanded, so a typo that asks for millions costs neither time nor memory.
public func loadSweep(path: String, maxTrials: Int = SweepLoader.defaultMaxTrials) throws(SpecFileError) -> SweepPlan {
    try SweepLoader(document: SpecDocument(path: path)).plan(maxTrials: maxTrials)
}

/// Parses sweep text that did not come from a file (tests, `lth sweep -` from stdin); `file` names it in errors.
public func parseSweep(
    text: String, file: String, maxTrials: Int = SweepLoader.defaultMaxTrials
) throws(SpecFileError) -> SweepPlan {
    try SweepLoader(document: SpecDocument(text: text, file: file)).plan(maxTrials: maxTrials)
}

/// The expansion itself, kept apart from file reading.
public struct SweepLoader {
    static let sections = ["name", "description", "base", "grid", "seeds"]

    /// Top-level trials a sweep may have unless `--max-trials` raises the limit: more than any experiment of the
    /// papers this project reproduces (the largest shipped sweep has 30), few enough to expand in well under a
    /// second and a few MB.
    public static let defaultMaxTrials = 10_000

    /// Grid points sampled to estimate the cost of a sweep that is too large to expand.
    static let costSample = 256

    let document: SpecDocument

    /// "1000 train.lr × 10 prune.rounds × 1000 seeds".
    static func shape(axes: [GridAxis], seeds: Int) -> String {
        (axes.map { "\($0.values.count) \($0.key)" } + ["\(seeds) seed\(seeds == 1 ? "" : "s")"])
            .joined(separator: " × ")
    }

    func plan(maxTrials: Int) throws(SpecFileError) -> SweepPlan {
        var nameNode: Node?
        var baseNode: Node?
        var gridNode: Node?
        var gridKeyLine: Int?
        var seedsNode: Node?
        for (keyNode, value) in document.root {
            let key = try document.keyText(keyNode, section: "")
            switch key {
            case "name": nameNode = value
            case "description": break
            case "base": baseNode = value
            case "grid":
                gridNode = value
                gridKeyLine = keyNode.mark?.line
            case "seeds": seedsNode = value
            default:
                let hint =
                    TrialSpec.keys.contains { $0.name == key || $0.name.hasPrefix(key + ".") }
                    ? " (hyperparameters go under base: or grid:)" : ""
                throw document.error(
                    at: keyNode, key: key,
                    "unknown section\(hint); allowed: \(Self.sections.joined(separator: ", "))"
                )
            }
        }

        let name = try self.name(nameNode)

        // base: hyperparameters applied to every trial.
        var base = TrialSpec()
        var baseLines: [String: Int] = [:]
        var baseEntries: [SpecEntry] = []
        if let baseNode {
            guard case .mapping(let mapping) = baseNode else {
                throw document.error(at: baseNode, key: "base", "expected a map of hyperparameters")
            }
            baseEntries = TrialSpec.presetsFirst(try document.entries(of: mapping, section: "base."), key: \.key)
            for entry in baseEntries {
                do {
                    try base.set(entry.key, to: entry.value)
                } catch {
                    throw SpecFileError(
                        file: document.file, line: entry.line, key: "base." + error.key, message: error.message)
                }
                baseLines[entry.key] = entry.line
            }
        }

        // grid: axes in file order.
        var axes: [GridAxis] = []
        var axisLines: [String: Int] = [:]
        if let gridNode, gridNode.tag.description != Tag.Name.null.rawValue {
            guard case .mapping(let mapping) = gridNode else {
                throw document.error(at: gridNode, key: "grid", "expected a map of key: [values, …]")
            }
            for leaf in try document.leaves(of: mapping, section: "grid.") {
                let key = "grid." + leaf.key
                if leaf.key == "seed" {
                    throw document.error(
                        at: leaf.node, key: key, "give seeds at the top level: 'seeds: 5' or 'seeds: [0, 1]'")
                }
                guard case .sequence(let sequence) = leaf.node else {
                    throw document.error(
                        at: leaf.node, key: key,
                        "an axis must be a list of values, e.g. [\(leaf.node.scalar?.string ?? "a"), …]; put single values under base:"
                    )
                }
                guard !sequence.isEmpty else {
                    throw document.error(at: leaf.node, key: key, "empty axis; give at least one value")
                }
                if let line = baseLines[leaf.key] {
                    throw document.error(at: leaf.node, key: key, "also set in base (line \(line)); keep one")
                }
                var values: [SpecValue] = []
                for item in sequence {
                    let value = try document.value(of: item, key: key)
                    // Check each value once, at its own line, against the base spec.
                    var probe = base
                    do {
                        try probe.set(leaf.key, to: value)
                    } catch {
                        throw SpecFileError(
                            file: document.file, line: item.mark?.line, key: "grid." + error.key, message: error.message
                        )
                    }
                    values.append(value)
                }
                axes.append(GridAxis(key: leaf.key, values: values))
                axisLines[leaf.key] = leaf.node.mark?.line
            }
        }

        let seeds = try self.seeds(seedsNode, baseSeed: base.seed, baseSetsSeed: baseLines["seed"], maxTrials: maxTrials)

        // The size first, from the grid's shape alone: nothing is expanded before it is known to be allowed.
        var count = seeds.count
        for axis in axes {
            let (product, overflow) = count.multipliedReportingOverflow(by: axis.values.count)
            count = overflow ? Int.max : product
        }

        /// The validated spec of one grid point (seed not yet set).
        func spec(at point: [AxisValue]) throws(SpecFileError) -> TrialSpec {
            var spec = base
            if let preset = point.first(where: { $0.key == "model" }) {
                // A preset on a grid axis comes first too: the base's explicit keys win over it.
                spec = TrialSpec()
                do {
                    try spec.set("model", to: preset.value)
                    for entry in baseEntries where entry.key != "model" { try spec.set(entry.key, to: entry.value) }
                } catch {
                    throw SpecFileError(
                        file: document.file, line: axisLines["model"], key: "grid." + error.key, message: error.message)
                }
            }
            for value in point where value.key != "model" {
                do {
                    try spec.set(value.key, to: value.value)
                } catch {
                    throw SpecFileError(
                        file: document.file, line: axisLines[value.key], key: "grid." + error.key,
                        message: error.message)
                }
            }
            let pointText = point.isEmpty ? "the base" : point.map(\.description).joined(separator: ", ")
            do {
                try spec.validate()
            } catch {
                let line = axisLines[error.key] ?? baseLines[error.key] ?? gridKeyLine
                let section = axisLines[error.key] != nil ? "grid." : (baseLines[error.key] != nil ? "base." : "")
                throw SpecFileError(
                    file: document.file, line: line, key: section + error.key,
                    message: "\(error.message) (at grid point \(pointText))"
                )
            }
            return spec
        }

        /// Grid point number `index` (mixed radix over the axes, the last axis fastest).
        func point(_ index: Int) -> [AxisValue] {
            var rest = index
            var values: [AxisValue] = []
            for axis in axes.reversed() {
                values.append(AxisValue(key: axis.key, value: axis.values[rest % axis.values.count]))
                rest /= axis.values.count
            }
            return values.reversed()
        }

        if count > maxTrials {
            // Cost from a sample of grid points spread over the grid, scaled up: a few hundred specs, whatever the
            // grid's size.
            let points = max(1, count / seeds.count)
            let sample = min(points, Self.costSample)
            var seconds = 0.0
            var branches = 0
            var rounds = 0
            for k in 0..<sample {
                let probe = try spec(at: point(Int((Double(k) * Double(points) / Double(sample)).rounded(.down))))
                seconds += CostEstimate.coreSeconds(of: probe)
                branches += RoundEstimate.branchTrials(of: probe)
                rounds += RoundEstimate.rounds(of: probe) + RoundEstimate.branchTrials(of: probe)
            }
            let scale = Double(count) / Double(sample)
            let size = SweepSize(
                trials: count, branchTrials: Int((Double(branches) * scale).rounded()),
                rounds: Int(min(Double(Int.max / 2), (Double(rounds) * scale).rounded())),
                coreSeconds: seconds * scale, exact: false, shape: Self.shape(axes: axes, seeds: seeds.count))
            throw SpecFileError(
                file: document.file, line: gridKeyLine ?? seedsNode?.mark?.line, key: gridNode == nil ? "seeds" : "grid",
                message:
                    "expands to \(size.shape) = \(size), more than the limit of \(CostEstimate.grouped(maxTrials)) trials; "
                    + "check the grid and seeds for a typo, or pass --max-trials \(count) to run it")
        }

        // Cartesian product: first axis slowest, last fastest, seeds innermost.
        var trials: [PlannedTrial] = []
        trials.reserveCapacity(count)
        var firstPoint: [String: String] = [:]
        for index in 0..<max(1, count / seeds.count) {
            let point = point(index)
            var spec = try spec(at: point)
            let pointText = point.isEmpty ? "the base" : point.map(\.description).joined(separator: ", ")
            for seed in seeds {
                spec.seed = seed
                let trial = PlannedTrial(spec: spec, axisValues: point)
                let label = "\(pointText), seed=\(seed)"
                if let other = firstPoint[trial.id] {
                    throw SpecFileError(
                        file: document.file, line: gridKeyLine, key: "grid",
                        message:
                            "grid points '\(other)' and '\(label)' give the same trial \(trial.id) (equal after defaults are filled in); remove one of the values"
                    )
                }
                firstPoint[trial.id] = label
                trials.append(trial)
            }
        }
        return SweepPlan(
            name: name, file: document.file, sourceText: document.text, axes: axes, seeds: seeds, trials: trials)
    }

    func name(_ node: Node?) throws(SpecFileError) -> String {
        guard let node else {
            let base = URL(fileURLWithPath: document.file).deletingPathExtension().lastPathComponent
            return base.isEmpty ? "sweep" : base
        }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty,
            scalar.string.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
            !scalar.string.hasPrefix(".")
        else {
            throw document.error(
                at: node, key: "name",
                "'\(node.scalar?.string ?? "")' is not a folder name; use letters, digits, '-', '_' or '.'")
        }
        return scalar.string
    }

    /// `seeds: n` (0..<n) or `seeds: [a, b, …]`; absent: the base seed only.
    func seeds(_ node: Node?, baseSeed: Int, baseSetsSeed: Int?, maxTrials: Int) throws(SpecFileError) -> [Int] {
        guard let node else { return [baseSeed] }
        if let line = baseSetsSeed {
            throw document.error(at: node, key: "seeds", "base.seed is also set (line \(line)); keep one")
        }
        switch try document.value(of: node, key: "seeds") {
        case .int(let count):
            guard count >= 1 else { throw document.error(at: node, key: "seeds", "a count must be ≥ 1, got \(count)") }
            guard count <= maxTrials else {  // before the list of seeds is made
                throw document.error(
                    at: node, key: "seeds",
                    "\(CostEstimate.grouped(count)) seeds alone are more than the limit of \(CostEstimate.grouped(maxTrials)) trials; "
                        + "check for a typo, or pass --max-trials to raise the limit")
            }
            return Array(0..<count)
        case .list(let items):
            guard !items.isEmpty else {
                throw document.error(at: node, key: "seeds", "empty list; give a count or at least one seed")
            }
            var seeds: [Int] = []
            for item in items {
                guard case .int(let seed) = item, seed >= 0 else {
                    throw document.error(at: node, key: "seeds", "'\(item)' is not a seed (an integer ≥ 0)")
                }
                guard !seeds.contains(seed) else {
                    throw document.error(at: node, key: "seeds", "seed \(seed) is listed twice")
                }
                seeds.append(seed)
            }
            return seeds
        default:
            throw document.error(
                at: node, key: "seeds", "expected a count (seeds: 5 means 0..4) or a list of integers ≥ 0")
        }
    }
}
