import Foundation

/// Tidy CSV, written the same way everywhere (results.db exports, `lth report`): RFC 4180 fields, `\n` line
/// ends, numbers as the shortest text that reads back as the same `Double`. `pd.read_csv(path)` needs no options.
public enum CSV {
    /// One RFC 4180 field: quoted when it contains a comma, a double quote or a line break; quotes doubled.
    public static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One CSV line: fields joined by commas, ending in `\n`.
    public static func line(_ cells: [String]) -> String {
        cells.map(field).joined(separator: ",") + "\n"
    }

    /// A number cell: empty for `nil`, `nan` / `inf` / `-inf` for non-finite values (pandas reads all as floats),
    /// otherwise Swift's round-trip-exact `description` (`1.0`, `0.0012`).
    public static func number(_ value: Double?) -> String {
        guard let value else { return "" }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return value.description
    }
}
