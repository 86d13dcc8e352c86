import Foundation
import LotteryCore
import LotteryWire
import MaskCodec
import Testing

/// Masks travel as opaque MaskFile containers; this checks that real ones arrive decodable, delta chain included.
@Suite struct MaskBlobTests {
    /// LeNet-300-100 kernels, each weight kept with probability `keep` among those `parent` keeps.
    static func mask(keep: Double, parent: Mask?, seed: Int) -> Mask {
        var rng = LotteryRNG(seed: seed, stream: "mask-blob")
        let shapes = [(784, 300), (300, 100), (100, 10)]
        return Mask(
            layers: shapes.enumerated().map { index, shape in
                let kept = (0..<(shape.0 * shape.1)).map { flat in
                    (parent?.layers[index].kept[flat] ?? true) && rng.uniform() < keep
                }
                return MaskLayer(rows: shape.0, cols: shape.1, kept: kept)
            })
    }

    @Test func roundResultCarriesADeltaChain() throws {
        let current = Self.mask(keep: 0.8, parent: nil, seed: 1)
        let next = Self.mask(keep: 0.8, parent: current, seed: 2)
        let currentFile = MaskFile.encode(current)
        let nextFile = MaskFile.encode(next, parent: current)
        #expect(try MaskFile.info(nextFile).parentChecksum == current.checksum)

        let sent = WireMessage.roundResult(
            .init(
                taskID: 3, metrics: Fixtures.metrics(round: 1), mask: currentFile, nextMask: nextFile,
                nextMaskParent: current.checksum))
        let frames = try sent.encode()
        #expect(frames[2] == currentFile && frames[3] == nextFile)

        guard case .roundResult(let received) = try WireMessage.decode(frames) else {
            Issue.record("decoded to another type")
            return
        }
        let receivedCurrent = try MaskFile.decode(received.mask)
        #expect(receivedCurrent == current)
        #expect(receivedCurrent.checksum == received.nextMaskParent)
        #expect(try MaskFile.decode(try #require(received.nextMask), parent: receivedCurrent) == next)
    }

    @Test func blobChecksumIsTheZlibCRC() throws {
        // The manifest's crc32 is zlib's, so a Python peer can check it with zlib.crc32.
        let frames = try WireMessage.roundResult(
            .init(
                taskID: 1, metrics: Fixtures.metrics(round: 0), mask: Array("123456789".utf8))
        ).encode()
        let body = try #require(String(bytes: frames[1], encoding: .utf8))
        #expect(body.contains(#""crc32":3421780262"#))  // 0xCBF43926
    }
}
