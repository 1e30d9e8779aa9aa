import Foundation

/// A pull reader over one JSON text's UTF-8 bytes, for the bodies that cross the broker once per job: members
/// are visited in order and values read in place, with no tree, no dictionary and no key strings.
///
/// It is strict where it reads and where it skips: every value, skipped or not, must be well-formed JSON
/// (RFC 8259: no `NaN`, no control characters in strings, valid escapes and UTF-8), nested at most
/// `maximumDepth` levels. Any failure, including a member of the wrong type, is a nil; callers then fall back
/// to `JSONDecoder`, which names the problem.
///
/// Only usable inside `read(_:_:)`, which holds the bytes.
public struct JSONReader {
    public static let maximumDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Reads `data` with `read`, which must consume exactly one value; nil if it fails or text follows it.
    public static func read<T>(_ data: Data, _ read: (inout JSONReader) -> T?) -> T? {
        data.withUnsafeBytes { raw -> T? in
            var reader = JSONReader(bytes: raw.bindMemory(to: UInt8.self))
            guard let value = read(&reader) else { return nil }
            reader.skipWhitespace()
            return reader.index == reader.bytes.count ? value : nil
        }
    }

    // MARK: Values

    /// Visits an object's members in order; `visit` reads (or skips) the member's value and says whether that
    /// succeeded. False if this is not an object, or any visit fails.
    public mutating func members(_ visit: (inout JSONReader, JSONKey) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")), enter() else { return false }
        if consume(UInt8(ascii: "}")) { return leave() }
        while true {
            skipWhitespace()
            guard let key = key(), consume(UInt8(ascii: ":")) else { return false }
            skipWhitespace()
            guard visit(&self, key) else { return false }
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "}")) && leave()
        }
    }

    /// Visits an array's elements in order, as `members` visits an object's.
    public mutating func elements(_ visit: (inout JSONReader) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "[")), enter() else { return false }
        if consume(UInt8(ascii: "]")) { return leave() }
        while true {
            skipWhitespace()
            guard visit(&self) else { return false }
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "]")) && leave()
        }
    }

    /// An object of numbers, as `JSONWriter.numbers` writes it (a scorer's metrics); nil for anything else, a name
    /// given twice included.
    public mutating func numbers() -> [String: Double]? {
        var numbers: [String: Double] = [:]
        guard
            members({ r, key in
                guard let name = key.string, numbers[name] == nil, let value = r.number() else { return false }
                numbers[name] = value
                return true
            })
        else { return nil }
        return numbers
    }

    public mutating func string() -> String? {
        skipWhitespace()
        // `stringBytes` has checked the UTF-8.
        switch stringBytes() {
        case .plain(let range)?: return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        case .escaped(let text)?: return String(decoding: text, as: UTF8.self)
        case nil: return nil
        }
    }

    /// A JSON number (never `NaN` or `Infinity`, which JSON does not have).
    public mutating func number() -> Double? {
        skipWhitespace()
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        // No leading zeros: "0" alone, or a digit 1-9 and more digits.
        guard let first = peek(), first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        let digits = consumeDigits()
        if first == UInt8(ascii: "0"), digits > 1 { return nil }
        let integerEnd = index
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard consumeDigits() > 0 else { return nil }
            isInteger = false
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard consumeDigits() > 0 else { return nil }
            isInteger = false
        }
        // A plain integer of up to 15 digits is exact as a Double: no text round trip.
        if isInteger, integerEnd - digitsStart <= 15 {
            var value: Int64 = 0
            for digit in bytes[digitsStart..<integerEnd] { value = value * 10 + Int64(digit &- UInt8(ascii: "0")) }
            return start == digitsStart ? Double(value) : -Double(value)
        }
        guard let value = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)),
            value.isFinite,
            // A zero from a literal with a nonzero digit (1e-400, 0e1) is a nil: JSONDecoder refuses a number that
            // rounds to zero, and its check (`isTrueZero`) also refuses some true zeros with an exponent, such as
            // 0e1 or 0.00e32; the fallback then decides.
            value != 0
                || !bytes[digitsStart..<index].contains(where: {
                    ($0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9")) || $0 | 0x20 == UInt8(ascii: "e")
                })
        else { return nil }
        return value
    }

    /// A whole number that fits an `Int64` exactly (as `JSONDecoder` reads one: no fraction, no exponent).
    public mutating func integer() -> Int64? {
        skipWhitespace()
        let start = index
        guard let value = number(),
            !bytes[start..<index].contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }),
            abs(value) < 9.0e15
        else { return nil }
        return Int64(value)
    }

    public mutating func bool() -> Bool? {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    /// Consumes a `null` if one is next, and says whether it did.
    public mutating func null() -> Bool {
        skipWhitespace()
        return literal("null")
    }

    /// Reads a member's value into `target` with `read`: `null` sets it to nil, a value of another kind fails.
    public mutating func assign<T>(_ target: inout T?, _ read: (inout JSONReader) -> T?) -> Bool {
        if null() {
            target = nil
            return true
        }
        guard let value = read(&self) else { return false }
        target = value
        return true
    }

    /// Checks and passes over one value of any kind.
    public mutating func skip() -> Bool {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{")?: return members { reader, _ in reader.skip() }
        case UInt8(ascii: "[")?: return elements { $0.skip() }
        case UInt8(ascii: "\"")?: return stringBytes() != nil
        case UInt8(ascii: "t")?, UInt8(ascii: "f")?: return bool() != nil
        case UInt8(ascii: "n")?: return null()
        default: return number() != nil
        }
    }

    // MARK: Pieces

    private enum StringBytes {
        /// No escapes: the text is these bytes.
        case plain(Range<Int>)
        /// With escapes resolved (nil if one is invalid).
        case escaped([UInt8])
    }

    /// The string at the cursor, consumed; nil if there is none or it is malformed, invalid UTF-8 included (for
    /// member names and skipped strings too, which nothing else checks).
    private mutating func stringBytes() -> StringBytes? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"),
            bytes[index] >= 0x20
        {
            index += 1
        }
        guard index < bytes.count, bytes[index] >= 0x20 else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            let range = start..<(index - 1)
            return Self.isUTF8(UnsafeBufferPointer(rebasing: bytes[range])) ? .plain(range) : nil
        }
        var text = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return text.withUnsafeBufferPointer(Self.isUTF8) ? .escaped(text) : nil
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                if let unescaped = Self.unescaped(escape) {
                    text.append(unescaped)
                } else {
                    guard escape == UInt8(ascii: "u"), let scalar = unicodeEscape() else { return nil }
                    text.append(contentsOf: String(Character(scalar)).utf8)
                }
            case 0x00..<0x20:
                return nil
            default:
                text.append(byte)
            }
        }
        return nil
    }

    /// The byte a one-character escape (`\n`, `\"`, …) stands for; nil for `u` and for anything invalid.
    static func unescaped(_ escape: UInt8) -> UInt8? {
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): escape
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    private static func isUTF8(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        text.allSatisfy { $0 < 0x80 } || String(validating: text, as: UTF8.self) != nil
    }

    /// The scalar of `\uXXXX` (with its low surrogate's `\uXXXX` for a pair); nil for a lone surrogate.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let high = hex4() else { return nil }
        guard (0xD800..<0xDC00).contains(high) else { return Unicode.Scalar(high) }
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
        else { return nil }
        index += 2
        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
        return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// A member name, consumed with the whitespace after it.
    private mutating func key() -> JSONKey? {
        let key: JSONKey
        switch stringBytes() {
        case .plain(let range)?: key = .plain(UnsafeBufferPointer(rebasing: bytes[range]))
        case .escaped(let text)?: key = .escaped(text)
        case nil: return nil
        }
        skipWhitespace()
        return key
    }

    private mutating func consumeDigits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        return index - start
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count, memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else {
            return false
        }
        index += count
        return true
    }

    /// Consumes `byte` (after any whitespace) if it is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    private mutating func enter() -> Bool {
        depth += 1
        return depth <= Self.maximumDepth
    }

    private mutating func leave() -> Bool {
        depth -= 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
}

/// A member name as the reader found it, compared with names in `switch` cases without making a `String`.
public enum JSONKey {
    /// The name's bytes in the text (it had no escapes).
    case plain(UnsafeBufferPointer<UInt8>)
    /// The name with its escapes resolved.
    case escaped([UInt8])

    public static func ~= (name: StaticString, key: JSONKey) -> Bool {
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        switch key {
        case .plain(let bytes): return bytes.elementsEqual(expected)
        case .escaped(let bytes): return bytes.elementsEqual(expected)
        }
    }

    /// The name as text; nil if it is not valid UTF-8.
    public var string: String? {
        switch self {
        case .plain(let bytes): String(validating: bytes, as: UTF8.self)
        case .escaped(let bytes): String(validating: bytes, as: UTF8.self)
        }
    }
}
