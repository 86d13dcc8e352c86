// ConvNetwork's weight-sparse conv layers (see SparseConvPlan): their planes and their backward pass.
extension ConvNetwork {
    /// Runs the conv layers flagged in `layers` (one flag per weight layer; fc flags are ignored) with the
    /// weight-sparse convolution (``SparseConvPlan``) for the masks loaded now. Call after ``load(_:)``, before
    /// the step loop (it allocates); the masks must not change afterwards.
    func useSparseKernels(_ layers: [Bool]) {
        precondition(layers.count == architecture.weightLayers.count, "ConvNetwork: one flag per weight layer")
        let slots = columns.count
        let layerCount = architecture.weightLayers.count
        var plans: [SparseConvPlan?] = architecture.weightLayers.map { _ in nil }
        let unused = allocate(1)
        var inputPlanes = [UnsafeMutablePointer<T>](repeating: unused, count: slots * layerCount)
        var deltaPlanes = inputPlanes
        var widestRun = 0
        for (l, s) in stageOfLayer.enumerated() where layers[l] {
            guard case .conv(let input, let output) = architecture.stages[s] else { continue }
            let plan = SparseConvPlan(
                input: input, outChannels: output.channels, images: stageChunkImages[s], mask: masks[l])
            plans[l] = plan
            winogradWeights[l] = nil
            winogradRotatedWeights[l] = nil
            widestRun = max(widestRun, max(input.channels, output.channels) * plan.length)
            for slot in 0..<slots {
                inputPlanes[slot * layerCount + l] = allocate(input.channels * plan.planeStride)
                deltaPlanes[slot * layerCount + l] = allocate(output.channels * plan.planeStride)
            }
            // The sparse kernel writes kept weights' gradients only; the rest stay +0 (the optimizer masks them).
            for partial in partialWeightGrads[l] {
                partial.update(repeating: 0, count: architecture.weightLayers[l].count)
            }
        }
        sparsePlans = plans
        sparseInputPlanes = inputPlanes
        sparseDeltaPlanes = deltaPlanes
        sparseRuns = widestRun > 0 ? (0..<slots).map { _ in allocate(widestRun) } : []
    }

    /// A zeroed buffer freed with the network.
    func allocate(_ n: Int) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: max(n, 1))
        p.initialize(repeating: 0, count: max(n, 1))
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }

    /// The backward pass of sparse conv stage `s` for one chunk: kept weights' gradients, bias gradients, and
    /// (below the first stage) the input gradient through the ReLU below.
    func backwardSparse(
        _ s: Int, plan: SparseConvPlan, input: UnsafePointer<T>, first: Int, count: Int, chunk: Int, slot: Int
    ) {
        let l = layerOfStage[s]!
        let planes = (
            input: sparseInputPlanes[slot * stageOfLayer.count + l], delta: sparseDeltaPlanes[slot * stageOfLayer.count + l]
        )
        let inShape = plan.input, o = plan.outChannels
        let delta = UnsafePointer(grads[s] + first * o * inShape.height * inShape.width)
        plan.stack(
            stageInput(s, input) + first * inShape.features, channels: inShape.channels, count: count,
            into: planes.input)
        plan.stack(delta, channels: o, count: count, into: planes.delta)
        plan.weightGradients(
            delta: planes.delta + plan.pitch + 1, deltaStride: plan.planeStride, source: planes.input,
            into: partialWeightGrads[l][chunk])
        columnSums(delta, rows: count * inShape.height * inShape.width, columns: o, into: partialBiasGrads[l][chunk])
        guard s > 0 else { return }
        plan.convolve(backward: true, weights: weights[l], source: planes.delta, into: sparseRuns[slot])
        plan.unstack(
            sparseRuns[slot], channels: inShape.channels, count: count, bias: nil,
            into: grads[s - 1] + first * inShape.features)
        reluMaskBelow(s, first: first, count: count)
    }
}
