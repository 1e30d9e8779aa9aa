internal import CSodium
import Foundation

/// SHA-256 (FIPS 180-4), for content addresses: libsodium's `crypto_hash_sha256`, the implementation libzmq already
/// links for CURVE. (Measured against the hand-written one it replaced, on 256 MiB in one run: 1.25 times as fast;
/// `docs/performance.md`.)
public struct SHA256: Sendable {
    private var state = crypto_hash_sha256_state()

    /// libsodium asks to be initialised once before use; it is idempotent and thread-safe.
    private static let initialised: Bool = sodium_init() >= 0

    public init() {
        _ = Self.initialised
        crypto_hash_sha256_init(&state)
    }

    /// The lowercase hex digest of `data`.
    public static func hex(_ data: Data) -> String {
        var hasher = SHA256()
        hasher.update(data)
        let digest = hasher.finalize()
        return String(unsafeUninitializedCapacity: 2 * digest.count) { text in
            for (position, byte) in digest.enumerated() {
                text[2 * position] = hexDigit(byte >> 4)
                text[2 * position + 1] = hexDigit(byte & 0x0f)
            }
            return 2 * digest.count
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x57 + value }

    /// Whether `text` is a digest as `hex` writes it: 64 lowercase hex digits.
    public static func isHex(_ text: String) -> Bool { text.utf8.count == 64 && isLowercaseHex(text.utf8) }

    /// Whether every byte is a lowercase hex digit, checked on the bytes: this runs for every job an evaluator takes.
    public static func isLowercaseHex(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { raw in
            _ = crypto_hash_sha256_update(&state, raw.bindMemory(to: UInt8.self).baseAddress, UInt64(raw.count))
        }
    }

    public mutating func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        _ = crypto_hash_sha256_final(&state, &digest)
        return digest
    }
}
