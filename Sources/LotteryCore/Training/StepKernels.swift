/// What the training loop needs from a network implementation (internal): load a batch, compute gradients,
/// expose parameters to the ``Optimizer``, evaluate, write back.
///
/// Two conformers: ``RowMajorKernels`` (the dense row-major sgemm ``Network``) and ``SparseKernels``
/// (``SparseNetwork``). The trainer's loop is generic over this protocol, so it is specialised for each.
protocol StepKernels: AnyObject {
    /// Gathers images `order[0..<rows]` of `images` (`[*, features]`) and their labels as the next batch.
    func loadBatch(
        images: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, features: Int, order: UnsafePointer<Int>, rows: Int)
    /// Forward, output delta and backward on the loaded batch: fills every gradient.
    func computeGradients()
    /// The parameters and gradients the optimizer updates.
    func parameterBlocks() -> [ParameterBlock]
    /// A function giving mean loss and accuracy on `dataset` with the current parameters (may precompute).
    func evaluator(for dataset: Dataset) -> () -> (loss: Double, accuracy: Double)
    /// Mean loss and accuracy on `dataset`, once.
    func evaluate(_ dataset: Dataset) -> (loss: Double, accuracy: Double)
    /// Writes the parameters back into `model`.
    func store(into model: inout MLP)
    /// Threads the optimizer may spread its parameter blocks over (element-wise, so the bits do not change).
    var optimizerThreads: Int { get }
}

extension StepKernels {
    var optimizerThreads: Int { 1 }
}

/// The row-major dense ``Network`` with its batch buffers.
///
/// With `skipZeroInputs`, every batch is also compressed to its nonzero inputs (``SparseRows``) and, when the
/// rule ``KernelPolicy/usesSparseInput(nonzeros:rows:features:)`` says so, the first layer's forward product and
/// weight gradients run on those lists instead of sgemm; evaluation does the same per chunk.
final class RowMajorKernels: StepKernels {
    let net: Network<Float>
    let batch: Int
    let skipZeroInputs: Bool
    private let input: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<UInt8>
    /// The batch's nonzero inputs, by row and by feature (only when skipping zero inputs).
    private let sparseInput: (rows: SparseRows, columns: SparseColumns)?
    private var rows = 0
    private var sparseBatch = false

    init(model: MLP, batch: Int, evaluationChunk: Int, skipZeroInputs: Bool) {
        net = Network<Float>(widths: model.widths, capacity: max(batch, evaluationChunk))
        net.load(model)
        self.batch = batch
        self.skipZeroInputs = skipZeroInputs
        let features = model.widths[0]
        input = .allocate(capacity: batch * features)
        labels = .allocate(capacity: batch)
        sparseInput =
            skipZeroInputs
            ? (
                SparseRows(capacity: batch, features: features),
                SparseColumns(features: features, entries: batch * features)
            )
            : nil
    }

    deinit {
        input.deallocate()
        labels.deallocate()
    }

    func loadBatch(
        images: UnsafePointer<Float>, labels allLabels: UnsafePointer<UInt8>, features: Int, order: UnsafePointer<Int>,
        rows: Int
    ) {
        precondition(rows <= batch, "RowMajorKernels: \(rows) rows, batch \(batch)")
        for row in 0..<rows { labels[row] = allLabels[order[row]] }
        self.rows = rows
        if let sparseInput {
            sparseInput.rows.load(images: images, order: order, rows: rows)
            sparseBatch = KernelPolicy.usesSparseInput(
                nonzeros: sparseInput.rows.nonzeros(first: 0, count: rows), rows: rows, features: features)
            if sparseBatch { return }
        }
        for row in 0..<rows {
            (input + row * features).update(from: images + order[row] * features, count: features)
        }
    }

    func computeGradients() {
        if sparseBatch, let sparseInput {
            net.forward(sparse: sparseInput.rows, first: 0, rows: rows)
            net.outputDelta(labels: labels, rows: rows)
            sparseInput.columns.load(sparseInput.rows, first: 0, count: rows)
            net.backward(sparse: sparseInput.columns, rows: rows)
        } else {
            net.forward(input, rows: rows)
            net.outputDelta(labels: labels, rows: rows)
            net.backward(input, rows: rows)
        }
    }

    func parameterBlocks() -> [ParameterBlock] {
        var blocks: [ParameterBlock] = []
        for l in 0..<net.layerCount {
            // A layer with nothing pruned skips the mask: multiplying by 1 is exact, so the bits are the same,
            // and the update reads one array less.
            let count = net.inputs(l) * net.outputs(l)
            let allKept = UnsafeBufferPointer(start: net.masks[l], count: count).allSatisfy { $0 != 0 }
            blocks.append(
                ParameterBlock(
                    values: net.weights[l], gradients: net.weightGrads[l], mask: allKept ? nil : net.masks[l],
                    count: count))
            blocks.append(
                ParameterBlock(values: net.biases[l], gradients: net.biasGrads[l], mask: nil, count: net.outputs(l)))
        }
        return blocks
    }

    func evaluator(for dataset: Dataset) -> () -> (loss: Double, accuracy: Double) {
        // Compressed once: the validation and test sets are evaluated every `eval_every` iterations.
        let inputs: Trainer.EvaluationInputs = skipZeroInputs ? .compressed(SparseRows(dataset: dataset)) : .dense
        return { [net] in Trainer.evaluate(net, on: dataset, inputs: inputs) }
    }

    func evaluate(_ dataset: Dataset) -> (loss: Double, accuracy: Double) {
        Trainer.evaluate(net, on: dataset, inputs: skipZeroInputs ? .compressEachChunk : .dense)
    }

    func store(into model: inout MLP) { net.store(into: &model) }
}

/// ``SparseNetwork`` with its label buffer.
final class SparseKernels: StepKernels {
    /// Images per evaluation pass: small enough that a pass's feature-major inputs (live inputs × 128 floats)
    /// stay in L2 while every kept weight sweeps over them.
    static let evaluationChunk = 128

    let net: SparseNetwork
    private let labels: UnsafeMutablePointer<UInt8>

    init(model: MLP, sparse: [Bool], batch: Int, evaluationChunk: Int) {
        net = SparseNetwork(model: model, sparse: sparse, capacity: max(batch, evaluationChunk))
        labels = .allocate(capacity: batch)
    }

    deinit { labels.deallocate() }

    func loadBatch(
        images: UnsafePointer<Float>, labels allLabels: UnsafePointer<UInt8>, features: Int, order: UnsafePointer<Int>,
        rows: Int
    ) {
        net.loadBatch(images: images, features: features, order: order, rows: rows)
        for row in 0..<rows { labels[row] = allLabels[order[row]] }
    }

    func computeGradients() {
        net.forward(net.input, rows: net.rows)
        net.outputDelta(labels: labels)
        net.backward(net.input)
    }

    func parameterBlocks() -> [ParameterBlock] { net.parameterBlocks() }

    func evaluator(for dataset: Dataset) -> () -> (loss: Double, accuracy: Double) {
        let set = net.transposed(dataset)
        return { [net] in net.evaluate(set) }
    }

    func evaluate(_ dataset: Dataset) -> (loss: Double, accuracy: Double) { net.evaluate(dataset) }

    func store(into model: inout MLP) { net.store(into: &model) }
}

extension Optimizer {
    /// An optimizer bound to `kernels`' parameters.
    convenience init(kind: OptimizerKind, lr: Double, momentum: Double, kernels: some StepKernels) {
        self.init(
            kind: kind, lr: lr, momentum: momentum, blocks: kernels.parameterBlocks(), threads: kernels.optimizerThreads)
    }
}
