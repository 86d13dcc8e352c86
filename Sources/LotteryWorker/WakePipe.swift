import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A self-pipe that wakes the I/O thread's poll when another thread has queued something for it.
///
/// Trial threads never touch the DEALER socket (a libzmq socket belongs to one thread); they append to a
/// locked queue and call ``wake()``, whose byte makes the read end readable in the I/O thread's `zmq_poll`.
/// Both ends are non-blocking: a full pipe already means "wake up", so a failed write is harmless.
final class WakePipe: Sendable {
    let readDescriptor: Int32
    let writeDescriptor: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        let status = pipe(&fds)
        precondition(status == 0, "WakePipe: pipe() failed with errno \(errno)")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        readDescriptor = fds[0]
        writeDescriptor = fds[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Makes the read end readable (from any thread).
    func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Empties the pipe (I/O thread).
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }
}
