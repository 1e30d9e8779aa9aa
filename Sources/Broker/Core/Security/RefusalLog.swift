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
/// Bounded against a stranger who makes a new key for every try: at most `linesPerInterval` lines an interval in
/// all (the rest counted on the next line), and at most `maxKeys` keys remembered (forgotten all at once past it).
final class RefusalLog {
    private let logger: Logger
    private let interval: Millis
    private let linesPerInterval: Int
    private let maxKeys: Int
    private var lastLogged: [String: (at: Millis, unlogged: Int)] = [:]
    /// Lines logged in the current interval, from when, and refusals not logged for want of room.
    private var window: (start: Millis, lines: Int, suppressed: Int) = (0, 0, 0)

    init(logger: Logger, interval: Millis = 60_000, linesPerInterval: Int = 20, maxKeys: Int = 1_000) {
        self.logger = logger
        self.interval = interval
        self.linesPerInterval = linesPerInterval
        self.maxKeys = maxKeys
    }

    static func fingerprint(_ publicKey: String) -> String { String(SHA256.hex(Data(publicKey.utf8)).prefix(16)) }

    /// - Returns: the refusals of this key this line counts (this one and those not logged since the last line);
    ///   nil when this one is only counted.
    @discardableResult
    func record(publicKey: String, address: String, _ reason: String, now: Millis = WallClock.now()) -> Int? {
        guard let unlogged = mayLog(publicKey, now: now) else { return nil }
        logger.warning(
            "handshake refused",
            [
                "key.fingerprint": Self.fingerprint(publicKey), "address": address, "reason": reason,
                "refused.since.last": "\(unlogged)", "refused.other.keys.unlogged": "\(window.suppressed)",
            ])
        window.suppressed = 0
        return unlogged + 1
    }

    /// A handshake that failed before any key was sent, under the same limits (one line a minute per reason).
    @discardableResult
    func recordHandshakeFailure(endpoint: String, _ reason: String, now: Millis = WallClock.now()) -> Int? {
        guard let unlogged = mayLog("handshake:" + reason, now: now) else { return nil }
        logger.warning(
            "handshake failed before any key was sent",
            [
                "endpoint": endpoint, "reason": reason, "failed.since.last": "\(unlogged)",
                "refused.other.keys.unlogged": "\(window.suppressed)",
            ])
        window.suppressed = 0
        return unlogged + 1
    }

    /// Whether a line for `key` may be logged now. - Returns: the refusals of `key` not logged since its last line,
    ///   or nil when this one is only counted.
    private func mayLog(_ key: String, now: Millis) -> Int? {
        if let last = lastLogged[key], now - last.at < interval {
            lastLogged[key] = (last.at, last.unlogged + 1)
            return nil
        }
        if now - window.start >= interval { window = (now, 0, window.suppressed) }
        guard window.lines < linesPerInterval else {
            window.suppressed += 1
            return nil
        }
        window.lines += 1
        let unlogged = lastLogged[key]?.unlogged ?? 0
        if lastLogged.count >= maxKeys { lastLogged.removeAll(keepingCapacity: true) }
        lastLogged[key] = (now, 0)
        return unlogged
    }
}
