import CKernels

// The packed weight layout (kept weights by row and column, live inputs) is built, read by the forward and
// backward passes and written back in this one file; evaluation lives in SparseNetwork+Evaluation.swift, the
// 8-column vector loops the passes call in SparseColumnKernels.swift.

/// The forward and backward pass of a masked MLP whose cost follows the number of kept weights (internal).
///
/// Activations and deltas are feature-major: `[units, columns]`, one row per unit, one column per image of the
/// batch, with `columns` the batch rounded up to a multiple of 8 (padding columns hold zeros or finite junk and
/// their deltas are exactly 0, so they never reach a gradient). Each layer runs one of two kernels, chosen once
/// per network (``KernelPolicy``):
///
/// - **sparse**: the kept weights are packed column by column (CSC by output unit: `columnStart`, `rowIndex`,
///   `values`). Forward: `Z[j,:] = b_j + Σ_p values[p] · A[rowIndex[p],:]` — one short vector multiply-add per
///   kept weight, in the fixed order of `p`, with bias and ReLU fused. Weight gradient: only at kept positions,
///   `g[p] = ⟨A[rowIndex[p],:], Δ[j,:]⟩`. Input delta: `Δ_prev[rowIndex[p],:] += values[p] · Δ[j,:]`, scattered in
///   increasing `j`, then the ReLU mask. The optimizer updates the packed `values` with packed moments.
/// - **dense**: `[in, out]` row-major sgemm on the same feature-major buffers: `Z = Wᵀ·A` (T,N),
///   `∂W = A·Δᵀ` (N,T), `Δ_prev = W·Δ` (N,N).
///
/// Dead units are dropped: a hidden unit none of whose kept outgoing weights reach a live unit of the next
/// (sparse) layer has no effect on the loss, so its column is not computed, its delta stays exactly 0 and its
/// weights and bias keep their values — what the dense path computes too, since their gradients are exactly ±0
/// and Adam/SGD leave a parameter with an all-zero gradient history unchanged. Likewise input features with no
/// kept weight are never copied in when the first layer is sparse (inputs are stored compacted to the live ones).
///
/// Every reduction runs in a fixed order that depends only on the masks and the batch size, so two runs give the
/// same bits. Not thread-safe; one per training call.
final class SparseNetwork {
    let widths: [Int]
    /// Per layer: sparse kernels (`true`) or dense sgemm.
    let sparse: [Bool]
    /// Maximum columns (images) per pass, a multiple of 8.
    let capacity: Int
    var layerCount: Int { widths.count - 1 }
    /// Original feature index of each input row (all features when the first layer is dense).
    let liveInputs: [Int]
    var inputRows: Int { liveInputs.count }
    /// `[inputRows, capacity]`: the current batch, feature-major.
    let input: UnsafeMutablePointer<Float>
    /// Per layer `[out, capacity]`: post-ReLU activations (hidden layers) or logits (last layer).
    let activations: [UnsafeMutablePointer<Float>]
    /// Per layer `[out, capacity]`: ∂loss/∂(pre-activation); rows of dead units stay 0.
    let deltas: [UnsafeMutablePointer<Float>]
    let biases: [UnsafeMutablePointer<Float>]
    let biasGrads: [UnsafeMutablePointer<Float>]
    /// Dense layers: `[in, out]` kernel (masked), mask and gradient. Empty (1 element) for sparse layers.
    let weights: [UnsafeMutablePointer<Float>]
    let masks: [UnsafeMutablePointer<Float>]
    let weightGrads: [UnsafeMutablePointer<Float>]
    /// Sparse layers: live output units, in increasing order.
    let liveColumns: [UnsafeMutablePointer<Int32>]
    let liveColumnCounts: [Int]
    /// Sparse layers: packed range of live column `c` is `columnStart[c] ..< columnStart[c + 1]`.
    let columnStart: [UnsafeMutablePointer<Int32>]
    /// Sparse layers: input row of each packed weight (compacted input index for layer 0).
    let rowIndex: [UnsafeMutablePointer<Int32>]
    /// Sparse layers: packed kept weights and their gradients.
    let values: [UnsafeMutablePointer<Float>]
    let valueGrads: [UnsafeMutablePointer<Float>]
    /// Sparse layers: flat `[in, out]` index of each packed weight (load/store only).
    let positions: [[Int]]
    /// Columns of the current pass (images rounded up to a multiple of 8).
    private(set) var columns = 8
    /// Images of the current pass.
    private(set) var rows = 0
    /// `[features]` zeros: the source of padding columns.
    private let zeroImage: UnsafeMutablePointer<Float>

    /// Kept weights the kernels touch per layer (packed count for sparse layers, all weights for dense ones).
    var workWeights: [Int] {
        (0..<layerCount).map { sparse[$0] ? positions[$0].count : layerInputs($0) * widths[$0 + 1] }
    }

    /// Builds the kernels for `model`'s masks and loads its parameters.
    ///
    /// - Parameters:
    ///   - sparse: per layer, whether to run the sparse kernels.
    ///   - capacity: the most images one pass handles.
    init(model: MLP, sparse: [Bool], capacity: Int) {
        let widths = model.widths
        precondition(
            widths.count >= 2 && sparse.count == widths.count - 1 && capacity >= 1,
            "SparseNetwork: widths \(widths), \(sparse.count) kernel choices, capacity \(capacity)")
        self.widths = widths
        self.sparse = sparse
        self.capacity = (capacity + 7) & ~7
        let layerCount = widths.count - 1

        // Liveness, from the logits backwards: a unit is live when a kept weight joins it to a live unit of a
        // sparse next layer; every unit feeding a dense layer is live (sgemm reads them all).
        var live: [[Bool]] = Array(repeating: [], count: layerCount + 1)
        live[layerCount] = Array(repeating: true, count: widths[layerCount])
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let inputs = widths[l], outputs = widths[l + 1]
            if !sparse[l] {
                live[l] = Array(repeating: true, count: inputs)
                continue
            }
            var unit = Array(repeating: false, count: inputs)
            model.layers[l].mask.data.withUnsafeBufferPointer { mask in
                for i in 0..<inputs {
                    for j in 0..<outputs where mask[i * outputs + j] != 0 && live[l + 1][j] {
                        unit[i] = true
                        break
                    }
                }
            }
            live[l] = unit
        }
        liveInputs = sparse[0] ? live[0].indices.filter { live[0][$0] } : Array(0..<widths[0])
        var compact = Array(repeating: -1, count: widths[0])
        for (r, f) in liveInputs.enumerated() { compact[f] = r }

        func alloc<T: Numeric>(_ n: Int, _: T.Type = T.self) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        let cap = self.capacity
        input = alloc(liveInputs.count * cap)
        zeroImage = alloc(widths[0])
        activations = (0..<layerCount).map { alloc(widths[$0 + 1] * cap) }
        deltas = (0..<layerCount).map { alloc(widths[$0 + 1] * cap) }
        biases = (0..<layerCount).map { alloc(widths[$0 + 1]) }
        biasGrads = (0..<layerCount).map { alloc(widths[$0 + 1]) }
        weights = (0..<layerCount).map { sparse[$0] ? alloc(0) : alloc(widths[$0] * widths[$0 + 1]) }
        masks = (0..<layerCount).map { sparse[$0] ? alloc(0) : alloc(widths[$0] * widths[$0 + 1]) }
        weightGrads = (0..<layerCount).map { sparse[$0] ? alloc(0) : alloc(widths[$0] * widths[$0 + 1]) }

        var liveColumns: [UnsafeMutablePointer<Int32>] = [], liveColumnCounts: [Int] = []
        var columnStart: [UnsafeMutablePointer<Int32>] = [], rowIndex: [UnsafeMutablePointer<Int32>] = []
        var values: [UnsafeMutablePointer<Float>] = [], valueGrads: [UnsafeMutablePointer<Float>] = []
        var positions: [[Int]] = []
        for l in 0..<layerCount {
            guard sparse[l] else {
                liveColumns.append(alloc(0)); liveColumnCounts.append(0); columnStart.append(alloc(0))
                rowIndex.append(alloc(0)); values.append(alloc(0)); valueGrads.append(alloc(0)); positions.append([])
                continue
            }
            let inputs = widths[l], outputs = widths[l + 1]
            let columnsOut = (0..<outputs).filter { live[l + 1][$0] }
            var starts: [Int32] = [0], rowsOut: [Int32] = [], flat: [Int] = []
            model.layers[l].mask.data.withUnsafeBufferPointer { mask in
                for j in columnsOut {
                    for i in 0..<inputs where mask[i * outputs + j] != 0 {
                        rowsOut.append(Int32(l == 0 ? compact[i] : i))
                        flat.append(i * outputs + j)
                    }
                    starts.append(Int32(rowsOut.count))
                }
            }
            let lc = alloc(columnsOut.count, Int32.self)
            for (c, j) in columnsOut.enumerated() { lc[c] = Int32(j) }
            let cs = alloc(starts.count, Int32.self)
            for (c, s) in starts.enumerated() { cs[c] = s }
            let ri = alloc(rowsOut.count, Int32.self)
            for (p, r) in rowsOut.enumerated() { ri[p] = r }
            liveColumns.append(lc); liveColumnCounts.append(columnsOut.count); columnStart.append(cs)
            rowIndex.append(ri); values.append(alloc(flat.count)); valueGrads.append(alloc(flat.count))
            positions.append(flat)
        }
        self.liveColumns = liveColumns
        self.liveColumnCounts = liveColumnCounts
        self.columnStart = columnStart
        self.rowIndex = rowIndex
        self.values = values
        self.valueGrads = valueGrads
        self.positions = positions
        load(model)
    }

    deinit {
        for list in [activations, deltas, biases, biasGrads, weights, masks, weightGrads, values, valueGrads] {
            for p in list { p.deallocate() }
        }
        for list in [liveColumns, columnStart, rowIndex] { for p in list { p.deallocate() } }
        input.deallocate()
        zeroImage.deallocate()
    }

    /// Input rows of layer `l` as the kernels see them (compacted for a sparse first layer).
    func layerInputs(_ l: Int) -> Int { l == 0 ? inputRows : widths[l] }

    /// Copies `model`'s parameters in: dense kernels as `weight ⊙ mask`, sparse ones packed.
    func load(_ model: MLP) {
        precondition(model.widths == widths, "SparseNetwork.load: model widths \(model.widths), network \(widths)")
        for l in 0..<layerCount {
            let layer = model.layers[l]
            layer.weight.data.withUnsafeBufferPointer { w in
                if sparse[l] {
                    for (p, flat) in positions[l].enumerated() { values[l][p] = w[flat] }
                } else {
                    layer.mask.data.withUnsafeBufferPointer { m in
                        for i in 0..<w.count { weights[l][i] = w[i] * m[i]; masks[l][i] = m[i] }
                    }
                }
            }
            layer.bias.withUnsafeBufferPointer { b in biases[l].update(from: b.baseAddress!, count: b.count) }
        }
    }

    /// Writes the current parameters back into `model` (masks unchanged; weights of dead units untouched).
    func store(into model: inout MLP) {
        for l in 0..<layerCount {
            model.layers[l].weight.data.withUnsafeMutableBufferPointer { w in
                if sparse[l] {
                    for (p, flat) in positions[l].enumerated() { w[flat] = values[l][p] }
                } else {
                    w.baseAddress!.update(from: weights[l], count: w.count)
                }
            }
            model.layers[l].bias.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.update(from: biases[l], count: b.count)
            }
        }
    }

    /// The optimizer's view: per layer the (masked dense or packed) kernel, then the bias.
    func parameterBlocks() -> [ParameterBlock] {
        var blocks: [ParameterBlock] = []
        for l in 0..<layerCount {
            if sparse[l] {
                blocks.append(
                    ParameterBlock(values: values[l], gradients: valueGrads[l], mask: nil, count: positions[l].count))
            } else {
                let count = widths[l] * widths[l + 1]
                let allKept = UnsafeBufferPointer(start: masks[l], count: count).allSatisfy { $0 != 0 }
                blocks.append(
                    ParameterBlock(
                        values: weights[l], gradients: weightGrads[l], mask: allKept ? nil : masks[l],
                        count: count))
            }
            blocks.append(ParameterBlock(values: biases[l], gradients: biasGrads[l], mask: nil, count: widths[l + 1]))
        }
        return blocks
    }

    // MARK: Input

    /// Transposes `count` images, `images + index(b) · features` for `b < count`, into `destination`
    /// (`[inputRows, roundUp(count, 8)]`), zero-padded. Eight images at a time: eight gathered loads, one store.
    func transpose(
        images: UnsafePointer<Float>, features: Int, count: Int, into destination: UnsafeMutablePointer<Float>,
        index: (Int) -> Int
    ) {
        precondition(features == widths[0], "SparseNetwork: \(features) features for a \(widths[0])-input network")
        let columns = (count + 7) & ~7
        let zero = UnsafePointer(zeroImage)
        let identity = !sparse[0]
        liveInputs.withUnsafeBufferPointer { live in
            var b = 0
            while b < columns {
                func source(_ k: Int) -> UnsafePointer<Float> {
                    b + k < count ? images + index(b + k) * features : zero
                }
                let s0 = source(0), s1 = source(1), s2 = source(2), s3 = source(3)
                let s4 = source(4), s5 = source(5), s6 = source(6), s7 = source(7)
                var out = destination + b
                if identity {
                    for f in 0..<features {
                        st8(SIMD8(s0[f], s1[f], s2[f], s3[f], s4[f], s5[f], s6[f], s7[f]), out)
                        out += columns
                    }
                } else {
                    for f in live {
                        st8(SIMD8(s0[f], s1[f], s2[f], s3[f], s4[f], s5[f], s6[f], s7[f]), out)
                        out += columns
                    }
                }
                b += 8
            }
        }
    }

    /// Loads a training batch: images `order[0..<rows]` of `images` (`[*, features]` row-major) into ``input``.
    func loadBatch(images: UnsafePointer<Float>, features: Int, order: UnsafePointer<Int>, rows: Int) {
        precondition(rows >= 1 && rows <= capacity, "SparseNetwork: \(rows) rows, capacity \(capacity)")
        transpose(images: images, features: features, count: rows, into: input) { order[$0] }
        self.rows = rows
        columns = (rows + 7) & ~7
    }

    // MARK: Forward and backward

    /// Forward pass of the `rows` images in `x` (`[inputRows, roundUp(rows, 8)]`); logits in the last activations.
    func forward(_ x: UnsafePointer<Float>, rows: Int) {
        precondition(rows >= 1 && rows <= capacity, "SparseNetwork.forward: \(rows) rows, capacity \(capacity)")
        self.rows = rows
        let P = (rows + 7) & ~7
        columns = P
        var previous = x
        for l in 0..<layerCount {
            let out = activations[l], bias = biases[l], n = widths[l + 1]
            let relu = l < layerCount - 1
            if sparse[l] {
                let cols = liveColumns[l], starts = columnStart[l], index = rowIndex[l], w = values[l]
                if CPUKernels.avx2 {
                    lth_sparse_forward_avx2(
                        out, bias, w, index, cols, starts, liveColumnCounts[l], previous, P, relu ? 1 : 0)
                    previous = UnsafePointer(out)
                    continue
                }
                for c in 0..<liveColumnCounts[l] {
                    let j = Int(cols[c])
                    sparseColumn(
                        out: out + j * P, bias: bias[j], values: w, rows: index, start: Int(starts[c]),
                        end: Int(starts[c + 1]), x: previous, columns: P, relu: relu)
                }
            } else {
                let k = layerInputs(l)
                Float.gemm(
                    transA: true, transB: false, m: n, n: P, k: k, alpha: 1, a: weights[l], lda: n,
                    b: previous, ldb: P, beta: 0, c: out, ldc: P)
                for j in 0..<n { biasActivate(out + j * P, bias: bias[j], columns: P, relu: relu) }
            }
            previous = UnsafePointer(out)
        }
    }

    /// Softmax cross-entropy of the logits of the current pass: sum of per-image losses and correct count.
    ///
    /// Same per-image formula and order as the row-major ``Network/score(labels:rows:)``.
    func score(labels: UnsafePointer<UInt8>) -> (lossSum: Double, correct: Int) {
        let n = widths[layerCount], P = columns
        let logits = activations[layerCount - 1]
        var lossSum = 0.0
        var correct = 0
        for r in 0..<rows {
            var best = 0
            for j in 1..<max(n, 1) where logits[j * P + r] > logits[best * P + r] { best = j }
            let top = logits[best * P + r]
            var sum: Float = 0
            for j in 0..<n { sum += Float.exponential(logits[j * P + r] - top) }
            let y = Int(labels[r])
            lossSum += Double(Float.logarithm(sum) - (logits[y * P + r] - top))
            if best == y { correct += 1 }
        }
        return (lossSum, correct)
    }

    /// Δ of the last layer for the mean loss: `(softmax(z) − onehot(y)) / rows`; padding columns 0.
    func outputDelta(labels: UnsafePointer<UInt8>) {
        let l = layerCount - 1
        let n = widths[l + 1], P = columns
        let logits = activations[l], d = deltas[l]
        let scale = 1 / Float(rows)
        for r in 0..<rows {
            var top = logits[r]
            for j in 1..<n where logits[j * P + r] > top { top = logits[j * P + r] }
            var sum: Float = 0
            for j in 0..<n { let e = Float.exponential(logits[j * P + r] - top); d[j * P + r] = e; sum += e }
            let inv = scale / sum
            for j in 0..<n { d[j * P + r] *= inv }
            d[Int(labels[r]) * P + r] -= scale
        }
        for j in 0..<n { for r in rows..<P { d[j * P + r] = 0 } }
    }

    /// Backward pass after ``forward(_:rows:)`` and ``outputDelta(labels:)``: weight gradients (at kept positions
    /// for sparse layers; unmasked for dense ones, the optimizer masks them) and bias gradients.
    func backward(_ x: UnsafePointer<Float>) {
        let P = columns
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let n = widths[l + 1], k = layerInputs(l)
            let previous = l == 0 ? x : UnsafePointer(activations[l - 1])
            let delta = deltas[l]
            let gb = biasGrads[l]
            for j in 0..<n { gb[j] = rowSum(delta + j * P, columns: P) }
            if sparse[l] {
                let cols = liveColumns[l], starts = columnStart[l], index = rowIndex[l], w = values[l],
                    g = valueGrads[l]
                let avx2 = CPUKernels.avx2
                if avx2 {
                    lth_sparse_weight_grads_avx2(g, previous, delta, index, cols, starts, liveColumnCounts[l], P)
                } else {
                    for c in 0..<liveColumnCounts[l] {
                        let d = UnsafePointer(delta + Int(cols[c]) * P)
                        for p in Int(starts[c])..<Int(starts[c + 1]) {
                            g[p] = dot(previous + Int(index[p]) * P, d, columns: P)
                        }
                    }
                }
                if l > 0 {
                    let below = deltas[l - 1]
                    below.update(repeating: 0, count: k * P)
                    if avx2 {
                        lth_sparse_scatter_avx2(below, w, index, cols, starts, liveColumnCounts[l], delta, P)
                    } else {
                        for c in 0..<liveColumnCounts[l] {
                            scatterColumn(
                                below: below, values: w, rows: index, start: Int(starts[c]),
                                end: Int(starts[c + 1]), delta: delta + Int(cols[c]) * P, columns: P)
                        }
                    }
                    reluMask(below, activations[l - 1], count: k * P)
                }
            } else {
                Float.gemm(
                    transA: false, transB: true, m: k, n: n, k: P, alpha: 1, a: previous, lda: P,
                    b: delta, ldb: P, beta: 0, c: weightGrads[l], ldc: n)
                if l > 0 {
                    let below = deltas[l - 1]
                    Float.gemm(
                        transA: false, transB: false, m: k, n: P, k: n, alpha: 1, a: weights[l], lda: n,
                        b: delta, ldb: P, beta: 0, c: below, ldc: P)
                    reluMask(below, activations[l - 1], count: k * P)
                }
            }
        }
    }

    /// Masked `[in, out]` weight gradients of layer `l` (0 where pruned), for tests and tools.
    func maskedWeightGradients(_ l: Int) -> [Float] {
        let count = widths[l] * widths[l + 1]
        var out = [Float](repeating: 0, count: count)
        if sparse[l] {
            for (p, flat) in positions[l].enumerated() { out[flat] = valueGrads[l][p] }
        } else {
            for i in 0..<count { out[i] = weightGrads[l][i] * masks[l][i] }
        }
        return out
    }

}
