import Foundation

/// Runs the executable on the OpenBLAS kernels its CPU can use: when OpenBLAS did not recognise the CPU and fell
/// back to old kernels (``preferred`` is what LotteryCore's `BLAS.preferredCoreType` says), the process execs
/// itself again, once, with `OPENBLAS_CORETYPE` set. OpenBLAS reads that variable when it loads, so there is no
/// other way to switch. A variable the user set is always left alone.
public enum BLASCore {
    /// Restarts the process with `OPENBLAS_CORETYPE=preferred` if that is needed and not done yet; returns only
    /// when no restart happens (or `execv` failed, in which case the program goes on with the slower kernels).
    public static func restartIfNeeded(preferred: String?) {
        guard let preferred, getenv("OPENBLAS_CORETYPE") == nil, getenv("LTH_BLAS_RESTARTED") == nil else { return }
        setenv("OPENBLAS_CORETYPE", preferred, 1)
        setenv("LTH_BLAS_RESTARTED", "1", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returned: keep running as we are.
        for p in argv { free(p) }
    }
}
