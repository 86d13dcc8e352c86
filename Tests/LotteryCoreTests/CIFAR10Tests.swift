import Foundation
import Testing

@testable import LotteryCore

/// `lth data fetch cifar10` through its library functions, on small CIFAR-format archives the tests make.
@Suite("CIFAR-10: archive checks, conversion, shapes, normalisation")
struct CIFAR10Tests {
    /// Records per batch file of the small archive: five training batches and the test batch.
    static let trainRecords = [2, 3, 1, 2, 2]
    static let testRecords = 3

    /// The pixel byte of record `record` of batch `batch` at `(channel, y, x)`: distinct per channel and place.
    static func pixel(batch: Int, record: Int, channel: Int, y: Int, x: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: 37 * batch + 11 * record + 80 * channel + 3 * y + 5 * x)
    }

    static func label(batch: Int, record: Int) -> UInt8 { UInt8((batch * 7 + record * 3) % 10) }

    /// The bytes of one batch file (`batch` 1…5 train, 6 test).
    static func batchFile(_ batch: Int, records: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for record in 0..<records {
            bytes.append(label(batch: batch, record: record))
            for channel in 0..<3 {
                for y in 0..<32 {
                    for x in 0..<32 { bytes.append(pixel(batch: batch, record: record, channel: channel, y: y, x: x)) }
                }
            }
        }
        return bytes
    }

    /// Packs batch files into `dir/name` with `tar czf`, as the official archive is laid out.
    /// - Parameter files: member name (inside `cifar-10-batches-bin/`) → bytes; defaults to the small archive.
    @discardableResult
    static func makeArchive(in dir: String, name: String = "cifar-10-binary.tar.gz", files: [String: [UInt8]]? = nil)
        throws -> String
    {
        let source = (dir as NSString).appendingPathComponent("src-\(UUID().uuidString)")
        let batches = (source as NSString).appendingPathComponent(CIFAR10Conversion.batchFolder)
        try FileManager.default.createDirectory(atPath: batches, withIntermediateDirectories: true)
        var contents = files ?? [:]
        if files == nil {
            for (index, records) in trainRecords.enumerated() {
                contents["data_batch_\(index + 1).bin"] = batchFile(index + 1, records: records)
            }
            contents["test_batch.bin"] = batchFile(6, records: testRecords)
            contents["batches.meta.txt"] = Array("airplane\nautomobile\n".utf8)
        }
        for (member, bytes) in contents {
            try Data(bytes).write(to: URL(fileURLWithPath: (batches as NSString).appendingPathComponent(member)))
        }
        let archive = (dir as NSString).appendingPathComponent(name)
        try shell(["tar", "czf", archive, "-C", source, CIFAR10Conversion.batchFolder])
        try FileManager.default.removeItem(atPath: source)
        return archive
    }

    static func shell(_ command: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(command.joined(separator: " "))")
    }

    /// The expectation a test archive meets: its own MD5, no official class counts.
    static func expectation(_ archive: String) throws -> CIFAR10Conversion.Expectation {
        CIFAR10Conversion.Expectation(
            md5: try CIFAR10Conversion.md5(ofFile: archive), trainHistogram: nil, testHistogram: nil)
    }

    /// The data folder's entries, hidden ones included.
    static func entries(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    /// Runs `body`, which must throw a `DataError`, and returns its one-line description.
    static func failure(_ body: () throws -> Void) -> String? {
        do { try body() } catch let error as DataError { return error.description } catch {
            Issue.record("expected a DataError, got \(error)")
            return nil
        }
        Issue.record("expected a DataError, got none")
        return nil
    }

    @Test func aSmallArchiveConvertsAndLoadsWithCIFARShapeAndValues() throws {
        try withTemporaryDirectory { dir in
            let archive = try Self.makeArchive(in: dir)
            let data = (dir as NSString).appendingPathComponent("data")
            let counts = try CIFAR10Conversion.install(
                archive: archive, directory: data, expected: Self.expectation(archive))
            #expect(counts.train == 10 && counts.test == 3)
            // Only the finished folder is left: no scratch, no extracted batches.
            #expect(try Self.entries(data) == ["cifar10"])
            let folder = DataStore.folder("cifar10", directory: data)
            #expect(try Self.entries(folder) == (DataStore.fileNames + ["SHA256SUMS"]).sorted())
            #expect(MNISTConversion.verify(folder: folder) == nil)

            // The image file is IDX4 [N, 3, 32, 32], records in batch order, pixels as in the archive (CHW).
            let images = try IDX.readImages(at: (folder as NSString).appendingPathComponent(DataStore.fileNames[0]))
            #expect(images.count == 10 && images.shape == .cifar10)
            let header = [UInt8](
                FileManager.default.contents(
                    atPath: (folder as NSString).appendingPathComponent(DataStore.fileNames[0]))!.prefix(20))
            #expect(header == [0, 0, 8, 4, 0, 0, 0, 10, 0, 0, 0, 3, 0, 0, 0, 32, 0, 0, 0, 32])
            // Record 2 of the training file is record 0 of data_batch_2; check green (1) at y 5, x 7.
            #expect(
                images.pixels[2 * 3072 + 1 * 1024 + 5 * 32 + 7]
                    == Self.pixel(batch: 2, record: 0, channel: 1, y: 5, x: 7))
            let labels = try IDX.readLabels(at: (folder as NSString).appendingPathComponent(DataStore.fileNames[1]))
            var expectedLabels: [UInt8] = []
            for (index, records) in Self.trainRecords.enumerated() {
                for record in 0..<records { expectedLabels.append(Self.label(batch: index + 1, record: record)) }
            }
            #expect(labels == expectedLabels)

            // DataStore.load: the CIFAR shape, and per-channel standardisation by the training file's statistics.
            let (train, test) = try DataStore.load("cifar10", directory: data)
            #expect(train.shape == .cifar10 && test.shape == .cifar10 && train.features == 3072)
            #expect(train.count == 10 && test.count == 3 && train.labels == expectedLabels)
            #expect(test.labels == (0..<3).map { Self.label(batch: 6, record: $0) })
            for channel in 0..<3 {
                var values: [Double] = []
                for image in 0..<10 {
                    for index in 0..<1024 {
                        values.append(Double(images.pixels[image * 3072 + channel * 1024 + index]) / 255)
                    }
                }
                let mean = values.reduce(0, +) / Double(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
                let (y, x) = (9, 4)
                let raw = Double(Self.pixel(batch: 6, record: 1, channel: channel, y: y, x: x)) / 255
                let loaded = test.images[1 * 3072 + channel * 1024 + y * 32 + x]
                #expect(abs(Double(loaded) - (raw - mean) / std) < 1e-5)
                // The normalised training images have mean 0 and standard deviation 1 per channel.
                var sum = 0.0, squares = 0.0
                for image in 0..<10 {
                    for index in 0..<1024 {
                        let value = Double(train.images[image * 3072 + channel * 1024 + index])
                        sum += value
                        squares += value * value
                    }
                }
                #expect(abs(sum / 10240) < 1e-5 && abs(squares / 10240 - 1) < 1e-4)
            }
            // The same bytes give the same floats every time (every worker computes the same table).
            #expect(try DataStore.load("cifar10", directory: data).train.images == train.images)
            let summary = try DataStore.check("cifar10", directory: data)
            #expect(summary.shape == .cifar10 && summary.trainCount == 10 && summary.testCount == 3)
            #expect(summary.normalization == .perChannelStandardization)
        }
    }

    @Test func aFreshConversionReplacesTheOldFolderOnlyWhenItSucceeds() throws {
        try withTemporaryDirectory { dir in
            let data = (dir as NSString).appendingPathComponent("data")
            let first = try Self.makeArchive(in: dir, name: "first.tar.gz")
            try CIFAR10Conversion.install(archive: first, directory: data, expected: Self.expectation(first))
            let sums = try String(contentsOfFile: data + "/cifar10/SHA256SUMS", encoding: .utf8)
            // A failing conversion leaves the old folder as it was.
            var files: [String: [UInt8]] = [:]
            for index in 1...5 { files["data_batch_\(index).bin"] = Self.batchFile(index, records: 1) }
            files["test_batch.bin"] = Self.batchFile(6, records: 1) + [7]
            let bad = try Self.makeArchive(in: dir, name: "bad.tar.gz", files: files)
            _ = Self.failure {
                try CIFAR10Conversion.install(archive: bad, directory: data, expected: Self.expectation(bad))
            }
            #expect(try String(contentsOfFile: data + "/cifar10/SHA256SUMS", encoding: .utf8) == sums)
            #expect(try Self.entries(data) == ["cifar10"])
            // A good one replaces it.
            files["test_batch.bin"] = Self.batchFile(6, records: 4)
            let second = try Self.makeArchive(in: dir, name: "second.tar.gz", files: files)
            let counts = try CIFAR10Conversion.install(
                archive: second, directory: data, expected: Self.expectation(second))
            #expect(counts.train == 5 && counts.test == 4)
            #expect(try DataStore.check("cifar10", directory: data).testCount == 4)
            #expect(try Self.entries(data) == ["cifar10"])
        }
    }

    @Test func aWrongChecksumIsOneLineAndWritesNothing() throws {
        try withTemporaryDirectory { dir in
            let archive = try Self.makeArchive(in: dir)
            let data = (dir as NSString).appendingPathComponent("data")
            // The public entry point always checks against the official MD5, which a test archive cannot have.
            let message = Self.failure { try CIFAR10Conversion.install(archive: archive, directory: data) }
            #expect(message?.contains(archive) == true)
            #expect(message?.contains("expected \(CIFAR10Conversion.archiveMD5)") == true)
            #expect(message?.contains("\n") == false)
            #expect(!FileManager.default.fileExists(atPath: data))
            // So does the fetch entry point with --from.
            let viaFetch = Self.failure {
                try CIFAR10Conversion.fetch(directory: data, from: archive, showProgress: false)
            }
            #expect(viaFetch == message)
            // A missing file names itself.
            let missing = Self.failure {
                try CIFAR10Conversion.install(archive: dir + "/absent.tar.gz", directory: data)
            }
            #expect(missing?.contains("absent.tar.gz: does not exist") == true)
        }
    }

    @Test func aTruncatedArchiveIsOneLineAndWritesNothing() throws {
        try withTemporaryDirectory { dir in
            let archive = try Self.makeArchive(in: dir)
            let whole = try Self.expectation(archive)
            let bytes = [UInt8](FileManager.default.contents(atPath: archive)!)
            let truncated = (dir as NSString).appendingPathComponent("truncated.tar.gz")
            try Data(bytes[..<(bytes.count * 2 / 3)]).write(to: URL(fileURLWithPath: truncated))
            let data = (dir as NSString).appendingPathComponent("data")
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            // Against the whole archive's checksum: the MD5 tells.
            let byChecksum = Self.failure {
                try CIFAR10Conversion.install(archive: truncated, directory: data, expected: whole)
            }
            #expect(byChecksum?.contains("truncated.tar.gz: MD5 is") == true)
            // Even with a matching checksum, unpacking tells, naming the archive, on one line.
            let byTar = Self.failure {
                try CIFAR10Conversion.install(
                    archive: truncated, directory: data, expected: Self.expectation(truncated))
            }
            #expect(byTar?.contains("truncated.tar.gz: cannot be unpacked (tar exit status") == true)
            #expect(byTar?.contains("\n") == false)
            #expect(try Self.entries(data).isEmpty)
        }
    }

    @Test func aBatchOfPartialRecordsNamesTheFile() throws {
        try withTemporaryDirectory { dir in
            var files: [String: [UInt8]] = [:]
            for index in 1...5 { files["data_batch_\(index).bin"] = Self.batchFile(index, records: 2) }
            files["data_batch_3.bin"]!.removeLast(10)
            files["test_batch.bin"] = Self.batchFile(6, records: 2)
            let archive = try Self.makeArchive(in: dir, files: files)
            let data = (dir as NSString).appendingPathComponent("data")
            let message = Self.failure {
                try CIFAR10Conversion.install(archive: archive, directory: data, expected: Self.expectation(archive))
            }
            #expect(
                message?.hasPrefix(
                    "cifar-10-batches-bin/data_batch_3.bin in \(archive): has 6136 bytes, not a whole number of 3073-byte records"
                ) == true)
            #expect(message?.contains("\n") == false)
            #expect(try Self.entries(data).isEmpty)
        }
    }

    @Test func aMissingBatchABadLabelAndWrongClassCountsAreOneLineErrors() throws {
        try withTemporaryDirectory { dir in
            let data = (dir as NSString).appendingPathComponent("data")
            var files: [String: [UInt8]] = [:]
            for index in 1...5 { files["data_batch_\(index).bin"] = Self.batchFile(index, records: 2) }
            let noTest = try Self.makeArchive(in: dir, name: "no-test.tar.gz", files: files)
            let missing = Self.failure {
                try CIFAR10Conversion.install(archive: noTest, directory: data, expected: Self.expectation(noTest))
            }
            #expect(missing?.contains("no-test.tar.gz: cannot be unpacked") == true)
            #expect(missing?.contains("test_batch.bin") == true && missing?.contains("\n") == false)

            files["test_batch.bin"] = Self.batchFile(6, records: 2)
            files["test_batch.bin"]![3073] = 10
            let badLabel = try Self.makeArchive(in: dir, name: "bad-label.tar.gz", files: files)
            let label = Self.failure {
                try CIFAR10Conversion.install(archive: badLabel, directory: data, expected: Self.expectation(badLabel))
            }
            #expect(
                label?.hasPrefix("cifar-10-batches-bin/test_batch.bin in \(badLabel): record 1 has label 10") == true)

            files["test_batch.bin"] = Self.batchFile(6, records: 2)
            let good = try Self.makeArchive(in: dir, name: "good.tar.gz", files: files)
            var expected = try Self.expectation(good)
            expected.trainHistogram = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
            let histogram = Self.failure {
                try CIFAR10Conversion.install(archive: good, directory: data, expected: expected)
            }
            #expect(histogram?.contains("the training batches hold") == true)
            let left = FileManager.default.fileExists(atPath: data) ? try Self.entries(data) : []
            #expect(left.isEmpty)
        }
    }

    @Test func aDownloadResumesFromItsPartialFileAndIsRemovedAfterwards() throws {
        // A file:// URL stands in for the official one: curl resumes it the same way, and nothing leaves the machine.
        try withTemporaryDirectory { dir in
            let archive = try Self.makeArchive(in: dir)
            let expected = try Self.expectation(archive)
            let data = (dir as NSString).appendingPathComponent("data")
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let partial = (data as NSString).appendingPathComponent(CIFAR10Conversion.partialName)
            let bytes = [UInt8](FileManager.default.contents(atPath: archive)!)
            try Data(bytes[..<(bytes.count / 2)]).write(to: URL(fileURLWithPath: partial))
            let url = URL(fileURLWithPath: archive).absoluteString
            let counts = try CIFAR10Conversion.fetch(
                directory: data, from: nil, url: url, expected: expected, showProgress: false)
            #expect(counts.train == 10 && counts.test == 3)
            #expect(try Self.entries(data) == ["cifar10"])

            // A download that cannot start is one line naming the URL and pointing at --from.
            let absent = URL(fileURLWithPath: dir + "/absent.tar.gz").absoluteString
            let message = Self.failure {
                try CIFAR10Conversion.fetch(
                    directory: data, from: nil, url: absent, expected: expected, showProgress: false)
            }
            #expect(message?.hasPrefix("\(absent): the download failed (curl exit status") == true)
            #expect(message?.contains("--from FILE") == true && message?.contains("\n") == false)

            // A partial file longer than the archive cannot be resumed: it is deleted, and the next run starts afresh.
            try Data(bytes + bytes).write(to: URL(fileURLWithPath: partial))
            let unresumable = Self.failure {
                try CIFAR10Conversion.fetch(
                    directory: data, from: nil, url: url, expected: expected, showProgress: false)
            }
            #expect(unresumable?.contains("could not be resumed and was deleted") == true)
            #expect(!FileManager.default.fileExists(atPath: partial))

            // A complete download with the wrong content is deleted, so the next run starts afresh.
            try FileManager.default.removeItem(atPath: data + "/cifar10")
            var other = expected
            other.md5 = String(repeating: "0", count: 32)
            let damaged = Self.failure {
                try CIFAR10Conversion.fetch(directory: data, from: nil, url: url, expected: other, showProgress: false)
            }
            #expect(damaged?.contains("the download's MD5 is") == true)
            #expect(try Self.entries(data).isEmpty)
        }
    }

    @Test func shapesAreCheckedAgainstTheDataSet() throws {
        try withTemporaryDirectory { dir in
            // MNIST-shaped files in the cifar10 folder, and CIFAR-shaped files in the mnist folder.
            let mnistImages = IDX.Images(count: 2, rows: 28, cols: 28, pixels: [UInt8](repeating: 1, count: 2 * 784))
            let cifarImages = IDX.Images(
                count: 2, channels: 3, rows: 32, cols: 32, pixels: [UInt8](repeating: 1, count: 2 * 3072))
            for (name, images) in [("cifar10", mnistImages), ("mnist", cifarImages)] {
                let folder = DataStore.folder(name, directory: dir)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for prefix in ["train", "t10k"] {
                    try IDX.write(images, to: folder + "/\(prefix)-images-idx3-ubyte")
                    try IDX.write(labels: [1, 2], to: folder + "/\(prefix)-labels-idx1-ubyte")
                }
            }
            for (name, have, need) in [("cifar10", "1x28x28", "3x32x32"), ("mnist", "3x32x32", "1x28x28")] {
                do {
                    _ = try DataStore.load(name, directory: dir)
                    Issue.record("\(name) loaded with the wrong shape")
                } catch let error as IDXError {
                    #expect(
                        error.description.hasPrefix(
                            "\(dir)/\(name)/train-images-idx3-ubyte has bad dimensions: images are \(have) (CxHxW), \(name) needs \(need)"
                        ))
                    #expect(!error.description.contains("\n"))
                }
            }
            #expect(
                DataStore.expectedShape("fashion-mnist") == .mnist && DataStore.expectedShape("cifar10") == .cifar10)
        }
    }

    @Test func idx4RoundTripsAndEveryTruncationIsNamed() throws {
        let images = IDX.Images(
            count: 2, channels: 3, rows: 4, cols: 5, pixels: (0..<120).map { UInt8($0) })
        let bytes = IDX.encode(images)
        #expect(bytes.count == 20 + 120 && bytes[3] == 4)
        #expect(try IDX.parseImages(bytes, file: "f") == images)
        for length in [0, 3, 4, 11, 19, 20, 139] {
            do {
                _ = try IDX.parseImages(Array(bytes[..<length]), file: "f")
                Issue.record("a truncation to \(length) bytes parsed")
            } catch {
                #expect(error.file == "f")
            }
        }
        // Reading from disk gives the same images and, for every truncation or extension, the same error.
        try withTemporaryDirectory { dir in
            let path = (dir as NSString).appendingPathComponent("images")
            for variant in [bytes, Array(bytes[..<3]), Array(bytes[..<19]), Array(bytes[..<20]), bytes + [0]] {
                try Data(variant).write(to: URL(fileURLWithPath: path))
                let fromDisk = Result { () throws(IDXError) in try IDX.readImages(at: path) }
                let inMemory = Result { () throws(IDXError) in try IDX.parseImages(variant, file: path) }
                #expect(fromDisk == inMemory)
            }
        }
        // One channel stays IDX3, byte for byte what MNIST files always were.
        let grey = IDX.Images(count: 1, rows: 2, cols: 2, pixels: [1, 2, 3, 4])
        #expect(IDX.encode(grey) == [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4])
    }

    @Test func mnistInputsStayBitIdentical() throws {
        // The [0, 1] table must give exactly the floats MNIST results were produced with.
        let pixels = (0..<(3 * 784)).map { UInt8($0 % 256) }
        let labels: [UInt8] = [1, 2, 3]
        let old = Dataset(pixels: pixels, labels: labels, features: 784)
        let new = PixelNormalizer(.unitRange, trainingPixels: pixels, shape: .mnist)
            .dataset(pixels: pixels, labels: labels, shape: .mnist)
        #expect(old.images == new.images && old.shape == new.shape)
        #expect(
            DataStore.normalization("mnist") == .unitRange && DataStore.normalization("fashion-mnist") == .unitRange)
    }
}
