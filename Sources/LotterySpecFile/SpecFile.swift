import Foundation
public import LotteryCore
// `package`: ``SpecDocument`` hands Yams nodes to the sweep grid (LotteryCoordinator's `SweepPlan`).
package import Yams

/// One hyperparameter as written in a spec file: its dotted key, its value and where it was written.
public struct SpecEntry: Sendable, Hashable {
    /// Dotted key (`train.lr`), whether the file nested it (`train: {lr: …}`) or wrote it dotted.
    public var key: String
    public var value: SpecValue
    /// 1-based line of the value in the file.
    public var line: Int?

    public init(key: String, value: SpecValue, line: Int?) {
        self.key = key
        self.value = value
        self.line = line
    }
}

/// Reading YAML spec files into flat dotted hyperparameters, with line numbers for error messages.
///
/// The same flattening serves single-trial files (`lth train SPEC.yaml`) and the `base:` and `grid:`
/// sections of sweep files (``loadSweep(path:)``). Which keys exist and what they accept is known only to
/// ``TrialSpec/keys`` in LotteryCore; this type knows YAML, not hyperparameters.
public enum SpecFile {
    /// Loads a single-trial spec file: a YAML map of hyperparameters, nested (`train: {lr: 1e-3}`) or dotted
    /// (`train.lr: 1e-3`), flattened to dotted keys in file order.
    ///
    /// Keys are not checked here (see ``loadTrialSpec(path:overrides:)``), except that the sweep-only
    /// sections `name`, `base`, `grid` are refused with a hint to use `lth sweep`.
    /// - Throws: ``SpecFileError`` naming the file and line: unreadable file, YAML syntax, a key set twice.
    public static func load(path: String) throws(SpecFileError) -> [SpecEntry] {
        let document = try SpecDocument(path: path)
        for (keyNode, _) in document.root {
            let key = keyNode.string ?? ""
            if ["base", "grid", "name"].contains(key) {
                throw document.error(
                    at: keyNode, key: key,
                    "this looks like a sweep file (it has 'base:'/'grid:'); run it with `lth sweep`, or write the hyperparameters at the top level"
                )
            }
        }
        return try document.entries(of: document.root, section: "")
    }
}

/// A parsed YAML file and its name, so every error can say `file:line: key: message`.
package struct SpecDocument {
    package let file: String
    package let text: String
    package let root: Node.Mapping

    package init(path: String) throws(SpecFileError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpecFileError(
                file: path, line: nil, key: "",
                message: "cannot read the file (\(Self.reason(error))); check the path"
            )
        }
        try self.init(text: text, file: path)
    }

    package init(text: String, file: String) throws(SpecFileError) {
        self.file = file
        self.text = text
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw Self.yamlError(error, file: file)
        }
        guard let node else {
            throw SpecFileError(
                file: file, line: nil, key: "", message: "the file is empty; expected a YAML map of keys")
        }
        guard case .mapping(let mapping) = node else {
            throw SpecFileError(
                file: file, line: node.mark?.line, key: "", message: "expected a YAML map of keys at the top level")
        }
        self.root = mapping
    }

    /// An error at `node`'s line.
    package func error(at node: Node?, key: String, _ message: String) -> SpecFileError {
        SpecFileError(file: file, line: node?.mark?.line, key: key, message: message)
    }

    /// The text of a map key; keys must be plain strings.
    package func keyText(_ node: Node, section: String) throws(SpecFileError) -> String {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw error(at: node, key: section, "map keys must be plain names like train.lr")
        }
        return scalar.string
    }

    /// Flattens nested maps to dotted keys, in file order; leaves are any non-map nodes.
    ///
    /// `section` prefixes keys in error messages only (`grid.`, `base.`); returned keys are bare.
    /// A key reached twice (`train: {lr: …}` and `train.lr: …`) is an error.
    package func leaves(of mapping: Node.Mapping, section: String) throws(SpecFileError) -> [(key: String, node: Node)] {
        var result: [(key: String, node: Node)] = []
        var seen: [String: Int?] = [:]
        func walk(_ mapping: Node.Mapping, prefix: String) throws(SpecFileError) {
            for (keyNode, value) in mapping {
                let key = prefix + (try keyText(keyNode, section: section + prefix))
                if case .mapping(let inner) = value {
                    try walk(inner, prefix: key + ".")
                    continue
                }
                if let first = seen[key] {
                    let firstLine = first.map { " (first on line \($0))" } ?? ""
                    throw error(at: keyNode, key: section + key, "set twice\(firstLine); keep one")
                }
                seen[key] = keyNode.mark?.line
                result.append((key, value))
            }
        }
        try walk(mapping, prefix: "")
        return result
    }

    /// Flattened hyperparameters with their values.
    package func entries(of mapping: Node.Mapping, section: String) throws(SpecFileError) -> [SpecEntry] {
        var entries: [SpecEntry] = []
        for leaf in try leaves(of: mapping, section: section) {
            let value = try self.value(of: leaf.node, key: section + leaf.key)
            entries.append(SpecEntry(key: leaf.key, value: value, line: leaf.node.mark?.line))
        }
        return entries
    }

    /// A YAML node as a ``SpecValue``: plain scalars resolved the YAML way (int, float, bool, null, else
    /// string), quoted scalars always strings, sequences lists (nested lists allowed).
    package func value(of node: Node, key: String) throws(SpecFileError) -> SpecValue {
        switch node {
        case .scalar(let scalar):
            switch node.tag.description {
            case Tag.Name.int.rawValue:
                if let int = Int.construct(from: scalar) { return .int(int) }
            case Tag.Name.float.rawValue:
                if let double = Double.construct(from: scalar) { return .double(double) }
            case Tag.Name.bool.rawValue:
                if let bool = Bool.construct(from: scalar) { return .bool(bool) }
            case Tag.Name.null.rawValue:
                return .null
            default:
                break
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var values: [SpecValue] = []
            for item in sequence { values.append(try value(of: item, key: key)) }
            return .list(values)
        case .mapping:
            throw error(at: node, key: key, "a map is not a value here; write a scalar or a list")
        case .alias:
            throw error(at: node, key: key, "YAML aliases are not supported here; write the value out")
        }
    }

    /// Yams's error as one line with file and line, not a dump.
    static func yamlError(_ error: any Error, file: String) -> SpecFileError {
        guard let yaml = error as? YamlError else {
            return SpecFileError(file: file, line: nil, key: "", message: "YAML error: \(reason(error))")
        }
        func context(_ context: YamlError.Context?) -> String {
            guard let context else { return "" }
            return " (\(context.text) at line \(context.mark.line))"
        }
        switch yaml {
        case .scanner(let ctx, let problem, let mark, _), .parser(let ctx, let problem, let mark, _),
            .composer(let ctx, let problem, let mark, _):
            return SpecFileError(
                file: file, line: mark.line, key: "", message: "YAML syntax: \(problem)\(context(ctx))")
        case .duplicatedKeysInMapping(let duplicates, let ctx):
            return SpecFileError(
                file: file, line: ctx.mark.line, key: duplicates.joined(separator: ", "),
                message: "key set twice in the same map; keep one"
            )
        case .reader(let problem, _, _, _):
            return SpecFileError(file: file, line: nil, key: "", message: "cannot read YAML: \(problem)")
        default:
            return SpecFileError(file: file, line: nil, key: "", message: "YAML error: \(reason(error))")
        }
    }

    static func reason(_ error: any Error) -> String {
        String(describing: error).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}

/// Loads a single-trial spec file and applies `--set` style overrides, then validates the result.
///
/// - Parameters:
///   - path: YAML file of hyperparameters (nested or dotted keys; see docs/sweep-spec.md).
///   - overrides: `(key, value)` pairs applied after the file, in order (e.g. from `--set train.lr=6e-4`).
/// - Returns: The trial spec, defaults filled in for every key the file does not name.
/// - Throws: ``SpecFileError`` naming the file and line (or `--set`), the key and what is allowed.
public func loadTrialSpec(path: String, overrides: [(String, SpecValue)] = []) throws(SpecFileError) -> TrialSpec {
    // A `model` preset first (from the file or --set), so that every key named explicitly wins over it.
    let entries = TrialSpec.presetsFirst(try SpecFile.load(path: path), key: \.key)
    var spec = TrialSpec()
    if let preset = overrides.last(where: { $0.0 == "model" }) {
        do {
            try spec.set("model", to: preset.1)
        } catch {
            throw SpecFileError(file: "--set", line: nil, key: "model", message: error.message)
        }
    }
    var lines: [String: Int] = [:]
    for entry in entries where !(entry.key == "model" && overrides.contains { $0.0 == "model" }) {
        do {
            try spec.set(entry.key, to: entry.value)
        } catch {
            throw SpecFileError(file: path, line: entry.line, key: entry.key, message: error.message)
        }
        lines[entry.key] = entry.line
    }
    for (key, value) in overrides where key != "model" {
        do {
            try spec.set(key, to: value)
        } catch {
            throw SpecFileError(file: "--set", line: nil, key: key, message: error.message)
        }
        lines[key] = nil
    }
    do {
        try spec.validate()
    } catch {
        let inOverrides = overrides.contains { $0.0 == error.key }
        throw SpecFileError(
            file: inOverrides ? "--set" : path, line: inOverrides ? nil : lines[error.key], key: error.key,
            message: error.message
        )
    }
    return spec
}
