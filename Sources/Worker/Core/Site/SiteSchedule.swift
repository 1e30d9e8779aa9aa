import Foundation
import PumasiShared

/// When a relay rewrites a challenge's page: the debouncing rule of `SiteKeeper`, as a value with an injected
/// clock.
///
/// - An announcement for a challenge makes its page due now, or `interval` after the page was last written if
///   that is later: each page is written at most once per `interval`, however many announcements arrive.
/// - Announcements for a page already due change nothing: the page written then shows them all.
/// - A page that could not be written is due again `retryAfter` later.
struct SiteSchedule {
    let interval: Millis
    var retryAfter: Millis = 5_000
    /// The pages waiting to be written, and when each is due.
    private(set) var due: [String: Millis] = [:]
    private var written: [String: Millis] = [:]

    init(interval: Millis = 1_000) { self.interval = interval }

    /// An announcement for `challenge` arrived.
    mutating func announced(_ challenge: String, now: Millis) {
        guard due[challenge] == nil else { return }
        due[challenge] = max(now, (written[challenge] ?? Millis.min / 2) + interval)
    }

    /// The challenges whose pages are due at `now`, sorted, taken off the schedule as written at `now`.
    mutating func take(now: Millis) -> [String] {
        let ready = due.filter { $0.value <= now }.keys.sorted()
        for challenge in ready {
            due[challenge] = nil
            written[challenge] = now
        }
        return ready
    }

    /// `challenges` could not be written at `now`: due again `retryAfter` later (unless already due sooner).
    mutating func failed(_ challenges: [String], now: Millis) {
        for challenge in challenges { due[challenge] = min(due[challenge] ?? .max, now + retryAfter) }
    }

    /// When the next page is due; nil when none is waiting.
    var nextDue: Millis? { due.values.min() }
}
