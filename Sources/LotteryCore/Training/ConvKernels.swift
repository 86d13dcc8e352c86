/// ``ConvNetwork`` with its batch buffers: the trainer's kernels for networks with convolutions.
final class ConvKernels: StepKernels {
    /// Images per evaluation pass.
    static let evaluationChunk = 100

    let net: ConvNetwork<Float>
    let batch: Int
    private let input: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<UInt8>
    private var rows = 0

    /// - Parameter sparse: per weight layer, whether it runs the weight-sparse convolution (conv layers only;
    ///   ``KernelPolicy/sparseLayers(of:zeroInputs:)``). Empty: all dense.
    /// - Parameter convKernels: each dense conv layer's algorithm is `convKernels.winogradTile(layer:of:)`
    ///   (``KernelPolicy/im2col``: im2col + sgemm everywhere).
    init(model: MLP, batch: Int, threads: Int, sparse: [Bool] = [], convKernels: KernelPolicy = .dense) {
        let capacity = max(batch, Self.evaluationChunk)
        net = ConvNetwork<Float>(
            architecture: model.architecture, capacity: capacity, threads: threads, convKernels: convKernels)
        net.load(model)
        if sparse.contains(true) { net.useSparseKernels(sparse) }
        self.batch = batch
        input = .allocate(capacity: capacity * model.architecture.input.features)
        labels = .allocate(capacity: capacity)
    }

    deinit {
        input.deallocate()
        labels.deallocate()
    }

    func loadBatch(
        images: UnsafePointer<Float>, labels allLabels: UnsafePointer<UInt8>, features: Int, order: UnsafePointer<Int>,
        rows: Int
    ) {
        precondition(rows <= batch, "ConvKernels: \(rows) rows, batch \(batch)")
        for row in 0..<rows { labels[row] = allLabels[order[row]] }
        self.rows = rows
        ConvNetwork<Float>.loadImages(
            images, shape: net.architecture.input, order: { order[$0] }, rows: rows, into: input)
    }

    func computeGradients() {
        net.forward(input, rows: rows)
        net.outputDelta(labels: labels, rows: rows)
        net.backward(input, rows: rows)
    }

    /// Weights per optimizer block: big layers are cut so that several threads can update them.
    static let optimizerSegment = 65_536

    /// Every layer's kernel in segments of ``optimizerSegment`` (an update is element-wise, so cutting changes no
    /// bit), then its bias.
    func parameterBlocks() -> [ParameterBlock] {
        var blocks: [ParameterBlock] = []
        for (l, shape) in net.architecture.weightLayers.enumerated() {
            let allKept = UnsafeBufferPointer(start: net.masks[l], count: shape.count).allSatisfy { $0 != 0 }
            for start in stride(from: 0, to: shape.count, by: Self.optimizerSegment) {
                let count = min(Self.optimizerSegment, shape.count - start)
                blocks.append(
                    ParameterBlock(
                        values: net.weights[l] + start, gradients: net.weightGrads[l] + start,
                        mask: allKept ? nil : net.masks[l] + start, count: count))
            }
            blocks.append(ParameterBlock(values: net.biases[l], gradients: net.biasGrads[l], mask: nil, count: shape.cols))
        }
        return blocks
    }

    var optimizerThreads: Int { net.threads }

    func evaluator(for dataset: Dataset) -> () -> (loss: Double, accuracy: Double) {
        { [self] in self.evaluate(dataset) }
    }

    func evaluate(_ dataset: Dataset) -> (loss: Double, accuracy: Double) {
        Self.evaluate(net, on: dataset, scratch: input)
    }

    /// Mean loss and accuracy of `net` on `dataset`, in passes of ``evaluationChunk`` images through `scratch`.
    static func evaluate(_ net: ConvNetwork<Float>, on dataset: Dataset, scratch: UnsafeMutablePointer<Float>) -> (
        loss: Double, accuracy: Double
    ) {
        precondition(dataset.shape == net.architecture.input, "ConvKernels.evaluate: \(dataset.shape) images")
        guard dataset.count > 0 else { return (0, 0) }
        var lossSum = 0.0
        var correct = 0
        let pass = min(net.capacity, evaluationChunk)
        dataset.images.withUnsafeBufferPointer { images in
            dataset.labels.withUnsafeBufferPointer { labels in
                var start = 0
                while start < dataset.count {
                    let rows = min(pass, dataset.count - start)
                    ConvNetwork<Float>.loadImages(
                        images.baseAddress!, shape: dataset.shape, order: { start + $0 }, rows: rows, into: scratch)
                    net.forward(scratch, rows: rows)
                    let score = net.score(labels: labels.baseAddress! + start, rows: rows)
                    lossSum += score.lossSum
                    correct += score.correct
                    start += rows
                }
            }
        }
        return (lossSum / Double(dataset.count), Double(correct) / Double(dataset.count))
    }

    func store(into model: inout MLP) { net.store(into: &model) }
}
