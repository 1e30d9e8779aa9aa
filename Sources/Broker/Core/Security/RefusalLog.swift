import Foundation
import PumasiShared

/// Refused CURVE handshakes (an unknown key, a revoked one), logged so that an operator sees who is knocking: the
/// key's fingerprint (the first 16 hex digits of the SHA-256 of its Z85 text, as `pumasi-broker keys list` could
/// show it), the address and the reason. At most one line per key a minute; the refusals in between are counted
/// on the next line, so that a client retrying every 100 ms cannot flood the log.
///
/// A handshake that fails before the key is known (a client with the wrong server key, or no CURVE) never reaches
/// the ZAP handler: the broker's socket monitor reports it (`recordHandshakeFailure`), without a key (a client sends
/// its long-term key only inside INITIATE, after the server's WELCOME has proved the server key right) and without
/// the peer's address (libzmq's event names the listening endpoint).
///
/// Thread rule: the broker's loop thread (which answers ZAP requests).
///
/// Bounded against a stranger who makes a new key for every try, as `LogThrottle` bounds it.
final class RefusalLog {
    private let logger: Logger
    private var throttle: LogThrottle

    init(logger: Logger, interval: Millis = 60_000, linesPerInterval: Int = 20, maxKeys: Int = 1_000) {
        self.logger = logger
        throttle = LogThrottle(interval: interval, linesPerInterval: linesPerInterval, maxKeys: maxKeys)
    }

    static func fingerprint(_ publicKey: String) -> String { String(SHA256.hex(Data(publicKey.utf8)).prefix(16)) }

    /// - Returns: the refusals of this key this line counts (this one and those not logged since the last line);
    ///   nil when this one is only counted.
    @discardableResult
    func record(publicKey: String, address: String, _ reason: String, now: Millis = WallClock.now()) -> Int? {
        guard let line = throttle.admit(publicKey, now: now) else { return nil }
        logger.warning(
            "handshake refused",
            [
                "key.fingerprint": Self.fingerprint(publicKey), "address": address, "reason": reason,
                "refused.since.last": "\(line.occurrences - 1)", "refused.other.keys.unlogged": "\(line.others)",
            ])
        return line.occurrences
    }

    /// A handshake that failed before any key was sent, under the same limits (one line a minute per reason).
    @discardableResult
    func recordHandshakeFailure(endpoint: String, _ reason: String, now: Millis = WallClock.now()) -> Int? {
        guard let line = throttle.admit("handshake:" + reason, now: now) else { return nil }
        logger.warning(
            "handshake failed before any key was sent",
            [
                "endpoint": endpoint, "reason": reason, "failed.since.last": "\(line.occurrences - 1)",
                "refused.other.keys.unlogged": "\(line.others)",
            ])
        return line.occurrences
    }
}
