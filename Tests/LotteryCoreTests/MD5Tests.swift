import Foundation
import LotteryCore
import Testing

@Suite("MD5 (RFC 1321)")
struct MD5Tests {
    /// The test suite of RFC 1321, appendix A.5.
    @Test(arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a"
        ),
    ])
    func rfc1321Vectors(input: String, digest: String) {
        #expect(MD5.hexDigest(Array(input.utf8)) == digest)
    }

    @Test func streamingInAnyPiecesEqualsOneShot() {
        var rng = LotteryRNG(seed: 5, stream: "md5")
        let bytes = (0..<10_000).map { _ in UInt8(rng.below(256)) }
        let whole = MD5.hexDigest(bytes)
        // Piece sizes that straddle the 64-byte block and the 56-byte padding boundary.
        for pieces in [[1], [55, 1, 8], [63, 2], [64], [120, 7, 300]] {
            var hasher = MD5()
            var offset = 0
            var index = 0
            while offset < bytes.count {
                let length = min(pieces[index % pieces.count], bytes.count - offset)
                hasher.update(bytes[offset..<offset + length])
                offset += length
                index += 1
            }
            #expect(SHA256.hex(hasher.finalize()) == whole)
        }
        // Lengths around the padding boundaries, against a second, independent hasher fed byte by byte.
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 128] {
            var bytewise = MD5()
            for byte in bytes[..<length] { bytewise.update([byte]) }
            #expect(SHA256.hex(bytewise.finalize()) == MD5.hexDigest(bytes[..<length]))
        }
    }

    @Test func fileDigestMatchesMd5sum() throws {
        try withTemporaryDirectory { dir in
            var rng = LotteryRNG(seed: 6, stream: "md5-file")
            let bytes = (0..<(3 << 20) + 17).map { _ in UInt8(truncatingIfNeeded: rng.next()) }  // > one 1 MiB read
            let path = (dir as NSString).appendingPathComponent("blob")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let ours = try CIFAR10Conversion.md5(ofFile: path)
            #expect(ours == MD5.hexDigest(bytes))
            // GNU coreutils' md5sum, where present, as an outside reference.
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/md5sum") {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/md5sum")
                process.arguments = [path]
                let pipe = Pipe()
                process.standardOutput = pipe
                try process.run()
                let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                #expect(output.hasPrefix(ours + " "))
            }
        }
    }
}
