import Foundation
import LotteryCore
import LotteryResults
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
        // The coordinator's own header and row functions (ResultsCSV), so the files have its columns exactly;
        // without weight summaries the per-layer summary columns are left out, as in a file from an older build.
        let fullHeader = ResultsCSV.roundsHeader(layerCount: layerCount)
        let summaryGroups: [ResultsColumn.LayerGroup] = [.positiveAtInit, .positiveAfter, .meanAbsAtInit, .meanAbsAfter]
        let dropped = Set(
            weightSummaries ? [] : summaryGroups.flatMap { group in (0..<layerCount).map { ResultsColumn.perLayer(group, $0) } })
        let keptColumns = fullHeader.indices.filter { !dropped.contains(fullHeader[$0]) }
        let roundsColumns = { (row: [String]) in keptColumns.map { row[$0] } }
        var roundsCSV = CSVWriter(header: roundsColumns(fullHeader))
        var curvesCSV = CSVWriter(header: ResultsCSV.curvesHeader)
        var trialsCSV = CSVWriter(header: ResultsCSV.trialsHeader)
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
                        roundsColumns(
                            roundRow(
                                spec: spec, id: id, round: round, mask: mask, metrics: metrics,
                                host: "node\(seed % 3)")))
                    appendCurve(&curvesCSV, id: id, round: round, metrics: metrics)
                    if controls, round > 0 {
                        let branch = spec.branch(.reinitRandom, round: round, index: 0)
                        let branchID = branch.trialID
                        written.controlTrials.append(branchID)
                        let control = fakeMetrics(density: mask.density, penalty: 4 * penalty, rng: &rng)
                        roundsCSV.append(
                            roundsColumns(
                                roundRow(
                                    spec: branch, id: branchID, round: 0, mask: mask, metrics: control, host: "node2")))
                        appendCurve(&curvesCSV, id: branchID, round: 0, metrics: control)
                        trialsCSV.append(
                            ResultsCSV.trialsRow(
                                trialID: branchID, spec: branch, status: "done", tries: 1, reason: nil, worker: "w2",
                                host: "node2", startedAt: nil, endedAt: nil, roundsDone: 1, expectedRounds: 1))
                    }
                }
                trialsCSV.append(
                    ResultsCSV.trialsRow(
                        trialID: id, spec: spec, status: "done", tries: 1, reason: nil, worker: "w1",
                        host: "node\(seed % 3)", startedAt: nil, endedAt: nil, roundsDone: rounds + 1,
                        expectedRounds: rounds + 1))
            }
        }
        for (name, writer) in [
            (ResultsCSV.roundsFileName, roundsCSV), (ResultsCSV.curvesFileName, curvesCSV),
            (ResultsCSV.trialsFileName, trialsCSV),
        ] {
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

    private func roundRow(spec: TrialSpec, id: String, round: Int, mask: Mask, metrics: FakeMetrics, host: String)
        -> [String]
    {
        let summaries = mask.layers.map { layer in
            LayerSummary(
                positiveAtInit: 0.5, positiveAfter: 0.52, meanAbsAtInit: 0.05 / max(layer.density, 0.01).squareRoot(),
                meanAbsAfter: 0.07 / max(layer.density, 0.01).squareRoot())
        }
        let row = RoundMetrics(
            trialID: id, round: round, density: mask.density, layerDensities: mask.layers.map(\.density),
            keptCounts: mask.layers.map(\.keptCount), earlyStopIteration: metrics.earlyStop,
            valLossAtES: 0.1 + (1 - metrics.testAcc), valAccAtES: metrics.testAcc - 0.002, testAccAtES: metrics.testAcc,
            testAccFinal: metrics.testAcc - 0.001, trainAccFinal: 1.0, seconds: metrics.seconds, curve: [],
            layers: summaries)
        return ResultsCSV.roundsRow(spec: spec, metrics: row, worker: "w-\(host)", host: host, layerCount: shapes.count)
    }

    private func appendCurve(_ writer: inout CSVWriter, id: String, round: Int, metrics: FakeMetrics) {
        let step = max(1, iterations / evaluations)
        for iteration in stride(from: step, through: iterations, by: step) {
            let progress = 1 - exp(-Double(iteration) / Double(max(1, metrics.earlyStop)) * 2.5)
            let accuracy = 0.1 + (metrics.testAcc - 0.1) * progress
            let point = EvalPoint(
                iteration: iteration, valLoss: 2.3 * (1 - progress) + 0.07, valAcc: accuracy - 0.001, testAcc: accuracy)
            writer.append(ResultsCSV.curvesRow(trialID: id, round: round, point: point))
        }
    }
}
