import ArgumentParser
import Foundation
import MaskCodec

/// `lth mask …`: look at compressed pruning masks (`.ltmask`, docs/mask-format.md).
struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Inspect compressed pruning masks (.ltmask files) and export them for NumPy.",
        subcommands: [MaskInfoCommand.self, MaskExportCommand.self]
    )
}

/// A one-line, user-facing failure; ArgumentParser prints its description and exits 1.
struct MaskToolError: Error, CustomStringConvertible {
    let description: String
}

/// `lth mask info FILE…`: shapes, kept counts, densities, size, codecs and delta parent of each file.
struct MaskInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print shapes, densities, size and codecs of mask files; verify them by decoding.",
        discussion: """
            A delta file (coded against the previous round's mask) is resolved through its parent chain when it \
            is named round-NN.ltmask and its ancestors round-(NN-1).ltmask … sit in the same folder. Without \
            them only the header is shown (and checked).
            """
    )

    @Argument(help: "Mask files (.ltmask).")
    var files: [String]

    func run() throws {
        var failures: [String] = []
        for file in files {
            do {
                print(try Self.describe(file))
            } catch {
                failures.append("\(file): \(error)")
            }
        }
        guard let last = failures.last else { return }
        for failure in failures.dropLast() {
            FileHandle.standardError.write(Data("lth mask info: \(failure)\n".utf8))
        }
        throw MaskToolError(description: last)
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MaskToolError(description: "cannot read the file (missing or unreadable)")
        }
        return [UInt8](data)
    }

    static func describe(_ path: String) throws -> String {
        let bytes = try read(path)
        let info = try MaskFile.info(bytes)
        var lines: [String] = []
        let percent = { (value: Double) in String(format: "%.2f%%", value * 100) }
        lines.append(
            "\(path): \(info.layers.count) layers, \(info.count) weights, kept \(info.keptCount) (\(percent(info.density))), "
                + "\(info.byteCount) bytes, \(String(format: "%.4f", info.bitsPerWeight)) bits/weight, format v\(info.version)"
        )
        if let parent = info.parentChecksum {
            let parentName = String(format: "%016llx", parent)
            let url = URL(fileURLWithPath: path)
            let names =
                roundNumber(url.lastPathComponent).map { number, width in
                    (0..<number).reversed().map { "round-" + String(format: "%0\(width)d", $0) + ".ltmask" }
                } ?? []
            let folder = url.deletingLastPathComponent()
            let found = SiblingReads()
            let lookup: (Int, UInt64) -> [UInt8]? = { depth, _ in
                guard depth <= names.count,
                    let data = FileManager.default.contents(
                        atPath: folder.appendingPathComponent(names[depth - 1]).path)
                else { return nil }
                found.names.append(names[depth - 1])
                return [UInt8](data)
            }
            let decoded: Mask
            do {
                decoded = try MaskFile.decodeChain(bytes, parentBytes: lookup)
            } catch {
                guard error.code == .parentRequired else { throw error }
                lines.append(
                    "  delta of parent \(parentName): parent not found next to it; header checked, payload not decoded")
                return lines.joined(separator: "\n") + "\n" + table(info)
            }
            lines.append(
                "  delta of parent \(parentName): resolved through \(found.names.joined(separator: " ← ")); "
                    + "decoded and verified (mask checksum \(String(format: "%016llx", decoded.checksum)))")
        } else {
            let mask = try MaskFile.decode(bytes)
            lines.append(
                "  self-contained; decoded and verified (mask checksum \(String(format: "%016llx", mask.checksum)))")
        }
        return lines.joined(separator: "\n") + "\n" + table(info)
    }

    static func table(_ info: MaskFileInfo) -> String {
        let percent = { (value: Double) in String(format: "%.2f%%", value * 100) }
        var lines: [String] = []
        lines.append("  layer  shape          kept      density   codec        payload B  bits/weight")
        for (index, layer) in info.layers.enumerated() {
            let shape = "\(layer.rows)×\(layer.cols)"
            let bits = layer.count == 0 ? 0 : Double(layer.payloadBytes * 8) / Double(layer.count)
            lines.append(
                "  " + pad("\(index + 1)", 5) + "  " + pad(shape, 13) + "  " + pad("\(layer.keptCount)", 8) + "  "
                    + pad(percent(layer.density), 8) + "  " + pad(layer.codec.description, 11) + "  "
                    + pad("\(layer.payloadBytes)", 9) + "  " + String(format: "%.4f", bits))
        }
        lines.append("  header \(info.headerBytes) B + payloads + 4 B CRC-32")
        return lines.joined(separator: "\n")
    }

    /// Names of the ancestor files read while resolving a chain (a box: the lookup closure is not mutating).
    final class SiblingReads {
        var names: [String] = []
    }

    /// `round-NN.ltmask` → (NN, digit count).
    static func roundNumber(_ name: String) -> (Int, Int)? {
        guard name.hasPrefix("round-"), name.hasSuffix(".ltmask") else { return nil }
        let digits = name.dropFirst("round-".count).dropLast(".ltmask".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = Int(digits) else { return nil }
        return (number, digits.count)
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
