import Foundation
import PumasiShared

/// Refused CURVE handshakes (an unknown key, a revoked one), logged so that an operator sees who is knocking: the
/// key's fingerprint (the first 16 hex digits of the SHA-256 of its Z85 text, as `pumasi-broker keys list` could
/// show it), the address and the reason. At most one line per key a minute; the refusals in between are counted
/// on the next line, so that a client retrying every 100 ms cannot flood the log.
///
/// A handshake that fails before the key is known (a client with the wrong server key, or no CURVE) never reaches
/// the ZAP handler, and is not seen here.
///
/// Thread rule: the broker's loop thread (which answers ZAP requests).
final class RefusalLog {
    private let logger: Logger
    private let interval: Millis
    private var lastLogged: [String: (at: Millis, unlogged: Int)] = [:]

    init(logger: Logger, interval: Millis = 60_000) {
        self.logger = logger
        self.interval = interval
    }

    static func fingerprint(_ publicKey: String) -> String { String(SHA256.hex(Data(publicKey.utf8)).prefix(16)) }

    /// - Returns: the refusals of this key this line counts (this one and those not logged since the last line);
    ///   nil when this one is only counted.
    @discardableResult
    func record(publicKey: String, address: String, _ reason: String, now: Millis = WallClock.now()) -> Int? {
        if let last = lastLogged[publicKey], now - last.at < interval {
            lastLogged[publicKey] = (last.at, last.unlogged + 1)
            return nil
        }
        let unlogged = lastLogged[publicKey]?.unlogged ?? 0
        lastLogged[publicKey] = (now, 0)
        if lastLogged.count > 10_000 { lastLogged = lastLogged.filter { now - $0.value.at < interval } }
        logger.warning(
            "handshake refused",
            [
                "key.fingerprint": Self.fingerprint(publicKey), "address": address, "reason": reason,
                "refused.since.last": "\(unlogged)",
            ])
        return unlogged + 1
    }
}
