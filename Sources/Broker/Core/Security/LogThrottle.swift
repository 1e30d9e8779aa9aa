import Foundation
import PumasiShared

/// At most one log line per `interval` for each key (a sender and the kind of thing it does wrong, a refused key),
/// the occurrences between counted on the next line, so that a peer repeating itself cannot flood the log (found
/// from outside: a solver calling a seeker's service, refused each time, wrote 45,000 lines in 15 s).
///
/// Bounded against a stranger with a new key (or connection) for every try: at most `linesPerInterval` lines an
/// interval in all, what is left out counted on the next line (`Line.others`); at most `maxKeys` keys remembered
/// (forgotten all at once past it); and every interval, the keys last logged two intervals ago or more are forgotten
/// (with their occurrences since, if any). A pure value: time comes in as `now`.
struct LogThrottle {
    let interval: Millis
    let linesPerInterval: Int
    let maxKeys: Int
    private var lines: [String: (loggedAt: Millis, unlogged: Int)] = [:]
    /// Lines logged in the current interval, from when, and occurrences left out for want of room.
    private var window: (start: Millis, lines: Int, suppressed: Int) = (0, 0, 0)
    private var nextSweep: Millis = 0

    init(interval: Millis, linesPerInterval: Int = 20, maxKeys: Int = 1_000) {
        (self.interval, self.linesPerInterval, self.maxKeys) = (interval, linesPerInterval, maxKeys)
    }

    /// What a line logged now stands for.
    struct Line: Equatable {
        /// Occurrences of its key: itself and those not logged since the key's last line.
        var occurrences: Int
        /// Occurrences of other keys left out for want of room since the last line.
        var others: Int
    }

    /// Whether to log an occurrence of `key` at `now`: nil when it is only counted.
    mutating func admit(_ key: String, now: Millis) -> Line? {
        if now >= nextSweep {
            nextSweep = now + interval
            lines = lines.filter { now - $0.value.loggedAt < 2 * interval }
        }
        if let line = lines[key], now - line.loggedAt < interval {
            lines[key] = (line.loggedAt, line.unlogged + 1)
            return nil
        }
        if now - window.start >= interval { window = (now, 0, window.suppressed) }
        guard window.lines < linesPerInterval else {
            window.suppressed += 1
            return nil
        }
        window.lines += 1
        let line = Line(occurrences: (lines[key]?.unlogged ?? 0) + 1, others: window.suppressed)
        window.suppressed = 0
        if lines.count >= maxKeys { lines.removeAll(keepingCapacity: true) }
        lines[key] = (now, 0)
        return line
    }

    var count: Int { lines.count }
}
