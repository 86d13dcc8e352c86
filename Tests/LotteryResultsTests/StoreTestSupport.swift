import Foundation
import LotteryCore
import LotteryResults

/// Small synthetic trials, metrics and mask blobs with fixed seeds.
enum StoreFixture {
    static let epoch = Date(timeIntervalSince1970: 1_700_000_000)

    static func spec(seed: Int, layers: [Int] = [300, 100]) -> TrialSpec {
        var spec = TrialSpec()
        spec.seed = seed
        spec.model.layers = layers.map { .fc($0) }
        spec.train.iterations = 1_000
        spec.prune.rounds = 3
        return spec
    }

    static func metrics(trialID: String, round: Int, layerCount: Int = 3, points: Int = 5, seed: Int = 1)
        -> RoundMetrics
    {
        var rng = LotteryRNG(seed: seed &* 1_000 &+ round)
        let densities = (0..<layerCount).map { _ in (rng.uniform() * 1000).rounded() / 1000 }
        let curve = (0..<points).map { index in
            EvalPoint(
                iteration: (index + 1) * 100, valLoss: rng.uniform(), valAcc: rng.uniform(), testAcc: rng.uniform())
        }
        let layers = (0..<layerCount).map { _ in
            LayerSummary(
                positiveAtInit: rng.uniform(), positiveAfter: rng.uniform(), meanAbsAtInit: rng.uniform(),
                meanAbsAfter: rng.uniform())
        }
        return RoundMetrics(
            trialID: trialID, round: round, density: pow(0.8, Double(round)), layerDensities: densities,
            keptCounts: (0..<layerCount).map { 1_000 * ($0 + 1) - round }, earlyStopIteration: 300 + round,
            valLossAtES: rng.uniform(), valAccAtES: rng.uniform(), testAccAtES: rng.uniform(),
            testAccFinal: rng.uniform(), trainAccFinal: rng.uniform(), seconds: 1.5 + Double(round), curve: curve,
            layers: layers)
    }

    static func mask(seed: Int, count: Int = 2_000) -> [UInt8] {
        var rng = LotteryRNG(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func result(
        _ spec: TrialSpec, round: Int, points: Int = 5, maskSize: Int = 2_000, worker: String = "w1",
        host: String = "node-1"
    ) -> RecordedRound {
        let id = spec.trialID
        return RecordedRound(
            trialID: id, round: round, spec: spec,
            metrics: metrics(
                trialID: id, round: round, layerCount: spec.weightLayerCount, points: points, seed: spec.seed),
            maskBytes: mask(seed: spec.seed &* 100 &+ round, count: maskSize), worker: worker, host: host)
    }

    static func open(_ dir: URL, name: String = "quick", fingerprint: String = "fp-1") throws -> ResultsStore {
        try ResultsStore.openOrCreate(
            directory: dir, sweepName: name, specText: "name: \(name)\n", fingerprint: fingerprint, now: epoch)
    }

    /// Every CSV's bytes, for before/after comparisons.
    static func csvSnapshot(_ store: ResultsStore) throws -> [String: Data] {
        try store.exportCSVs()
        var files: [String: Data] = [:]
        for name in ["trials.csv", "rounds.csv", "curves.csv"] {
            files[name] = try Data(contentsOf: store.directory.appendingPathComponent(name))
        }
        return files
    }

    static func text(_ dir: URL, _ name: String) throws -> String {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }
}

extension StoreFixture {
    /// A results folder holding round 0 of `spec`, with a trigger (added through Python's sqlite3 while the store is
    /// closed) that aborts any transaction inserting curve points of `failingRound`: a database failure in the
    /// middle of a record, after the round row and before its curve points.
    static func folderFailingAt(round failingRound: Int, _ dir: URL, spec: TrialSpec) throws {
        do {
            let store = try open(dir)
            try store.record(result(spec, round: 0))
        }
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1] + "/results.db")
            db.execute("CREATE TRIGGER fail BEFORE INSERT ON curve_points WHEN NEW.round = \(failingRound) "
                       "BEGIN SELECT RAISE(ABORT, 'simulated failure'); END")
            db.commit()
            """
        _ = try StoreCSVTests.runPython(script, argument: dir.path)
    }
}
