// ConvNetwork's dense conv layers by Winograd F(2×2, 3×3) (see Winograd): buffers, forward and backward per chunk.
extension ConvNetwork {
    /// Allocates `U` per Winograd layer and each chunk slot's scratch (from the initialiser).
    func allocateWinograd(slots: Int) {
        var widest = 0
        winogradWeights = architecture.weightLayers.indices.map { l in
            guard winogradLayers[l], case .conv(let input, let output) = architecture.stages[stageOfLayer[l]] else {
                return nil
            }
            widest = max(widest, 16 * Self.chunkImages * Winograd.tiles(input) * max(input.channels, output.channels))
            return allocate(16 * input.channels * output.channels)
        }
        winogradScratch = widest == 0 ? [] : (0..<slots).map { _ in (allocate(widest), allocate(widest)) }
    }

    /// Transforms the current weights of every Winograd layer into `U` (once per forward pass; the backward pass
    /// of the same step reuses them).
    func prepareWinograd() {
        // Over every weight layer (nothing to do where U is nil): no index array allocated per step.
        parallelUnits(winogradWeights.count) { l in
            guard let u = self.winogradWeights[l] else { return }
            let shape = self.architecture.weightLayers[l]
            Winograd.transformWeights(self.weights[l], inChannels: shape.rows / 9, outChannels: shape.cols, into: u)
        }
    }

    /// Images per block of a chunk's Winograd work: blocks of about ``winogradBlockTiles`` tiles keep a block's
    /// transformed tiles and products in L2 (measured: 1.23× on a 32×32×64 layer; no gain below).
    static func winogradBlockImages(_ input: InputShape) -> Int {
        max(1, winogradBlockTiles / Winograd.tiles(input))
    }

    static var winogradBlockTiles: Int { 256 }

    /// One chunk of a Winograd layer's forward pass: `out = ReLU(conv(source) + bias)`, block by block.
    func forwardWinograd(
        _ l: Int, input: InputShape, output: InputShape, source: UnsafePointer<T>, weights u: UnsafePointer<T>,
        count: Int, slot: Int, into out: UnsafeMutablePointer<T>
    ) {
        let c = input.channels, o = output.channels
        let (v, m) = winogradScratch[slot]
        let step = Self.winogradBlockImages(input)
        for first in stride(from: 0, to: count, by: step) {
            let images = min(step, count - first), t = images * Winograd.tiles(input)
            Winograd.transformInput(
                source + first * input.features, shape: input, images: images, zeros: zeros, into: v)
            for xi in 0..<16 {
                T.gemm(
                    transA: false, transB: false, m: t, n: o, k: c, alpha: 1, a: v + xi * c, lda: 16 * c,
                    b: u + xi * c * o, ldb: o, beta: 0, c: m + xi * t * o, ldc: o)
            }
            Winograd.transformOutput(
                m, plane: t * o, shape: output, images: images, bias: biases[l], relu: true,
                into: out + first * output.features)
        }
    }

    /// One chunk of a Winograd layer's backward pass: its `∂U` (summed over chunks and turned into `∂W` by
    /// ``backward(_:rows:)``), bias gradient, and (below the first stage) the input gradient through the ReLU below.
    func backwardWinograd(_ s: Int, input: UnsafePointer<T>, first: Int, count: Int, chunk: Int, slot: Int) {
        guard case .conv(let inShape, let outShape) = architecture.stages[s] else { return }
        let l = layerOfStage[s]!, u = UnsafePointer(winogradWeights[l]!)
        let c = inShape.channels, o = outShape.channels
        let (v, y) = winogradScratch[slot]
        let source = stageInput(s, input) + first * inShape.features
        let delta = UnsafePointer(grads[s] + first * outShape.features)
        let du = partialWeightGrads[chunk][l]
        let step = Self.winogradBlockImages(inShape)
        // ∂U, block by block: the first block's products overwrite, later ones add (a fixed order).
        for block in stride(from: 0, to: count, by: step) {
            let images = min(step, count - block), t = images * Winograd.tiles(inShape)
            Winograd.transformInput(
                source + block * inShape.features, shape: inShape, images: images, zeros: zeros, into: v)
            Winograd.transformOutputAdjoint(delta + block * outShape.features, shape: outShape, images: images, into: y)
            for xi in 0..<16 {
                T.gemm(
                    transA: true, transB: false, m: c, n: o, k: t, alpha: 1, a: v + xi * c, lda: 16 * c,
                    b: y + xi * o, ldb: 16 * o, beta: block == 0 ? 0 : 1, c: du + xi * c * o, ldc: o)
            }
        }
        columnSums(delta, rows: count * inShape.height * inShape.width, columns: o, into: partialBiasGrads[chunk][l])
        guard s > 0 else { return }
        // The input gradient: the delta's tiles times each kernel rotated by 180° (U's points permuted), channels
        // swapped (U transposed); `v` holds the products point-major.
        let below = grads[s - 1] + first * inShape.features
        for block in stride(from: 0, to: count, by: step) {
            let images = min(step, count - block), t = images * Winograd.tiles(inShape)
            Winograd.transformInput(
                delta + block * outShape.features, shape: outShape, images: images, zeros: zeros, into: y)
            for xi in 0..<16 {
                T.gemm(
                    transA: false, transB: true, m: t, n: c, k: o, alpha: 1, a: y + xi * o, lda: 16 * o,
                    b: u + Winograd.rotated(xi) * c * o, ldb: o, beta: 0, c: v + xi * t * c, ldc: c)
            }
            Winograd.transformOutput(
                v, plane: t * c, shape: inShape, images: images, bias: nil, relu: false,
                into: below + block * inShape.features)
        }
        reluMaskBelow(s, first: first, count: count)
    }
}
