import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// What an attack on a live broker from outside found (2026-12-05): requests that any registered principal may send
/// and that crashed the broker, took it over the edge of what a value may be, or were answered unclearly. Each test
/// sends the request as it was found, then checks that the broker still serves.
@Suite("Hostile requests", .timeLimit(.minutes(2)))
struct HostileRequestTests {
    /// A broker on its own thread in a temporary directory, and a client of it, for `body`.
    private static func withBroker(_ body: (BrokerClient, BrokerHarness) throws -> Void) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let harness = try BrokerHarness(directory: dir.path)
        defer { harness.shutdown() }
        try body(try client(harness), harness)
    }

    /// The error a raw JSON request gets, or nil for a success.
    private static func error(
        _ client: BrokerClient, _ service: String, _ json: String, files: [Data] = []
    ) throws -> ProtocolError? {
        let reply = try client.request(service: service, body: [Data(json.utf8)] + files)
        let decoded = try JSONDecoder().decode(Reply<Empty>.self, from: try #require(reply.first))
        return decoded.ok ? nil : decoded.error
    }

    private static func specJSON(deadline: String, extra: String = "") -> String {
        #"{"v":1,"dryRun":true,"spec":{"title":"t","description":"d","deadline":\#(deadline),"#
            + #""award":{"amount":1,"currency":"EUR"},"scorer":{"builtin":"exact"},"#
            + #""files":[{"name":"ref.txt","role":"reference"}]\#(extra)}}"#
    }

    /// `phase` was subtracted from before it was compared: `Int.min` trapped on overflow and took the broker down.
    @Test func aLeaderboardOfAnyPhaseNumberIsAnsweredAndTheBrokerServesOn() throws {
        try Self.withBroker { client, _ in
            let (spec, files) = sampleSpec()
            let challenge = try post(client, spec, files)
            for phase in [Int.min, Int.min + 1, -1, 0, 1, Int.max] {
                let error = try Self.error(
                    client, Service.leaderboard, #"{"v":1,"challenge":"\#(challenge.id)","phase":\#(phase)}"#)
                #expect(error?.code == .badRequest && error?.message == "\(challenge.id) has no phases", "\(phase)")
            }
            #expect(try Self.error(client, Service.leaderboard, #"{"v":1,"challenge":"\#(challenge.id)"}"#) == nil)
        }
    }

    /// An integer near 2^63 in a posted spec sent the unknown-member check into a recursion without end (it reads
    /// numbers through `Double`, where 2^63 - 1 is 2^63, out of `Int64`'s range): a stack overflow. And a deadline
    /// that far is refused by name, for a post and for an extension.
    @Test func integersAtTheEndOfTheirRangeAreRefusedOrAcceptedButNeverCrashTheBroker() throws {
        try Self.withBroker { client, _ in
            let answer = [Data("42".utf8)]
            let far = try #require(
                try Self.error(client, Service.post, Self.specJSON(deadline: "9223372036854775807"), files: answer))
            #expect(far.code == .badRequest)
            #expect(far.message.contains("spec.deadline") && far.message.contains("9999-12-31"), "\(far)")
            let soon = WallClock.now() + 3_600_000
            for member in ["perDay", "total", "maxBytes"] {
                let json = Self.specJSON(deadline: "\(soon)", extra: #","rules":{"\#(member)":9223372036854775806}"#)
                // Whatever the answer, it comes, and a typo beside the large number is still found.
                _ = try Self.error(client, Service.post, json, files: answer)
                let typo = Self.specJSON(
                    deadline: "\(soon)", extra: #","rules":{"\#(member)":9223372036854775806,"perday":1}"#)
                let error = try #require(try Self.error(client, Service.post, typo, files: answer))
                #expect(error.message.contains("spec.rules.perday"), "\(error)")
            }

            let (spec, files) = sampleSpec()
            let challenge = try post(client, spec, files)
            let extended = try #require(
                try Self.error(
                    client, Service.extend, #"{"v":1,"challenge":"\#(challenge.id)","deadline":9223372036854775807}"#))
            #expect(extended.code == .badRequest && extended.message.contains("the latest allowed"), "\(extended)")
            #expect(try Self.error(client, Service.show, #"{"v":1,"challenge":"\#(challenge.id)"}"#) == nil)
        }
    }

    /// The check's decoder handed a scalar type back to its own `init(from:)` when the value was not of that type:
    /// a recursion without end. Checked on the check itself, with every scalar type a spec holds.
    @Test func theUnknownMemberCheckEndsOnValuesOfTheWrongTypeAndOnHugeIntegers() throws {
        struct Scalars: Decodable {
            var text: String?
            var flag: Bool?
            var count: Int?
            var small: Int32?
            var ratio: Double?
            var amount: Decimal?
        }
        // Each scalar type given a value of every other kind: before, the first mismatch recursed until the stack
        // ran out. A walk that ends early reports what it did not reach, the typo always among them.
        for value in ["1", "\"x\"", "true", "9223372036854775807", "-9223372036854775808", "1e300", "[1]", "{}"] {
            let names = ["text", "flag", "count", "small", "ratio", "amount"]
            let members = names.map { #""\#($0)":\#(value)"# }.joined(separator: ",")
            let tree = try JSONValue.parse(Array(#"{\#(members),"typo":1}"#.utf8))
            #expect(UnknownMember.find(Scalars.self, in: tree).contains { $0.path == "typo" }, "\(value)")
        }
        // Integers at the ends of `Int64`, which the check reads as 2^63 through `Double`, let the walk go on.
        let huge = #"{"text":"t","count":9223372036854775807,"small":-9223372036854775808,"ratio":1,"typo":1}"#
        let found = UnknownMember.find(Scalars.self, in: try JSONValue.parse(Array(huge.utf8)))
        #expect(found.map(\.path) == ["typo"])
    }

    /// One post of 20,000 unknown members with names near a known one cost an edit distance to every known member
    /// for each of them, though one is reported (seconds of the loop for a body within the limit). Now the first by
    /// path alone is looked for a suggestion, and names too far in length are not compared.
    @Test func aPostOfManyUnknownMembersIsAnsweredWithTheFirstAndQuickly() throws {
        try Self.withBroker { client, _ in
            let members = (0..<20_000).map { String(format: #""deadlinx%026d":1,"#, $0) }.joined()
            let json = Self.specJSON(deadline: "\(WallClock.now() + 3_600_000)")
                .replacingOccurrences(of: #""title":"t""#, with: members + #""title":"t""#)
            let started = WallClock.monotonicNanos()
            let error = try #require(try Self.error(client, Service.post, json, files: [Data("42".utf8)]))
            let seconds = Double(WallClock.monotonicNanos() - started) / 1e9
            print("HostileRequestTests: a post of 20,000 unknown members answered in \(Int(seconds * 1000)) ms")
            #expect(error.message.hasPrefix(#"unknown member "spec.deadlinx00000000000000000000000000""#), "\(error)")
            // A suggestion for each took seconds (6 - 9 s of a release build's loop for 100,000, measured from outside);
            // one takes a parse of the body.
            #expect(seconds < 10)
            #expect(UnknownMember.nearest(to: "deadlinx", among: ["deadline", "description"]) == "deadline")
            #expect(UnknownMember.nearest(to: String(repeating: "d", count: 300), among: ["deadline"]) == nil)
        }
    }

    /// A spec nested deeper than the unknown-member check reads was taken unchecked, typos and all.
    @Test func aSpecTooDeepToCheckIsRefusedNotTakenUnchecked() throws {
        try Self.withBroker { client, _ in
            let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
            let json = Self.specJSON(
                deadline: "\(WallClock.now() + 3_600_000)", extra: #","timeLimitSecnds":5,"x":\#(deep)"#)
            let error = try #require(try Self.error(client, Service.post, json, files: [Data("42".utf8)]))
            #expect(error.code == .badRequest && error.message.contains("nested deeper than"), "\(error)")
        }
    }

    /// Each refused or malformed request wrote a warning: a solver calling a seeker's service wrote 45,000 lines in
    /// 15 s. Now one a sender and kind every 10 s, with the count of those between, and a few lines in all for
    /// senders that come new each time (as the broker's refused handshakes were logged already: `LogThrottle`).
    @Test func warningsAboutOneSenderAreLoggedOnceEveryTenSecondsWithACount() {
        var throttle = LogThrottle(interval: 10_000)
        #expect(throttle.admit("refused\u{0}ada", now: 0)?.occurrences == 1)
        for at in stride(from: Millis(10), to: 10_000, by: 10) {
            #expect(throttle.admit("refused\u{0}ada", now: at) == nil)
        }
        #expect(throttle.admit("refused\u{0}bob", now: 5_000)?.occurrences == 1)
        #expect(throttle.admit("invalid\u{0}ada", now: 5_000)?.occurrences == 1)
        #expect(throttle.admit("refused\u{0}ada", now: 10_000)?.occurrences == 1_000)
        #expect(throttle.admit("refused\u{0}ada", now: 10_001) == nil)
        // What has been quiet for two intervals is forgotten.
        #expect(throttle.admit("refused\u{0}carol", now: 40_000)?.occurrences == 1)
        #expect(throttle.count == 1)
        // A new connection for every malformed message: 20 lines an interval, the rest counted on the next.
        let fresh = (0..<1_000).compactMap { throttle.admit("invalid\u{0}peer-\($0)", now: 45_000) }
        #expect(fresh.count == 19)
        #expect(throttle.admit("invalid\u{0}late", now: 50_000)?.others == 981)
    }

    /// A client id used again with another file was answered with the first receipt, as a retry is (found from
    /// outside: `pumasi submit --client-id X` printed "Submitted" for a file never stored). An idempotency key with
    /// other parameters is a conflict; with the same file it is still the retry it looks like.
    @Test func aClientIdUsedAgainForAnotherFileIsAConflict() throws {
        try Self.withBroker { client, _ in
            let (spec, files) = sampleSpec()
            let challenge = try post(client, spec, files).id
            let first = try submit(client, challenge, "ada", "41", clientId: "run-1")
            let again = try submit(client, challenge, "ada", "41", clientId: "run-1")
            #expect(again.submission == first.submission && again.duplicate)
            let other = refusal { _ = try submit(client, challenge, "ada", "42", clientId: "run-1") }
            #expect(other?.code == .conflict, "\(String(describing: other))")
            #expect(other?.message.contains(first.submission) == true, "\(String(describing: other))")
            #expect(try submit(client, challenge, "ada", "42", clientId: "run-2").submission != first.submission)
        }
    }

    /// A submission refused after the deadline was told the challenge "closed at" the time the broker marked it
    /// closed, to the second: a broker that was down at the deadline named its own restart. The deadline is named.
    @Test func aSubmissionAfterTheDeadlineIsToldTheDeadlineToTheMillisecond() throws {
        try Self.withBroker { client, _ in
            let (spec, files) = sampleSpec(deadlineIn: 400)
            let challenge = try post(client, spec, files)
            usleep(600_000)
            let refused = refusal { _ = try submit(client, challenge.id, "ada", "42") }
            #expect(refused?.code == .closed)
            #expect(
                refused?.message
                    == "challenge \(challenge.id) closed at its deadline, \(WallClock.isoMillis(challenge.deadline))",
                "\(String(describing: refused))")
        }
    }

    /// A time limit of the smallest positive `Double` was accepted: a job that must end before it starts.
    @Test func aTimeLimitShorterThanATenthOfASecondIsRefused() throws {
        var (spec, _) = sampleSpec()
        spec.timeLimitSeconds = .leastNonzeroMagnitude
        #expect(throws: ProtocolError.self) { try Validation.spec(&spec, now: WallClock.now()) }
        spec.timeLimitSeconds = ChallengeSpec.minTimeLimitSeconds
        try Validation.spec(&spec, now: WallClock.now())
        // The same bound for a Codabench ingestion program's own limit.
        var scorer = ScorerSpec()
        scorer.program = "scoring_program.zip"
        scorer.ingestion = IngestionSpec(program: "ingestion_program.zip", timeLimitSeconds: .leastNonzeroMagnitude)
        #expect(scorer.validate()?.contains("ingestion.timeLimitSeconds must be at least 0.1") == true)
        scorer.ingestion?.timeLimitSeconds = ChallengeSpec.minTimeLimitSeconds
        #expect(scorer.validate() == nil)
    }

    /// READY was taken for any service name, `pumasi.challenge.list` included, after which `mmi.service` said the
    /// broker's own service was served by that evaluator. Only a scorer's service is taken now.
    @Test func readyForAServiceNoScorerHasIsAnsweredWithDisconnect() throws {
        try Self.withBroker { client, harness in
            #expect(Service.isScorer(Service.builtinScorers) && Service.isScorer(Service.plugin("a-b_1")))
            #expect(Service.isScorer("pumasi.program") && Service.isScorer("pumasi.program.python:3.12"))
            #expect(!Service.isScorer("pumasi.plugin.../../x") && !Service.isScorer("pumasi.plugin."))
            for service in [Service.list, Service.mmiService, "pumasi.plugin.../../x"] {
                let context = try ZMQContext()
                let worker = try ZMQSocket(context, .dealer)
                try worker.connect(harness.router)
                try worker.send(MDP.worker(.ready, [Data(service.utf8)]))
                var poller = ZMQPoller([worker])
                var told = false
                for _ in 0..<100 where !told {
                    guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
                    while let message = try worker.receive(dontWait: true) {
                        told =
                            told || message.frames.dropFirst(2).first == Data([MDP.WorkerCommand.disconnect.rawValue])
                    }
                }
                #expect(told, "READY for \(service) was not answered with DISCONNECT")
                let served = try client.request(service: Service.mmiService, body: [Data(service.utf8)])
                #expect(served == [Data(MMIStatus.notFound.rawValue.utf8)], "\(service)")
            }
        }
    }

    /// A value an enumeration does not know was echoed whole, in Swift's words; a fraction where a whole number is
    /// due was "a number out of range?".
    @Test func aValueNotInItsEnumerationIsNamedShortly() throws {
        try Self.withBroker { client, _ in
            let all = try #require(try Self.error(client, Service.list, #"{"v":1,"state":"all"}"#))
            #expect(
                all.message == #"field "state": "all" is not one of the values it takes (docs/protocol.md lists them)"#)
            let long = try #require(
                try Self.error(client, Service.list, #"{"v":1,"state":"\#(String(repeating: "x", count: 5_000))"}"#))
            #expect(long.message.count < 200, "\(long.message.count) characters")
            let fraction = try #require(
                try Self.error(client, Service.post, Self.specJSON(deadline: "1.5"), files: [Data("42".utf8)]))
            #expect(fraction.message.contains("a fraction where a whole number is due"), "\(fraction)")
        }
    }

    /// A list was every challenge whole in one reply: ten challenges of 9,999 files each made a reply of 38 MB and
    /// held the loop for seconds. Now it comes a page at a time, at most `ListRequest.maxLimit` challenges and about
    /// `ListRequest.pageBytes`, and `pumasi list` reads every page.
    @Test func theListComesInPagesBoundedInCountAndBytes() throws {
        try Self.withBroker { client, _ in
            var posted: [String] = []
            for index in 0..<14 {
                var (spec, files) = sampleSpec(title: "Challenge \(index)")
                // 99,000 bytes of description each: fourteen of them are over a page's bytes.
                spec.description = String(repeating: "d", count: 99_000)
                posted.append(try post(client, spec, files).id)
            }
            let first = try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0
            #expect(first.count < posted.count && first.count >= ListRequest.pageBytes / 100_000, "\(first.count)")
            // In the order they were posted (two posted within one millisecond by id), each once, over the pages.
            let all = try client.challenges(state: nil)
            let order = all.map(\.id)
            #expect(order.sorted() == posted.sorted())
            #expect(all == all.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) })
            #expect(first.map(\.id) == Array(order.prefix(first.count)))
            #expect(try client.challenges(state: .open).map(\.id).sorted() == posted.sorted())

            let two = try client.call(Service.list, ListRequest(after: order[3], limit: 2), as: [ChallengeInfo].self).0
            #expect(two.map(\.id) == Array(order[4...5]))
            let last = try client.call(Service.list, ListRequest(after: order[13]), as: [ChallengeInfo].self).0
            #expect(last.isEmpty)
            let unknown = refusal {
                _ = try client.call(Service.list, ListRequest(after: "ch_nope"), as: [ChallengeInfo].self)
            }
            #expect(unknown?.code == .notFound)
        }
    }
}
