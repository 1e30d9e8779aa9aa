import Foundation

/// A JSON value, parsed by a small strict parser that reports where the text goes wrong.
///
/// It also accepts the bare tokens `NaN`, `Infinity` and `-Infinity` (which Python's `json.dumps` writes) so a
/// plugin's non-finite score can be named as such rather than reported as a syntax error.
public enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    /// Why text is not JSON: what was expected and the 1-based line and column where.
    public struct ParseError: Error, CustomStringConvertible {
        public var problem: String
        public var line: Int
        public var column: Int

        public var description: String { "\(problem) at line \(line), column \(column)" }
    }

    /// What kind of value this is, for messages: "an object", "a string", ...
    public var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// Parses `bytes` as exactly one JSON value, with optional surrounding whitespace.
    /// - Throws: `ParseError` naming the first problem and its position.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses like `parse`, and also returns the names of the top-level object's members in the order they first
    /// appear (empty unless the value is an object).
    public static func parseKeepingOrder(_ bytes: [UInt8]) throws(ParseError) -> (value: JSONValue, order: [String]) {
        var parser = JSONParser(bytes: bytes)
        parser.recordsOrder = true
        let value = try parser.parseDocument()
        var seen = Set<String>()
        return (value, parser.topLevelNames.filter { seen.insert($0).inserted })
    }

    /// The members of an object; nil for anything else.
    public var object: [String: JSONValue]? { if case .object(let members) = self { members } else { nil } }
    public var string: String? { if case .string(let text) = self { text } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var array: [JSONValue]? { if case .array(let elements) = self { elements } else { nil } }

    /// A whole number that fits an `Int64` exactly.
    public var integer: Int64? {
        guard let value = number, value.rounded() == value, abs(value) < 9.0e15 else { return nil }
        return Int64(value)
    }
}

/// A wire type read straight from its JSON bytes by a `JSONReader`, without `JSONDecoder`: for the bodies that
/// cross the broker once per job. `nil` means "not in the expected shape"; `Wire.decode` then falls back to
/// `JSONDecoder`, which names the problem.
public protocol FastJSONDecodable {
    /// Reads one body (an object with `versionedMembers`) at the reader's position.
    static func read(_ reader: inout JSONReader) -> Self?
}

extension FastJSONDecodable {
    /// Decodes a frame whose `v` is the wire version; nil for anything else.
    public static func fastDecode(_ frame: Data) -> Self? { JSONReader.read(frame, Self.read) }
}

extension JSONReader {
    /// Visits a wire body's members as `members` does, all but its version `v`, which must be this wire version.
    public mutating func versionedMembers(_ visit: (inout JSONReader, JSONKey) -> Bool) -> Bool {
        var version: Int64?
        let complete = members { reader, key in
            guard case "v" = key else { return visit(&reader, key) }
            // A repeated version is a nil, as any repeated member (see `JSONMembers`).
            guard version == nil else { return false }
            version = reader.integer()
            return version != nil
        }
        return complete && version == Int64(wireVersion)
    }
}

/// A recursive-descent JSON parser over UTF-8 bytes, depth-limited so hostile input cannot overflow the stack.
private struct JSONParser {
    static let maximumDepth = 64

    let bytes: [UInt8]
    var index = 0
    var depth = 0
    /// The member names of the outermost object, in order, repeats included, when `recordsOrder` is set.
    var topLevelNames: [String] = []
    var recordsOrder = false

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(JSONValue.ParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected text after the JSON value") }
        return value
    }

    private mutating func parseValue() throws(JSONValue.ParseError) -> JSONValue {
        guard let byte = peek() else { throw error("unexpected end of input, expected a value") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "N"): return try parseLiteral("NaN", .number(.nan))
        case UInt8(ascii: "I"): return try parseLiteral("Infinity", .number(.infinity))
        case UInt8(ascii: "-") where matches("-Infinity"): return try parseLiteral("-Infinity", .number(-.infinity))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character \(describe(byte)), expected a value")
        }
    }

    private mutating func parseObject() throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a quoted member name") }
            let key = try parseString()
            if recordsOrder, depth == 1 { topLevelNames.append(key) }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after member name") }
            index += 1
            skipWhitespace()
            members[key] = try parseValue()
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return .object(members)
            default:
                throw error("expected ',' or '}' in object")
            }
        }
    }

    private mutating func parseArray() throws(JSONValue.ParseError) -> JSONValue {
        try enter()
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return .array(elements)
            default:
                throw error("expected ',' or ']' in array")
            }
        }
    }

    private mutating func parseString() throws(JSONValue.ParseError) -> String {
        index += 1
        // Most strings have no escapes: take them whole.
        var end = index
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20
        {
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            defer { index = end + 1 }
            return Self.text(bytes, index..<end)
        }
        var utf8: [UInt8] = Array(bytes[index..<end])
        index = end
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escape = peek() else { throw error("unterminated string") }
                index += 1
                if let unescaped = JSONReader.unescaped(escape) {
                    utf8.append(unescaped)
                } else if escape == UInt8(ascii: "u") {
                    utf8.append(contentsOf: try parseUnicodeEscape())
                } else {
                    index -= 1
                    throw error("invalid escape \\\(describe(escape)) in string")
                }
            case 0x00..<0x20:
                index -= 1
                throw error("unescaped control character in string")
            default:
                utf8.append(byte)
            }
        }
    }

    /// Parses the hex digits after `\u` (and a low surrogate's `\uXXXX` if needed) into UTF-8 bytes.
    private mutating func parseUnicodeEscape() throws(JSONValue.ParseError) -> [UInt8] {
        var scalar = try parseHex4()
        if (0xD800..<0xDC00).contains(scalar), matches("\\u") {
            index += 2
            let low = try parseHex4()
            if (0xDC00..<0xE000).contains(low) {
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
        }
        return Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
    }

    private mutating func parseHex4() throws(JSONValue.ParseError) -> UInt32 {
        guard index + 4 <= bytes.count,
            let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else {
            throw error("invalid \\u escape in string")
        }
        index += 4
        return value
    }

    /// The UTF-8 text of `range`, through the contiguous-bytes fast path.
    private static func text(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    private mutating func parseNumber() throws(JSONValue.ParseError) -> JSONValue {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        guard consumeDigits() > 0 else { throw error("invalid number") }
        // A plain integer of up to 15 digits is exact as a Double: no text round trip.
        if index - digitsStart <= 15, peek() != UInt8(ascii: "."), peek() != UInt8(ascii: "e"),
            peek() != UInt8(ascii: "E")
        {
            var value: Int64 = 0
            for digit in bytes[digitsStart..<index] { value = value * 10 + Int64(digit - UInt8(ascii: "0")) }
            return .number(start == digitsStart ? Double(value) : -Double(value))
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard consumeDigits() > 0 else { throw error("invalid number: expected digits after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard consumeDigits() > 0 else { throw error("invalid number: expected digits in the exponent") }
        }
        guard let value = Double(Self.text(bytes, start..<index)) else {
            index = start
            throw error("invalid number")
        }
        return .number(value)
    }

    private mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(JSONValue.ParseError) -> JSONValue {
        guard matches(word) else { throw error("unexpected text, expected a value") }
        index += word.utf8.count
        return value
    }

    private mutating func consumeDigits() -> Int {
        let start = index
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func enter() throws(JSONValue.ParseError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nested deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func matches(_ word: String) -> Bool {
        bytes[index...].starts(with: word.utf8)
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    /// An error at the current position.
    private func error(_ problem: String) -> JSONValue.ParseError {
        let consumed = bytes[..<min(index, bytes.count)]
        let line = consumed.filter { $0 == 0x0A }.count + 1
        let lineStart = consumed.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let column = bytes[lineStart..<min(index, bytes.count)].filter { $0 & 0xC0 != 0x80 }.count + 1
        return JSONValue.ParseError(problem: problem, line: line, column: column)
    }
}
