import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Collects announcements from a broker's PUB endpoint on the calling thread.
final class AnnouncementListener {
    private let socket: ZMQSocket
    private(set) var received: [Announcement] = []

    init(_ endpoint: String) throws {
        socket = try ZMQSocket(ZMQContext(), .sub)
        try socket.setOption(.subscribe, "")
        for endpoint in Endpoint.list(endpoint) { try socket.connect(endpoint) }
    }

    /// Reads what has arrived, without waiting.
    func drain() throws {
        while let message = try socket.receive(dontWait: true) {
            if let announcement = Announcement.parse(message.frames) { received.append(announcement) }
        }
    }

    /// Waits until an announcement matching `predicate` has arrived, up to `seconds`.
    func wait(seconds: Double = 20, for predicate: (Announcement) -> Bool) throws -> Announcement? {
        if let found = received.first(where: predicate) { return found }
        var poller = ZMQPoller([socket])
        let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        while WallClock.monotonicNanos() < deadline {
            guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
            while let message = try socket.receive(dontWait: true) {
                guard let announcement = Announcement.parse(message.frames) else { continue }
                received.append(announcement)
                if predicate(announcement) { return announcement }
            }
        }
        return nil
    }
}

@Suite("Broker flow over real sockets", .timeLimit(.minutes(2)))
struct BrokerFlowTests {
    @Test func postSubmitScoreLeaderboardCloseAward() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let listener = try AnnouncementListener(broker.pub)
        let evaluators = try (0..<2).map { _ in try EvaluatorHarness(broker: broker.router, cache: dir.file("cache")) }
        defer { evaluators.forEach { $0.shutdown() } }
        let client = try client(broker)

        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        #expect(challenge.state == .open)
        #expect(challenge.files.map(\.name) == ["question.txt"])
        #expect(challenge.direction == .maximize)

        let wrong = try submit(client, challenge.id, "bob", "41")
        let right = try submit(client, challenge.id, "ada", " 42\n")
        let late = try submit(client, challenge.id, "cy", "42")
        #expect(right.sha256 == SHA256.hex(Data(" 42\n".utf8)))
        #expect(try settled(client, wrong.submission).score == 0)
        #expect(try settled(client, right.submission).score == 1)
        #expect(try settled(client, late.submission).state == .scored)

        let (board, _) = try client.call(
            Service.leaderboard, LeaderboardRequest(challenge: challenge.id), as: Leaderboard.self)
        #expect(board.entries.map(\.solver) == ["ada", "cy", "bob"])
        #expect(board.pending == 0)

        let (closed, _) = try client.call(
            Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        #expect(closed.state == .closed)
        let awarded = try #require(try listener.wait { $0.topic == .awarded && $0.challenge == challenge.id })
        #expect(awarded.solver == "ada")
        #expect(awarded.submission == right.submission)
        #expect(awarded.amount == 1000)

        let (final, _) = try client.call(
            Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        #expect(final.state == .awarded)
        #expect(final.winner?.solver == "ada")
        let topics = listener.received.map(\.topic)
        #expect(topics.contains(.scored))
        #expect(topics.contains(.closed))
        let seqs = listener.received.map(\.seq)
        #expect(seqs == seqs.sorted())

        // Nothing more is taken once closed.
        let error = try #require(throws: ClientError.self) { try submit(client, challenge.id, "dan", "42") }
        guard case .server(let refusal) = error else { Issue.record("\(error)"); return }
        #expect(refusal.code == .closed)
    }

    @Test func theDeadlineClosesAChallengeAndAnUnscoredOneEndsWithoutAward() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let listener = try AnnouncementListener(broker.pub)
        let client = try client(broker)
        let (spec, files) = sampleSpec(deadlineIn: 1_500)
        let challenge = try post(client, spec, files)
        let closed = try #require(try listener.wait { $0.topic == .closed && $0.challenge == challenge.id })
        #expect(closed.message == "deadline passed")
        #expect(try listener.wait { $0.topic == .unawarded && $0.challenge == challenge.id } != nil)
        #expect(throws: ClientError.self) { try submit(client, challenge.id, "ada", "42") }
    }

    @Test func aPluginScoresSubmissionsAndItsFailuresReachTheSolver() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let plugin = try dir.write(
            "length.sh",
            """
            #!/bin/sh
            # Score: how close the submission's length is to the number in reference/target.txt.
            case "$(cat "$1")" in crash*) echo "boom" >&2; exit 3;; esac
            want=$(cat "$2/target.txt")
            have=$(wc -c < "$1")
            echo "{\\"score\\": $(( want - have < 0 ? have - want : want - have )), \\"message\\": \\"length $have\\"}"
            """, executable: true)
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(
            broker: broker.router, cache: dir.file("cache"), plugins: ["length": plugin],
            configure: { $0.builtins = false })
        defer { evaluator.shutdown() }
        let client = try client(broker)
        var (spec, _) = sampleSpec(scorer: ScorerSpec(plugin: "length"))
        spec.direction = .minimize
        spec.files = [FileEntry(name: "target.txt", role: .reference)]
        let challenge = try post(client, spec, [Data("10".utf8)])
        let good = try settled(client, try submit(client, challenge.id, "ada", "1234567").submission)
        #expect(good.state == .scored)
        #expect(good.score == 3)
        #expect(good.message == "length 7")
        let bad = try settled(client, try submit(client, challenge.id, "bob", "crash please").submission)
        #expect(bad.state == .failed)
        #expect(bad.error?.contains("plugin_exit") == true)
        #expect(bad.log?.contains("boom") == true)
    }

    /// A busy evaluator is not judged by its silence (zguide workers send no heartbeats while they work): a hung
    /// one loses its job when the lease expires.
    @Test func aJobWhoseEvaluatorHangsIsRequeuedToAnotherWhenItsLeaseExpires() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.heartbeatInterval = 100
            $0.leaseMargin = 200
        }
        defer { broker.shutdown() }
        // A raw MDP worker that takes the job and then goes silent.
        let context = try ZMQContext()
        let silent = try ZMQSocket(context, .dealer)
        try silent.connect(broker.router)
        try silent.send(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]))
        let client = try client(broker)
        var (spec, files) = sampleSpec()
        spec.timeLimitSeconds = 0.5
        let challenge = try post(client, spec, files)
        let receipt = try submit(client, challenge.id, "ada", "42")
        var request: [Data] = []
        _ = try eventually {
            guard let message = try silent.receive(dontWait: true) else { return false }
            if message.frames.count > 2, message.frames[2] == Data([MDP.WorkerCommand.request.rawValue]) {
                request = message.frames
            }
            return !request.isEmpty
        }
        let job = try JSONDecoder().decode(ScoringJob.self, from: request[5])
        #expect(job.submission == receipt.submission)
        #expect(request[6] == Data("42".utf8))
        // A real evaluator joins; the silent one's lease moves to it once the lease (0.5 s + 0.2 s) expires.
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache")) {
            $0.heartbeatInterval = 100
        }
        defer { evaluator.shutdown() }
        let info = try settled(client, receipt.submission)
        #expect(info.state == .scored)
        #expect(info.attempts == 2)
        // The hung worker's late reply for the old lease changes nothing.
        let stale = ScoringResult(ok: true, score: -5)
        try silent.send(MDP.workerReply(clientAddress: job.address, body: [Wire.encode(stale)]))
        _ = try eventually(seconds: 1) { try silent.receive(dontWait: true) != nil }
        #expect(try status(client, receipt.submission).score == 1)
    }

    @Test func aJobWhoseEvaluatorVanishesIsRequeuedAtOnce() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) { $0.heartbeatInterval = 100 }
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()  // a 10 s time limit: the lease would hold the job for 40 s
        let challenge = try post(client, spec, files)
        let receipt: Receipt
        do {
            let context = try ZMQContext()
            let doomed = try ZMQSocket(context, .dealer)
            try doomed.connect(broker.router)
            try doomed.send(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]))
            receipt = try submit(client, challenge.id, "ada", "42")
            #expect(
                try eventually {
                    guard let message = try doomed.receive(dontWait: true) else { return false }
                    return message.frames.count > 2 && message.frames[2] == Data([MDP.WorkerCommand.request.rawValue])
                })
        }  // the socket closes here: the connection is gone, and the broker's next heartbeat to it fails
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache")) {
            $0.heartbeatInterval = 100
        }
        defer { evaluator.shutdown() }
        let start = WallClock.monotonicNanos()
        let info = try settled(client, receipt.submission, seconds: 10)
        #expect(info.state == .scored)
        #expect(info.attempts == 2)
        #expect(WallClock.monotonicNanos() - start < 5_000_000_000)
    }

    /// Built-in jobs travel in batches: one REQUEST carries several jobs, each with its own lease. A reply that
    /// answers only some of them records those; the ones it leaves out are retried, not lost, and the evaluator
    /// is free again only once its whole batch is answered.
    @Test func builtinJobsTravelInBatchesAndAPartialAnswerRetriesTheRest() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.heartbeatInterval = 100
            $0.jobBatch = 4
        }
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let receipts = try (0..<6).map { try submit(client, challenge.id, "s\($0)", "42") }
        let context = try ZMQContext()
        let worker = try ZMQSocket(context, .dealer)
        try worker.connect(broker.router)
        try worker.send(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]))
        func nextRequest() throws -> [Data] {
            var request: [Data] = []
            _ = try eventually {
                guard let message = try worker.receive(dontWait: true) else { return false }
                if message.frames.count > 2, message.frames[2] == Data([MDP.WorkerCommand.request.rawValue]) {
                    request = message.frames
                }
                return !request.isEmpty
            }
            return request
        }
        // The first REQUEST holds the batch limit: 4 jobs, each a job frame and a submission frame.
        let first = try nextRequest()
        let leases = try #require(ScoringJob.parseAddress(first[3]))
        #expect(leases.count == 4 && first.count == 5 + 2 * 4)
        let jobs = try stride(from: 5, to: first.count, by: 2).map { try #require(ScoringJob.decode(first[$0])) }
        #expect(jobs.map(\.submission) == receipts.prefix(4).map(\.submission))
        // Answer the first two only.
        let good = Wire.encode(ScoringResult(ok: true, score: 0.25))
        try worker.send(MDP.workerReply(clientAddress: first[3], body: [good, good]))
        for receipt in receipts.prefix(2) { #expect(try settled(client, receipt.submission).score == 0.25) }
        // The other two are retried: with the last two submissions, they come back in the next batch(es).
        var seen: [String: Int] = [:]
        while seen.count < 4 {
            let request = try nextRequest()
            for index in stride(from: 5, to: request.count, by: 2) {
                let job = try #require(ScoringJob.decode(request[index]))
                seen[job.submission] = job.attempt
            }
            let results = Array(repeating: good, count: (request.count - 5) / 2)
            try worker.send(MDP.workerReply(clientAddress: request[3], body: results))
        }
        #expect(seen[receipts[2].submission] == 2 && seen[receipts[3].submission] == 2)
        #expect(seen[receipts[4].submission] == 1 && seen[receipts[5].submission] == 1)
        for receipt in receipts.suffix(4) {
            let info = try settled(client, receipt.submission)
            #expect(info.state == .scored && info.score == 0.25)
        }
        #expect(try status(client, receipts[2].submission).attempts == 2)
    }

    @Test func largeFilesTravelInChunks() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try client(broker)
        var big = Data(count: FileInfo.chunkSize * 2 + 12_345)
        for index in big.indices { big[index] = UInt8(truncatingIfNeeded: index &* 31) }
        var (spec, _) = sampleSpec()
        spec.files = [FileEntry(name: "big.bin", role: .public), FileEntry(name: "answer.txt", role: .reference)]
        let challenge = try post(client, spec, [big, Data("42".utf8)])
        let (first, frames) = try client.call(
            Service.file, FileRequest(challenge: challenge.id, name: "big.bin"), as: FileInfo.self)
        #expect(first.size == big.count)
        #expect(frames.first?.count == FileInfo.chunkSize)
        let (info, bytes) = try client.fetchFile(Service.file) {
            FileRequest(challenge: challenge.id, name: "big.bin", offset: $0)
        }
        #expect(bytes == big)
        #expect(info.sha256 == SHA256.hex(big))
        let error = try #require(throws: ClientError.self) {
            try client.call(
                Service.file, FileRequest(challenge: challenge.id, name: "big.bin", offset: -1), as: FileInfo.self)
        }
        #expect("\(error)".contains("offset"))
    }

    @Test func submissionsWithTheSameClientIdAreStoredOnce() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let first = try submit(client, challenge.id, "ada", "42", clientId: "retry-1")
        // No evaluator is connected: the status says so rather than looking stuck.
        let waiting = try status(client, first.submission)
        #expect(waiting.state == .queued)
        #expect(waiting.note == "waiting: no evaluator serving pumasi.builtin is connected")
        let second = try submit(client, challenge.id, "ada", "42", clientId: "retry-1")
        #expect(!first.duplicate)
        #expect(second.duplicate)
        #expect(second.submission == first.submission)
        let (info, _) = try client.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        #expect(info.submissions == 1)
    }

    /// A submission the store refuses (here a trigger added for the test, so that the write fails where PostgreSQL
    /// finds out: at the request's sync, after the broker has gone on) leaves nothing behind in memory: no job for
    /// it is queued or dispatched, and the next submission is scored as usual.
    @Test func aSubmissionTheStoreRefusesLeavesNoJobBehind() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        try TestBackend.tamper(
            dir.file("broker"),
            TestBackend.isSQLite
                ? """
                CREATE TRIGGER refuse_mallory BEFORE INSERT ON submissions WHEN NEW.solver = 'mallory'
                BEGIN SELECT RAISE(ABORT, 'mallory is refused'); END
                """
                : "ALTER TABLE submissions ADD CONSTRAINT refuse_mallory CHECK (solver <> 'mallory')")
        let refused = refusal { _ = try submit(client, challenge.id, "mallory", "42") }
        #expect(refused?.code == .internal, "\(String(describing: refused))")
        #expect(refused?.message.contains("refuse_mallory") == true || refused?.message.contains("mallory") == true)
        let ada = try submit(client, challenge.id, "ada", "42")
        #expect(try settled(client, ada.submission).score == 1)
        let board = try client.call(
            Service.leaderboard, LeaderboardRequest(challenge: challenge.id), as: Leaderboard.self
        ).0
        #expect(board.entries.map(\.solver) == ["ada"] && board.pending == 0 && board.failed == 0)
        let (info, _) = try client.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        #expect(info.submissions == 1)
    }

    /// A result the store refuses (a trigger or a constraint added for the test) stops the broker, as its leases in
    /// memory would no longer agree with the store: the pass's transaction is rolled back whole, what earlier passes
    /// committed stays, and a broker started again on the store scores the submission. An evaluator's message has no
    /// savepoint of its own (`Broker.handle`): this is what stands in for one.
    @Test func aResultTheStoreRefusesStopsTheBrokerAndARestartScoresItAgain() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"), logLevel: .critical)
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        var evaluating = true
        defer { if evaluating { evaluator.shutdown() } }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let bob = try submit(client, challenge.id, "bob", "41")
        #expect(try settled(client, bob.submission).score == 0)
        try TestBackend.tamper(
            dir.file("broker"),
            TestBackend.isSQLite
                ? """
                CREATE TRIGGER refuse_full_marks BEFORE INSERT ON outcomes WHEN NEW.score = 1
                BEGIN SELECT RAISE(ABORT, 'refuse_full_marks'); END
                """
                : "ALTER TABLE outcomes ADD CONSTRAINT refuse_full_marks CHECK (score IS NULL OR score <> 1)")
        // The submission's own pass commits before its receipt; its result's pass fails.
        let ada = try submit(client, challenge.id, "ada", "42")
        let end = try #require(broker.end(within: 20), "the broker kept running after its store refused a result")
        guard case .failure(let error) = end else {
            Issue.record("the broker ended without an error")
            return
        }
        #expect("\(error)".contains("a write for an evaluator's message failed"), "\(error)")
        #expect("\(error)".contains("refuse_full_marks"), "\(error)")
        evaluator.shutdown()
        evaluating = false

        let store = try TestBackend.store(dir.file("broker"))
        func count(_ table: String, _ receipt: Receipt) throws -> Int64? {
            let column = table == "submissions" ? "id" : "submission_id"
            return try store.db.queryOne(
                "SELECT COUNT(*) FROM \(table) WHERE \(column) = ?", [.text(receipt.submission)])?.int(0)
        }
        #expect(try count("outcomes", bob) == 1)
        #expect(try count("submissions", ada) == 1)
        #expect(try count("outcomes", ada) == 0)
        try TestBackend.tamper(
            dir.file("broker"),
            TestBackend.isSQLite
                ? "DROP TRIGGER refuse_full_marks" : "ALTER TABLE outcomes DROP CONSTRAINT refuse_full_marks")

        let again = try BrokerHarness(directory: dir.file("broker"))
        defer { again.shutdown() }
        let second = try EvaluatorHarness(broker: again.router, cache: dir.file("cache"))
        defer { second.shutdown() }
        let reconnected = try PumasiTests.client(again)
        #expect(try settled(reconnected, ada.submission).score == 1)
        #expect(try settled(reconnected, bob.submission).score == 0)
        #expect(try count("outcomes", ada) == 1)
    }

    @Test func badInputGetsAClearErrorAndTheBrokerKeepsServing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) { $0.maxMessageBytes = 1 << 20 }
        defer { broker.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)

        func refusal(_ service: String, _ body: [Data]) throws -> ProtocolError {
            let frames: [Data]
            do {
                frames = try client.request(service: service, body: body)
            } catch ClientError.server(let error) {
                return error
            }
            let reply = try JSONDecoder().decode(Reply<Empty>.self, from: try #require(frames.first))
            return try #require(reply.error)
        }
        let submitBody = { (challenge: String) in
            Wire.encode(SubmitRequest(challenge: challenge, solver: "ada", filename: "a.txt"))
        }
        let cases: [(String, [Data], ProtocolError.Code, String)] = [
            ("pumasi.nothing", [], .unknownService, "unknown service"),
            (Service.submit, [], .badRequest, "missing JSON body"),
            (Service.submit, [Data("{oops".utf8)], .badRequest, "not valid JSON"),
            (Service.submit, [Data(#"{"v":9}"#.utf8)], .badVersion, "version 9"),
            (Service.submit, [submitBody(challenge.id)], .badRequest, "exactly one file frame"),
            (Service.submit, [submitBody(challenge.id), Data()], .badRequest, "empty"),
            (Service.submit, [submitBody("ch_0000000000000000"), Data("1".utf8)], .notFound, "no challenge"),
            (Service.submit, [submitBody("../../etc"), Data("1".utf8)], .notFound, "no challenge"),
            (
                Service.status, [Wire.encode(SubmissionRequest(submission: "sub_zzzzzzzzzzzzzzzz"))], .notFound,
                "no submission"
            ),
            (Service.leaderboard, [Wire.encode(LeaderboardRequest(challenge: "nope"))], .notFound, "no challenge"),
            (
                Service.file, [Wire.encode(FileRequest(challenge: challenge.id, name: "answer.txt"))], .notFound,
                "no public file"
            ),
            (
                Service.reference, [Wire.encode(ReferenceRequest(challenge: challenge.id, sha256: "00"))], .notFound,
                "has no reference file"
            ),
            (
                Service.reference, [Wire.encode(ReferenceRequest(challenge: nil, sha256: "00"))], .badRequest,
                "name the challenge"
            ),
            (
                Service.submit,
                [Wire.encode(SubmitRequest(challenge: challenge.id, solver: "ada", filename: "../x")), Data("1".utf8)],
                .badRequest, "plain file name"
            ),
        ]
        for (service, body, code, message) in cases {
            let error = try refusal(service, body)
            #expect(error.code == code, "\(service): \(error)")
            #expect(error.message.contains(message), "\(service): \(error.message)")
        }
        var badSpec = spec
        badSpec.deadline = 1
        #expect(
            try refusal(Service.post, [Wire.encode(PostRequest(spec: badSpec))] + files).message.contains(
                "not in the future"))
        badSpec = spec
        badSpec.title = "Public\u{0} secret suffix"
        #expect(
            try refusal(Service.post, [Wire.encode(PostRequest(spec: badSpec))] + files).message.contains(
                "control characters"))
        badSpec = spec
        badSpec.scorer = ScorerSpec(builtin: "magic")
        #expect(
            try refusal(Service.post, [Wire.encode(PostRequest(spec: badSpec))] + files).message.contains(
                "not a built-in scorer"))
        #expect(
            try refusal(Service.post, [Wire.encode(PostRequest(spec: spec))]).message.contains(
                "2 files but 0 file frames"))

        // Raw garbage straight onto the ROUTER: not MDP at all.
        let context = try ZMQContext()
        let raw = try ZMQSocket(context, .dealer)
        try raw.connect(broker.router)
        try raw.send([Data("garbage".utf8)])
        let reply = try raw.receiveFrames()
        #expect(reply.count == 4)
        #expect(String(decoding: reply[3], as: UTF8.self).contains("first frame must be empty"))
        // An oversized message is refused by libzmq before it is buffered; the broker lives on.
        let big = try ZMQSocket(context, .dealer)
        try big.connect(broker.router)
        try big.send(
            MDP.clientRequest(service: Service.submit, body: [submitBody(challenge.id), Data(count: 2 << 20)]))
        // mmi.service answers 404 with no evaluator and 501 for unknown mmi services.
        #expect(
            try client.request(service: Service.mmiService, body: [Data(Service.builtinScorers.utf8)]) == [
                Data("404".utf8)
            ])
        #expect(try client.request(service: "mmi.nothing", body: []) == [Data("501".utf8)])
        // Still serving, and nothing stored was harmed.
        #expect(try submit(client, challenge.id, "ada", "42").challenge == challenge.id)
        let (listed, _) = try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self)
        #expect(listed.map(\.id) == [challenge.id])
        #expect(listed[0].submissions == 1)
        broker.shutdown()
        #expect(try TestBackend.store(dir.file("broker")).integrityCheck() == "ok")
    }

    @Test func queuedJobsSurviveABrokerRestart() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let receipt: Receipt
        do {
            let broker = try BrokerHarness(directory: dir.file("broker"))
            let client = try client(broker)
            let (spec, files) = sampleSpec()
            receipt = try submit(client, try post(client, spec, files).id, "ada", "42")
            broker.shutdown()
        }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        #expect(try settled(try client(broker), receipt.submission).score == 1)
    }

    @Test func anEvaluatorAskedToStopFinishesItsJobFirst() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let job = try SlowJob(dir, score: 7)
        defer { job.broker.shutdown() }
        job.evaluator.shutdown()  // returns once the slot has answered its job and said DISCONNECT
        // No evaluator is left: only the stopped one's answer can have scored it.
        let info = try settled(job.client, job.receipt.submission, seconds: 5)
        #expect(info.state == .scored)
        #expect(info.score == 7)
        #expect(info.attempts == 1)
    }

    @Test func aBrokerAskedToStopWaitsForTheJobsInFlight() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let job = try SlowJob(dir, score: 3)
        defer { job.evaluator.shutdown() }
        job.broker.shutdown()  // returns when the broker's loop has ended
        let store = try TestBackend.store(dir.file("broker"))
        let info = try #require(try store.submissionInfo(job.receipt.submission)?.info)
        #expect(info.state == .scored)
        #expect(info.score == 3)
    }
}

/// A broker, one evaluator hosting a plugin that takes a second to score, and one submission whose scoring
/// has started by the time `init` returns.
private struct SlowJob {
    let broker: BrokerHarness
    let evaluator: EvaluatorHarness
    let client: BrokerClient
    let receipt: Receipt

    init(_ dir: TempDirectory, score: Int) throws {
        let started = dir.file("started")
        let plugin = try dir.write(
            "slow.sh",
            """
            #!/bin/sh
            touch "\(started)"
            sleep 1
            echo '{"score": \(score)}'
            """, executable: true)
        broker = try BrokerHarness(directory: dir.file("broker"))
        evaluator = try EvaluatorHarness(
            broker: broker.router, cache: dir.file("cache"), plugins: ["slow": plugin],
            configure: { $0.builtins = false })
        client = try BrokerClient(endpoint: broker.router, timeoutSeconds: 10)
        var spec = sampleSpec(scorer: ScorerSpec(plugin: "slow")).0
        spec.files = [FileEntry(name: "target.txt", role: .reference)]
        let challenge = try post(client, spec, [Data("x".utf8)])
        receipt = try submit(client, challenge.id, "ada", "anything")
        #expect(eventually { FileManager.default.fileExists(atPath: started) })
    }
}
