import CKernels
import Foundation

/// Whether the element-wise loops run CKernels' AVX2 versions: the CPU has AVX2 and `LTH_PORTABLE_KERNELS` is not
/// set. Both versions do the same IEEE operations in the same order, so they give the same bits (KernelBitsTests
/// checks that); the portable Swift loops stay for CPUs without AVX2 and for that test.
enum CPUKernels {
    static let avx2 = lth_has_avx2() != 0 && ProcessInfo.processInfo.environment["LTH_PORTABLE_KERNELS"] == nil

    enum Level { case portable, avx2, avx512 }

    /// The widest vector kernels for loops of fused multiply-adds (the sparse convolution, the products of
    /// Winograd F(4×4) layers): CKernels' AVX-512 or AVX2 + FMA ones, or the portable Swift loops. All three give
    /// the same bits. `LTH_PORTABLE_KERNELS` forces the portable loops, and `LTH_NO_AVX512_KERNELS` the AVX2 ones
    /// on an AVX-512 CPU (for the tests that compare them).
    static let fmaLevel: Level = {
        guard avx2, lth_has_avx2_fma() != 0 else { return .portable }
        if lth_has_avx512f() != 0, ProcessInfo.processInfo.environment["LTH_NO_AVX512_KERNELS"] == nil {
            return .avx512
        }
        return .avx2
    }()
}
