/// One message of the coordinator ↔ worker protocol, as a value.
///
/// `encode()` turns it into ZeroMQ frames (header, JSON body, blobs); `decode(_:)` turns any frames back into a
/// message or a typed ``WireError``. Bodies are the nested structs (``Hello``, ``RoundResult``, …); which side
/// sends what, and when, is in docs/protocol.md and ``MessageType/direction``.
///
/// The bodies' `Codable` conformance covers their JSON fields only: blob properties (`mask`, `bytes`, …) travel as
/// separate frames, so encode bodies through `encode()`, not with a bare `JSONEncoder`.
///
/// Named `WireMessage`, not `Message`, because the coordinator and worker also handle ZeroMQ messages and
/// swift-log's `Logger.Message`.
public enum WireMessage: Sendable, Hashable {
    /// Worker → coordinator, first message after (re)connecting: who the worker is and what it has.
    case hello(Hello)
    /// Worker → coordinator: how many trial slots are free now (credit).
    case ready(Ready)
    /// Coordinator → worker: run (or resume) one trial.
    case task(TaskAssignment)
    /// Both ways: liveness; the worker's carries progress of its running trials.
    case heartbeat(Heartbeat)
    /// Worker → coordinator: one finished IMP round with its metrics and mask(s).
    case roundResult(RoundResult)
    /// Coordinator → worker: a round result is recorded durably (or was a duplicate); the worker may forget it.
    case ack(Ack)
    /// Worker → coordinator: a trial ran its last round.
    case trialDone(TrialDone)
    /// Worker → coordinator: a trial failed and will not be retried by this worker.
    case trialFailed(TrialFailed)
    /// Worker → coordinator: the worker is leaving and returns these unfinished trials.
    case giveBack(GiveBack)
    /// Coordinator → worker: the last message was refused (version mismatch, bad message, …).
    case reject(Reject)
    /// Coordinator → worker: the sweep is over, or the coordinator is draining.
    case shutdown(Shutdown)
    /// Worker → coordinator: send me this byte range of a dataset.
    case dataRequest(DataRequest)
    /// Coordinator → worker: one byte range of a dataset.
    case dataChunk(DataChunk)
    /// Coordinator → worker: stop a task (reassigned elsewhere, or no longer wanted).
    case cancel(Cancel)

    /// The header type code of this message.
    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .ready: return .ready
        case .task: return .task
        case .heartbeat: return .heartbeat
        case .roundResult: return .roundResult
        case .ack: return .ack
        case .trialDone: return .trialDone
        case .trialFailed: return .trialFailed
        case .giveBack: return .giveBack
        case .reject: return .reject
        case .shutdown: return .shutdown
        case .dataRequest: return .dataRequest
        case .dataChunk: return .dataChunk
        case .cancel: return .cancel
        }
    }

    /// The frames of this message: header, JSON body (sorted keys, so equal messages give equal bytes), blobs.
    ///
    /// Encoding checks the same ranges and limits as decoding, so whatever encodes also decodes on the peer.
    ///
    /// - Returns: 2…``Wire/maxFrames`` frames, without any ROUTER identity (see ``Wire/routerFrames(to:_:)``).
    /// - Throws: ``WireError`` `.outOfRange` for an invalid field, `.oversize` when the body or a blob exceeds its
    ///   limit (e.g. a learning curve of more than ~10,000 points).
    public func encode() throws(WireError) -> [[UInt8]] {
        switch self {
        case .hello(let body): return try Codec.encode(body)
        case .ready(let body): return try Codec.encode(body)
        case .task(let body): return try Codec.encode(body)
        case .heartbeat(let body): return try Codec.encode(body)
        case .roundResult(let body): return try Codec.encode(body)
        case .ack(let body): return try Codec.encode(body)
        case .trialDone(let body): return try Codec.encode(body)
        case .trialFailed(let body): return try Codec.encode(body)
        case .giveBack(let body): return try Codec.encode(body)
        case .reject(let body): return try Codec.encode(body)
        case .shutdown(let body): return try Codec.encode(body)
        case .dataRequest(let body): return try Codec.encode(body)
        case .dataChunk(let body): return try Codec.encode(body)
        case .cancel(let body): return try Codec.encode(body)
        }
    }

    /// Decodes the frames of one message (without ROUTER identity; see ``Wire/splitRouterFrames(_:)``).
    ///
    /// Total: any input returns a message or throws; it never traps and allocates at most what the bounded
    /// frames already hold. Checks, in order: header (magic, version, length, type), frame count, frame sizes,
    /// JSON body, blob manifest (roles, lengths, CRC-32s), then field ranges.
    ///
    /// - Parameter frames: the received frames, untrusted.
    /// - Returns: the message.
    /// - Throws: ``WireError`` saying what was wrong and where.
    public static func decode(_ frames: [[UInt8]]) throws(WireError) -> WireMessage {
        let type = try Codec.decodeHeader(frames)
        switch type {
        case .hello: return .hello(try Codec.decode(Hello.self, frames))
        case .ready: return .ready(try Codec.decode(Ready.self, frames))
        case .task: return .task(try Codec.decode(TaskAssignment.self, frames))
        case .heartbeat: return .heartbeat(try Codec.decode(Heartbeat.self, frames))
        case .roundResult: return .roundResult(try Codec.decode(RoundResult.self, frames))
        case .ack: return .ack(try Codec.decode(Ack.self, frames))
        case .trialDone: return .trialDone(try Codec.decode(TrialDone.self, frames))
        case .trialFailed: return .trialFailed(try Codec.decode(TrialFailed.self, frames))
        case .giveBack: return .giveBack(try Codec.decode(GiveBack.self, frames))
        case .reject: return .reject(try Codec.decode(Reject.self, frames))
        case .shutdown: return .shutdown(try Codec.decode(Shutdown.self, frames))
        case .dataRequest: return .dataRequest(try Codec.decode(DataRequest.self, frames))
        case .dataChunk: return .dataChunk(try Codec.decode(DataChunk.self, frames))
        case .cancel: return .cancel(try Codec.decode(Cancel.self, frames))
        }
    }
}
