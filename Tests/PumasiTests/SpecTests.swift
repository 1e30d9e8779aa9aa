import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Issue 14, item 3: strict specs. An unknown member at any depth is refused with its path and the nearest known
/// one; a built-in scorer is checked against its reference file when posted; a dry run checks without storing.
@Suite("Strict challenge specs", .timeLimit(.minutes(2)))
struct SpecTests {
    /// A valid post's JSON with `edit` applied to its spec (as parsed objects), as a client that is not the CLI
    /// might send it.
    static func body(_ spec: ChallengeSpec, edit: (inout [String: Any]) -> Void) throws -> Data {
        var request = try #require(
            JSONSerialization.jsonObject(with: Wire.encode(PostRequest(spec: spec))) as? [String: Any])
        var object = try #require(request["spec"] as? [String: Any])
        edit(&object)
        request["spec"] = object
        return try JSONSerialization.data(withJSONObject: request)
    }

    static func refusal(_ client: BrokerClient, _ body: [Data], service: String = Service.post) throws
        -> ProtocolError?
    {
        let frames: [Data]
        do {
            frames = try client.request(service: service, body: body)
        } catch ClientError.server(let error) {
            return error
        }
        return try JSONDecoder().decode(Reply<Empty>.self, from: try #require(frames.first)).error
    }

    @Test func unknownMembersAreFoundAtEveryDepthWithTheNearestKnownOne() throws {
        let text = """
            {"spec": {"title": "t", "description": "d", "deadline": 1, "award": {"amount": 1, "currency": "USD",
              "policy": {"kind": "top-n", "shares": [100], "shars": 1}}, "scorer": {"builtin": "exact",
              "options": {"anything": "goes"}, "canaries": [{"file": "c", "scor": 1}]},
              "rules": {"perday": 3}, "judging": {"criteria": [{"name": "n", "wieght": 2}]},
              "phases": [{"name": "a", "endsAt": 1}, {"name": "b", "endsAt": 2, "qualify": {"topp": 1}}],
              "files": [{"name": "f", "role": "public", "sha265": "x"}], "zzzzzz": 1}, "v": 1, "dryrun": true}
            """
        let tree = try JSONValue.parse(Array(text.utf8))
        _ = try JSONDecoder().decode(PostRequest.self, from: Data(text.utf8))
        let found = UnknownMember.find(PostRequest.self, in: tree)
        #expect(
            found.map(\.path) == [
                "dryrun", "spec.award.policy.shars", "spec.files[0].sha265", "spec.judging.criteria[0].wieght",
                "spec.phases[1].qualify.topp", "spec.rules.perday", "spec.scorer.canaries[0].scor", "spec.zzzzzz",
            ])
        #expect(
            found.map { $0.suggestion ?? "-" } == [
                "dryRun", "spec.award.policy.shares", "spec.files[0].sha256", "spec.judging.criteria[0].weight",
                "spec.phases[1].qualify.top", "spec.rules.perDay", "spec.scorer.canaries[0].score", "-",
            ])
        #expect(found.last?.description.hasPrefix("unknown member \"spec.zzzzzz\" (known here: agreement, ") == true)
        #expect(UnknownMember.nearest(to: "optoins", among: ["options", "ingestion"]) == "options")
    }

    @Test func theBrokerRefusesWhatAClientOtherThanTheCLISends() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec(
            scorer: ScorerSpec(builtin: "csv-accuracy", options: ["id": "id", "target": "label"]),
            reference: "id,label\n1,cat\n")

        let cases: [(edit: (inout [String: Any]) -> Void, message: String)] = [
            (
                { $0["timelimitSeconds"] = 5 },
                "unknown member \"spec.timelimitSeconds\": did you mean spec.timeLimitSeconds?"
            ),
            ({ $0["rules"] = ["perday": 3] }, "unknown member \"spec.rules.perday\": did you mean spec.rules.perDay?"),
            (
                { $0["scorer"] = ["builtin": "csv-accuracy", "optoins": ["id": "id"]] },
                "unknown member \"spec.scorer.optoins\": did you mean spec.scorer.options?"
            ),
            (
                {
                    let deadline = $0["deadline"] as? Int64 ?? 0
                    $0["phases"] = [["name": "a", "endsAt": deadline - 1000], ["name": "b", "endsat": deadline]]
                },
                "unknown member \"spec.phases[1].endsat\": did you mean spec.phases[1].endsAt?"
            ),
            (
                { $0["scorer"] = ["builtin": "csv-accuracy", "options": ["id": "id", "target": "labl"]] },
                "spec.scorer: option target=\"labl\" names no column of the reference file answer.txt "
                    + "(its columns are id, label)"
            ),
        ]
        for (edit, message) in cases {
            let error = try Self.refusal(client, [try Self.body(spec, edit: edit)] + files)
            #expect(error?.code == .badRequest && error?.message == message, "\(String(describing: error))")
        }
        var noReference = sampleSpec().0
        noReference.files = [FileEntry(name: "question.txt", role: .public)]
        let error = try Self.refusal(client, [Wire.encode(PostRequest(spec: noReference)), files[0]])
        #expect(
            error?.message
                == "spec.scorer: exact compares submissions with a reference file, and the challenge has none "
                + "(list one in files with \"role\": \"reference\")",
            "\(String(describing: error))")

        // A dry run answers as a post would and stores nothing; a real post then goes through.
        let (check, _) = try client.call(
            Service.post, PostRequest(spec: spec, dryRun: true), files: files, as: PostCheck.self)
        #expect(
            check == PostCheck(direction: .maximize, scorer: "builtin csv-accuracy", draft: false, files: 2, phases: 0))
        #expect(try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0.isEmpty)
        let posted = try post(client, spec, files)
        #expect(posted.title == "The answer")

        // A rescore's scorer is checked against the stored reference file the same way.
        let rescore = RescoreRequest(
            challenge: posted.id, scorer: ScorerSpec(builtin: "csv-rmse", options: ["split": "Usage"]))
        let refused = try Self.refusal(client, [Wire.encode(rescore)], service: Service.rescore)
        #expect(
            refused?.message
                == "scorer: option split=\"Usage\" names no column of the reference file answer.txt "
                + "(its columns are id, label)", "\(String(describing: refused))")
    }
}
