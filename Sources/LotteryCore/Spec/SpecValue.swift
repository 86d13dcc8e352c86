/// A hyperparameter value as written by a user: in a YAML file, a `--set key=value` flag or a grid axis.
///
/// Values are kept loosely typed until they are applied to a ``TrialSpec`` key, which checks them and
/// says what was wrong. `description` is the canonical text form used in CSV cells and trial ids.
public enum SpecValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([SpecValue])
    case null

    /// Parses a scalar the way YAML would: integers, then floats, then booleans, then `null`, else a string.
    ///
    /// A value in square brackets (`[0.2, 0.2, 0.1]`) becomes a list of scalars.
    public static func parse(_ text: String) -> SpecValue {
        let trimmed = text.trimmingSpaces()
        if trimmed.hasPrefix("["), trimmed.hasSuffix("]") {
            let inner = trimmed.dropFirst().dropLast()
            if inner.allSatisfy({ $0 == " " }) { return .list([]) }
            return .list(inner.split(separator: ",").map { parse(String($0)) })
        }
        if let int = Int(trimmed) { return .int(int) }
        if let double = Double(trimmed), trimmed.contains(where: { $0.isNumber }) { return .double(double) }
        switch trimmed.lowercased() {
        case "true", "yes", "on": return .bool(true)
        case "false", "no", "off": return .bool(false)
        case "null", "~", "": return .null
        default: break
        }
        if trimmed.count >= 2, let first = trimmed.first, first == "\"" || first == "'", trimmed.last == first {
            return .string(String(trimmed.dropFirst().dropLast()))
        }
        return .string(trimmed)
    }

    public var description: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value): return SpecValue.format(value)
        case .string(let value): return value
        case .bool(let value): return value ? "true" : "false"
        case .list(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .null: return ""
        }
    }

    /// Shortest text that reads back as the same `Double` (Swift's `description` is round-trip exact).
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    var asInt: Int? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value == value.rounded() && abs(value) < 1e15: return Int(value)
        case .string(let text): return Int(text)
        default: return nil
        }
    }

    var asDouble: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .string(let text): return Double(text)
        default: return nil
        }
    }

    var asString: String? {
        switch self {
        case .string(let value): return value
        case .int, .double, .bool: return description
        default: return nil
        }
    }

    var asList: [SpecValue]? {
        if case .list(let values) = self { return values }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
