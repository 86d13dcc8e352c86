import Foundation
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Adam or SGD with momentum over a ``Network``'s parameters, with masked updates (internal).
///
/// The gradient of a pruned weight is multiplied by its mask (0) before it enters the moments, and the update
/// itself is multiplied by the mask again, so a pruned weight stays exactly `0.0` whatever the moments hold.
/// State (moments, step count) is fresh per instance: one instance per ``Trainer/train(_:snapshotAt:progress:)``
/// call. Each loop is element-wise over contiguous pointers, so the compiler vectorises it.
final class Optimizer {
    let kind: OptimizerKind
    let lr: Float
    let momentum: Float
    /// Adam (Kingma & Ba 2015) constants, the paper's and TensorFlow's defaults.
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    private(set) var step = 0
    /// Per layer: first moment (Adam) or velocity (SGD), for weights and biases.
    private let m: [UnsafeMutablePointer<Float>], mb: [UnsafeMutablePointer<Float>]
    /// Per layer: Adam second moment.
    private let v: [UnsafeMutablePointer<Float>], vb: [UnsafeMutablePointer<Float>]
    private let sizes: [(weights: Int, biases: Int)]

    init(kind: OptimizerKind, lr: Double, momentum: Double, widths: [Int]) {
        self.kind = kind
        self.lr = Float(lr)
        self.momentum = Float(momentum)
        sizes = (0..<(widths.count - 1)).map { (widths[$0] * widths[$0 + 1], widths[$0 + 1]) }
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        m = sizes.map { zeros($0.weights) }
        mb = sizes.map { zeros($0.biases) }
        let adam = kind == .adam
        v = sizes.map { zeros(adam ? $0.weights : 0) }
        vb = sizes.map { zeros(adam ? $0.biases : 0) }
    }

    deinit {
        for list in [m, mb, v, vb] { for p in list { p.deallocate() } }
    }

    /// One update of every parameter of `net` from its current gradients.
    func update(_ net: Network<Float>) {
        step += 1
        switch kind {
        case .adam:
            // Bias correction folded into the step size and the second-moment scale (Kingma & Ba 2015, Alg. 1).
            let t = Double(step)
            let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
            let vScale = Float(1 / (1 - pow(Double(beta2), t)))
            for l in sizes.indices {
                adam(w: net.weights[l], g: net.weightGrads[l], m: m[l], v: v[l], mask: net.masks[l],
                     count: sizes[l].weights, stepSize: stepSize, vScale: vScale)
                adam(w: net.biases[l], g: net.biasGrads[l], m: mb[l], v: vb[l], mask: nil,
                     count: sizes[l].biases, stepSize: stepSize, vScale: vScale)
            }
        case .sgd:
            for l in sizes.indices {
                sgd(w: net.weights[l], g: net.weightGrads[l], velocity: m[l], mask: net.masks[l], count: sizes[l].weights)
                sgd(w: net.biases[l], g: net.biasGrads[l], velocity: mb[l], mask: nil, count: sizes[l].biases)
            }
        }
    }

    @inline(__always)
    private func adam(
        w: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>?, count: Int, stepSize: Float, vScale: Float
    ) {
        let b1 = beta1, b2 = beta2, c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon
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
            for i in 0..<count {
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
            for i in 0..<count {
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
