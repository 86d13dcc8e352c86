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
