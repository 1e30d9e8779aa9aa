import Foundation
import PumasiShared

/// Per-principal admission: a token bucket for each sender of client requests, so that one principal sending far
/// more than its share cannot delay everyone else's receipts.
///
/// The rules, each with its test in `AdmissionTests`:
/// - A bucket holds at most `burst` tokens and gains `rate` tokens a second; a new sender's bucket starts full.
/// - A request costs `cost(service:)` tokens: 1 for what writes (a submission, an upload begun, a challenge posted),
///   `readCost` for anything else. A request that finds too few tokens takes none and is refused busy, with the time
///   until its cost is refilled (`Refusal.retryAfterMs`), never less than 1 ms.
/// - A request that holds the broker's loop longer than `freeLoopNanos` pays for the rest too, a token for every
///   `loopNanosPerToken`, after it was handled (`charge`): the bucket may go into debt, down to `-burst`, and its
///   sender is refused busy until it is paid back. So a principal's share of the loop is bounded, not only its
///   count of requests: a report of a large challenge, or a submission of 16 MiB, costs what it takes.
/// - An admin's bucket is `adminFactor` times larger and faster (scripts, dumps); evaluators are not metered (their
///   requests fetch what the broker's own jobs need).
/// - Memory is bounded: every `sweepInterval`, the buckets that are full again (idle for `burst / rate` seconds) are
///   forgotten; a sender coming back starts full, as it would have been. So the buckets held are those of the
///   senders heard in the last `burst / rate + sweepInterval` (or refused in the last `2 × logInterval`).
/// - A refusal is logged at most once per sender each `logInterval`; the refusals between are counted on the next.
///
/// With CURVE a bucket belongs to the principal (all its connections share it); without, to the connection: a client
/// that makes a new connection for each request is not held by it there, which is one more reason why `--insecure`
/// is for loopback only.
///
/// A pure value: time comes in as `now`, so its tests need no clock and no sleeps.
struct Admission {
    /// Who a bucket belongs to.
    enum Key: Hashable {
        case principal(String)
        case connection(Data)
    }

    /// A request refused for its sender's rate.
    struct Refusal: Equatable {
        /// When the request's cost will have been refilled.
        var retryAfterMs: Int
        /// Whether to log this refusal, and how many refusals of this sender it stands for (itself and those not
        /// logged since the last line).
        var log: Int?
    }

    struct Bucket {
        /// The bucket's own rate and size: a solver's, or an admin's.
        var rate: Double
        var burst: Double
        var tokens: Double
        var updated: Millis
        var loggedAt: Millis?
        var unlogged = 0
    }

    /// Tokens a second; 0 turns admission off.
    var rate: Double
    var burst: Double
    var readCost = 0.25
    var adminFactor = 10.0
    /// Loop time a request takes at no cost beyond its own: every ordinary request takes far less.
    var freeLoopNanos: UInt64 = 1_000_000
    /// Loop time beyond that which costs a token: at `rate` 50, a sender can hold the loop 100 ms a second.
    var loopNanosPerToken: UInt64 = 2_000_000
    var sweepInterval: Millis = 10_000
    var logInterval: Millis = 10_000
    private(set) var buckets: [Key: Bucket] = [:]
    private var nextSweep: Millis = 0

    init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    var isOn: Bool { rate > 0 && burst > 0 }

    /// What a request to `service` costs.
    func cost(service: String) -> Double {
        switch service {
        case Service.submit, Service.uploadBegin, Service.post: 1
        default: readCost
        }
    }

    /// How much larger and faster `role`'s bucket is than a solver's; nil: not metered.
    func factor(_ role: Role?) -> Double? {
        switch role {
        case .evaluator: nil
        case .admin: adminFactor
        case .solver, .seeker, .judge, nil: 1
        }
    }

    /// Takes `cost` from `key`'s bucket, or refuses.
    /// - Parameter role: the sender's role; nil without CURVE.
    /// - Returns: nil when admitted.
    mutating func admit(_ key: Key, role: Role?, cost: Double, now: Millis) -> Refusal? {
        guard isOn, let factor = factor(role) else { return nil }
        if now >= nextSweep { sweep(now: now) }
        var bucket =
            buckets[key].map { refilled($0, now: now) }
            ?? Bucket(rate: rate * factor, burst: burst * factor, tokens: burst * factor, updated: now)
        defer { buckets[key] = bucket }
        // Within a billionth of a token is enough: binary fractions of a second must not cost a whole millisecond.
        if bucket.tokens + Self.epsilon >= cost {
            bucket.tokens = max(0, bucket.tokens - cost)
            return nil
        }
        let wait = Int(((cost - bucket.tokens) / bucket.rate * 1_000 - Self.epsilon).rounded(.up))
        bucket.unlogged += 1
        var log: Int?
        if bucket.loggedAt.map({ now - $0 >= logInterval }) ?? true {
            log = bucket.unlogged
            bucket.loggedAt = now
            bucket.unlogged = 0
        }
        return Refusal(retryAfterMs: max(1, wait), log: log)
    }

    private static let epsilon = 1e-9

    /// Charges `key`'s bucket for the loop time an admitted request took beyond `freeLoopNanos`, into debt if need
    /// be (down to `-burst`).
    mutating func charge(_ key: Key, loopNanos: UInt64) {
        guard isOn, loopNanos > freeLoopNanos, var bucket = buckets[key] else { return }
        let tokens = Double(loopNanos - freeLoopNanos) / Double(loopNanosPerToken)
        bucket.tokens = max(-bucket.burst, bucket.tokens - tokens)
        buckets[key] = bucket
    }

    /// The bucket as it stands at `now`: `rate` tokens a second added since it was last touched, up to `burst`.
    private func refilled(_ bucket: Bucket, now: Millis) -> Bucket {
        var bucket = bucket
        let elapsed = Double(max(0, now - bucket.updated)) / 1_000
        bucket.tokens = min(bucket.burst, bucket.tokens + elapsed * bucket.rate)
        bucket.updated = max(bucket.updated, now)
        return bucket
    }

    /// Forgets the buckets that are full again: their senders have been quiet long enough to be new. One with
    /// refusals not yet logged is kept for two log intervals after its last line, for the next line to count them.
    mutating func sweep(now: Millis) {
        nextSweep = now + sweepInterval
        buckets = buckets.filter { _, bucket in
            refilled(bucket, now: now).tokens < bucket.burst
                || (bucket.unlogged > 0 && now - (bucket.loggedAt ?? now) < 2 * logInterval)
        }
    }
}
