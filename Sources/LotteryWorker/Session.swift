import Foundation
import LotteryCore
import LotteryWire
import Logging

/// The worker's I/O shell around ``SessionStateMachine``: driven by the I/O thread only (not thread-safe, never
/// shared).
///
/// ``Worker/run()`` owns the socket and tells this object what happened; this object feeds the machine (with the
/// clock and the trial threads' positions) and carries out its actions: frames to send (queued in `outgoing`, sent
/// by ``Worker/run()`` while connected), trial threads started and stopped, dataset cache and download file work,
/// reconnect and exit requests. It decides nothing about the protocol.
final class Session {
    let worker: Worker
    var config: WorkerConfig { worker.config }
    var logger: Logger { worker.logger }
    let disk: DatasetDisk
    var machine: SessionStateMachine
    /// The shared position and stop flags of every trial thread started, by task id (dropped when it stops).
    var controls: [Int: TrialControl] = [:]
    /// The open download file (locked) and the hash of what it holds.
    var download: Download?
    var outgoing: [[[UInt8]]] = []

    /// Set by an action: reconnect after this many milliseconds.
    var wantsReconnect: Int?
    /// Set when the worker must leave ``Worker/run()``.
    private(set) var exit: Result<WorkerExit, WorkerError>?

    init(worker: Worker) {
        self.worker = worker
        disk = DatasetDisk(directory: worker.config.dataDirectory)
        machine = SessionStateMachine(config: worker.config)
    }

    static var now: Double { ProcessInfo.processInfo.systemUptime }

    var positions: [Int: TrialPosition] {
        controls.mapValues { control in
            let state = control.snapshot
            return TrialPosition(round: state.round, iteration: state.iteration)
        }
    }

    // MARK: Events

    func connected() { feed(.connected(datasets: disk.cachedDatasets(), positions: positions)) }
    func received(_ frames: [[UInt8]]) { feed(.received(frames)) }
    func tick() { feed(.tick(positions: positions)) }
    func stop(reason: String) { feed(.stopRequested(reason)) }
    /// A fatal error found outside the conversation (the coordinator refused this worker's key): stop, exit with it.
    func fatal(_ error: WorkerError) { feed(.fatal(error)) }
    func pollTimeout() -> Int { machine.pollTimeout(now: Self.now) }

    func handle(_ event: TrialEvent) {
        switch event {
        case .result(let taskID, let round, let frames):
            feed(.roundResult(taskID: taskID, round: round, frames: frames))
        case .done(let taskID, let lastRound): feed(.trialDone(taskID: taskID, lastRound: lastRound))
        case .failed(let taskID, let round, let error): feed(.trialFailed(taskID: taskID, round: round, error: error))
        case .stopped(let taskID):
            controls[taskID] = nil
            feed(.trialStopped(taskID: taskID))
        }
        if case .done(let taskID, _) = event { controls[taskID] = nil }
        if case .failed(let taskID, _, _) = event { controls[taskID] = nil }
    }

    func takeOutgoing() -> [[[UInt8]]] {
        defer { outgoing.removeAll() }
        return outgoing
    }

    func feed(_ event: SessionEvent) {
        for action in machine.event(event, now: Self.now) { execute(action) }
    }

    // MARK: Actions

    func execute(_ action: SessionAction) {
        switch action {
        case .send(let message):
            do {
                outgoing.append(try message.encode())
            } catch {
                // Only ROUND_RESULTs can exceed limits, and trial threads encode those themselves.
                logger.error("cannot encode \(message.type)", metadata: ["error": "\(error)"])
            }
        case .sendEncoded(let frames):
            outgoing.append(frames)
        case .startTrial(let task):
            startTrial(task)
        case .cancelTrial(let taskID):
            controls[taskID]?.cancel()
        case .stopTrialAfterRound(let taskID):
            controls[taskID]?.stopAfterRound()
        case .findDataset(let taskID, let ref):
            feed(disk.has(ref) ? .datasetFound(taskID: taskID) : .datasetMissing(taskID: taskID))
        case .openDownload(let ref):
            feed(openDownload(ref))
        case .writeChunk(let ref, let bytes):
            if let failure = writeChunk(ref, bytes) { feed(failure) }
        case .finishDownload(let ref):
            feed(finishDownload(ref))
        case .abandonDownload:
            abandonDownload()
        case .reconnect(let milliseconds):
            wantsReconnect = milliseconds
            outgoing.removeAll()  // disconnected: the machine resends what matters after the reconnect
        case .exit(let outcome):
            exit = outcome
        case .log(let level, let message, let metadata):
            logger.log(level: level, "\(message)", metadata: metadata)
        }
    }

    func startTrial(_ task: WireMessage.TaskAssignment) {
        if let fault = config.faultCrashTrial, fault == task.trialID || fault == "seed=\(task.spec.seed)" {
            logger.critical(
                "LTH_FAULT_CRASH_TRIAL=\(fault): crashing on purpose",
                metadata: ["task": "\(task.taskID)", "trial": "\(task.trialID)"])
            // `_exit`, not `abort()`: the same abrupt end for the coordinator (no GIVE_BACK, no flush), without a
            // core dump in the test's working folder.
            _exit(134)
        }
        let control = TrialControl(taskID: task.taskID, trialID: task.trialID, startRound: task.startRound)
        controls[task.taskID] = control
        TrialJob(
            task: task, dataDirectory: config.dataDirectory, control: control, splits: worker.splits,
            mailbox: worker.mailbox, logger: logger, threads: config.trialThreads
        ).start()
    }
}
