import ArgumentParser
import Foundation
import LotteryCore

/// `lth bench train`: training steps/s and evaluation images/s of the core on synthetic data.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training steps/s (LeNet-300-100, batch 60, Adam, one BLAS thread) and evaluation images/s.",
        discussion: "Uses synthetic random images (no data set needed). Steps are timed after a warm-up."
    )

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    @Option(help: "Timed training steps.")
    var steps = 3_000

    @Option(help: "Untimed warm-up steps.")
    var warmup = 300

    @Option(help: "OpenBLAS threads.")
    var threads = 1

    func run() throws {
        guard steps >= 1, warmup >= 0, threads >= 1 else { throw ValidationError("--steps and --threads must be ≥ 1, --warmup ≥ 0") }
        BLAS.setThreads(threads)
        var rng = LotteryRNG(seed: 1, stream: "bench")
        func synthetic(_ count: Int) -> Dataset {
            let images = (0..<(count * 784)).map { _ in Float(rng.uniform()) }
            let labels = (0..<count).map { _ in UInt8(rng.below(10)) }
            return Dataset(images: images, labels: labels, features: 784, classes: 10)
        }
        let train = synthetic(6_000), test = synthetic(10_000)
        let spec = TrialSpec()
        let trainer = Trainer(spec: spec, data: DataSplits(train: train, validation: synthetic(1_000), test: test))
        let widths = [784] + spec.model.layers + [10]
        let stepsPerSecond = trainer.measureStepRate(widths: widths, steps: steps, warmup: warmup)

        let model = MLP(widths: widths, initializer: .glorotNormal, seed: 0)
        _ = Trainer.evaluate(model, on: test)  // warm-up
        let passes = 5
        let started = ContinuousClock.now
        for _ in 0..<passes { _ = Trainer.evaluate(model, on: test) }
        let elapsed = started.duration(to: .now).components
        let evalSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
        let imagesPerSecond = Double(passes * test.count) / evalSeconds

        if json {
            let fields: [(String, String)] = [
                ("steps_per_second", String(format: "%.1f", stepsPerSecond)),
                ("eval_images_per_second", String(format: "%.0f", imagesPerSecond)),
                ("steps", String(steps)), ("warmup", String(warmup)), ("batch", String(spec.train.batch)),
                ("blas_threads", String(BLAS.threads)), ("widths", "[" + widths.map(String.init).joined(separator: ",") + "]"),
                ("optimizer", "\"adam\""),
            ]
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            print(String(format: "training: %.1f steps/s (LeNet-300-100, batch %d, Adam, %d BLAS thread(s), %d steps after %d warm-up)",
                         stepsPerSecond, spec.train.batch, BLAS.threads, steps, warmup))
            print(String(format: "evaluation: %.0f images/s (%d × %d images, chunks of %d)", imagesPerSecond, passes, test.count, Trainer.evaluationChunk))
        }
    }
}
