import CKernels
import LotteryCore
import Testing

/// The products of Winograd F(4×4) layers (lth_wgemm.c): each element one fused multiply-add chain over k from +0,
/// then stored or added, in the AVX-512 and AVX2 versions alike, so they equal a scalar chain bit for bit — on
/// shapes that exercise every full block, every row remainder and every column tail, with the three stride
/// patterns the layers use.
@Suite("Winograd products")
struct WinogradGEMMTests {
    typealias Kernel = (Int, Int, Int, UnsafePointer<Float>?, Int, Int, UnsafePointer<Float>?, Int,
                        UnsafeMutablePointer<Float>?, Int, Int32) -> Void

    /// The kernels this CPU can run, named; the ones it cannot are reported, not silently dropped.
    static func kernels() -> [(String, Kernel)] {
        var found: [(String, Kernel)] = []
        if lth_has_avx512f() != 0 { found.append(("avx512", lth_wgemm_avx512)) } else {
            print("WinogradGEMMTests: this CPU has no AVX-512F; its kernel is not compared here")
        }
        if lth_has_avx2_fma() != 0 { found.append(("avx2", lth_wgemm_avx2)) } else {
            print("WinogradGEMMTests: this CPU has no AVX2 + FMA; its kernel is not compared here")
        }
        return found
    }

    @Test func everyKernelEqualsTheScalarChainBitForBit() {
        let kernels = Self.kernels()
        #expect(!kernels.isEmpty || lth_has_avx2_fma() == 0, "no kernel to compare on a CPU that has one")
        var rng = LotteryRNG(seed: 42)
        func value() -> Float { Float(rng.uniform() * 2 - 1) }
        var compared = 0
        for (m, n, k) in [(1, 1, 1), (5, 8, 3), (12, 32, 20), (13, 33, 7), (25, 47, 16), (7, 64, 9), (30, 71, 40)] {
            // Strides: forward-like (rows far apart, k contiguous), weight-gradient-like (rows contiguous, k far
            // apart), with padding so that nothing outside the matrices is read or written unnoticed.
            for (ai, ak) in [(3 * k + 5, 1), (1, 2 * m + 3)] {
                let a = (0..<(m * ai + k * ak + 8)).map { _ in value() }
                let bk = n + 3
                let b = (0..<(k * bk + 8)).map { _ in value() }
                let ci = n + 2
                let start = (0..<(m * ci)).map { _ in value() }
                for accumulate in [false, true] {
                    var expected = start
                    for i in 0..<m {
                        for j in 0..<n {
                            var acc: Float = 0
                            for p in 0..<k { acc = acc.addingProduct(a[i * ai + p * ak], b[p * bk + j]) }
                            expected[i * ci + j] = accumulate ? start[i * ci + j] + acc : acc
                        }
                    }
                    for (name, kernel) in kernels {
                        var c = start
                        a.withUnsafeBufferPointer { a in
                            b.withUnsafeBufferPointer { b in
                                c.withUnsafeMutableBufferPointer { c in
                                    kernel(m, n, k, a.baseAddress, ai, ak, b.baseAddress, bk, c.baseAddress, ci,
                                           accumulate ? 1 : 0)
                                }
                            }
                        }
                        #expect(c.map(\.bitPattern) == expected.map(\.bitPattern),
                                "\(name) m \(m) n \(n) k \(k) ai \(ai) ak \(ak) accumulate \(accumulate)")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared == 7 * 2 * 2 * kernels.count)
    }
}

