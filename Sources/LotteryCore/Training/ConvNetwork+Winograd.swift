// ConvNetwork's dense conv layers by Winograd F(2×2, 3×3) or F(4×4, 3×3) (see WinogradTile): buffers, forward
// and backward per chunk.
extension ConvNetwork {
    /// Allocates `U` (and for F(4×4) the rotated `U`) per Winograd layer and each chunk slot's scratch (from the
    /// initialiser).
    func allocateWinograd(slots: Int) {
        var widest = 0, largest = 0
        winogradWeights = architecture.weightLayers.indices.map { l in
            guard let tile = winogradTiles[l], case .conv(let input, let output) = architecture.stages[stageOfLayer[l]]
            else { return nil }
            let images = min(stageChunkImages[stageOfLayer[l]], Self.winogradBlockImages(input, tile: tile))
            let tiles = images * tile.tiles(input)
            widest = max(widest, tile.points * tiles * max(input.channels, output.channels))
            largest = max(largest, tile.points * input.channels * output.channels)
            return allocate(tile.points * input.channels * output.channels)
        }
        winogradRotatedWeights = architecture.weightLayers.indices.map { l in
            winogradTiles[l] == .f4x4 ? allocate(36 * architecture.weightLayers[l].count / 9) : nil
        }
        winogradTransposedWeights = architecture.weightLayers.indices.map { l in
            winogradTiles[l] == .f4x4 ? allocate(architecture.weightLayers[l].count) : nil
        }
        winogradScratch = widest == 0 ? [] : (0..<slots).map { _ in (allocate(widest), allocate(widest)) }
        winogradGradScratch = largest == 0 ? [] : (0..<slots).map { _ in allocate(largest) }
    }

    /// Transforms the current weights of every Winograd layer into `U` (`rotated: false`, at the start of every
    /// forward pass; the backward pass of the same step reuses them), or each F(4×4) layer's kernels rotated by 180°
    /// (`rotated: true`, at the start of the backward pass, the only one that reads them: evaluation passes skip it).
    func prepareWinograd(rotated: Bool) {
        // Over every weight layer (nothing to do where U is nil): no index array allocated per step.
        parallelUnits(winogradWeights.count) { l in
            guard let tile = self.winogradTiles[l],
                let u = rotated ? self.winogradRotatedWeights[l] : self.winogradWeights[l]
            else { return }
            let shape = self.architecture.weightLayers[l], cin = shape.rows / 9, cout = shape.cols
            guard rotated else {
                return tile.transformWeights(self.weights[l], inChannels: cin, outChannels: cout, into: u)
            }
            // The input gradient's products want `U` of the rotated kernels as `[36][O][C]`: transpose each tap's
            // `[C, O]` block, then transform with the channels' roles swapped.
            let transposed = self.winogradTransposedWeights[l]!
            for tap in 0..<9 {
                transposeToPlanes(
                    self.weights[l] + tap * cin * cout, count: cin, channels: cout, into: transposed + tap * cin * cout,
                    planeStride: cin)
            }
            tile.transformWeights(transposed, inChannels: cout, outChannels: cin, rotated: true, into: u)
        }
    }

    /// Images per block of a chunk's Winograd work: blocks of about ``winogradBlockTiles(_:)`` tiles keep a block's
    /// transformed tiles and products in L2 (measured: F(2×2) 256 tiles, 1.23× on a 32×32×64 layer; F(4×4) 64
    /// tiles, 36 points each, 1.04× over 128 on Conv-2).
    static func winogradBlockImages(_ input: InputShape, tile: WinogradTile) -> Int {
        max(1, winogradBlockTiles(tile) / tile.tiles(input))
    }

    static func winogradBlockTiles(_ tile: WinogradTile) -> Int { tile == .f2x2 ? 256 : 64 }

    /// One chunk of a Winograd layer's forward pass: `out = ReLU(conv(source) + bias)`, block by block.
    func forwardWinograd(
        _ l: Int, input: InputShape, output: InputShape, source: UnsafePointer<T>, weights u: UnsafePointer<T>,
        count: Int, slot: Int, into out: UnsafeMutablePointer<T>
    ) {
        let tile = winogradTiles[l]!, points = tile.points
        let c = input.channels, o = output.channels
        let (v, m) = winogradScratch[slot]
        let step = Self.winogradBlockImages(input, tile: tile)
        for first in stride(from: 0, to: count, by: step) {
            let images = min(step, count - first), t = images * tile.tiles(input)
            tile.transformInput(source + first * input.features, shape: input, images: images, zeros: zeros, into: v)
            for xi in 0..<points {
                pointProduct(
                    tile, m: t, n: o, k: c, a: v + xi * c, ai: points * c, ak: 1, b: u + xi * c * o, bk: o,
                    c: m + xi * t * o, accumulate: false)
            }
            tile.transformOutput(
                m, plane: t * o, shape: output, images: images, bias: biases[l], relu: true,
                into: out + first * output.features)
        }
    }

    /// One chunk of a Winograd layer's backward pass: its weight gradient (the chunk's `∂U`, turned into `∂W` here
    /// and summed over chunks in ``backward(_:rows:)``), bias gradient, and (below the first stage) the input
    /// gradient through the ReLU below.
    func backwardWinograd(_ s: Int, input: UnsafePointer<T>, first: Int, count: Int, chunk: Int, slot: Int) {
        guard case .conv(let inShape, let outShape) = architecture.stages[s] else { return }
        let l = layerOfStage[s]!, tile = winogradTiles[l]!, points = tile.points
        let c = inShape.channels, o = outShape.channels
        let (v, y) = winogradScratch[slot]
        let source = stageInput(s, input) + first * inShape.features
        let delta = UnsafePointer(grads[s] + first * outShape.features)
        let du = winogradGradScratch[slot]
        let step = Self.winogradBlockImages(inShape, tile: tile)
        // ∂U, block by block: the first block's products overwrite, later ones add (a fixed order).
        for block in stride(from: 0, to: count, by: step) {
            let images = min(step, count - block), t = images * tile.tiles(inShape)
            tile.transformInput(
                source + block * inShape.features, shape: inShape, images: images, zeros: zeros, into: v)
            tile.transformOutputAdjoint(delta + block * outShape.features, shape: outShape, images: images, into: y)
            for xi in 0..<points {
                pointProduct(
                    tile, m: c, n: o, k: t, a: v + xi * c, ai: 1, ak: points * c, b: y + xi * o, bk: points * o,
                    c: du + xi * c * o, accumulate: block > 0)
            }
        }
        tile.transformWeightsAdjoint(du, inChannels: c, outChannels: o, into: partialWeightGrads[l][chunk])
        columnSums(delta, rows: count * inShape.height * inShape.width, columns: o, into: partialBiasGrads[l][chunk])
        guard s > 0 else { return }
        // The input gradient: the delta's tiles times each kernel rotated by 180°, channels swapped (U transposed);
        // `v` holds the products point-major. F(2×2) permutes U's points for the rotation, F(4×4) has its own U.
        let below = grads[s - 1] + first * inShape.features
        let rotatedU = UnsafePointer(winogradRotatedWeights[l] ?? winogradWeights[l]!)
        for block in stride(from: 0, to: count, by: step) {
            let images = min(step, count - block), t = images * tile.tiles(inShape)
            tile.transformInput(
                delta + block * outShape.features, shape: outShape, images: images, zeros: zeros, into: y)
            for xi in 0..<points {
                // F(4×4): `rotatedU` is `[36][O][C]`; F(2×2): `U` with its points permuted, read transposed.
                let (b, bk, bj) =
                    tile == .f4x4 ? (rotatedU + xi * o * c, c, 1) : (rotatedU + Winograd.rotated(xi) * c * o, 1, o)
                pointProduct(
                    tile, m: t, n: c, k: o, a: y + xi * o, ai: points * o, ak: 1, b: b, bk: bk, bj: bj,
                    c: v + xi * t * c, accumulate: false)
            }
            tile.transformOutput(
                v, plane: t * c, shape: inShape, images: images, bias: nil, relu: false,
                into: below + block * inShape.features)
        }
        reluMaskBelow(s, first: first, count: count)
    }

    /// One transform point's product `C (+)= A·B` (`C` row-major `m × n`), `A(i, k) = a[i·ai + k·ak]` and
    /// `B(k, j) = b[k·bk + j·bj]`, each with one stride 1: on ``WinogradGEMM`` for F(4×4) (which needs `bj = 1`),
    /// on OpenBLAS sgemm for F(2×2).
    private func pointProduct(
        _ tile: WinogradTile, m: Int, n: Int, k: Int, a: UnsafePointer<T>, ai: Int, ak: Int, b: UnsafePointer<T>,
        bk: Int, bj: Int = 1, c: UnsafeMutablePointer<T>, accumulate: Bool
    ) {
        if tile == .f4x4 {
            precondition(bj == 1, "WinogradGEMM reads B row-major")
            return WinogradGEMM.product(
                m: m, n: n, k: k, a: a, ai: ai, ak: ak, b: b, bk: bk, c: c, ci: n, accumulate: accumulate)
        }
        let transA = ak != 1, transB = bj != 1
        T.gemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, lda: transA ? ak : ai, b: b,
            ldb: transB ? bj : bk, beta: accumulate ? 1 : 0, c: c, ldc: n)
    }
}
