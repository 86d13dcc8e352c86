import ArgumentParser
import Foundation
import LotteryCore

/// `lth bench train`: training steps/s and evaluation images/s of the core, dense or pruned, and a whole
/// shortened IMP trial, on synthetic data (MNIST's shape for LeNet, CIFAR-10's for the conv networks) or real
/// MNIST.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training steps/s (LeNet-300-100 or --model conv2|conv4|conv6, batch 60, Adam) and evaluation images/s.",
        discussion: """
            --model picks the network (default lenet300-100); a conv network is timed on synthetic CIFAR-shaped \
            3x32x32 images unless --mnist DIR gives real MNIST, with --trial-threads threads per trial (the numbers \
            do not depend on it). \
            Uses synthetic random images (no data set needed), or real MNIST with --mnist DIR: the two differ \
            because with auto kernels the first layer skips zero inputs, and 81% of MNIST's pixels are zero while \
            random images have none (--input-density F makes synthetic images with a fraction F nonzero). Steps are \
            timed after a warm-up. --density D prunes \
            the network to D with the paper's layer-wise proportions first (magnitude of the init); --kernels picks \
            the kernels (auto = the rule a real trial uses). --floor also times the bare sgemm calls of one step and \
            a large sgemm. --trial runs a shortened IMP trial (train, prune 20/20/10% by magnitude, rewind) and \
            prints its time round by round.
            """
    )

    @Flag(help: "Print JSON instead of text (one object; with --trial one object per round, then a summary).")
    var json = false

    @Option(help: "Timed training steps.")
    var steps = 3_000

    @Option(help: "Untimed warm-up steps.")
    var warmup = 300

    @Option(help: "OpenBLAS threads.")
    var threads = 1

    @Option(help: ArgumentHelp("The network: lenet300-100, conv2, conv4 or conv6.", valueName: "NAME"))
    var model = ModelPreset.lenet300_100.rawValue

    @Option(help: "Threads per trial (conv networks: the convolutions of a batch are split among them).")
    var trialThreads = 1

    @Option(help: "Overall density of the benchmarked network, in (0, 1].")
    var density = 1.0

    @Option(
        help: ArgumentHelp(
            "Prune as IMP does after this many rounds of the model's per-kind rates (overrides --density).",
            valueName: "R"))
    var round: Int?

    @Option(
        name: .customLong("kernels"),
        help: ArgumentHelp(
            "Kernels: auto (the density rule), dense, sparse, im2col (dense with conv layers on im2col + sgemm "
                + "instead of Winograd) or winograd2x2 (dense with Winograd F(2x2,3x3) only, never F(4x4,3x3)).",
            valueName: "auto|dense|sparse|im2col|winograd2x2"))
    var kernelName = "auto"

    var kernels: KernelPolicy { KernelPolicy(rawValue: kernelName) ?? .auto }

    @Option(
        help: ArgumentHelp(
            "Synthetic data: fraction of nonzero pixels, in (0, 1] (MNIST: 0.19; the rest are exactly 0).",
            valueName: "F"))
    var inputDensity = 1.0

    @Flag(help: "Also time the bare sgemm calls of one dense step (the floor) and a 1024³ sgemm (the peak).")
    var floor = false

    @Flag(help: "Run a shortened IMP trial instead of the step benchmark.")
    var trial = false

    @Option(help: "Trial: trainings (round 0 dense, then one per pruning round).")
    var rounds = 19

    @Option(help: "Trial: iterations per round.")
    var iterations = 2_000

    @Option(help: "Trial: evaluate validation and test every this many iterations.")
    var evalEvery = 100

    @Option(
        help: ArgumentHelp(
            "Real images from this data directory instead of synthetic data (the --dataset, default mnist).",
            valueName: "DIR"))
    var mnist: String?

    @Option(help: ArgumentHelp("With --mnist DIR: which data set to read: mnist, fashion-mnist or cifar10.", valueName: "NAME"))
    var dataset = "mnist"

    func run() throws {
        guard steps >= 1, warmup >= 0, threads >= 1, trialThreads >= 1 else {
            throw ValidationError("--steps, --threads and --trial-threads must be ≥ 1, --warmup ≥ 0")
        }
        guard DataStore.names.contains(dataset) else {
            throw ValidationError("--dataset: '\(dataset)' is not one of \(DataStore.names.joined(separator: ", "))")
        }
        guard let preset = ModelPreset(rawValue: model) else {
            throw ValidationError(
                "--model: '\(model)' is not one of \(ModelPreset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard density > 0, density <= 1 else { throw ValidationError("--density must be in (0, 1], got \(density)") }
        guard inputDensity > 0, inputDensity <= 1 else {
            throw ValidationError("--input-density must be in (0, 1], got \(inputDensity)")
        }
        guard KernelPolicy(rawValue: kernelName) != nil else {
            throw ValidationError(
                "--kernels: expected \(KernelPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(kernelName)'")
        }
        guard rounds >= 1, iterations >= 1, evalEvery >= 1 else {
            throw ValidationError("--rounds, --iterations, --eval-every must be ≥ 1")
        }
        BLAS.setThreads(threads)
        if trial {
            guard preset == .lenet300_100 else { throw ValidationError("--trial runs LeNet-300-100 only") }
            return try runTrial()
        }
        var spec = TrialSpec()
        try spec.set("model", to: .string(preset.rawValue))
        let conv = preset != .lenet300_100
        if conv && floor { throw ValidationError("--floor times LeNet-300-100's sgemm calls; leave it out with --model \(model)") }
        if conv && mnist == nil { try spec.set("dataset", to: .string("cifar10")) }
        let data = try benchData(spec: spec, train: conv ? 600 : 6_000, validation: conv ? 100 : 1_000)
        let test = conv ? data.validation : data.test
        let trainer = Trainer(spec: spec, data: data, kernels: kernels, threads: trialThreads)
        let architecture = try Architecture(
            tokens: spec.model.layers, input: data.train.shape, classes: data.train.classes)
        var model = MLP(architecture: architecture, initializer: spec.model.initializer, seed: spec.initSeed)
        if let round {
            guard round >= 0 else { throw ValidationError("--round must be ≥ 0, got \(round)") }
            let target = KernelBenchmark.density(of: model, afterRounds: round, rates: spec.resolvedRates)
            if round > 0 { model = KernelBenchmark.pruned(model, density: target, rates: spec.resolvedRates) }
        } else if density < 1 {
            model = KernelBenchmark.pruned(model, density: density, rates: spec.resolvedRates)
        }
        let sparse = trainer.sparseLayers(of: model)
        let layerKernels = kernels.layerKernels(of: model, zeroInputs: trainer.zeroInputs)
        let step = trainer.measureStepRate(model: model, steps: steps, warmup: warmup)
        let passes = conv ? 2 : 5
        let eval = trainer.measureEvaluationRate(model: model, on: test, passes: passes)
        let forward = architecture.forwardFLOPs / 1e9
        let widths = architecture.widths ?? []
        let floorStep =
            floor ? KernelBenchmark.stepGemmFloor(widths: widths, batch: spec.train.batch, repetitions: 2_000) : nil
        let peak = floor ? KernelBenchmark.largeGemmGFLOPs() : nil
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(
                String.init) ?? "null"

        if json {
            func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
            var fields: [(String, String)] = [
                ("steps_per_second", f(step.perWallSecond, 3)), ("steps_per_cpu_second", f(step.perCPUSecond, 3)),
                ("eval_images_per_second", f(eval.perWallSecond, 0)),
                ("eval_images_per_cpu_second", f(eval.perCPUSecond, 0)),
                ("eval_dense_equivalent_gflops_cpu", f(eval.perCPUSecond * forward, 2)),
                ("density", f(model.density, 4)), ("round", round.map(String.init) ?? "null"),
                ("kernels", "\"\(kernels.rawValue)\""),
                ("sparse_layers", "[" + sparse.map { $0 ? "true" : "false" }.joined(separator: ",") + "]"),
                ("layer_kernels", "[" + layerKernels.map { "\"\($0)\"" }.joined(separator: ",") + "]"),
                ("steps", String(steps)), ("warmup", String(warmup)), ("batch", String(spec.train.batch)),
                ("blas_threads", String(BLAS.threads)),
                ("model", "\"\(preset.rawValue)\""), ("trial_threads", String(trialThreads)),
                ("forward_gflop_per_image", f(forward, 4)),
                ("train_gflops_per_cpu_second", f(step.perCPUSecond * Double(spec.train.batch) * 3 * forward, 2)),
                ("input", "\"\(data.train.shape)\""),
                ("optimizer", "\"adam\""), ("load_1min", load), ("blas_core", "\"\(BLAS.coreName)\""),
                ("data", mnist == nil ? "\"synthetic\"" : "\"\(dataset)\""),
                ("input_density", mnist == nil ? f(inputDensity, 3) : "null"),
            ]
            if let floorStep, let peak {
                fields += [
                    ("gemm_floor_steps_per_second", f(floorStep.rate.perWallSecond)),
                    ("gemm_floor_steps_per_cpu_second", f(floorStep.rate.perCPUSecond)),
                    ("gemm_floor_mflop_per_step", f(floorStep.flops / 1e6, 2)),
                    ("large_gemm_gflops", f(peak.perWallSecond, 2)), ("large_gemm_gflops_cpu", f(peak.perCPUSecond, 2)),
                ]
            }
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } else {
            print(
                String(
                    format:
                        "training: %.1f steps/s wall, %.1f per CPU second (%@ at density %.4f, kernels %@ → layers %@, %@ data, batch %d, Adam, %d trial thread(s), %d BLAS thread(s), OpenBLAS core %@, %d steps after %d warm-up; load %@)",
                    step.perWallSecond, step.perCPUSecond, preset.rawValue, model.density, kernels.rawValue,
                    "[" + layerKernels.joined(separator: ", ") + "]",
                    mnist == nil ? "synthetic (\(inputDensity) nonzero)" : "MNIST",
                    spec.train.batch, trialThreads,
                    BLAS.threads, BLAS.coreName, steps, warmup, load))
            print(
                String(
                    format:
                        "evaluation: %.0f images/s wall, %.0f per CPU second = %.2f dense-equivalent GFLOP/s of CPU (%d × %d images)",
                    eval.perWallSecond, eval.perCPUSecond, eval.perCPUSecond * forward, passes, test.count))
            if let floorStep, let peak {
                print(
                    String(
                        format:
                            "sgemm floor of one dense step (%.2f MFLOP): %.1f steps/s wall, %.1f per CPU second; training reaches %.0f%% of it (CPU time)",
                        floorStep.flops / 1e6, floorStep.rate.perWallSecond, floorStep.rate.perCPUSecond,
                        100 * step.perCPUSecond / floorStep.rate.perCPUSecond))
                print(
                    String(
                        format:
                            "large sgemm (1024³): %.2f GFLOP/s wall, %.2f per CPU second; evaluation reaches %.0f%% of it (CPU time)",
                        peak.perWallSecond, peak.perCPUSecond, 100 * eval.perCPUSecond * forward / peak.perCPUSecond))
            }
            if mnist == nil, inputDensity == 1, kernels == .auto, !conv {
                print(
                    "note: synthetic images have no zero pixels, so the first layer ran on sgemm; on MNIST (81% zero "
                        + "pixels) it skips them: --mnist DIR measures what a real trial runs")
            }
        }
    }

    /// Real MNIST from `--mnist`, or synthetic images of its shape (`--input-density` of their pixels nonzero,
    /// the rest exactly 0) with `train`/`validation` images and 10,000 test images.
    func benchData(spec: TrialSpec, train: Int, validation: Int) throws -> DataSplits {
        if let mnist {
            var realSpec = spec
            realSpec.dataset = dataset
            return try DataStore.splits(for: realSpec, directory: mnist)
        }
        var rng = LotteryRNG(seed: 1, stream: "bench")
        let shape = spec.inputShape
        let density = inputDensity  // read once: the option's getter is slow enough to show in a profile
        func synthetic(_ count: Int) -> Dataset {
            let images = (0..<(count * shape.features)).map { _ in
                let u = rng.uniform()
                return u < density ? Float(u / density) : 0
            }
            let labels = (0..<count).map { _ in UInt8(rng.below(10)) }
            return Dataset(images: images, labels: labels, shape: shape, classes: 10)
        }
        return DataSplits(train: synthetic(train), validation: synthetic(validation), test: synthetic(10_000))
    }

    /// A shortened IMP trial: round 0 trains the dense network; each later round prunes 20% / 20% / 10% of each
    /// layer's kept weights by magnitude (ties to the lower index), rewinds the kept weights to their initial
    /// values and trains again. The same loop as scripts/bench/compare's TensorFlow trial.
    func runTrial() throws {
        var spec = TrialSpec()
        try spec.set("train.iterations", to: .int(iterations))
        try spec.set("train.eval_every", to: .int(evalEvery))
        try spec.validate()
        let data = try benchData(spec: spec, train: 55_000, validation: 5_000)
        let trainer = Trainer(spec: spec, data: data, kernels: kernels)
        let initial = MLP(spec: spec)
        var masks = initial.masks()
        let rates = [0.2, 0.2, 0.1]
        var total = 0.0
        let cpuStart = processCPUSeconds()
        for round in 0..<rounds {
            var model = initial
            model.apply(masks: masks)
            let sparse = trainer.sparseLayers(of: model)
            let run = trainer.train(&model)
            total += run.seconds
            if json {
                print(
                    String(
                        format:
                            "{\"round\": %d, \"density\": %.4f, \"sparse_layers\": [%@], \"seconds\": %.3f, \"test_acc\": %.4f}",
                        round, model.density, sparse.map { $0 ? "true" : "false" }.joined(separator: ","), run.seconds,
                        run.finalTestAccuracy))
            } else {
                print(
                    String(
                        format: "round %2d  density %6.2f%%  sparse layers %@  %7.3f s  test acc %.4f",
                        round, model.density * 100, "\(sparse)", run.seconds, run.finalTestAccuracy))
            }
            masks = model.layers.indices.map { l in
                let layer = model.layers[l]
                let keptIndices = layer.weight.data.indices.filter { layer.mask.data[$0] != 0 }
                let keep = Int((Double(keptIndices.count) * (1 - rates[l])).rounded())
                let ranked = keptIndices.sorted {
                    let a = abs(layer.weight.data[$0]), b = abs(layer.weight.data[$1])
                    return a != b ? a > b : $0 < $1
                }
                var kept = [Bool](repeating: false, count: layer.weight.count)
                for i in ranked.prefix(keep) { kept[i] = true }
                return LayerMask(rows: layer.inputs, cols: layer.outputs, kept: kept)
            }
        }
        let cpu = processCPUSeconds() - cpuStart
        if json {
            print(
                String(
                    format:
                        "{\"trial_seconds\": %.3f, \"trial_cpu_seconds\": %.3f, \"rounds\": %d, \"iterations\": %d, \"eval_every\": %d, \"kernels\": \"%@\", \"data\": \"%@\"}",
                    total, cpu, rounds, iterations, evalEvery, kernels.rawValue, mnist == nil ? "synthetic" : dataset))
        } else {
            print(
                String(
                    format:
                        "trial: %.2f s wall in training runs, %.2f s CPU in all, for %d rounds × %d iterations (eval every %d), kernels %@",
                    total, cpu, rounds, iterations, evalEvery, kernels.rawValue))
        }
    }
}

/// CPU seconds this process has used (all threads).
private func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
