import Foundation
import LotteryCore

/// Runs `body` with a fresh temporary directory that is removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("lth-core-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A learnable synthetic classification problem: `classes` Gaussian blobs in `features` dimensions, values in [0, 1].
func syntheticDataset(count: Int, features: Int, classes: Int, seed: Int) -> Dataset {
    var centres = LotteryRNG(seed: 99, stream: "centres")  // shared across seeds so train/test agree
    let means = (0..<classes).map { _ in (0..<features).map { _ in centres.uniform() } }
    var rng = LotteryRNG(seed: seed, stream: "synthetic")
    var images: [Float] = []
    var labels: [UInt8] = []
    for _ in 0..<count {
        let label = rng.below(classes)
        labels.append(UInt8(label))
        for f in 0..<features { images.append(Float(min(max(means[label][f] + 0.15 * rng.gaussian(), 0), 1))) }
    }
    return Dataset(images: images, labels: labels, features: features, classes: classes)
}

/// A small trial spec for fast tests on synthetic data.
func smallSpec(iterations: Int, evalEvery: Int, batch: Int = 20, seed: Int = 7, optimizer: OptimizerKind = .adam) throws
    -> TrialSpec
{
    var spec = TrialSpec()
    try spec.set("model.layers", to: .list([.int(16), .int(8)]))
    try spec.set("train.iterations", to: .int(iterations))
    try spec.set("train.eval_every", to: .int(evalEvery))
    try spec.set("train.batch", to: .int(batch))
    try spec.set("train.optimizer", to: .string(optimizer.rawValue))
    if optimizer == .sgd { try spec.set("train.lr", to: .double(0.05)) }
    try spec.set("seed", to: .int(seed))
    try spec.set("prune.rounds", to: .int(0))
    try spec.validate()
    return spec
}

func smallSplits(seed: Int = 3) -> DataSplits {
    DataSplits(
        train: syntheticDataset(count: 600, features: 12, classes: 4, seed: seed),
        test: syntheticDataset(count: 200, features: 12, classes: 4, seed: seed + 1),
        validationCount: 100, seed: seed)
}
