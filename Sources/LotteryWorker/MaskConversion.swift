import LotteryCore
import MaskCodec

/// LotteryCore's `[LayerMask]` ↔ MaskCodec's `Mask`: the same flags, row-major `[in, out]` per layer.
enum MaskConversion {
    static func mask(_ layers: [LayerMask]) -> Mask {
        Mask(layers: layers.map { MaskLayer(rows: $0.rows, cols: $0.cols, kept: $0.kept) })
    }

    static func layers(_ mask: Mask) -> [LayerMask] {
        mask.layers.map { LayerMask(rows: $0.rows, cols: $0.cols, kept: $0.kept) }
    }

    /// Encodes `layers` as a MaskFile, delta against `parent` when that is smaller (MaskFile decides).
    ///
    /// - Returns: the file and the parent checksum its header names (`nil` if self-contained), which is what
    ///   ROUND_RESULT's `mask_parent` / `next_mask_parent` must repeat.
    static func encode(_ layers: [LayerMask], parent: [LayerMask]?) -> (bytes: [UInt8], parent: UInt64?) {
        let bytes = MaskFile.encode(mask(layers), parent: parent.map(mask))
        let info = try? MaskFile.info(bytes)
        return (bytes, info?.parentChecksum)
    }

    /// Decodes a self-contained MaskFile from the coordinator (TASK `resume_mask` / `parent_mask`).
    static func decode(_ bytes: [UInt8], role: String) throws -> [LayerMask] {
        do {
            return layers(try MaskFile.decode(bytes))
        } catch {
            throw WorkerError("the task's '\(role)' blob is not a usable mask file: \(error)")
        }
    }
}
