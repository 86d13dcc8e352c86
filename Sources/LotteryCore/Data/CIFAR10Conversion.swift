import Foundation

/// Turning the official CIFAR-10 archive (Krizhevsky 2009, binary version) into `DATA_DIR/cifar10/`.
///
/// The binary archive `cifar-10-binary.tar.gz` holds `cifar-10-batches-bin/data_batch_1.bin … data_batch_5.bin`
/// (50,000 training images) and `test_batch.bin` (10,000 test images): records of 1 label byte (0…9) and 3,072
/// pixel bytes, the red plane, then green, then blue, each 32×32 row-major — already CHW. The archive is checked
/// against the MD5 its publisher lists, the records are copied into IDX files under ``DataStore/fileNames``
/// (images as IDX4 `[N, 3, 32, 32]`, labels as IDX1) with `SHA256SUMS`, in a scratch folder inside the data
/// folder, and that folder is renamed to `cifar10` only when everything has been checked and written: a failure
/// leaves the data folder as it was. Memory stays at one batch file (30 MB) at a time.
///
/// Only the binary version is read: the python version (`cifar-10-python.tar.gz`) holds pickled NumPy arrays, and
/// is recognised by its MD5 and refused with a pointer to the binary one.
public enum CIFAR10Conversion {
    /// The data set's folder name under the data directory.
    public static let name = "cifar10"
    public static let archiveName = "cifar-10-binary.tar.gz"
    /// Where its authors publish the archive (https://www.cs.toronto.edu/~kriz/cifar.html).
    public static let url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    /// The md5sum of `cifar-10-binary.tar.gz` listed on the official page (https://www.cs.toronto.edu/~kriz/cifar.html).
    public static let archiveMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
    /// The md5sum of the python version `cifar-10-python.tar.gz` on the same page (also torchvision's `tgz_md5`).
    public static let pythonArchiveMD5 = "c58f30108f718f92721af3b95e74349a"
    public static let pythonArchiveName = "cifar-10-python.tar.gz"
    /// The folder inside the archive.
    public static let batchFolder = "cifar-10-batches-bin"
    public static let trainBatches = (1...5).map { "data_batch_\($0).bin" }
    public static let testBatch = "test_batch.bin"
    /// Bytes per record: 1 label + 3 × 32 × 32 pixels.
    public static let recordBytes = 1 + InputShape.cifar10.features
    /// Images per class in the official training batches together (5,000) and in the test batch (1,000).
    public static let trainHistogram = [Int](repeating: 5000, count: 10)
    public static let testHistogram = [Int](repeating: 1000, count: 10)
    /// The hidden file in the data folder that a download goes to (and resumes from) until it is converted.
    public static let partialName = ".cifar-10-binary.tar.gz.part"

    /// What an archive must match: the official values, or (tests only) those of an archive a test made.
    struct Expectation: Sendable {
        var md5: String
        /// Images per class, checked when set (the official archive's; a test archive has its own).
        var trainHistogram: [Int]?
        var testHistogram: [Int]?

        static let official = Expectation(
            md5: CIFAR10Conversion.archiveMD5, trainHistogram: CIFAR10Conversion.trainHistogram,
            testHistogram: CIFAR10Conversion.testHistogram)
    }

    /// Gets CIFAR-10 into `directory/cifar10/`: from `archive` if given (a copy the user already has), else by
    /// downloading ``url`` with `curl` into ``partialName`` in `directory` (resumed if a previous download broke
    /// off); then ``install(archive:directory:progress:)``. The download is deleted once converted, or when it
    /// turns out damaged (its MD5 is wrong), so the next run starts afresh.
    ///
    /// - Parameters:
    ///   - showProgress: let curl draw its progress bar on stderr (pass whether stderr is a terminal).
    ///   - progress: `(stage, fraction)` of the checks and the conversion.
    /// - Returns: the training and test image counts written.
    /// - Throws: ``DataError``: one line naming the file (or URL) and what was wrong.
    @discardableResult
    public static func fetch(
        directory: String, from archive: String?, showProgress: Bool,
        progress: ((String, Double) -> Void)? = nil
    ) throws -> (train: Int, test: Int) {
        try fetch(
            directory: directory, from: archive, url: url, expected: .official, showProgress: showProgress,
            progress: progress)
    }

    /// ``fetch(directory:from:showProgress:progress:)`` with the URL and expected values given (tests).
    @discardableResult
    static func fetch(
        directory: String, from archive: String?, url: String, expected: Expectation, showProgress: Bool,
        progress: ((String, Double) -> Void)? = nil
    ) throws -> (train: Int, test: Int) {
        if let archive {
            return try install(archive: archive, directory: directory, expected: expected, progress: progress)
        }
        let partial = try download(url: url, directory: directory, expected: expected, showProgress: showProgress)
        do {
            let counts = try install(archive: partial, directory: directory, expected: expected, progress: progress)
            try? FileManager.default.removeItem(atPath: partial)
            return counts
        } catch let error as DataError where error.file == partial && error.message.hasPrefix("MD5") {
            try? FileManager.default.removeItem(atPath: partial)
            throw DataError(
                file: url, message: "the download's \(error.message)",
                hint: "it was deleted; run `lth data fetch cifar10` again, or pass a good copy with --from FILE")
        }
    }

    /// Downloads `url` into `directory/`+``partialName`` with `curl -fL -C -` (resuming a partial file), unless
    /// the partial file is already complete. Returns its path.
    static func download(url: String, directory: String, expected: Expectation, showProgress: Bool) throws -> String {
        let fileManager = FileManager.default
        do { try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw DataError(
                file: directory, message: "cannot create the data folder (\(error.localizedDescription))",
                hint: "pass a writable folder with --data-dir")
        }
        let partial = (directory as NSString).appendingPathComponent(partialName)
        if fileManager.fileExists(atPath: partial), (try? md5(ofFile: partial)) == expected.md5 { return partial }
        let errors = partial + ".curl-stderr"
        defer { try? fileManager.removeItem(atPath: errors) }
        let status = try run(
            ["curl", "-fL", "--retry", "3", "-C", "-", showProgress ? "--progress-bar" : "-sS", "-o", partial, url],
            stderrFile: showProgress ? nil : errors)
        guard status == 0 else {
            let detail = firstLine(ofFile: errors).map { ": \($0)" } ?? ""
            let what =
                status == 127
                ? "curl is not installed (apt-get install curl)"
                : "the download failed (curl exit status \(status)\(detail))"
            var resumable = fileManager.fileExists(atPath: partial) ? "; running the command again resumes it" : ""
            // The server refused the range (HTTP 416 → 22 with -f, 33) or the file is shorter than the partial
            // one (36): the partial file is not a prefix of the archive, so resuming it can never succeed.
            if [22, 33, 36].contains(status), resumable != "" {
                try? fileManager.removeItem(atPath: partial)
                resumable =
                    "; the partial download could not be resumed and was deleted, running the command again starts afresh"
            }
            throw DataError(
                file: url, message: what + resumable,
                hint: "or download \(archiveName) on a machine that can and pass it with --from FILE")
        }
        return partial
    }

    /// Checks `archive`, converts it and puts the result at `directory/cifar10/` (replacing what was there only
    /// once everything succeeded).
    ///
    /// - Returns: the training and test image counts written.
    /// - Throws: ``DataError`` naming the archive or the batch file and what was wrong; the data folder is then as
    ///   it was (no `cifar10` folder half written, no scratch left).
    @discardableResult
    public static func install(archive: String, directory: String, progress: ((String, Double) -> Void)? = nil) throws
        -> (train: Int, test: Int)
    {
        try install(archive: archive, directory: directory, expected: .official, progress: progress)
    }

    @discardableResult
    static func install(
        archive: String, directory: String, expected: Expectation, progress: ((String, Double) -> Void)? = nil
    ) throws -> (train: Int, test: Int) {
        let fileManager = FileManager.default
        progress?("checking the MD5 of \((archive as NSString).lastPathComponent)", 0)
        let digest = try md5(ofFile: archive) {
            progress?("checking the MD5 of \((archive as NSString).lastPathComponent)", $0)
        }
        guard digest == expected.md5 else {
            if digest == pythonArchiveMD5 {
                throw DataError(
                    file: archive,
                    message:
                        "is the python version of CIFAR-10 (\(pythonArchiveName)); only the binary version is read",
                    hint: "download \(archiveName) from \(url) and pass that")
            }
            throw DataError(
                file: archive, message: "MD5 is \(digest), expected \(expected.md5) (the official \(archiveName))",
                hint: "the file is damaged, incomplete or not \(archiveName): download it again")
        }
        do { try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw DataError(
                file: directory, message: "cannot create the data folder (\(error.localizedDescription))",
                hint: "pass a writable folder with --data-dir")
        }
        let scratch = (directory as NSString).appendingPathComponent(".\(name)-fetch-\(UUID().uuidString)")
        defer { try? fileManager.removeItem(atPath: scratch) }
        let unpacked = (scratch as NSString).appendingPathComponent("unpacked")
        let converted = (scratch as NSString).appendingPathComponent(name)
        try fileManager.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        try fileManager.createDirectory(atPath: converted, withIntermediateDirectories: true)

        progress?("unpacking", 0)
        let members = (trainBatches + [testBatch]).map { "\(batchFolder)/\($0)" }
        let tarErrors = (scratch as NSString).appendingPathComponent("tar-stderr")
        let status = try run(
            ["tar", "-xzf", archive, "-C", unpacked, "--no-same-owner", "--no-same-permissions"] + members,
            stderrFile: tarErrors)
        guard status == 0 else {
            let detail = firstLine(ofFile: tarErrors) ?? "no message"
            throw DataError(
                file: archive,
                message: status == 127
                    ? "tar is not installed" : "cannot be unpacked (tar exit status \(status): \(detail))",
                hint: "the archive is damaged or not \(archiveName): download it again")
        }

        let trainPaths = trainBatches.map { (unpacked as NSString).appendingPathComponent("\(batchFolder)/\($0)") }
        let testPath = (unpacked as NSString).appendingPathComponent("\(batchFolder)/\(testBatch)")
        let label = { (path: String) in
            "\(batchFolder)/\((path as NSString).lastPathComponent) in \(archive)"
        }
        // Every size first: the IDX headers need the counts, and a bad file should fail before anything is written.
        var records: [String: Int] = [:]
        for path in trainPaths + [testPath] {
            let attributes = try? fileManager.attributesOfItem(atPath: path)
            guard let attributes, attributes[.type] as? FileAttributeType == .typeRegular,
                let size = (attributes[.size] as? NSNumber)?.intValue
            else {
                throw DataError(
                    file: label(path), message: "is missing or not a regular file", hint: "download the archive again")
            }
            guard size > 0, size % recordBytes == 0 else {
                throw DataError(
                    file: label(path),
                    message:
                        "has \(size) bytes, not a whole number of \(recordBytes)-byte records (1 label + \(recordBytes - 1) pixels)",
                    hint: "the archive is damaged or not \(archiveName): download it again")
            }
            records[path] = size / recordBytes
        }
        let trainCount = trainPaths.reduce(0) { $0 + records[$1]! }
        let testCount = records[testPath]!
        let total = Double(trainCount + testCount)
        var done = 0
        var sums = ""
        for (prefix, paths, count, histogram) in [
            ("train", trainPaths, trainCount, expected.trainHistogram),
            ("t10k", [testPath], testCount, expected.testHistogram),
        ] {
            let imagesName = "\(prefix)-images-idx3-ubyte", labelsName = "\(prefix)-labels-idx1-ubyte"
            var images = try HashingWriter(path: (converted as NSString).appendingPathComponent(imagesName))
            var labels = try HashingWriter(path: (converted as NSString).appendingPathComponent(labelsName))
            try images.write(IDX.imagesHeader(count: count, shape: .cifar10))
            try labels.write(IDX.labelsHeader(count: count))
            var counts = [Int](repeating: 0, count: 10)
            for path in paths {
                progress?("converting \((path as NSString).lastPathComponent)", Double(done) / total)
                guard let data = fileManager.contents(atPath: path) else {
                    throw DataError(file: label(path), message: "cannot be read", hint: "check the disk")
                }
                let bytes = [UInt8](data)
                var labelBytes = [UInt8](repeating: 0, count: bytes.count / recordBytes)
                var pixels = [UInt8](repeating: 0, count: labelBytes.count * (recordBytes - 1))
                for record in 0..<labelBytes.count {
                    let value = bytes[record * recordBytes]
                    guard value < 10 else {
                        throw DataError(
                            file: label(path), message: "record \(record) has label \(value); CIFAR-10 labels are 0…9",
                            hint: "the archive is damaged or not \(archiveName): download it again")
                    }
                    counts[Int(value)] += 1
                    labelBytes[record] = value
                    let from = record * recordBytes + 1
                    pixels.withUnsafeMutableBufferPointer { target in
                        bytes.withUnsafeBufferPointer { source in
                            (target.baseAddress! + record * (recordBytes - 1)).update(
                                from: source.baseAddress! + from, count: recordBytes - 1)
                        }
                    }
                }
                try images.write(pixels)
                try labels.write(labelBytes)
                done += labelBytes.count
            }
            if let histogram, counts != histogram {
                throw DataError(
                    file: archive,
                    message:
                        "the \(prefix == "train" ? "training" : "test") batches hold \(counts) images per class, the official CIFAR-10 \(histogram)",
                    hint: "download \(archiveName) again")
            }
            sums += "\(try images.close())  \(imagesName)\n\(try labels.close())  \(labelsName)\n"
        }
        // SHA256SUMS in DataStore.fileNames order, as MNISTConversion.writeChecksums writes it.
        let lines = sums.split(separator: "\n").map(String.init)
        let ordered = DataStore.fileNames.compactMap { name in lines.first { $0.hasSuffix("  " + name) } }
        try (ordered.joined(separator: "\n") + "\n").write(
            toFile: (converted as NSString).appendingPathComponent("SHA256SUMS"), atomically: true, encoding: .utf8)
        progress?("installing", 1)
        try? fileManager.removeItem(atPath: unpacked)  // free the disk before the rename
        let target = DataStore.folder(name, directory: directory)
        let old = (scratch as NSString).appendingPathComponent("old")
        if fileManager.fileExists(atPath: target) { try fileManager.moveItem(atPath: target, toPath: old) }
        do { try fileManager.moveItem(atPath: converted, toPath: target) } catch {
            if fileManager.fileExists(atPath: old) { try? fileManager.moveItem(atPath: old, toPath: target) }
            throw DataError(
                file: target, message: "cannot be put in place (\(error.localizedDescription))",
                hint: "check the data folder")
        }
        return (trainCount, testCount)
    }

    /// The MD5 of a file, read 1 MiB at a time.
    ///
    /// - Parameter progress: the fraction of the file read so far.
    public static func md5(ofFile path: String, progress: ((Double) -> Void)? = nil) throws(DataError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw DataError(
                file: path, message: exists ? "cannot be read (permission denied or not a file)" : "does not exist",
                hint: "check the path")
        }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.doubleValue ?? 0
        var hasher = MD5()
        var read = 0.0
        var nextReport = 0.0
        while true {
            let chunk: Data?
            do { chunk = try handle.read(upToCount: 1 << 20) } catch {
                throw DataError(
                    file: path, message: "cannot be read (\(error.localizedDescription))", hint: "check the disk")
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(chunk)
            read += Double(chunk.count)
            if let progress, size > 0, read >= nextReport {
                progress(read / size)
                nextReport = read + size / 50
            }
        }
        return SHA256.hex(hasher.finalize())
    }

    /// Runs `command` (found on PATH) with no input, stdout discarded, stderr to `stderrFile` (or inherited);
    /// returns its exit status (127: not found).
    private static func run(_ command: [String], stderrFile: String?) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        var errorHandle: FileHandle?
        if let stderrFile {
            _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
            errorHandle = FileHandle(forWritingAtPath: stderrFile)
            process.standardError = errorHandle
        }
        defer { try? errorHandle?.close() }
        do { try process.run() } catch {
            throw DataError(
                file: command[0], message: "cannot be started (\(error.localizedDescription))", hint: "check PATH")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    private static func firstLine(ofFile path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.first {
            !$0.isEmpty
        }
    }
}

/// A file written in pieces whose SHA-256 is computed on the way (no second read).
private struct HashingWriter {
    let path: String
    private let handle: FileHandle
    private var hasher = SHA256()

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw DataError(file: path, message: "cannot be created", hint: "check that the data folder is writable")
        }
        self.handle = handle
    }

    mutating func write(_ bytes: [UInt8]) throws {
        hasher.update(bytes)
        do { try handle.write(contentsOf: bytes) } catch {
            throw DataError(
                file: path, message: "cannot be written (\(error.localizedDescription))", hint: "check free disk space")
        }
    }

    /// Flushes to disk, closes, and returns the file's SHA-256 (hex).
    mutating func close() throws -> String {
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw DataError(
                file: path, message: "cannot be written (\(error.localizedDescription))", hint: "check free disk space")
        }
        return SHA256.hex(hasher.finalize())
    }
}
