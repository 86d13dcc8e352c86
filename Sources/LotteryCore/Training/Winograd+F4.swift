import CKernels

/// Winograd F(4×4, 3×3): tiles of 4×4 outputs, each reading a 6×6 input patch, 36 transform points (interpolation
/// points 0, 1, −1, 2, −2, ∞; Lavin & Gray 2016). Per output it does 36/16 = 2.25 multiplications per input
/// channel and kernel, against F(2×2, 3×3)'s 4 and im2col's 9. The matrices:
///
///     Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
///     G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]
///     Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
///
/// The 1-D transforms below are the exact operation sequences of the C macros in lth_winograd4.c (same
/// parenthesisation, multiplications by the same constants, no fused multiply-adds), so the portable loops here and
/// the AVX2 loops give the same bits. Unlike F(2×2), rotating a kernel by 180° does not permute `G g Gᵀ`, so the
/// input gradient uses a second transform of the rotated kernels (``transformWeights(_:inChannels:outChannels:rotated:into:portable:)``).
enum Winograd4 {
    typealias Six<T> = (T, T, T, T, T, T)

    /// `Bᵀ d` of a column `d0…d5`.
    @inline(__always)
    static func b6<T: NetworkScalar>(_ d0: T, _ d1: T, _ d2: T, _ d3: T, _ d4: T, _ d5: T) -> Six<T> {
        let t0 = d4 - d2 * 4, t1 = d3 - d1 * 4
        let t2 = d4 - d2, t3 = (d3 - d1) * 2
        return ((d0 * 4 - d2 * 5) + d4, t0 + t1, t0 - t1, t2 + t3, t2 - t3, (d1 * 4 - d3 * 5) + d5)
    }

    /// `Aᵀ m` of a column `m0…m5`.
    @inline(__always)
    static func a6<T: NetworkScalar>(_ m0: T, _ m1: T, _ m2: T, _ m3: T, _ m4: T, _ m5: T) -> (T, T, T, T) {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        return ((m0 + a) + c, b + d * 2, a + c * 4, (b + d * 8) + m5)
    }

    /// `A e` of a column `e0…e3` (the adjoint of ``a6(_:_:_:_:_:_:)``).
    @inline(__always)
    static func at6<T: NetworkScalar>(_ e0: T, _ e1: T, _ e2: T, _ e3: T) -> Six<T> {
        let p = e0 + e2, q = e1 + e3
        let r = e0 + e2 * 4, s = e1 * 2 + e3 * 8
        return (e0, p + q, p - q, r + s, r - s, e3)
    }

    /// `G g` of a kernel column `g0…g2`.
    @inline(__always)
    static func g6<T: NetworkScalar>(_ g0: T, _ g1: T, _ g2: T) -> Six<T> {
        let sixth = T(1) / T(6)
        let a = g0 + g2, p = g0 * (T(1) / T(24)) + g2 * sixth, q = g1 * (T(1) / T(12))
        return (g0 * T(0.25), (a + g1) * -sixth, (a - g1) * -sixth, p + q, p - q, g2)
    }

    /// `Gᵀ u` of a column `u0…u5` (the adjoint of ``g6(_:_:_:)``).
    @inline(__always)
    static func gt6<T: NetworkScalar>(_ u0: T, _ u1: T, _ u2: T, _ u3: T, _ u4: T, _ u5: T) -> (T, T, T) {
        let sixth = T(1) / T(6)
        let a = u1 + u2, b = u1 - u2, c = u3 + u4, d = u3 - u4
        return ((u0 * T(0.25) - a * sixth) + c * (T(1) / T(24)), d * (T(1) / T(12)) - b * sixth, (c - a) * sixth + u5)
    }

    @inline(__always)
    static func store<T>(_ v: Six<T>, _ o: UnsafeMutablePointer<T>, stride: Int) {
        o[0] = v.0
        o[stride] = v.1
        o[2 * stride] = v.2
        o[3 * stride] = v.3
        o[4 * stride] = v.4
        o[5 * stride] = v.5
    }

    static func transformInput<T: NetworkScalar>(
        _ input: UnsafePointer<T>, shape: InputShape, images: Int, zeros: UnsafePointer<T>,
        into v: UnsafeMutablePointer<T>, portable: Bool
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if Winograd.useC(T.self), !portable {
            return lth_winograd4_input_avx2(
                Winograd.float(input), images, h, w, c, Winograd.float(zeros), Winograd.mutableFloat(v))
        }
        let r = UnsafeMutablePointer<T>.allocate(capacity: 36)
        defer { r.deallocate() }
        var p = [UnsafePointer<T>](repeating: zeros, count: 36)
        Winograd.forEachTile(images: images, shape: shape, outputs: 4) { t, i, y0, x0 in
            Winograd.patch(input + i * h * w * c, shape: shape, y0: y0 - 1, x0: x0 - 1, side: 6, zeros: zeros, into: &p)
            let o = v + t * 36 * c
            for k in 0..<c {
                for b in 0..<6 {
                    store(b6(p[b][k], p[6 + b][k], p[12 + b][k], p[18 + b][k], p[24 + b][k], p[30 + b][k]),
                          r + b, stride: 6)
                }
                for a in 0..<6 {
                    let q = r + 6 * a
                    store(b6(q[0], q[1], q[2], q[3], q[4], q[5]), o + a * 6 * c + k, stride: c)
                }
            }
        }
    }

    static func transformOutput<T: NetworkScalar>(
        _ m: UnsafePointer<T>, plane: Int, shape: InputShape, images: Int, bias: UnsafePointer<T>?, relu: Bool,
        into out: UnsafeMutablePointer<T>, portable: Bool
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if Winograd.useC(T.self), !portable {
            return lth_winograd4_output_avx2(
                Winograd.float(m), plane, images, h, w, c, bias.map { Winograd.float($0) }, relu ? 1 : 0,
                Winograd.mutableFloat(out))
        }
        let s = UnsafeMutablePointer<T>.allocate(capacity: 24)
        defer { s.deallocate() }
        Winograd.forEachTile(images: images, shape: shape, outputs: 4) { t, i, y0, x0 in
            let q = m + t * c, rows = min(4, h - y0), cols = min(4, w - x0)
            let o00 = out + ((i * h + y0) * w + x0) * c
            for k in 0..<c {
                for b in 0..<6 {
                    func at(_ a: Int) -> T { q[(a * 6 + b) * plane + k] }
                    let y = a6(at(0), at(1), at(2), at(3), at(4), at(5))
                    (s[b], s[6 + b], s[12 + b], s[18 + b]) = y
                }
                for u in 0..<rows {
                    let row = s + 6 * u
                    let y = a6(row[0], row[1], row[2], row[3], row[4], row[5])
                    for x in 0..<cols {
                        var value = x == 0 ? y.0 : x == 1 ? y.1 : x == 2 ? y.2 : y.3
                        if let bias { value = value + bias[k] }
                        if relu { value = value > 0 ? value : 0 }
                        o00[(u * w + x) * c + k] = value
                    }
                }
            }
        }
    }

    static func transformOutputAdjoint<T: NetworkScalar>(
        _ delta: UnsafePointer<T>, shape: InputShape, images: Int, into y: UnsafeMutablePointer<T>, portable: Bool
    ) {
        let h = shape.height, w = shape.width, c = shape.channels
        if Winograd.useC(T.self), !portable {
            return lth_winograd4_output_adjoint_avx2(Winograd.float(delta), images, h, w, c, Winograd.mutableFloat(y))
        }
        let q = UnsafeMutablePointer<T>.allocate(capacity: 24)
        defer { q.deallocate() }
        Winograd.forEachTile(images: images, shape: shape, outputs: 4) { t, i, y0, x0 in
            let rows = min(4, h - y0), cols = min(4, w - x0)
            let d00 = delta + ((i * h + y0) * w + x0) * c
            let o = y + t * 36 * c
            for k in 0..<c {
                func e(_ u: Int, _ x: Int) -> T { u < rows && x < cols ? d00[(u * w + x) * c + k] : 0 }
                for x in 0..<4 { store(at6(e(0, x), e(1, x), e(2, x), e(3, x)), q + x, stride: 4) }
                for a in 0..<6 {
                    let row = q + 4 * a
                    store(at6(row[0], row[1], row[2], row[3]), o + a * 6 * c + k, stride: c)
                }
            }
        }
    }

    /// `u[ξ][ci][o]` = `G g Gᵀ` of every kernel of a `[9·cin, cout]` weight matrix, or with `rotated` of every
    /// kernel rotated by 180° (tap `8 − t` for tap `t`).
    static func transformWeights<T: NetworkScalar>(
        _ weights: UnsafePointer<T>, inChannels cin: Int, outChannels cout: Int, rotated: Bool,
        into u: UnsafeMutablePointer<T>, portable: Bool
    ) {
        if Winograd.useC(T.self), !portable {
            return lth_winograd4_weights_avx2(
                Winograd.float(weights), cin, cout, rotated ? 1 : 0, Winograd.mutableFloat(u))
        }
        let tap = cin * cout
        let s = UnsafeMutablePointer<T>.allocate(capacity: 18)
        defer { s.deallocate() }
        for ci in 0..<cin {
            let g = weights + ci * cout, o = u + ci * cout
            for k in 0..<cout {
                func at(_ ky: Int, _ kx: Int) -> T { g[(rotated ? 8 - (ky * 3 + kx) : ky * 3 + kx) * tap + k] }
                for kx in 0..<3 { store(g6(at(0, kx), at(1, kx), at(2, kx)), s + kx, stride: 3) }
                for a in 0..<6 {
                    let row = s + 3 * a
                    store(g6(row[0], row[1], row[2]), o + a * 6 * tap + k, stride: tap)
                }
            }
        }
    }

    static func transformWeightsAdjoint<T: NetworkScalar>(
        _ du: UnsafePointer<T>, inChannels cin: Int, outChannels cout: Int, into grad: UnsafeMutablePointer<T>,
        portable: Bool
    ) {
        if Winograd.useC(T.self), !portable {
            return lth_winograd4_weights_adjoint_avx2(Winograd.float(du), cin, cout, Winograd.mutableFloat(grad))
        }
        let tap = cin * cout
        let q = UnsafeMutablePointer<T>.allocate(capacity: 18)
        defer { q.deallocate() }
        for ci in 0..<cin {
            let d = du + ci * cout, o = grad + ci * cout
            for k in 0..<cout {
                for b in 0..<6 {
                    func at(_ a: Int) -> T { d[(a * 6 + b) * tap + k] }
                    (q[b], q[6 + b], q[12 + b]) = gt6(at(0), at(1), at(2), at(3), at(4), at(5))
                }
                for ky in 0..<3 {
                    let row = q + 6 * ky
                    (o[(ky * 3) * tap + k], o[(ky * 3 + 1) * tap + k], o[(ky * 3 + 2) * tap + k]) =
                        gt6(row[0], row[1], row[2], row[3], row[4], row[5])
                }
            }
        }
    }
}

/// The per-point products of Winograd F(4×4) layers: `C (+)= A·B`, `A` read in place through two strides (the
/// tile-major transformed tiles need no packing), `B` row-major (`U` and the transformed deltas are). Each element
/// is one fused multiply-add chain over `p = 0..<k` from +0, then stored or added to `C` — in CKernels' AVX-512 and
/// AVX2 versions (lth_wgemm.c) and in the portable loop here alike, so the bits do not depend on the CPU.
enum WinogradGEMM {
    /// `c[i·ci + j] (+)= Σ_p a[i·ai + p·ak] · b[p·bk + j]` for `i < m`, `j < n`.
    static func product<T: NetworkScalar>(
        m: Int, n: Int, k: Int, a: UnsafePointer<T>, ai: Int, ak: Int, b: UnsafePointer<T>, bk: Int,
        c: UnsafeMutablePointer<T>, ci: Int, accumulate: Bool
    ) {
        if T.self == Float.self, CPUKernels.fmaLevel != .portable {
            let kernel = CPUKernels.fmaLevel == .avx512 ? lth_wgemm_avx512 : lth_wgemm_avx2
            return kernel(
                m, n, k, Winograd.float(a), ai, ak, Winograd.float(b), bk, Winograd.mutableFloat(c), ci,
                accumulate ? 1 : 0)
        }
        for i in 0..<m {
            let row = c + i * ci, x = a + i * ai
            for j in 0..<n {
                var acc: T = 0
                for p in 0..<k { acc = acc.addingProduct(x[p * ak], b[p * bk + j]) }
                row[j] = accumulate ? row[j] + acc : acc
            }
        }
    }
}
