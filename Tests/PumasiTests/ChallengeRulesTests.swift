import Foundation
import PumasiShared
import Synchronization
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Issue 5 end to end: a real broker, and a real evaluator whose plugin, `echo`, scores a submission with
/// whatever score and metrics the submission itself states (it prints the file), so each test decides exactly
/// what the scorer returns.
/// How far the broker's clock runs ahead of the wall clock.
final class ClockSkew: Sendable {
    private let value = Atomic<Int64>(0)
    var millis: Int64 { value.load(ordering: .relaxed) }
    func set(_ millis: Int64) { value.store(millis, ordering: .relaxed) }
}

@Suite("Challenge lifecycle, rules, ranking and award policies")
struct ChallengeRulesTests {
    /// A broker with a clock the test can move forward, and an evaluator hosting the `echo` plugin.
    final class Setup: Sendable {
        let dir: TempDirectory
        let broker: BrokerHarness
        let evaluator: EvaluatorHarness
        let skew: ClockSkew

        init(configure: (inout BrokerConfig) -> Void = { _ in }) throws {
            dir = try TempDirectory()
            let echo = try dir.write("echo.sh", "#!/bin/sh\ncat \"$1\"\n", executable: true)
            let double = try dir.write("double.py", Self.doubling, executable: true)
            let skew = ClockSkew()
            self.skew = skew
            broker = try BrokerHarness(directory: dir.file("broker")) {
                $0.heartbeatInterval = 100
                $0.closingNotice = 1_000
                $0.clock = { WallClock.now() + skew.millis }
                configure(&$0)
            }
            evaluator = try EvaluatorHarness(
                broker: broker.router, cache: dir.file("cache"), plugins: ["echo": echo, "double": double]
            ) {
                $0.heartbeatInterval = 100
            }
        }

        /// A plugin that scores twice what the submission states (a new scorer version, for rescoring).
        static let doubling = """
            #!/usr/bin/env python3
            import json, sys
            d = json.load(open(sys.argv[1]))
            d["score"] = d["score"] * 2
            print(json.dumps(d))
            """

        /// Another evaluator, hosting `echo` as the given script.
        func evaluator(named name: String, echo script: String) throws -> EvaluatorHarness {
            let path = try dir.write("\(name).sh", script, executable: true)
            return try EvaluatorHarness(
                broker: broker.router, cache: dir.file("cache-\(name)"), plugins: ["echo": path]
            ) {
                $0.heartbeatInterval = 100
            }
        }

        func stop() {
            evaluator.shutdown()
            broker.shutdown()
            dir.remove()
        }

        func client() throws -> BrokerClient { try PumasiTests.client(broker) }

        /// A spec scored by `echo`, deadline in an hour unless said otherwise.
        func spec(
            deadlineIn: Millis = 3_600_000, rules: SubmissionRules? = nil, ranking: RankingSpec? = nil,
            policy: AwardPolicySpec? = nil, direction: Direction = .maximize, startsIn: Millis? = nil
        ) -> ChallengeSpec {
            let now = WallClock.now() + skew.millis
            return ChallengeSpec(
                title: "Rules", description: "d", deadline: now + deadlineIn,
                award: AwardSpec(amount: 1000, currency: "USD", policy: policy), direction: direction,
                scorer: ScorerSpec(plugin: "echo"), timeLimitSeconds: 10, startsAt: startsIn.map { now + $0 },
                rules: rules, ranking: ranking)
        }

        func post(_ spec: ChallengeSpec) throws -> ChallengeInfo { try PumasiTests.post(try client(), spec, []) }

        /// Submits a file that scores `score` with `metrics`, and waits for its score.
        @discardableResult
        func scored(_ challenge: String, _ solver: String, _ score: Double, _ metrics: [String: Double] = [:]) throws
            -> Receipt
        {
            let client = try client()
            let receipt = try submit(
                client, challenge, solver, String(decoding: Self.body(score, metrics), as: UTF8.self))
            let info = try settled(client, receipt.submission)
            #expect(info.state == .scored, "\(info)")
            return receipt
        }

        static func body(_ score: Double, _ metrics: [String: Double]) -> Data {
            Wire.encode(["score": score] as [String: Double]).dropLast() + Data(",\"metrics\":".utf8)
                + Wire.encode(metrics) + Data("}".utf8)
        }

        func leaderboard(_ challenge: String, view: String? = nil) throws -> Leaderboard {
            try client().call(
                Service.leaderboard, LeaderboardRequest(challenge: challenge, view: view), as: Leaderboard.self
            ).0
        }

        func show(_ challenge: String) throws -> ChallengeInfo {
            try client().call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0
        }

        func close(_ challenge: String) throws {
            _ = try client().call(Service.close, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self)
        }

        /// Waits until the challenge is final (awarded, unawarded or cancelled) or still `closed` after 10 s.
        func settledChallenge(_ challenge: String) throws -> ChallengeInfo {
            var info = try show(challenge)
            _ = try eventually {
                info = try show(challenge); return info.state.isFinal
            }
            return info
        }

        func events(of challenge: String) throws -> [Announcement] {
            try client().call(Service.events, EventsRequest(after: 0), as: EventLog.self).0.events.filter {
                $0.challenge == challenge
            }
        }
    }

    @Test func aDraftOpensAtItsStartTimeAndDeadlinesOnlyMoveLater() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let draft = try setup.post(setup.spec(startsIn: 400))
        #expect(draft.state == .draft)
        let early = refusal { _ = try submit(try setup.client(), draft.id, "ada", "{}") }
        #expect(early?.code == .closed && early?.message.contains("opens at") == true)
        #expect(eventually { (try? setup.show(draft.id).state) == .open })
        let receipt = try setup.scored(draft.id, "ada", 1)
        #expect(receipt.quota == nil)  // no limits, no quota

        let later = ExtendRequest(challenge: draft.id, deadline: draft.deadline + 86_400_000)
        let extended = try setup.client().call(Service.extend, later, as: ChallengeInfo.self).0
        #expect(extended.deadline == later.deadline)
        let earlier = refusal {
            _ = try setup.client().call(
                Service.extend, ExtendRequest(challenge: draft.id, deadline: draft.deadline), as: ChallengeInfo.self)
        }
        #expect(earlier?.code == .badRequest && earlier?.message.contains("later than") == true)

        let cancelled = try setup.client().call(
            Service.cancel, CancelRequest(challenge: draft.id, reason: "the data leaked"), as: ChallengeInfo.self
        ).0
        #expect(cancelled.state == .cancelled)
        #expect(refusal { _ = try submit(try setup.client(), draft.id, "ada", "{}") }?.code == .closed)
        #expect(try setup.events(of: draft.id).map(\.topic) == [.opened, .scored, .extended, .cancelled])
        #expect(try setup.show(draft.id).awards == nil)
    }

    @Test func limitsCountPerUTCDayAndInAllButNeverAnInfrastructureFailure() throws {
        let setup = try Setup { $0.maxAttempts = 2 }
        defer { setup.stop() }
        let challenge = try setup.post(
            setup.spec(deadlineIn: 10 * 86_400_000, rules: SubmissionRules(perDay: 2, total: 3)))
        let first = try setup.scored(challenge.id, "ada", 1)
        #expect(first.quota?.remainingToday == 1 && first.quota?.remaining == 2)
        let second = try setup.scored(challenge.id, "ada", 2)
        #expect(second.quota?.remainingToday == 0)
        let today = refusal { _ = try submit(try setup.client(), challenge.id, "ada", "{}") }
        #expect(
            today?.code == .limitReached && today?.message.contains("resets at") == true, "\(String(describing: today))"
        )
        // Another solver has a quota of their own.
        #expect(try setup.scored(challenge.id, "bob", 1).quota?.remainingToday == 1)
        let quota = try setup.client().call(
            Service.quota, QuotaRequest(challenge: challenge.id, solver: "ada"), as: Quota.self
        ).0
        #expect(
            quota.usedToday == 2 && quota.resetsAt % 86_400_000 == 0
                && quota.summary?.contains("0 of 2 left today") == true)

        // The next UTC day: the daily count starts again, the total does not.
        setup.skew.set(quota.resetsAt - WallClock.now() + 1_000)
        let third = try setup.scored(challenge.id, "ada", 3)
        #expect(third.quota?.remainingToday == 1 && third.quota?.remaining == 0)
        let total = refusal { _ = try submit(try setup.client(), challenge.id, "ada", "{}") }
        #expect(total?.code == .limitReached && total?.message.contains("all 3 submissions") == true)
    }

    @Test func aSubmissionThatFailsForInfrastructureReasonsDoesNotCount() throws {
        let setup = try Setup { $0.maxAttempts = 2 }
        defer { setup.stop() }
        var spec = setup.spec(rules: SubmissionRules(total: 1))
        spec.scorer = ScorerSpec(plugin: "flaky")
        let challenge = try setup.post(spec)
        // A worker for the `flaky` plugin that always reports its own trouble.
        let context = try ZMQContext()
        let worker = try ZMQSocket(context, .dealer)
        try worker.connect(setup.broker.router)
        try worker.send(MDP.worker(.ready, [Data(Service.plugin("flaky").utf8)]))
        let client = try setup.client()
        let receipt = try submit(client, challenge.id, "ada", "{}")
        let trouble = ScoringResult(ok: false, error: .init(code: "evaluator_error", message: "disk full"))
        var info = try status(client, receipt.submission)
        _ = try eventually {
            if let request = try worker.receive(dontWait: true), request.frames.count > 3,
                request.frames[2] == Data([MDP.WorkerCommand.request.rawValue])
            {
                try worker.send(MDP.workerReply(clientAddress: request.frames[3], body: [trouble.json]))
            }
            info = try status(client, receipt.submission)
            return info.state == .failed
        }
        #expect(info.error?.hasPrefix("infrastructure:") == true, "\(info)")
        // Not the solver's fault: the one submission allowed is still theirs to make.
        let quota = try client.call(Service.quota, QuotaRequest(challenge: challenge.id, solver: "ada"), as: Quota.self)
            .0
        #expect(quota.used == 0 && quota.remaining == 1)
        _ = try submit(client, challenge.id, "ada", "{}")
    }

    /// The ranking metric on the public split while open, the private split once closed, compared at the stated
    /// precision (ties to the earlier submission); a final selection chooses which submissions count; with
    /// `replace`, only the latest does.
    @Test func splitsPrecisionAndFinalSelectionsRankAsStated() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let challenge = try setup.post(
            setup.spec(rules: SubmissionRules(finalSelection: 1), ranking: RankingSpec(metric: "acc", precision: 2)))
        let a1 = try setup.scored(challenge.id, "ada", 0, ["public.acc": 0.90, "private.acc": 0.70])
        let a2 = try setup.scored(challenge.id, "ada", 0, ["public.acc": 0.80, "private.acc": 0.95])
        try setup.scored(challenge.id, "bob", 0, ["public.acc": 0.85, "private.acc": 0.85])
        try setup.scored(challenge.id, "cy", 0, ["acc": 0.9049])  // no split: ranks both views; 0.90 at 2 places
        let pending = try submit(try setup.client(), challenge.id, "dee", #"{"oops":1}"#)  // fails: no score
        _ = try settled(try setup.client(), pending.submission)

        let provisional = try setup.leaderboard(challenge.id)
        #expect(provisional.view == "provisional" && provisional.metric == "acc" && provisional.precision == 2)
        // ada's 0.90 and cy's 0.9049 tie at 2 places: ada submitted first. dee has no score: last, unranked.
        #expect(provisional.entries.map(\.solver) == ["ada", "cy", "bob", "dee"])
        #expect(provisional.entries.map(\.score) == [0.90, 0.90, 0.85, nil])
        #expect(provisional.entries.map(\.rank) == [1, 2, 3, nil], "a solver with no score has no rank")
        #expect(provisional.entries[0].metrics?.keys.contains("private.acc") == false)
        // The announcement of a score gives the public value.
        let announced = try setup.events(of: challenge.id).first { $0.submission == a2.submission }
        #expect(announced?.score == 0.80)

        // Without a selection, ada's best on the public split (a1) counts for the final ranking.
        #expect(try setup.leaderboard(challenge.id, view: "final").entries.map(\.score) == [0.90, 0.85, 0.70, nil])
        let tooMany = refusal {
            _ = try setup.client().call(
                Service.select,
                SelectRequest(challenge: challenge.id, submissions: [a1.submission, a2.submission], solver: "ada"),
                as: [String].self)
        }
        #expect(tooMany?.message.contains("at most 1") == true)
        let notHers = refusal {
            _ = try setup.client().call(
                Service.select, SelectRequest(challenge: challenge.id, submissions: [a2.submission], solver: "bob"),
                as: [String].self)
        }
        #expect(notHers?.code == .notFound)
        _ = try setup.client().call(
            Service.select, SelectRequest(challenge: challenge.id, submissions: [a2.submission], solver: "ada"),
            as: [String].self)
        try setup.close(challenge.id)
        let final = try setup.leaderboard(challenge.id)
        #expect(final.view == "final")
        #expect(final.entries.map(\.solver) == ["ada", "cy", "bob", "dee"])
        #expect(final.entries.map(\.score) == [0.95, 0.90, 0.85, nil])
        #expect(final.entries[0].submission == a2.submission)
        let awarded = try setup.settledChallenge(challenge.id)
        #expect(
            awarded.state == .awarded && awarded.winner?.submission == a2.submission && awarded.winner?.score == 0.95)
    }

    @Test func withReplaceOnlyTheLatestScoredSubmissionCounts() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let challenge = try setup.post(setup.spec(rules: SubmissionRules(mode: .replace), direction: .minimize))
        try setup.scored(challenge.id, "ada", 1)
        let latest = try setup.scored(challenge.id, "ada", 5)
        try setup.scored(challenge.id, "bob", 3)
        let board = try setup.leaderboard(challenge.id)
        #expect(board.entries.map(\.solver) == ["bob", "ada"] && board.entries.map(\.score) == [3, 5])
        #expect(board.entries[1].submission == latest.submission && board.entries[1].entries == 2)
    }

    @Test func thresholdTiersPayTheGuaranteedAmountAtTheMinimumBar() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let tiers = AwardPolicySpec(kind: .thresholdTiers, minimum: 0.8, target: 0.95, guaranteed: 250)
        // Bars the wrong way round for the direction are refused when posted.
        let inverted = refusal {
            _ = try setup.post(setup.spec(policy: tiers, direction: .minimize))
        }
        #expect(inverted?.code == .badRequest && inverted?.message.contains("must be a better score") == true)
        let challenge = try setup.post(setup.spec(policy: tiers))
        try setup.scored(challenge.id, "ada", 0.7)
        let best = try setup.scored(challenge.id, "bob", 0.9)
        try setup.close(challenge.id)
        let info = try setup.settledChallenge(challenge.id)
        #expect(info.state == .awarded)
        #expect(info.awards?.count == 1 && info.winner?.submission == best.submission && info.winner?.amount == 250)
        #expect(info.winner?.rationale?.contains("minimum bar") == true)
        #expect(info.winner?.policy == "threshold-tiers")
    }

    @Test func aBountyClosesWhenASubmissionMeetsItsThresholdAndTheEarliestSubmittedWins() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let bounty = AwardPolicySpec(kind: .firstToThreshold, threshold: 0.99)
        let challenge = try setup.post(setup.spec(policy: bounty))
        try setup.scored(challenge.id, "ada", 0.5)
        let winner = try setup.scored(challenge.id, "bob", 0.995)
        let info = try setup.settledChallenge(challenge.id)
        #expect(info.state == .awarded && info.winner?.submission == winner.submission && info.winner?.amount == 1000)
        #expect(refusal { _ = try submit(try setup.client(), challenge.id, "cy", "{}") }?.code == .closed)
        let topics = try setup.events(of: challenge.id).map(\.topic)
        #expect(topics.suffix(2) == [.closed, .awarded], "\(topics)")
    }

    @Test func topNSharesPassOverADisqualifiedWinner() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let challenge = try setup.post(setup.spec(policy: AwardPolicySpec(kind: .topN, shares: [60, 40])))
        let cheat = try setup.scored(challenge.id, "mallory", 1.0)
        let second = try setup.scored(challenge.id, "ada", 0.9)
        let third = try setup.scored(challenge.id, "bob", 0.8)
        let info = try setup.client().call(
            Service.disqualify, DisqualifyRequest(submission: cheat.submission, reason: "used the test labels"),
            as: SubmissionInfo.self
        ).0
        #expect(info.solver == "mallory")
        let again = refusal {
            _ = try setup.client().call(
                Service.disqualify, DisqualifyRequest(submission: cheat.submission, reason: "twice"),
                as: SubmissionInfo.self)
        }
        #expect(again?.code == .conflict)
        #expect(try setup.leaderboard(challenge.id).entries.map(\.solver) == ["ada", "bob"])
        try setup.close(challenge.id)
        let awarded = try setup.settledChallenge(challenge.id)
        #expect(awarded.awards?.map(\.submission) == [second.submission, third.submission])
        #expect(awarded.awards?.map(\.amount) == [600, 400])
        #expect(
            try setup.events(of: challenge.id).contains {
                $0.topic == .disqualified && $0.submission == cheat.submission
            })
    }

    @Test func aDiscretionaryAwardWaitsForTheSeekersDecisionAndItsRationale() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let challenge = try setup.post(setup.spec(policy: AwardPolicySpec(kind: .discretionary)))
        let idea = try setup.scored(challenge.id, "ada", 0.2)
        let other = try setup.scored(challenge.id, "bob", 0.9)
        let early = refusal {
            _ = try setup.client().call(
                Service.award, AwardRequest(challenge: challenge.id, payments: [], rationale: "x"),
                as: ChallengeInfo.self)
        }
        #expect(early?.code == .closed && early?.message.contains("still open") == true)
        // The close's own pass settles what it can: a discretionary award waits for the seeker.
        try setup.close(challenge.id)
        #expect(try setup.show(challenge.id).state == .closed)
        let tooMuch = refusal {
            _ = try setup.client().call(
                Service.award,
                AwardRequest(
                    challenge: challenge.id, payments: [.init(submission: idea.submission, amount: 1001)],
                    rationale: "all of it"),
                as: ChallengeInfo.self)
        }
        #expect(tooMuch?.message.contains("at most 1000 USD") == true)
        let decided = try setup.client().call(
            Service.award,
            AwardRequest(
                challenge: challenge.id,
                payments: [
                    .init(submission: idea.submission, amount: 700), .init(submission: other.submission, amount: 100.5),
                ],
                rationale: "ada's approach is the one we will build on"),
            as: ChallengeInfo.self
        ).0
        #expect(decided.state == .awarded)
        #expect(decided.awards?.map(\.amount) == [700, Decimal(string: "100.5")!])
        #expect(decided.awards?.allSatisfy { $0.rationale == "ada's approach is the one we will build on" } == true)
    }

    /// The policies' arithmetic, directly: shares round down to 4 places, tiers in both directions.
    @Test func awardPoliciesDecideFromTheFinalRanking() throws {
        func record(_ policy: AwardPolicySpec, _ direction: Direction = .maximize, amount: Decimal = 1000)
            -> ChallengeRecord
        {
            ChallengeRecord(
                id: "ch_x", title: "t", description: "", state: .closed, deadline: 0,
                award: AwardSpec(amount: amount, currency: "EUR", policy: policy), direction: direction,
                scorer: ScorerSpec(builtin: "exact"), service: "", timeLimitSeconds: 1, closingAnnounced: true,
                createdAt: 0,
                startsAt: 0)
        }
        func candidate(_ n: Int64, _ score: Double, disqualified: Bool = false) -> RankingCandidate {
            RankingCandidate(
                submission: "sub_\(n)", solver: "s\(n)", entrant: "s\(n)", receivedAt: n, order: n, score: score,
                metrics: [:],
                disqualified: disqualified, selected: false)
        }
        func paid(_ decision: AwardDecision) -> [String] {
            guard case .pay(let awards) = decision else { return [] }
            return awards.map { "\($0.submission)=\($0.amount)" }
        }
        let scores = [candidate(1, 0.5), candidate(2, 0.9), candidate(3, 0.7)]
        let thirds = record(
            AwardPolicySpec(
                kind: .topN, shares: [Decimal(string: "33.34")!, Decimal(string: "33.33")!, Decimal(string: "33.33")!]),
            amount: 100)
        #expect(
            paid(thirds.policy.decide(thirds, ranking: Ranking(record: thirds, candidates: scores), now: 0)) == [
                "sub_2=33.34", "sub_3=33.33", "sub_1=33.33",
            ])
        let tiers = AwardPolicySpec(kind: .thresholdTiers, minimum: 0.6, target: 0.3, guaranteed: 100)
        let lowerIsBetter = record(tiers, .minimize)
        #expect(
            paid(tiers.decide(lowerIsBetter, ranking: Ranking(record: lowerIsBetter, candidates: scores), now: 0)) == [
                "sub_1=100"
            ])
        let reached = [candidate(1, 0.25)]
        #expect(
            paid(tiers.decide(lowerIsBetter, ranking: Ranking(record: lowerIsBetter, candidates: reached), now: 0)) == [
                "sub_1=1000"
            ])
        guard
            case .none(let why) = tiers.decide(
                lowerIsBetter, ranking: Ranking(record: lowerIsBetter, candidates: [candidate(1, 0.65)]), now: 0)
        else { Issue.record("a score short of the minimum bar paid out"); return }
        #expect(why.contains("did not reach the minimum bar"))
        // A bounty goes to the earliest submitted that meets it, whatever order they were scored in; not to a
        // disqualified one.
        let bounty = record(AwardPolicySpec(kind: .firstToThreshold, threshold: 0.8))
        let meeting = [candidate(1, 0.85, disqualified: true), candidate(2, 0.95), candidate(3, 0.81)]
        #expect(
            paid(bounty.policy.decide(bounty, ranking: Ranking(record: bounty, candidates: meeting), now: 0)) == [
                "sub_2=1000"
            ])
        // Bad policies are refused when posted.
        #expect(AwardPolicySpec(kind: .topN, shares: [50, 40]).problem(amount: 1) != nil)
        #expect(AwardPolicySpec(kind: .thresholdTiers, minimum: 1, target: 2, guaranteed: 5).problem(amount: 1) != nil)
        #expect(AwardPolicySpec(kind: .firstToThreshold).problem(amount: 1) != nil)
    }

    /// A rescore scores every submission again with a new scorer version; the old scores stay visible, and
    /// ranking follows the new version.
    @Test func aRescoreKeepsTheOldScoresAndRanksByTheNewVersion() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let challenge = try setup.post(setup.spec())
        let ada = try setup.scored(challenge.id, "ada", 0.25)
        try setup.scored(challenge.id, "bob", 0.5)
        let rescored = try setup.client().call(
            Service.rescore,
            RescoreRequest(challenge: challenge.id, scorer: ScorerSpec(plugin: "double"), reason: "fixed a bug"),
            as: ChallengeInfo.self
        ).0
        #expect(rescored.scorerVersion == 2 && rescored.scorer == "plugin double")
        let info = try settled(try setup.client(), ada.submission)
        #expect(info.version == 2 && info.score == 0.5)
        #expect(info.history?.map(\.version) == [1, 2] && info.history?.map(\.score) == [0.25, 0.5])
        #expect(eventually { (try? setup.leaderboard(challenge.id).entries.map(\.score)) == [1.0, 0.5] })
        #expect(try setup.events(of: challenge.id).contains { $0.topic == .rescoring })
        let versions = try TestBackend.store(setup.dir.file("broker")).db.query(
            "SELECT version, service FROM scorer_versions WHERE challenge_id = ? ORDER BY version",
            [.text(challenge.id)])
        #expect(
            versions.map { "\($0.int(0) ?? 0) \($0.string(1) ?? "")" } == [
                "1 pumasi.plugin.echo", "2 pumasi.plugin.double",
            ])
        let bad = refusal {
            _ = try setup.client().call(
                Service.rescore, RescoreRequest(challenge: challenge.id, scorer: ScorerSpec(builtin: "nope")),
                as: ChallengeInfo.self)
        }
        #expect(bad?.code == .badRequest && bad?.message.contains("not a built-in scorer") == true)
        // Closed, it settles on the new version's scores.
        try setup.close(challenge.id)
        let awarded = try setup.settledChallenge(challenge.id)
        #expect(awarded.winner?.solver == "bob" && awarded.winner?.score == 1.0)
    }

    /// BOINC-style redundancy: two independent evaluators must agree; one that reports something else is
    /// outvoted by a third replica and flagged to the seeker.
    @Test func redundantReplicasMustAgreeAndTheOddEvaluatorIsFlagged() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let liar = try setup.evaluator(named: "liar", echo: "#!/bin/sh\necho '{\"score\": 99}'\n")
        defer { liar.shutdown() }
        var spec = setup.spec()
        spec.redundancy = RedundancySpec(replicas: 2, tolerance: 0.001, maxReplicas: 3)
        let challenge = try setup.post(spec)
        let client = try setup.client()
        let receipt = try submit(client, challenge.id, "ada", String(decoding: Setup.body(0.5, [:]), as: UTF8.self))
        // The honest evaluator and the liar each take a replica; they disagree, and nobody else may take the
        // third (each scored the submission once already) until an honest second evaluator comes.
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(eventually { ((try? store.replicas(submission: receipt.submission, version: 1)) ?? []).count == 2 })
        #expect(try status(client, receipt.submission).state != .scored)
        let honest = try setup.evaluator(named: "honest", echo: "#!/bin/sh\ncat \"$1\"\n")
        defer { honest.shutdown() }
        let info = try settled(client, receipt.submission)
        #expect(info.state == .scored && info.score == 0.5, "\(info)")
        let flags = try setup.events(of: challenge.id).filter { $0.topic == .disputed }
        #expect(flags.count == 1 && flags.first?.message?.contains("reported 99.0") == true, "\(flags)")
        #expect(try store.auditTrail(action: "evaluator.disagreed").count == 1)
        #expect(try store.replicas(submission: receipt.submission, version: 1).count == 3)
    }

    /// Results that never agree end the submission as an infrastructure failure (not the solver's), flagged.
    @Test func replicasThatNeverAgreeAreDisputedNotHeldAgainstTheSolver() throws {
        let setup = try Setup()
        defer { setup.stop() }
        let liar = try setup.evaluator(named: "liar", echo: "#!/bin/sh\necho '{\"score\": 99}'\n")
        defer { liar.shutdown() }
        var spec = setup.spec(rules: SubmissionRules(total: 1))
        spec.redundancy = RedundancySpec(replicas: 2, maxReplicas: 2)
        let challenge = try setup.post(spec)
        let client = try setup.client()
        let receipt = try submit(client, challenge.id, "ada", String(decoding: Setup.body(0.5, [:]), as: UTF8.self))
        let info = try settled(client, receipt.submission)
        #expect(
            info.state == .failed && info.error?.hasPrefix("infrastructure: 2 replicas did not agree") == true,
            "\(info)")
        #expect(try setup.events(of: challenge.id).contains { $0.topic == .disputed })
        let quota = try client.call(Service.quota, QuotaRequest(challenge: challenge.id, solver: "ada"), as: Quota.self)
            .0
        #expect(quota.remaining == 1)
    }

    /// A replica's result survives a broker restart: the restarted broker asks only for the replica still
    /// missing, and the agreement of the two is the outcome.
    @Test func replicaResultsSurviveABrokerRestart() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let echo = try dir.write("echo.sh", "#!/bin/sh\ncat \"$1\"\n", executable: true)
        func broker() throws -> BrokerHarness {
            try BrokerHarness(directory: dir.file("broker")) { $0.heartbeatInterval = 100 }
        }
        func evaluator(_ name: String, _ broker: BrokerHarness) throws -> EvaluatorHarness {
            try EvaluatorHarness(broker: broker.router, cache: dir.file("cache-\(name)"), plugins: ["echo": echo]) {
                $0.heartbeatInterval = 100
            }
        }
        var first = try broker()
        let spec = ChallengeSpec(
            title: "Replicas", description: "d", deadline: WallClock.now() + 3_600_000,
            award: AwardSpec(amount: 1, currency: "USD"), scorer: ScorerSpec(plugin: "echo"), timeLimitSeconds: 10,
            redundancy: RedundancySpec(replicas: 2))
        let challenge = try post(try client(first), spec, [])
        let receipt = try submit(try client(first), challenge.id, "ada", #"{"score": 0.5}"#)
        let one = try evaluator("one", first)
        let store = try TestBackend.store(dir.file("broker"))
        #expect(eventually { ((try? store.replicas(submission: receipt.submission, version: 1)) ?? []).count == 1 })
        one.shutdown()
        first.shutdown()

        first = try broker()
        defer { first.shutdown() }
        let again = try evaluator("one-again", first)
        defer { again.shutdown() }
        // Without authentication an evaluator is its connection, so the restarted one counts as new: it may
        // take the missing replica. The result is the agreement of two.
        let info = try settled(try client(first), receipt.submission)
        #expect(info.state == .scored && info.score == 0.5, "\(info)")
        #expect(try store.replicas(submission: receipt.submission, version: 1).count == 2)
    }
}
