import Foundation

/// Where a training run is, for progress displays.
public struct TrainingProgress: Sendable {
    /// Iterations done so far.
    public var iteration: Int
    /// Iterations in the run.
    public var iterations: Int
    /// The latest evaluation, if any yet.
    public var lastEval: EvalPoint?

    public init(iteration: Int, iterations: Int, lastEval: EvalPoint?) {
        self.iteration = iteration
        self.iterations = iterations
        self.lastEval = lastEval
    }
}

/// What one ``Trainer/train(_:snapshotAt:progress:)`` call measured.
public struct TrainingRun: Sendable {
    /// One point every `eval_every` iterations and at the last iteration, in order.
    public var curve: [EvalPoint]
    /// The point of minimum validation loss (the first on ties): the paper's early-stopping iteration,
    /// found after training ran its full length.
    public var earlyStop: EvalPoint
    /// Test accuracy after the last iteration.
    public var finalTestAccuracy: Double
    /// Accuracy on the training split (without the validation images) after the last iteration.
    public var finalTrainAccuracy: Double
    /// The model after `snapshotAt` iterations (0 = before the first step), for late rewinding; `nil` when not asked.
    public var snapshot: MLP?
    /// Wall-clock seconds of the call, evaluation included.
    public var seconds: Double

    public init(
        curve: [EvalPoint], earlyStop: EvalPoint, finalTestAccuracy: Double, finalTrainAccuracy: Double,
        snapshot: MLP?, seconds: Double
    ) {
        self.curve = curve
        self.earlyStop = earlyStop
        self.finalTestAccuracy = finalTestAccuracy
        self.finalTrainAccuracy = finalTrainAccuracy
        self.snapshot = snapshot
        self.seconds = seconds
    }

    /// The point of minimum validation loss in `curve`, the first one on ties.
    public static func earlyStop(in curve: [EvalPoint]) -> EvalPoint? {
        var best: EvalPoint?
        for point in curve where best == nil || point.valLoss < best!.valLoss { best = point }
        return best
    }
}

/// Trains a masked ``MLP`` the way a trial spec says (Frankle & Carbin 2019, Appendix: LeNet-300-100 on MNIST).
///
/// Optimizer (Adam or SGD with momentum), learning rate, batch size, iterations and evaluation period come from
/// `spec.train`. Mini-batches are drawn without replacement from a permutation of the training split that is
/// reshuffled at the start of every epoch (the partial batch at an epoch's end is skipped) by the RNG stream
/// `"order"` of ``TrialSpec/orderSeed``; every call starts that stream afresh, so every IMP round sees the same
/// batch order. Optimizer state is fresh per call. All matrix work is single-threaded OpenBLAS sgemm on
/// preallocated buffers; the same spec, data and model give bit-identical results.
///
/// Not thread-safe across concurrent calls sharing one BLAS thread setting; one trainer per thread is fine.
public struct Trainer: Sendable {
    public let spec: TrialSpec
    public let data: DataSplits
    /// Which kernels the layers run (``KernelPolicy/auto`` unless measuring).
    public let kernels: KernelPolicy
    /// Whether the training images are mostly zero (``KernelPolicy/isMostlyZero(_:)``; MNIST is), which the `auto`
    /// rule takes into account. Computed once, from the data alone.
    public let zeroInputs: Bool
    /// Threads one training call may use (networks with convolutions; an MLP trains on one). Results are
    /// bit-identical for any value (``ConvNetwork``).
    public let threads: Int
    /// Images per pass during evaluation.
    public static let evaluationChunk = 1_000

    /// A trainer for `spec` on `data`.
    ///
    /// - Parameter kernels: ``KernelPolicy/auto`` (the default) picks dense or sparse kernels per layer from its
    ///   density and shape alone, so every worker computes the same bits; `.dense`/`.sparse` force one kind for
    ///   measurement and tests.
    ///   - threads: threads per training call (conv networks only; the numbers do not depend on it).
    public init(spec: TrialSpec, data: DataSplits, kernels: KernelPolicy = .auto, threads: Int = 1) {
        precondition(
            spec.train.batch <= data.train.count,
            "Trainer: batch \(spec.train.batch) larger than the \(data.train.count) training images")
        precondition(threads >= 1, "Trainer: \(threads) threads")
        self.spec = spec
        self.data = data
        self.kernels = kernels
        self.threads = threads
        zeroInputs = kernels.skipsZeroInputs && KernelPolicy.isMostlyZero(data.train)
    }

    /// The kernels a run of this trainer on `model` uses: per layer, `true` = sparse.
    public func sparseLayers(of model: MLP) -> [Bool] { kernels.sparseLayers(of: model, zeroInputs: zeroInputs) }

    /// Trains `model` for `spec.train.iterations` steps with its masks fixed, without progress reports.
    ///
    /// The same as ``train(_:snapshotAt:progress:)`` with a `progress` that does nothing.
    public func train(_ model: inout MLP, snapshotAt: Int? = nil) -> TrainingRun {
        train(&model, snapshotAt: snapshotAt, progress: { _ in })
    }

    /// Trains `model` for `spec.train.iterations` steps with its masks fixed.
    ///
    /// Evaluates validation loss/accuracy and test accuracy every `spec.train.evalEvery` iterations and after the
    /// last one. Pruned weights (mask 0) are 0.0 on entry (enforced) and stay exactly 0.0.
    /// - Parameters:
    ///   - model: trained in place; its widths must match the data (`widths.first == features`,
    ///     `widths.last == classes`).
    ///   - snapshotAt: if set, the run also returns the weights after this many iterations (0 = on entry).
    ///   - progress: called after every evaluation and every 100 iterations, on the calling thread. It may throw to
    ///     stop training at once (a worker cancelling a trial); `model` is then left as it was on entry.
    /// - Returns: the learning curve, early-stopping point, final accuracies and the snapshot.
    /// - Throws: only what `progress` throws.
    public func train(
        _ model: inout MLP, snapshotAt: Int? = nil, progress: (TrainingProgress) throws -> Void
    ) rethrows -> TrainingRun {
        _ = BLAS.configured
        let started = ContinuousClock.now
        let train = data.train
        precondition(
            model.architecture.input.features == train.features && model.architecture.classes == train.classes,
            "Trainer: the model's \(model.architecture.input) inputs / \(model.architecture.classes) classes do not fit \(train.shape) images / \(train.classes) classes"
        )
        let iterations = spec.train.iterations, batch = spec.train.batch
        if let snapshotAt {
            precondition(
                snapshotAt >= 0 && snapshotAt <= iterations,
                "Trainer: snapshotAt \(snapshotAt) outside 0...\(iterations)")
        }

        model.enforceMasks()
        if model.architecture.hasConvolutions {
            let k = ConvKernels(
                model: model, batch: batch, threads: threads, sparse: sparseLayers(of: model),
                convKernels: kernels)
            return try run(k, model: &model, snapshotAt: snapshotAt, progress: progress, started: started)
        }
        let sparse = sparseLayers(of: model)
        if sparse.contains(true) {
            let k = SparseKernels(
                model: model, sparse: sparse, batch: batch, evaluationChunk: SparseKernels.evaluationChunk)
            return try run(k, model: &model, snapshotAt: snapshotAt, progress: progress, started: started)
        }
        let k = RowMajorKernels(
            model: model, batch: batch, evaluationChunk: Self.evaluationChunk, skipZeroInputs: kernels.skipsZeroInputs)
        return try run(k, model: &model, snapshotAt: snapshotAt, progress: progress, started: started)
    }

    /// The step loop, specialised per kernel kind.
    private func run<K: StepKernels>(
        _ net: K, model: inout MLP, snapshotAt: Int?, progress: (TrainingProgress) throws -> Void,
        started: ContinuousClock.Instant
    ) rethrows -> TrainingRun {
        let train = data.train
        let iterations = spec.train.iterations, batch = spec.train.batch, evalEvery = spec.train.evalEvery
        let optimizer = Optimizer(
            kind: spec.train.optimizer, lr: spec.train.lr, momentum: spec.train.momentum, kernels: net)
        var snapshot: MLP? = snapshotAt == 0 ? model : nil
        let validation = net.evaluator(for: data.validation)
        let test = net.evaluator(for: data.test)

        let features = train.features
        var order = Array(0..<train.count)
        var rng = LotteryRNG(seed: spec.orderSeed, stream: "order")
        var cursor = train.count  // forces a shuffle before the first batch
        var curve: [EvalPoint] = []
        curve.reserveCapacity(iterations / evalEvery + 1)

        try train.images.withUnsafeBufferPointer { images in
            try train.labels.withUnsafeBufferPointer { allLabels in
                for iteration in 1...iterations {
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

                    if iteration == snapshotAt {
                        var copy = model
                        net.store(into: &copy)
                        snapshot = copy
                    }
                    if iteration % evalEvery == 0 || iteration == iterations {
                        let v = validation()
                        let t = test()
                        curve.append(
                            EvalPoint(iteration: iteration, valLoss: v.loss, valAcc: v.accuracy, testAcc: t.accuracy))
                        try progress(
                            TrainingProgress(iteration: iteration, iterations: iterations, lastEval: curve.last))
                    } else if iteration % 100 == 0 {
                        try progress(
                            TrainingProgress(iteration: iteration, iterations: iterations, lastEval: curve.last))
                    }
                }
            }
        }
        net.store(into: &model)
        let finalTrain = net.evaluate(train)
        let last = curve[curve.count - 1]
        let elapsed = started.duration(to: .now).components
        return TrainingRun(
            curve: curve, earlyStop: TrainingRun.earlyStop(in: curve)!, finalTestAccuracy: last.testAcc,
            finalTrainAccuracy: finalTrain.accuracy, snapshot: snapshot,
            seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
    }

    /// Mean cross-entropy loss and accuracy of `model` on `dataset` (masks applied), with the kernels `kernels`
    /// would train it with when it is dense-ruled (``KernelPolicy/auto``: zero inputs skipped where they are most).
    public static func evaluate(_ model: MLP, on dataset: Dataset, kernels: KernelPolicy = .auto) -> (
        loss: Double, accuracy: Double
    ) {
        _ = BLAS.configured
        if model.architecture.hasConvolutions {
            let k = ConvKernels(
                model: model, batch: 1, threads: 1, sparse: kernels.sparseLayers(of: model),
                convKernels: kernels)
            return k.evaluate(dataset)
        }
        let net = Network<Float>(widths: model.widths, capacity: min(evaluationChunk, max(dataset.count, 1)))
        net.load(model)
        return evaluate(net, on: dataset, inputs: kernels.skipsZeroInputs ? .compressEachChunk : .dense)
    }

    /// How ``evaluate(_:on:inputs:)`` feeds the first layer.
    enum EvaluationInputs {
        /// Dense rows, sgemm.
        case dense
        /// The whole dataset already compressed; each chunk by the sparse-input rule.
        case compressed(SparseRows)
        /// Each chunk compressed as it comes, then by the rule.
        case compressEachChunk
    }

    static func evaluate(_ net: Network<Float>, on dataset: Dataset, inputs: EvaluationInputs) -> (
        loss: Double, accuracy: Double
    ) {
        precondition(
            dataset.features == net.widths[0],
            "Trainer.evaluate: \(dataset.features) features for a \(net.widths[0])-input model")
        guard dataset.count > 0 else { return (0, 0) }
        let features = dataset.features
        var chunkRows: SparseRows?
        if case .compressEachChunk = inputs { chunkRows = SparseRows(capacity: net.capacity, features: features) }
        var lossSum = 0.0
        var correct = 0
        dataset.images.withUnsafeBufferPointer { images in
            dataset.labels.withUnsafeBufferPointer { labels in
                var start = 0
                while start < dataset.count {
                    let rows = min(net.capacity, dataset.count - start)
                    let chunk = images.baseAddress! + start * features
                    switch inputs {
                    case .dense:
                        net.forward(chunk, rows: rows)
                    case .compressed(let x):
                        if KernelPolicy.usesSparseInput(
                            nonzeros: x.nonzeros(first: start, count: rows), rows: rows, features: features)
                        {
                            net.forward(sparse: x, first: start, rows: rows)
                        } else {
                            net.forward(chunk, rows: rows)
                        }
                    case .compressEachChunk:
                        let x = chunkRows!
                        x.load(images: chunk, order: nil, rows: rows)
                        if KernelPolicy.usesSparseInput(
                            nonzeros: x.nonzeros(first: 0, count: rows), rows: rows, features: features)
                        {
                            net.forward(sparse: x, first: 0, rows: rows)
                        } else {
                            net.forward(chunk, rows: rows)
                        }
                    }
                    let score = net.score(labels: labels.baseAddress! + start, rows: rows)
                    lossSum += score.lossSum
                    correct += score.correct
                    start += rows
                }
            }
        }
        return (lossSum / Double(dataset.count), Double(correct) / Double(dataset.count))
    }
}
