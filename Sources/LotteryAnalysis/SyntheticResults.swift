import Foundation
import LotteryCore
import MaskCodec

/// A synthetic results folder in the layout of `lth sweep` (docs/report.md), for tests and for previewing
/// `lth report` without training anything.
///
/// Masks are nested like IMP's: each weight gets a score (random, plus for `prune.strategy` other than `random`
/// an importance that favours the centre pixels of a square first layer, the same for every seed) and round `r`
/// keeps the top `(1 − rate)^r` of each layer (half the rate on the last layer, as in the paper). Metrics are
/// smooth made-up functions of density plus seeded noise. Files are written as the coordinator writes them,
/// including delta-coded masks (`MaskFile.encode(_:parent:)` against the previous round).
public struct SyntheticResults: Sendable {
    /// Per configuration, dotted hyperparameter keys → values as text (`["prune.strategy": "random"]`).
    public var configurations: [[String: String]]
    public var seeds: [Int]
    /// Pruning rounds after the dense round 0.
    public var rounds: Int
    /// Weight layer shapes `[fan_in, fan_out]`, e.g. `[(784, 300), (300, 100), (100, 10)]`.
    public var shapes: [[Int]]
    /// Fraction of the remaining weights pruned per round (hidden layers; the last layer prunes half of it).
    public var rate: Double
    /// Whether to write one `reinit-random` control branch per main trial and round.
    public var controls: Bool
    /// Whether to write the per-layer weight summary columns of `rounds.csv`.
    public var weightSummaries: Bool
    public var iterations: Int
    public var evaluations: Int

    public init(
        configurations: [[String: String]], seeds: [Int], rounds: Int, shapes: [[Int]], rate: Double = 0.2,
        controls: Bool = false, weightSummaries: Bool = true, iterations: Int = 5000, evaluations: Int = 20
    ) {
        precondition(shapes.allSatisfy { $0.count == 2 }, "SyntheticResults: shapes are [rows, cols] pairs")
        self.configurations = configurations
        self.seeds = seeds
        self.rounds = rounds
        self.shapes = shapes
        self.rate = rate
        self.controls = controls
        self.weightSummaries = weightSummaries
        self.iterations = iterations
        self.evaluations = evaluations
    }

    /// What ``write(to:)`` wrote: trial ids by role.
    public struct Written: Sendable {
        public var mainTrials: [String]
        public var controlTrials: [String]
        public var maskFiles: Int
    }

    /// Writes `trials.csv`, `rounds.csv`, `curves.csv` and `masks/` into `directory` (created if missing).
    public func write(to directory: String) throws(ReportError) -> Written {
        let layerCount = shapes.count
        let perLayer = { (name: String) in (0..<layerCount).map { "\(name)_l\($0)" } }
        let specColumns = TrialSpec.columnNames + TrialSpec.branchColumns
        var roundsCSV = CSVWriter(
            header: ["trial_id"] + specColumns + ["round", "density"] + perLayer("density")
                + [
                    "early_stop_iteration", "val_loss_at_es", "val_acc_at_es", "test_acc_at_es", "test_acc_final",
                    "train_acc_final", "seconds", "worker", "host",
                ] + perLayer("kept")
                + (weightSummaries
                    ? perLayer("positive_at_init") + perLayer("positive_after") + perLayer("mean_abs_at_init")
                        + perLayer("mean_abs_after") : []))
        var curvesCSV = CSVWriter(header: ["trial_id", "round", "iteration", "val_loss", "val_acc", "test_acc"])
        var trialsCSV = CSVWriter(
            header: ["trial_id"] + specColumns + [
                "status", "tries", "reason", "worker", "host", "started_at",
                "ended_at", "rounds_done",
            ])
        var written = Written(mainTrials: [], controlTrials: [], maskFiles: 0)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError(path: directory, "cannot create the folder: \(error.localizedDescription)")
        }

        for (configIndex, overrides) in configurations.enumerated() {
            var base = TrialSpec()
            base.model.layers = shapes.dropLast().map { .fc($0[1]) }
            base.train.iterations = iterations
            base.prune.rounds = rounds
            if controls { base.controls = [.reinitRandom] }
            for (key, text) in overrides.sorted(by: { $0.key < $1.key }) {
                do { try base.set(key, to: SpecValue.parse(text)) } catch {
                    preconditionFailure("SyntheticResults: \(error)")
                }
            }
            let structured = base.prune.strategy.rawValue != "random"
            let penalty = (structured ? 1.0 : 2.5) * (base.reinit.description == "random" ? 2 : 1)
            for seed in seeds {
                var spec = base
                spec.seed = seed
                let id = spec.trialID
                written.mainTrials.append(id)
                var rng = LotteryRNG(seed: seed &* 7919 &+ configIndex)
                let pixelSide = Int(Double(shapes[0][0]).squareRoot().rounded())
                let scores: [[Double]] = shapes.enumerated().map { layer, shape in
                    (0..<(shape[0] * shape[1])).map { index in
                        var score = rng.uniform()
                        if structured, layer == 0, pixelSide * pixelSide == shape[0] {
                            let pixel = index / shape[1]
                            let dx = Double(pixel % pixelSide) - Double(pixelSide - 1) / 2
                            let dy = Double(pixel / pixelSide) - Double(pixelSide - 1) / 2
                            score += 2.5 * exp(-(dx * dx + dy * dy) / (0.09 * Double(pixelSide * pixelSide)))
                        }
                        return score
                    }
                }
                var previous: Mask?
                let maskFolder = (directory as NSString).appendingPathComponent("masks/\(id)")
                do {
                    try FileManager.default.createDirectory(atPath: maskFolder, withIntermediateDirectories: true)
                } catch {
                    throw ReportError(path: maskFolder, "cannot create the folder: \(error.localizedDescription)")
                }
                for round in 0...rounds {
                    let layers = shapes.enumerated().map { layer, shape in
                        let layerRate = layer == layerCount - 1 ? rate / 2 : rate
                        let keep = Int((Double(shape[0] * shape[1]) * pow(1 - layerRate, Double(round))).rounded())
                        let threshold = scores[layer].sorted(by: >)[max(0, min(scores[layer].count - 1, keep - 1))]
                        var kept = scores[layer].map { $0 >= threshold }
                        if keep == 0 { kept = Array(repeating: false, count: kept.count) }
                        return MaskLayer(rows: shape[0], cols: shape[1], kept: kept)
                    }
                    let mask = Mask(layers: layers)
                    let bytes = MaskFile.encode(mask, parent: previous)
                    let path = maskFolder + "/round-\(round < 10 ? "0" : "")\(round).ltmask"
                    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                        throw ReportError(path: path, "cannot write the mask file")
                    }
                    written.maskFiles += 1
                    previous = mask
                    let metrics = fakeMetrics(density: mask.density, penalty: penalty, rng: &rng)
                    roundsCSV.append(
                        roundRow(
                            spec: spec, id: id, round: round, mask: mask, metrics: metrics, host: "node\(seed % 3)"))
                    appendCurve(&curvesCSV, id: id, round: round, metrics: metrics)
                    if controls, round > 0 {
                        let branch = spec.branch(.reinitRandom, round: round, index: 0)
                        let branchID = branch.trialID
                        written.controlTrials.append(branchID)
                        let control = fakeMetrics(density: mask.density, penalty: 4 * penalty, rng: &rng)
                        roundsCSV.append(
                            roundRow(spec: branch, id: branchID, round: 0, mask: mask, metrics: control, host: "node2"))
                        appendCurve(&curvesCSV, id: branchID, round: 0, metrics: control)
                        trialsCSV.append([branchID] + cells(branch) + ["done", "1", "", "w2", "node2", "", "", "1"])
                    }
                }
                trialsCSV.append(
                    [id] + cells(spec) + ["done", "1", "", "w1", "node\(seed % 3)", "", "", "\(rounds + 1)"])
            }
        }
        for (name, writer) in [("rounds.csv", roundsCSV), ("curves.csv", curvesCSV), ("trials.csv", trialsCSV)] {
            try writer.write(to: (directory as NSString).appendingPathComponent(name))
        }
        return written
    }

    struct FakeMetrics {
        var testAcc: Double
        var earlyStop: Int
        var seconds: Double
    }

    private func fakeMetrics(density: Double, penalty: Double, rng: inout LotteryRNG) -> FakeMetrics {
        let sparsity = -log10(max(density, 1e-4))  // 0 dense, 2 at 1%
        let accuracy = 0.978 + 0.006 * sparsity - 0.012 * penalty * pow(sparsity, 3) + 0.002 * (rng.uniform() - 0.5)
        let stop =
            Double(iterations) * (0.45 - 0.12 * sparsity + 0.05 * penalty * sparsity * sparsity)
            + Double(iterations) * 0.04 * (rng.uniform() - 0.5)
        let step = max(1, iterations / evaluations)
        let rounded = min(iterations, max(step, Int(stop / Double(step)) * step))
        return FakeMetrics(
            testAcc: min(0.995, max(0.1, accuracy)), earlyStop: rounded, seconds: 20 + 10 * rng.uniform())
    }

    private func cells(_ spec: TrialSpec) -> [String] {
        var cells = spec.columns.map { $0.value.description }
        if let branch = spec.branch {
            cells += [branch.kind.rawValue, branch.parentTrial, String(branch.parentRound), String(branch.index)]
        } else {
            cells += Array(repeating: "", count: TrialSpec.branchColumns.count)
        }
        return cells
    }

    private func roundRow(spec: TrialSpec, id: String, round: Int, mask: Mask, metrics: FakeMetrics, host: String)
        -> [String]
    {
        var row = [id] + cells(spec) + [String(round), CSVWriter.number(mask.density)]
        row += mask.layers.map { CSVWriter.number($0.density) }
        row += [
            String(metrics.earlyStop), CSVWriter.number(0.1 + (1 - metrics.testAcc)),
            CSVWriter.number(metrics.testAcc - 0.002),
            CSVWriter.number(metrics.testAcc), CSVWriter.number(metrics.testAcc - 0.001), CSVWriter.number(1.0),
            CSVWriter.number(metrics.seconds), "w-\(host)", host,
        ]
        row += mask.layers.map { String($0.keptCount) }
        if weightSummaries {
            row += mask.layers.map { _ in "0.5" } + mask.layers.map { _ in "0.52" }
            row += mask.layers.map { layer in CSVWriter.number(0.05 / max(layer.density, 0.01).squareRoot()) }
            row += mask.layers.map { layer in CSVWriter.number(0.07 / max(layer.density, 0.01).squareRoot()) }
        }
        return row
    }

    private func appendCurve(_ writer: inout CSVWriter, id: String, round: Int, metrics: FakeMetrics) {
        let step = max(1, iterations / evaluations)
        for iteration in stride(from: step, through: iterations, by: step) {
            let progress = 1 - exp(-Double(iteration) / Double(max(1, metrics.earlyStop)) * 2.5)
            let accuracy = 0.1 + (metrics.testAcc - 0.1) * progress
            writer.append([
                id, String(round), String(iteration), CSVWriter.number(2.3 * (1 - progress) + 0.07),
                CSVWriter.number(accuracy - 0.001), CSVWriter.number(accuracy),
            ])
        }
    }
}
