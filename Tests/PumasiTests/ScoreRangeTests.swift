import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// A seeker's valid score range (issue 13, item 3): a score outside it is the scorer's error, recorded as a failure
/// that costs the solver nothing, never as a score that could rank.
@Suite("Valid score range", .timeLimit(.minutes(1)))
struct ScoreRangeTests {
    @Test func aScoreOutsideTheRangeFailsTheJobAndCostsTheSolverNothing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"), logLevel: .error)
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let client = try client(broker)
        var (spec, files) = sampleSpec()
        // `exact` gives 0 or 1; this seeker says only 0.5 to 1 can be right (as if 0 were a placeholder score).
        spec.scoreRange = ScoreRange(min: 0.5, max: 1)
        spec.rules = SubmissionRules(perDay: 1)
        let challenge = try post(client, spec, files).id
        let wrong = try settled(client, try submit(client, challenge, "ada", "41").submission)
        #expect(wrong.state == .failed && wrong.score == nil)
        #expect(
            wrong.error
                == "infrastructure: scorer_error: the scorer gave 0.0, outside the challenge's valid range 0.5 to 1.0: "
                + "its seeker should check the scorer", "\(wrong)")
        // Not counted: the one submission a day is still hers, and it scores.
        let right = try settled(client, try submit(client, challenge, "ada", "42").submission)
        #expect(right.state == .scored && right.score == 1)
        let board = try client.call(Service.leaderboard, LeaderboardRequest(challenge: challenge), as: Leaderboard.self)
            .0
        #expect(board.entries.map(\.submission) == [right.submission])

        var bad = spec
        bad.scoreRange = ScoreRange(min: 1, max: 1)
        #expect(
            refusal { _ = try post(client, bad, files) }?.message
                == "spec.scoreRange must have finite min and max, min below max")
    }
}
