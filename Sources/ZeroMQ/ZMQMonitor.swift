internal import CZeroMQ
internal import Foundation

/// One connection event of a monitored socket (`zmq_socket_monitor`), e.g. for logging disconnects.
public struct ZMQMonitorEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        case connected, connectDelayed, connectRetried, listening, bindFailed, accepted, acceptFailed
        case closed, closeFailed, disconnected, monitorStopped
        case handshakeFailedNoDetail, handshakeSucceeded, handshakeFailedProtocol, handshakeFailedAuth
        /// An event this wrapper does not name, with libzmq's number.
        case other(UInt16)

        init(_ raw: UInt16) {
            switch Int32(raw) {
            case ZMQ_EVENT_CONNECTED: self = .connected
            case ZMQ_EVENT_CONNECT_DELAYED: self = .connectDelayed
            case ZMQ_EVENT_CONNECT_RETRIED: self = .connectRetried
            case ZMQ_EVENT_LISTENING: self = .listening
            case ZMQ_EVENT_BIND_FAILED: self = .bindFailed
            case ZMQ_EVENT_ACCEPTED: self = .accepted
            case ZMQ_EVENT_ACCEPT_FAILED: self = .acceptFailed
            case ZMQ_EVENT_CLOSED: self = .closed
            case ZMQ_EVENT_CLOSE_FAILED: self = .closeFailed
            case ZMQ_EVENT_DISCONNECTED: self = .disconnected
            case ZMQ_EVENT_MONITOR_STOPPED: self = .monitorStopped
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: self = .handshakeFailedNoDetail
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: self = .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: self = .handshakeFailedProtocol
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: self = .handshakeFailedAuth
            default: self = .other(raw)
            }
        }
    }

    public var kind: Kind
    /// The event's value: a file descriptor, an errno, a retry interval or a ZAP status, by kind.
    public var value: UInt32
    /// The endpoint the event is about, e.g. `tcp://127.0.0.1:41234`.
    public var endpoint: String

    public var description: String { "\(kind) \(endpoint) (\(value))" }
}

/// Receives the connection events of one socket. Owned by the thread that owns that socket.
///
/// Create it with ``ZMQSocket/monitor()``; poll it with `ZMQPoller.add(_:)` or read
/// it with ``nextEvent(timeoutMilliseconds:)``. It ends (``ZMQMonitorEvent/Kind-swift.enum/monitorStopped``)
/// when the monitored socket closes.
public struct ZMQMonitor: ~Copyable {
    let socket: ZMQSocket

    /// The next event, or `nil` if none came within `timeoutMilliseconds` (negative: wait forever).
    ///
    /// - Throws: ``ZMQError`` (`.terminated` after context shutdown).
    public func nextEvent(timeoutMilliseconds: Int) throws -> ZMQMonitorEvent? {
        while let frames = try socket.receive(timeoutMilliseconds: timeoutMilliseconds) {
            guard frames.count == 2, frames[0].count == 6 else { continue }  // not a v1 event: skip
            // Frame 1: uint16 event, uint32 value, in host byte order.
            let (event, value) = frames[0].withUnsafeBytes {
                ($0.loadUnaligned(as: UInt16.self), $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            }
            return ZMQMonitorEvent(
                kind: .init(event), value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
        }
        return nil
    }
}

extension ZMQSocket {
    /// Starts reporting this socket's connection events (all of them) to the returned monitor.
    ///
    /// The monitor belongs to this socket's thread; only one monitor per socket.
    /// - Throws: ``ZMQError``.
    public func monitor() throws -> ZMQMonitor {
        let endpoint = "inproc://zeromq.monitor.\(UUID().uuidString)"
        try check(zmq_socket_monitor(handle, endpoint, ZMQ_EVENT_ALL), "zmq_socket_monitor(\(endpoint))")
        let pair = try ZMQSocket(context, type: .pair)
        try pair.connect(endpoint)
        return ZMQMonitor(socket: pair)
    }
}

extension ZMQPoller {
    /// Watches a monitor for events; returns its index in ``poll(timeoutMilliseconds:)`` results.
    public mutating func add(_ monitor: borrowing ZMQMonitor) -> Int {
        add(monitor.socket)
    }
}
