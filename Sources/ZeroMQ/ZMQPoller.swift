internal import CZeroMQ

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Waits until one of several sockets (or plain file descriptors) has a message to read (`zmq_poll`).
///
/// Sockets are `~Copyable`, so the poller does not own them: ``add(_:)`` borrows a socket just long
/// enough to record its libzmq handle. Every added socket must outlive the poller's use and stay in
/// the poller's thread; build the poller where the sockets live, e.g. at the top of the I/O loop:
///
/// ```swift
/// var poller = ZMQPoller()
/// let routerIndex = poller.add(router)
/// let controlIndex = poller.add(control)
/// while true {
///     let ready = try poller.poll(timeoutMilliseconds: 1000)
///     if ready.contains(routerIndex) { … try router.receiveWithMetadata() … }
/// }
/// ```
public struct ZMQPoller {
    private var items: [zmq_pollitem_t] = []

    public init() {}

    /// Watches `socket` for readability; returns its index in ``poll(timeoutMilliseconds:)`` results.
    public mutating func add(_ socket: borrowing ZMQSocket) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
        return items.count - 1
    }

    /// Watches a plain file descriptor (a pipe, a TCP socket of your own) for readability.
    public mutating func add(fileDescriptor: Int32) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: Int16(ZMQ_POLLIN), revents: 0))
        return items.count - 1
    }

    /// The number of watched items.
    public var count: Int { items.count }

    /// Waits until at least one item is readable or `timeoutMilliseconds` passed.
    ///
    /// - Parameter timeoutMilliseconds: 0 checks and returns, a negative value waits forever.
    /// - Returns: the indices of the readable items, ascending; empty on timeout.
    /// - Throws: ``ZMQError`` (`.terminated` after context shutdown).
    public func poll(timeoutMilliseconds: Int) throws -> [Int] {
        var items = self.items
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        var timeout = timeoutMilliseconds
        while true {
            let count = zmq_poll(&items, Int32(items.count), timeout < 0 ? -1 : timeout)
            if count >= 0 {
                return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
            }
            let error = ZMQError.last("zmq_poll(\(items.count) items)")
            guard error.code == EINTR else { throw error }
            if timeout >= 0 { timeout = deadline.remaining }
        }
    }
}
