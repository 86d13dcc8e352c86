/// Which refusals (``PeerRefusal``) become `peer-refused` journal lines: at a bounded rate, so a hostile or broken
/// peer that retries in a loop cannot grow `results.db` without bound.
///
/// Rule (docs/status.md, "Refused peers"): the first refusal of a peer for a kind of reason is written at once; the
/// ones that follow within ``window`` seconds are only counted, and when the window ends a line with the count is
/// written and a new window begins (so a peer refused every second costs one line a minute). A window that ends
/// without repeats writes nothing. At most ``maxPeers`` (peer, kind) windows are open at once: refusals beyond that
/// (a flood of fresh keys or addresses) are counted together, and written as one line when their window ends.
///
/// A pure value: no clock, no store. The coordinator loop feeds it (``refused(_:now:)``, ``tick(now:)``, and
/// ``flush()`` when it stops) with its monotonic clock and writes the lines it returns.
public struct RefusalJournal: Sendable {
    /// Seconds over which repeats are counted into one line.
    public let window: Double
    /// The most (peer, kind) pairs followed one by one at a time.
    public let maxPeers: Int

    struct Key: Hashable {
        var peer: String
        var kind: PeerRefusal.Kind
    }

    struct Open {
        /// The refusal that opened the window (its line was written).
        var first: PeerRefusal
        var since: Double
        var repeats: Int
    }

    struct Overflow {
        var since: Double
        var count: Int
        /// Distinct peers counted, up to ``RefusalJournal/maxPeers`` × 10 (beyond, only `count` grows).
        var peers: Set<String>
    }

    var open: [Key: Open] = [:]
    var overflow: Overflow?

    public init(window: Double = 60, maxPeers: Int = 20) {
        precondition(window > 0 && maxPeers > 0, "refusal journal limits out of range")
        self.window = window
        self.maxPeers = maxPeers
    }

    /// A refusal happened at `now`: returns the lines to journal now (windows that ended first, then this refusal's
    /// line if it is the first of its peer and kind in a window).
    public mutating func refused(_ refusal: PeerRefusal, now: Double) -> [String] {
        var lines = tick(now: now)
        let key = Key(peer: refusal.peer, kind: refusal.kind)
        if open[key] != nil {
            open[key]!.repeats += 1
        } else if open.count < maxPeers {
            open[key] = Open(first: refusal, since: now, repeats: 0)
            lines.append(refusal.text)
        } else {
            var counted = overflow ?? Overflow(since: now, count: 0, peers: [])
            counted.count += 1
            if counted.peers.count < maxPeers * 10 { counted.peers.insert(refusal.peer) }
            overflow = counted
        }
        return lines
    }

    /// Time passed: the lines of windows that ended by `now` (each with its count of repeats).
    public mutating func tick(now: Double) -> [String] {
        var lines: [String] = []
        for key in open.keys.sorted(by: { ($0.peer, $0.kind.rawValue) < ($1.peer, $1.kind.rawValue) }) {
            guard let entry = open[key], now - entry.since >= window else { continue }
            if entry.repeats > 0 {
                lines.append(Self.repeatLine(entry, seconds: now - entry.since))
                open[key] = Open(first: entry.first, since: now, repeats: 0)  // still at it: count the next minute
            } else {
                open[key] = nil
            }
        }
        if let counted = overflow, now - counted.since >= window {
            lines.append(Self.overflowLine(counted, seconds: now - counted.since, maxPeers: maxPeers))
            overflow = nil
        }
        return lines
    }

    /// The coordinator stops: the lines of every window with repeats not yet written.
    public mutating func flush() -> [String] {
        var lines: [String] = []
        for key in open.keys.sorted(by: { ($0.peer, $0.kind.rawValue) < ($1.peer, $1.kind.rawValue) }) {
            if let entry = open[key], entry.repeats > 0 { lines.append(Self.repeatLine(entry, seconds: nil)) }
        }
        if let counted = overflow { lines.append(Self.overflowLine(counted, seconds: nil, maxPeers: maxPeers)) }
        open = [:]
        overflow = nil
        return lines
    }

    /// "refused P again N time(s) in the last 60 s (kind; the first: reason)": the repeats are of the same kind,
    /// their reasons may differ in detail (one bad message and another).
    static func repeatLine(_ entry: Open, seconds: Double?) -> String {
        let span = seconds.map { " in the last \(Int($0.rounded())) s" } ?? " before the coordinator stopped"
        return "refused \(entry.first.peer) again \(entry.repeats) time(s)\(span) (\(entry.first.kind.rawValue); "
            + "the first: \(entry.first.reason))"
    }

    static func overflowLine(_ counted: Overflow, seconds: Double?, maxPeers: Int) -> String {
        let span = seconds.map { " in \(Int($0.rounded())) s" } ?? ""
        let peers = counted.peers.count >= maxPeers * 10 ? "\(counted.peers.count)+" : "\(counted.peers.count)"
        return "refused \(counted.count) more connection(s) or message(s) from \(peers) other peer(s)\(span) "
            + "(over \(maxPeers) peers at once are counted, not listed; the coordinator's log has each)"
    }
}
