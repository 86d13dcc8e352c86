import LotteryCore
import LotteryWire
import MaskCodec

/// Masks on the worker's side of the wire: `[LayerMask]` ↔ MaskFile bytes (the type conversion itself is
/// LotteryWire's `Mask(_:)` / `layerMasks`).
enum MaskConversion {

    /// A mask file and the parent checksum its header names (`nil` if self-contained), which is what
    /// ROUND_RESULT's `mask_parent` / `next_mask_parent` must repeat.
    typealias Encoded = (bytes: [UInt8], parent: UInt64?)

    /// Encodes `layers` as a MaskFile, delta against `parent` when that is smaller (MaskFile decides); through
    /// `cache` when given.
    static func encode(
        _ layers: [LayerMask], parent: [LayerMask]?, cache: ComputeOnceCache<EncodingKey, Encoded>? = nil
    ) -> Encoded {
        func encode() -> Encoded {
            let bytes = MaskFile.encode(Mask(layers), parent: parent.map { Mask($0) })
            let info = try? MaskFile.info(bytes)
            return (bytes, info?.parentChecksum)
        }
        guard let cache else { return encode() }
        return cache.value(for: EncodingKey(layers, parent), compute: encode)
    }

    /// Decodes a self-contained MaskFile from the coordinator (TASK `resume_mask` / `parent_mask`).
    static func decode(_ bytes: [UInt8], role: String) throws -> [LayerMask] {
        do {
            return try MaskFile.decode(bytes).layerMasks
        } catch {
            throw WorkerError("the task's '\(role)' blob is not a usable mask file: \(error)")
        }
    }

    /// The process's cache for synthetic trials (at most 256 files; cleared when full).
    static let syntheticCache = ComputeOnceCache<EncodingKey, Encoded>(capacity: 256)

    /// Encoded masks are cached by content: 128 bits of hash of mask and parent, for synthetic trials, whose trials
    /// of one seed share their masks. Never used for trained masks, which do not repeat.
    struct EncodingKey: Hashable {
        let a: UInt64
        let b: UInt64

        init(_ layers: [LayerMask], _ parent: [LayerMask]?) {
            var a: UInt64 = 0xcbf2_9ce4_8422_2325
            var b: UInt64 = 0x9e37_79b9_7f4a_7c15
            func mix(_ word: UInt64) {
                a = (a ^ word) &* 0x0000_0100_0000_01b3
                b = (b &+ word &* 0xff51_afd7_ed55_8ccd) ^ (b >> 29)
            }
            for (tag, list) in [(UInt64(1), layers), (2, parent ?? [])] {
                mix(tag)
                for layer in list {
                    mix(UInt64(layer.rows))
                    mix(UInt64(layer.cols))
                    layer.kept.withUnsafeBytes { raw in
                        var index = 0
                        while index + 8 <= raw.count {
                            mix(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                            index += 8
                        }
                        while index < raw.count {
                            mix(UInt64(raw[index]))
                            index += 1
                        }
                    }
                }
            }
            self.a = a
            self.b = b
        }
    }
}
