internal import CZeroMQ

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// A failed libzmq call: which call, the `errno` libzmq reported, and libzmq's text for it.
///
/// The ``kind`` names the cases a caller acts on: ``Kind/terminated`` (the context is shutting
/// down: leave the loop and close the socket), ``Kind/wouldBlock`` (non-blocking call had nothing
/// to do), ``Kind/hostUnreachable`` (a `ROUTER_MANDATORY` socket was asked to route to an
/// unknown peer). Everything else is ``Kind/other``; its ``code`` says which `errno`.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The cases callers branch on.
    public enum Kind: Sendable, Hashable {
        /// `ETERM`: the context was shut down. Close the socket and return.
        case terminated
        /// `EAGAIN`: a non-blocking call could not proceed (or a send/receive timeout expired).
        case wouldBlock
        /// `EHOSTUNREACH`: a `ROUTER_MANDATORY` socket has no peer with that routing id.
        case hostUnreachable
        /// Any other `errno`.
        case other
    }

    /// The `errno` value read with `zmq_errno()` right after the failing call.
    public let code: Int32
    /// The failing call with its main argument, e.g. `zmq_bind(tcp://127.0.0.1:5555)`.
    public let call: String
    /// `zmq_strerror(code)`.
    public let message: String

    /// Which of the cases callers act on this error is.
    public var kind: Kind {
        switch code {
        case ETERM: .terminated
        case EAGAIN: .wouldBlock
        case EHOSTUNREACH: .hostUnreachable
        default: .other
        }
    }

    /// Creates an error for `call` with an explicit `errno` value.
    public init(code: Int32, call: String) {
        self.code = code
        self.call = call
        self.message = String(cString: zmq_strerror(code))
    }

    public var description: String { "\(call) failed: \(message) (errno \(code))" }

    /// Captures `zmq_errno()` now; call this immediately after the failing libzmq call.
    static func last(_ call: @autoclosure () -> String) -> ZMQError {
        let code = zmq_errno()
        return ZMQError(code: code, call: call())
    }
}
