import Foundation
import LotteryCore
import Testing

/// The paper's dense LeNet-300-100 on the real MNIST files (fetched by `scripts/setup` / `lth data fetch mnist`).
@Suite("Real MNIST")
struct RealMNISTTests {
    @Test func denseLeNetReaches97PercentIn3000Iterations() throws {
        let directory = DataStore.defaultDirectory()
        let folder = DataStore.folder("mnist", directory: directory)
        guard
            DataStore.fileNames.allSatisfy({
                FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent($0))
            })
        else {
            Issue.record(
                "real MNIST not found at \(folder); run scripts/setup (or lth data fetch mnist, or set LTH_DATA_DIR)")
            return
        }
        var spec = TrialSpec()
        try spec.set("train.iterations", to: .int(3_000))
        try spec.set("train.eval_every", to: .int(500))
        try spec.set("prune.rounds", to: .int(0))
        try spec.validate()
        let data = try DataStore.splits(for: spec, directory: directory)
        #expect(data.train.count == 55_000 && data.validation.count == 5_000 && data.test.count == 10_000)
        var model = MLP(spec: spec)
        let run = Trainer(spec: spec, data: data).train(&model)
        print(
            "real MNIST, LeNet-300-100, 3000 iterations: test accuracy \(run.finalTestAccuracy), early stop \(run.earlyStop.iteration), \(run.seconds) s"
        )
        #expect(run.curve.map(\.iteration) == [500, 1000, 1500, 2000, 2500, 3000])
        #expect(run.finalTestAccuracy >= 0.97, "test accuracy \(run.finalTestAccuracy)")
    }
}

/// Numbers of the release before conv networks (13a31b3, `lth train` on real MNIST), pinned: the model
/// description must not change a bit of LeNet's training.
@Suite("Real MNIST: LeNet numbers pinned across the layer-stack change")
struct PinnedLeNetTests {
    @Test func shortIMPTrialGivesTheOldReleasesNumbers() throws {
        let directory = DataStore.defaultDirectory()
        let folder = DataStore.folder("mnist", directory: directory)
        guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(DataStore.fileNames[0]))
        else {
            Issue.record("real MNIST not found at \(folder); run scripts/setup")
            return
        }
        var spec = TrialSpec()
        try spec.set("train.iterations", to: .int(100))
        try spec.set("train.eval_every", to: .int(50))
        try spec.set("prune.rounds", to: .int(1))
        try spec.set("seed", to: .int(7))
        let runner = try IMPRunner(spec: spec, data: try DataStore.splits(for: spec, directory: directory))
        var rounds: [RoundMetrics] = []
        try runner.run { rounds.append($0.metrics) }
        // Pinned with OpenBLAS's Prescott kernels (what Debian 12's 0.3.21 picks on Intel family 6 model 207).
        // Another kernel family rounds its sums differently, so elsewhere the values must agree to float rounding
        // only; the density (a count of kept weights) is exact everywhere.
        let valLoss = [0.3539637607974102, 0.3317544200366686], testAcc = [0.8984, 0.9073]
        if BLAS.coreName == "Prescott" {
            #expect(rounds.map(\.valLossAtES) == valLoss)
            #expect(rounds.map(\.testAccAtES) == testAcc)
        } else {
            print("PinnedLeNetTests: OpenBLAS core \(BLAS.coreName), not Prescott: comparing to float rounding")
            for (got, pinned) in zip(rounds.map(\.valLossAtES), valLoss) { #expect(abs(got - pinned) < 1e-4 * pinned) }
            for (got, pinned) in zip(rounds.map(\.testAccAtES), testAcc) { #expect(abs(got - pinned) <= 0.002) }
        }
        #expect(rounds.count == 2)
        #expect(rounds.map(\.density) == [1.0, 0.8003756574004508])
    }
}
