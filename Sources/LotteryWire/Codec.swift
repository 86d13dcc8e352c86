internal import Foundation
internal import MaskCodec

/// What every body struct tells the codec: its type code, its blobs, and its range checks.
protocol WireBody: Codable, Sendable {
    static var type: MessageType { get }
    /// Blob roles this message may carry, in the order the encoder sends them.
    static var blobRoles: [BlobRole] { get }
    /// Roles that must be present (a subset of ``blobRoles``).
    static var requiredRoles: [BlobRole] { get }
    /// The blobs present in this value.
    func blob(_ role: BlobRole) -> [UInt8]?
    /// Stores a received blob (decoding leaves blob properties empty until this runs).
    mutating func attach(_ role: BlobRole, _ bytes: [UInt8])
    /// Range and consistency checks shared by encoding and decoding.
    func validate() throws(WireError)
}

extension WireBody {
    static var blobRoles: [BlobRole] { [] }
    static var requiredRoles: [BlobRole] { [] }
    func blob(_ role: BlobRole) -> [UInt8]? { nil }
    mutating func attach(_ role: BlobRole, _ bytes: [UInt8]) {}
}

/// The name of a binary frame in a body's blob manifest.
enum BlobRole: String, Sendable, CaseIterable {
    case mask
    case nextMask = "next_mask"
    case resumeMask = "resume_mask"
    case parentMask = "parent_mask"
    case chunk

    var limit: Int {
        switch self {
        case .mask, .nextMask, .resumeMask, .parentMask: return Wire.maxMaskBytes
        case .chunk: return Wire.maxChunkBytes
        }
    }
}

/// One entry of the manifest: blob `i` is frame `2 + i`.
struct BlobDescriptor: Codable, Sendable {
    var role: String
    var length: Int
    var crc32: UInt32
}

struct OutgoingBody<Message: Encodable>: Encodable {
    var blobs: [BlobDescriptor]
    var message: Message
}

struct IncomingBody<Message: Decodable>: Decodable {
    var blobs: [BlobDescriptor]
    var message: Message
}

enum Codec {
    static let nonFinite = (positive: "inf", negative: "-inf", nan: "nan")

    static func encode<Body: WireBody>(_ body: Body) throws(WireError) -> [[UInt8]] {
        do throws(WireError) {
            try body.validate()
            var blobs: [[UInt8]] = []
            var manifest: [BlobDescriptor] = []
            for role in Body.blobRoles {
                guard let bytes = body.blob(role) else {
                    if Body.requiredRoles.contains(role) {
                        throw WireError(.badManifest(detail: "required blob '\(role.rawValue)' is missing"))
                    }
                    continue
                }
                guard bytes.count <= role.limit else {
                    throw WireError(
                        .oversize(
                            frame: 2 + blobs.count, what: "blob '\(role.rawValue)'", size: bytes.count,
                            limit: role.limit))
                }
                manifest.append(BlobDescriptor(role: role.rawValue, length: bytes.count, crc32: checksum(bytes)))
                blobs.append(bytes)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
            let json: [UInt8]
            do {
                json = Array(try encoder.encode(OutgoingBody(blobs: manifest, message: body)))
            } catch {
                throw WireError(.badJSON(detail: "cannot encode: \(error)"))
            }
            guard json.count <= Wire.maxBodyBytes else {
                throw WireError(.oversize(frame: 1, what: "JSON body", size: json.count, limit: Wire.maxBodyBytes))
            }
            return [Wire.header(Body.type), json] + blobs
        } catch {
            throw WireError(error.kind, messageType: Body.type)
        }
    }

    /// Checks the header frame and returns the message type.
    static func decodeHeader(_ frames: [[UInt8]]) throws(WireError) -> MessageType {
        guard let header = frames.first else {
            throw WireError(.frameCount(actual: 0, expected: "at least 2 (header, body)"))
        }
        let magic = Array(header.prefix(Wire.magic.count))
        guard magic == Wire.magic else { throw WireError(.badMagic(found: magic)) }
        guard header.count >= Wire.magic.count + 2 else { throw WireError(.badHeader(length: header.count)) }
        let version = UInt16(header[4]) << 8 | UInt16(header[5])
        guard Wire.supportedVersions.contains(version) else {
            throw WireError(.unsupportedVersion(peer: version, supported: Wire.supportedVersions))
        }
        guard header.count == Wire.headerBytes else { throw WireError(.badHeader(length: header.count)) }
        guard let type = MessageType(rawValue: header[6]) else { throw WireError(.unknownType(code: header[6])) }
        return type
    }

    static func decode<Body: WireBody>(_: Body.Type, _ frames: [[UInt8]]) throws(WireError) -> Body {
        do throws(WireError) {
            guard frames.count >= 2, frames.count <= Wire.maxFrames else {
                throw WireError(
                    .frameCount(actual: frames.count, expected: "2…\(Wire.maxFrames) (header, body, blobs)"))
            }
            let json = frames[1]
            guard json.count <= Wire.maxBodyBytes else {
                throw WireError(.oversize(frame: 1, what: "JSON body", size: json.count, limit: Wire.maxBodyBytes))
            }
            for index in 2..<frames.count where frames[index].count > Wire.maxFrameBytes {
                throw WireError(
                    .oversize(frame: index, what: "blob", size: frames[index].count, limit: Wire.maxFrameBytes))
            }
            let parsed = try parse(IncomingBody<Body>.self, json)
            let manifest = parsed.blobs
            guard manifest.count == frames.count - 2 else {
                throw WireError(
                    .frameCount(
                        actual: frames.count,
                        expected: "\(2 + manifest.count) (header, body and the manifest's \(manifest.count) blobs)"))
            }
            var body = parsed.message
            var seen: [BlobRole] = []
            for (offset, descriptor) in manifest.enumerated() {
                let index = 2 + offset
                guard let role = BlobRole(rawValue: descriptor.role) else {
                    throw WireError(.badManifest(detail: "unknown blob role '\(descriptor.role.prefix(64))'"))
                }
                guard Body.blobRoles.contains(role) else {
                    throw WireError(.badManifest(detail: "\(Body.type) carries no '\(role.rawValue)' blob"))
                }
                guard !seen.contains(role) else {
                    throw WireError(.badManifest(detail: "blob '\(role.rawValue)' appears twice"))
                }
                seen.append(role)
                let bytes = frames[index]
                guard bytes.count <= role.limit else {
                    throw WireError(
                        .oversize(frame: index, what: "blob '\(role.rawValue)'", size: bytes.count, limit: role.limit))
                }
                guard descriptor.length == bytes.count else {
                    throw WireError(
                        .blobLength(role: role.rawValue, frame: index, declared: descriptor.length, actual: bytes.count)
                    )
                }
                let actual = checksum(bytes)
                guard actual == descriptor.crc32 else {
                    throw WireError(
                        .checksumMismatch(role: role.rawValue, frame: index, declared: descriptor.crc32, actual: actual)
                    )
                }
                body.attach(role, bytes)
            }
            if let missing = Body.requiredRoles.first(where: { !seen.contains($0) }) {
                throw WireError(.badManifest(detail: "required blob '\(missing.rawValue)' is missing"))
            }
            try body.validate()
            return body
        } catch {
            throw WireError(error.kind, messageType: Body.type)
        }
    }

    static func parse<Value: Decodable>(_: Value.Type, _ json: [UInt8]) throws(WireError) -> Value {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        do {
            return try decoder.decode(Value.self, from: Data(json))
        } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, let context):
                throw WireError(.missingField(field: path(context.codingPath + [key])))
            case .valueNotFound(_, let context):
                throw WireError(.missingField(field: path(context.codingPath)))
            case .typeMismatch(_, let context), .dataCorrupted(let context):
                throw WireError(.badJSON(detail: describe(context)))
            @unknown default:
                throw WireError(.badJSON(detail: String(describing: error)))
            }
        } catch {
            throw WireError(.badJSON(detail: String(describing: error)))
        }
    }

    static func describe(_ context: DecodingError.Context) -> String {
        var text = context.codingPath.isEmpty ? "" : "at '\(path(context.codingPath))': "
        text += context.debugDescription
        if let underlying = context.underlyingError {
            text += " (\(String(describing: underlying).prefix(200)))"
        }
        return text
    }

    /// `message.metrics.curve[3].val_loss`
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "(body)" : text
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        CRC32.checksum(bytes)
    }
}
