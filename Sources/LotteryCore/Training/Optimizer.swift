import CKernels
import Foundation
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// One contiguous block of parameters the ``Optimizer`` updates: values, their gradient and an optional mask.
///
/// Dense layers give `[in, out]` kernels with their mask; the sparse kernels give packed arrays of kept weights
/// only (no mask needed: every entry is kept); biases have no mask.
struct ParameterBlock {
    let values: UnsafeMutablePointer<Float>
    let gradients: UnsafeMutablePointer<Float>
    let mask: UnsafeMutablePointer<Float>?
    let count: Int
}

/// Adam or SGD with momentum over parameter blocks, with masked updates (internal).
///
/// The gradient of a pruned weight is multiplied by its mask (0) before it enters the moments, and the update
/// itself is multiplied by the mask again, so a pruned weight stays exactly `0.0` whatever the moments hold.
/// For an unmasked block (packed kept weights, biases) the same IEEE operations run without the mask factor;
/// multiplying by a mask of 1 is exact, so a kept weight gets the same bits either way.
/// State (moments, step count) is fresh per instance: one instance per ``Trainer/train(_:snapshotAt:progress:)``
/// call. The blocks are bound at init, so ``update()`` allocates nothing.
final class Optimizer {
    let kind: OptimizerKind
    let lr: Float
    let momentum: Float
    /// Adam (Kingma & Ba 2015) constants, the paper's and TensorFlow's defaults.
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    private(set) var step = 0
    private let blocks: [ParameterBlock]
    /// Per block: first moment (Adam) or velocity (SGD).
    private let m: [UnsafeMutablePointer<Float>]
    /// Per block: Adam second moment.
    private let v: [UnsafeMutablePointer<Float>]

    /// Threads ``update()`` spreads the blocks over; each block is updated by one thread, element by element, so
    /// the result does not depend on it.
    let threads: Int

    init(kind: OptimizerKind, lr: Double, momentum: Double, blocks: [ParameterBlock], threads: Int = 1) {
        self.threads = max(1, threads)
        self.kind = kind
        self.lr = Float(lr)
        self.momentum = Float(momentum)
        self.blocks = blocks
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        m = blocks.map { zeros($0.count) }
        v = blocks.map { zeros(kind == .adam ? $0.count : 0) }
    }

    deinit {
        for list in [m, v] { for p in list { p.deallocate() } }
    }

    /// One update of every bound parameter from its current gradient.
    func update() {
        step += 1
        switch kind {
        case .adam:
            // Bias correction folded into the step size and the second-moment scale (Kingma & Ba 2015, Alg. 1).
            let t = Double(step)
            let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
            let vScale = Float(1 / (1 - pow(Double(beta2), t)))
            forEachBlock { b in
                let block = blocks[b]
                adam(
                    w: block.values, g: block.gradients, m: m[b], v: v[b], mask: block.mask, count: block.count,
                    stepSize: stepSize, vScale: vScale)
            }
        case .sgd:
            forEachBlock { b in
                let block = blocks[b]
                sgd(w: block.values, g: block.gradients, velocity: m[b], mask: block.mask, count: block.count)
            }
        }
    }

    /// `body(b)` for every block, on ``threads`` threads when there are more than one.
    private func forEachBlock(_ body: (Int) -> Void) {
        let lanes = min(threads, blocks.count)
        guard lanes > 1 else {
            for b in blocks.indices { body(b) }
            return
        }
        parallelLanes(lanes) { lane in
            for b in stride(from: lane, to: blocks.count, by: lanes) { body(b) }
        }
    }

    @inline(__always)
    private func adam(
        w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?, count: Int, stepSize: Float, vScale: Float
    ) {
        let b1 = beta1, b2 = beta2, c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon
        if CPUKernels.avx2 {
            // The same operations 8 lanes wide (CKernels; bit-identical: no FMA, same order).
            lth_adam_avx2(w, g, m, v, mask, count, b1, b2, c1, c2, eps, stepSize, vScale)
            return
        }
        if let mask {
            // Eight lanes at a time with explicit SIMD: the scalar loop compiles to sqrtf calls (errno path) and
            // does not vectorise. Each lane does the same IEEE operations as the scalar tail, so results do not
            // depend on where the tail starts.
            let vectorEnd = count & ~7
            var i = 0
            while i < vectorEnd {
                let keep = load8(mask, i)
                let gi = load8(g, i) * keep
                let mi = b1 * load8(m, i) + c1 * gi
                let vi = b2 * load8(v, i) + c2 * (gi * gi)
                store8(mi, m, i)
                store8(vi, v, i)
                store8(load8(w, i) - keep * (stepSize * mi / (squareRoot(vi * vScale) + eps)), w, i)
                i += 8
            }
            for i in vectorEnd..<count {
                let keep = mask[i]
                let gi = g[i] * keep
                let mi = b1 * m[i] + c1 * gi
                let vi = b2 * v[i] + c2 * (gi * gi)
                m[i] = mi
                v[i] = vi
                w[i] -= keep * (stepSize * mi / ((vi * vScale).squareRoot() + eps))
            }
        } else {
            let vectorEnd = count & ~7
            var i = 0
            while i < vectorEnd {
                let gi = load8(g, i)
                let mi = b1 * load8(m, i) + c1 * gi
                let vi = b2 * load8(v, i) + c2 * (gi * gi)
                store8(mi, m, i)
                store8(vi, v, i)
                store8(load8(w, i) - stepSize * mi / (squareRoot(vi * vScale) + eps), w, i)
                i += 8
            }
            for i in vectorEnd..<count {
                let gi = g[i]
                let mi = b1 * m[i] + c1 * gi
                let vi = b2 * v[i] + c2 * (gi * gi)
                m[i] = mi
                v[i] = vi
                w[i] -= stepSize * mi / ((vi * vScale).squareRoot() + eps)
            }
        }
    }

    /// PyTorch's momentum SGD: `u ← μu + g; w ← w − lr·u`.
    @inline(__always)
    private func sgd(
        w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, velocity: UnsafeMutablePointer<Float>,
        mask: UnsafeMutablePointer<Float>?, count: Int
    ) {
        let mu = momentum, rate = lr
        if let mask {
            let vectorEnd = count & ~7
            var i = 0
            while i < vectorEnd {
                let keep = load8(mask, i)
                let u = mu * load8(velocity, i) + load8(g, i) * keep
                store8(u, velocity, i)
                store8(load8(w, i) - keep * (rate * u), w, i)
                i += 8
            }
            for i in vectorEnd..<count {
                let keep = mask[i]
                let u = mu * velocity[i] + g[i] * keep
                velocity[i] = u
                w[i] -= keep * (rate * u)
            }
        } else {
            let vectorEnd = count & ~7
            var i = 0
            while i < vectorEnd {
                let u = mu * load8(velocity, i) + load8(g, i)
                store8(u, velocity, i)
                store8(load8(w, i) - rate * u, w, i)
                i += 8
            }
            for i in vectorEnd..<count {
                let u = mu * velocity[i] + g[i]
                velocity[i] = u
                w[i] -= rate * u
            }
        }
    }
}

@inline(__always)
private func load8(_ p: UnsafeMutablePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store8(_ value: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// Lane-wise IEEE square root. The generic `SIMD8.squareRoot()` compiles to eight scalar `sqrtss` with branches;
/// `sqrtps` gives the same correctly rounded results four lanes at a time.
@inline(__always)
private func squareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
    #if arch(x86_64)
        return SIMD8(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
    #else
        return x.squareRoot()
    #endif
}
