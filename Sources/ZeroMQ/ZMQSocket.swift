internal import CZeroMQ

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The socket patterns this wrapper offers.
public enum ZMQSocketType: Sendable, Hashable, CustomStringConvertible {
    case pair, request, reply, dealer, router, push, pull

    var raw: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        }
    }

    public var description: String {
        switch self {
        case .pair: "PAIR"
        case .request: "REQ"
        case .reply: "REP"
        case .dealer: "DEALER"
        case .router: "ROUTER"
        case .push: "PUSH"
        case .pull: "PULL"
        }
    }
}

/// One message as received, with the connection metadata libzmq attaches to it.
public struct ZMQMessage: Sendable, Hashable {
    /// All parts of the message, in order; each an owned copy of the bytes.
    public var frames: [[UInt8]]
    /// The user id the ZAP handler returned for the sending peer (`"User-Id"`), if any.
    ///
    /// This is the authenticated identity (e.g. the name of the allow-listed CURVE key), unlike a
    /// routing id or a name inside the message, which the peer chooses freely.
    public var userID: String?
    /// The peer's address as libzmq reports it (`"Peer-Address"`, TCP only), if any.
    public var peerAddress: String?

    public init(frames: [[UInt8]], userID: String? = nil, peerAddress: String? = nil) {
        self.frames = frames
        self.userID = userID
        self.peerAddress = peerAddress
    }
}

/// A libzmq socket, owned by exactly one thread.
///
/// Ownership: the socket is `~Copyable` and not `Sendable`, so the compiler keeps it in the thread
/// that made it; it is closed when it goes out of scope (or by ``close()``). It keeps its
/// ``ZMQContext`` alive, so the context is terminated only after its last socket is closed.
/// Create a socket inside the thread that will use it.
///
/// New sockets get `ZMQ_LINGER` 0 (as CZMQ's `zsock` does): libzmq's default of -1 makes context
/// termination wait forever for unsent messages. Raise it with `set(.linger, …)` if needed.
///
/// Blocking calls return ``ZMQError/Kind-swift.enum/terminated`` once ``ZMQContext/shutdown()`` ran.
public struct ZMQSocket: ~Copyable {
    /// The `void *` from `zmq_socket`; valid until `deinit`.
    let handle: UnsafeMutableRawPointer
    /// The context this socket belongs to (kept alive by the socket).
    public let context: ZMQContext
    /// The pattern of this socket.
    public let type: ZMQSocketType

    /// Creates a socket of `type` in `context`, with `ZMQ_LINGER` 0.
    ///
    /// - Throws: ``ZMQError`` (`.terminated` if the context was shut down).
    public init(_ context: ZMQContext, type: ZMQSocketType) throws {
        guard let handle = zmq_socket(context.handle, type.raw) else {
            throw ZMQError.last("zmq_socket(\(type))")
        }
        var linger: Int32 = 0
        _ = zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        self.handle = handle
        self.context = context
        self.type = type
    }

    deinit {
        // zmq_close only fails with ENOTSOCK, impossible for a handle we own.
        _ = zmq_close(handle)
    }

    /// Closes the socket now (the same as letting it go out of scope).
    public consuming func close() {}

    // MARK: Endpoints

    /// Binds to `endpoint`, e.g. `tcp://127.0.0.1:*` (any free port; read ``lastEndpoint``) or `inproc://name`.
    ///
    /// - Throws: ``ZMQError`` naming the call and endpoint, e.g. `EADDRINUSE`.
    public func bind(_ endpoint: String) throws {
        try check(zmq_bind(handle, endpoint), "zmq_bind(\(endpoint))")
    }

    /// Connects to `endpoint`; libzmq connects in the background and reconnects after failures.
    public func connect(_ endpoint: String) throws {
        try check(zmq_connect(handle, endpoint), "zmq_connect(\(endpoint))")
    }

    /// Stops listening on an endpoint given to ``bind(_:)`` (use ``lastEndpoint`` for wildcards).
    public func unbind(_ endpoint: String) throws {
        try check(zmq_unbind(handle, endpoint), "zmq_unbind(\(endpoint))")
    }

    /// Drops the connection made by ``connect(_:)`` to `endpoint`.
    public func disconnect(_ endpoint: String) throws {
        try check(zmq_disconnect(handle, endpoint), "zmq_disconnect(\(endpoint))")
    }

    /// The endpoint of the last bind or connect, with a wildcard port resolved (`ZMQ_LAST_ENDPOINT`).
    public var lastEndpoint: String {
        get throws { try get(.lastEndpoint) }
    }

    // MARK: Sending

    /// Sends one message made of `frames` (at least one; empty frames are allowed).
    ///
    /// The frames are copied; a multipart message is delivered whole or not at all.
    /// - Parameters:
    ///   - frames: the parts, in order.
    ///   - dontWait: fail with `.wouldBlock` instead of waiting when the first frame cannot be
    ///     queued (high-water mark reached, no peer). Later frames of the message always follow.
    /// - Throws: ``ZMQError``: `.wouldBlock` (dontWait or `SNDTIMEO` expired), `.hostUnreachable`
    ///   (`ROUTER_MANDATORY` and no such peer), `.terminated`.
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index + 1 < frames.count ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            try sendFrame(frame, flags: flags)
        }
    }

    /// Sends one frame with `flags`; retries on EINTR.
    private func sendFrame(_ frame: [UInt8], flags: Int32) throws {
        var msg = zmq_msg_t()
        guard zmq_msg_init_size(&msg, frame.count) == 0 else {
            throw ZMQError.last("zmq_msg_init_size(\(frame.count))")
        }
        defer { zmq_msg_close(&msg) }  // after a successful send this is a no-op on an empty message
        if !frame.isEmpty {
            frame.withUnsafeBytes { bytes in
                zmq_msg_data(&msg).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        }
        while zmq_msg_send(&msg, handle, flags) < 0 {
            let error = ZMQError.last("zmq_msg_send(\(type))")
            if error.code != EINTR { throw error }
        }
    }

    // MARK: Receiving

    /// Waits for the next message and returns all its frames.
    ///
    /// - Throws: ``ZMQError``: `.terminated` after context shutdown; `.wouldBlock` if `RCVTIMEO` expired.
    public func receive() throws -> [[UInt8]] {
        try receiveMessage(flags: 0, metadata: false).frames
    }

    /// Waits at most `timeoutMilliseconds` for a message; `nil` if none came in time.
    ///
    /// - Parameter timeoutMilliseconds: 0 polls, a negative value waits forever.
    /// - Throws: ``ZMQError`` (`.terminated` after context shutdown).
    public func receive(timeoutMilliseconds: Int) throws -> [[UInt8]]? {
        try receiveWithMetadata(timeoutMilliseconds: timeoutMilliseconds)?.frames
    }

    /// Waits for the next message and returns it with the peer's authenticated `User-Id` and address.
    public func receiveWithMetadata() throws -> ZMQMessage {
        try receiveMessage(flags: 0, metadata: true)
    }

    /// Waits at most `timeoutMilliseconds` for a message with its metadata; `nil` if none came in time.
    public func receiveWithMetadata(timeoutMilliseconds: Int) throws -> ZMQMessage? {
        if timeoutMilliseconds < 0 { return try receiveWithMetadata() }
        let deadline = Deadline(milliseconds: timeoutMilliseconds)
        while true {
            guard try waitReadable(timeoutMilliseconds: deadline.remaining) else { return nil }
            do {
                return try receiveMessage(flags: ZMQ_DONTWAIT, metadata: true)
            } catch let error as ZMQError where error.kind == .wouldBlock {
                // Readable but already gone (rare); try again while time remains.
                if deadline.remaining == 0 { return nil }
            }
        }
    }

    /// Waits until a message can be received without blocking, at most `timeoutMilliseconds`
    /// (negative: forever).
    ///
    /// - Returns: whether a message is ready.
    public func waitReadable(timeoutMilliseconds: Int) throws -> Bool {
        var poller = ZMQPoller()
        _ = poller.add(self)
        return try !poller.poll(timeoutMilliseconds: timeoutMilliseconds).isEmpty
    }

    /// Receives all frames of one message; metadata is read from the first frame that carries it.
    private func receiveMessage(flags: Int32, metadata: Bool) throws -> ZMQMessage {
        var message = ZMQMessage(frames: [])
        var more = true
        while more {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)  // cannot fail
            defer { zmq_msg_close(&msg) }
            // Only the first frame may wait: the rest of a message arrives together with it.
            let frameFlags = message.frames.isEmpty ? flags : 0
            while zmq_msg_recv(&msg, handle, frameFlags) < 0 {
                let error = ZMQError.last("zmq_msg_recv(\(type))")
                if error.code != EINTR { throw error }
            }
            let size = zmq_msg_size(&msg)
            if size == 0 {
                message.frames.append([])
            } else {
                let data = UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: size)
                message.frames.append([UInt8](data))
            }
            if metadata {
                if message.userID == nil { message.userID = Self.property("User-Id", of: &msg) }
                if message.peerAddress == nil { message.peerAddress = Self.property("Peer-Address", of: &msg) }
            }
            more = zmq_msg_more(&msg) != 0
        }
        return message
    }

    private static func property(_ name: String, of msg: inout zmq_msg_t) -> String? {
        guard let value = zmq_msg_gets(&msg, name) else { return nil }
        return String(cString: value)
    }

    func check(_ result: Int32, _ call: @autoclosure () -> String) throws {
        if result != 0 { throw ZMQError.last(call()) }
    }
}

@available(*, unavailable, message: "a ZMQSocket belongs to the thread that created it")
extension ZMQSocket: Sendable {}

/// A monotonic deadline for retry loops.
struct Deadline {
    private let end: UInt64

    init(milliseconds: Int) {
        end = Self.nowNanoseconds() + UInt64(max(0, milliseconds)) * 1_000_000
    }

    /// Milliseconds left, rounded up, never negative.
    var remaining: Int {
        let now = Self.nowNanoseconds()
        return now >= end ? 0 : Int((end - now + 999_999) / 1_000_000)
    }

    static func nowNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
