internal import CZeroMQ

/// A socket option and the Swift type of its value, e.g. `ZMQOption<Int>.linger`.
///
/// Use with ``ZMQSocket/set(_:_:)`` and ``ZMQSocket/get(_:)``: `try socket.set(.linger, 0)`.
/// Times are milliseconds; sizes are bytes or messages as libzmq documents for each option.
public struct ZMQOption<Value>: Sendable {
    enum Storage: Sendable {
        case int32, int64, bool, bytes, string
    }

    let code: Int32
    let storage: Storage
    let name: String
}

extension ZMQOption where Value == Int {
    /// `ZMQ_LINGER`: ms to keep unsent messages after close (-1 forever). This wrapper starts at 0.
    public static var linger: Self { .init(code: ZMQ_LINGER, storage: .int32, name: "ZMQ_LINGER") }
    /// `ZMQ_SNDHWM`: queued outgoing messages per peer before send blocks or drops.
    public static var sendHighWaterMark: Self { .init(code: ZMQ_SNDHWM, storage: .int32, name: "ZMQ_SNDHWM") }
    /// `ZMQ_RCVHWM`: queued incoming messages per peer before libzmq stops reading.
    public static var receiveHighWaterMark: Self { .init(code: ZMQ_RCVHWM, storage: .int32, name: "ZMQ_RCVHWM") }
    /// `ZMQ_MAXMSGSIZE`: largest accepted inbound message in bytes (-1 no limit). A peer sending
    /// more is disconnected. Counts each frame separately, not the sum of a multipart message.
    public static var maxMessageSize: Self { .init(code: ZMQ_MAXMSGSIZE, storage: .int64, name: "ZMQ_MAXMSGSIZE") }
    /// `ZMQ_HANDSHAKE_IVL`: ms a new connection may take to finish its handshake (0 no limit).
    public static var handshakeInterval: Self {
        .init(code: ZMQ_HANDSHAKE_IVL, storage: .int32, name: "ZMQ_HANDSHAKE_IVL")
    }
    /// `ZMQ_RECONNECT_IVL`: ms before the first reconnection attempt (-1 never reconnect).
    public static var reconnectInterval: Self {
        .init(code: ZMQ_RECONNECT_IVL, storage: .int32, name: "ZMQ_RECONNECT_IVL")
    }
    /// `ZMQ_RECONNECT_IVL_MAX`: upper bound in ms of the exponential reconnection backoff (0: no backoff).
    public static var reconnectIntervalMax: Self {
        .init(code: ZMQ_RECONNECT_IVL_MAX, storage: .int32, name: "ZMQ_RECONNECT_IVL_MAX")
    }
    /// `ZMQ_HEARTBEAT_IVL`: ms between ZMTP PING frames (0 off).
    public static var heartbeatInterval: Self {
        .init(code: ZMQ_HEARTBEAT_IVL, storage: .int32, name: "ZMQ_HEARTBEAT_IVL")
    }
    /// `ZMQ_HEARTBEAT_TIMEOUT`: ms without traffic after a PING before the connection is dropped.
    public static var heartbeatTimeout: Self {
        .init(code: ZMQ_HEARTBEAT_TIMEOUT, storage: .int32, name: "ZMQ_HEARTBEAT_TIMEOUT")
    }
    /// `ZMQ_HEARTBEAT_TTL`: ms the remote peer should wait for traffic before dropping us (0.1 s resolution).
    public static var heartbeatTTL: Self { .init(code: ZMQ_HEARTBEAT_TTL, storage: .int32, name: "ZMQ_HEARTBEAT_TTL") }
    /// `ZMQ_RCVTIMEO`: ms a blocking receive waits before failing with `.wouldBlock` (-1 forever).
    public static var receiveTimeout: Self { .init(code: ZMQ_RCVTIMEO, storage: .int32, name: "ZMQ_RCVTIMEO") }
    /// `ZMQ_SNDTIMEO`: ms a blocking send waits before failing with `.wouldBlock` (-1 forever).
    public static var sendTimeout: Self { .init(code: ZMQ_SNDTIMEO, storage: .int32, name: "ZMQ_SNDTIMEO") }
}

extension ZMQOption where Value == Bool {
    /// `ZMQ_ROUTER_MANDATORY`: sending to an unknown routing id fails with `.hostUnreachable`
    /// instead of being silently dropped.
    public static var routerMandatory: Self {
        .init(code: ZMQ_ROUTER_MANDATORY, storage: .bool, name: "ZMQ_ROUTER_MANDATORY")
    }
    /// `ZMQ_ROUTER_HANDOVER`: a new connection with a routing id in use takes it over.
    public static var routerHandover: Self {
        .init(code: ZMQ_ROUTER_HANDOVER, storage: .bool, name: "ZMQ_ROUTER_HANDOVER")
    }
    /// `ZMQ_IMMEDIATE`: queue messages only to completed connections.
    public static var immediate: Self { .init(code: ZMQ_IMMEDIATE, storage: .bool, name: "ZMQ_IMMEDIATE") }
    /// `ZMQ_CURVE_SERVER`: act as CURVE server (needs `curveSecretKey`).
    public static var curveServer: Self { .init(code: ZMQ_CURVE_SERVER, storage: .bool, name: "ZMQ_CURVE_SERVER") }
}

extension ZMQOption where Value == [UInt8] {
    /// `ZMQ_ROUTING_ID`: the id a ROUTER peer sees for this socket (1–255 bytes, not starting with 0).
    /// Set before connecting. The peer chooses it freely: it is not an authenticated identity.
    public static var routingID: Self { .init(code: ZMQ_ROUTING_ID, storage: .bytes, name: "ZMQ_ROUTING_ID") }
    /// `ZMQ_CURVE_PUBLICKEY`: this socket's long-term public key, 32 bytes.
    public static var curvePublicKey: Self {
        .init(code: ZMQ_CURVE_PUBLICKEY, storage: .bytes, name: "ZMQ_CURVE_PUBLICKEY")
    }
    /// `ZMQ_CURVE_SECRETKEY`: this socket's long-term secret key, 32 bytes.
    public static var curveSecretKey: Self {
        .init(code: ZMQ_CURVE_SECRETKEY, storage: .bytes, name: "ZMQ_CURVE_SECRETKEY")
    }
    /// `ZMQ_CURVE_SERVERKEY`: (client) the server's public key, 32 bytes.
    public static var curveServerKey: Self {
        .init(code: ZMQ_CURVE_SERVERKEY, storage: .bytes, name: "ZMQ_CURVE_SERVERKEY")
    }
}

extension ZMQOption where Value == String {
    /// `ZMQ_ZAP_DOMAIN`: the domain passed to the ZAP handler for this socket's connections.
    public static var zapDomain: Self { .init(code: ZMQ_ZAP_DOMAIN, storage: .string, name: "ZMQ_ZAP_DOMAIN") }
    /// `ZMQ_LAST_ENDPOINT` (read only): the endpoint of the last bind or connect.
    public static var lastEndpoint: Self {
        .init(code: ZMQ_LAST_ENDPOINT, storage: .string, name: "ZMQ_LAST_ENDPOINT")
    }
}

extension ZMQSocket {
    /// Sets a socket option, e.g. `try socket.set(.maxMessageSize, 64 << 20)`.
    ///
    /// - Throws: ``ZMQError`` naming the option (`EINVAL` for a value libzmq refuses).
    public func set<Value>(_ option: ZMQOption<Value>, _ value: Value) throws {
        let call = "zmq_setsockopt(\(option.name))"
        switch option.storage {
        case .int32, .bool:
            var raw: Int32 = option.storage == .bool ? ((value as! Bool) ? 1 : 0) : Int32(clamping: value as! Int)
            try check(zmq_setsockopt(handle, option.code, &raw, MemoryLayout<Int32>.size), call)
        case .int64:
            var raw = Int64(value as! Int)
            try check(zmq_setsockopt(handle, option.code, &raw, MemoryLayout<Int64>.size), call)
        case .bytes:
            let bytes = value as! [UInt8]
            try bytes.withUnsafeBytes { buffer in
                try check(zmq_setsockopt(handle, option.code, buffer.baseAddress, buffer.count), call)
            }
        case .string:
            let bytes = Array((value as! String).utf8)
            try bytes.withUnsafeBytes { buffer in
                try check(zmq_setsockopt(handle, option.code, buffer.baseAddress, buffer.count), call)
            }
        }
    }

    /// Reads a socket option, e.g. `try socket.get(.routingID)`.
    public func get<Value>(_ option: ZMQOption<Value>) throws -> Value {
        let call = "zmq_getsockopt(\(option.name))"
        switch option.storage {
        case .int32, .bool:
            var raw: Int32 = 0
            var size = MemoryLayout<Int32>.size
            try check(zmq_getsockopt(handle, option.code, &raw, &size), call)
            if option.storage == .bool { return (raw != 0) as! Value }
            return Int(raw) as! Value
        case .int64:
            var raw: Int64 = 0
            var size = MemoryLayout<Int64>.size
            try check(zmq_getsockopt(handle, option.code, &raw, &size), call)
            return Int(raw) as! Value
        case .bytes, .string:
            var buffer = [UInt8](repeating: 0, count: 512)  // options here are ≤ 256 bytes + NUL
            var size = buffer.count
            try buffer.withUnsafeMutableBytes { raw in
                try check(zmq_getsockopt(handle, option.code, raw.baseAddress, &size), call)
            }
            var bytes = Array(buffer.prefix(size))
            if option.storage == .string {
                if bytes.last == 0 { bytes.removeLast() }  // libzmq counts the terminating NUL
                return String(decoding: bytes, as: UTF8.self) as! Value
            }
            return bytes as! Value
        }
    }
}
