import Foundation

/// A CSV file parsed per RFC 4180: a header row, then records with the same number of fields.
///
/// Fields may be quoted (`"a, b"`, with `""` for a quote inside); records end with LF, CRLF or CR, and a quoted
/// field may span lines. Blank (or whitespace-only) lines are skipped. A quote inside an unquoted field is kept
/// as a literal character.
struct CSVTable: Sendable {
    /// One data record and the line it starts on (1-based, counting the header).
    struct Row: Sendable {
        var line: Int
        var fields: [String]
    }

    /// Why a CSV file could not be parsed; `description` names the line and, where it helps, the column.
    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var column: Int?
        var problem: String

        var description: String {
            if let column { return "line \(line), column \(column): \(problem)" }
            return "line \(line): \(problem)"
        }
    }

    /// The header's column names, trimmed.
    var header: [String]
    /// The data records.
    var rows: [Row]

    /// Parses `text`.
    /// - Throws: `ParseError` for an empty file, an unterminated quoted field, text after a closing quote, or a
    ///   record whose field count differs from the header's.
    static func parse(_ text: String) throws(ParseError) -> CSVTable {
        var parser = CSVRecordReader(bytes: Array(text.utf8))
        guard let first = try parser.next() else {
            throw ParseError(line: 1, column: nil, problem: "the file is empty (expected a header row)")
        }
        let header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var rows: [Row] = []
        while let record = try parser.next() {
            if header.count > 1, record.fields.count == 1,
                record.fields[0].trimmingCharacters(in: .whitespaces).isEmpty
            {
                continue
            }
            guard record.fields.count == header.count else {
                let count = record.fields.count == 1 ? "1 field" : "\(record.fields.count) fields"
                throw ParseError(
                    line: record.line, column: nil,
                    problem: "the row has \(count) but the header has \(header.count)")
            }
            rows.append(record)
        }
        return CSVTable(header: header, rows: rows)
    }

    /// The index of the column named `name`, or nil if there is none.
    /// - Throws: `ParseError` (line 1) if the header names it more than once.
    func column(named name: String) throws(ParseError) -> Int? {
        let wanted = name.trimmingCharacters(in: .whitespaces)
        let matches = header.indices.filter { header[$0] == wanted }
        if matches.count > 1 {
            throw ParseError(
                line: 1, column: nil, problem: "the header names column \(ScoringText.quoted(wanted)) twice")
        }
        return matches.first
    }
}

/// Reads CSV records one at a time from UTF-8 bytes. Internal to `CSVTable`.
private struct CSVRecordReader {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lineStart = 0

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let lf = UInt8(ascii: "\n")
    private static let cr = UInt8(ascii: "\r")

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next non-blank record, or nil at the end of the input.
    mutating func next() throws(CSVTable.ParseError) -> CSVTable.Row? {
        while index < bytes.count, bytes[index] == Self.lf || bytes[index] == Self.cr {
            consumeLineBreak()
        }
        guard index < bytes.count else { return nil }
        let recordLine = line
        var fields: [String] = []
        while true {
            fields.append(try readField())
            if index >= bytes.count { break }
            if bytes[index] == Self.comma {
                index += 1
                continue
            }
            consumeLineBreak()
            break
        }
        return CSVTable.Row(line: recordLine, fields: fields)
    }

    /// Reads one field, leaving `index` at the comma, line break or end of input after it.
    private mutating func readField() throws(CSVTable.ParseError) -> String {
        guard index < bytes.count, bytes[index] == Self.quote else {
            let start = index
            while index < bytes.count, bytes[index] != Self.comma, bytes[index] != Self.lf, bytes[index] != Self.cr {
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        let openLine = line
        let openColumn = column(of: index)
        index += 1
        var value: [UInt8] = []
        while true {
            guard index < bytes.count else {
                throw CSVTable.ParseError(
                    line: openLine, column: openColumn, problem: "the quoted field starting here is never closed")
            }
            let byte = bytes[index]
            if byte == Self.quote {
                if index + 1 < bytes.count, bytes[index + 1] == Self.quote {
                    value.append(Self.quote)
                    index += 2
                    continue
                }
                index += 1
                break
            }
            if byte == Self.lf || (byte == Self.cr && (index + 1 >= bytes.count || bytes[index + 1] != Self.lf)) {
                value.append(byte)
                index += 1
                line += 1
                lineStart = index
                continue
            }
            value.append(byte)
            index += 1
        }
        if index < bytes.count, bytes[index] != Self.comma, bytes[index] != Self.lf, bytes[index] != Self.cr {
            throw CSVTable.ParseError(
                line: line, column: column(of: index),
                problem: "unexpected text after the closing quote of a field (a quote inside a quoted field "
                    + "must be doubled)")
        }
        return String(decoding: value, as: UTF8.self)
    }

    /// Steps over one LF, CRLF or CR at `index`.
    private mutating func consumeLineBreak() {
        if bytes[index] == Self.cr, index + 1 < bytes.count, bytes[index + 1] == Self.lf {
            index += 2
        } else {
            index += 1
        }
        line += 1
        lineStart = index
    }

    /// The 1-based character column of byte `offset` on the current line.
    private func column(of offset: Int) -> Int {
        bytes[lineStart..<offset].reduce(1) { count, byte in byte & 0xC0 == 0x80 ? count : count + 1 }
    }
}
