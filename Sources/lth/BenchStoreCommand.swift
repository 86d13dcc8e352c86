import ArgumentParser
import Foundation
import LotteryCore
import LotteryResults

/// `lth bench store`: what recording a round result and rebuilding the CSVs cost on this disk.
///
/// Measurements, never tests (issue 15 moved this figure out of the test suite). Results are made up from a fixed
/// seed (metrics, curve points, mask bytes), recorded into a temporary results folder on the disk of `--dir` and
/// removed afterwards. Figures depend on the disk and its load; run on an idle machine to compare.
struct BenchStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Results store: time per recorded round (one by one and group commit) and per CSV rebuild.",
        discussion: """
            Records TRIALS × ROUNDS round results one at a time (`record`: mask file fsynced and renamed, then one \
            SQLite commit each), then as many again in batches of --batch (`record(batch:)`: one syncfs and one \
            commit per batch), then rebuilds trials.csv, rounds.csv and curves.csv (`exportCSVs`). Prints the time \
            of each. The folder is made in --dir (default: the system's temporary folder) and removed at the end.
            """
    )

    @Option(help: "Trials to record.")
    var trials = 5

    @Option(help: "Rounds per trial.")
    var rounds = 8

    @Option(help: "Bytes per mask file (a 20 KB mask is a LeNet-300-100 mask at ~20% density).")
    var maskBytes = 20_000

    @Option(help: "Learning-curve points per round.")
    var curvePoints = 500

    @Option(help: "Results per group commit in the batched pass.")
    var batch = 32

    @Option(help: "Folder to make the temporary results folder in (its disk is what is measured).")
    var dir: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    struct Figures: Codable {
        var records: Int
        var maskBytes: Int
        var curvePoints: Int
        var recordMillisecondsEach: Double
        var batchSize: Int
        var batchedRecordMillisecondsEach: Double
        var exportMilliseconds: Double
        var exportedRounds: Int
        var exportedCurvePoints: Int
    }

    func validate() throws {
        guard trials >= 1, rounds >= 1 else { throw ValidationError("--trials and --rounds must be at least 1") }
        guard maskBytes >= 1, curvePoints >= 0, batch >= 1 else {
            throw ValidationError("--mask-bytes and --batch must be at least 1, --curve-points at least 0")
        }
    }

    func run() throws {
        let parent = URL(fileURLWithPath: dir ?? NSTemporaryDirectory(), isDirectory: true)
        let folder = parent.appendingPathComponent("lth-bench-store-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try ResultsStore.openOrCreate(
            directory: folder, sweepName: "bench-store", specText: "", fingerprint: "bench-store")
        let clock = ContinuousClock()
        func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        // Pass 1: one record (and one commit) per result, as `lth train` records.
        let single = (0..<trials).map { Self.spec(seed: $0 + 1) }
        let singleTime = try clock.measure {
            for spec in single {
                for round in 0..<rounds { try store.record(result(spec, round: round)) }
            }
        }
        // Pass 2: the same number of results, group-committed as the coordinator records.
        let batched = (0..<trials).map { Self.spec(seed: trials + $0 + 1) }
        let results = batched.flatMap { spec in (0..<rounds).map { result(spec, round: $0) } }
        let batchedTime = try clock.measure {
            for start in stride(from: 0, to: results.count, by: batch) {
                try store.record(batch: Array(results[start..<min(start + batch, results.count)]))
            }
        }
        var summary = ResultsStore.ExportSummary(trials: 0, rounds: 0, curvePoints: 0)
        let exportTime = try clock.measure { summary = try store.exportCSVs() }
        let count = trials * rounds
        let figures = Figures(
            records: count, maskBytes: maskBytes, curvePoints: curvePoints,
            recordMillisecondsEach: milliseconds(singleTime) / Double(count), batchSize: batch,
            batchedRecordMillisecondsEach: milliseconds(batchedTime) / Double(count),
            exportMilliseconds: milliseconds(exportTime), exportedRounds: summary.rounds,
            exportedCurvePoints: summary.curvePoints)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
            return
        }
        print("results store on \(parent.path): \(maskBytes)-byte masks, \(curvePoints) curve points per round")
        print(
            String(
                format: "  record, one at a time:    %d results, %.2f ms each", count, figures.recordMillisecondsEach))
        print(
            String(
                format: "  record(batch:) of %-4d    %d results, %.2f ms each", batch, count,
                figures.batchedRecordMillisecondsEach))
        print(
            String(
                format: "  exportCSVs:               %d rounds, %d curve points in %.1f ms", summary.rounds,
                summary.curvePoints, figures.exportMilliseconds))
    }

    static func spec(seed: Int) -> TrialSpec {
        var spec = TrialSpec()
        spec.seed = seed
        return spec
    }

    /// A made-up round result of `spec` (seeded: the same bytes on every run).
    func result(_ spec: TrialSpec, round: Int) -> RecordedRound {
        var rng = LotteryRNG(seed: spec.seed &* 1_000 &+ round)
        let layers = spec.weightLayerCount
        let curve = (0..<curvePoints).map { index in
            EvalPoint(
                iteration: (index + 1) * 100, valLoss: rng.uniform(), valAcc: rng.uniform(), testAcc: rng.uniform())
        }
        let metrics = RoundMetrics(
            trialID: spec.trialID, round: round, density: pow(0.8, Double(round)),
            layerDensities: (0..<layers).map { _ in rng.uniform() }, keptCounts: (0..<layers).map { 1_000 * ($0 + 1) },
            earlyStopIteration: 300, valLossAtES: rng.uniform(), valAccAtES: rng.uniform(), testAccAtES: rng.uniform(),
            testAccFinal: rng.uniform(), trainAccFinal: rng.uniform(), seconds: 1, curve: curve,
            layers: (0..<layers).map { _ in
                LayerSummary(
                    positiveAtInit: rng.uniform(), positiveAfter: rng.uniform(), meanAbsAtInit: rng.uniform(),
                    meanAbsAfter: rng.uniform())
            })
        let mask = (0..<maskBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return RecordedRound(
            trialID: spec.trialID, round: round, spec: spec, metrics: metrics, maskBytes: mask, worker: "bench",
            host: "bench")
    }
}
