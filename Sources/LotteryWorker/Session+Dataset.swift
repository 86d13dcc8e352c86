import Foundation
import LotteryCore
import LotteryWire
import Logging

/// An open download: the file (locked with `flock` while open, see ``DatasetDisk/resumableDownload(for:instance:)``)
/// and the SHA-256 of the bytes it holds.
struct Download {
    var ref: WireMessage.DatasetRef
    var path: String
    var handle: FileHandle
    var size = 0
    var hasher = SHA256()
}

// The download file's I/O, as the machine asks for it: open (resuming what a dead worker left), append, check and
// install, abandon. Each answer goes back to the machine as an event.
extension Session {
    func openDownload(_ ref: WireMessage.DatasetRef) -> SessionEvent {
        abandonDownload()
        do {
            let opened = try disk.resumableDownload(for: ref, instance: config.instanceID)
            if disk.has(ref) {
                // Another worker on this host installed it while this task waited: nothing to fetch.
                try? FileManager.default.removeItem(atPath: opened.path)
                try? opened.handle.close()
                return .datasetAppeared(ref)
            }
            var started = Download(ref: ref, path: opened.path, handle: opened.handle)
            if opened.existing > 0 {
                // The bytes a worker that died left behind count toward the checksum, read once.
                guard let reader = FileHandle(forReadingAtPath: opened.path) else {
                    throw WorkerError("cannot read \(opened.path)")
                }
                defer { try? reader.close() }
                var left = opened.existing
                while left > 0, let block = try reader.read(upToCount: min(left, 1 << 20)), !block.isEmpty {
                    started.hasher.update([UInt8](block))
                    left -= block.count
                }
                guard left == 0 else { throw WorkerError("\(opened.path) changed while it was read back") }
                started.size = opened.existing
            }
            download = started
            return .downloadOpened(ref, offset: started.size)
        } catch {
            return .downloadFailed(
                ref, reason: "cannot fetch dataset '\(ref.id)' into \(config.dataDirectory): \(error)")
        }
    }

    /// Appends a chunk; `nil`, or the failure to feed back (the file is abandoned).
    func writeChunk(_ ref: WireMessage.DatasetRef, _ bytes: [UInt8]) -> SessionEvent? {
        guard var current = download, current.ref == ref else {
            return .downloadFailed(ref, reason: "internal: no open download of dataset '\(ref.id)'")
        }
        do {
            try current.handle.write(contentsOf: bytes)
        } catch {
            abandonDownload()
            return .downloadFailed(ref, reason: "cannot write \(current.path): \(error)")
        }
        current.hasher.update(bytes)
        current.size += bytes.count
        download = current
        return nil
    }

    func finishDownload(_ ref: WireMessage.DatasetRef) -> SessionEvent {
        guard var done = download, done.ref == ref else {
            return .downloadFailed(ref, reason: "internal: no open download of dataset '\(ref.id)'")
        }
        let digest = SHA256.hex(done.hasher.finalize())
        guard digest == ref.checksum else {
            abandonDownload()
            return .downloadFailed(
                ref,
                reason: "dataset '\(ref.id)' arrived with SHA-256 \(digest), expected \(ref.checksum): "
                    + "the transfer was corrupted; the next task fetches it again")
        }
        // Read back through the locked handle and unlink before closing it: once the lock is released, another
        // worker on this host may open the same download file (see DatasetDisk.resumableDownload).
        do {
            try done.handle.seek(toOffset: 0)
            guard let data = try done.handle.readToEnd(), data.count == done.size else {
                throw WorkerError("cannot read back \(done.path)")
            }
            try disk.install(bundle: [UInt8](data), ref: ref, instance: config.instanceID)
        } catch {
            abandonDownload()
            return .downloadFailed(
                ref, reason: "cannot install dataset '\(ref.id)' into \(disk.folder(ref.id)): \(error)")
        }
        try? FileManager.default.removeItem(atPath: done.path)
        try? done.handle.close()
        download = nil
        return .datasetInstalled(ref)
    }

    func abandonDownload() {
        guard let current = download else { return }
        try? FileManager.default.removeItem(atPath: current.path)
        try? current.handle.close()
        download = nil
    }
}
