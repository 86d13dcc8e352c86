import Foundation
import LotteryCore
import LotteryWire
import Logging

/// Thrown from `onRound` to stop a synthetic trial on request (not an error to report).
private struct SyntheticStop: Error {}

/// A `synthetic.round_ms` task (scheduler benchmarks) on its own thread: ``SyntheticRunner`` instead of
/// training, no dataset, one event per round exactly like ``TrialJob``.
///
/// Kept apart from ``TrialJob`` on purpose: the real job loads data and drives `IMPRunner`; this one only
/// sleeps and draws masks, and the session dispatches on `task.spec.synthetic` (and skips the dataset fetch).
struct SyntheticTrialJob: Sendable {
    let task: WireMessage.TaskAssignment
    let control: TrialControl
    let mailbox: Mailbox

    func start() {
        let job = self
        let thread = Thread { job.run() }
        thread.name = "synthetic-\(task.taskID)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    func run() {
        let taskID = task.taskID
        var lastRound: Int? = nil
        do {
            let runner = try SyntheticRunner(spec: task.spec)
            let progress: (IMPProgress) -> Void = { [control] p in
                control.update(round: p.round, iteration: p.iteration)
            }
            if task.spec.branch != nil {
                guard let bytes = task.parentMask else { throw WorkerError("branch task without 'parent_mask'") }
                let parent = try MaskConversion.decode(bytes, role: "parent_mask")
                let outcome = try runner.runBranch(spec: task.spec, mask: parent, progress: progress)
                if control.snapshot.cancelled { throw SyntheticStop() }
                try post(outcome, previousMask: nil)
                lastRound = outcome.metrics.round
            } else {
                let startMask = try task.resumeMask.map { try MaskConversion.decode($0, role: "resume_mask") }
                var previous: [LayerMask]? = nil
                try runner.run(startRound: task.startRound, startMask: startMask, progress: progress) { outcome in
                    if control.snapshot.cancelled { throw SyntheticStop() }
                    try post(outcome, previousMask: previous)
                    previous = outcome.mask
                    lastRound = outcome.metrics.round
                    if outcome.nextMask != nil, control.snapshot.stopAfterRound { throw SyntheticStop() }
                }
            }
            guard let lastRound else { throw WorkerError("the trial reported no round") }
            mailbox.post(.done(taskID: taskID, lastRound: lastRound))
        } catch is SyntheticStop {
            mailbox.post(.stopped(taskID: taskID))
        } catch {
            let round = lastRound.map { $0 + 1 } ?? control.snapshot.round
            mailbox.post(.failed(taskID: taskID, round: round, error: "\(error)"))
        }
    }

    /// The same encoding as ``TrialJob``: `mask` a delta against the previous reported round, `next_mask` a delta
    /// against `mask` (docs/worker.md, "Masks").
    private func post(_ outcome: RoundOutcome, previousMask: [LayerMask]?) throws {
        let mask = MaskConversion.encode(outcome.mask, parent: previousMask)
        let next = outcome.nextMask.map { MaskConversion.encode($0, parent: outcome.mask) }
        let result = WireMessage.RoundResult(
            taskID: task.taskID, metrics: outcome.metrics, mask: mask.bytes, nextMask: next?.bytes,
            maskParent: mask.parent, nextMaskParent: next?.parent)
        let frames = try WireMessage.roundResult(result).encode()
        mailbox.post(.result(taskID: task.taskID, round: outcome.metrics.round, frames: frames))
    }
}
