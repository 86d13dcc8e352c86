import LotteryCore
import LotteryWire
import MaskCodec

/// Masks on the worker's side of the wire: `[LayerMask]` ↔ MaskFile bytes (the type conversion itself is
/// LotteryWire's `Mask(_:)` / `layerMasks`).
enum MaskConversion {

    /// Encodes `layers` as a MaskFile, delta against `parent` when that is smaller (MaskFile decides).
    ///
    /// - Returns: the file and the parent checksum its header names (`nil` if self-contained), which is what
    ///   ROUND_RESULT's `mask_parent` / `next_mask_parent` must repeat.
    static func encode(_ layers: [LayerMask], parent: [LayerMask]?) -> (bytes: [UInt8], parent: UInt64?) {
        let bytes = MaskFile.encode(Mask(layers), parent: parent.map { Mask($0) })
        let info = try? MaskFile.info(bytes)
        return (bytes, info?.parentChecksum)
    }

    /// Decodes a self-contained MaskFile from the coordinator (TASK `resume_mask` / `parent_mask`).
    static func decode(_ bytes: [UInt8], role: String) throws -> [LayerMask] {
        do {
            return try MaskFile.decode(bytes).layerMasks
        } catch {
            throw WorkerError("the task's '\(role)' blob is not a usable mask file: \(error)")
        }
    }
}
