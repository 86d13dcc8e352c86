import LotteryCore
import LotteryWire
import Logging

// Slots and trials: starting queued tasks, a trial's end, and the dataset fetch (chunks, one request outstanding).
extension SessionStateMachine {
    // MARK: - Slots

    /// Starts queued tasks while slots are free, starts fetches, and announces new credit.
    mutating func schedule() {
        let busy = records.values.filter { $0.holdsSlot && $0.phase != .queued }.count
        var free = config.slots - busy
        for id in order where free > 0 {
            guard let record = records[id], record.phase == .queued else { continue }
            free -= 1
            if record.task.spec.synthetic != nil {  // synthetic: no data
                start(id)
            } else if !DatasetDisk.isSafeID(record.task.dataset.id) {
                records[id]?.phase = .awaitingData
                failTask(id, "dataset id '\(record.task.dataset.id)' cannot name a cache folder")
            } else {
                records[id]?.phase = .checkingData
                actions.append(.findDataset(taskID: id, record.task.dataset))  // answered by datasetFound/Missing
            }
        }
        startFetchIfNeeded()
        sendReady()
    }

    mutating func start(_ id: Int) {
        guard let record = records[id] else { return }
        records[id]?.phase = .running
        log(.info, "trial starts", record.metadata)
        actions.append(.startTrial(record.task))
    }

    mutating func ended(_ taskID: Int, final: (WireMessage.TaskAssignment) -> WireMessage) {
        guard var record = records[taskID] else { return }
        record.phase = .ended
        if !record.cancelled {
            let message = final(record.task)
            record.final = message
            log(.info, "\(message.type)", record.metadata)
            if isConnected {
                send(message)
                record.finalSent = true
            }
        }
        records[taskID] = record
        dropSettledRecords()
        schedule()
    }

    mutating func failTask(_ id: Int, _ text: String) {
        guard var record = records[id] else { return }
        log(.error, "trial failed", record.metadata.merging(["error": "\(text)"], uniquingKeysWith: { $1 }))
        record.phase = .ended
        let message = WireMessage.trialFailed(
            WireMessage.TrialFailed(taskID: record.task.taskID, trialID: record.task.trialID, round: nil, error: text))
        record.final = message
        if isConnected {
            send(message)
            record.finalSent = true
        }
        records[id] = record
        dropSettledRecords()
    }

    /// Forgets ended tasks with nothing left to deliver.
    mutating func dropSettledRecords() {
        for id in order {
            guard let record = records[id], record.phase == .ended, record.unacked.isEmpty, !record.givenBack else {
                continue
            }
            if record.cancelled || record.final == nil || record.finalSent { remove(id) }
        }
    }

    // MARK: - Dataset fetch

    mutating func startFetchIfNeeded() {
        guard fetch == nil, opening == nil else { return }
        guard let record = orderedRecords.first(where: { $0.phase == .awaitingData }) else { return }
        opening = record.task.dataset
        actions.append(.openDownload(record.task.dataset))  // answered by downloadOpened/datasetAppeared/Failed
    }

    mutating func downloadOpened(_ ref: WireMessage.DatasetRef, offset: Int) {
        guard opening == ref else {
            actions.append(.abandonDownload(ref))
            return
        }
        opening = nil
        fetch = Fetch(ref: ref, offset: offset, total: nil, requestedAt: now)
        log(
            .info, offset > 0 ? "resuming dataset download" : "fetching dataset",
            ["dataset": "\(ref.id)", "checksum": "\(ref.checksum)", "offset": "\(offset)"])
        requestChunk(ref.id, offset: offset, total: nil)
    }

    mutating func requestChunk(_ id: String, offset: Int, total: Int?) {
        let length = total.map { min(Wire.maxChunkBytes, $0 - offset) } ?? Wire.maxChunkBytes
        send(.dataRequest(WireMessage.DataRequest(datasetID: id, offset: offset, length: max(1, length))))
    }

    mutating func receivedChunk(_ chunk: WireMessage.DataChunk) {
        guard var current = fetch, chunk.datasetID == current.ref.id, chunk.offset == current.offset else {
            log(
                .debug, "ignoring a DATA_CHUNK that answers no outstanding request",
                ["dataset": "\(chunk.datasetID)", "offset": "\(chunk.offset)"])
            return
        }
        let id = current.ref.id
        guard chunk.checksum == current.ref.checksum else {
            return failFetch(
                "coordinator serves dataset '\(id)' with checksum \(chunk.checksum), "
                    + "but the task asked for \(current.ref.checksum): the dataset changed on the coordinator")
        }
        if let total = current.total, total != chunk.totalSize {
            return failFetch("dataset '\(id)' changed size during the download (\(total) → \(chunk.totalSize) bytes)")
        }
        guard chunk.totalSize <= DatasetBundle.maxTotalBytes else {
            return failFetch(
                "dataset '\(id)' is \(chunk.totalSize) bytes, over the limit of \(DatasetBundle.maxTotalBytes)")
        }
        guard !chunk.bytes.isEmpty || chunk.offset == chunk.totalSize else {
            return failFetch("empty DATA_CHUNK at offset \(chunk.offset) of dataset '\(id)' (\(chunk.totalSize) bytes)")
        }
        actions.append(.writeChunk(current.ref, chunk.bytes))  // a failure comes back as downloadFailed
        current.offset += chunk.bytes.count
        current.total = chunk.totalSize
        current.requestedAt = now
        fetch = current
        if current.offset < chunk.totalSize {
            requestChunk(id, offset: current.offset, total: chunk.totalSize)
        } else {
            actions.append(.finishDownload(current.ref))  // answered by datasetInstalled or downloadFailed
        }
    }

    /// `ref` is in the cache now: start the tasks that waited for it.
    mutating func datasetInstalled(_ ref: WireMessage.DatasetRef) {
        if !datasets.contains(ref) { datasets.append(ref) }
        for id in order where records[id]?.phase == .awaitingData && records[id]?.task.dataset == ref { start(id) }
        schedule()
    }

    /// Ends the current download (the I/O thread removes the file) and fails the tasks that waited for it (a
    /// later task fetches afresh).
    mutating func failFetch(_ text: String) {
        guard let current = fetch else { return }
        actions.append(.abandonDownload(current.ref))
        fetch = nil
        failWaiting(for: current.ref, text)
        schedule()
    }

    /// The I/O thread could not open, write, check or install `ref`'s download (and abandoned the file).
    mutating func downloadFailed(_ ref: WireMessage.DatasetRef, reason: String) {
        if opening == ref { opening = nil }
        if fetch?.ref == ref { fetch = nil }
        failWaiting(for: ref, reason)
        schedule()
    }

    mutating func failWaiting(for ref: WireMessage.DatasetRef, _ text: String) {
        for id in order where records[id]?.phase == .awaitingData && records[id]?.task.dataset == ref {
            failTask(id, text)
        }
    }
}
