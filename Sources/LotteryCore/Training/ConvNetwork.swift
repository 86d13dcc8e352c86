import CKernels

/// The forward and backward pass of a masked network with convolutions (``Architecture``) over preallocated
/// buffers (internal).
///
/// Layout: feature maps are NHWC (one image's map is `[height · width, channels]`, row-major), so every layer
/// is a row-major product with the `[in, out]` kernels of ``MLP``:
/// - a 3×3 convolution (same padding, stride 1) gathers each output position's 3·3·C inputs (`im2col`, row
///   `(ky·3 + kx)·C + c`, zeros off the map) and multiplies: `out[pos, O] = col[pos, 9C] · W[9C, O]`; its
///   backward is `∂W = colᵀ · Δ` and `∂col = Δ · Wᵀ`, scattered back (`col2im`);
/// - a 2×2 max-pool keeps the first maximum of each window (row-major order) and routes the gradient to it;
/// - a fully connected layer reads the last map flattened in `(y, x, c)` order.
///
/// **Determinism for any thread count.** The convolution part of a batch is cut into fixed chunks of images
/// whatever the thread count: ``chunkImages(for:)`` of each stage's input map, a pure function of its shape.
/// Consecutive stages with the same chunk size form a group that runs chunk by chunk through all its stages
/// (a chunk's maps stay in cache from one stage to the next); each chunk's work is independent, and the weight and
/// bias gradients of the convolutions are summed over chunks in chunk order. The fully connected part runs on the
/// whole batch, its products cut into fixed blocks of output columns (``fcColumns``, ``fcInputColumns``) that
/// threads share. So `threads` changes only who computes a chunk or a block, never a bit of the result.
/// Not thread-safe to call concurrently; one per training call.
final class ConvNetwork<T: NetworkScalar> {
    /// Images per unit of work on maps of at least ``smallMapTiles`` F(4×4) tiles (see the type's discussion).
    /// Batch 60 is 12 chunks: even work for 2, 3, 4 or 6 threads.
    static var chunkImages: Int { 5 }
    /// Images per unit of work on smaller maps: 15 gives F(4×4)'s products of an 8×8 or 7×7 map (4 tiles) 60 rows,
    /// where 5 images gave 20 and ran them slower than F(2×2) on 80 (docs/conv.md, "Speed and cost"). Batch 60 is
    /// 4 chunks: even work for 2 or 4 threads.
    static var smallMapChunkImages: Int { 15 }
    /// Maps with fewer F(4×4) tiles than this (under 13×13) run in chunks of ``smallMapChunkImages``.
    static var smallMapTiles: Int { 16 }

    /// Images per chunk of a stage reading `map`: a pure function of its shape (see the type's discussion).
    static func chunkImages(for map: InputShape) -> Int {
        WinogradTile.f4x4.tiles(map) < smallMapTiles ? smallMapChunkImages : chunkImages
    }
    /// Output columns per block of a fully connected forward product and weight gradient.
    static var fcColumns: Int { 64 }
    /// Columns per block of a fully connected input-delta product.
    static var fcInputColumns: Int { 512 }
    /// Weights per unit of the ordered sum of conv gradients over chunks.
    static var reductionSegment: Int { 16_384 }

    let architecture: Architecture
    /// Images per pass (the batch, or an evaluation pass).
    let capacity: Int
    let threads: Int

    let weights: [UnsafeMutablePointer<T>]
    let masks: [UnsafeMutablePointer<T>]
    let weightGrads: [UnsafeMutablePointer<T>]
    let biases: [UnsafeMutablePointer<T>]
    let biasGrads: [UnsafeMutablePointer<T>]

    /// Per stage, `[capacity, outputFeatures]`: post-ReLU outputs (conv, hidden fc), pooled maps, or logits.
    let outputs: [UnsafeMutablePointer<T>]
    /// Per stage, `[capacity, outputFeatures]`: ∂loss/∂(pre-activation) for conv and fc stages, ∂loss/∂output for
    /// pools.
    let grads: [UnsafeMutablePointer<T>]
    /// Per pool stage, the window slot (0…3) of each output's maximum.
    let argmax: [UnsafeMutablePointer<UInt8>?]
    /// Per weight layer, its stage.
    let stageOfLayer: [Int]
    /// Per stage, its weight layer (`nil` for pools).
    let layerOfStage: [Int?]
    /// Per stage before the first fully connected one, images per chunk (``chunkImages(for:)``).
    let stageChunkImages: [Int]
    /// Those stages in runs of equal ``stageChunkImages``, first to last: each runs chunk by chunk.
    let stageGroups: [Range<Int>]
    /// Per chunk slot: the gathered columns and their gradient (`[chunk positions, 9C]` of the widest conv).
    let columns: [UnsafeMutablePointer<T>]
    private let columnGrads: [UnsafeMutablePointer<T>]
    /// Per conv layer, per chunk of a full batch (`[l][chunk]`): the chunk's weight and bias gradients before the
    /// ordered sum (empty for fc layers).
    let partialWeightGrads: [[UnsafeMutablePointer<T>]]
    let partialBiasGrads: [[UnsafeMutablePointer<T>]]
    /// Per weight layer, its weight-sparse plan when it runs the sparse convolution (``useSparseKernels(_:)``).
    var sparsePlans: [SparseConvPlan?]
    /// Per chunk slot and weight layer (`[slot · layers + l]`): a sparse layer's stacked input planes and
    /// output-delta planes (unused for dense layers).
    var sparseInputPlanes: [UnsafeMutablePointer<T>] = []
    var sparseDeltaPlanes: [UnsafeMutablePointer<T>] = []
    /// Per chunk slot: the run rows a sparse convolution writes (`[max channels, length]`).
    var sparseRuns: [UnsafeMutablePointer<T>] = []
    /// Per weight layer, the Winograd algorithm its convolution runs when dense (``WinogradTile``; `nil`: im2col).
    let winogradTiles: [WinogradTile?]
    /// Per weight layer running Winograd: its transformed weights `U`, `[points][C][O]`
    /// (``prepareWinograd(rotated:)``).
    var winogradWeights: [UnsafeMutablePointer<T>?] = []
    /// Per F(4×4) layer: `U` of its kernels rotated by 180°, `[36][O][C]`, for the input gradient, and the
    /// weights with each tap's block transposed (`[9][O][C]`) it is transformed from.
    var winogradRotatedWeights: [UnsafeMutablePointer<T>?] = []
    var winogradTransposedWeights: [UnsafeMutablePointer<T>?] = []
    /// Per chunk slot: two scratch buffers of `points · tiles of a chunk · max(C, O)` for the widest Winograd
    /// layer, and one `∂U` of `points · C · O` for the largest.
    var winogradScratch: [(UnsafeMutablePointer<T>, UnsafeMutablePointer<T>)] = []
    var winogradGradScratch: [UnsafeMutablePointer<T>] = []
    /// At least as many zeros as the widest map has channels (the patches off the map).
    var zeros: UnsafeMutablePointer<T>
    var allocations: [UnsafeMutableRawPointer] = []

    /// - Parameter convKernels: the dense conv algorithm of each layer is
    ///   `convKernels.winogradTile(layer:of:)` (``KernelPolicy/im2col``: all im2col + sgemm,
    ///   ``KernelPolicy/winograd2x2``: F(2×2, 3×3) only; any other policy: the rule).
    init(architecture: Architecture, capacity: Int, threads: Int = 1, convKernels: KernelPolicy = .dense) {
        precondition(capacity >= 1 && threads >= 1, "ConvNetwork: capacity \(capacity), threads \(threads)")
        self.architecture = architecture
        self.capacity = capacity
        self.threads = threads
        var allocations: [UnsafeMutableRawPointer] = []
        func alloc<E: Numeric>(_ n: Int, _: E.Type = E.self) -> UnsafeMutablePointer<E> {
            let p = UnsafeMutablePointer<E>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            allocations.append(UnsafeMutableRawPointer(p))
            return p
        }
        let shapes = architecture.weightLayers
        weights = shapes.map { alloc($0.count) }
        masks = shapes.map { alloc($0.count) }
        weightGrads = shapes.map { alloc($0.count) }
        biases = shapes.map { alloc($0.cols) }
        biasGrads = shapes.map { alloc($0.cols) }
        var stageOfLayer: [Int] = []
        var layerOfStage: [Int?] = []
        var outputs: [UnsafeMutablePointer<T>] = []
        var grads: [UnsafeMutablePointer<T>] = []
        var argmax: [UnsafeMutablePointer<UInt8>?] = []
        var widestColumns = 1
        var stageChunkImages: [Int] = []
        for (s, stage) in architecture.stages.enumerated() {
            let features: Int
            switch stage {
            case .conv(let input, let output):
                features = output.features
                stageChunkImages.append(Self.chunkImages(for: input))
                let positions = input.height * input.width
                widestColumns = max(widestColumns, stageChunkImages[s] * positions * 9 * input.channels)
                layerOfStage.append(stageOfLayer.count)
                stageOfLayer.append(s)
                argmax.append(nil)
            case .pool(let input, let output):
                features = output.features
                stageChunkImages.append(Self.chunkImages(for: input))
                layerOfStage.append(nil)
                argmax.append(alloc(capacity * features, UInt8.self))
            case .fc(_, let units, _):
                features = units
                layerOfStage.append(stageOfLayer.count)
                stageOfLayer.append(s)
                argmax.append(nil)
            }
            outputs.append(alloc(capacity * features))
            grads.append(alloc(capacity * features))
        }
        self.stageOfLayer = stageOfLayer
        self.layerOfStage = layerOfStage
        self.outputs = outputs
        self.grads = grads
        self.argmax = argmax
        self.stageChunkImages = stageChunkImages
        var groups: [Range<Int>] = []
        for s in stageChunkImages.indices {
            if let last = groups.last, stageChunkImages[last.lowerBound] == stageChunkImages[s] {
                groups[groups.count - 1] = last.lowerBound..<(s + 1)
            } else {
                groups.append(s..<(s + 1))
            }
        }
        stageGroups = groups
        let slots = min(threads, stageChunkImages.map { Self.chunks(capacity, images: $0) }.max() ?? 1)
        columns = (0..<slots).map { _ in alloc(widestColumns) }
        columnGrads = (0..<slots).map { _ in alloc(widestColumns) }
        winogradTiles = shapes.indices.map { convKernels.winogradTile(layer: $0, of: architecture) }
        // A Winograd layer turns its chunk's `∂U` into `∂W` before the ordered sum, so every partial is `∂W`.
        let chunksOfLayer = shapes.indices.map { l in
            shapes[l].kind == .conv ? Self.chunks(capacity, images: stageChunkImages[stageOfLayer[l]]) : 0
        }
        partialWeightGrads = shapes.indices.map { l in (0..<chunksOfLayer[l]).map { _ in alloc(shapes[l].count) } }
        partialBiasGrads = shapes.indices.map { l in (0..<chunksOfLayer[l]).map { _ in alloc(shapes[l].cols) } }
        zeros = alloc(architecture.stages.map { stage in
            if case .conv(let input, let output) = stage { max(input.channels, output.channels) } else { 1 }
        }.max() ?? 1)
        sparsePlans = shapes.map { _ in nil }
        self.allocations = allocations
        allocateWinograd(slots: slots)
    }

    deinit {
        for p in allocations { p.deallocate() }
    }

    static func chunks(_ rows: Int, images: Int) -> Int { (rows + images - 1) / images }

    var stageCount: Int { architecture.stages.count }
    var logits: UnsafeMutablePointer<T> { outputs[stageCount - 1] }
    var classes: Int { architecture.classes }

    /// Values per image after stage `s` (`s = -1`: the input).
    func features(after s: Int) -> Int {
        guard s >= 0 else { return architecture.input.features }
        switch architecture.stages[s] {
        case .conv(_, let output), .pool(_, let output): return output.features
        case .fc(_, let units, _): return units
        }
    }

    // MARK: Forward

    /// Forward pass of `rows` NHWC images (`[rows, H·W·C]`); leaves the logits in ``logits``.
    func forward(_ input: UnsafePointer<T>, rows: Int) {
        precondition(rows >= 1 && rows <= capacity, "ConvNetwork.forward: \(rows) rows, capacity \(capacity)")
        let firstFC = firstFullyConnectedStage
        prepareWinograd(rotated: false)
        for group in stageGroups {
            let images = stageChunkImages[group.lowerBound]
            parallelChunks(rows: rows, images: images) { chunk, slot in
                let first = chunk * images, count = min(images, rows - first)
                for s in group { self.forwardMapStage(s, input: input, first: first, count: count, slot: slot) }
            }
        }
        for s in firstFC..<stageCount { forwardFullyConnected(s, input: input, rows: rows) }
    }

    /// The first fully connected stage (the output layer at the latest).
    var firstFullyConnectedStage: Int {
        architecture.stages.firstIndex { if case .fc = $0 { true } else { false } }!
    }

    func stageInput(_ s: Int, _ input: UnsafePointer<T>) -> UnsafePointer<T> {
        s == 0 ? input : UnsafePointer(outputs[s - 1])
    }

    private func forwardMapStage(_ s: Int, input: UnsafePointer<T>, first: Int, count: Int, slot: Int) {
        let source = stageInput(s, input)
        switch architecture.stages[s] {
        case .conv(let inShape, let outShape):
            let l = layerOfStage[s]!
            let out = outputs[s] + first * outShape.features
            if let plan = sparsePlans[l] {
                let planes = sparseInputPlanes[slot * stageOfLayer.count + l]
                plan.stack(source + first * inShape.features, channels: inShape.channels, count: count, into: planes)
                plan.convolve(backward: false, weights: weights[l], source: planes, into: sparseRuns[slot])
                plan.unstack(sparseRuns[slot], channels: outShape.channels, count: count, bias: biases[l], into: out)
                return
            }
            if let u = winogradWeights[l] {
                return forwardWinograd(
                    l, input: inShape, output: outShape, source: source + first * inShape.features, weights: u,
                    count: count, slot: slot, into: out)
            }
            let positions = inShape.height * inShape.width
            let k = 9 * inShape.channels, o = outShape.channels
            let col = columns[slot]
            im2col(source + first * inShape.features, shape: inShape, images: count, into: col)
            T.gemm(
                transA: false, transB: false, m: count * positions, n: o, k: k, alpha: 1, a: col, lda: k,
                b: weights[l], ldb: o, beta: 0, c: out, ldc: o)
            biasReLU(out, bias: biases[l], rows: count * positions, columns: o, relu: true)
        case .pool(let inShape, let outShape):
            maxPool(
                source + first * inShape.features, shape: inShape, images: count,
                into: outputs[s] + first * outShape.features, argmax: argmax[s]! + first * outShape.features)
        case .fc:
            preconditionFailure("ConvNetwork: stage \(s) is fully connected")
        }
    }

    private func forwardFullyConnected(_ s: Int, input: UnsafePointer<T>, rows: Int) {
        guard case .fc(let k, let n, let isOutput) = architecture.stages[s] else {
            preconditionFailure("ConvNetwork: stage \(s) is not fully connected")
        }
        let l = layerOfStage[s]!
        let a = stageInput(s, input), w = UnsafePointer(weights[l]), out = outputs[s]
        columnBlocks(n, Self.fcColumns) { j0, width in
            T.gemm(
                transA: false, transB: false, m: rows, n: width, k: k, alpha: 1, a: a, lda: k, b: w + j0, ldb: n,
                beta: 0, c: out + j0, ldc: n)
        }
        biasReLU(outputs[s], bias: biases[l], rows: rows, columns: n, relu: !isOutput)
    }

    // MARK: Loss

    func score(labels: UnsafePointer<UInt8>, rows: Int) -> (lossSum: Double, correct: Int) {
        Softmax.score(logits: logits, classes: classes, labels: labels, rows: rows)
    }

    func outputDelta(labels: UnsafePointer<UInt8>, rows: Int) {
        Softmax.delta(logits: logits, classes: classes, labels: labels, rows: rows, into: grads[stageCount - 1])
    }

    // MARK: Backward

    /// Backward pass after ``forward(_:rows:)`` and ``outputDelta(labels:rows:)``: every weight and bias gradient
    /// (unmasked; the optimizer masks them).
    func backward(_ input: UnsafePointer<T>, rows: Int) {
        let firstFC = firstFullyConnectedStage
        for s in stride(from: stageCount - 1, through: firstFC, by: -1) {
            backwardFullyConnected(s, input: input, rows: rows)
        }
        guard firstFC > 0 else { return }
        prepareWinograd(rotated: true)
        for group in stageGroups.reversed() {
            let images = stageChunkImages[group.lowerBound]
            parallelChunks(rows: rows, images: images) { chunk, slot in
                let first = chunk * images, count = min(images, rows - first)
                for s in group.reversed() {
                    self.backwardMapStage(s, input: input, first: first, count: count, chunk: chunk, slot: slot)
                }
            }
        }
        // The ordered sum over chunks, element by element: the same bits whoever computed each chunk or segment.
        for (l, shape) in architecture.weightLayers.enumerated() where shape.kind == .conv {
            let dw = weightGrads[l], db = biasGrads[l]
            let partials = partialWeightGrads[l], biasPartials = partialBiasGrads[l]
            let chunkCount = Self.chunks(rows, images: stageChunkImages[stageOfLayer[l]])
            let segment = Self.reductionSegment
            parallelUnits((shape.count + segment - 1) / segment) { unit in
                let start = unit * segment, end = min(shape.count, start + segment)
                (dw + start).update(from: partials[0] + start, count: end - start)
                for c in 1..<max(chunkCount, 1) {
                    let pw = partials[c]
                    for i in start..<end { dw[i] += pw[i] }
                }
            }
            db.update(from: biasPartials[0], count: shape.cols)
            for c in 1..<max(chunkCount, 1) {
                let pb = biasPartials[c]
                for j in 0..<shape.cols { db[j] += pb[j] }
            }
        }
    }

    private func backwardFullyConnected(_ s: Int, input: UnsafePointer<T>, rows: Int) {
        guard case .fc(let k, let n, _) = architecture.stages[s] else { return }
        let l = layerOfStage[s]!
        let delta = UnsafePointer(grads[s]), a = stageInput(s, input), dw = weightGrads[l]
        columnBlocks(n, Self.fcColumns) { j0, width in
            T.gemm(
                transA: true, transB: false, m: k, n: width, k: rows, alpha: 1, a: a, lda: k, b: delta + j0, ldb: n,
                beta: 0, c: dw + j0, ldc: n)
        }
        columnSums(delta, rows: rows, columns: n, into: biasGrads[l])
        guard s > 0 else { return }
        let w = UnsafePointer(weights[l]), below = grads[s - 1]
        columnBlocks(k, Self.fcInputColumns) { i0, width in
            T.gemm(
                transA: false, transB: true, m: rows, n: width, k: n, alpha: 1, a: delta, lda: n, b: w + i0 * n,
                ldb: n, beta: 0, c: below + i0, ldc: k)
        }
        reluMaskBelow(s, first: 0, count: rows)
    }

    private func backwardMapStage(_ s: Int, input: UnsafePointer<T>, first: Int, count: Int, chunk: Int, slot: Int) {
        switch architecture.stages[s] {
        case .conv(let inShape, let outShape):
            let l = layerOfStage[s]!
            if let plan = sparsePlans[l] {
                return backwardSparse(s, plan: plan, input: input, first: first, count: count, chunk: chunk, slot: slot)
            }
            if winogradWeights[l] != nil {
                return backwardWinograd(s, input: input, first: first, count: count, chunk: chunk, slot: slot)
            }
            let positions = inShape.height * inShape.width
            let k = 9 * inShape.channels, o = outShape.channels
            let col = columns[slot]
            let delta = UnsafePointer(grads[s] + first * outShape.features)
            im2col(stageInput(s, input) + first * inShape.features, shape: inShape, images: count, into: col)
            T.gemm(
                transA: true, transB: false, m: k, n: o, k: count * positions, alpha: 1, a: col, lda: k, b: delta,
                ldb: o, beta: 0, c: partialWeightGrads[l][chunk], ldc: o)
            columnSums(delta, rows: count * positions, columns: o, into: partialBiasGrads[l][chunk])
            guard s > 0 else { return }
            let dcol = columnGrads[slot]
            T.gemm(
                transA: false, transB: true, m: count * positions, n: k, k: o, alpha: 1, a: delta, lda: o,
                b: weights[l], ldb: o, beta: 0, c: dcol, ldc: k)
            col2im(dcol, shape: inShape, images: count, into: grads[s - 1] + first * inShape.features)
            reluMaskBelow(s, first: first, count: count)
        case .pool(let inShape, let outShape):
            guard s > 0 else { return }
            unpool(
                grads[s] + first * outShape.features, argmax: argmax[s]! + first * outShape.features, shape: inShape,
                images: count, into: grads[s - 1] + first * inShape.features)
            reluMaskBelow(s, first: first, count: count)
        case .fc:
            preconditionFailure("ConvNetwork: stage \(s) is fully connected")
        }
    }

    /// Turns ∂loss/∂output of stage `s − 1` into ∂loss/∂pre-activation when that stage has a ReLU (conv, hidden
    /// fc), for images `first ..< first + count`.
    func reluMaskBelow(_ s: Int, first: Int, count: Int) {
        let below = s - 1
        if case .pool = architecture.stages[below] { return }
        let n = features(after: below)
        let g = grads[below] + first * n, act = UnsafePointer(outputs[below] + first * n)
        if T.self == Float.self, CPUKernels.avx2 {
            lth_relu_mask_avx2(
                UnsafeMutableRawPointer(g).assumingMemoryBound(to: Float.self),
                UnsafeRawPointer(act).assumingMemoryBound(to: Float.self), count * n)
        } else {
            for i in 0..<(count * n) { g[i] = act[i] > 0 ? g[i] : 0 }
        }
    }
}
