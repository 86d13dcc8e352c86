/// Why a list of frames is not a valid LotteryWire message (or why a message cannot be encoded).
///
/// Decoding never traps: every malformed input ends here. `description` says what was wrong and where
/// (frame, field, blob); the coordinator logs it with the peer's name and answers with REJECT ``rejectCode``.
public struct WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, with the details a log line or a REJECT needs.
    public enum Kind: Sendable, Hashable {
        /// Too few or too many frames; `expected` says what was wanted.
        case frameCount(actual: Int, expected: String)
        /// The header does not start with ``Wire/magic`` (`found` is its first bytes, at most 4).
        case badMagic(found: [UInt8])
        /// The peer speaks a protocol version this build does not decode.
        case unsupportedVersion(peer: UInt16, supported: ClosedRange<UInt16>)
        /// The header frame has the wrong length (``Wire/headerBytes`` expected).
        case badHeader(length: Int)
        /// The header's message type is not a ``MessageType`` code.
        case unknownType(code: UInt8)
        /// A ROUTER identity frame is empty or longer than ``Wire/maxIdentityBytes``.
        case badIdentity(length: Int)
        /// The body is not valid JSON of the expected shape; `detail` is the decoder's message.
        case badJSON(detail: String)
        /// A required field is absent from the body; `field` is its dotted path (`message.metrics.round`).
        case missingField(field: String)
        /// The blob manifest does not match the frames or the message type (unknown, duplicate, missing role…).
        case badManifest(detail: String)
        /// A blob's length differs from the manifest's.
        case blobLength(role: String, frame: Int, declared: Int, actual: Int)
        /// A blob's CRC-32 differs from the manifest's: the bytes were damaged.
        case checksumMismatch(role: String, frame: Int, declared: UInt32, actual: UInt32)
        /// A frame (or blob) is larger than its limit.
        case oversize(frame: Int, what: String, size: Int, limit: Int)
        /// A value is outside its range or inconsistent with another (negative round, empty id…).
        case outOfRange(field: String, detail: String)
    }

    public var kind: Kind
    /// The message type being decoded or encoded, once the header was read.
    public var messageType: MessageType?

    public init(_ kind: Kind, messageType: MessageType? = nil) {
        self.kind = kind
        self.messageType = messageType
    }

    /// The REJECT reason a coordinator sends back for this error.
    public var rejectCode: WireMessage.RejectCode {
        switch kind {
        case .unsupportedVersion: return .versionMismatch
        default: return .badMessage
        }
    }

    public var description: String {
        let prefix = messageType.map { "bad \($0) message: " } ?? "bad message: "
        switch kind {
        case .frameCount(let actual, let expected):
            return prefix + "\(actual) frames, expected \(expected)"
        case .badMagic(let found):
            let hex = found.map { String($0, radix: 16).leftPadded(to: 2) }.joined(separator: " ")
            return prefix + "header starts with [\(hex)], not \"LTW1\": the peer is not a LotteryTickets "
                + "coordinator/worker (check the address and port)"
        case .unsupportedVersion(let peer, let supported):
            return prefix + "peer speaks protocol version \(peer), this build speaks \(Wire.describe(supported)): "
                + "run the same LotteryTickets release on coordinator and workers"
        case .badHeader(let length):
            return prefix + "header frame has \(length) bytes, expected \(Wire.headerBytes)"
        case .unknownType(let code):
            return prefix + "unknown message type code \(code)"
        case .badIdentity(let length):
            return prefix + "ROUTER identity frame has \(length) bytes, expected 1…\(Wire.maxIdentityBytes)"
        case .badJSON(let detail):
            return prefix + "body is not valid JSON: \(detail)"
        case .missingField(let field):
            return prefix + "body lacks required field '\(field)'"
        case .badManifest(let detail):
            return prefix + "blob manifest: \(detail)"
        case .blobLength(let role, let frame, let declared, let actual):
            return prefix + "blob '\(role)' (frame \(frame)) has \(actual) bytes, manifest says \(declared)"
        case .checksumMismatch(let role, let frame, let declared, let actual):
            return prefix + "blob '\(role)' (frame \(frame)) has CRC-32 \(hex32(actual)), manifest says "
                + "\(hex32(declared)): the bytes were damaged in transit"
        case .oversize(let frame, let what, let size, let limit):
            return prefix + "frame \(frame) (\(what)) has \(size) bytes, limit \(limit)"
        case .outOfRange(let field, let detail):
            return prefix + "field '\(field)' \(detail)"
        }
    }
}

func hex32(_ value: UInt32) -> String {
    "0x" + String(value, radix: 16).leftPadded(to: 8)
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
