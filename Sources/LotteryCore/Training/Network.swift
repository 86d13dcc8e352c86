import CKernels
/// The forward and backward pass of a masked MLP over preallocated buffers (internal).
///
/// One instance owns every buffer a step needs — parameters, gradients, per-layer activations and deltas
/// sized for `capacity` rows — so the training loop allocates nothing. All matrix products are row-major
/// `gemm` calls on contiguous buffers:
///
/// - forward:  `A_l = relu(A_{l-1} · W_l + b_l)` — `gemm(N, N)`, then one fused bias + ReLU pass;
/// - weight gradient: `∂W_l = A_{l-1}ᵀ · Δ_l` — `gemm(T, N)`;
/// - input delta: `Δ_{l-1} = (Δ_l · W_lᵀ) ⊙ [A_{l-1} > 0]` — `gemm(N, T)`.
///
/// `W_l` here already equals `weight ⊙ mask` (the owner enforces it once and every update is masked), so the
/// forward pass needs no per-step mask multiply. Reductions (bias gradients, losses) run in a fixed order, so
/// results are bit-identical run after run. Not thread-safe; one per training call.
final class Network<T: NetworkScalar> {
    let widths: [Int]
    let capacity: Int
    var layerCount: Int { widths.count - 1 }
    let weights: [UnsafeMutablePointer<T>]
    let biases: [UnsafeMutablePointer<T>]
    let masks: [UnsafeMutablePointer<T>]
    let weightGrads: [UnsafeMutablePointer<T>]
    let biasGrads: [UnsafeMutablePointer<T>]
    /// Per layer, `[capacity, out]`: post-ReLU activations (hidden layers) or logits (last layer).
    let activations: [UnsafeMutablePointer<T>]
    /// Per layer, `[capacity, out]`: ∂loss/∂(pre-activation).
    let deltas: [UnsafeMutablePointer<T>]

    init(widths: [Int], capacity: Int) {
        precondition(widths.count >= 2 && capacity >= 1, "Network: widths \(widths), capacity \(capacity)")
        self.widths = widths
        self.capacity = capacity
        func alloc(_ n: Int) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        let pairs = (0..<(widths.count - 1)).map { (widths[$0], widths[$0 + 1]) }
        weights = pairs.map { alloc($0.0 * $0.1) }
        masks = pairs.map { alloc($0.0 * $0.1) }
        weightGrads = pairs.map { alloc($0.0 * $0.1) }
        biases = pairs.map { alloc($0.1) }
        biasGrads = pairs.map { alloc($0.1) }
        activations = pairs.map { alloc(capacity * $0.1) }
        deltas = pairs.map { alloc(capacity * $0.1) }
    }

    deinit {
        for list in [weights, biases, masks, weightGrads, biasGrads, activations, deltas] {
            for p in list { p.deallocate() }
        }
    }

    func inputs(_ l: Int) -> Int { widths[l] }
    func outputs(_ l: Int) -> Int { widths[l + 1] }
    var logits: UnsafeMutablePointer<T> { activations[layerCount - 1] }

    /// Forward pass of `rows` inputs (`[rows, widths[0]]`, row-major); leaves logits in ``logits``.
    func forward(_ input: UnsafePointer<T>, rows: Int) {
        precondition(rows >= 1 && rows <= capacity, "Network.forward: \(rows) rows, capacity \(capacity)")
        T.gemm(
            transA: false, transB: false, m: rows, n: outputs(0), k: inputs(0), alpha: 1, a: input, lda: inputs(0),
            b: weights[0], ldb: outputs(0), beta: 0, c: activations[0], ldc: outputs(0))
        activate(0, rows: rows)
        forwardAbove(rows: rows)
    }

    /// Layers 1… of the forward pass, after layer 0's activations are in place.
    func forwardAbove(rows: Int) {
        for l in 1..<max(layerCount, 1) {
            let n = outputs(l), k = inputs(l)
            T.gemm(
                transA: false, transB: false, m: rows, n: n, k: k, alpha: 1, a: activations[l - 1], lda: k,
                b: weights[l], ldb: n, beta: 0, c: activations[l], ldc: n)
            activate(l, rows: rows)
        }
    }

    /// Adds layer `l`'s bias to its `rows` products, then ReLU unless it is the last layer.
    func activate(_ l: Int, rows: Int) {
        let n = outputs(l)
        let out = activations[l], bias = biases[l]
        if T.self == Float.self, CPUKernels.avx2 {
            lth_bias_activate_avx2(
                UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self),
                UnsafeRawPointer(bias).assumingMemoryBound(to: Float.self), rows, n, l < layerCount - 1 ? 1 : 0)
        } else if l < layerCount - 1 {
            for r in 0..<rows {
                let row = out + r * n
                for j in 0..<n { let v = row[j] + bias[j]; row[j] = v > 0 ? v : 0 }
            }
        } else {
            for r in 0..<rows {
                let row = out + r * n
                for j in 0..<n { row[j] += bias[j] }
            }
        }
    }

    /// Softmax cross-entropy of the logits against `labels`: sum of per-row losses and correct count
    /// (``Softmax/score(logits:classes:labels:rows:)``).
    func score(labels: UnsafePointer<UInt8>, rows: Int) -> (lossSum: Double, correct: Int) {
        Softmax.score(logits: logits, classes: outputs(layerCount - 1), labels: labels, rows: rows)
    }

    /// Δ of the last layer for the mean loss over `rows` (``Softmax/delta(logits:classes:labels:rows:into:)``).
    func outputDelta(labels: UnsafePointer<UInt8>, rows: Int) {
        Softmax.delta(logits: logits, classes: outputs(layerCount - 1), labels: labels, rows: rows, into: deltas[layerCount - 1])
    }

    /// Backward pass after ``forward(_:rows:)`` and ``outputDelta(labels:rows:)``: fills the weight and bias
    /// gradients of every layer (unmasked; the optimizer masks them).
    func backward(_ input: UnsafePointer<T>, rows: Int) {
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            backward(l, previous: l == 0 ? input : UnsafePointer(activations[l - 1]), rows: rows)
        }
    }

    /// Layer `l`'s bias gradient, its weight gradient `previousᵀ · Δ_l` (skipped when `previous` is nil: the
    /// caller computes it) and, above layer 0, the delta of the layer below.
    func backward(_ l: Int, previous: UnsafePointer<T>?, rows: Int) {
        let n = outputs(l), k = inputs(l)
        let delta = deltas[l]
        if let previous {
            T.gemm(
                transA: true, transB: false, m: k, n: n, k: rows, alpha: 1, a: previous, lda: k,
                b: delta, ldb: n, beta: 0, c: weightGrads[l], ldc: n)
        }
        let gb = biasGrads[l]
        for j in 0..<n { gb[j] = delta[j] }
        for r in 1..<max(rows, 1) {
            let row = delta + r * n
            for j in 0..<n { gb[j] += row[j] }
        }
        guard l > 0 else { return }
        let below = deltas[l - 1]
        T.gemm(
            transA: false, transB: true, m: rows, n: k, k: n, alpha: 1, a: delta, lda: n,
            b: weights[l], ldb: n, beta: 0, c: below, ldc: k)
        let act = activations[l - 1]
        if T.self == Float.self, CPUKernels.avx2 {
            lth_relu_mask_avx2(
                UnsafeMutableRawPointer(below).assumingMemoryBound(to: Float.self),
                UnsafeRawPointer(act).assumingMemoryBound(to: Float.self), rows * k)
        } else {
            // Branch-free select, so it vectorises (a conditional store does not).
            for i in 0..<(rows * k) { below[i] = act[i] > 0 ? below[i] : 0 }
        }
    }
}

extension Network where T == Float {
    /// Forward pass of rows `first ..< first + rows` of `x`, layer 0 by the sparse-input kernel (``SparseRows``).
    func forward(sparse x: SparseRows, first: Int, rows: Int) {
        precondition(rows >= 1 && rows <= capacity, "Network.forward: \(rows) rows, capacity \(capacity)")
        listProduct(
            into: activations[0], columns: outputs(0), starts: x.starts + first, index: x.columns, values: x.values,
            count: rows, matrix: weights[0])
        activate(0, rows: rows)
        forwardAbove(rows: rows)
    }

    /// Backward pass after ``forward(sparse:first:rows:)``: layer 0's weight gradients from `x`'s entries by
    /// feature (``SparseColumns``).
    func backward(sparse x: SparseColumns, rows: Int) {
        for l in stride(from: layerCount - 1, through: 1, by: -1) {
            backward(l, previous: UnsafePointer(activations[l - 1]), rows: rows)
        }
        backward(0, previous: nil, rows: rows)
        listProduct(
            into: weightGrads[0], columns: outputs(0), starts: x.starts, index: x.rowIndex, values: x.values,
            count: inputs(0), matrix: deltas[0])
    }

    /// Copies a model's parameters and masks in, enforcing `weight = weight ⊙ mask`.
    func load(_ model: MLP) {
        precondition(model.widths == widths, "Network.load: model widths \(model.widths), network \(widths)")
        for l in 0..<layerCount {
            let layer = model.layers[l]
            layer.weight.data.withUnsafeBufferPointer { w in
                layer.mask.data.withUnsafeBufferPointer { m in
                    for i in 0..<w.count { weights[l][i] = w[i] * m[i]; masks[l][i] = m[i] }
                }
            }
            layer.bias.withUnsafeBufferPointer { b in biases[l].update(from: b.baseAddress!, count: b.count) }
        }
    }

    /// Writes the current parameters back into `model` (masks unchanged).
    func store(into model: inout MLP) {
        for l in 0..<layerCount {
            let count = inputs(l) * outputs(l)
            model.layers[l].weight.data.withUnsafeMutableBufferPointer { w in
                w.baseAddress!.update(from: weights[l], count: count)
            }
            model.layers[l].bias.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.update(from: biases[l], count: outputs(l))
            }
        }
    }
}
