import Foundation
import MaskCodec

/// Reads `masks/<trial>/round-NN.ltmask` files, resolving delta files against the previous round.
///
/// Walking a trial's rounds in order, the previous round's mask is usually the parent of the next file: it is
/// passed to `MaskFile.decode(_:parent:)` directly; otherwise the chain is followed through the earlier round
/// files of the same folder (`MaskFile.decodeChain`, docs/mask-format.md).
struct MaskLoader {
    let folder: ResultsFolder

    /// The mask of `trial`'s `round`, or `nil` when no file exists.
    ///
    /// - Parameter previous: the trial's mask of an earlier round, if the caller has it (used as the parent).
    func load(trial: String, round: Int, previous: Mask?) throws(ReportError) -> Mask? {
        let path = folder.maskPath(trial: trial, round: round)
        guard let bytes = read(path) else { return nil }
        do {
            if let previous, let mask = try? MaskFile.decode(bytes, parent: previous) { return mask }
            return try MaskFile.load(path: path)
        } catch {
            throw ReportError(
                path: path,
                "cannot read the mask: \(error.message) (delta files need the earlier round files of the same folder)")
        }
    }

    private func read(_ path: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return [UInt8](data)
    }
}
