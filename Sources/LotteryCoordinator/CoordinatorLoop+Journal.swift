import Foundation
import Logging
import LotteryResults
import Synchronization

/// Refusals reported on another thread (the ZAP handler's), handed to the coordinator thread, which alone writes the
/// journal. Bounded: past ``capacity`` waiting refusals, further ones are only counted until the loop drains them.
final class RefusalInbox: Sendable {
    static let capacity = 1_024

    private let state = Mutex<(waiting: [PeerRefusal], dropped: Int)>(([], 0))

    func post(_ refusal: PeerRefusal) {
        state.withLock {
            if $0.waiting.count < Self.capacity { $0.waiting.append(refusal) } else { $0.dropped += 1 }
        }
    }

    /// Everything posted since the last call, and how many were dropped for want of room.
    func take() -> (refusals: [PeerRefusal], dropped: Int) {
        state.withLock { state in
            defer { state = ([], 0) }
            return (state.waiting, state.dropped)
        }
    }
}

// What the loop writes on its own account: refused peers (rate-limited, ``RefusalJournal``) and when workers were
// last heard (throttled, ``HeardTimes``).
extension CoordinatorLoop {
    /// Writes the last-heard times that are due (``HeardTimes``); `final` when the loop stops. A failed write is
    /// logged and not retried before the next interval: these times are for people, not for recovery.
    func persistHeard(final: Bool = false) {
        guard machine.storeFailure == nil else { return }
        let now = Self.now
        let due = heardTimes.due(
            scheduler.workers.values.lazy.map { HeardTimes.Worker(id: $0.id, lastSeen: $0.lastSeen, alive: $0.alive) },
            now: now, final: final)
        guard !due.isEmpty else { return }
        let wallClock = Date()
        commitAccepted()
        do {
            try store.recordHeard(due.map { ($0.worker, wallClock.addingTimeInterval($0.lastSeen - now)) })
        } catch {
            say(.warning, "cannot record when workers were last heard (lth status shows older times): \(error)")
        }
    }

    /// One refusal, from the machine, the socket monitor or the ZAP handler: journaled if the rate allows.
    func journalRefusal(_ refusal: PeerRefusal) {
        writeRefusalLines(refusals.refused(refusal, now: Self.now))
    }

    /// The ZAP handler's refusals since the last turn, then the counts of windows that ended.
    func drainRefusals() {
        let (posted, dropped) = refusalInbox.take()
        for refusal in posted { journalRefusal(refusal) }
        if dropped > 0 {
            // Only a flood fills the inbox between two turns; its refusals count as one more peer's.
            journalRefusal(
                PeerRefusal(
                    peer: "peers whose refusals arrived faster than they could be counted", kind: .keyNotAllowed,
                    reason: "\(dropped) refusal(s) not examined one by one"))
        }
        writeRefusalLines(refusals.tick(now: Self.now))
    }

    func writeRefusalLines(_ lines: [String]) {
        guard !lines.isEmpty, machine.storeFailure == nil else { return }
        commitAccepted()  // the journal follows the results in the order they happened
        for line in lines {
            try? store.logEvent(kind: PeerRefusal.journalKind, message: line)
        }
    }
}
