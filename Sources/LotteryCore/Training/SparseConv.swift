import CKernels
import Foundation

/// A weight-sparse 3×3 convolution (same padding, stride 1): a direct convolution whose cost follows the kept
/// weights, for conv layers pruned below ``KernelPolicy/sparseConvDensityLimit`` (internal to ``ConvNetwork``).
///
/// **Layout.** A chunk of images (``ConvNetwork/chunkImages(for:)``) is stacked into one tall channel-major plane per
/// channel: image `i`'s row `y` is plane row `1 + i·(H+1) + y`, its pixel `x` at column `x + 1`, with `pitch =
/// W + 1`. Rows `i·(H+1)` and the last row, and column 0, stay zero: they are every image's padding (a column 0
/// is also the previous row's right-hand neighbour, so one zero column pads both sides). A convolution is then
/// one shifted sum over a flat run of `length` positions `q = R·pitch + x` (output row `R`, column `x`):
///
///     out[o, q] = Σ over kept (c, ky, kx) of w · in[c, q + ky·pitch + kx]
///
/// and the positions on a separator row or in column `W` are computed and thrown away (6–30 % extra work, for
/// vectors as long as the whole chunk). The input gradient is the same sum with the roles of `c` and `o` swapped
/// and offsets `(2 − ky)·pitch + (2 − kx)` over the stacked output deltas (zero-padded the same way); a kept
/// weight's gradient is the dot product of its output channel's deltas with its shifted input plane.
///
/// **Numbers.** Each output is summed over its kept taps in a fixed order (input channel, then ky, kx) with
/// fused multiply-adds; the AVX2 kernels (CKernels' lth_conv_kernels.c) and the portable loops here do the same
/// operations in the same order, so they give the same bits. The order differs from sgemm's, so sparse and dense
/// agree to float rounding only; which one a layer runs is a pure function of its shape and kept count
/// (``KernelPolicy/usesSparseConv(inChannels:outChannels:kept:)``), so every worker gets the same bits.
struct SparseConvPlan {
    let input: InputShape
    let outChannels: Int
    /// Images stacked per plane (the chunk size).
    let images: Int
    let pitch: Int
    /// Positions computed per plane: the stacked run rounded up to a multiple of 16 (one AVX-512 vector).
    let length: Int
    /// Floats per channel plane (≥ `length + 2·pitch + 2`, so every shifted read stays inside).
    let planeStride: Int
    /// Forward taps per output channel, `[(input plane offset + shift, weight index)]` flattened, in the order
    /// (input channel, ky, kx); `forwardStarts` has `outChannels + 1` entries. The weight gradients walk the same
    /// list.
    let forwardStarts: [Int32]
    let forwardTaps: [Int32]
    /// Per output channel, where its taps cross into each block of ``channelsPerBlock`` input channels
    /// (`forwardBlocks + 1` bounds a row): the kernels walk one block of source planes at a time, so that block
    /// stays in L1 while every row reads it.
    let forwardBounds: [Int32]
    let forwardBlocks: Int
    /// Input-gradient taps per input channel, over the output-delta planes, in the order (output channel, ky, kx),
    /// and their block bounds.
    let backwardTaps: [Int32]
    let backwardBounds: [Int32]
    let backwardBlocks: Int
    let channelsPerBlock: Int
    let kept: Int

    /// The plan for a conv layer `input → outChannels` whose kernel `[9·C, O]` (row `(ky·3 + kx)·C + c`) keeps
    /// the weights where `mask` is nonzero.
    init<T: NetworkScalar>(input: InputShape, outChannels: Int, images: Int, mask: UnsafePointer<T>) {
        let c = input.channels, o = outChannels
        self.input = input
        self.outChannels = o
        self.images = images
        pitch = input.width + 1
        let run = (images * (input.height + 1) - 1) * pitch
        length = (run + 15) / 16 * 16
        planeStride = (length + 2 * pitch + 2 + 15) / 16 * 16
        precondition(max(c, o) * planeStride < Int(Int32.max), "SparseConvPlan: planes too large for 32-bit offsets")
        // About 12 KB of source per (tile of 128 positions, block): the tile plus the two rows its shifts reach.
        channelsPerBlock = max(1, 3072 / (128 + 2 * pitch + 2))
        let pitch = pitch, planeStride = planeStride, perBlock = channelsPerBlock
        /// Taps and bounds of `rows` rows over `sources` planes: `tap(row, source, ky, kx)` gives the tap's offset
        /// and weight index when that weight is kept.
        func taps(rows: Int, sources: Int, _ tap: (Int, Int, Int, Int) -> (Int32, Int32)?) -> (
            taps: [Int32], starts: [Int32], bounds: [Int32], blocks: Int
        ) {
            let blocks = (sources + perBlock - 1) / perBlock
            var list: [Int32] = []
            var starts: [Int32] = [0]
            var bounds: [Int32] = []
            for row in 0..<rows {
                for source in 0..<sources {
                    if source % perBlock == 0 { bounds.append(Int32(list.count / 2)) }
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            guard let (offset, index) = tap(row, source, ky, kx) else { continue }
                            list.append(offset)
                            list.append(index)
                        }
                    }
                }
                bounds.append(Int32(list.count / 2))
                starts.append(Int32(list.count / 2))
            }
            return (list, starts, bounds, blocks)
        }
        let forward = taps(rows: o, sources: c) { out, ch, ky, kx in
            let index = ((ky * 3 + kx) * c + ch) * o + out
            return mask[index] == 0 ? nil : (Int32(ch * planeStride + ky * pitch + kx), Int32(index))
        }
        let backward = taps(rows: c, sources: o) { ch, out, ky, kx in
            let index = ((ky * 3 + kx) * c + ch) * o + out
            return mask[index] == 0 ? nil : (Int32(out * planeStride + (2 - ky) * pitch + (2 - kx)), Int32(index))
        }
        forwardTaps = forward.taps
        forwardStarts = forward.starts
        forwardBounds = forward.bounds
        forwardBlocks = forward.blocks
        backwardTaps = backward.taps
        backwardBounds = backward.bounds
        backwardBlocks = backward.blocks
        kept = forwardTaps.count / 2
    }

    /// Plane index of image `i`'s pixel `(y, x)`.
    @inline(__always) func planeIndex(image i: Int, y: Int, x: Int) -> Int {
        (1 + i * (input.height + 1) + y) * pitch + x + 1
    }

    /// Run position `q` of image `i`'s output pixel `(y, x)` (`planeIndex − pitch − 1`).
    @inline(__always) func runIndex(image i: Int, y: Int, x: Int) -> Int {
        (i * (input.height + 1) + y) * pitch + x
    }

    /// Writes `count` NHWC maps of `channels` channels into the stacked planes' interiors; the images after
    /// `count` (a short last chunk) are zeroed, so they add nothing to a weight gradient.
    func stack<T: NetworkScalar>(
        _ maps: UnsafePointer<T>, channels: Int, count: Int, into planes: UnsafeMutablePointer<T>
    ) {
        let h = input.height, w = input.width
        for i in 0..<images {
            for y in 0..<h {
                let rowBase = planeIndex(image: i, y: y, x: 0)
                if i >= count {
                    for ch in 0..<channels { (planes + ch * planeStride + rowBase).update(repeating: 0, count: w) }
                    continue
                }
                transposeToPlanes(
                    maps + (i * h + y) * w * channels, count: w, channels: channels, into: planes + rowBase,
                    planeStride: planeStride)
            }
        }
    }

    /// Reads `count` NHWC maps of `channels` channels back from run rows (`[channels, length]`), adding `bias`
    /// and applying ReLU when given (the forward pass), or as they are (an input gradient).
    func unstack<T: NetworkScalar>(
        _ rows: UnsafePointer<T>, channels: Int, count: Int, bias: UnsafePointer<T>?,
        into maps: UnsafeMutablePointer<T>
    ) {
        let h = input.height, w = input.width
        for i in 0..<count {
            for y in 0..<h {
                let rowBase = runIndex(image: i, y: y, x: 0)
                let target = maps + (i * h + y) * w * channels
                if T.self == Float.self, CPUKernels.avx2 {
                    lth_transpose_from_rows_avx2(
                        UnsafeRawPointer(rows + rowBase).assumingMemoryBound(to: Float.self), length, w, channels,
                        bias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) },
                        UnsafeMutableRawPointer(target).assumingMemoryBound(to: Float.self))
                    continue
                }
                for x in 0..<w {
                    let pixel = target + x * channels
                    let source = rows + rowBase + x
                    if let bias {
                        for ch in 0..<channels {
                            let v = source[ch * length] + bias[ch]
                            pixel[ch] = v > 0 ? v : 0
                        }
                    } else {
                        for ch in 0..<channels { pixel[ch] = source[ch * length] }
                    }
                }
            }
        }
    }

    /// `out[r, q] = Σ_taps w · source[offset + q]` (see the type's discussion) for the forward (`backward` false)
    /// or input-gradient taps.
    func convolve<T: NetworkScalar>(
        backward: Bool, weights: UnsafePointer<T>, source: UnsafePointer<T>, into out: UnsafeMutablePointer<T>
    ) {
        let bounds = backward ? backwardBounds : forwardBounds
        let taps = backward ? backwardTaps : forwardTaps
        let blocks = backward ? backwardBlocks : forwardBlocks
        let rows = backward ? input.channels : outChannels
        bounds.withUnsafeBufferPointer { bounds in
            taps.withUnsafeBufferPointer { taps in
                if T.self == Float.self, CPUKernels.fmaLevel != .portable {
                    let kernel = CPUKernels.fmaLevel == .avx512 ? lth_sparse_conv_avx512 : lth_sparse_conv_avx2
                    kernel(
                        UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self), length, rows, blocks,
                        bounds.baseAddress!, taps.baseAddress!, UnsafeRawPointer(weights).assumingMemoryBound(to: Float.self),
                        UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), length)
                    return
                }
                // Per output, the same fused multiply-adds in the same order as the kernels (blocks only change
                // when partial sums are stored, never their bits).
                for q0 in stride(from: 0, to: length, by: 16) {
                    for r in 0..<rows {
                        let row = out + r * length + q0
                        row.update(repeating: 0, count: 16)
                        for t in Int(bounds[r * (blocks + 1)])..<Int(bounds[r * (blocks + 1) + blocks]) {
                            let w = weights[Int(taps[2 * t + 1])]
                            let s = source + Int(taps[2 * t]) + q0
                            for j in 0..<16 { row[j] = row[j].addingProduct(w, s[j]) }
                        }
                    }
                }
            }
        }
    }

    /// Each kept weight's gradient into `grads` (other entries untouched): the dot product of its output
    /// channel's delta row (`delta + o·deltaStride`, `length` positions) with its shifted input plane.
    func weightGradients<T: NetworkScalar>(
        delta: UnsafePointer<T>, deltaStride: Int, source: UnsafePointer<T>, into grads: UnsafeMutablePointer<T>
    ) {
        forwardStarts.withUnsafeBufferPointer { starts in
            forwardTaps.withUnsafeBufferPointer { taps in
                if T.self == Float.self, CPUKernels.fmaLevel != .portable {
                    let kernel =
                        CPUKernels.fmaLevel == .avx512
                        ? lth_sparse_conv_weight_grads_avx512 : lth_sparse_conv_weight_grads_avx2
                    kernel(
                        UnsafeMutableRawPointer(grads).assumingMemoryBound(to: Float.self), outChannels,
                        starts.baseAddress!, taps.baseAddress!, UnsafeRawPointer(delta).assumingMemoryBound(to: Float.self),
                        deltaStride, UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), length)
                    return
                }
                // 16 lanes on the stack: no allocation in the step loop.
                withUnsafeTemporaryAllocation(of: T.self, capacity: 16) { lanes in
                    for r in 0..<outChannels {
                        let d = delta + r * deltaStride
                        for t in Int(starts[r])..<Int(starts[r + 1]) {
                            let s = source + Int(taps[2 * t])
                            for l in 0..<16 { lanes[l] = 0 }
                            for q in stride(from: 0, to: length, by: 16) {
                                for l in 0..<16 { lanes[l] = lanes[l].addingProduct(d[q + l], s[q + l]) }
                            }
                            // The kernels' tree: lanes i + i+8, then + i+4, + i+2, + i+1.
                            var half = 8
                            while half >= 1 {
                                for l in 0..<half { lanes[l] = lanes[l] + lanes[l + half] }
                                half /= 2
                            }
                            grads[Int(taps[2 * t + 1])] = lanes[0]
                        }
                    }
                }
            }
        }
    }
}

/// `planes[c · planeStride + p] = pixels[p · channels + c]` for `p < count`, `c < channels`: NHWC pixels into
/// channel planes, or any row-major block into its transpose (AVX2 8×8 blocks for Float; copies only, so the same
/// bits as the portable loop).
func transposeToPlanes<T>(
    _ pixels: UnsafePointer<T>, count: Int, channels: Int, into planes: UnsafeMutablePointer<T>, planeStride: Int
) {
    if T.self == Float.self, CPUKernels.avx2 {
        return lth_transpose_to_planes_avx2(
            UnsafeRawPointer(pixels).assumingMemoryBound(to: Float.self), count, channels,
            UnsafeMutableRawPointer(planes).assumingMemoryBound(to: Float.self), planeStride)
    }
    for p in 0..<count {
        for c in 0..<channels { planes[c * planeStride + p] = pixels[p * channels + c] }
    }
}
