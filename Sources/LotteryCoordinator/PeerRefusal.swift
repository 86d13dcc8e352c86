/// A peer the coordinator turned away: a CURVE key not on the allow-list, a worker of another protocol version, a
/// message that does not decode, a connection that never completed the ZeroMQ handshake, a HELLO it refused.
///
/// Journaled as `peer-refused` events (``RefusalJournal``, at a bounded rate) so `lth status` lists them beside
/// requeues and lost workers (docs/status.md); the coordinator's log keeps its own lines.
public struct PeerRefusal: Sendable, Hashable {
    /// Why, coarsely: with ``peer`` it is what repeats are counted under (the text of ``reason`` may vary).
    public enum Kind: String, Sendable, Hashable {
        /// ZAP: the peer's CURVE public key is not in the allow-list.
        case keyNotAllowed = "key-not-allowed"
        /// A message in another protocol version (answered with REJECT `version_mismatch`).
        case versionMismatch = "version-mismatch"
        /// A message that does not decode, or goes the wrong way (answered with REJECT `bad_message` and the like).
        case badMessage = "bad-message"
        /// A HELLO answered with REJECT `refused` (not authenticated, no slots).
        case helloRefused = "hello-refused"
        /// A connection that failed or stalled in the ZeroMQ handshake (not ZeroMQ, wrong server key).
        case handshakeFailed = "handshake-failed"
    }

    /// Who: `10.0.0.7 with public key <Z85>`, `node1@10.0.0.7`, `unregistered peer at 10.0.0.7`. Addresses carry no
    /// port (each connection has another one), so a peer retrying in a loop is one peer.
    public var peer: String
    public var kind: Kind
    /// What was wrong and, where it helps, what to do (one line).
    public var reason: String

    public init(peer: String, kind: Kind, reason: String) {
        self.peer = peer
        self.kind = kind
        self.reason = reason
    }

    /// The journal line: "refused 10.0.0.7 with public key …: client key not allowed (…)".
    public var text: String { "refused \(peer): \(reason)" }

    /// The journal kind of these events.
    public static let journalKind = "peer-refused"

    /// `ip:port` → `ip` (also `[v6]:port` → `[v6]`); anything else unchanged.
    public static func withoutPort(_ address: String) -> String {
        guard let colon = address.lastIndex(of: ":"), address[address.index(after: colon)...].allSatisfy(\.isNumber),
            colon != address.startIndex
        else { return address }
        let host = address[..<colon]
        // A bare IPv6 address ("::1") has colons of its own; only "[v6]:port" and "v4:port" carry a port.
        if host.contains(":") && !host.hasSuffix("]") { return address }
        return String(host)
    }
}
