/// Constants of the coordinator ↔ worker protocol: magic, version, limits, and the ROUTER envelope.
///
/// A message is a list of ZeroMQ frames (see docs/protocol.md):
/// frame 0 is the 7-byte header `"LTW1" | version u16 BE | type u8`, frame 1 the JSON body, frames 2… binary blobs
/// (compressed masks, dataset chunks) described by the body's blob manifest (role, length, CRC-32).
/// On the coordinator's ROUTER socket one identity frame precedes them; see ``splitRouterFrames(_:)``.
public enum Wire {
    /// The first four bytes of every header frame: `"LTW1"`. Never changes, whatever the version.
    public static let magic: [UInt8] = Array("LTW1".utf8)

    /// The protocol version this build speaks, sent in every header. Version 2 (issue 16): TASK specs carry
    /// `prune.criterion` and `prune-random` controls, ROUND_RESULT metrics the supermask accuracies; a version-1
    /// worker would ignore the criterion and train the wrong trial, so versions 1 and 2 do not talk.
    public static let version: UInt16 = 2

    /// Versions this build decodes. A header with another version fails with
    /// ``WireError/Kind/unsupportedVersion(peer:supported:)``, which carries the peer's version for the REJECT.
    public static let supportedVersions: ClosedRange<UInt16> = 2...2

    /// How a range of protocol versions is written in messages: `2`, or `2…3`.
    public static func describe(_ versions: ClosedRange<UInt16>) -> String {
        versions.count == 1 ? "\(versions.lowerBound)" : "\(versions.lowerBound)…\(versions.upperBound)"
    }

    /// Bytes in a header frame: magic (4) + version (2, big-endian) + message type (1).
    public static let headerBytes = 7

    /// Most frames in one message, header and body included (identity frames of a ROUTER not counted).
    public static let maxFrames = 8

    /// Largest JSON body frame: 1 MiB. A round's learning curve costs ~100 bytes per evaluation point, so this
    /// fits ~10,000 points per round; encoding a larger result fails with an oversize ``WireError``.
    public static let maxBodyBytes = 1 << 20

    /// Largest mask blob (a MaskFile container): 4 MiB, i.e. ≥ 32 M weights even uncompressed.
    public static let maxMaskBytes = 4 << 20

    /// Largest dataset chunk blob, and the largest `length` a DATA_REQUEST may ask for: 1 MiB.
    public static let maxChunkBytes = 1 << 20

    /// Largest single frame of any kind; the value for `ZMQ_MAXMSGSIZE` on both sockets.
    ///
    /// libzmq checks `ZMQ_MAXMSGSIZE` per frame (its v2 decoder compares each frame's size), so the largest
    /// frame bounds it; a peer exceeding it is disconnected before LotteryWire ever sees the bytes.
    public static let maxFrameBytes = max(maxBodyBytes, maxMaskBytes, maxChunkBytes)

    /// Largest whole message (all frames), for buffer planning: header + body + blobs at their limits.
    public static let maxMessageBytes = headerBytes + maxBodyBytes + (maxFrames - 2) * maxFrameBytes

    /// Bytes a ROUTER identity frame may have (libzmq routing ids are 1…255 bytes).
    public static let maxIdentityBytes = 255

    /// The header frame for a message of `type` at this build's ``version``.
    public static func header(_ type: MessageType, version: UInt16 = Wire.version) -> [UInt8] {
        magic + [UInt8(version >> 8), UInt8(version & 0xFF), type.rawValue]
    }

    /// Splits a message received on a ROUTER socket into its identity frame and the LotteryWire payload.
    ///
    /// Workers use DEALER sockets, which add nothing; the coordinator's ROUTER prepends exactly one frame, the
    /// peer's routing id. There is no empty delimiter frame (that is a REQ/REP convention we do not use).
    ///
    /// - Parameter frames: every frame of one received message.
    /// - Returns: the identity (1…255 bytes) and the remaining frames, ready for ``WireMessage/decode(_:)``.
    /// - Throws: ``WireError`` `.frameCount` when there is no payload, `.badIdentity` for an empty or over-long
    ///   identity.
    public static func splitRouterFrames(_ frames: [[UInt8]]) throws(WireError) -> (
        identity: [UInt8], payload: [[UInt8]]
    ) {
        guard frames.count >= 3 else {
            throw WireError(.frameCount(actual: frames.count, expected: "identity + header + body (at least 3)"))
        }
        let identity = frames[0]
        guard !identity.isEmpty, identity.count <= maxIdentityBytes else {
            throw WireError(.badIdentity(length: identity.count))
        }
        return (identity, Array(frames.dropFirst()))
    }

    /// The frames to send on a ROUTER socket to the peer with `identity`: the identity, then `payload`.
    public static func routerFrames(to identity: [UInt8], _ payload: [[UInt8]]) -> [[UInt8]] {
        precondition(
            !identity.isEmpty && identity.count <= maxIdentityBytes,
            "Wire.routerFrames: identity of \(identity.count) bytes")
        return [identity] + payload
    }
}

/// The kind of a message, sent as the header's last byte. Codes are stable: a code is never reused.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case hello = 1
    case ready = 2
    case task = 3
    case heartbeat = 4
    case roundResult = 5
    case ack = 6
    case trialDone = 7
    case trialFailed = 8
    case giveBack = 9
    case reject = 10
    case shutdown = 11
    case dataRequest = 12
    case dataChunk = 13
    case cancel = 14

    /// Who may send a message of this type.
    public enum Direction: Sendable, Hashable {
        case workerToCoordinator, coordinatorToWorker, both
    }

    /// Who may send this type; a receiver answers a message from the wrong side with REJECT `unexpectedMessage`.
    public var direction: Direction {
        switch self {
        case .hello, .ready, .roundResult, .trialDone, .trialFailed, .giveBack, .dataRequest:
            return .workerToCoordinator
        case .task, .ack, .reject, .shutdown, .dataChunk, .cancel: return .coordinatorToWorker
        case .heartbeat: return .both
        }
    }

    /// The protocol name, as in docs/protocol.md: `HELLO`, `ROUND_RESULT`, …
    public var description: String {
        switch self {
        case .hello: return "HELLO"
        case .ready: return "READY"
        case .task: return "TASK"
        case .heartbeat: return "HEARTBEAT"
        case .roundResult: return "ROUND_RESULT"
        case .ack: return "ACK"
        case .trialDone: return "TRIAL_DONE"
        case .trialFailed: return "TRIAL_FAILED"
        case .giveBack: return "GIVE_BACK"
        case .reject: return "REJECT"
        case .shutdown: return "SHUTDOWN"
        case .dataRequest: return "DATA_REQUEST"
        case .dataChunk: return "DATA_CHUNK"
        case .cancel: return "CANCEL"
        }
    }
}
