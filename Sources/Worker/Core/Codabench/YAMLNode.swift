/// A YAML value as `YAMLDocument` reads it: a scalar's text, a sequence, or a mapping with string keys in the
/// order of the text.
///
/// Scalars are untyped text; the accessors (`int`, `double`, `bool`) read YAML 1.1's forms as PyYAML does. A plain
/// null (`~`, `null`, `Null`, `NULL`, or nothing) is read as the empty string, so `isNull` is true for it and for
/// `''`; a quoted `'null'` stays the text "null".
enum YAMLNode: Sendable {
    case scalar(String)
    case sequence([YAMLNode])
    case mapping([(key: String, value: YAMLNode)])

    /// The value of `key` in a mapping; nil for a missing key or a node that is not a mapping. A key given twice
    /// has its last value, as PyYAML (which Codabench uses) reads it.
    subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.last { $0.key == key }?.value
    }

    /// The item at `index` of a sequence; nil out of range or for a node that is not a sequence.
    subscript(index: Int) -> YAMLNode? {
        guard case .sequence(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// A scalar's text; nil for a sequence or a mapping.
    var string: String? {
        guard case .scalar(let text) = self else { return nil }
        return text
    }

    /// Whether this is a null or empty scalar.
    var isNull: Bool { string?.isEmpty == true }

    /// A sequence's items; nil for a scalar or a mapping.
    var sequence: [YAMLNode]? {
        guard case .sequence(let items) = self else { return nil }
        return items
    }

    /// A mapping's entries in the order of the text; nil for a scalar or a sequence.
    var mapping: [(key: String, value: YAMLNode)]? {
        guard case .mapping(let entries) = self else { return nil }
        return entries
    }

    /// A scalar read as a YAML 1.1 integer: decimal with an optional sign, `0x` hexadecimal or `0o` octal, `_`
    /// separators allowed; nil for anything else or a value out of `Int`'s range.
    var int: Int? {
        guard var text = string?.replacingOccurrences(of: "_", with: ""), !text.isEmpty else { return nil }
        var sign = 1
        if text.first == "-" || text.first == "+" {
            sign = text.first == "-" ? -1 : 1
            text.removeFirst()
        }
        let radix: Int
        if text.hasPrefix("0x") || text.hasPrefix("0o") {
            radix = text.hasPrefix("0x") ? 16 : 8
            text.removeFirst(2)
        } else {
            radix = 10
        }
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit && $0.isASCII }),
            let magnitude = Int(text, radix: radix)
        else { return nil }
        return sign == 1 ? magnitude : 0 - magnitude
    }

    /// A scalar read as a YAML 1.1 number: an integer, a decimal with an optional exponent, or `.inf`, `-.inf`,
    /// `.nan` (any case); nil for anything else.
    var double: Double? {
        if let int { return Double(int) }
        guard let text = string?.replacingOccurrences(of: "_", with: ""), !text.isEmpty else { return nil }
        switch text.lowercased() {
        case ".inf", "+.inf": return .infinity
        case "-.inf": return -.infinity
        case ".nan": return .nan
        default: break
        }
        // Double(_:) also reads "inf", "nan" and hexadecimal floats, which YAML does not.
        guard text.allSatisfy({ "0123456789+-.eE".contains($0) }), text.contains(where: \.isNumber) else {
            return nil
        }
        return Double(text)
    }

    /// A scalar read as a YAML 1.1 boolean as PyYAML reads one: `true`/`false`, `yes`/`no`, `on`/`off`, each in
    /// lower case, capitalized or upper case; nil for anything else.
    var bool: Bool? {
        guard let text = string, text == text.lowercased() || text == text.uppercased() || text == text.capitalized
        else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }
}

extension YAMLNode: Equatable {
    static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case (.scalar(let a), .scalar(let b)): a == b
        case (.sequence(let a), .sequence(let b)): a == b
        case (.mapping(let a), .mapping(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }
}
