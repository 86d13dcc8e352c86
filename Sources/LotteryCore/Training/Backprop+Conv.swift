extension Backprop {
    /// Mean softmax cross-entropy of a batch and its gradients for a network with convolutions, in Double.
    ///
    /// Runs ``ConvNetwork``'s generic kernels — the ones that train in Float — specialised for Double, so finite
    /// differences can check every backward term. Weights are used as `weight ⊙ mask`; returned weight gradients
    /// are masked (0 where pruned), as the optimizer sees them.
    /// - Parameters:
    ///   - architecture: the network; weights per weight layer `[rows, cols]` of ``Architecture/weightLayers``.
    ///   - inputs: `[rows, C·H·W]`, each image channel-first (as data sets store them).
    ///   - labels: `rows` labels `< classes`.
    ///   - threads: threads for the convolution chunks (the result does not depend on it).
    ///   - convKernels: the dense conv algorithms (``KernelPolicy/winogradTile(layer:of:)``; `.im2col`: im2col +
    ///     sgemm).
    public static func lossAndGradients(
        architecture: Architecture, weights: [[Double]], biases: [[Double]], masks: [[Double]], inputs: [Double],
        labels: [UInt8], threads: Int = 1, sparse: Bool = false, convKernels: KernelPolicy = .dense
    ) -> (loss: Double, weightGradients: [[Double]], biasGradients: [[Double]]) {
        _ = BLAS.configured
        let net = ConvNetwork<Double>(
            architecture: architecture, capacity: max(labels.count, 1), threads: threads, convKernels: convKernels)
        for l in architecture.weightLayers.indices {
            for i in weights[l].indices {
                net.weights[l][i] = weights[l][i] * masks[l][i]
                net.masks[l][i] = masks[l][i]
            }
            for j in biases[l].indices { net.biases[l][j] = biases[l][j] }
        }
        if sparse { net.useSparseKernels(architecture.weightLayers.map { $0.kind == .conv }) }
        let flat = inputs.map(Float.init)
        return convRun(net, inputs: flat, labels: labels)
    }

    /// The same in Float for `model` (``MLP`` with any ``Architecture``), with the trainer's conv kernels.
    /// `kernels` picks the conv layers that run the weight-sparse convolution (``KernelPolicy/sparseLayers(of:zeroInputs:)``).
    public static func lossAndGradients(
        model: MLP, inputs: [Float], labels: [UInt8], threads: Int, kernels: KernelPolicy = .dense
    ) -> (loss: Double, weightGradients: [[Float]], biasGradients: [[Float]]) {
        _ = BLAS.configured
        var model = model
        model.enforceMasks()
        let net = ConvNetwork<Float>(
            architecture: model.architecture, capacity: max(labels.count, 1), threads: threads,
            convKernels: kernels)
        net.load(model)
        net.useSparseKernels(kernels.sparseLayers(of: model))
        return convRun(net, inputs: inputs, labels: labels)
    }

    private static func convRun<T: NetworkScalar>(_ net: ConvNetwork<T>, inputs: [Float], labels: [UInt8]) -> (
        loss: Double, weightGradients: [[T]], biasGradients: [[T]]
    ) {
        let rows = labels.count
        let shape = net.architecture.input
        precondition(rows >= 1 && inputs.count == rows * shape.features, "Backprop: \(inputs.count) inputs for \(rows) images")
        precondition(labels.allSatisfy { Int($0) < net.classes }, "Backprop: a label is ≥ \(net.classes)")
        let x = UnsafeMutablePointer<T>.allocate(capacity: inputs.count)
        defer { x.deallocate() }
        inputs.withUnsafeBufferPointer { source in
            ConvNetwork<T>.loadImages(source.baseAddress!, shape: shape, order: { $0 }, rows: rows, into: x)
        }
        return labels.withUnsafeBufferPointer { y in
            net.forward(x, rows: rows)
            let loss = net.score(labels: y.baseAddress!, rows: rows).lossSum / Double(rows)
            net.outputDelta(labels: y.baseAddress!, rows: rows)
            net.backward(x, rows: rows)
            let shapes = net.architecture.weightLayers
            let gw = shapes.indices.map { l in
                (0..<shapes[l].count).map { i in net.masks[l][i] == 0 ? 0 : net.weightGrads[l][i] }
            }
            let gb = shapes.indices.map { l in Array(UnsafeBufferPointer(start: net.biasGrads[l], count: shapes[l].cols)) }
            return (loss, gw, gb)
        }
    }
}

extension Backprop {
    /// Trains a network with convolutions for one step per batch, with the spec's optimizer and learning rate, on
    /// explicit batches (not the trainer's shuffled order): for comparing our numbers step by step with another
    /// framework's.
    ///
    /// - Parameters:
    ///   - batches: each `[rows, C·H·W]`, images channel-first; `labels` one list per batch.
    /// - Returns: each step's mean loss (before its update) and the model after the last step.
    public static func trainSteps(
        model: MLP, spec: TrialSpec, batches: [[Float]], labels: [[UInt8]], threads: Int = 1,
        kernels policy: KernelPolicy = .auto
    ) -> (losses: [Double], model: MLP) {
        precondition(model.architecture.hasConvolutions, "Backprop.trainSteps: for networks with convolutions")
        precondition(batches.count == labels.count && !labels.isEmpty, "Backprop.trainSteps: one label list per batch")
        _ = BLAS.configured
        var model = model
        model.enforceMasks()
        let rows = labels[0].count
        let kernels = ConvKernels(
            model: model, batch: rows, threads: threads, sparse: policy.sparseLayers(of: model),
            convKernels: policy)
        let optimizer = Optimizer(kind: spec.train.optimizer, lr: spec.train.lr, momentum: spec.train.momentum, kernels: kernels)
        let order = Array(0..<rows)
        var losses: [Double] = []
        for (batch, y) in zip(batches, labels) {
            precondition(y.count == rows && batch.count == rows * model.architecture.input.features, "Backprop.trainSteps: batch shape")
            batch.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { l in
                    order.withUnsafeBufferPointer { o in
                        kernels.loadBatch(
                            images: x.baseAddress!, labels: l.baseAddress!, features: model.architecture.input.features,
                            order: o.baseAddress!, rows: rows)
                    }
                    kernels.computeGradients()
                    losses.append(kernels.net.score(labels: l.baseAddress!, rows: rows).lossSum / Double(rows))
                }
            }
            optimizer.update()
        }
        kernels.store(into: &model)
        return (losses, model)
    }
}
