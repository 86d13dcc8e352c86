// The 8-column vector loops of SparseNetwork's passes on feature-major rows (`columns` is a multiple of 8): the
// sparse multiply-add and scatter over packed kept weights, dot products, row sums, bias + ReLU and the ReLU mask.
// Each runs in a fixed order, so its result never depends on who calls it.

@inline(__always)
func ld8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func ld8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func st8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// `v > 0 ? v : 0` per lane (the scalar ReLU's exact semantics: −0 and NaN become +0).
@inline(__always)
func relu8(_ v: SIMD8<Float>) -> SIMD8<Float> {
    v.replacing(with: 0, where: .!(v .> 0))
}

/// One output row of a sparse layer: `out = b + Σ_{p in start..<end} values[p] · x[rows[p], :]` in increasing
/// `p`, then ReLU. Columns in register blocks of 32 (then 8), so the accumulators never leave registers.
@inline(__always)
func sparseColumn(
    out: UnsafeMutablePointer<Float>, bias: Float, values: UnsafeMutablePointer<Float>,
    rows: UnsafeMutablePointer<Int32>,
    start: Int, end: Int, x: UnsafePointer<Float>, columns: Int, relu: Bool
) {
    var c = 0
    while c + 32 <= columns {
        var a0 = SIMD8<Float>(repeating: bias), a1 = a0, a2 = a0, a3 = a0
        for p in start..<end {
            let w = SIMD8<Float>(repeating: values[p])
            let src = x + Int(rows[p]) * columns + c
            a0 += w * ld8(src)
            a1 += w * ld8(src + 8)
            a2 += w * ld8(src + 16)
            a3 += w * ld8(src + 24)
        }
        if relu { a0 = relu8(a0); a1 = relu8(a1); a2 = relu8(a2); a3 = relu8(a3) }
        st8(a0, out + c); st8(a1, out + c + 8); st8(a2, out + c + 16); st8(a3, out + c + 24)
        c += 32
    }
    while c < columns {
        var a0 = SIMD8<Float>(repeating: bias)
        for p in start..<end {
            a0 += SIMD8<Float>(repeating: values[p]) * ld8(x + Int(rows[p]) * columns + c)
        }
        st8(relu ? relu8(a0) : a0, out + c)
        c += 8
    }
}

/// `below[rows[p], :] += values[p] · delta` for `p` in `start..<end`, in increasing `p`.
@inline(__always)
func scatterColumn(
    below: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Int32>,
    start: Int, end: Int, delta: UnsafeMutablePointer<Float>, columns: Int
) {
    var c = 0
    while c + 32 <= columns {
        let d0 = ld8(delta + c), d1 = ld8(delta + c + 8), d2 = ld8(delta + c + 16), d3 = ld8(delta + c + 24)
        for p in start..<end {
            let w = SIMD8<Float>(repeating: values[p])
            let dst = below + Int(rows[p]) * columns + c
            st8(ld8(dst) + w * d0, dst)
            st8(ld8(dst + 8) + w * d1, dst + 8)
            st8(ld8(dst + 16) + w * d2, dst + 16)
            st8(ld8(dst + 24) + w * d3, dst + 24)
        }
        c += 32
    }
    while c < columns {
        let d0 = ld8(delta + c)
        for p in start..<end {
            let dst = below + Int(rows[p]) * columns + c
            st8(ld8(dst) + SIMD8<Float>(repeating: values[p]) * d0, dst)
        }
        c += 8
    }
}

/// `⟨a, b⟩` over `columns` floats: two 8-lane partial sums in a fixed order, then their lanes.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, columns: Int) -> Float {
    var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
    var c = 0
    while c + 16 <= columns {
        s0 += ld8(a + c) * ld8(b + c)
        s1 += ld8(a + c + 8) * ld8(b + c + 8)
        c += 16
    }
    if c < columns { s0 += ld8(a + c) * ld8(b + c) }
    return (s0 + s1).sum()
}

/// Sum of `columns` floats (padding columns are 0), in a fixed order.
@inline(__always)
func rowSum(_ a: UnsafeMutablePointer<Float>, columns: Int) -> Float {
    var s = SIMD8<Float>()
    var c = 0
    while c < columns {
        s += ld8(a + c)
        c += 8
    }
    return s.sum()
}

/// `row = relu(row + bias)` (or `row + bias` for logits) over `columns` floats.
@inline(__always)
func biasActivate(_ row: UnsafeMutablePointer<Float>, bias: Float, columns: Int, relu: Bool) {
    let b = SIMD8<Float>(repeating: bias)
    var c = 0
    while c < columns {
        let v = ld8(row + c) + b
        st8(relu ? relu8(v) : v, row + c)
        c += 8
    }
}

/// `delta[i] = act[i] > 0 ? delta[i] : 0` over `count` floats (a multiple of 8).
@inline(__always)
func reluMask(_ delta: UnsafeMutablePointer<Float>, _ act: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i < count {
        st8(ld8(delta + i).replacing(with: 0, where: .!(ld8(act + i) .> 0)), delta + i)
        i += 8
    }
}
