internal import CZeroMQ

/// Z85, ZeroMQ's printable encoding of binary data (RFC 32): 4 bytes ↔ 5 characters.
public enum Z85 {
    /// Encodes `bytes` (length a multiple of 4) as Z85 text.
    ///
    /// - Throws: ``CurveKeyError`` if the length is not a multiple of 4.
    public static func encode(_ bytes: [UInt8]) throws -> String {
        guard bytes.count % 4 == 0 else {
            throw CurveKeyError("Z85 input must be a multiple of 4 bytes, got \(bytes.count)")
        }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        let ok = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, $0.count) != nil }
        guard ok else { throw CurveKeyError("zmq_z85_encode failed") }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes Z85 `text` (length a multiple of 5, Z85 alphabet only).
    ///
    /// - Throws: ``CurveKeyError`` for a bad length or a character outside the alphabet.
    public static func decode(_ text: String) throws -> [UInt8] {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0 else {
            throw CurveKeyError("Z85 text must be a multiple of 5 characters, got \(utf8.count)")
        }
        // libzmq 4.3 checks the alphabet, but an embedded NUL would end its C string early.
        guard utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw CurveKeyError("Z85 text contains a character outside the Z85 alphabet")
        }
        var bytes = [UInt8](repeating: 0, count: utf8.count / 5 * 4)
        let ok = bytes.withUnsafeMutableBufferPointer { out in zmq_z85_decode(out.baseAddress, text) != nil }
        guard ok else { throw CurveKeyError("Z85 text is not valid Z85") }
        return bytes
    }
}

/// A 32-byte CURVE (Curve25519) key, public or secret.
///
/// `description` is the 40-character Z85 text: do not log a secret key.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes.
    ///
    /// - Throws: ``CurveKeyError`` unless `bytes.count == 32`.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw CurveKeyError("a CURVE key has 32 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Decodes the 40-character Z85 text of a key.
    ///
    /// - Throws: ``CurveKeyError`` for any other length or invalid characters.
    public init(z85: String) throws {
        guard z85.utf8.count == 40 else {
            throw CurveKeyError("a Z85 CURVE key has 40 characters, got \(z85.utf8.count)")
        }
        try self.init(bytes: Z85.decode(z85))
    }

    /// The 40-character Z85 text of the key.
    public var z85: String {
        // 32 bytes is a multiple of 4: cannot fail.
        (try? Z85.encode(bytes)) ?? ""
    }

    public var description: String { z85 }
}

/// A CURVE long-term key pair.
///
/// `description` shows only the public key, so a pair can be logged.
public struct CurveKeyPair: Sendable, Hashable, CustomStringConvertible {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    /// Builds a pair from a secret key, deriving the public key (`zmq_curve_public`).
    ///
    /// - Throws: ``CurveKeyError`` if libzmq has no CURVE support.
    public init(secretKey: CurveKey) throws {
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey.z85) == 0 else {
            throw CurveKeyError("zmq_curve_public failed: libzmq was built without CURVE (libsodium)")
        }
        let text = String(decoding: publicText.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.publicKey = try CurveKey(z85: text)
        self.secretKey = secretKey
    }

    /// Builds a pair from both keys and checks that they belong together.
    ///
    /// - Throws: ``CurveKeyError`` if `publicKey` is not the public key of `secretKey`.
    public init(publicKey: CurveKey, secretKey: CurveKey) throws {
        let derived = try CurveKeyPair(secretKey: secretKey)
        guard derived.publicKey == publicKey else {
            throw CurveKeyError("the public key does not belong to the secret key")
        }
        self = derived
    }

    /// Generates a fresh random key pair (`zmq_curve_keypair`, libsodium's CSPRNG).
    ///
    /// - Throws: ``CurveKeyError`` if libzmq has no CURVE support.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw CurveKeyError("zmq_curve_keypair failed: libzmq was built without CURVE (libsodium)")
        }
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return try CurveKeyPair(publicKey: CurveKey(z85: text(publicText)), secretKey: CurveKey(z85: text(secretText)))
    }

    public var description: String { "CurveKeyPair(public: \(publicKey.z85))" }
}

/// A malformed key, key text or key file; ``description`` names the file and line when there is one.
public struct CurveKeyError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file at fault, if the key came from a file.
    public var path: String?
    /// The 1-based line at fault, if known.
    public var line: Int?
    /// What is wrong.
    public var reason: String

    public init(_ reason: String, path: String? = nil, line: Int? = nil) {
        self.reason = reason
        self.path = path
        self.line = line
    }

    public var description: String {
        switch (path, line) {
        case let (path?, line?): "\(path):\(line): \(reason)"
        case let (path?, nil): "\(path): \(reason)"
        default: reason
        }
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with `keyPair` (`ZMQ_CURVE_SERVER`, `ZMQ_CURVE_SECRETKEY`).
    ///
    /// Call before ``bind(_:)``. Without a running ``ZAPAuthenticator`` in the same context, a CURVE
    /// server accepts *any* client key (encryption without authentication).
    public func configureCurveServer(keyPair: CurveKeyPair) throws {
        try set(.curveServer, true)
        try set(.curveSecretKey, keyPair.secretKey.bytes)
    }

    /// Makes this socket a CURVE client with its own `keyPair`, talking to the server whose
    /// public key is `serverKey`. Call before ``connect(_:)``.
    public func configureCurveClient(keyPair: CurveKeyPair, serverKey: CurveKey) throws {
        try set(.curveServerKey, serverKey.bytes)
        try set(.curvePublicKey, keyPair.publicKey.bytes)
        try set(.curveSecretKey, keyPair.secretKey.bytes)
    }
}
