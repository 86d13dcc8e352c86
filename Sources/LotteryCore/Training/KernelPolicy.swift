/// Which kernels a training run uses for its layers' matrix work.
///
/// The choice changes float rounding (summation order), never the mathematics: dense and sparse kernels agree
/// to float32 rounding. With ``auto`` the choice is a pure function of each layer's shape and kept-weight count
/// (``usesSparseKernel(inputs:outputs:kept:)``), so every worker running the same trial picks the same kernels
/// and produces the same bits. ``dense`` and ``sparse`` exist for measurement and tests; a recorded result
/// should come from ``auto``.
public enum KernelPolicy: String, Sendable, CaseIterable, Hashable {
    /// Per layer by the density rule; a fully dense-ruled network runs the row-major sgemm path.
    case auto
    /// Every layer dense: row-major sgemm for all work, whatever the masks.
    case dense
    /// Every layer with the sparse kernels (feature-major activations, compressed kept weights).
    case sparse

    /// Density below which a layer runs the sparse kernels (kept / (inputs · outputs)).
    ///
    /// Set from the measured break-even of `lth bench train --density D --kernels sparse|dense` (see
    /// docs/performance.md).
    public static let sparseDensityLimit = 0.3
    /// Layers with at most this many weights stay dense: their work is too small to matter.
    public static let sparseMinimumWeights = 10_000

    /// The `auto` rule: whether a layer of this shape with `kept` kept weights runs the sparse kernels.
    ///
    /// `density < sparseDensityLimit && inputs·outputs > sparseMinimumWeights`. A pure function of its
    /// arguments, so the same trial takes the same kernels on every worker.
    public static func usesSparseKernel(inputs: Int, outputs: Int, kept: Int) -> Bool {
        let size = inputs * outputs
        return size > sparseMinimumWeights && Double(kept) < sparseDensityLimit * Double(size)
    }

    /// Per layer of `model`: `true` where this policy runs the sparse kernels.
    public func sparseLayers(of model: MLP) -> [Bool] {
        switch self {
        case .dense: return model.layers.map { _ in false }
        case .sparse: return model.layers.map { _ in true }
        case .auto:
            return zip(model.layers, model.keptCounts).map { layer, kept in
                Self.usesSparseKernel(inputs: layer.inputs, outputs: layer.outputs, kept: kept)
            }
        }
    }
}
