import Foundation
import LotteryCore
import Yams

/// A spec file line that could not be used: file, line and what was wrong.
struct SpecFileError: Error, CustomStringConvertible {
    var file: String
    var line: Int?
    var message: String

    var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Reading trial specs from YAML: nested (`train: {lr: 1e-3}`) and flat dotted (`train.lr: 1e-3`) keys both work.
enum SpecFile {
    /// One leaf of the file: its dotted key, value and 1-based line.
    struct Entry {
        var key: String
        var value: SpecValue
        var line: Int
    }

    /// Flattens a YAML document into dotted keys in file order.
    ///
    /// Plain scalars are typed by ``SpecValue/parse(_:)``; quoted scalars stay strings; a sequence of scalars
    /// becomes a list.
    /// - Throws: ``SpecFileError`` for YAML syntax errors and for values that are neither scalars, lists nor mappings.
    static func entries(yaml: String, file: String) throws -> [Entry] {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch {
            throw SpecFileError(file: file, line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else { return [] }
        guard case .mapping(let mapping) = root else {
            throw SpecFileError(file: file, line: root.mark?.line, message: "the top level must be a mapping of keys to values")
        }
        var result: [Entry] = []
        try flatten(mapping, prefix: "", file: file, into: &result)
        return result
    }

    /// Applies `path`'s entries to `spec` in file order.
    /// - Throws: ``SpecFileError`` naming the key and `file:line` of the first bad entry.
    static func apply(path: String, to spec: inout TrialSpec) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpecFileError(file: path, line: nil, message: "cannot be read")
        }
        for entry in try entries(yaml: String(decoding: data, as: UTF8.self), file: path) {
            do { try spec.set(entry.key, to: entry.value) } catch {
                throw SpecFileError(file: path, line: entry.line, message: error.description)
            }
        }
    }

    private static func flatten(_ mapping: Node.Mapping, prefix: String, file: String, into result: inout [Entry]) throws {
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw SpecFileError(file: file, line: keyNode.mark?.line, message: "keys must be plain names")
            }
            let key = prefix + keyScalar.string
            let line = keyNode.mark?.line ?? 0
            switch valueNode {
            case .mapping(let nested):
                try flatten(nested, prefix: key + ".", file: file, into: &result)
            case .scalar(let scalar):
                result.append(Entry(key: key, value: value(of: scalar), line: line))
            case .sequence(let sequence):
                var items: [SpecValue] = []
                for item in sequence {
                    guard case .scalar(let scalar) = item else {
                        throw SpecFileError(file: file, line: item.mark?.line ?? line, message: "\(key): list items must be scalars")
                    }
                    items.append(value(of: scalar))
                }
                result.append(Entry(key: key, value: .list(items), line: line))
            case .alias:
                throw SpecFileError(file: file, line: line, message: "\(key): YAML aliases are not supported")
            }
        }
    }

    private static func value(of scalar: Node.Scalar) -> SpecValue {
        switch scalar.style {
        case .singleQuoted, .doubleQuoted: return .string(scalar.string)
        default: return SpecValue.parse(scalar.string)
        }
    }
}
