import Foundation

/// Random, unguessable identifiers such as `ch_5kq2m9x7v3a8d4re` (80 bits from the system's CSPRNG).
public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")  // Crockford base32, lowercase

    public static func make(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var bits = generator.next() as UInt64  // 64 bits, plus 16 more: 16 characters of 5 bits each
        let more = generator.next() as UInt64
        var text = prefix + "_"
        for index in 0..<16 {
            if index == 12 { bits = more }
            text.append(alphabet[Int(bits & 31)])
            bits >>= 5
        }
        return text
    }

    /// Whether `text` has the shape of an identifier with `prefix`: cheap to check before any lookup.
    public static func isWellFormed(_ text: String, prefix: String) -> Bool {
        guard text.hasPrefix(prefix + "_") else { return false }
        let body = text.dropFirst(prefix.count + 1)
        return body.count == 16 && body.allSatisfy { alphabet.contains($0) }
    }
}
