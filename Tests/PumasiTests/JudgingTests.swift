import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Human judging end to end: a real broker, real relays that judges work through (with their own CURVE keys),
/// and for mixed challenges a real evaluator.
@Suite("Human judging: blind, through relays, combined by the challenge's rule", .timeLimit(.minutes(3)))
struct JudgingTests {
    /// A CURVE broker (SecureSetup's principals) and a relay for each of the judges judy and jules.
    final class Judges: Sendable {
        let setup: SecureSetup
        let relays: [String: RelayHarness]

        init() throws {
            setup = try SecureSetup()
            var relays: [String: RelayHarness] = [:]
            for name in ["judy", "jules"] {
                relays[name] = try RelayHarness(
                    broker: setup.broker.router, pub: setup.broker.pub,
                    outbox: setup.dir.file("\(name)-outbox.sqlite3"),
                    syncInterval: 100, curve: setup.curve(name))
            }
            self.relays = relays
        }

        func stop() {
            for relay in relays.values { relay.shutdown() }
            setup.stop()
        }

        /// A client of a judge's relay: it carries no key of its own, the relay forwards with its owner's.
        func viaRelay(_ judge: String) throws -> BrokerClient {
            try BrokerClient(endpoint: relays[judge]!.listen, timeoutSeconds: 5)
        }
    }

    static func judgedSpec(_ judging: JudgingSpec, title: String = "Best essay") -> ChallengeSpec {
        ChallengeSpec(
            title: title, description: "Write about pumps.", deadline: WallClock.now() + 3_600_000,
            award: AwardSpec(amount: 1000, currency: "USD"), scorer: ScorerSpec(judge: true), judging: judging)
    }

    static func submitFile(_ client: BrokerClient, _ challenge: String, _ filename: String, _ text: String) throws
        -> Receipt
    {
        try client.call(
            Service.submit, SubmitRequest(challenge: challenge, solver: "ignored", filename: filename),
            files: [Data(text.utf8)], as: Receipt.self
        ).0
    }

    /// The next assignment, with the raw JSON frame it came in and the submission's bytes.
    static func next(_ client: BrokerClient, challenge: String? = nil, judge: String? = nil) throws
        -> (reply: JudgeNextReply, json: String, file: Data?)
    {
        let frames = try client.request(
            service: Service.judgeNext, body: [Wire.encode(JudgeNextRequest(challenge: challenge, judge: judge))])
        let reply = try JSONDecoder().decode(Reply<JudgeNextReply>.self, from: frames[0])
        if let error = reply.error { throw ClientError.server(error) }
        let result = try #require(reply.result, "\(String(decoding: frames[0], as: UTF8.self))")
        return (result, String(decoding: frames[0], as: UTF8.self), frames.dropFirst().first)
    }

    static func score(
        _ client: BrokerClient, _ assignment: String, _ score: Double, _ comment: String? = nil,
        judge: String? = nil
    ) throws -> JudgementReceipt {
        try client.call(
            Service.judgeScore, JudgeScoreRequest(assignment: assignment, score: score, comment: comment, judge: judge),
            as: JudgementReceipt.self
        ).0
    }

    static func show(_ client: BrokerClient, _ challenge: String) throws -> ChallengeInfo {
        try client.call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0
    }

    // MARK: Judged alone, over CURVE, through relays

    /// Judges get submissions blind, each at most once, and only their own assignments to score; solvers and
    /// seekers cannot judge; a judge outside the challenge's panel gets nothing from it.
    @Test func judgesWorkBlindThroughTheirRelaysEachSubmissionOnce() throws {
        let judges = try Judges()
        defer { judges.stop() }
        let setup = judges.setup
        let acme = try setup.client("acme")
        let challenge = try post(
            acme,
            Self.judgedSpec(
                JudgingSpec(
                    perSubmission: 2, combine: .median, judges: ["judy", "jules", "root"], assignmentMinutes: 60)),
            [])
        #expect(challenge.scorer == "judges")
        // The panel's names are for the seeker (and admins); solvers and judges see the rules without them.
        #expect(try Self.show(acme, challenge.id).judging?.judges == ["judy", "jules", "root"])
        #expect(
            try Self.show(try setup.client("ada"), challenge.id).judging
                == JudgingSpec(
                    perSubmission: 2, combine: .median, assignmentMinutes: 60))
        let ada = try Self.submitFile(try setup.client("ada"), challenge.id, "ada-lovelace-essay.md", "# Pumps, by Ada")
        let bob = try Self.submitFile(try setup.client("bob"), challenge.id, "bob.txt", "pumps pump")
        let waiting = try status(try setup.client("ada"), ada.submission)
        #expect(waiting.state == .judging)
        #expect(waiting.note == "waiting for judges: 0 of 2 judgements in")
        // Each judge's relay shows that there is judging work, without naming the submission or its solver.
        for relay in judges.relays.values {
            #expect(
                eventually {
                    relay.shown.filter { $0.topic == .judgingRequested && $0.challenge == challenge.id }.count == 2
                })
            for shown in relay.shown where shown.topic == .judgingRequested {
                #expect(shown.submission == nil && shown.solver == nil && shown.message == "2 judgements needed")
            }
        }

        let judy = try judges.viaRelay("judy")
        let first = try Self.next(judy)
        let assignment = try #require(first.reply.assignment, "\(first.json)")
        // Blind: the challenge, a neutral file name and the bytes; no solver, no submission id.
        #expect(assignment.challenge == challenge.id && assignment.title == "Best essay")
        #expect(assignment.filename == "submission.md")
        #expect(first.file == Data("# Pumps, by Ada".utf8))
        #expect(assignment.scale == JudgingSpec.Scale(min: 0, max: 10))
        for secret in ["ada", "lovelace", ada.submission, "\"solver\"", "\"submission\""] {
            #expect(!first.json.contains(secret), "the assignment reveals \(secret): \(first.json)")
        }
        // Asking again before scoring gives the same place back.
        #expect(try Self.next(judy).reply.assignment?.assignment == assignment.assignment)

        let receipt = try Self.score(judy, assignment.assignment, 8, "Clear and well argued.")
        #expect(receipt.remaining == 1 && !receipt.duplicate && receipt.challenge == challenge.id)
        // A repeat is answered from the record; a change is refused: a judgement is final.
        #expect(try Self.score(judy, assignment.assignment, 8, "Clear and well argued.").duplicate)
        let changed = refusal { _ = try Self.score(judy, assignment.assignment, 9) }
        #expect(changed?.code == .conflict && changed?.message.contains("already scored") == true)

        // Never the same submission twice: judy's next is bob's, and then there is nothing left for her.
        let second = try #require(try Self.next(judy).reply.assignment)
        #expect(second.assignment != assignment.assignment && second.filename == "submission.txt")
        let offScale = refusal { _ = try Self.score(judy, second.assignment, 11) }
        #expect(offScale?.code == .badRequest && offScale?.message.contains("from 0.0 to 10.0") == true)
        _ = try Self.score(judy, second.assignment, 4, "Thin.")
        let none = try Self.next(judy)
        #expect(none.reply.assignment == nil && none.file == nil)
        #expect(none.reply.note == "nothing to judge in the challenges you judge right now")

        // Another judge may not score an assignment that is not theirs: to them it does not exist.
        let jules = try judges.viaRelay("jules")
        let notTheirs = refusal { _ = try Self.score(jules, assignment.assignment, 1) }
        #expect(notTheirs?.code == .notFound && notTheirs?.message == "no assignment \(assignment.assignment) of yours")
        // A judge outside the panel is refused the challenge, and finds no work in it.
        let jo = try setup.client("jo")
        #expect(refusal { _ = try Self.next(jo, challenge: challenge.id) }?.code == .forbidden)
        #expect(try Self.next(jo).reply.assignment == nil)
        // Solvers, seekers and evaluators cannot use the judge services at all.
        for name in ["ada", "acme", "eve-eval"] {
            let client = try setup.client(name)
            let refused = refusal { _ = try Self.next(client, challenge: challenge.id) }
            #expect(
                refused?.code == .forbidden && refused?.message.contains("is for admin and judge") == true, "\(name)")
            #expect(refusal { _ = try Self.score(client, assignment.assignment, 5) }?.code == .forbidden, "\(name)")
        }
        // An admin on the panel may judge, directly against the broker.
        let root = try setup.client("root")
        let rootsFirst = try #require(try Self.next(root).reply.assignment)
        #expect(rootsFirst.filename == "submission.md")
        _ = try Self.score(root, rootsFirst.assignment, 6)
        // Judges stay blind until the award: the combined score is announced without its solver, and a judge
        // may not read the leaderboard, which names them.
        #expect(
            eventually {
                judges.relays.values.allSatisfy { relay in
                    relay.shown.contains { $0.topic == .judged && $0.submission == ada.submission }
                }
            })
        for relay in judges.relays.values {
            for shown in relay.shown where shown.challenge == challenge.id { #expect(shown.solver == nil, "\(shown)") }
        }
        let board = refusal {
            _ = try judy.call(Service.leaderboard, LeaderboardRequest(challenge: challenge.id), as: Leaderboard.self)
        }
        #expect(
            board?.code == .forbidden && board?.message.contains("they judge blind") == true,
            "\(String(describing: board))")
        _ = bob
    }

    /// Two judges per submission, combined by the median; the leaderboard ranks by the judged score; the
    /// challenge, closed early, is awarded only once the last judgement is in. The seeker reads every judgement
    /// with its judge; a solver reads their own, without judges, once complete, and never another's.
    @Test func theMedianOfTwoJudgesRanksAndTheAwardWaitsForTheLastJudgement() throws {
        let judges = try Judges()
        defer { judges.stop() }
        let setup = judges.setup
        let acme = try setup.client("acme")
        let challenge = try post(acme, Self.judgedSpec(JudgingSpec(perSubmission: 2, combine: .median)), [])
        let adaClient = try setup.client("ada")
        let ada = try Self.submitFile(adaClient, challenge.id, "essay.md", "ada's essay")
        let bob = try Self.submitFile(try setup.client("bob"), challenge.id, "essay.md", "bob's essay")
        let judy = try judges.viaRelay("judy")
        let jules = try judges.viaRelay("jules")

        for (judge, scores) in [(judy, ["ada's essay": 9.0, "bob's essay": 5.0]), (jules, ["ada's essay": 6.0])] {
            for _ in scores {
                let next = try Self.next(judge)
                let given = try #require(next.reply.assignment)
                let file = try #require(next.file)
                let score = try #require(scores[String(decoding: file, as: UTF8.self)])
                _ = try Self.score(judge, given.assignment, score, "score \(score)")
            }
        }
        // ada's judging is complete: median of 9 and 6.
        let adaDone = try status(adaClient, ada.submission)
        #expect(adaDone.state == .scored && adaDone.score == 7.5, "\(adaDone)")
        #expect(adaDone.metrics?["judged"] == 7.5)
        #expect(adaDone.judgements?.map(\.score) == [9, 6])
        #expect(adaDone.judgements?.allSatisfy { $0.judge == nil } == true, "a solver never learns who judged")
        #expect(adaDone.judgements?.map(\.comment) == ["score 9.0", "score 6.0"])
        let seekerView = try status(acme, bob.submission)
        #expect(seekerView.state == .judging && seekerView.judgements?.map(\.judge) == ["judy"])
        // bob's partial judgements are not his to see yet, and ada never sees his at all.
        #expect(try status(try setup.client("bob"), bob.submission).judgements == nil)
        #expect(refusal { _ = try status(adaClient, bob.submission) }?.code == .notFound)

        let boardRequest = LeaderboardRequest(challenge: challenge.id)
        var board = try adaClient.call(Service.leaderboard, boardRequest, as: Leaderboard.self).0
        #expect(board.entries.map(\.solver) == ["ada", "bob"])
        #expect(board.entries.map(\.score) == [7.5, nil])
        #expect(board.pending == 1)

        // Closed by an admin while bob still waits for a judge: it stays closed, not awarded.
        let root = try setup.client("root")
        let closed = try root.call(Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
        #expect(closed.state == .closed)
        #expect(try Self.show(acme, challenge.id).state == .closed)
        let last = try #require(try Self.next(jules).reply.assignment)
        #expect(try Self.score(jules, last.assignment, 1, "Off topic.").remaining == 0)
        var final = try Self.show(acme, challenge.id)
        _ = try eventually {
            final = try Self.show(acme, challenge.id)
            return final.state.isFinal
        }
        #expect(final.state == .awarded)
        #expect(
            final.winner?.solver == "ada" && final.winner?.score == 7.5 && final.winner?.submission == ada.submission)
        board = try adaClient.call(Service.leaderboard, boardRequest, as: Leaderboard.self).0
        #expect(board.entries.map(\.score) == [7.5, 3])
        #expect(board.pending == 0)

        let events = try acme.call(Service.events, EventsRequest(after: 0), as: EventLog.self).0.events.filter {
            $0.challenge == challenge.id
        }
        let judged = events.filter { $0.topic == .judged }
        #expect(judged.map(\.submission) == [ada.submission, bob.submission])
        #expect(judged.map(\.score) == [7.5, 3])
        #expect(judged.first?.message == "median of 2 judgements")
        let awarded = try #require(events.firstIndex { $0.topic == .awarded })
        #expect(events.lastIndex { $0.topic == .judged }! < awarded)
        // Judgements are append-only, and every one is in the audit trail with its judge.
        let store = try TestBackend.store(setup.dir.file("broker"))
        let error = try #require(throws: DatabaseError.self) {
            try store.db.execute("UPDATE judgements SET score = 10")
        }
        #expect(error.message.contains("append-only"))
        #expect(
            try store.auditTrail(action: "submission.judge").map(\.principal) == ["judy", "judy", "jules", "jules"])
    }

    // MARK: Mixed: an automated scorer and judges

    /// The automated scorer runs as always; the judges (two, by the mean) add `judged`, and `weight` gives `total`,
    /// which ranks. A submission that fails to score is never judged, and the award waits for the judging.
    @Test func aMixedChallengeRanksByTheWeightedTotal() throws {
        let setup = try ChallengeRulesTests.Setup()
        defer { setup.stop() }
        var spec = setup.spec(ranking: RankingSpec(metric: "total"))
        spec.judging = JudgingSpec(perSubmission: 2, combine: .mean, weight: 0.5)
        let challenge = try setup.post(spec)
        let ada = try setup.scored(challenge.id, "ada", 8)
        let bob = try setup.scored(challenge.id, "bob", 4)
        let client = try setup.client()
        let broken = try submit(client, challenge.id, "cy", "not a score")
        #expect(try settled(client, broken.submission).state == .failed)
        let before = try status(client, ada.submission)
        #expect(before.state == .scored && before.note == "being judged: 0 of 2 judgements in")
        let waiting = try setup.leaderboard(challenge.id)
        #expect(waiting.entries.allSatisfy { $0.score == nil })
        #expect(waiting.pending == 2 && waiting.failed == 1, "ada's and bob's wait for their judges: \(waiting)")
        try setup.close(challenge.id)

        let judged: [String: [Double]] = [ada.submission: [2, 4], bob.submission: [10, 8]]
        let submissionByText = [
            String(decoding: ChallengeRulesTests.Setup.body(8, [:]), as: UTF8.self): ada.submission,
            String(decoding: ChallengeRulesTests.Setup.body(4, [:]), as: UTF8.self): bob.submission,
        ]
        for (index, judge) in ["judy", "jules"].enumerated() {
            // Before the last judgement the closed challenge waits.
            #expect(try setup.show(challenge.id).state == .closed)
            for _ in 0..<2 {
                let next = try Self.next(client, judge: judge)
                let given = try #require(next.reply.assignment, "\(next.json)")
                let file = try #require(next.file)
                let submission = try #require(submissionByText[String(decoding: file, as: UTF8.self)])
                _ = try Self.score(client, given.assignment, judged[submission]![index], judge: judge)
            }
            #expect(try Self.next(client, judge: judge).reply.assignment == nil, "the failed submission is not judged")
        }
        let adaInfo = try status(client, ada.submission)
        #expect(adaInfo.score == 8 && adaInfo.metrics?["judged"] == 3 && adaInfo.metrics?["total"] == 5.5)
        let final = try setup.settledChallenge(challenge.id)
        #expect(final.state == .awarded)
        #expect(final.winner?.solver == "bob" && final.winner?.score == 6.5)
        let board = try setup.leaderboard(challenge.id)
        #expect(board.metric == "total")
        #expect(board.entries.map(\.solver) == ["bob", "ada", "cy"])
        #expect(board.entries.map(\.score) == [6.5, 5.5, nil])
        #expect(board.entries.first?.metrics?["judged"] == 9)
        #expect(board.pending == 0)
    }

    // MARK: Edge cases

    /// Pending judging survives a restart: the held assignment is still the judge's, the judged-only job goes to
    /// no evaluator, and settlement still waits. A disqualified submission leaves the judges' queue at once.
    @Test func judgingSurvivesARestartAndADisqualificationEndsIt() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try BrokerHarness(directory: dir.file("broker"))
        var client = try PumasiTests.client(broker)
        let challenge = try post(client, Self.judgedSpec(JudgingSpec(scale: .init(min: 1, max: 5))), [])
        let ada = try submit(client, challenge.id, "ada", "ada's answer")
        let bob = try submit(client, challenge.id, "bob", "bob's answer")
        let held = try #require(try Self.next(client, judge: "judy").reply.assignment)
        broker.shutdown()

        broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        client = try PumasiTests.client(broker)
        #expect(try Self.next(client, judge: "judy").reply.assignment == held)
        // Without authentication a judge names themselves.
        let anonymous = refusal { _ = try Self.next(client) }
        #expect(anonymous?.code == .badRequest && anonymous?.message.contains("name the judge") == true)
        _ = try client.call(
            Service.disqualify, DisqualifyRequest(submission: bob.submission, reason: "copied"), as: SubmissionInfo.self
        )
        let bobInfo = try status(client, bob.submission)
        #expect(bobInfo.state == .failed && bobInfo.error == "disqualified before its judging finished: copied")
        #expect(try Self.next(client, judge: "jules").reply.assignment == nil)
        _ = try client.call(Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        #expect(try Self.show(client, challenge.id).state == .closed)
        _ = try Self.score(client, held.assignment, 4, judge: "judy")
        var final = try Self.show(client, challenge.id)
        _ = try eventually {
            final = try Self.show(client, challenge.id)
            return final.state.isFinal
        }
        #expect(final.winner?.submission == ada.submission && final.winner?.score == 4)
        #expect(try status(client, ada.submission).message == "judged: mean of 1 judgement")
    }

    @Test func specsAreCheckedWhenPosted() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try PumasiTests.client(broker)
        let cases: [(JudgingSpec, ScorerSpec, String)] = [
            (JudgingSpec(weight: 0.5), ScorerSpec(judge: true), "\"weight\" combines an automated score"),
            (JudgingSpec(weight: 1.5), ScorerSpec(builtin: "exact"), "\"weight\" must be from 0 to 1"),
            (JudgingSpec(scale: .init(min: 5, max: 5)), ScorerSpec(judge: true), "\"scale\" needs finite"),
            (JudgingSpec(perSubmission: 3, judges: ["a", "b"]), ScorerSpec(judge: true), "\"judges\" must name 3"),
            (JudgingSpec(perSubmission: 0), ScorerSpec(judge: true), "\"perSubmission\" must be from 1 to 20"),
            (JudgingSpec(metric: "total"), ScorerSpec(judge: true), "\"metric\" must be"),
            (JudgingSpec(), ScorerSpec(builtin: "exact", judge: true), "names no \"builtin\""),
            (JudgingSpec(criteria: []), ScorerSpec(judge: true), "\"criteria\" must list 1 to 20 criteria"),
            (
                JudgingSpec(criteria: [.init(name: "cost"), .init(name: "Cost")]), ScorerSpec(judge: true),
                "criterion \"Cost\" is listed twice"
            ),
        ]
        for (judging, scorer, message) in cases {
            var spec = Self.judgedSpec(judging)
            spec.scorer = scorer
            let refused = refusal { _ = try post(client, spec, []) }
            #expect(
                refused?.code == .badRequest && refused?.message.contains(message) == true,
                "\(String(describing: refused))")
        }
        // `{"judge": true}` alone means one judge, by the mean, on 0 to 10, recorded as `judged`.
        var spec = Self.judgedSpec(JudgingSpec())
        spec.judging = nil
        let posted = try post(client, spec, [])
        #expect(posted.judging == JudgingSpec())
        let (plain, files) = sampleSpec()
        let automated = try post(client, plain, files)
        let wrong = refusal { _ = try Self.next(client, challenge: automated.id, judge: "judy") }
        #expect(wrong?.code == .badRequest && wrong?.message.contains("is not judged") == true)
    }

    @Test func rulesCombineAndTotalsFollowTheScoresSplits() {
        #expect(JudgingSpec.Rule.median.combine([2, 10, 3]) == 3)
        #expect(JudgingSpec.Rule.median.combine([2, 10, 3, 5]) == 4)
        #expect(JudgingSpec.Rule.mean.combine([2, 10, 3]) == 5)
        #expect(JudgingSpec.Rule.min.combine([2, 10, 3]) == 2)
        #expect(JudgingSpec.Rule.max.combine([2, 10, 3]) == 10)
        let judging = JudgingSpec(weight: 0.25)
        #expect(
            judging.metrics(adding: 8, to: ["accuracy": 0.5], score: 4) == ["accuracy": 0.5, "judged": 8, "total": 5])
        // With a split score, the total is split too, and no unsplit total shows the private split early.
        let split = judging.metrics(adding: 8, to: ["public.score": 4, "private.score": 0], score: 0)
        #expect(split == ["public.score": 4, "private.score": 0, "judged": 8, "public.total": 5, "private.total": 2])
        #expect(Broker.blindFilename("ada-lovelace.tar.gz") == "submission.tar.gz")
        #expect(Broker.blindFilename("bob.CSV") == "submission.CSV")
        #expect(Broker.blindFilename("notes") == "submission")
        #expect(Broker.blindFilename("x.by-ada_lovelace") == "submission")
    }
}
