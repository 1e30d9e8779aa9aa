import Foundation

/// Whose bytes a builtin scorer is reading: decides which failure code a problem in them produces.
enum DataRole: Sendable {
    case submission
    case reference

    /// "submission" or "reference", for messages.
    var noun: String {
        switch self {
        case .submission: "submission"
        case .reference: "reference"
        }
    }

    /// A failure blaming this side.
    func failure(_ message: String) -> ScoringFailure {
        switch self {
        case .submission: .badSubmission(message)
        case .reference: .badReference(message)
        }
    }
}

/// Text helpers shared by the builtin scorers: strict UTF-8 decoding and strict decimal numbers.
enum ScoringText {
    /// Decodes `data` as UTF-8 text, dropping a leading byte order mark.
    ///
    /// - Throws: a failure for `role` if the bytes are not valid UTF-8 or contain a NUL byte (a binary file).
    static func decode(_ data: Data, as role: DataRole) throws(ScoringFailure) -> String {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            bytes.removeFirst(3)
        }
        if let nul = bytes.firstIndex(of: 0) {
            throw role.failure("\(role.noun) is not a text file: it contains a NUL byte at offset \(nul)")
        }
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                offset += encoded.count
            case .emptyInput:
                return String(decoding: bytes, as: UTF8.self)
            case .error:
                let byte = String(bytes[offset], radix: 16, uppercase: true)
                throw role.failure("\(role.noun) is not valid UTF-8 text: invalid byte 0x\(byte) at offset \(offset)")
            }
        }
    }

    /// Parses a plain decimal number (`-12`, `+0.5`, `.5`, `3.`, `6.02e23`), rejecting hexadecimal, `inf`,
    /// `nan` and anything else `Double.init` would accept beyond decimal notation.
    ///
    /// - Returns: the value, or nil if `token` is not a decimal number or overflows to infinity.
    static func decimal<S: StringProtocol>(_ token: S) -> Double? {
        var digits = 0
        var index = token.utf8.startIndex
        let end = token.utf8.endIndex
        func peek() -> UInt8? { index < end ? token.utf8[index] : nil }
        func advance() { index = token.utf8.index(after: index) }
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

        if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { advance() }
        while isDigit(peek()) {
            advance()
            digits += 1
        }
        if peek() == UInt8(ascii: ".") {
            advance()
            while isDigit(peek()) {
                advance()
                digits += 1
            }
        }
        guard digits > 0 else { return nil }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            advance()
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { advance() }
            guard isDigit(peek()) else { return nil }
            while isDigit(peek()) { advance() }
        }
        guard index == end, let value = Double(String(token)), value.isFinite else { return nil }
        return value
    }

    /// Quotes `text` for a message, shortened to `limit` characters.
    static func quoted<S: StringProtocol>(_ text: S, limit: Int = 60) -> String {
        let shown = text.count > limit ? String(text.prefix(limit)) + "…" : String(text)
        return "\"" + shown.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Lists the first `limit` items quoted and comma-separated, with "…" if there are more.
    static func list<S: StringProtocol>(_ items: [S], limit: Int = 5) -> String {
        let shown = items.prefix(limit).map { quoted($0) }.joined(separator: ", ")
        return items.count > limit ? shown + ", …" : shown
    }

    /// Formats a number for a message: integers without a fraction, others with up to 6 significant digits.
    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return String(format: "%.6g", value)
    }
}
