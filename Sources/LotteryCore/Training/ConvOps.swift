import CKernels

/// The per-chunk operations of ``ConvNetwork`` on NHWC maps: im2col and its adjoint, max-pool and its gradient,
/// bias + ReLU, column sums. Each runs in a fixed order, so its result never depends on who calls it.

/// `col[(i, y, x), (ky, kx, c)] = input[i, y + ky − 1, x + kx − 1, c]`, 0 off the map.
func im2col<T: NetworkScalar>(
    _ input: UnsafePointer<T>, shape: InputShape, images: Int, into col: UnsafeMutablePointer<T>
) {
    let h = shape.height, w = shape.width, c = shape.channels
    let rowWidth = 9 * c
    for i in 0..<images {
        let image = input + i * shape.features
        for y in 0..<h {
            for x in 0..<w {
                let row = col + ((i * h + y) * w + x) * rowWidth
                let interior = x > 0 && x < w - 1
                for ky in 0..<3 {
                    let sy = y + ky - 1
                    if interior && sy >= 0 && sy < h {
                        // The three taps of this row are three neighbouring pixels: one contiguous run of 3C.
                        (row + ky * 3 * c).update(from: image + (sy * w + x - 1) * c, count: 3 * c)
                        continue
                    }
                    for kx in 0..<3 {
                        let sx = x + kx - 1
                        let target = row + (ky * 3 + kx) * c
                        if sy < 0 || sy >= h || sx < 0 || sx >= w {
                            target.update(repeating: 0, count: c)
                        } else {
                            target.update(from: image + (sy * w + sx) * c, count: c)
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of ``im2col(_:shape:images:into:)``: `grad[i, y + ky − 1, x + kx − 1, c] += dcol[(i, y, x), (ky,
/// kx, c)]`, summed in a fixed order (positions row-major, then ky, kx), over a zeroed `grad`.
func col2im<T: NetworkScalar>(
    _ dcol: UnsafePointer<T>, shape: InputShape, images: Int, into grad: UnsafeMutablePointer<T>
) {
    let h = shape.height, w = shape.width, c = shape.channels
    let rowWidth = 9 * c
    grad.update(repeating: 0, count: images * shape.features)
    for i in 0..<images {
        let image = grad + i * shape.features
        for y in 0..<h {
            for x in 0..<w {
                let row = dcol + ((i * h + y) * w + x) * rowWidth
                let interior = x > 0 && x < w - 1
                for ky in 0..<3 {
                    let sy = y + ky - 1
                    if sy < 0 || sy >= h { continue }
                    if interior {
                        // Three neighbouring pixels, each target element still gets its one term of this (y, x, ky).
                        let source = row + ky * 3 * c
                        let target = image + (sy * w + x - 1) * c
                        for j in 0..<(3 * c) { target[j] += source[j] }
                        continue
                    }
                    for kx in 0..<3 {
                        let sx = x + kx - 1
                        if sx < 0 || sx >= w { continue }
                        let source = row + (ky * 3 + kx) * c
                        let target = image + (sy * w + sx) * c
                        for ch in 0..<c { target[ch] += source[ch] }
                    }
                }
            }
        }
    }
}

/// 2×2 max-pool, stride 2, of NHWC maps; ties keep the first window slot (row-major).
func maxPool<T: NetworkScalar>(
    _ input: UnsafePointer<T>, shape: InputShape, images: Int, into output: UnsafeMutablePointer<T>,
    argmax: UnsafeMutablePointer<UInt8>
) {
    let h = shape.height, w = shape.width, c = shape.channels
    let oh = h / 2, ow = w / 2
    for i in 0..<images {
        let image = input + i * shape.features
        let out = output + i * oh * ow * c
        let arg = argmax + i * oh * ow * c
        for y in 0..<oh {
            for x in 0..<ow {
                let p00 = image + ((2 * y) * w + 2 * x) * c
                let p01 = p00 + c, p10 = p00 + w * c, p11 = p10 + c
                let o = out + (y * ow + x) * c, a = arg + (y * ow + x) * c
                for ch in 0..<c {
                    var best = p00[ch]
                    var slot: UInt8 = 0
                    if p01[ch] > best { best = p01[ch]; slot = 1 }
                    if p10[ch] > best { best = p10[ch]; slot = 2 }
                    if p11[ch] > best { best = p11[ch]; slot = 3 }
                    o[ch] = best
                    a[ch] = slot
                }
            }
        }
    }
}

/// The gradient of ``maxPool(_:shape:images:into:argmax:)``: each output's gradient to its window's maximum,
/// zero elsewhere (also in a row or column an odd side dropped).
func unpool<T: NetworkScalar>(
    _ grad: UnsafePointer<T>, argmax: UnsafePointer<UInt8>, shape: InputShape, images: Int,
    into inputGrad: UnsafeMutablePointer<T>
) {
    let h = shape.height, w = shape.width, c = shape.channels
    let oh = h / 2, ow = w / 2
    // Each window's four positions are written once (the maximum's gradient or +0), branch-free; only a row or
    // column an odd side dropped is zeroed separately.
    if h % 2 == 1 || w % 2 == 1 { inputGrad.update(repeating: 0, count: images * shape.features) }
    if T.self == Float.self, CPUKernels.avx2 {
        return lth_unpool_avx2(
            UnsafeRawPointer(grad).assumingMemoryBound(to: Float.self), argmax, images, h, w, c,
            UnsafeMutableRawPointer(inputGrad).assumingMemoryBound(to: Float.self))
    }
    for i in 0..<images {
        let image = inputGrad + i * shape.features
        let g = grad + i * oh * ow * c
        let arg = argmax + i * oh * ow * c
        for y in 0..<oh {
            for x in 0..<ow {
                let p0 = image + ((2 * y) * w + 2 * x) * c, p1 = p0 + c, p2 = p0 + w * c, p3 = p2 + c
                let gw = g + (y * ow + x) * c, aw = arg + (y * ow + x) * c
                for ch in 0..<c {
                    let v = gw[ch], a = aw[ch]
                    p0[ch] = a == 0 ? v : 0
                    p1[ch] = a == 1 ? v : 0
                    p2[ch] = a == 2 ? v : 0
                    p3[ch] = a == 3 ? v : 0
                }
            }
        }
    }
}

/// `out[r, j] += bias[j]`, then ReLU when `relu` (AVX2 for Float, the same bits as the portable loop).
func biasReLU<T: NetworkScalar>(
    _ out: UnsafeMutablePointer<T>, bias: UnsafePointer<T>, rows: Int, columns n: Int, relu: Bool
) {
    if T.self == Float.self, CPUKernels.avx2 {
        lth_bias_activate_avx2(
            UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self),
            UnsafeRawPointer(bias).assumingMemoryBound(to: Float.self), rows, n, relu ? 1 : 0)
        return
    }
    for r in 0..<rows {
        let row = out + r * n
        if relu {
            for j in 0..<n { let v = row[j] + bias[j]; row[j] = v > 0 ? v : 0 }
        } else {
            for j in 0..<n { row[j] += bias[j] }
        }
    }
}

/// `sums[j] = Σ_r m[r, j]`, rows in order.
func columnSums<T: NetworkScalar>(_ m: UnsafePointer<T>, rows: Int, columns n: Int, into sums: UnsafeMutablePointer<T>)
{
    for j in 0..<n { sums[j] = rows > 0 ? m[j] : 0 }
    for r in 1..<max(rows, 1) {
        let row = m + r * n
        for j in 0..<n { sums[j] += row[j] }
    }
}
