internal import Foundation
internal import Synchronization

/// One authentication decision, reported to ``ZAPAuthenticator``'s observer (for logging).
public struct ZAPDecision: Sendable, Hashable {
    /// `"CURVE"`, `"NULL"` or `"PLAIN"`.
    public var mechanism: String
    /// The peer's address as libzmq reports it (e.g. `127.0.0.1`).
    public var address: String
    /// The ZAP domain of the server socket.
    public var domain: String
    /// The client's CURVE public key, for CURVE.
    public var clientKey: CurveKey?
    /// The user id given to the connection when accepted (the allow-listed key's name).
    public var userID: String?
    /// Whether the connection was admitted.
    public var accepted: Bool
    /// The ZAP status text sent back.
    public var reason: String
}

/// A ZAP handler (RFC 27) that admits only CURVE clients whose public key is on an allow-list.
///
/// It runs a dedicated thread with a REP socket bound to `inproc://zeromq.zap.01` in `context`;
/// libzmq asks it about every new connection to a CURVE server socket of that context. Keys come
/// from a directory of public key files (`NAME.key`, see ``CurveKeyPair/save(directory:name:overwrite:)``),
/// like CZMQ's certificate store; `NAME` becomes the connection's `User-Id`, which the server reads with
/// ``ZMQSocket/receiveWithMetadata()``. Replies are 200 (admitted) or 400 (denied); NULL-mechanism peers
/// are denied unless `allowNull` is set.
///
/// Order: create the authenticator *before* binding the server socket, and keep it alive as long as
/// the server: a CURVE server whose context has no ZAP handler admits *any* client key. The thread
/// ends on ``stop()``, on `deinit`, or when the context is shut down.
///
/// Thread-safety: all methods may be called from any thread.
public final class ZAPAuthenticator: Sendable {
    /// The endpoint libzmq sends ZAP requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    private let shared: Shared

    /// Starts the handler with the keys found in `allowListDirectory` (every `*.key` file).
    ///
    /// Returns once the handler is bound, so a server bound afterwards is protected.
    /// - Parameters:
    ///   - context: the context of the server sockets to protect.
    ///   - allowListDirectory: directory of public key files; `nil` starts with an empty list.
    ///   - allowNull: admit NULL-mechanism (unencrypted) peers when libzmq asks. Default: deny.
    ///   - observer: called on the handler thread with every decision (keep it fast; for logging).
    /// - Throws: ``CurveKeyError`` for an unreadable directory or malformed key file; ``ZMQError``
    ///   if the endpoint is taken (another handler runs in this context) or the context is shut down.
    public init(
        context: ZMQContext, allowListDirectory: String?, allowNull: Bool = false,
        observer: (@Sendable (ZAPDecision) -> Void)? = nil
    ) throws {
        let keys = try allowListDirectory.map(Self.loadAllowList(directory:)) ?? [:]
        shared = Shared(keys: keys, directory: allowListDirectory, allowNull: allowNull, observer: observer)
        let shared = self.shared
        let thread = Thread { shared.run(context: context) }
        thread.name = "zeromq.zap"
        thread.start()
        shared.started.wait()
        if let error = shared.startError.withLock({ $0 }) {
            shared.finished.wait()
            shared.stopping.store(true, ordering: .releasing)  // so deinit's stop() does not wait again
            throw error
        }
    }

    deinit { stop() }

    /// Stops the handler thread and waits for it (at most about 100 ms). Idempotent.
    ///
    /// After this, CURVE servers in the context admit every key: stop only when closing them.
    public func stop() {
        guard !shared.stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shared.finished.wait()
    }

    /// Re-reads the allow-list directory given at creation. On error the old list stays in force.
    ///
    /// - Throws: ``CurveKeyError`` naming the offending file.
    public func reload() throws {
        guard let directory = shared.directory else { return }
        let keys = try Self.loadAllowList(directory: directory)
        shared.state.withLock { $0 = keys }
    }

    /// Replaces the allow-list with `keys` (name → public key).
    public func setAllowedKeys(_ keys: [String: CurveKey]) {
        let byKey = Dictionary(keys.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        shared.state.withLock { $0 = byKey }
    }

    /// The names currently admitted, sorted.
    public var allowedNames: [String] {
        shared.state.withLock { $0.values.sorted() }
    }

    /// Reads every `*.key` file of `directory` into key → name.
    ///
    /// - Throws: ``CurveKeyError`` for an unreadable directory, a malformed file, or one key under two names.
    public static func loadAllowList(directory: String) throws -> [CurveKey: String] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw CurveKeyError("cannot list the allow-list directory", path: directory)
        }
        var keys: [CurveKey: String] = [:]
        for file in files.sorted() where file.hasSuffix(".\(CurveKeyPair.publicKeyExtension)") {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(file).path
            let name = String(file.dropLast(CurveKeyPair.publicKeyExtension.count + 1))
            do {
                try CurveKeyPair.validateName(name)
            } catch let error as CurveKeyError {
                throw CurveKeyError(error.reason, path: path)
            }
            let key = try CurveKey.load(publicKeyFile: path)
            if let other = keys[key] {
                throw CurveKeyError("same public key as \(other).\(CurveKeyPair.publicKeyExtension)", path: path)
            }
            keys[key] = name
        }
        return keys
    }
}

extension ZAPAuthenticator {
    /// State shared between the owner and the handler thread.
    final class Shared: Sendable {
        let state: Mutex<[CurveKey: String]>
        let directory: String?
        let allowNull: Bool
        let observer: (@Sendable (ZAPDecision) -> Void)?
        let stopping = Atomic<Bool>(false)
        let startError = Mutex<(any Error)?>(nil)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)

        init(
            keys: [CurveKey: String], directory: String?, allowNull: Bool,
            observer: (@Sendable (ZAPDecision) -> Void)?
        ) {
            state = Mutex(keys)
            self.directory = directory
            self.allowNull = allowNull
            self.observer = observer
        }

        /// The handler thread: bind, report, then answer requests until stopped or terminated.
        func run(context: ZMQContext) {
            defer { finished.signal() }
            var bound = false
            do {
                let socket = try ZMQSocket(context, type: .reply)
                try socket.bind(ZAPAuthenticator.endpoint)
                bound = true
                started.signal()
                while !stopping.load(ordering: .acquiring) {
                    // Wake up regularly to notice stop(); a shut-down context ends us at once (.terminated).
                    guard let request = try socket.receive(timeoutMilliseconds: 100) else { continue }
                    try socket.send(answer(request))
                }
            } catch {
                // After binding only .terminated (context shutdown) is expected on an inproc REP socket.
                if !bound {
                    startError.withLock { $0 = error }
                    started.signal()
                }
            }
        }

        /// Builds the ZAP reply for one request: version, request id, status, text, user id, metadata.
        func answer(_ request: [[UInt8]]) -> [[UInt8]] {
            func text(_ index: Int) -> String {
                index < request.count ? String(decoding: request[index], as: UTF8.self) : ""
            }
            let requestID = request.count > 1 ? request[1] : []
            func reply(_ status: String, _ reason: String, _ userID: String = "") -> [[UInt8]] {
                [Array("1.0".utf8), requestID, Array(status.utf8), Array(reason.utf8), Array(userID.utf8), []]
            }
            guard request.count >= 6, text(0) == "1.0" else {
                return reply("500", "malformed ZAP request")
            }
            var decision = ZAPDecision(
                mechanism: text(5), address: text(3), domain: text(2), clientKey: nil, userID: nil, accepted: false,
                reason: "")
            switch decision.mechanism {
            case "CURVE" where request.count == 7:
                if let key = try? CurveKey(bytes: request[6]) {
                    decision.clientKey = key
                    if let name = state.withLock({ $0[key] }) {
                        decision.accepted = true
                        decision.userID = name
                        decision.reason = "OK"
                    } else {
                        decision.reason = "client key not allowed"
                    }
                } else {
                    decision.reason = "malformed client key"
                }
            case "NULL" where allowNull:
                decision.accepted = true
                decision.reason = "OK"
            default:
                decision.reason = "mechanism \(decision.mechanism) not allowed"
            }
            observer?(decision)
            return decision.accepted
                ? reply("200", decision.reason, decision.userID ?? "") : reply("400", decision.reason)
        }
    }
}
