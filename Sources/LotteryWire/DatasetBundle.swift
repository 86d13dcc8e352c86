public import Foundation
import LotteryCore

/// The byte format in which the coordinator serves a dataset to workers (DATA_REQUEST / DATA_CHUNK).
///
/// A bundle is a small container of named files, so one dataset id and one checksum cover every file a
/// dataset needs (MNIST: four IDX files). Layout, all integers big-endian:
///
/// ```
/// "LTDB" (4 bytes) · version u16 (= 1) · file count u16 (1…16)
/// per file: name length u8 (1…255) · name (UTF-8) · byte count u64
/// then the files' bytes, concatenated in the same order
/// ```
///
/// The total length must equal the header plus the declared byte counts exactly. Names are plain file names
/// (no `/`, no `\`, not `.` or `..`, no NUL or control characters, unique), so a worker can write them into a
/// cache folder without escaping it. ``unpack(_:)`` is total: hostile bytes give a ``DatasetBundleError``,
/// never a trap, and it allocates no more than the input's size.
///
/// The checksum a ``WireMessage/DatasetRef`` carries is ``checksum(_:)`` of the packed bytes.
public enum DatasetBundle {
    /// The first four bytes of every bundle: `"LTDB"`.
    public static let magic: [UInt8] = Array("LTDB".utf8)
    /// The format version written by ``pack(files:)``; the only one ``unpack(_:)`` reads.
    public static let version: UInt16 = 1
    /// Most files in one bundle.
    public static let maxFiles = 16
    /// Longest file name, in UTF-8 bytes.
    public static let maxNameBytes = 255
    /// Largest bundle, header included: 512 MiB.
    public static let maxTotalBytes = 512 << 20

    /// The IDX files of an MNIST-style dataset, as `lth data fetch` writes them into `DATA_DIR/<dataset>/`.
    public static let idxFileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// Packs files into a bundle.
    ///
    /// - Parameter files: the files in the order they are stored; names must be valid (see ``isValidName(_:)``)
    ///   and unique, at most ``maxFiles`` of them, ``maxTotalBytes`` in all. Violations are programmer errors.
    /// - Returns: the bundle's bytes.
    public static func pack(files: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        precondition(
            !files.isEmpty && files.count <= maxFiles, "DatasetBundle: 1…\(maxFiles) files, got \(files.count)")
        precondition(Set(files.map(\.name)).count == files.count, "DatasetBundle: duplicate file names")
        for file in files {
            precondition(isValidName(file.name), "DatasetBundle: invalid file name '\(file.name)'")
        }
        var out: [UInt8] = magic
        appendBE(&out, UInt64(version), bytes: 2)
        appendBE(&out, UInt64(files.count), bytes: 2)
        for file in files {
            let name = Array(file.name.utf8)
            out.append(UInt8(name.count))
            out += name
            appendBE(&out, UInt64(file.bytes.count), bytes: 8)
        }
        for file in files { out += file.bytes }
        precondition(out.count <= maxTotalBytes, "DatasetBundle: \(out.count) bytes exceed \(maxTotalBytes)")
        return out
    }

    /// Unpacks a bundle, checking every field before trusting it.
    ///
    /// - Parameter bytes: a whole bundle, e.g. a dataset fetched chunk by chunk and verified by ``checksum(_:)``.
    /// - Returns: the files, in stored order.
    /// - Throws: ``DatasetBundleError`` saying what was wrong and at which byte offset.
    public static func unpack(_ bytes: [UInt8]) throws(DatasetBundleError) -> [(name: String, bytes: [UInt8])] {
        guard bytes.count <= maxTotalBytes else {
            throw DatasetBundleError("bundle has \(bytes.count) bytes, more than the limit of \(maxTotalBytes)")
        }
        guard bytes.count >= 8 else {
            throw DatasetBundleError("bundle has \(bytes.count) bytes, shorter than its 8-byte header")
        }
        guard Array(bytes[0..<4]) == magic else {
            throw DatasetBundleError("bundle does not start with \"LTDB\": not a LotteryTickets dataset bundle")
        }
        let version = readBE(bytes, at: 4, bytes: 2)
        guard version == UInt64(Self.version) else {
            throw DatasetBundleError(
                "bundle format version \(version), this build reads \(Self.version): "
                    + "run the same LotteryTickets release on coordinator and workers")
        }
        let count = Int(readBE(bytes, at: 6, bytes: 2))
        guard (1...maxFiles).contains(count) else {
            throw DatasetBundleError("bundle declares \(count) files, expected 1…\(maxFiles)")
        }
        var offset = 8
        var entries: [(name: String, length: Int)] = []
        var seen = Set<String>()
        var dataBytes = 0
        for index in 0..<count {
            guard offset < bytes.count else {
                throw DatasetBundleError("bundle ends at byte \(offset) inside the entry of file \(index)")
            }
            let nameLength = Int(bytes[offset])
            offset += 1
            guard nameLength >= 1, offset + nameLength + 8 <= bytes.count else {
                throw DatasetBundleError(
                    "file \(index): name of \(nameLength) bytes at byte \(offset) is empty or runs past the end")
            }
            guard let name = String(validating: bytes[offset..<offset + nameLength], as: UTF8.self),
                isValidName(name)
            else {
                throw DatasetBundleError(
                    "file \(index): name at byte \(offset) is not a plain file name "
                        + "(no '/', '\\', '..', control characters; valid UTF-8)")
            }
            guard seen.insert(name).inserted else {
                throw DatasetBundleError("file \(index): name '\(name)' appears twice")
            }
            offset += nameLength
            let length = readBE(bytes, at: offset, bytes: 8)
            offset += 8
            guard length <= UInt64(maxTotalBytes), dataBytes + Int(length) <= maxTotalBytes else {
                throw DatasetBundleError("file '\(name)': \(length) bytes exceed the bundle limit of \(maxTotalBytes)")
            }
            dataBytes += Int(length)
            entries.append((name, Int(length)))
        }
        guard offset + dataBytes == bytes.count else {
            throw DatasetBundleError(
                "bundle has \(bytes.count) bytes, its header (\(offset) bytes) and files (\(dataBytes) bytes) "
                    + "need exactly \(offset + dataBytes): truncated or padded")
        }
        var files: [(name: String, bytes: [UInt8])] = []
        for entry in entries {
            files.append((entry.name, Array(bytes[offset..<offset + entry.length])))
            offset += entry.length
        }
        return files
    }

    /// Lower-case hex SHA-256 of `bytes`: the checksum in a ``WireMessage/DatasetRef`` and a DATA_CHUNK.
    public static func checksum(_ bytes: [UInt8]) -> String {
        SHA256.hexDigest(bytes)
    }

    /// Whether `name` may name a file in a bundle: 1…255 UTF-8 bytes, no `/` or `\`, not `.` or `..`, no
    /// control characters. Such a name can be joined to a folder without leaving it.
    public static func isValidName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard (1...maxNameBytes).contains(utf8.count), name != ".", name != ".." else { return false }
        return !utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }
    }

    /// Packs the IDX files of `dir/<dataset>/` (``idxFileNames``) into a bundle.
    ///
    /// - Parameters:
    ///   - dir: the data folder (`DATA_DIR`, e.g. `./data` or `$LTH_DATA_DIR`).
    ///   - dataset: the dataset's folder name, e.g. `mnist`.
    /// - Throws: ``DatasetBundleError`` naming the missing or unreadable file and what to do.
    public static func packDirectory(_ dir: URL, dataset: String) throws -> [UInt8] {
        guard isValidName(dataset) else {
            throw DatasetBundleError("dataset name '\(dataset)' is not a plain folder name")
        }
        let folder = dir.appendingPathComponent(dataset, isDirectory: true)
        var files: [(name: String, bytes: [UInt8])] = []
        for name in idxFileNames {
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw DatasetBundleError(
                    "dataset '\(dataset)': \(url.path) is missing; run `lth data fetch \(dataset)` "
                        + "or pass the data folder with --data-dir")
            }
            do {
                files.append((name, Array(try Data(contentsOf: url))))
            } catch {
                throw DatasetBundleError("dataset '\(dataset)': cannot read \(url.path): \(error.localizedDescription)")
            }
        }
        let total = files.reduce(0) { $0 + $1.bytes.count }
        guard total < maxTotalBytes - 4096 else {
            throw DatasetBundleError(
                "dataset '\(dataset)' has \(total) bytes, more than the bundle limit \(maxTotalBytes)")
        }
        return pack(files: files)
    }

    /// Unpacks a bundle into `folder` (created if needed), one file per entry; returns the written URLs.
    ///
    /// Names were validated by ``unpack(_:)``, so every file lands inside `folder`.
    public static func unpack(_ bytes: [UInt8], into folder: URL) throws -> [URL] {
        let files = try unpack(bytes)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var urls: [URL] = []
        for file in files {
            let url = folder.appendingPathComponent(file.name)
            try Data(file.bytes).write(to: url, options: .atomic)
            urls.append(url)
        }
        return urls
    }

    private static func appendBE(_ out: inout [UInt8], _ value: UInt64, bytes: Int) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Reads `bytes` big-endian bytes at `offset`; the caller has checked the bounds.
    private static func readBE(_ data: [UInt8], at offset: Int, bytes: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + bytes { value = value << 8 | UInt64(data[index]) }
        return value
    }
}

/// Why bytes are not a valid ``DatasetBundle``, or why a dataset folder cannot be packed.
public struct DatasetBundleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong and where (byte offset, file name, path), and what to do.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { "dataset bundle: " + message }
}
