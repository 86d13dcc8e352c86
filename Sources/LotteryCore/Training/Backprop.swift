/// Loss and gradients of a masked MLP on one batch, for gradient checks and tools.
///
/// Both entry points run the generic forward/backward kernels that ``Trainer`` specialises for `Float`; the
/// `Double` one runs them in double precision (OpenBLAS dgemm) so that finite differences can check the
/// analytic backward pass to ~1e-7 — in Float, rounding would swamp the check.
public enum Backprop {
    /// Mean softmax cross-entropy of a batch and its gradients, in Double.
    ///
    /// Weights are used as `weight ⊙ mask`; returned weight gradients are masked (0 where pruned), as the
    /// optimizer sees them.
    /// - Parameters:
    ///   - widths: units per layer including input and output.
    ///   - weights: per layer, `[in, out]` row-major; `masks` the same shapes (1 kept, 0 pruned).
    ///   - biases: per layer, `[out]`.
    ///   - inputs: `[rows, widths[0]]` row-major.
    ///   - labels: `rows` labels `< widths.last`.
    public static func lossAndGradients(
        widths: [Int], weights: [[Double]], biases: [[Double]], masks: [[Double]], inputs: [Double], labels: [UInt8]
    ) -> (loss: Double, weightGradients: [[Double]], biasGradients: [[Double]]) {
        run(widths: widths, weights: weights, biases: biases, masks: masks, inputs: inputs, labels: labels)
    }

    /// The same in Float, for `model` as the trainer sees it, with the trainer's kernels.
    ///
    /// - Parameter kernels: `.dense` (default) runs the row-major sgemm ``Network``; otherwise the layers the
    ///   policy marks sparse run the sparse kernels (``KernelPolicy``), and with `.auto` a dense-ruled network's
    ///   first layer skips zero inputs when the batch's rule says so, as ``Trainer`` would. Weight gradients are
    ///   returned masked and `[in, out]` either way.
    public static func lossAndGradients(model: MLP, inputs: [Float], labels: [UInt8], kernels: KernelPolicy = .dense)
        -> (loss: Double, weightGradients: [[Float]], biasGradients: [[Float]])
    {
        _ = BLAS.configured
        var model = model
        model.enforceMasks()
        // The batch stands for the training data in the `auto` rule.
        let zeroInputs =
            kernels.skipsZeroInputs
            && KernelPolicy.usesSparseInput(
                nonzeros: nonzeroCount(inputs), rows: labels.count, features: model.widths[0])
        let sparse = kernels.sparseLayers(of: model, zeroInputs: zeroInputs)
        if sparse.contains(true) {
            let rows = labels.count
            precondition(
                rows >= 1 && inputs.count == rows * model.widths[0], "Backprop: \(inputs.count) inputs for \(rows) rows"
            )
            let net = SparseNetwork(model: model, sparse: sparse, capacity: rows)
            let order = Array(0..<rows)
            return inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    order.withUnsafeBufferPointer { o in
                        net.loadBatch(
                            images: x.baseAddress!, features: model.widths[0], order: o.baseAddress!, rows: rows)
                    }
                    net.forward(net.input, rows: rows)
                    let loss = net.score(labels: y.baseAddress!).lossSum / Double(rows)
                    net.outputDelta(labels: y.baseAddress!)
                    net.backward(net.input)
                    let gw = (0..<net.layerCount).map { net.maskedWeightGradients($0) }
                    let gb = (0..<net.layerCount).map { l in
                        Array(UnsafeBufferPointer(start: net.biasGrads[l], count: net.widths[l + 1]))
                    }
                    return (loss, gw, gb)
                }
            }
        }
        let features = model.widths[0], rows = labels.count
        if kernels.skipsZeroInputs, rows >= 1, inputs.count == rows * features {
            // The trainer's own row-major kernels, which pick sgemm or the zero-skipping first layer per batch.
            precondition(
                labels.allSatisfy { Int($0) < model.widths.last! }, "Backprop: a label is ≥ \(model.widths.last!)")
            let k = RowMajorKernels(model: model, batch: rows, evaluationChunk: 1, skipZeroInputs: true)
            let order = Array(0..<rows)
            return inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    order.withUnsafeBufferPointer { o in
                        k.loadBatch(
                            images: x.baseAddress!, labels: y.baseAddress!, features: features, order: o.baseAddress!,
                            rows: rows)
                    }
                    k.computeGradients()
                    // The backward pass leaves the logits as the forward pass wrote them.
                    let loss = k.net.score(labels: y.baseAddress!, rows: rows).lossSum / Double(rows)
                    let g = k.net.maskedGradients()
                    return (loss, g.weights, g.biases)
                }
            }
        }
        return run(
            widths: model.widths, weights: model.layers.map(\.weight.data), biases: model.layers.map(\.bias),
            masks: model.layers.map(\.mask.data), inputs: inputs, labels: labels)
    }

    static func run<T: NetworkScalar>(
        widths: [Int], weights: [[T]], biases: [[T]], masks: [[T]], inputs: [T], labels: [UInt8]
    ) -> (loss: Double, weightGradients: [[T]], biasGradients: [[T]]) {
        let rows = labels.count
        precondition(
            rows >= 1 && inputs.count == rows * widths[0],
            "Backprop: \(inputs.count) inputs for \(rows) rows of \(widths[0])")
        precondition(labels.allSatisfy { Int($0) < widths.last! }, "Backprop: a label is ≥ \(widths.last!)")
        let net = Network<T>(widths: widths, capacity: rows)
        for l in 0..<net.layerCount {
            let n = net.inputs(l) * net.outputs(l)
            precondition(
                weights[l].count == n && masks[l].count == n && biases[l].count == net.outputs(l),
                "Backprop: layer \(l) shapes")
            for i in 0..<n { net.weights[l][i] = weights[l][i] * masks[l][i]; net.masks[l][i] = masks[l][i] }
            for j in 0..<net.outputs(l) { net.biases[l][j] = biases[l][j] }
        }
        return inputs.withUnsafeBufferPointer { x in
            labels.withUnsafeBufferPointer { y in
                net.forward(x.baseAddress!, rows: rows)
                let loss = net.score(labels: y.baseAddress!, rows: rows).lossSum / Double(rows)
                net.outputDelta(labels: y.baseAddress!, rows: rows)
                net.backward(x.baseAddress!, rows: rows)
                let g = net.maskedGradients()
                return (loss, g.weights, g.biases)
            }
        }
    }
}

extension Network {
    /// The gradients of the last backward pass as arrays, weight gradients masked (0 where pruned).
    func maskedGradients() -> (weights: [[T]], biases: [[T]]) {
        let weights = (0..<layerCount).map { l in
            (0..<(inputs(l) * outputs(l))).map { weightGrads[l][$0] * masks[l][$0] }
        }
        let biases = (0..<layerCount).map { l in Array(UnsafeBufferPointer(start: biasGrads[l], count: outputs(l))) }
        return (weights, biases)
    }
}
