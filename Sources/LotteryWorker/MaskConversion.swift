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
    static func encode(_ layers: [LayerMask], parent: [LayerMask]?, cache: EncodingCache? = nil) -> Encoded {
        func encode() -> Encoded {
            let bytes = MaskFile.encode(Mask(layers), parent: parent.map { Mask($0) })
            let info = try? MaskFile.info(bytes)
            return (bytes, info?.parentChecksum)
        }
        guard let cache else { return encode() }
        return cache.value(for: EncodingCache.Key(layers, parent), compute: encode)
    }

    /// The process's cache for synthetic trials (at most 256 files; cleared when full).
    static let syntheticCache = EncodingCache(capacity: 256)

    /// Encoded masks by content (128 bits of hash of mask and parent), for synthetic trials, whose trials of one
    /// seed share their masks. Never used for trained masks, which do not repeat.
    final class EncodingCache: Sendable {
        struct Key: Hashable {
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

        private let entries = Locked<[Key: Encoded]>([:])
        let capacity: Int

        init(capacity: Int) { self.capacity = capacity }

        /// The cached file for `key`, or `compute()`'s, stored. The lock is held while computing: when a wave of
        /// trials of the same seed asks at once, one encodes and the others wait for its bytes (without it, every
        /// trial of the first wave encoded the same masks at the same time).
        func value(for key: Key, compute: () -> Encoded) -> Encoded {
            entries.withLock { entries in
                if let hit = entries[key] { return hit }
                let encoded = compute()
                if entries.count >= capacity { entries.removeAll() }
                entries[key] = encoded
                return encoded
            }
        }
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
