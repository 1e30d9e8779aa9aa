import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

extension LeaderboardCache {
    /// What the broker does with a request and its board: a kept reply young enough, or `make`'s, kept.
    fileprivate mutating func reply(_ key: Key, now: UInt64, make: () -> [Data]) -> [Data] {
        if let found = given(key, now: now) { return found }
        let began = WallClock.monotonicNanos()
        let reply = make()
        keep(key, reply, madeAt: began, cost: WallClock.monotonicNanos() &- began, now: now)
        return reply
    }
}

/// A leaderboard that took long to make is given again for a while (`LeaderboardCache`): what is kept, for how
/// long, and what a seeker's or a judge's change makes the broker forget.
@Suite("Leaderboards kept", .timeLimit(.minutes(2)))
struct LeaderboardCacheTests {
    private static func key(_ challenge: String, limit: Int? = nil) -> LeaderboardCache.Key {
        LeaderboardCache.Key(
            challenge: challenge, phase: nil, view: .provisional, limit: limit, state: .open, scorerVersion: 1,
            currentPhase: 0)
    }

    /// A reply is given again for `ageFactor` times as long as it took to make; with a factor of 0, never.
    @Test func aReplyIsGivenAgainForTenTimesAsLongAsItTookToMake() {
        var cache = LeaderboardCache()
        var made = 0
        func make(sleeping microseconds: useconds_t) -> [Data] {
            made += 1
            usleep(microseconds)
            return [Data("\(made)".utf8)]
        }
        let start = WallClock.monotonicNanos()
        // 5 ms to make: given again for 50 ms or more (the sleep may take longer, never shorter).
        #expect(cache.reply(Self.key("ch_a"), now: start) { make(sleeping: 5_000) } == [Data("1".utf8)])
        #expect(cache.reply(Self.key("ch_a"), now: start + 40_000_000) { make(sleeping: 0) } == [Data("1".utf8)])
        #expect(made == 1)
        // Long after: made again.
        let later = start + 10_000_000_000
        #expect(cache.reply(Self.key("ch_a"), now: later) { make(sleeping: 0) } == [Data("2".utf8)])
        // Another limit is another reply.
        #expect(cache.reply(Self.key("ch_a", limit: 3), now: later) { make(sleeping: 0) } == [Data("3".utf8)])
        #expect(made == 3 && cache.count == 1, "the board past its time went when the next was kept")
        // Forgotten by challenge, and by view (these are provisional boards).
        var two = LeaderboardCache()
        two.ageFactor = 1_000_000
        _ = two.reply(Self.key("ch_a"), now: start) { make(sleeping: 1_000) }
        _ = two.reply(Self.key("ch_a", limit: 3), now: start) { make(sleeping: 1_000) }
        two.forget(challenge: "ch_b")
        two.forget(challenge: "ch_a", view: .final)
        #expect(two.count == 2)
        two.forget(challenge: "ch_a")
        #expect(two.count == 0)
        var never = LeaderboardCache()
        never.ageFactor = 0
        _ = never.reply(Self.key("ch_a"), now: start) { make(sleeping: 5_000) }
        #expect(never.count == 0)
    }

    /// At most `capacity` replies are kept: the oldest goes.
    @Test func theOldestReplyGoesOnceTheCacheIsFull() {
        var cache = LeaderboardCache()
        cache.ageFactor = 1_000_000
        for index in 0...LeaderboardCache.capacity {
            _ = cache.reply(Self.key("ch_\(index)"), now: WallClock.monotonicNanos()) { [Data("\(index)".utf8)] }
        }
        #expect(cache.count == LeaderboardCache.capacity)
        var madeAgain = false
        _ = cache.reply(Self.key("ch_0"), now: WallClock.monotonicNanos()) {
            madeAgain = true
            return []
        }
        #expect(madeAgain, "the first one kept was the one to go")
        // Replies past their time go before any other: a new one at a much later time finds them all gone.
        _ = cache.reply(Self.key("ch_late"), now: WallClock.monotonicNanos() + 1_000_000_000_000_000) { [] }
        #expect(cache.count == 1)
        // A reply larger than the bytes kept is given, not kept.
        var large = LeaderboardCache()
        let reply = large.reply(Self.key("ch_large"), now: WallClock.monotonicNanos()) {
            [Data(count: LeaderboardCache.capacityBytes + 1)]
        }
        #expect(reply.first?.count == LeaderboardCache.capacityBytes + 1 && large.count == 0)
    }

    /// Over a real broker that keeps every board for long: a new score waits, as the age allows; a disqualification
    /// is seen at once; `asOf` says when the board was made.
    @Test func aKeptBoardWaitsForNewScoresButNotForADisqualification() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.leaderboardReuseFactor = 1_000_000_000
        }
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        func board(limit: Int? = nil) throws -> Leaderboard {
            try client.call(
                Service.leaderboard, LeaderboardRequest(challenge: challenge.id, limit: limit), as: Leaderboard.self
            ).0
        }
        let ada = try settled(client, try submit(client, challenge.id, "ada", "42").submission)
        #expect(ada.state == .scored)
        let first = try board()
        #expect(first.entries.map(\.solver) == ["ada"])
        let made = try #require(first.asOf)
        #expect(abs(made - WallClock.now()) < 60_000)

        let bob = try settled(client, try submit(client, challenge.id, "bob", "42").submission)
        #expect(bob.state == .scored)
        let kept = try board()
        #expect(kept == first, "the same reply, made before bob's score")
        #expect(try board(limit: 10).entries.map(\.solver) == ["ada", "bob"], "another limit is made anew")

        // `pumasi leaderboard` says how old a board is once it is a second old or more (a limit of its own: made
        // by its first request, kept for the second).
        let arguments = ["leaderboard", challenge.id, "--limit", "5", "--broker", broker.router]
        let fresh = try CLIProcess("pumasi", arguments).finish(within: 30)
        #expect(fresh.termination == .exit(0) && !fresh.stdout.contains("as of"), "\(fresh)")
        usleep(1_100_000)
        let old = try CLIProcess("pumasi", arguments).finish(within: 30)
        #expect(
            old.stdout.contains("\nas of 20") && old.stdout.hasSuffix("Z\n"), "\(old)")

        _ = try client.call(
            Service.disqualify, DisqualifyRequest(submission: ada.submission, reason: "copied"),
            as: SubmissionInfo.self)
        let after = try board()
        #expect(after.entries.map(\.solver) == ["bob"])
        #expect(try #require(after.asOf) >= made)
    }
}
