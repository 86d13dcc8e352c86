/// Why a mask file could not be read. `description` is one human line saying what was wrong and where.
public struct MaskFileError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The kind of failure, for code that reacts to it.
    public enum Code: String, Sendable, Hashable {
        /// The file ends before its header or payloads do.
        case truncated
        /// The first four bytes are not "LTMK".
        case badMagic
        /// A format version this build does not read.
        case unsupportedVersion
        /// A flag bit this build does not know.
        case unsupportedFlags
        /// A declared size beyond the limits (layers, weights, varint length).
        case limitExceeded
        /// A header field is inconsistent (kept > weights, unknown codec, bytes after the payloads …).
        case malformed
        /// The CRC-32 trailer does not match the bytes.
        case checksumMismatch
        /// A delta file was decoded without its parent mask.
        case parentRequired
        /// The parent given is not the one the delta file names (checksum or shapes differ).
        case parentMismatch
        /// A layer decoded to a different number of kept weights than its header declares.
        case keptCountMismatch
        /// A delta chain is longer than allowed or loops.
        case chainTooLong
        /// The file (or a parent file of its chain) could not be read.
        case unreadable
    }

    /// The kind of failure.
    public let code: Code
    /// What was wrong, in words.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
