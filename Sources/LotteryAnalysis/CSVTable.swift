import Foundation
import LotteryCore

/// A CSV file read into memory: header and rows of text cells (RFC 4180: quoted fields, doubled quotes,
/// commas and line breaks inside quotes). Columns are found by name, never by position.
public struct CSVTable: Sendable {
    /// The file's column names, in order.
    public let header: [String]
    /// The data rows; every row has `header.count` cells (short rows are padded with empty cells).
    public let rows: [[String]]
    private let index: [String: Int]

    /// Parses CSV text.
    ///
    /// - Parameters:
    ///   - text: the file's contents; the first line is the header.
    ///   - path: shown in errors.
    /// - Throws: ``ReportError`` when a row has more cells than the header or a quote is left open.
    public init(text: String, path: String) throws(ReportError) {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var line = 1
        var recordLine = 1
        let bytes = Array(text.utf8)
        var position = 0
        var fieldStarted = false
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldStarted = false
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if position < bytes.count, bytes[position] == UInt8(ascii: "\"") {
                        field.append(byte)
                        position += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                quoted = true
                fieldStarted = true
            case UInt8(ascii: ","):
                endField()
                fieldStarted = true
            case UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "\n"):
                if fieldStarted || !field.isEmpty || !record.isEmpty {
                    endField()
                    records.append(record)
                }
                record = []
                line += 1
                recordLine = line
            default:
                field.append(byte)
                fieldStarted = true
            }
        }
        if quoted { throw ReportError(path: path, line: recordLine, "a quoted field is never closed") }
        if fieldStarted || !field.isEmpty || !record.isEmpty {
            endField()
            records.append(record)
        }
        guard let header = records.first else {
            throw ReportError(path: path, line: 1, "the file is empty (no header line)")
        }
        self.header = header
        var rows: [[String]] = []
        rows.reserveCapacity(records.count - 1)
        for (offset, row) in records.dropFirst().enumerated() {
            if row.count > header.count {
                throw ReportError(
                    path: path, line: offset + 2, "\(row.count) cells but the header has \(header.count) columns")
            }
            rows.append(row.count == header.count ? row : row + Array(repeating: "", count: header.count - row.count))
        }
        self.rows = rows
        var index: [String: Int] = [:]
        for (position, name) in header.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }

    /// Reads and parses the file at `path`.
    public init(contentsOf path: String) throws(ReportError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ReportError(path: path, "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(text: text, path: path)
    }

    /// Position of column `name`, or `nil` when the file has no such column.
    public func column(_ name: String) -> Int? { index[name] }

    /// Whether the file has column `name`.
    public func has(_ name: String) -> Bool { index[name] != nil }
}

/// Writes tidy CSV: RFC 4180 fields, `\n` line ends, numbers as the shortest text that reads back the same.
struct CSVWriter {
    private(set) var text: String

    init(header: [String]) {
        text = ""
        append(header)
    }

    mutating func append(_ cells: [String]) {
        text += CSV.line(cells)
    }

    static func number(_ value: Double?) -> String { CSV.number(value) }

    func write(to path: String) throws(ReportError) {
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError(path: path, "cannot write the file: \(error.localizedDescription)")
        }
    }
}

/// A problem with a results folder or an output file: which file (and line), what is wrong, what to do.
public struct ReportError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String

    public init(path: String, line: Int? = nil, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        "\(path)\(line.map { ":\($0)" } ?? ""): \(message)"
    }
}
