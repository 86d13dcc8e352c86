import Foundation
import LotteryCore
import LotteryWire
import Logging

// The session's dataset fetch: chunked DATA_REQUESTs, resumable download file, checksum, install.
extension Session {
    // MARK: Dataset fetch

    func startFetchIfNeeded() {
        guard fetch == nil else { return }
        guard let record = order.compactMap({ records[$0] }).first(where: { $0.phase == .awaitingData }) else { return }
        let ref = record.task.dataset
        do {
            let download = try disk.resumableDownload(for: ref, instance: config.instanceID)
            if disk.has(ref) {
                // Another worker on this host installed it while this task waited: nothing to fetch.
                try? FileManager.default.removeItem(atPath: download.path)
                try? download.handle.close()
                startWaiting(for: ref)
                return
            }
            var started = Fetch(ref: ref, path: download.path, handle: download.handle, requestedAt: .now)
            if download.existing > 0 {
                // The bytes a worker that died left behind count toward the checksum, read once.
                guard let reader = FileHandle(forReadingAtPath: download.path) else {
                    throw WorkerError("cannot read \(download.path)")
                }
                defer { try? reader.close() }
                var left = download.existing
                while left > 0, let block = try reader.read(upToCount: min(left, 1 << 20)), !block.isEmpty {
                    started.hasher.update([UInt8](block))
                    left -= block.count
                }
                guard left == 0 else { throw WorkerError("\(download.path) changed while it was read back") }
                started.offset = download.existing
            }
            fetch = started
            logger.info(
                started.offset > 0 ? "resuming dataset download" : "fetching dataset",
                metadata: ["dataset": "\(ref.id)", "checksum": "\(ref.checksum)", "offset": "\(started.offset)"])
            requestChunk(ref.id, offset: started.offset, total: nil)
        } catch {
            failWaiting(for: ref, "cannot fetch dataset '\(ref.id)' into \(config.dataDirectory): \(error)")
        }
    }

    func requestChunk(_ id: String, offset: Int, total: Int?) {
        let length = total.map { min(Wire.maxChunkBytes, $0 - offset) } ?? Wire.maxChunkBytes
        send(.dataRequest(WireMessage.DataRequest(datasetID: id, offset: offset, length: max(1, length))))
    }

    func receivedChunk(_ chunk: WireMessage.DataChunk) {
        guard var current = fetch, chunk.datasetID == current.ref.id, chunk.offset == current.offset else {
            logger.debug(
                "ignoring a DATA_CHUNK that answers no outstanding request",
                metadata: ["dataset": "\(chunk.datasetID)", "offset": "\(chunk.offset)"])
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
        do {
            try current.handle.write(contentsOf: chunk.bytes)
        } catch {
            return failFetch("cannot write \(current.path): \(error)")
        }
        current.hasher.update(chunk.bytes)
        current.offset += chunk.bytes.count
        current.total = chunk.totalSize
        current.requestedAt = .now
        fetch = current
        if current.offset < chunk.totalSize {
            requestChunk(id, offset: current.offset, total: chunk.totalSize)
            return
        }
        finishFetch(current)
    }

    private func finishFetch(_ fetched: Fetch) {
        var done = fetched
        let digest = SHA256.hex(done.hasher.finalize())
        guard digest == done.ref.checksum else {
            return failFetch(
                "dataset '\(done.ref.id)' arrived with SHA-256 \(digest), expected \(done.ref.checksum): "
                    + "the transfer was corrupted; the next task fetches it again")
        }
        // Read back through the locked handle and unlink before closing it: once the lock is released, another
        // worker on this host may open the same download file (see DatasetDisk.resumableDownload).
        do {
            try done.handle.seek(toOffset: 0)
            guard let data = try done.handle.readToEnd(), data.count == done.offset else {
                throw WorkerError("cannot read back \(done.path)")
            }
            try disk.install(bundle: [UInt8](data), ref: done.ref, instance: config.instanceID)
        } catch {
            return failFetch("cannot install dataset '\(done.ref.id)' into \(disk.folder(done.ref.id)): \(error)")
        }
        try? FileManager.default.removeItem(atPath: done.path)
        try? done.handle.close()
        fetch = nil
        logger.info("dataset installed", metadata: ["dataset": "\(done.ref.id)", "bytes": "\(done.offset)"])
        startWaiting(for: done.ref)
    }

    /// Starts the tasks that waited for `ref`, now installed.
    private func startWaiting(for ref: WireMessage.DatasetRef) {
        for id in order {
            if let record = records[id], record.phase == .awaitingData, record.task.dataset == ref {
                start(record)
            }
        }
        schedule()
    }

    /// Ends the current download and fails the tasks that waited for it (a later task fetches afresh).
    func failFetch(_ text: String) {
        guard let current = fetch else { return }
        abandonFetch(current)
        failWaiting(for: current.ref, text)
        schedule()
    }

    func abandonFetch(_ current: Fetch) {
        try? FileManager.default.removeItem(atPath: current.path)
        try? current.handle.close()
        fetch = nil
    }

    private func failWaiting(for ref: WireMessage.DatasetRef, _ text: String) {
        for id in order {
            if let record = records[id], record.phase == .awaitingData, record.task.dataset == ref {
                failTask(record, text)
            }
        }
    }
}
