import Foundation

extension MaskFile {
    /// The file name of round `round`'s mask in a trial's mask folder: `round-NN.ltmask`.
    public static func roundFileName(_ round: Int) -> String {
        "round-" + (round < 10 ? "0" : "") + String(round) + ".ltmask"
    }

    /// Reads a mask file from disk, resolving a delta file through its folder.
    ///
    /// Stored delta files (docs/mask-format.md) name the previous round of the same trial as their parent, so a
    /// delta `round-NN.ltmask` is resolved through `round-(NN−1).ltmask`, `round-(NN−2).ltmask`, … next to it.
    /// Every link is checked by checksum: a wrong or missing parent is an error, never a wrong mask.
    /// - Parameter path: a `.ltmask` file; a self-contained file may have any name.
    /// - Returns: the decoded, verified mask.
    /// - Throws: ``MaskFileError`` (`.unreadable` when the file or a needed parent cannot be read).
    public static func load(path: String) throws(MaskFileError) -> Mask {
        let bytes = try readBytes(path)
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        guard try info(bytes).isDelta else { return try decode(bytes) }
        guard let round = roundNumber(name) else {
            throw MaskFileError(
                .parentRequired, "\(path): a delta mask file must be named round-NN.ltmask to find its parent")
        }
        let folder = url.deletingLastPathComponent()
        do {
            return try decodeChain(bytes) { depth, _ in
                guard round - depth >= 0 else { return nil }
                return try? readBytes(folder.appendingPathComponent(roundFileName(round - depth)).path)
            }
        } catch {
            throw MaskFileError(error.code, "\(path): \(error.message)")
        }
    }

    /// `round-NN.ltmask` → NN.
    static func roundNumber(_ name: String) -> Int? {
        guard name.hasPrefix("round-"), name.hasSuffix(".ltmask") else { return nil }
        let digits = name.dropFirst("round-".count).dropLast(".ltmask".count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func readBytes(_ path: String) throws(MaskFileError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MaskFileError(.unreadable, "\(path): cannot read the file (missing or unreadable)")
        }
        return [UInt8](data)
    }
}
