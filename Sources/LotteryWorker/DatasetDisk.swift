import Foundation
import Synchronization
public import LotteryCore
public import LotteryWire

/// The on-disk dataset cache: `<directory>/<dataset>/` with the IDX files unpacked from the coordinator's
/// bundle and `.bundle-sha256` holding the checksum of that bundle.
///
/// I/O thread only. A dataset folder is valid for a task exactly when its `.bundle-sha256` equals the
/// task's `dataset.checksum`; anything else (missing marker, another checksum) is fetched again and replaced.
public struct DatasetDisk: Sendable {
    /// Name of the file that records the bundle checksum a folder was installed from.
    static let markerName = ".bundle-sha256"

    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Whether `id` may be used as a folder name under the cache (no path separators, no dot files).
    static func isSafeID(_ id: String) -> Bool {
        DatasetBundle.isValidName(id) && !id.hasPrefix(".")
    }

    func folder(_ id: String) -> String { DataStore.folder(id, directory: directory) }

    /// The checksum `id` was installed with, or `nil` if it is not cached (or was not installed by a worker).
    func installedChecksum(_ id: String) -> String? {
        let path = (folder(id) as NSString).appendingPathComponent(Self.markerName)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let checksum = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return checksum.isEmpty ? nil : checksum
    }

    public func has(_ ref: WireMessage.DatasetRef) -> Bool {
        Self.isSafeID(ref.id) && installedChecksum(ref.id) == ref.checksum
    }

    /// Every dataset folder with a checksum marker, for HELLO.
    func cachedDatasets() -> [WireMessage.DatasetRef] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name in
            guard Self.isSafeID(name), let checksum = installedChecksum(name) else { return nil }
            return WireMessage.DatasetRef(id: name, checksum: checksum)
        }
    }

    /// A fresh temporary file for a download, in the cache folder (so the final rename stays on one file system).
    func temporaryPath(for id: String, instance: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent(".fetch-\(id)-\(instance).part")
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw WorkerError("cannot create \(path): check that the data directory is writable")
        }
        return path
    }

    /// The download file of `ref` that outlives this process, so a worker that died mid-transfer resumes where
    /// it stopped: `.fetch-<id>-<checksum>.part`, locked with `flock(2)` while this process writes to it (the
    /// kernel drops the lock when the process dies, even by kill -9). When another live worker on this host holds
    /// it, a private `.fetch-<id>-<instance>.part` is used instead, from byte 0.
    ///
    /// - Returns: the path, a handle positioned at the end of the bytes already there, and how many there are.
    ///   The last byte of an earlier partial file is dropped, so the first request always asks for at least one
    ///   byte before the end (the coordinator refuses a request at the end).
    func resumableDownload(for ref: WireMessage.DatasetRef, instance: String) throws -> (
        path: String, handle: FileHandle, existing: Int
    ) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let name = ".fetch-\(ref.id)-\(ref.checksum.prefix(16)).part"
        let path = (directory as NSString).appendingPathComponent(name)
        guard let fd = try lockShared(path) else {
            let privatePath = try temporaryPath(for: ref.id, instance: instance)
            guard let handle = FileHandle(forUpdatingAtPath: privatePath) else {
                throw WorkerError("cannot open \(privatePath) for writing")
            }
            return (privatePath, handle, 0)
        }
        var size = Int(lseek(fd, 0, SEEK_END))
        if size < 0 || size > DatasetBundle.maxTotalBytes { size = 0 }
        let existing = max(0, size - 1)
        guard ftruncate(fd, off_t(existing)) == 0, lseek(fd, off_t(existing), SEEK_SET) == off_t(existing) else {
            close(fd)
            throw WorkerError("cannot reuse \(path): \(String(cString: strerror(errno)))")
        }
        return (path, FileHandle(fileDescriptor: fd, closeOnDealloc: true), existing)
    }

    /// Opens `path` and takes its `flock`, or returns `nil` when another live process holds it.
    ///
    /// The lock is only good while `path` still names the locked file: the worker that finished with it unlinks it
    /// while holding the lock, so a process that opened the old file and got the lock after that retries on a
    /// fresh one instead of resuming into a file nobody can see.
    private func lockShared(_ path: String) throws -> Int32? {
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw WorkerError("cannot create \(path): check that the data directory is writable")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                return nil
            }
            var opened = stat()
            var named = stat()
            if fstat(fd, &opened) == 0, stat(path, &named) == 0, opened.st_ino == named.st_ino,
                opened.st_dev == named.st_dev
            {
                return fd
            }
            close(fd)
        }
        throw WorkerError("cannot lock \(path): it keeps being replaced by another process")
    }

    /// Unpacks a verified bundle into `<directory>/<id>/` and records its checksum.
    ///
    /// The files go to a hidden staging folder first, the marker last; then the staging folder replaces the
    /// old one by two renames, so a reader sees either the old or the new complete folder (and the marker
    /// is never present without its files).
    ///
    /// Several workers on one host share the cache and may finish downloading the same bundle at once. Each unpacks
    /// into its own staging folder; only the renames are done under `flock(2)` on `.install-<id>.lock` (so a worker
    /// waits at most for another's two renames, not its unpacking), and a worker that gets the lock after another
    /// installed the same checksum keeps that folder instead of replacing it.
    public func install(bundle: [UInt8], ref: WireMessage.DatasetRef, instance: String) throws {
        let fileManager = FileManager.default
        let staging = (directory as NSString).appendingPathComponent(".install-\(ref.id)-\(instance)")
        let old = (directory as NSString).appendingPathComponent(".old-\(ref.id)-\(instance)")
        try? fileManager.removeItem(atPath: staging)
        try? fileManager.removeItem(atPath: old)
        defer {
            try? fileManager.removeItem(atPath: staging)
            try? fileManager.removeItem(atPath: old)
        }
        _ = try DatasetBundle.unpack(bundle, into: URL(fileURLWithPath: staging))
        try Data((ref.checksum + "\n").utf8).write(
            to: URL(fileURLWithPath: (staging as NSString).appendingPathComponent(Self.markerName)), options: .atomic)
        let lockPath = (directory as NSString).appendingPathComponent(".install-\(ref.id).lock")
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else {
            throw WorkerError("cannot create \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw WorkerError("cannot lock \(lockPath): \(String(cString: strerror(errno)))")
            }
        }
        if installedChecksum(ref.id) == ref.checksum { return }
        let target = folder(ref.id)
        if fileManager.fileExists(atPath: target) { try fileManager.moveItem(atPath: target, toPath: old) }
        try fileManager.moveItem(atPath: staging, toPath: target)
    }
}

/// Loaded datasets and their train/validation splits, kept in memory across tasks (shared by trial threads).
///
/// Keys include the bundle checksum, so a dataset replaced on disk is never served from a stale entry.
/// Holds the last loaded dataset and the `capacity` most recently used splits (an MNIST split is ~190 MB).
public final class SplitCache: Sendable {
    private struct DatasetKey: Hashable {
        var id: String
        var checksum: String
    }

    private struct SplitKey: Hashable {
        var dataset: DatasetKey
        var seed: Int
        var validation: Int
    }

    private struct State {
        var dataset: (key: DatasetKey, train: Dataset, test: Dataset)?
        var splits: [(key: SplitKey, splits: DataSplits)] = []
    }

    private let state = Mutex(State())
    private let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// The splits of `spec` on dataset `ref` from `directory`, loading them if needed.
    ///
    /// - Throws: `IDXError` for unreadable files; ``WorkerError`` when the validation count does not fit.
    public func splits(spec: TrialSpec, ref: WireMessage.DatasetRef, directory: String) throws -> DataSplits {
        let datasetKey = DatasetKey(id: ref.id, checksum: ref.checksum)
        let key = SplitKey(dataset: datasetKey, seed: spec.splitSeed, validation: spec.data.validation)
        if let hit = state.withLock({ state -> DataSplits? in
            guard let index = state.splits.firstIndex(where: { $0.key == key }) else { return nil }
            let entry = state.splits.remove(at: index)
            state.splits.append(entry)
            return entry.splits
        }) {
            return hit
        }
        // Load outside the lock: parsing and splitting MNIST takes a while, and other slots must not wait.
        let loaded = state.withLock { state in
            state.dataset.flatMap { $0.key == datasetKey ? ($0.train, $0.test) : nil }
        }
        let (train, test) = try loaded ?? DataStore.load(ref.id, directory: directory)
        guard spec.data.validation >= 1, spec.data.validation < train.count else {
            throw WorkerError(
                "data.validation is \(spec.data.validation) but dataset '\(ref.id)' has \(train.count) training images: "
                    + "choose 1…\(train.count - 1)")
        }
        let splits = DataSplits(train: train, test: test, validationCount: spec.data.validation, seed: spec.splitSeed)
        state.withLock { state in
            state.dataset = (datasetKey, train, test)
            state.splits.removeAll { $0.key == key }
            state.splits.append((key, splits))
            if state.splits.count > capacity { state.splits.removeFirst(state.splits.count - capacity) }
        }
        return splits
    }
}
