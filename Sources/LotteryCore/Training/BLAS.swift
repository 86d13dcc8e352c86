internal import CBLAS
import CKernels
import Foundation

/// Process-wide OpenBLAS settings.
///
/// The training core keeps OpenBLAS to one thread per process by default: a worker runs one trial per
/// core, and a single-threaded sgemm is also what makes results bit-identical run after run.
public enum BLAS {
    /// Applies the default (one thread) once, the first time any training code runs.
    static let configured: Void = { openblas_set_num_threads(1) }()

    /// Sets the number of OpenBLAS threads for this process (default 1).
    ///
    /// More than one thread may change the summation order inside sgemm, so results are only
    /// reproducible at a fixed thread count.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "BLAS.setThreads: need at least one thread, got \(n)")
        _ = configured
        openblas_set_num_threads(Int32(n))
    }

    /// The kernel family OpenBLAS picked for this CPU at load time (e.g. `Haswell`, `Zen`, `SkylakeX`, `Cooperlake`).
    ///
    /// A `DYNAMIC_ARCH` OpenBLAS chooses it from the CPU, or from the environment variable `OPENBLAS_CORETYPE`
    /// when set; different kernels round differently, so workers that should give identical bits must run the
    /// same one. On AMD Zen 4 the default choice is the AVX2 `Zen`/Haswell kernel; `OPENBLAS_CORETYPE=SkylakeX`
    /// selects the AVX-512 kernels, about twice as fast for our shapes (docs/performance.md).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS kernel families that use AVX2 or AVX-512 (what a `DYNAMIC_ARCH` build picks on a CPU it knows).
    static let modernCores: Set<String> = [
        "Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Neoversen1", "Neoversen2", "Neoversev1",
    ]

    /// The kernel family to ask OpenBLAS for (`OPENBLAS_CORETYPE`) when it did not recognise this CPU: `SkylakeX`
    /// on a CPU with AVX-512, `Haswell` on one with AVX2; `nil` when OpenBLAS already runs AVX2 or AVX-512
    /// kernels, or the CPU has neither.
    ///
    /// An OpenBLAS older than the CPU (Debian 12's 0.3.21 on Intel's Emerald Rapids, family 6 model 207) falls
    /// back to its SSE3 `Prescott` kernels, 2–3× slower than the ones the CPU can run. The executables restart
    /// themselves once with the variable set (``LotteryCLI``), so every worker on the same CPU kind runs the same
    /// kernels, as determinism needs.
    public static var preferredCoreType: String? {
        guard !modernCores.contains(coreName) else { return nil }
        if lth_has_avx512() != 0 { return "SkylakeX" }
        if lth_has_avx2() != 0 { return "Haswell" }
        return nil
    }

    /// The current OpenBLAS thread count.
    public static var threads: Int {
        _ = configured
        return Int(openblas_get_num_threads())
    }
}

/// The element types the network kernels run in: `Float` for training, `Double` for the gradient check.
///
/// Internal: the same generic forward/backward code is specialised for both, so the Double gradient check
/// exercises exactly the code that trains.
protocol NetworkScalar: BinaryFloatingPoint, Sendable {
    /// `C = alpha · op(A) · op(B) + beta · C`, row-major, `op(A)` is `m × k`, `op(B)` is `k × n`.
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    )
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
}

extension Float: NetworkScalar {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    static func exponential(_ x: Float) -> Float { Foundation.exp(x) }
    static func logarithm(_ x: Float) -> Float { Foundation.log(x) }
}

extension Double: NetworkScalar {
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    static func exponential(_ x: Double) -> Double { Foundation.exp(x) }
    static func logarithm(_ x: Double) -> Double { Foundation.log(x) }
}
