import Foundation

/// A malformed or unreadable IDX file: which file and what was wrong.
public struct IDXError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Problem: Sendable, Hashable {
        /// The file could not be read at all.
        case unreadable(String)
        /// Fewer bytes than the header needs.
        case truncatedHeader(have: Int, need: Int)
        /// The magic number is not the expected one (wrong kind of file, or not IDX).
        case wrongMagic(found: UInt32, expected: UInt32)
        /// Dimensions that make no sense (zero, or not the expected image shape).
        case badDimensions(String)
        /// The payload is shorter or longer than the header says.
        case wrongLength(have: Int, expected: Int)
        /// A label outside 0..<classes.
        case badLabel(index: Int, value: UInt8, classes: Int)
        /// Images and labels disagree in count.
        case countMismatch(images: Int, labels: Int)
    }

    public var file: String
    public var problem: Problem

    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    public var description: String {
        let what: String
        switch problem {
        case .unreadable(let reason): what = "cannot be read (\(reason))"
        case .truncatedHeader(let have, let need): what = "is truncated: \(have) bytes, the IDX header needs \(need)"
        case .wrongMagic(let found, let expected):
            let also = expected == IDX.imagesMagic ? " (or 0x\(hex(IDX.images4Magic)) for multi-channel images)" : ""
            what = "is not the expected IDX file: magic number 0x\(hex(found)), expected 0x\(hex(expected))\(also)"
        case .badDimensions(let text): what = "has bad dimensions: \(text)"
        case .wrongLength(let have, let expected):
            what =
                have < expected
                ? "is truncated: \(have) bytes, the header promises \(expected)"
                : "has \(have - expected) trailing bytes: \(have) bytes, the header promises \(expected)"
        case .badLabel(let index, let value, let classes):
            what = "has label \(value) at index \(index), labels must be < \(classes)"
        case .countMismatch(let images, let labels): what = "holds \(labels) labels for \(images) images"
        }
        return "\(file) \(what); re-run `lth data fetch` to recreate it"
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// Reading and writing the IDX format of the MNIST distribution (LeCun et al.): a big-endian header
/// (magic `0x00000803` for 3-D unsigned-byte images `[N, rows, cols]`, `0x00000804` for 4-D ones
/// `[N, channels, rows, cols]` (CIFAR-10, CHW), `0x00000801` for 1-D labels, then the dimensions) followed by the
/// raw bytes.
public enum IDX {
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// 4-D unsigned-byte images `[N, C, H, W]`: written for images of more than one channel.
    public static let images4Magic: UInt32 = 0x0000_0804
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Images of an IDX file: `count` images of `channels × rows × cols` bytes (CHW),
    /// `pixels.count == count * channels * rows * cols`. One channel is stored as IDX3 (`[N, rows, cols]`, MNIST's
    /// layout), more as IDX4 (`[N, channels, rows, cols]`).
    public struct Images: Sendable, Hashable {
        public var count: Int
        public var channels: Int
        public var rows: Int
        public var cols: Int
        public var pixels: [UInt8]

        public init(count: Int, channels: Int = 1, rows: Int, cols: Int, pixels: [UInt8]) {
            precondition(
                pixels.count == count * channels * rows * cols,
                "IDX.Images: \(pixels.count) pixels for \(count)x\(channels)x\(rows)x\(cols)")
            self.count = count
            self.channels = channels
            self.rows = rows
            self.cols = cols
            self.pixels = pixels
        }

        /// The shape of one image.
        public var shape: InputShape { InputShape(channels: channels, height: rows, width: cols) }
    }

    /// Parses an IDX3 (`[N, rows, cols]`) or IDX4 (`[N, channels, rows, cols]`) unsigned-byte image file.
    /// - Parameter file: named in errors.
    /// - Throws: ``IDXError`` on any truncation, wrong magic, zero dimension or trailing bytes.
    public static func parseImages(_ bytes: [UInt8], file: String) throws(IDXError) -> Images {
        let layout = try imagesLayout(prefix: Array(bytes.prefix(20)), length: bytes.count, file: file)
        return Images(
            count: layout.count, channels: layout.channels, rows: layout.rows, cols: layout.cols,
            pixels: Array(bytes[layout.headerBytes...]))
    }

    /// The dimensions of an image file from its first 20 bytes (`prefix`, or all of a shorter file) and its total
    /// `length`, every field checked.
    private static func imagesLayout(prefix: [UInt8], length: Int, file: String) throws(IDXError) -> (
        count: Int, channels: Int, rows: Int, cols: Int, headerBytes: Int
    ) {
        let fourD = prefix.count >= 4 && word(prefix, 0) == images4Magic
        let dims = try header(
            prefix, magic: fourD ? images4Magic : imagesMagic, dimensions: fourD ? 4 : 3, file: file)
        let (count, channels, rows, cols) =
            fourD ? (dims[0], dims[1], dims[2], dims[3]) : (dims[0], 1, dims[1], dims[2])
        guard channels > 0, rows > 0, cols > 0 else {
            throw IDXError(
                file: file, problem: .badDimensions("\(count) images of \(channels)x\(rows)x\(cols) values"))
        }
        let headerBytes = 4 * (1 + dims.count)
        let expected = headerBytes + count * channels * rows * cols
        guard length == expected else {
            throw IDXError(file: file, problem: .wrongLength(have: length, expected: expected))
        }
        return (count, channels, rows, cols, headerBytes)
    }

    /// Parses an IDX1 unsigned-byte label file, checking every label is `< classes`.
    public static func parseLabels(_ bytes: [UInt8], file: String, classes: Int = 10) throws(IDXError) -> [UInt8] {
        let dims = try header(bytes, magic: labelsMagic, dimensions: 1, file: file)
        let expected = 8 + dims[0]
        guard bytes.count == expected else {
            throw IDXError(file: file, problem: .wrongLength(have: bytes.count, expected: expected))
        }
        let labels = Array(bytes[8...])
        if let index = labels.firstIndex(where: { Int($0) >= classes }) {
            throw IDXError(file: file, problem: .badLabel(index: index, value: labels[index], classes: classes))
        }
        return labels
    }

    /// Reads and parses an image file.
    public static func readImages(at path: String) throws(IDXError) -> Images {
        // Straight from the file's bytes to the pixels: one copy (CIFAR-10's training file is 154 MB).
        let data = try readData(path)
        let layout = try imagesLayout(prefix: [UInt8](data.prefix(20)), length: data.count, file: path)
        return Images(
            count: layout.count, channels: layout.channels, rows: layout.rows, cols: layout.cols,
            pixels: [UInt8](data.dropFirst(layout.headerBytes)))
    }

    /// Reads and parses a label file.
    public static func readLabels(at path: String, classes: Int = 10) throws(IDXError) -> [UInt8] {
        try parseLabels(try read(path), file: path, classes: classes)
    }

    /// The bytes of an image file: IDX3 for one channel, IDX4 for more.
    public static func encode(_ images: Images) -> [UInt8] {
        var bytes = imagesHeader(count: images.count, shape: images.shape)
        bytes.append(contentsOf: images.pixels)
        return bytes
    }

    /// The header of an image file of `count` images of `shape`: IDX3 `[N, H, W]` for one channel, IDX4
    /// `[N, C, H, W]` for more. The pixels follow it, image after image, each in CHW order.
    public static func imagesHeader(count: Int, shape: InputShape) -> [UInt8] {
        if shape.channels == 1 {
            return bigEndian(imagesMagic) + bigEndian(UInt32(count)) + bigEndian(UInt32(shape.height))
                + bigEndian(UInt32(shape.width))
        }
        return bigEndian(images4Magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(shape.channels))
            + bigEndian(UInt32(shape.height)) + bigEndian(UInt32(shape.width))
    }

    /// The header of a label file of `count` labels; the label bytes follow it.
    public static func labelsHeader(count: Int) -> [UInt8] {
        bigEndian(labelsMagic) + bigEndian(UInt32(count))
    }

    /// The bytes of an IDX1 label file.
    public static func encode(labels: [UInt8]) -> [UInt8] {
        labelsHeader(count: labels.count) + labels
    }

    /// Writes an image file atomically.
    public static func write(_ images: Images, to path: String) throws {
        try Data(encode(images)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Writes a label file atomically.
    public static func write(labels: [UInt8], to path: String) throws {
        try Data(encode(labels: labels)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func read(_ path: String) throws(IDXError) -> [UInt8] {
        [UInt8](try readData(path))
    }

    private static func readData(_ path: String) throws(IDXError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw IDXError(
                file: path, problem: .unreadable(exists ? "permission denied or not a file" : "no such file"))
        }
        return data
    }

    private static func header(_ bytes: [UInt8], magic: UInt32, dimensions: Int, file: String) throws(IDXError) -> [Int]
    {
        let need = 4 * (1 + dimensions)
        guard bytes.count >= 4 else {
            throw IDXError(file: file, problem: .truncatedHeader(have: bytes.count, need: need))
        }
        let found = word(bytes, 0)
        guard found == magic else { throw IDXError(file: file, problem: .wrongMagic(found: found, expected: magic)) }
        guard bytes.count >= need else {
            throw IDXError(file: file, problem: .truncatedHeader(have: bytes.count, need: need))
        }
        let dims = (0..<dimensions).map { Int(word(bytes, 4 + 4 * $0)) }
        guard dims[0] > 0, dims.allSatisfy({ $0 < 1 << 28 }) else {
            throw IDXError(file: file, problem: .badDimensions(dims.map(String.init).joined(separator: "x")))
        }
        return dims
    }

    private static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}
