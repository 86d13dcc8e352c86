import CKernels

/// Which kernels a training run uses for its layers' matrix work.
///
/// The choice changes float rounding (summation order), never the mathematics: dense and sparse kernels agree
/// to float32 rounding. With ``auto`` the choice is a pure function of each layer's shape and kept-weight count
/// and of the data (``usesSparseKernel(inputs:outputs:kept:zeroInputs:)``,
/// ``usesSparseInput(nonzeros:rows:features:)``), so every worker running the same trial picks the same kernels
/// and produces the same bits. ``dense`` and ``sparse`` exist for measurement and tests; a recorded result
/// should come from ``auto``.
public enum KernelPolicy: String, Sendable, CaseIterable, Hashable {
    /// Per layer by the density rule; a fully dense-ruled network runs the row-major sgemm path, its first layer
    /// skipping zero inputs when they are most of them (``usesSparseInput(nonzeros:rows:features:)``).
    case auto
    /// Every layer dense: row-major sgemm for all work, whatever the masks and inputs.
    case dense
    /// Every layer with the sparse kernels (feature-major activations, compressed kept weights).
    case sparse
    /// Like ``dense``, but dense conv layers run im2col + sgemm instead of Winograd: the first dense convolution,
    /// kept for measurement (`lth bench train --kernels im2col`) and tests.
    case im2col
    /// Like ``dense``, but Winograd layers all run F(2×2, 3×3), never F(4×4, 3×3): the previous dense convolution,
    /// kept for measurement (`lth bench train --kernels winograd2x2`) and tests.
    case winograd2x2

    /// Density below which a layer runs the sparse kernels (kept / (inputs · outputs)).
    ///
    /// Set from the measured break-even of `lth bench train --density D --kernels sparse|dense` (see
    /// docs/performance.md).
    public static let sparseDensityLimit = 0.3
    /// The same limit when the training data is mostly zero (``usesSparseInput(nonzeros:rows:features:)`` over the
    /// whole training set): the dense path then skips zero inputs, which moves the break-even down (MNIST: 24 %).
    public static let sparseDensityLimitWithZeroInputs = 0.24
    /// Layers with at most this many weights stay dense: their work is too small to matter.
    public static let sparseMinimumWeights = 10_000

    /// The `auto` rule: whether a layer of this shape with `kept` kept weights runs the sparse kernels.
    ///
    /// `density < limit && inputs·outputs > sparseMinimumWeights`, the limit ``sparseDensityLimitWithZeroInputs``
    /// when `zeroInputs` (the training data is mostly zero) and ``sparseDensityLimit`` otherwise. A pure function
    /// of its arguments, so the same trial takes the same kernels on every worker.
    public static func usesSparseKernel(inputs: Int, outputs: Int, kept: Int, zeroInputs: Bool = false) -> Bool {
        let size = inputs * outputs
        let limit = zeroInputs ? sparseDensityLimitWithZeroInputs : sparseDensityLimit
        return size > sparseMinimumWeights && Double(kept) < limit * Double(size)
    }

    /// Density below which a 3×3 conv layer runs the weight-sparse direct convolution (``usesSparseConv(inChannels:outChannels:kept:)``).
    ///
    /// Set from the measured break-even against the dense path (Winograd F(4×4), and F(2×2) on small maps),
    /// `lth bench train --model conv2|conv4|conv6 --round R --kernels sparse|dense` (see docs/conv.md, "Pruned
    /// rounds"): sparse/dense speed 0.98 at 12% of the conv weights on Conv-6, 0.94–1.00 at 9.8% on Conv-4, 0.97 at
    /// 9.8% on Conv-2 (their big maps run F(4×4), which the sparse kernels race at a quarter of im2col's work).
    public static let sparseConvDensityLimit = 0.10
    /// Conv layers with fewer input channels stay dense (the first layer: 3 or 1 channels, a few hundred weights).
    public static let sparseConvMinimumChannels = 8

    /// The `auto` rule for a 3×3 conv layer of `inChannels → outChannels` with `kept` kept weights: density below
    /// ``sparseConvDensityLimit`` and at least ``sparseConvMinimumChannels`` input channels. A pure function of its
    /// arguments, so the same trial takes the same kernels on every worker.
    public static func usesSparseConv(inChannels: Int, outChannels: Int, kept: Int) -> Bool {
        let size = 9 * inChannels * outChannels
        return inChannels >= sparseConvMinimumChannels && Double(kept) < sparseConvDensityLimit * Double(size)
    }

    /// Conv layers with fewer input channels run im2col + sgemm rather than Winograd (the first layer: 3 or 1
    /// channels, where the transforms would cost more than the multiplications they save).
    public static let winogradMinimumChannels = 8

    /// Whether this CPU has AVX2 and FMA, which F(4×4)'s products need to run in hardware (whatever
    /// `LTH_PORTABLE_KERNELS` says: that variable only swaps in the portable loops, for tests).
    public static let cpuHasFusedMultiplyAdd = lth_has_avx2_fma() != 0

    /// The rule for a dense 3×3 conv layer of `inChannels` input channels on `height × width` maps: no Winograd
    /// (im2col + sgemm) below ``winogradMinimumChannels`` input channels or under ``im2col``; otherwise
    /// F(4×4, 3×3) where it needs fewer multiplications than F(2×2, 3×3) (tiles cut by the map's edge cost whole
    /// tiles), else F(2×2, 3×3) — always F(2×2) under ``winograd2x2``. A pure function of shape, so every worker
    /// agrees. Small maps (Conv-6's 8×8 or 7×7: 4 F(4×4) tiles) run in chunks of more images
    /// (``ConvNetwork/smallMapChunkImages``), so their F(4×4) products still get 60 rows.
    ///
    /// One exception to "shape only": on a CPU without AVX2 and FMA (``cpuHasFusedMultiplyAdd``) every Winograd layer
    /// runs F(2×2), because F(4×4)'s products would run a portable loop of fused multiply-adds in software, ~20×
    /// slower (measured with `LTH_PORTABLE_KERNELS=1`: Conv-6 0.09 against 1.8 steps per CPU second). Such a
    /// CPU also runs other OpenBLAS kernels, so its numbers differ from an AVX2 machine's anyway.
    public func winogradTile(inChannels: Int, height: Int, width: Int) -> WinogradTile? {
        guard self != .im2col, inChannels >= Self.winogradMinimumChannels else { return nil }
        if self == .winograd2x2 || !Self.cpuHasFusedMultiplyAdd { return .f2x2 }
        let map = InputShape(channels: inChannels, height: height, width: width), f4 = WinogradTile.f4x4
        let fewer = f4.multiplications(map) < WinogradTile.f2x2.multiplications(map)
        return fewer ? .f4x4 : .f2x2
    }

    /// The rule for conv weight layer `l` of `architecture` (`nil` for a fc layer or an im2col layer).
    public func winogradTile(layer l: Int, of architecture: Architecture) -> WinogradTile? {
        guard architecture.weightLayers[l].kind == .conv, let map = architecture.inputMap(ofLayer: l) else {
            return nil
        }
        return winogradTile(inChannels: map.channels, height: map.height, width: map.width)
    }

    /// Per weight layer of `model`, the kernels a run with this policy uses, for people and benchmarks: `sparse`,
    /// `winograd4x4`, `winograd2x2` or `im2col` for a conv layer, `sparse` or `dense` for a fully connected one.
    public func layerKernels(of model: MLP, zeroInputs: Bool = false) -> [String] {
        let sparse = sparseLayers(of: model, zeroInputs: zeroInputs)
        return model.architecture.weightLayers.indices.map { l in
            if sparse[l] { return "sparse" }
            guard model.architecture.weightLayers[l].kind == .conv else { return "dense" }
            return winogradTile(layer: l, of: model.architecture)?.name ?? "im2col"
        }
    }

    /// Input density below which (with ``auto``) the first layer's forward product and weight gradients skip the
    /// zero inputs (``SparseRows``) instead of calling sgemm: per batch during training, per chunk during
    /// evaluation.
    ///
    /// Set from the measured break-even of the two (see docs/performance.md); MNIST's batches are ~19 % nonzero.
    public static let sparseInputDensityLimit = 0.3

    /// The `auto` rule for the first layer's input: whether `rows` inputs of `features` values with `nonzeros`
    /// nonzero ones run the sparse-input kernels. A pure function of the data, so every worker picks the same.
    public static func usesSparseInput(nonzeros: Int, rows: Int, features: Int) -> Bool {
        Double(nonzeros) < sparseInputDensityLimit * Double(rows * features)
    }

    /// Whether this policy lets the first layer skip zero inputs: ``auto`` only (``dense`` is plain sgemm, the
    /// baseline every framework runs; ``sparse`` runs the weight-sparse kernels).
    public var skipsZeroInputs: Bool { self == .auto }

    /// Whether `auto` treats `dataset` as mostly zero: ``usesSparseInput(nonzeros:rows:features:)`` over all of it.
    public static func isMostlyZero(_ dataset: Dataset) -> Bool {
        usesSparseInput(nonzeros: nonzeroCount(dataset.images), rows: dataset.count, features: dataset.features)
    }

    /// Per layer of `model`: `true` where this policy runs the sparse kernels. `zeroInputs`: the training data is
    /// mostly zero (``isMostlyZero(_:)``), which lowers the `auto` limit.
    public func sparseLayers(of model: MLP, zeroInputs: Bool = false) -> [Bool] {
        // Networks with convolutions: conv layers may run the weight-sparse convolution; their fc layers are
        // dense (a fraction of a percent of a conv network's work).
        if model.architecture.hasConvolutions {
            return zip(model.architecture.weightLayers, model.keptCounts).map { shape, kept in
                guard shape.kind == .conv else { return false }
                switch self {
                case .dense, .im2col, .winograd2x2: return false
                case .sparse: return true
                case .auto: return Self.usesSparseConv(inChannels: shape.rows / 9, outChannels: shape.cols, kept: kept)
                }
            }
        }
        switch self {
        case .dense, .im2col, .winograd2x2: return model.layers.map { _ in false }
        case .sparse: return model.layers.map { _ in true }
        case .auto:
            return zip(model.layers, model.keptCounts).map { layer, kept in
                Self.usesSparseKernel(
                    inputs: layer.inputs, outputs: layer.outputs, kept: kept, zeroInputs: zeroInputs)
            }
        }
    }
}
