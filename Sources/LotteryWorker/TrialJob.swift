import Foundation
import Synchronization
import LotteryCore
import LotteryWire
import Logging

/// State shared between a trial's thread and the I/O thread: where training is, and whether it must stop.
///
/// The trial thread writes the position from IMPRunner's progress callback (every 100 iterations and every
/// evaluation), so a HEARTBEAT shows the real position and a coordinator can tell a hung trial from a slow one.
final class TrialControl: Sendable {
    struct State {
        var round: Int
        var iteration = 0
        var cancelled = false
        var stopAfterRound = false
    }

    let taskID: Int
    let trialID: String
    private let state: Mutex<State>

    init(taskID: Int, trialID: String, startRound: Int) {
        self.taskID = taskID
        self.trialID = trialID
        state = Mutex(State(round: startRound))
    }

    var snapshot: State { state.withLock { $0 } }

    /// Records the position; returns true when the trial must stop now (CANCEL or drain).
    @discardableResult
    func update(round: Int, iteration: Int) -> Bool {
        state.withLock {
            $0.round = round
            $0.iteration = iteration
            return $0.cancelled || $0.stopAfterRound
        }
    }

    /// CANCEL: stop as soon as possible and report nothing more.
    func cancel() { state.withLock { $0.cancelled = true } }

    /// Drain: stop training now (the round in progress is dropped; the trial is given back from its last
    /// reported round). A round already finished is still reported.
    func stopAfterRound() { state.withLock { $0.stopAfterRound = true } }

    var progress: WireMessage.TrialProgress {
        let s = snapshot
        return WireMessage.TrialProgress(taskID: taskID, trialID: trialID, round: s.round, iteration: s.iteration)
    }
}

/// What a trial thread tells the I/O thread (through ``Mailbox``).
enum TrialEvent: Sendable {
    /// An encoded ROUND_RESULT, ready to send (and to keep until ACKed).
    case result(taskID: Int, round: Int, frames: [[UInt8]])
    /// The last round was reported.
    case done(taskID: Int, lastRound: Int)
    /// Training threw; `error` is the human text for TRIAL_FAILED.
    case failed(taskID: Int, round: Int?, error: String)
    /// Stopped on request (CANCEL or drain) after the last reported round.
    case stopped(taskID: Int)
}

/// The locked queue from trial threads to the I/O thread, with a pipe that wakes the I/O thread's poll.
final class Mailbox: Sendable {
    private let events = Mutex<[TrialEvent]>([])
    let pipe = WakePipe()

    func post(_ event: TrialEvent) {
        events.withLock { $0.append(event) }
        pipe.wake()
    }

    func take() -> [TrialEvent] {
        pipe.drain()
        return events.withLock { events in
            defer { events.removeAll() }
            return events
        }
    }
}

/// Thrown from IMPRunner's `onRound` to stop a trial on request (not an error to report).
private struct TrialStop: Error {}

/// One task run on its own thread: load data, run IMP (or a branch), post one event per round.
///
/// A synthetic task (`synthetic.round_ms`, scheduler benchmarks) runs ``SyntheticRunner`` instead: no data, the
/// same events.
struct TrialJob: Sendable {
    let task: WireMessage.TaskAssignment
    let dataDirectory: String
    let control: TrialControl
    let splits: SplitCache
    let mailbox: Mailbox
    let logger: Logger
    /// Threads the trial's training may use (``WorkerConfig/trialThreads``).
    var threads = 1

    /// Starts the job on a new thread (never Swift's cooperative pool: training blocks for minutes).
    func start() {
        let job = self
        let thread = Thread { job.run() }
        thread.name = "trial-\(task.taskID)"
        thread.stackSize = 8 << 20
        thread.start()
    }

    func run() {
        let taskID = task.taskID
        var lastRound: Int? = nil
        do {
            let runner: any TrialRunner
            if task.spec.synthetic != nil {
                runner = try SyntheticRunner(spec: task.spec)
            } else {
                let data = try splits.splits(spec: task.spec, ref: task.dataset, directory: dataDirectory)
                runner = try IMPRunner(spec: task.spec, data: data, threads: threads)
            }
            // Checked every 100 iterations: CANCEL, a drain and SIGTERM stop training mid-round, at once.
            let progress: (IMPProgress) throws -> Void = { [control] p in
                if control.update(round: p.round, iteration: p.iteration) { throw TrialStop() }
            }
            if task.spec.branch != nil {
                guard let bytes = task.parentMask else { throw WorkerError("branch task without 'parent_mask'") }
                let parent = try MaskConversion.decode(bytes, role: "parent_mask")
                let outcome = try runner.runBranch(spec: task.spec, mask: parent, progress: progress)
                if control.snapshot.cancelled { throw TrialStop() }
                _ = try post(outcome, previousMask: nil, known: nil)
                lastRound = outcome.metrics.round
            } else {
                let startMask = try task.resumeMask.map { try MaskConversion.decode($0, role: "resume_mask") }
                // The first reported mask is self-contained (see docs/worker.md, "Masks"); later ones are deltas
                // against the previous round's mask, the chain the coordinator stores. Round r's mask is round
                // r−1's next mask, already encoded against the same parent: its bytes are reused, so the
                // coordinator recognises them as the next mask it recorded without decoding anything.
                var previous: [LayerMask]? = nil
                var known: (mask: [LayerMask], encoded: MaskConversion.Encoded)? = nil
                try runner.run(startRound: task.startRound, startMask: startMask, progress: progress) { outcome in
                    if control.snapshot.cancelled { throw TrialStop() }
                    let next = try post(outcome, previousMask: previous, known: known)
                    if let mask = outcome.nextMask, let next { known = (mask, next) } else { known = nil }
                    previous = outcome.mask
                    lastRound = outcome.metrics.round
                    if outcome.nextMask != nil, control.snapshot.stopAfterRound { throw TrialStop() }
                }
            }
            guard let lastRound else { throw WorkerError("the trial reported no round") }
            mailbox.post(.done(taskID: taskID, lastRound: lastRound))
        } catch is TrialStop {
            mailbox.post(.stopped(taskID: taskID))
        } catch {
            let round = lastRound.map { $0 + 1 } ?? control.snapshot.round
            mailbox.post(.failed(taskID: taskID, round: round, error: "\(error)"))
        }
    }

    /// Encodes one outcome as ROUND_RESULT (`mask` delta against `previousMask`, `next_mask` delta against
    /// `mask`) and posts it. `known` is the previous round's next mask and its encoding: when it is this round's
    /// mask, its bytes are sent again rather than encoded again (same mask, same parent, same bytes).
    ///
    /// - Returns: the encoded next mask.
    /// - Throws: the `WireError` of an oversize result (e.g. a learning curve beyond 1 MiB of JSON), which
    ///   the trial then reports as TRIAL_FAILED instead of being disconnected.
    private func post(
        _ outcome: RoundOutcome, previousMask: [LayerMask]?,
        known: (mask: [LayerMask], encoded: MaskConversion.Encoded)?
    ) throws -> MaskConversion.Encoded? {
        // Synthetic trials (scheduler benchmarks) share mask ladders between trials of the same seed: the cache
        // keeps the workers from spending the machine's cores on encoding the same masks again.
        let cache = task.spec.synthetic != nil ? MaskConversion.syntheticCache : nil
        let mask =
            known.flatMap { $0.mask == outcome.mask ? $0.encoded : nil }
            ?? MaskConversion.encode(outcome.mask, parent: previousMask, cache: cache)
        let next = outcome.nextMask.map { MaskConversion.encode($0, parent: outcome.mask, cache: cache) }
        let result = WireMessage.RoundResult(
            taskID: task.taskID, metrics: outcome.metrics, mask: mask.bytes, nextMask: next?.bytes,
            maskParent: mask.parent, nextMaskParent: next?.parent)
        let frames = try WireMessage.roundResult(result).encode()
        mailbox.post(.result(taskID: task.taskID, round: outcome.metrics.round, frames: frames))
        return next
    }
}
