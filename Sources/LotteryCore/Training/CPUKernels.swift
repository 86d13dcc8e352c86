import CKernels
import Foundation

/// Whether the element-wise loops run CKernels' AVX2 versions: the CPU has AVX2 and `LTH_PORTABLE_KERNELS` is not
/// set. Both versions do the same IEEE operations in the same order, so they give the same bits (KernelBitsTests
/// checks that); the portable Swift loops stay for CPUs without AVX2 and for that test.
enum CPUKernels {
    static let avx2 = lth_has_avx2() != 0 && ProcessInfo.processInfo.environment["LTH_PORTABLE_KERNELS"] == nil
}
