import Foundation
import LotteryCore
import LotteryWire
import Logging

// Trial threads: starting a TASK's trial, and carrying its events (results, done, failed, stopped) to the coordinator.
extension Session {
    // MARK: Trial threads

    func handle(_ event: TrialEvent) {
        switch event {
        case .result(let taskID, let round, let frames):
            guard let record = records[taskID], !record.cancelled else { return }
            record.unacked.append((round, frames))
            outgoing.append(frames)
            logger.info(
                "ROUND_RESULT", metadata: record.metadata.merging(["round": "\(round)"], uniquingKeysWith: { $1 }))
        case .done(let taskID, let lastRound):
            ended(
                taskID,
                final: { .trialDone(WireMessage.TrialDone(taskID: taskID, trialID: $0.trialID, lastRound: lastRound)) })
        case .failed(let taskID, let round, let error):
            logger.error("trial failed", metadata: ["task": "\(taskID)", "error": "\(error)"])
            ended(
                taskID,
                final: {
                    .trialFailed(
                        WireMessage.TrialFailed(taskID: taskID, trialID: $0.trialID, round: round, error: error))
                })
        case .stopped(let taskID):
            guard let record = records[taskID] else { return }
            logger.info("trial stopped", metadata: record.metadata)
            record.phase = .ended
            if record.cancelled { remove(taskID) } else { record.givenBack = true }
            schedule()
        }
    }

    private func ended(_ taskID: Int, final: (WireMessage.TaskAssignment) -> WireMessage) {
        guard let record = records[taskID] else { return }
        record.phase = .ended
        if !record.cancelled {
            let message = final(record.task)
            record.final = message
            logger.info("\(message.type)", metadata: record.metadata)
            if isConnected {
                send(message)
                record.finalSent = true
            }
        }
        dropSettledRecords()
        schedule()
    }

    /// Starts queued tasks while slots are free, starts fetches, and announces new credit.
    func schedule() {
        let busy = records.values.filter { $0.phase == .running || $0.phase == .awaitingData }.count
        var free = config.slots - busy
        for id in order where free > 0 {
            guard let record = records[id], record.phase == .queued else { continue }
            free -= 1
            if record.task.spec.synthetic != nil || disk.has(record.task.dataset) {  // synthetic: no data
                start(record)
            } else if !DatasetDisk.isSafeID(record.task.dataset.id) {
                record.phase = .awaitingData
                failTask(record, "dataset id '\(record.task.dataset.id)' cannot name a cache folder")
            } else {
                record.phase = .awaitingData
            }
        }
        startFetchIfNeeded()
        sendReady()
    }

    func start(_ record: TaskRecord) {
        record.phase = .running
        logger.info("trial starts", metadata: record.metadata)
        if let fault = config.faultCrashTrial,
            fault == record.task.trialID || fault == "seed=\(record.task.spec.seed)"
        {
            logger.critical("LTH_FAULT_CRASH_TRIAL=\(fault): crashing on purpose", metadata: record.metadata)
            // `_exit`, not `abort()`: the same abrupt end for the coordinator (no GIVE_BACK, no flush), without a
            // core dump in the test's working folder.
            _exit(134)
        }
        TrialJob(
            task: record.task, dataDirectory: config.dataDirectory, control: record.control, splits: worker.splits,
            mailbox: worker.mailbox, logger: logger, threads: config.trialThreads
        ).start()
    }

    func failTask(_ record: TaskRecord, _ text: String) {
        logger.error("trial failed", metadata: record.metadata.merging(["error": "\(text)"], uniquingKeysWith: { $1 }))
        record.phase = .ended
        let message = WireMessage.trialFailed(
            WireMessage.TrialFailed(taskID: record.task.taskID, trialID: record.task.trialID, round: nil, error: text))
        record.final = message
        if isConnected {
            send(message)
            record.finalSent = true
        }
        dropSettledRecords()
    }

    func remove(_ id: Int) {
        records[id] = nil
        order.removeAll { $0 == id }
    }

    /// Forgets ended tasks with nothing left to deliver.
    func dropSettledRecords() {
        for id in order {
            guard let record = records[id], record.phase == .ended, record.unacked.isEmpty, !record.givenBack else {
                continue
            }
            if record.cancelled || record.final == nil || record.finalSent { remove(id) }
        }
    }
}
