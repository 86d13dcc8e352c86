import Foundation

/// A rate measured twice: per wall-clock second and per second of this process's CPU time.
///
/// On a shared machine the CPU-time rate is the steadier one: time slices given to other processes do not count.
public struct MeasuredRate: Sendable {
    public var perWallSecond: Double
    public var perCPUSecond: Double
}

/// Wall-clock and process CPU time together.
struct Stopwatch {
    let wall = ContinuousClock.now
    let cpu = Stopwatch.processCPUSeconds()

    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func rate(_ count: Int) -> MeasuredRate {
        MeasuredRate(
            perWallSecond: Double(count) / seconds(since: wall),
            perCPUSecond: Double(count) / (Stopwatch.processCPUSeconds() - cpu))
    }
}

extension Trainer {
    /// Steady-state training speed: steps per second of the real step loop (batch gather, forward, backward,
    /// optimizer update) of `model` on this trainer's data, spec and ``kernels``, after `warmup` untimed steps.
    /// No evaluation.
    ///
    /// For `lth bench train`; results are not recorded anywhere, so timing is the only output.
    public func measureStepRate(model: MLP, steps: Int, warmup: Int = 200) -> MeasuredRate {
        _ = BLAS.configured
        precondition(steps >= 1 && warmup >= 0, "measureStepRate: steps \(steps), warmup \(warmup)")
        var model = model
        model.enforceMasks()
        if model.architecture.hasConvolutions {
            let convKernels = ConvKernels(
                model: model, batch: spec.train.batch, threads: threads, sparse: sparseLayers(of: model),
                convKernels: kernels)
            return stepRate(convKernels, steps: steps, warmup: warmup)
        }
        let sparse = sparseLayers(of: model)
        if sparse.contains(true) {
            return stepRate(
                SparseKernels(model: model, sparse: sparse, batch: spec.train.batch, evaluationChunk: 1),
                steps: steps, warmup: warmup)
        }
        return stepRate(
            RowMajorKernels(
                model: model, batch: spec.train.batch, evaluationChunk: 1, skipZeroInputs: kernels.skipsZeroInputs),
            steps: steps, warmup: warmup)
    }

    /// The same for a fresh dense `widths` network initialised from the spec.
    public func measureStepRate(widths: [Int], steps: Int, warmup: Int = 200) -> MeasuredRate {
        measureStepRate(
            model: MLP(widths: widths, initializer: spec.model.initializer, seed: spec.initSeed),
            steps: steps, warmup: warmup)
    }

    private func stepRate<K: StepKernels>(_ net: K, steps: Int, warmup: Int) -> MeasuredRate {
        let batch = spec.train.batch, features = data.train.features
        let optimizer = Optimizer(
            kind: spec.train.optimizer, lr: spec.train.lr, momentum: spec.train.momentum, kernels: net)
        var order = Array(0..<data.train.count)
        var rng = LotteryRNG(seed: spec.orderSeed, stream: "order")
        var cursor = order.count
        var started = Stopwatch()
        data.train.images.withUnsafeBufferPointer { images in
            data.train.labels.withUnsafeBufferPointer { allLabels in
                for step in 0..<(warmup + steps) {
                    if step == warmup { started = Stopwatch() }
                    if cursor + batch > order.count {
                        rng.shuffle(&order)
                        cursor = 0
                    }
                    order.withUnsafeBufferPointer { o in
                        net.loadBatch(
                            images: images.baseAddress!, labels: allLabels.baseAddress!, features: features,
                            order: o.baseAddress! + cursor, rows: batch)
                    }
                    cursor += batch
                    net.computeGradients()
                    optimizer.update()
                }
            }
        }
        return started.rate(steps)
    }

    /// Evaluation speed: images per second of the evaluation a training run does every `eval_every` steps
    /// (kernels built and the data set prepared once, as in a run; then `passes` timed passes after one untimed).
    public func measureEvaluationRate(model: MLP, on dataset: Dataset, passes: Int = 5) -> MeasuredRate {
        _ = BLAS.configured
        precondition(
            passes >= 1 && dataset.count > 0, "measureEvaluationRate: passes \(passes), \(dataset.count) images")
        var model = model
        model.enforceMasks()
        let sparse = sparseLayers(of: model)
        let evaluate: () -> (loss: Double, accuracy: Double)
        let kernels: any StepKernels
        if model.architecture.hasConvolutions {
            kernels = ConvKernels(
                model: model, batch: 1, threads: threads, sparse: sparse, convKernels: self.kernels)
        } else if sparse.contains(true) {
            kernels = SparseKernels(
                model: model, sparse: sparse, batch: 1, evaluationChunk: SparseKernels.evaluationChunk)
        } else {
            kernels = RowMajorKernels(
                model: model, batch: 1, evaluationChunk: Self.evaluationChunk,
                skipZeroInputs: self.kernels.skipsZeroInputs)
        }
        evaluate = kernels.evaluator(for: dataset)
        _ = evaluate()
        let started = Stopwatch()
        for _ in 0..<passes { _ = evaluate() }
        return started.rate(passes * dataset.count)
    }

    /// Mean loss and accuracy of `model` on `dataset` with this trainer's ``kernels`` (what a run's evaluation does).
    public func evaluate(_ model: MLP, on dataset: Dataset) -> (loss: Double, accuracy: Double) {
        _ = BLAS.configured
        var model = model
        model.enforceMasks()
        if model.architecture.hasConvolutions {
            let convKernels = ConvKernels(
                model: model, batch: 1, threads: threads, sparse: sparseLayers(of: model), convKernels: kernels)
            return convKernels.evaluate(dataset)
        }
        let sparse = sparseLayers(of: model)
        if sparse.contains(true) {
            let k = SparseKernels(
                model: model, sparse: sparse, batch: 1, evaluationChunk: SparseKernels.evaluationChunk)
            return k.evaluator(for: dataset)()
        }
        return Self.evaluate(model, on: dataset, kernels: kernels)
    }
}

/// Reference timings of the BLAS underneath the trainer, for `lth bench train --floor`.
public enum KernelBenchmark {
    /// Seconds per call of exactly the sgemm calls one row-major training step makes (3 forward, 3 weight
    /// gradients, 2 input deltas for LeNet-300-100), nothing else: the floor of a dense step.
    ///
    /// - Returns: steps per second (wall and CPU) and the FLOPs of those calls.
    public static func stepGemmFloor(widths: [Int], batch: Int, repetitions: Int) -> (rate: MeasuredRate, flops: Double)
    {
        _ = BLAS.configured
        let net = Network<Float>(widths: widths, capacity: batch)
        var rng = LotteryRNG(seed: 1, stream: "bench")
        let input = (0..<(batch * widths[0])).map { _ in Float(rng.uniform()) }
        for l in 0..<net.layerCount {
            for i in 0..<(net.inputs(l) * net.outputs(l)) { net.weights[l][i] = Float(rng.gaussian() * 0.05) }
            for i in 0..<(batch * net.outputs(l)) { net.deltas[l][i] = Float(rng.gaussian() * 0.01) }
        }
        var flops = 0.0
        for l in 0..<net.layerCount {
            flops += 2 * Double(batch * net.inputs(l) * net.outputs(l)) * (l > 0 ? 3 : 2)
        }
        return input.withUnsafeBufferPointer { x in
            func once() {
                var previous = x.baseAddress!
                for l in 0..<net.layerCount {
                    let n = net.outputs(l), k = net.inputs(l)
                    Float.gemm(
                        transA: false, transB: false, m: batch, n: n, k: k, alpha: 1, a: previous, lda: k,
                        b: net.weights[l], ldb: n, beta: 0, c: net.activations[l], ldc: n)
                    previous = UnsafePointer(net.activations[l])
                }
                for l in stride(from: net.layerCount - 1, through: 0, by: -1) {
                    let n = net.outputs(l), k = net.inputs(l)
                    let below = l == 0 ? x.baseAddress! : UnsafePointer(net.activations[l - 1])
                    Float.gemm(
                        transA: true, transB: false, m: k, n: n, k: batch, alpha: 1, a: below, lda: k,
                        b: net.deltas[l], ldb: n, beta: 0, c: net.weightGrads[l], ldc: n)
                    if l > 0 {
                        Float.gemm(
                            transA: false, transB: true, m: batch, n: k, k: n, alpha: 1, a: net.deltas[l], lda: n,
                            b: net.weights[l], ldb: n, beta: 0, c: net.deltas[l - 1], ldc: k)
                    }
                }
            }
            for _ in 0..<max(repetitions / 10, 10) { once() }
            let started = Stopwatch()
            for _ in 0..<repetitions { once() }
            return (started.rate(repetitions), flops)
        }
    }

    /// GFLOP/s (wall and CPU) of one large single-threaded sgemm (`size³`), the machine's practical peak.
    public static func largeGemmGFLOPs(size: Int = 1_024, repetitions: Int = 5) -> MeasuredRate {
        _ = BLAS.configured
        var rng = LotteryRNG(seed: 2, stream: "bench")
        let a = (0..<(size * size)).map { _ in Float(rng.uniform()) }
        let b = (0..<(size * size)).map { _ in Float(rng.uniform()) }
        var c = [Float](repeating: 0, count: size * size)
        func once() {
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        Float.gemm(
                            transA: false, transB: false, m: size, n: size, k: size, alpha: 1, a: a.baseAddress!,
                            lda: size, b: b.baseAddress!, ldb: size, beta: 0, c: c.baseAddress!, ldc: size)
                    }
                }
            }
        }
        once()
        let started = Stopwatch()
        for _ in 0..<repetitions { once() }
        let r = started.rate(repetitions)
        let gflop = 2 * Double(size * size * size) / 1e9
        return MeasuredRate(perWallSecond: r.perWallSecond * gflop, perCPUSecond: r.perCPUSecond * gflop)
    }

    /// FLOPs of one evaluation forward pass of one image through `widths`.
    public static func forwardFLOPs(widths: [Int]) -> Double {
        (0..<(widths.count - 1)).reduce(0) { $0 + 2 * Double(widths[$1] * widths[$1 + 1]) }
    }

    /// A copy of `model` pruned to about `density` overall with the paper's layer-wise proportions.
    ///
    /// Layer `l` keeps `rate_l`^r of its weights (largest magnitudes, ties to the lower index), with `r` chosen
    /// so that the overall density is `density` — the shape an IMP trial has after `r` rounds of layer-wise
    /// magnitude pruning at `rates` (Frankle & Carbin 2019: 0.2, 0.2, 0.1 for LeNet-300-100).
    /// The overall density of `model` after `rounds` IMP rounds at per-layer `rates` (what ``pruned(_:density:rates:)``
    /// needs to prune as those rounds would).
    public static func density(of model: MLP, afterRounds rounds: Int, rates: [Double]) -> Double {
        precondition(rates.count == model.layers.count, "density: \(rates.count) rates for \(model.layers.count) layers")
        let sizes = model.layers.map { Double($0.weight.count) }
        return zip(sizes, rates).reduce(0) { $0 + $1.0 * pow(1 - $1.1, Double(rounds)) } / sizes.reduce(0, +)
    }

    public static func pruned(_ model: MLP, density: Double, rates: [Double] = [0.2, 0.2, 0.1]) -> MLP {
        precondition(density > 0 && density <= 1, "pruned: density \(density) outside (0, 1]")
        precondition(rates.count == model.layers.count, "pruned: \(rates.count) rates for \(model.layers.count) layers")
        let sizes = model.layers.map { Double($0.weight.count) }
        let total = sizes.reduce(0, +)
        func overall(_ r: Double) -> Double { zip(sizes, rates).reduce(0) { $0 + $1.0 * pow(1 - $1.1, r) } / total }
        var lo = 0.0, hi = 200.0
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if overall(mid) > density { lo = mid } else { hi = mid }
        }
        var model = model
        let masks = model.layers.indices.map { l -> LayerMask in
            let layer = model.layers[l]
            let keep = max(1, Int((sizes[l] * pow(1 - rates[l], hi)).rounded()))
            let ranked = layer.weight.data.indices.sorted {
                let a = abs(layer.weight.data[$0]), b = abs(layer.weight.data[$1])
                return a != b ? a > b : $0 < $1
            }
            var kept = [Bool](repeating: false, count: layer.weight.count)
            for i in ranked.prefix(keep) { kept[i] = true }
            return LayerMask(rows: layer.inputs, cols: layer.outputs, kept: kept)
        }
        model.apply(masks: masks)
        return model
    }
}

private func seconds(since started: ContinuousClock.Instant) -> Double {
    let elapsed = started.duration(to: .now).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
}
