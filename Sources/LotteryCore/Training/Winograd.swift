import CKernels

/// Winograd F(2×2, 3×3): the dense 3×3 convolution (same padding, stride 1) with 2.25× fewer multiplications than
/// im2col + sgemm, for ``ConvNetwork``'s conv layers with at least ``KernelPolicy/winogradMinimumChannels`` input
/// channels (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks").
///
/// A map is cut into tiles of 2×2 outputs; tile `t` reads a 4×4 input patch `d` (one pixel of overlap each side,
/// zero off the map). With the constant matrices
///
///     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Aᵀ = [1 1 1 0; 0 1 −1 −1]
///
/// the 2×2 outputs of kernel `g` are exactly `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`. Summed over input channels, the
/// element-wise product becomes 16 matrix products, one per transform point `ξ`: `M[ξ] = V[ξ] · U[ξ]`
/// (`[tiles, C] · [C, O]`), which is where the time goes (sgemm). The three passes:
/// - forward: `V` = input transform, `U` = weight transform, `M[ξ] = V[ξ]·U[ξ]`, output transform (+ bias, ReLU);
/// - input gradient: the same convolution of the output delta with each kernel rotated by 180° and its channels
///   swapped. Rotating `g` permutes `G g Gᵀ`'s rows and columns 0 ↔ 3 (``rotated(_:)``), so it reuses `U`:
///   `M'[ξ] = VΔ[ξ] · U[rotated ξ]ᵀ`;
/// - weight gradient: the adjoint of the forward pass, `∂U[ξ] = V[ξ]ᵀ · (A Δ Aᵀ)[ξ]` summed over tiles, then
///   `∂g = Gᵀ ∂U G` — exactly the gradient of the convolution, since the algorithm is exact in real arithmetic.
///
/// Only additions, subtractions and multiplications by ½ outside sgemm, each in a fixed order and never fused:
/// the AVX2 C loops (lth_winograd.c) and the portable loops here give the same bits (KernelBitsTests). The
/// result differs from im2col's in float rounding only (WinogradTests).
///
/// Layouts: `V`, `VΔ` and `A Δ Aᵀ` are tile-major, `[tiles][16][channels]` (each tile's 16 rows written
/// together); `M` and `M'` are point-major, `[16][tiles][channels]` (each sgemm writes one contiguous block); `U`
/// and `∂U` are `[16][C][O]`.
enum Winograd {
    /// Tiles of a map (`ceil(h/2) · ceil(w/2)`).
    static func tiles(_ shape: InputShape) -> Int { ((shape.height + 1) / 2) * ((shape.width + 1) / 2) }

    /// The transform point that rotating a kernel by 180° moves point `ξ` to (rows and columns 0 ↔ 3).
    static func rotated(_ xi: Int) -> Int {
        func flip(_ i: Int) -> Int { i == 0 ? 3 : i == 3 ? 0 : i }
        return flip(xi / 4) * 4 + flip(xi % 4)
    }

    static func useC<T>(_: T.Type) -> Bool { T.self == Float.self && CPUKernels.avx2 }

    /// Calls `body(t, i, y0, x0)` for every tile `t` of `images` maps of `shape` cut into tiles of `m × m`
    /// outputs, row-major per image; `(y0, x0)` is the tile's first output (the portable loops' common walk).
    static func forEachTile(images: Int, shape: InputShape, outputs m: Int, _ body: (Int, Int, Int, Int) -> Void) {
        let th = (shape.height + m - 1) / m, tw = (shape.width + m - 1) / m
        for i in 0..<images {
            for ty in 0..<th {
                for tx in 0..<tw { body((i * th + ty) * tw + tx, i, m * ty, m * tx) }
            }
        }
    }

    /// `p[a·side + b]` = the address of pixel `(y0 + a, x0 + b)` of the NHWC map `image` of `shape`, or `zeros`
    /// where that is off the map: a tile's input patch.
    static func patch<T>(
        _ image: UnsafePointer<T>, shape: InputShape, y0: Int, x0: Int, side: Int, zeros: UnsafePointer<T>,
        into p: inout [UnsafePointer<T>]
    ) {
        let h = shape.height, w = shape.width
        for a in 0..<side {
            for b in 0..<side {
                let y = y0 + a, x = x0 + b
                p[a * side + b] = y < 0 || y >= h || x < 0 || x >= w ? zeros : image + (y * w + x) * shape.channels
            }
        }
    }

    /// `v[t][ξ][k]` = `Bᵀ d B` of each tile's 4×4 input patch of `images` NHWC maps of `shape`; `zeros`: ≥ C zeros.
    static func transformInput<T: NetworkScalar>(
        _ input: UnsafePointer<T>, shape: InputShape, images: Int, zeros: UnsafePointer<T>,
        into v: UnsafeMutablePointer<T>, portable: Bool = false
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if useC(T.self), !portable {
            return lth_winograd_input_avx2(
                float(input), images, h, w, c, float(zeros), mutableFloat(v))
        }
        var r = [T](repeating: 0, count: 16)
        var p = [UnsafePointer<T>](repeating: zeros, count: 16)
        forEachTile(images: images, shape: shape, outputs: 2) { t, i, y0, x0 in
            patch(input + i * h * w * c, shape: shape, y0: y0 - 1, x0: x0 - 1, side: 4, zeros: zeros, into: &p)
            let o = v + t * 16 * c
            for k in 0..<c {
                for b in 0..<4 {
                    let d0 = p[b][k], d1 = p[4 + b][k], d2 = p[8 + b][k], d3 = p[12 + b][k]
                    r[b] = d0 - d2
                    r[4 + b] = d1 + d2
                    r[8 + b] = d2 - d1
                    r[12 + b] = d1 - d3
                }
                for a in 0..<4 {
                    o[(a * 4 + 0) * c + k] = r[a * 4 + 0] - r[a * 4 + 2]
                    o[(a * 4 + 1) * c + k] = r[a * 4 + 1] + r[a * 4 + 2]
                    o[(a * 4 + 2) * c + k] = r[a * 4 + 2] - r[a * 4 + 1]
                    o[(a * 4 + 3) * c + k] = r[a * 4 + 1] - r[a * 4 + 3]
                }
            }
        }
    }

    /// `out[i, 2ty+u, 2tx+v, k] = Aᵀ m A` (+ `bias[k]`, then `max(·, 0)` when `relu`), `m[ξ][t][k]` at
    /// `m + ξ·plane + t·channels + k`. Every position of the maps is written once.
    static func transformOutput<T: NetworkScalar>(
        _ m: UnsafePointer<T>, plane: Int, shape: InputShape, images: Int, bias: UnsafePointer<T>?, relu: Bool,
        into out: UnsafeMutablePointer<T>, portable: Bool = false
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if useC(T.self), !portable {
            return lth_winograd_output_avx2(
                float(m), plane, images, h, w, c, bias.map { float($0) }, relu ? 1 : 0, mutableFloat(out))
        }
        forEachTile(images: images, shape: shape, outputs: 2) { t, i, y0, x0 in
            let q = m + t * c
            let down = y0 + 1 < h, right = x0 + 1 < w
            let o00 = out + ((i * h + y0) * w + x0) * c
            for k in 0..<c {
                var r0: (T, T, T, T) = (0, 0, 0, 0), r1: (T, T, T, T) = (0, 0, 0, 0)
                func column(_ b: Int) -> (T, T) {
                    let m0 = q[b * plane + k], m1 = q[(4 + b) * plane + k]
                    let m2 = q[(8 + b) * plane + k], m3 = q[(12 + b) * plane + k]
                    return (m0 + m1 + m2, m1 - m2 - m3)
                }
                (r0.0, r1.0) = column(0)
                (r0.1, r1.1) = column(1)
                (r0.2, r1.2) = column(2)
                (r0.3, r1.3) = column(3)
                var y = (r0.0 + r0.1 + r0.2, r0.1 - r0.2 - r0.3, r1.0 + r1.1 + r1.2, r1.1 - r1.2 - r1.3)
                if let bias {
                    let b = bias[k]
                    y = (y.0 + b, y.1 + b, y.2 + b, y.3 + b)
                }
                if relu { y = (y.0 > 0 ? y.0 : 0, y.1 > 0 ? y.1 : 0, y.2 > 0 ? y.2 : 0, y.3 > 0 ? y.3 : 0) }
                o00[k] = y.0
                if right { o00[c + k] = y.1 }
                if down { o00[w * c + k] = y.2 }
                if down && right { o00[w * c + c + k] = y.3 }
            }
        }
    }

    /// `y[t][ξ][k]` = `A δ Aᵀ` of each tile's 2×2 output delta (zero off the map): the adjoint of
    /// ``transformOutput(_:plane:shape:images:bias:relu:into:portable:)``.
    static func transformOutputAdjoint<T: NetworkScalar>(
        _ delta: UnsafePointer<T>, shape: InputShape, images: Int, into y: UnsafeMutablePointer<T>,
        portable: Bool = false
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if useC(T.self), !portable {
            return lth_winograd_output_adjoint_avx2(float(delta), images, h, w, c, mutableFloat(y))
        }
        forEachTile(images: images, shape: shape, outputs: 2) { t, i, y0, x0 in
            let down = y0 + 1 < h, right = x0 + 1 < w
            let d00 = delta + ((i * h + y0) * w + x0) * c
            let o = y + t * 16 * c
            for k in 0..<c {
                let e00 = d00[k], e01: T = right ? d00[c + k] : 0
                let e10: T = down ? d00[w * c + k] : 0, e11: T = down && right ? d00[w * c + c + k] : 0
                let rows = (e00 + e10, e01 + e11), third = (e00 - e10, e01 - e11)
                func store(_ a: Int, _ q: (T, T)) {
                    o[(a * 4 + 0) * c + k] = q.0
                    o[(a * 4 + 1) * c + k] = q.0 + q.1
                    o[(a * 4 + 2) * c + k] = q.0 - q.1
                    o[(a * 4 + 3) * c + k] = -q.1
                }
                store(0, (e00, e01))
                store(1, rows)
                store(2, third)
                store(3, (-e10, -e11))
            }
        }
    }

    /// `u[ξ][ci][o]` = `G g Gᵀ` of every kernel of a `[9·cin, cout]` weight matrix (row `(ky·3 + kx)·cin + ci`).
    static func transformWeights<T: NetworkScalar>(
        _ weights: UnsafePointer<T>, inChannels cin: Int, outChannels cout: Int, into u: UnsafeMutablePointer<T>,
        portable: Bool = false
    ) {
        if useC(T.self), !portable {
            return lth_winograd_weights_avx2(float(weights), cin, cout, mutableFloat(u))
        }
        let tap = cin * cout
        for ci in 0..<cin {
            let g = weights + ci * cout, o = u + ci * cout
            for k in 0..<cout {
                func column(_ kx: Int) -> (T, T, T, T) {
                    let g0 = g[kx * tap + k], g1 = g[(3 + kx) * tap + k], g2 = g[(6 + kx) * tap + k]
                    return (g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2)
                }
                let s0 = column(0), s1 = column(1), s2 = column(2)
                func store(_ a: Int, _ r0: T, _ r1: T, _ r2: T) {
                    o[(a * 4 + 0) * tap + k] = r0
                    o[(a * 4 + 1) * tap + k] = (r0 + r1 + r2) * 0.5
                    o[(a * 4 + 2) * tap + k] = (r0 - r1 + r2) * 0.5
                    o[(a * 4 + 3) * tap + k] = r2
                }
                store(0, s0.0, s1.0, s2.0)
                store(1, s0.1, s1.1, s2.1)
                store(2, s0.2, s1.2, s2.2)
                store(3, s0.3, s1.3, s2.3)
            }
        }
    }

    /// `grad` (`[9·cin, cout]`) = `Gᵀ du G` per kernel: the adjoint of
    /// ``transformWeights(_:inChannels:outChannels:into:portable:)``.
    static func transformWeightsAdjoint<T: NetworkScalar>(
        _ du: UnsafePointer<T>, inChannels cin: Int, outChannels cout: Int, into grad: UnsafeMutablePointer<T>,
        portable: Bool = false
    ) {
        if useC(T.self), !portable {
            return lth_winograd_weights_adjoint_avx2(float(du), cin, cout, mutableFloat(grad))
        }
        let tap = cin * cout
        for ci in 0..<cin {
            let d = du + ci * cout, o = grad + ci * cout
            for k in 0..<cout {
                func column(_ b: Int) -> (T, T, T) {
                    let u0 = d[b * tap + k], h1 = d[(4 + b) * tap + k] * 0.5
                    let h2 = d[(8 + b) * tap + k] * 0.5, u3 = d[(12 + b) * tap + k]
                    return (u0 + h1 + h2, h1 - h2, h1 + h2 + u3)
                }
                let q0 = column(0), q1 = column(1), q2 = column(2), q3 = column(3)
                func store(_ ky: Int, _ u0: T, _ r1: T, _ r2: T, _ u3: T) {
                    let h1 = r1 * 0.5, h2 = r2 * 0.5
                    o[(ky * 3 + 0) * tap + k] = u0 + h1 + h2
                    o[(ky * 3 + 1) * tap + k] = h1 - h2
                    o[(ky * 3 + 2) * tap + k] = h1 + h2 + u3
                }
                store(0, q0.0, q1.0, q2.0, q3.0)
                store(1, q0.1, q1.1, q2.1, q3.1)
                store(2, q0.2, q1.2, q2.2, q3.2)
            }
        }
    }

    static func float<T>(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    static func mutableFloat<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
}

/// The Winograd algorithm of a dense 3×3 conv layer: F(2×2, 3×3) (``Winograd``) or F(4×4, 3×3) (``Winograd4``).
/// Both share the layouts above with `points` transform points: `V` `[tiles][points][C]`, `M` `[points][tiles][O]`,
/// `U` `[points][C][O]`. Chosen per layer by ``KernelPolicy/winogradTile(inChannels:height:width:)``.
public enum WinogradTile: Int, Sendable, CaseIterable {
    case f2x2 = 2
    case f4x4 = 4

    /// Outputs per tile side.
    public var outputs: Int { rawValue }
    /// Transform points (the side of a tile's input patch, squared).
    public var points: Int { (rawValue + 2) * (rawValue + 2) }
    /// The name ``KernelPolicy/layerKernels(of:zeroInputs:)`` shows: `winograd2x2` or `winograd4x4`.
    public var name: String { "winograd\(rawValue)x\(rawValue)" }

    /// Tiles of a map.
    public func tiles(_ shape: InputShape) -> Int {
        ((shape.height + rawValue - 1) / rawValue) * ((shape.width + rawValue - 1) / rawValue)
    }

    /// Multiplications per input channel and output channel for one map: tiles × points (im2col: 9 per pixel).
    public func multiplications(_ shape: InputShape) -> Int { tiles(shape) * points }

    func transformInput<T: NetworkScalar>(
        _ input: UnsafePointer<T>, shape: InputShape, images: Int, zeros: UnsafePointer<T>,
        into v: UnsafeMutablePointer<T>, portable: Bool = false
    ) {
        switch self {
        case .f2x2:
            Winograd.transformInput(input, shape: shape, images: images, zeros: zeros, into: v, portable: portable)
        case .f4x4:
            Winograd4.transformInput(input, shape: shape, images: images, zeros: zeros, into: v, portable: portable)
        }
    }

    func transformOutput<T: NetworkScalar>(
        _ m: UnsafePointer<T>, plane: Int, shape: InputShape, images: Int, bias: UnsafePointer<T>?, relu: Bool,
        into out: UnsafeMutablePointer<T>, portable: Bool = false
    ) {
        switch self {
        case .f2x2:
            Winograd.transformOutput(
                m, plane: plane, shape: shape, images: images, bias: bias, relu: relu, into: out, portable: portable)
        case .f4x4:
            Winograd4.transformOutput(
                m, plane: plane, shape: shape, images: images, bias: bias, relu: relu, into: out, portable: portable)
        }
    }

    func transformOutputAdjoint<T: NetworkScalar>(
        _ delta: UnsafePointer<T>, shape: InputShape, images: Int, into y: UnsafeMutablePointer<T>,
        portable: Bool = false
    ) {
        switch self {
        case .f2x2: Winograd.transformOutputAdjoint(delta, shape: shape, images: images, into: y, portable: portable)
        case .f4x4: Winograd4.transformOutputAdjoint(delta, shape: shape, images: images, into: y, portable: portable)
        }
    }

    /// `U` of the kernels, or with `rotated` of the kernels rotated by 180° (F(4×4) only: F(2×2)'s input gradient
    /// permutes `U`'s points instead, ``Winograd/rotated(_:)``).
    func transformWeights<T: NetworkScalar>(
        _ weights: UnsafePointer<T>, inChannels: Int, outChannels: Int, rotated: Bool = false,
        into u: UnsafeMutablePointer<T>, portable: Bool = false
    ) {
        switch self {
        case .f2x2:
            precondition(!rotated, "WinogradTile.f2x2 permutes U for rotated kernels")
            Winograd.transformWeights(
                weights, inChannels: inChannels, outChannels: outChannels, into: u, portable: portable)
        case .f4x4:
            Winograd4.transformWeights(
                weights, inChannels: inChannels, outChannels: outChannels, rotated: rotated, into: u,
                portable: portable)
        }
    }

    func transformWeightsAdjoint<T: NetworkScalar>(
        _ du: UnsafePointer<T>, inChannels: Int, outChannels: Int, into grad: UnsafeMutablePointer<T>,
        portable: Bool = false
    ) {
        switch self {
        case .f2x2:
            Winograd.transformWeightsAdjoint(
                du, inChannels: inChannels, outChannels: outChannels, into: grad, portable: portable)
        case .f4x4:
            Winograd4.transformWeightsAdjoint(
                du, inChannels: inChannels, outChannels: outChannels, into: grad, portable: portable)
        }
    }
}
