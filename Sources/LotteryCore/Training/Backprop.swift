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
    ///   policy marks sparse run the sparse kernels (``KernelPolicy``), as ``Trainer`` would. Weight gradients
    ///   are returned masked and `[in, out]` either way.
    public static func lossAndGradients(model: MLP, inputs: [Float], labels: [UInt8], kernels: KernelPolicy = .dense)
        -> (loss: Double, weightGradients: [[Float]], biasGradients: [[Float]])
    {
        _ = BLAS.configured
        var model = model
        model.enforceMasks()
        let sparse = kernels.sparseLayers(of: model)
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
                let gw = (0..<net.layerCount).map { l in
                    (0..<(net.inputs(l) * net.outputs(l))).map { net.weightGrads[l][$0] * net.masks[l][$0] }
                }
                let gb = (0..<net.layerCount).map { l in
                    Array(UnsafeBufferPointer(start: net.biasGrads[l], count: net.outputs(l)))
                }
                return (loss, gw, gb)
            }
        }
    }
}
