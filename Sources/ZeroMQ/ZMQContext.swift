internal import CZeroMQ

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A libzmq context: the I/O threads and the `inproc://` namespace that sockets share.
///
/// Thread-safety: a context may be shared by any number of threads. That is why it is
/// `@unchecked Sendable`: libzmq documents `zmq_ctx_*` calls as thread-safe, and this class has
/// no mutable Swift state of its own (the handle is a `let`).
///
/// Shutdown order (never hangs):
/// 1. Every ``ZMQSocket`` is created with `ZMQ_LINGER` 0, so closing it drops unsent messages
///    instead of waiting for peers that may never come.
/// 2. Call ``shutdown()`` from any thread: every blocking call on every socket of this context
///    returns ``ZMQError/Kind-swift.enum/terminated`` and any new call fails the same way.
/// 3. Each owning thread sees `.terminated`, leaves its loop and closes (drops) its socket.
/// 4. Every socket keeps its context alive, so `zmq_ctx_term` runs in `deinit` only after the
///    last socket is closed, where it returns at once.
public final class ZMQContext: @unchecked Sendable {
    /// The `void *` from `zmq_ctx_new`; valid until `deinit`.
    let handle: UnsafeMutableRawPointer

    /// Creates a context with libzmq's defaults (one I/O thread).
    ///
    /// - Throws: ``ZMQError`` if libzmq cannot create one (e.g. out of file descriptors).
    public init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    /// Makes every blocking call on this context's sockets return `.terminated`, now and later.
    ///
    /// Safe to call from any thread, any number of times. Sockets must still be closed by their
    /// owners; the context itself is terminated when the last reference (including sockets') goes.
    public func shutdown() {
        // Only EFAULT (invalid context) is possible, which cannot happen for a live handle.
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // All sockets hold a strong reference to us, so none is open now: zmq_ctx_term does not block
        // (LINGER is 0 unless a caller raised it). Retry on EINTR as libzmq's docs ask.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// The version of the libzmq library loaded at run time, e.g. `(4, 3, 4)`.
public var zmqVersion: (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0
    var minor: Int32 = 0
    var patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}

/// Whether libzmq was built with a capability, e.g. `"curve"` (needs libsodium) or `"ipc"`.
public func zmqHas(_ capability: String) -> Bool {
    zmq_has(capability) != 0
}
