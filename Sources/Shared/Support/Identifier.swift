import Foundation
import Synchronization

/// Identifiers such as `sub_01jdz8k3q5m9x7v3`: 9 characters of the time in milliseconds, then 7 random ones
/// (35 bits from the system's CSPRNG), in lowercase Crockford base32.
///
/// Time first makes identifiers of things made later sort later, so the store's indexes grow at their right
/// edge: a commit of many new submissions writes a few index pages, not one page per submission at random
/// places. They are not secrets: every lookup by identifier is checked against who may see the object.
public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")  // Crockford base32, lowercase, ASCII order

    public static func make(prefix: String, now: Millis = WallClock.now()) -> String {
        let time = UInt64(max(0, now))  // 45 bits: until the year 3084
        var random = randomWords.withLock { $0.next() }
        // Written as bytes: the broker makes one for every submission and announcement.
        var body: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &body) { bytes in
            for index in 0..<9 { bytes[index] = digits[Int((time >> (5 * UInt64(8 - index))) & 31)] }
            for index in 9..<16 {
                bytes[index] = digits[Int(random & 31)]
                random >>= 5
            }
        }
        return prefix + "_" + withUnsafeBytes(of: &body) { String(decoding: $0, as: UTF8.self) }
    }

    private static let digits = Array(alphabet.map { $0.asciiValue! })

    /// A secret to hand out of band, such as an invitation token: the prefix, then 130 random bits from the system's
    /// CSPRNG in 26 characters of the same alphabet. Store only its hash.
    public static func secret(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = prefix + "_"
        for _ in 0..<2 {
            var random: UInt64 = generator.next()
            for _ in 0..<13 {
                text.append(alphabet[Int(random & 31)])
                random >>= 5
            }
        }
        return text
    }

    /// Random words from the kernel's CSPRNG (`/dev/urandom`), read 64 at a time: a `getrandom` call per
    /// identifier was a visible share of the broker's time per job.
    private static let randomWords = Mutex(RandomWords())

    private struct RandomWords: ~Copyable {
        private var words = [UInt64](repeating: 0, count: 64)
        private var used = 64
        /// Kept open for the life of the process.
        private static let urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

        mutating func next() -> UInt64 {
            if used == words.count {
                let wanted = words.count * 8
                let filled = words.withUnsafeMutableBytes { buffer in
                    Self.urandom >= 0 ? read(Self.urandom, buffer.baseAddress, wanted) : -1
                }
                if filled != wanted {
                    var generator = SystemRandomNumberGenerator()
                    for index in words.indices { words[index] = generator.next() }
                }
                used = 0
            }
            defer { used += 1 }
            return words[used]
        }
    }

    /// Whether `text` has the shape of an identifier with `prefix`: cheap to check before any lookup.
    public static func isWellFormed(_ text: String, prefix: String) -> Bool {
        guard text.hasPrefix(prefix + "_") else { return false }
        let body = text.dropFirst(prefix.count + 1)
        return body.count == 16 && body.allSatisfy { alphabet.contains($0) }
    }
}
