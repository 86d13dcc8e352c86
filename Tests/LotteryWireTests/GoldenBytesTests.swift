import LotteryWire
import Testing

/// The wire schema is the wire's own (`Sources/LotteryWire/Schema/`), not LotteryCore's `Codable` keys: each message
/// kind encodes to exactly the committed bytes of ``GoldenBytes`` and those bytes decode back to the message. Renaming
/// a key (on the wire, or of a core type the wire used to encode directly) fails here.
@Suite("Golden bytes of each message kind")
struct GoldenBytesTests {
    static let names = GoldenMessages.all.map(\.name)

    static func message(_ name: String) throws -> WireMessage {
        try #require(GoldenMessages.all.first { $0.name == name }?.message)
    }

    static func frames(_ golden: Golden) -> [[UInt8]] {
        [bytes(hex: golden.header), Array(golden.body.utf8)] + golden.blobs.map(bytes(hex:))
    }

    static func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    @Test func everyMessageKindHasGoldenBytes() {
        let kinds = Set(GoldenMessages.all.map(\.message.type))
        #expect(kinds == Set(MessageType.allCases))
        #expect(Set(Self.names) == Set(GoldenBytes.v2.keys))
    }

    @Test(arguments: names) func encodesToTheGoldenBytes(name: String) throws {
        let golden = try #require(GoldenBytes.v2[name])
        let frames = try Self.message(name).encode()
        try #require(frames.count == 2 + golden.blobs.count)
        #expect(frames[0] == Self.bytes(hex: golden.header))
        #expect(String(decoding: frames[1], as: UTF8.self) == golden.body)
        #expect(Array(frames.dropFirst(2)) == golden.blobs.map(Self.bytes(hex:)))
    }

    @Test(arguments: names) func goldenBytesDecodeToTheMessage(name: String) throws {
        let golden = try #require(GoldenBytes.v2[name])
        #expect(try WireMessage.decode(Self.frames(golden)) == Self.message(name))
    }
}
