import Foundation
import PumasiShared

/// At most one log line per `interval` for each sender and kind of thing it does wrong (a refused request, a
/// malformed or oversized message), the occurrences between counted on the next line: a peer that sends such
/// messages without end must not fill the broker's disk with its log (found from outside: a solver calling a
/// seeker's service, refused each time, wrote 45,000 lines in 15 s).
///
/// Memory is bounded: every `interval`, what was last logged more than two intervals ago is forgotten (its
/// occurrences since, if any, are lost with it). A pure value: time comes in as `now`.
struct LogThrottle {
    var interval: Millis = 10_000
    private var lines: [String: (loggedAt: Millis, unlogged: Int)] = [:]
    private var nextSweep: Millis = 0

    /// Whether to log an occurrence of `key` at `now`: nil, or how many occurrences the line stands for (itself and
    /// those not logged since the last line).
    mutating func admit(_ key: String, now: Millis) -> Int? {
        if now >= nextSweep {
            nextSweep = now + interval
            lines = lines.filter { now - $0.value.loggedAt < 2 * interval }
        }
        guard var line = lines[key] else {
            lines[key] = (now, 0)
            return 1
        }
        line.unlogged += 1
        defer { lines[key] = line }
        guard now - line.loggedAt >= interval else { return nil }
        let count = line.unlogged
        line = (now, 0)
        return count
    }

    var count: Int { lines.count }
}
