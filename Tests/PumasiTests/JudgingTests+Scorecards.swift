import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Scorecards: judges score every criterion; a judge's score is the weighted mean; the rule combines judges.
extension JudgingTests {
    static let scorecard: [JudgingSpec.Criterion] = [
        .init(name: "novelty", weight: 2, description: "How new is the idea?"),
        .init(name: "feasibility"),
        .init(name: "running cost", weight: 1),
    ]

    static func card(
        _ client: BrokerClient, _ assignment: String, _ criteria: [String: Double]?, score: Double? = nil,
        comments: [String: String]? = nil, comment: String? = nil, judge: String? = nil
    ) throws -> JudgementReceipt {
        let request = JudgeScoreRequest(
            assignment: assignment, score: score, criteria: criteria, comments: comments, comment: comment,
            judge: judge)
        return try client.call(Service.judgeScore, request, as: JudgementReceipt.self).0
    }

    /// Three judges score a scorecard of weights 2, 1 and 1. Each judge's score is their weighted mean (6, 5.25
    /// and 7.5, worked by hand below), and the median of those (6) is the submission's score: not the median
    /// criterion by criterion (6.25), nor any unweighted mean. A missing, unknown or off-scale criterion is refused
    /// by name. The seeker sees every criterion per judge with the judge's name; the solver the same without names.
    @Test func judgesScoreCriteriaAndTheRuleCombinesTheirWeightedMeans() throws {
        let judges = try Judges()
        defer { judges.stop() }
        let setup = judges.setup
        let acme = try setup.client("acme")
        let challenge = try post(
            acme, Self.judgedSpec(JudgingSpec(perSubmission: 3, combine: .median, criteria: Self.scorecard)), [])
        // Everyone who may see the challenge sees its criteria: judges need them.
        let adaClient = try setup.client("ada")
        #expect(try Self.show(adaClient, challenge.id).judging?.criteria == Self.scorecard)
        let ada = try Self.submitFile(adaClient, challenge.id, "idea.md", "A pump that runs on tides.")

        let judy = try judges.viaRelay("judy")
        let given = try #require(try Self.next(judy).reply.assignment)
        #expect(given.criteria == Self.scorecard)
        let asg = given.assignment
        func refused(_ criteria: [String: Double]?, score: Double? = nil, comments: [String: String]? = nil)
            -> ProtocolError?
        {
            refusal { _ = try Self.card(judy, asg, criteria, score: score, comments: comments) }
        }
        let full = ["novelty": 8.0, "feasibility": 5, "running cost": 3]
        let missing = refused(["novelty": 8, "feasibility": 5])
        #expect(missing?.code == .badRequest, "\(String(describing: missing))")
        #expect(
            missing?.message.hasPrefix("criterion \"running cost\" is not scored") == true,
            "\(String(describing: missing))")
        let unknown = refused(full.merging(["beauty": 4]) { a, _ in a })
        #expect(
            unknown?.message.hasPrefix("no criterion \"beauty\" in this challenge") == true,
            "\(String(describing: unknown))")
        let offScale = refused(full.merging(["running cost": 11]) { _, b in b })
        #expect(
            offScale?.message == "criterion \"running cost\" must be scored from 0.0 to 10.0, not 11.0",
            "\(String(describing: offScale))")
        let strayComment = refused(full, comments: ["colour": "Blue."])
        #expect(strayComment?.message.contains("\"colour\", which is not a criterion") == true)
        let scoreAlone = refused(nil, score: 6)
        #expect(
            scoreAlone?.message.hasPrefix("criteria \"novelty\", \"feasibility\", \"running cost\" are not") == true)
        let wrongMean = refused(full, score: 5.5)
        #expect(wrongMean?.message.contains("is not the weighted mean of the criteria, 6.0") == true)

        // judy: (2·8 + 5 + 3) / 4 = 6, computed by the broker.
        let receipt = try Self.card(
            judy, asg, full, comments: ["novelty": " Fresh. ", "feasibility": ""], comment: "Promising.")
        #expect(receipt.score == 6 && receipt.remaining == 2)
        #expect(
            receipt.criteria == [
                .init(name: "novelty", score: 8, comment: "Fresh."), .init(name: "feasibility", score: 5),
                .init(name: "running cost", score: 3),
            ])
        // A repeat is answered from the record; a changed comment on a criterion is refused.
        #expect(try Self.card(judy, asg, full, comments: ["novelty": "Fresh."], comment: "Promising.").duplicate)
        let changed = refusal {
            _ = try Self.card(judy, asg, full, comments: ["novelty": "Stale."], comment: "Promising.")
        }
        #expect(changed?.code == .conflict, "\(String(describing: changed))")

        // jules: (2·3 + 6 + 9) / 4 = 5.25, sent with the score, which must agree.
        let jules = try judges.viaRelay("jules")
        let julesAsg = try #require(try Self.next(jules).reply.assignment).assignment
        let julesCard = ["novelty": 3.0, "feasibility": 6, "running cost": 9]
        #expect(
            try Self.card(jules, julesAsg, julesCard, score: 5.25, comments: ["running cost": "Cheap."]).score == 5.25)
        // root: (2·10 + 10 + 0) / 4 = 7.5.
        let root = try setup.client("root")
        let rootAsg = try #require(try Self.next(root).reply.assignment).assignment
        #expect(try Self.card(root, rootAsg, ["novelty": 10, "feasibility": 10, "running cost": 0]).remaining == 0)

        let adaView = try status(adaClient, ada.submission)
        #expect(adaView.state == .scored && adaView.score == 6 && adaView.metrics?["judged"] == 6, "\(adaView)")
        #expect(adaView.message == "judged: median of 3 judgements")
        let seekerView = try status(acme, ada.submission)
        #expect(seekerView.judgements?.map(\.judge) == ["judy", "jules", "root"])
        #expect(seekerView.judgements?.map(\.score) == [6, 5.25, 7.5])
        #expect(seekerView.judgements?.first?.comment == "Promising.")
        #expect(
            seekerView.judgements?[1].criteria == [
                .init(name: "novelty", score: 3), .init(name: "feasibility", score: 6),
                .init(name: "running cost", score: 9, comment: "Cheap."),
            ])
        // The solver sees the same scorecards, without the judges' names.
        #expect(adaView.judgements?.allSatisfy { $0.judge == nil } == true, "\(adaView)")
        #expect(adaView.judgements?.map(\.criteria) == seekerView.judgements?.map(\.criteria))
        #expect(adaView.judgements?.first?.criteria?.first?.comment == "Fresh.")

        // Stored as JSON with sorted keys, so the same judgement is always the same text.
        let store = try TestBackend.store(setup.dir.file("broker"))
        let stored = try store.db.queryOne("SELECT criteria_json FROM judgements WHERE judge = ?", [.text("judy")])
        #expect(
            stored?.string(0)
                == #"{"feasibility":{"score":5},"novelty":{"comment":"Fresh.","score":8},"running cost":{"score":3}}"#)
        #expect(
            try store.auditTrail(action: "submission.judge").first?.detail
                == "score=6.0 novelty=8.0 feasibility=5.0 running cost=3.0")
    }

    /// A challenge without criteria takes one score: criteria or criterion comments sent to it are refused.
    @Test func criteriaAreRefusedWhereTheChallengeHasNone() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try PumasiTests.client(broker)
        let challenge = try post(client, Self.judgedSpec(JudgingSpec()), [])
        _ = try submit(client, challenge.id, "ada", "ada's answer")
        let given = try #require(try Self.next(client, judge: "judy").reply.assignment)
        #expect(given.criteria == nil)
        let cases: [(JudgeScoreRequest, String)] = [
            (.init(assignment: given.assignment, criteria: ["novelty": 4], judge: "judy"), "has no criteria"),
            (
                .init(assignment: given.assignment, score: 4, comments: ["novelty": "New."], judge: "judy"),
                "has no criteria"
            ),
            (.init(assignment: given.assignment, judge: "judy"), "\"score\" is required"),
        ]
        for (request, message) in cases {
            let refused = refusal { _ = try client.call(Service.judgeScore, request, as: JudgementReceipt.self) }
            #expect(
                refused?.code == .badRequest && refused?.message.contains(message) == true,
                "\(String(describing: refused))")
        }
        let receipt = try Self.score(client, given.assignment, 4, judge: "judy")
        #expect(receipt.score == 4 && receipt.criteria == nil && receipt.remaining == 0)
    }

    /// The rule without sockets: weights, the order of summing, and the checks on a spec's criteria.
    @Test func scorecardsWeighTheirCriteriaAndCheckTheirNames() throws {
        let spec = JudgingSpec(scale: .init(min: 1, max: 5), criteria: Self.scorecard)
        let judged = try spec.judgement(
            score: nil, criteria: ["running cost": 1, "novelty": 5, "feasibility": 2], comments: ["novelty": ""])
        #expect(judged.score == 3.25)
        #expect(judged.criteria?.map(\.name) == ["novelty", "feasibility", "running cost"])
        #expect(judged.criteria?.first?.comment == nil, "an empty comment is none")
        #expect(
            spec.ordered([.init(name: "running cost", score: 1), .init(name: "novelty", score: 5)]).map(\.name) == [
                "novelty", "running cost",
            ])
        let problems: [([JudgingSpec.Criterion], String)] = [
            ([], "\"criteria\" must list 1 to 20"),
            (Array(repeating: .init(name: "x"), count: 21), "\"criteria\" must list 1 to 20"),
            ([.init(name: "a"), .init(name: "A")], "criterion \"A\" is listed twice"),
            ([.init(name: "cost=low")], "criterion name \"cost=low\" must be 1-40 letters"),
            ([.init(name: " cost")], "not starting or ending with a space"),
            ([.init(name: String(repeating: "c", count: 41))], "must be 1-40 letters"),
            ([.init(name: "cost", weight: 0)], "criterion \"cost\": \"weight\" must be a number above 0"),
            ([.init(name: "cost", weight: -1)], "\"weight\" must be a number above 0"),
            ([.init(name: "cost", weight: .infinity)], "\"weight\" must be a number above 0"),
            ([.init(name: "cost", description: String(repeating: "d", count: 1_001))], "\"description\" must be"),
        ]
        for (criteria, message) in problems {
            let problem = JudgingSpec(criteria: criteria).problem(scorer: ScorerSpec(judge: true))
            #expect(problem?.contains(message) == true, "\(String(describing: problem))")
        }
        #expect(JudgingSpec(criteria: [.init(name: "Markt-Fit_2 é")]).problem(scorer: ScorerSpec(judge: true)) == nil)
    }
}
