/// The `.ltmask` container: masks ↔ bytes. Byte layout, models and measurements: docs/mask-format.md.
///
/// ```
/// "LTMK" | version u8 = 1 | flags u8 (bit 0: delta) | layer count u8 (≤ 64)
/// [parent checksum u64 LE, only if delta]
/// per layer: rows varint | cols varint | kept varint | codec u8 | payload bytes varint
/// payloads, in layer order
/// CRC-32 u32 LE of every byte before it
/// ```
/// Stateless and thread-safe.
public enum MaskFile {
    /// The four magic bytes, "LTMK".
    public static let magic: [UInt8] = Array("LTMK".utf8)
    /// The format version written and read.
    public static let version: UInt8 = 1
    /// At most this many layers.
    public static let maxLayers = 64
    /// At most this many weights in a file (all layers together), and so in any layer.
    public static let maxWeights = 1 << 28

    static let deltaFlag: UInt8 = 1

    // MARK: Encode

    /// Encodes `mask`, layer by layer with the smallest of the allowed codecs.
    ///
    /// With a `parent` of the same shapes, each layer that is a subset of the parent's layer may be coded as a
    /// delta (only the parent's kept positions). Layers that are not subsets fall back to self-contained
    /// codecs, so no bit is ever lost; if no layer ends up as a delta, the file is self-contained and does not
    /// name the parent.
    ///
    /// - Parameters:
    ///   - mask: the mask; at most `maxLayers` layers and `maxWeights` weights (a programmer error otherwise).
    ///   - parent: the previous IMP round's mask, or `nil` for a self-contained file.
    ///   - codecs: the codecs the encoder may choose from (for measurements and tests); `.raw` is used when
    ///     none of them applies.
    /// - Returns: the file's bytes.
    public static func encode(
        _ mask: Mask,
        parent: Mask? = nil,
        codecs: Set<LayerCodec> = Set(LayerCodec.allCases)
    ) -> [UInt8] {
        precondition(mask.layers.count <= maxLayers, "MaskFile: \(mask.layers.count) layers (limit \(maxLayers))")
        precondition(mask.count <= maxWeights, "MaskFile: \(mask.count) weights (limit \(maxWeights))")
        let usableParent: Mask? =
            if let parent, parent.layers.count == mask.layers.count,
                zip(parent.layers, mask.layers).allSatisfy({ $0.rows == $1.rows && $0.cols == $1.cols })
            {
                parent
            } else {
                nil
            }

        var plain: [(codec: LayerCodec, payload: [UInt8])] = []
        var chosen: [(codec: LayerCodec, payload: [UInt8])] = []
        for (index, layer) in mask.layers.enumerated() {
            let options = encodeLayer(layer, parent: usableParent?.layers[index], codecs: codecs)
            plain.append(options.plain)
            chosen.append(
                options.delta.map { $0.payload.count < options.plain.payload.count ? $0 : options.plain }
                    ?? options.plain)
        }
        // A delta file spends 8 bytes naming its parent: worth it only if the layers save more.
        let size = { (entries: [(codec: LayerCodec, payload: [UInt8])]) in entries.reduce(0) { $0 + $1.payload.count } }
        if size(chosen) + 8 >= size(plain) { chosen = plain }
        let isDelta = chosen.contains { $0.codec.needsParent }

        var out: [UInt8] = magic
        out.append(version)
        out.append(isDelta ? deltaFlag : 0)
        out.append(UInt8(mask.layers.count))
        if isDelta, let usableParent {
            appendLittleEndian(usableParent.checksum, to: &out)
        }
        for (layer, entry) in zip(mask.layers, chosen) {
            appendVarint(layer.rows, to: &out)
            appendVarint(layer.cols, to: &out)
            appendVarint(layer.keptCount, to: &out)
            out.append(entry.codec.rawValue)
            appendVarint(entry.payload.count, to: &out)
        }
        for entry in chosen { out += entry.payload }
        appendLittleEndian(CRC32.checksum(out), to: &out)
        return out
    }

    static func encodeLayer(
        _ layer: MaskLayer,
        parent: MaskLayer?,
        codecs: Set<LayerCodec>
    ) -> (plain: (codec: LayerCodec, payload: [UInt8]), delta: (codec: LayerCodec, payload: [UInt8])?) {
        var delta: (codec: LayerCodec, payload: [UInt8])? = nil
        var best: (codec: LayerCodec, payload: [UInt8])? = nil
        func consider(_ codec: LayerCodec, _ payload: [UInt8]) {
            if best == nil || payload.count < best!.payload.count { best = (codec, payload) }
        }
        layer.kept.withUnsafeBufferPointer { flags in
            if codecs.contains(.deltaCount), let parent, layer.isSubset(of: parent) {
                var survivors: [Bool] = []
                survivors.reserveCapacity(parent.keptCount)
                parent.kept.withUnsafeBufferPointer { parentFlags in
                    for index in parentFlags.indices where parentFlags[index] { survivors.append(flags[index]) }
                }
                delta = (
                    .deltaCount, survivors.withUnsafeBufferPointer { CountModel.encode($0, ones: layer.keptCount) }
                )
            }
            if codecs.contains(.count) {
                consider(.count, CountModel.encode(flags, ones: layer.keptCount))
            }
            if codecs.contains(.context) {
                let model = ContextModel(rows: layer.rows, cols: layer.cols, ones: layer.keptCount)
                consider(.context, model.encode(flags))
            }
        }
        if best == nil || codecs.contains(.raw) {
            consider(.raw, layer.packedBits())
        }
        return (best!, delta)
    }

    // MARK: Decode

    /// Decodes a mask file, validating everything: magic, version, flags, limits, sizes, CRC-32, the parent
    /// (for a delta file) and every layer's kept count. Allocates only what the validated header declares.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - parent: the mask the file names as parent (needed only for a delta file; ignored otherwise).
    ///   - knownChecksum: `parent.checksum` if the caller has it (it is O(weights) to compute); must be right.
    /// - Returns: the mask.
    /// - Throws: `MaskFileError` saying what was wrong; never traps on any input.
    public static func decode(
        _ bytes: [UInt8], parent: Mask? = nil, parentChecksum knownChecksum: UInt64? = nil
    ) throws(MaskFileError) -> Mask {
        let header = try parse(bytes)
        let info = header.info
        if let expected = info.parentChecksum {
            guard let parent else {
                throw MaskFileError(
                    .parentRequired,
                    "parent mask required: this is a delta file of parent \(hex(expected))"
                )
            }
            guard parent.layers.count == info.layers.count,
                zip(parent.layers, info.layers).allSatisfy({ $0.rows == $1.rows && $0.cols == $1.cols })
            else {
                throw MaskFileError(.parentMismatch, "parent mask has other shapes than the delta file's layers")
            }
            let actual = knownChecksum ?? parent.checksum
            guard actual == expected else {
                throw MaskFileError(
                    .parentMismatch,
                    "wrong parent mask: file needs \(hex(expected)), got \(hex(actual))"
                )
            }
        }
        var layers: [MaskLayer] = []
        layers.reserveCapacity(info.layers.count)
        var offset = header.payloadStart
        for (number, entry) in info.layers.enumerated() {
            let payload = bytes[offset..<(offset + entry.payloadBytes)]
            offset += entry.payloadBytes
            let flags = try decodeLayer(
                entry, number: number + 1, payload: Array(payload), parent: info.isDelta ? parent?.layers[number] : nil)
            let layer = MaskLayer(rows: entry.rows, cols: entry.cols, kept: flags)
            guard layer.keptCount == entry.keptCount else {
                throw MaskFileError(
                    .keptCountMismatch,
                    "layer \(number + 1) decodes to \(layer.keptCount) kept weights, header declares \(entry.keptCount)"
                )
            }
            layers.append(layer)
        }
        return Mask(layers: layers)
    }

    private static func decodeLayer(
        _ entry: MaskFileInfo.Layer,
        number: Int,
        payload: [UInt8],
        parent: MaskLayer?
    ) throws(MaskFileError) -> [Bool] {
        var flags = [Bool](repeating: false, count: entry.count)
        switch entry.codec {
        case .raw:
            // Sizes were checked by `parse`; unused high bits of the last byte must be 0 (one canonical form).
            if entry.count % 8 != 0, let last = payload.last, last >> UInt8(entry.count % 8) != 0 {
                throw MaskFileError(
                    .malformed, "layer \(number): raw payload has bits set past its \(entry.count) weights")
            }
            payload.withUnsafeBufferPointer { bytes in
                flags.withUnsafeMutableBufferPointer { flags in
                    for index in flags.indices { flags[index] = (bytes[index >> 3] >> UInt8(index & 7)) & 1 != 0 }
                }
            }
        case .count:
            payload.withUnsafeBufferPointer { bytes in
                flags.withUnsafeMutableBufferPointer { CountModel.decode(bytes, into: $0, ones: entry.keptCount) }
            }
        case .context:
            let model = ContextModel(rows: entry.rows, cols: entry.cols, ones: entry.keptCount)
            payload.withUnsafeBufferPointer { bytes in
                flags.withUnsafeMutableBufferPointer { model.decode(bytes, into: $0) }
            }
        case .deltaCount:
            guard let parent else {
                throw MaskFileError(.malformed, "layer \(number) is a delta but the file has no parent flag")
            }
            guard entry.keptCount <= parent.keptCount else {
                throw MaskFileError(
                    .parentMismatch,
                    "layer \(number) keeps \(entry.keptCount) weights, more than the parent's \(parent.keptCount)"
                )
            }
            // One spare flag: the branch-free scatter below reads survivors[next] for the parent's dropped positions too.
            var survivors = [Bool](repeating: false, count: parent.keptCount + 1)
            payload.withUnsafeBufferPointer { bytes in
                survivors.withUnsafeMutableBufferPointer {
                    CountModel.decode(
                        bytes, into: UnsafeMutableBufferPointer(rebasing: $0.dropLast()), ones: entry.keptCount)
                }
            }
            survivors.withUnsafeBufferPointer { survivors in
                parent.kept.withUnsafeBufferPointer { parentFlags in
                    flags.withUnsafeMutableBufferPointer { flags in
                        // Bools are bytes 0/1: AND them and advance by the parent's flag, without a branch.
                        let from = UnsafeRawBufferPointer(parentFlags)
                        let picked = UnsafeRawBufferPointer(survivors)
                        let to = UnsafeMutableRawBufferPointer(flags)
                        var next = 0
                        for index in 0..<from.count {
                            let kept = from[index]
                            to[index] = kept & picked[next]
                            next &+= Int(kept)
                        }
                    }
                }
            }
        }
        return flags
    }

    /// Reads and validates a file's header, sizes and CRC-32 without decoding payloads or needing the parent.
    ///
    /// - Throws: `MaskFileError` for anything `decode` would reject before decoding payloads.
    public static func info(_ bytes: [UInt8]) throws(MaskFileError) -> MaskFileInfo {
        try parse(bytes).info
    }

    // MARK: Chains

    /// Decodes a file that may be a delta, resolving its parent chain through `parentBytes`.
    ///
    /// Stored delta files (`masks/<trial>/round-NN.ltmask`) name their parent by checksum only; the caller
    /// knows where the parent lives (for round files: the previous round in the same folder).
    ///
    /// - Parameters:
    ///   - bytes: the file to decode.
    ///   - maxDepth: the longest chain followed (a loop or a longer chain throws `.chainTooLong`).
    ///   - parentBytes: given the depth (1 = the file's parent, 2 = its grandparent …) and the checksum wanted,
    ///     returns that file's bytes, or `nil` if it is not available.
    /// - Returns: the mask.
    /// - Throws: `MaskFileError` from any file of the chain, or `.parentRequired` if a link is missing.
    public static func decodeChain(
        _ bytes: [UInt8],
        maxDepth: Int = 1024,
        parentBytes: (_ depth: Int, _ checksum: UInt64) -> [UInt8]?
    ) throws(MaskFileError) -> Mask {
        var chain: [[UInt8]] = [bytes]
        var wanted = try info(bytes).parentChecksum
        while let checksum = wanted {
            guard chain.count <= maxDepth else {
                throw MaskFileError(.chainTooLong, "delta chain longer than \(maxDepth) files")
            }
            guard let next = parentBytes(chain.count, checksum) else {
                throw MaskFileError(
                    .parentRequired,
                    "parent mask required: parent \(hex(checksum)) (depth \(chain.count)) not found"
                )
            }
            chain.append(next)
            wanted = try info(next).parentChecksum
        }
        var mask = try decode(chain.removeLast())
        while let child = chain.popLast() {
            mask = try decode(child, parent: mask)
        }
        return mask
    }

    // MARK: Header

    struct Header {
        var info: MaskFileInfo
        var payloadStart: Int
    }

    static func parse(_ bytes: [UInt8]) throws(MaskFileError) -> Header {
        var reader = Reader(bytes: bytes)
        let head = try reader.take(4, "magic")
        guard head == magic else {
            throw MaskFileError(.badMagic, "bad magic: not a mask file (expected \"LTMK\", got \(hexBytes(head)))")
        }
        let version = try reader.byte("version")
        guard version == Self.version else {
            throw MaskFileError(
                .unsupportedVersion, "unsupported mask format version \(version) (this build reads \(Self.version))")
        }
        let flags = try reader.byte("flags")
        guard flags & ~deltaFlag == 0 else {
            throw MaskFileError(.unsupportedFlags, "unsupported flags 0x\(String(flags, radix: 16)) at byte 5")
        }
        let layerCount = Int(try reader.byte("layer count"))
        guard layerCount <= maxLayers else {
            throw MaskFileError(.limitExceeded, "file declares \(layerCount) layers (limit \(maxLayers))")
        }
        var parentChecksum: UInt64? = nil
        if flags & deltaFlag != 0 {
            let raw = try reader.take(8, "parent checksum")
            parentChecksum = raw.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        var layers: [MaskFileInfo.Layer] = []
        var total = 0
        var payloadTotal = 0
        for number in stride(from: 1, through: layerCount, by: 1) {
            let rows = try reader.varint("layer \(number) rows")
            let cols = try reader.varint("layer \(number) cols")
            guard rows <= maxWeights, cols <= maxWeights, rows * cols <= maxWeights - total else {
                throw MaskFileError(
                    .limitExceeded,
                    "layer \(number) declares \(rows)×\(cols) = \(rows * cols) weights (limit \(maxWeights) in all)"
                )
            }
            total += rows * cols
            let kept = try reader.varint("layer \(number) kept count")
            guard kept <= rows * cols else {
                throw MaskFileError(.malformed, "layer \(number) declares \(kept) kept of \(rows * cols) weights")
            }
            let codecByte = try reader.byte("layer \(number) codec")
            guard let codec = LayerCodec(rawValue: codecByte) else {
                throw MaskFileError(.malformed, "layer \(number) has unknown codec \(codecByte)")
            }
            if codec.needsParent && parentChecksum == nil {
                throw MaskFileError(.malformed, "layer \(number) is a delta but the file has no parent flag")
            }
            let payloadBytes = try reader.varint("layer \(number) payload size")
            if codec == .raw && payloadBytes != (rows * cols + 7) / 8 {
                throw MaskFileError(
                    .malformed, "layer \(number): raw payload of \(payloadBytes) bytes for \(rows * cols) weights")
            }
            guard payloadBytes <= bytes.count else {
                throw MaskFileError(
                    .truncated,
                    "truncated: layer \(number) declares \(payloadBytes) payload bytes, file has \(bytes.count)")
            }
            payloadTotal += payloadBytes
            layers.append(.init(rows: rows, cols: cols, keptCount: kept, codec: codec, payloadBytes: payloadBytes))
        }
        let payloadStart = reader.offset
        let expected = payloadStart + payloadTotal + 4
        guard bytes.count >= expected else {
            throw MaskFileError(.truncated, "truncated at byte \(bytes.count) of \(expected)")
        }
        guard bytes.count == expected else {
            throw MaskFileError(.malformed, "\(bytes.count - expected) unexpected bytes after the \(expected) declared")
        }
        let stored = bytes[(expected - 4)...].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let actual = CRC32.checksum(bytes[..<(expected - 4)])
        guard stored == actual else {
            throw MaskFileError(
                .checksumMismatch,
                "checksum mismatch: CRC-32 is \(hex(actual)), trailer says \(hex(stored)) (corrupt file)"
            )
        }
        let info = MaskFileInfo(
            version: Int(version), parentChecksum: parentChecksum, layers: layers, byteCount: bytes.count,
            headerBytes: payloadStart)
        return Header(info: info, payloadStart: payloadStart)
    }

    /// Bounds-checked cursor over untrusted bytes.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func take(_ count: Int, _ what: String) throws(MaskFileError) -> [UInt8] {
            guard bytes.count - offset >= count else {
                throw MaskFileError(
                    .truncated, "truncated at byte \(bytes.count) of \(offset + count) (reading \(what))")
            }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }

        mutating func byte(_ what: String) throws(MaskFileError) -> UInt8 {
            try take(1, what)[0]
        }

        /// LEB128, at most 5 bytes, value < 2^32.
        mutating func varint(_ what: String) throws(MaskFileError) -> Int {
            var value = 0
            for index in 0..<5 {
                let byte = try self.byte(what)
                value |= Int(byte & 0x7F) << (7 * index)
                if byte & 0x80 == 0 {
                    guard value <= Int(UInt32.max) else { break }
                    return value
                }
            }
            throw MaskFileError(.limitExceeded, "\(what) at byte \(offset) is not a varint below 2^32")
        }
    }

    static func appendVarint(_ value: Int, to out: inout [UInt8]) {
        var rest = UInt64(value)
        while rest >= 0x80 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        for index in 0..<(T.bitWidth / 8) {
            out.append(UInt8(truncatingIfNeeded: value >> (8 * index)))
        }
    }
}

func hex<T: FixedWidthInteger>(_ value: T) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, T.bitWidth / 4 - digits.count)) + digits
}

func hexBytes(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
}
