import Foundation
import PumasiShared

/// Leaderboard replies, kept a while and given again.
///
/// A leaderboard is computed from every submission of its challenge: 210 ms for one of 60,000 (a release build,
/// `pumasi-bench big-store 240000 0 4`). Polled by a crowd at a deadline, each within its admission, that is the
/// broker's whole loop: a thousand solvers asking once a second for the board of the crowd's surge (a few ms to make
/// as it grows) took receipts' p99 from 16 ms to 36 s (`pumasi-bench crowd`, its poll run). So each reply is kept,
/// as sent, and given to whoever asks the same (challenge, phase, view, limit) for `ageFactor` (10) times as long as
/// it took to make: however often it is asked for, the board maker (`BoardMaker`, the loop's before 2026-12-05) spends
/// at most about a tenth of its time on one board, and the board is at most that much behind (20 ms for one made in
/// 2 ms, 2.1 s at 210 ms), which its `asOf` says.
///
/// What a seeker, a judge or a team changes is seen at once: a disqualification, a judge's score and a change of a
/// team's members forget the challenge's boards (`forget`), a final selection its final boards, once each is made
/// (a refused request forgets nothing, so that no one can empty the cache for free); a new state, scorer version
/// or phase is another key. New submissions and scores are what the age allows to wait.
///
/// Thread rule: the broker's loop thread.
struct LeaderboardCache {
    struct Key: Hashable {
        var challenge: String
        var phase: Int?
        var view: LeaderboardView
        var limit: Int?
        var state: ChallengeState
        var scorerVersion: Int
        var currentPhase: Int
    }

    private struct Kept {
        var reply: [Data]
        var madeAt: UInt64
        var cost: UInt64
        var bytes: Int

        /// Whether it may still be given at `now`. Saturating: a factor so large that the product overflows keeps
        /// the reply for good, not for no time.
        func isFresh(at now: UInt64, factor: UInt64) -> Bool {
            let (lifetime, overflow) = cost.multipliedReportingOverflow(by: factor)
            // A `now` taken before the reply was made finds it new.
            return overflow || (now > madeAt ? now - madeAt : 0) < lifetime
        }
    }

    /// A kept reply is given again for this many times as long as it took to make; 0 keeps none
    /// (`BrokerConfig.leaderboardReuseFactor`).
    var ageFactor: UInt64 = 10
    /// The most replies kept, and the most bytes they hold: those past their time go first, then the oldest. A
    /// reply larger than the bytes is not kept (a full board of 60,000 entrants with metrics is tens of MB).
    static let capacity = 32
    static let capacityBytes = 64 << 20
    private var kept: [Key: Kept] = [:]
    private var bytes = 0
    /// How many times boards were forgotten: a board begun before a change and done after it is given, not kept
    /// (`BoardMaker`). One count for every challenge: a change is rare, and costs at most a board made again.
    private(set) var forgettings = 0

    /// A kept reply for `key` still young enough at `now`.
    func given(_ key: Key, now: UInt64) -> [Data]? {
        guard let found = kept[key], found.isFresh(at: now, factor: ageFactor) else { return nil }
        return found.reply
    }

    /// Keeps `reply` for `key`, made from `madeAt` in `cost` nanoseconds.
    mutating func keep(_ key: Key, _ reply: [Data], madeAt began: UInt64, cost: UInt64, now: UInt64) {
        let size = reply.reduce(0) { $0 + $1.count }
        remove(key)
        guard ageFactor > 0, size <= Self.capacityBytes else { return }
        // Bounded: each turn removes one of at most `capacity` replies.
        kept.filter { !$0.value.isFresh(at: now, factor: ageFactor) }.keys.forEach { remove($0) }
        while kept.count >= Self.capacity || bytes + size > Self.capacityBytes,
            let oldest = kept.min(by: { $0.value.madeAt < $1.value.madeAt })?.key
        {
            remove(oldest)
        }
        kept[key] = Kept(reply: reply, madeAt: began, cost: cost, bytes: size)
        bytes += size
    }

    private mutating func remove(_ key: Key) {
        guard let gone = kept.removeValue(forKey: key) else { return }
        bytes -= gone.bytes
    }

    /// Forgets the kept boards of `challenge` (on `view`, or on every view): something changed that their readers
    /// must see at once.
    mutating func forget(challenge: String, view: LeaderboardView? = nil) {
        forgettings += 1
        kept.keys.filter { $0.challenge == challenge && (view == nil || $0.view == view) }.forEach { remove($0) }
    }

    var count: Int { kept.count }
}
