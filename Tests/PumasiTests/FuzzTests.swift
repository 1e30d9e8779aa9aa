import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast, deterministic generator, so that a failing run can be
/// replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Whether an event with `percent` % chance happens.
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &self) < percent }

    mutating func bytes(_ count: Int) -> Data {
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = next()
            for _ in 0..<min(8, count - index) {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return Data(bytes)
    }
}

/// Builds the fuzzer's messages (frames as a DEALER sends them, starting with the MDP delimiter): valid requests
/// for every service and worker command in docs/protocol.md, mutated, and fully random frames.
private struct FrameFuzzer {
    var rng: SplitMix64
    /// Valid messages, each sent now and then unmutated and otherwise as the seed of a mutation.
    let valid: [[Data]]

    /// The largest message the broker under test accepts; `random()` sometimes goes past it.
    static let maxMessageBytes = 1 << 20

    init(seed: UInt64, valid: [[Data]]) {
        rng = SplitMix64(seed: seed)
        self.valid = valid
    }

    // MARK: Fully random

    /// 1...8 frames (a DEALER cannot send zero) of 0...4 KiB, now and then one of up to 2 MiB; sometimes behind
    /// a valid MDP header so the parse gets past the first frames.
    mutating func random() -> [Data] {
        var frames: [Data] = []
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: frames = [Data(), MDP.clientHeader, rng.bytes(Int.random(in: 0...300, using: &rng))]
        case 1: frames = [Data(), MDP.workerHeader, Data([UInt8.random(in: 0...6, using: &rng)])]
        case 2: frames = [Data(), MDP.clientHeader, Data(randomService().utf8)]
        default: break
        }
        let total = Int.random(in: 1...8, using: &rng)
        while frames.count < total { frames.append(rng.bytes(randomSize())) }
        if frames.count == 3, rng.chance(50) { frames.append(rng.bytes(randomSize())) }
        return frames
    }

    private mutating func randomSize() -> Int {
        let roll = Int.random(in: 0..<1000, using: &rng)
        if roll < 8 { return Int.random(in: (Self.maxMessageBytes / 2)...(2 * Self.maxMessageBytes), using: &rng) }
        if roll < 300 { return Int.random(in: 0...4096, using: &rng) }
        return Int.random(in: 0...64, using: &rng)
    }

    private mutating func randomService() -> String {
        [
            Service.post, Service.list, Service.show, Service.file, Service.close, Service.submit, Service.status,
            Service.leaderboard, Service.report, Service.reference, Service.events, Service.mmiService, "mmi.x",
            "pumasi.nothing",
        ].randomElement(using: &rng)!
    }

    // MARK: Worker commands from a random identity

    /// A routing id (1-32 random bytes; libzmq reserves a leading zero byte) and the worker commands a short-lived
    /// connection sends under it: maybe READY, then heartbeats, forged replies or mutated worker commands, and
    /// always DISCONNECT last, so that no registration outlives the connection.
    mutating func workerBurst() -> (identity: Data, messages: [[Data]]) {
        var identity = rng.bytes(Int.random(in: 1...32, using: &rng))
        if identity[identity.startIndex] == 0 { identity[identity.startIndex] = 1 }
        var messages: [[Data]] = []
        if rng.chance(50) { messages.append(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)])) }
        let workerMessages = valid.filter { $0.count > 2 && $0[1] == MDP.workerHeader }
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            var frames = workerMessages.randomElement(using: &rng)!
            if rng.chance(50) { mutate(&frames) }
            if !frames.isEmpty { messages.append(frames) }
        }
        messages.append(MDP.worker(.disconnect))
        return (identity, messages)
    }

    // MARK: Mutated

    /// A valid message, unmutated one time in ten, else with one to three mutations.
    mutating func mutated() -> [Data] {
        var frames = valid.randomElement(using: &rng)!
        guard !rng.chance(10) else { return frames }
        for _ in 0..<Int.random(in: 1...3, using: &rng) { mutate(&frames) }
        if frames.isEmpty { frames = [Data()] }
        return frames
    }

    private mutating func mutate(_ frames: inout [Data]) {
        let json = Self.jsonIndex(frames)
        switch Int.random(in: 0..<14, using: &rng) {
        case 0, 1:  // flip a few bytes
            guard let index = frames.indices.filter({ !frames[$0].isEmpty }).randomElement(using: &rng) else { return }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = frames[index].startIndex + Int.random(in: 0..<frames[index].count, using: &rng)
                frames[index][at] ^= UInt8.random(in: 1...255, using: &rng)
            }
        case 2:  // drop a frame
            guard !frames.isEmpty else { return }
            frames.remove(at: Int.random(in: 0..<frames.count, using: &rng))
        case 3:  // duplicate a frame
            guard !frames.isEmpty else { return }
            let index = Int.random(in: 0..<frames.count, using: &rng)
            frames.insert(frames[index], at: index)
        case 4:  // truncate a frame
            guard let index = frames.indices.filter({ !frames[$0].isEmpty }).randomElement(using: &rng) else { return }
            frames[index] = frames[index].prefix(Int.random(in: 0..<frames[index].count, using: &rng))
        case 5:  // swap two frames
            guard frames.count > 1 else { return }
            frames.swapAt(
                Int.random(in: 0..<frames.count, using: &rng), Int.random(in: 0..<frames.count, using: &rng))
        case 6:  // insert a random frame
            frames.insert(
                rng.bytes(Int.random(in: 0...64, using: &rng)), at: Int.random(in: 0...frames.count, using: &rng))
        case 7, 8:  // one JSON field gets a value of the wrong type, a huge number, deep nesting, bad UTF-8…
            guard let json, let body = replacingField(in: frames[json]) else { return }
            frames[json] = body
        case 9, 10:  // the whole JSON body replaced
            guard let json else { return }
            frames[json] = Self.weirdBodies.randomElement(using: &rng)!
        case 11:  // extra frames after the body
            for _ in 0..<Int.random(in: 1...5, using: &rng) {
                frames.append(rng.bytes(Int.random(in: 0...32, using: &rng)))
            }
        case 12:  // header or worker command confused
            guard frames.count > 2 else { return }
            let headers = [MDP.clientHeader, MDP.workerHeader, Data("MDPC02".utf8), Data("MDPW0".utf8)]
            frames[1] = headers.randomElement(using: &rng)!
            if rng.chance(50) { frames[2] = Data([UInt8.random(in: 0...7, using: &rng)]) }
        default:  // a large (but accepted) last frame
            guard frames.count > 1 else { return }
            frames[frames.count - 1] = rng.bytes(Int.random(in: 64 << 10...700 << 10, using: &rng))
        }
    }

    /// Where the JSON body sits: frame 3 of a client request, frame 5 of a worker REPLY.
    static func jsonIndex(_ frames: [Data]) -> Int? {
        guard frames.count > 3 else { return nil }
        if frames[1] == MDP.clientHeader { return 3 }
        if frames[1] == MDP.workerHeader, frames[2] == Data([MDP.WorkerCommand.reply.rawValue]), frames.count > 5 {
            return 5
        }
        return nil
    }

    /// The body with one field (possibly nested, possibly new) set to a weird value or removed.
    private mutating func replacingField(in body: Data) -> Data? {
        guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return nil }
        var paths = object.keys.sorted().map { [$0] } + [["unexpected"]]
        for key in object.keys.sorted() {
            guard let inner = object[key] as? [String: Any] else { continue }
            paths += inner.keys.sorted().map { [key, $0] }
            for innerKey in inner.keys.sorted() {
                if let deeper = inner[innerKey] as? [String: Any] {
                    paths += deeper.keys.sorted().map { [key, innerKey, $0] }
                }
            }
        }
        let path = paths.randomElement(using: &rng)!
        let marker = "@@fuzz-marker@@"
        let remove = rng.chance(15)
        Self.set(&object, path[...], remove ? nil : marker)
        guard var text = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        if !remove, let range = text.range(of: Data("\"\(marker)\"".utf8)) {
            text.replaceSubrange(range, with: Self.weirdValues.randomElement(using: &rng)!)
        }
        return text
    }

    private static func set(_ object: inout [String: Any], _ path: ArraySlice<String>, _ value: String?) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = value
        } else if var inner = object[key] as? [String: Any] {
            set(&inner, path.dropFirst(), value)
            object[key] = inner
        }
    }

    private static func deep(_ depth: Int, open: String = "[", close: String = "]") -> Data {
        Data((String(repeating: open, count: depth) + "1" + String(repeating: close, count: depth)).utf8)
    }

    private static let weirdValues: [Data] =
        [
            "null", "true", "false", "0", "-0", "1.5", "-1", "1e400", "-1e400", "1e-400", "1E+2",
            "99999999999999999999999999999", "-9223372036854775809", "9223372036854775807", "-9223372036854775808",
            "18446744073709551616", "NaN", "Infinity", "\"\"", "\"1\"", "[]", "{}", "[1,2,3]", "{\"v\":1}",
            "\"../../etc/passwd\"", "\"ch_0000000000000000\"", "\"sub_zzzzzzzzzzzzzzzz\"", "\"\\u0000\"",
            "\"\\ud800\"", "\"\\uDFFF\\uD800\"", "\"a\\u0000b\"", "\"pumasi.builtin\"", "\"job:1:1\"",
            "\"\(String(repeating: "x", count: 70_000))\"", "\"\(String(repeating: "é", count: 300))\"",
        ].map { Data($0.utf8) } + [
            deep(300), deep(5_000), deep(3_000, open: "{\"a\":", close: "}"),
            Data([0x22, 0xFF, 0xFE, 0x22]), Data([0x22, 0xC0, 0xAF, 0x22]), Data([0x22, 0xED, 0xA0, 0x80, 0x22]),
            Data([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]), Data([0x22, 0x61, 0x00, 0x62, 0x22]),
        ]

    private static let weirdBodies: [Data] =
        [
            "", "{", "}", "[]", "null", "\"v\"", "0", "{\"v\":1}", "{\"v\":2}", "{\"v\":0}", "{\"v\":\"1\"}",
            "{\"v\":1.0}", "{\"v\":1.5}", "{\"v\":1e400}", "{\"v\":-1}", "{\"v\":null}", "{\"v\":1,\"v\":2}",
            "{\"v\":99999999999999999999999}", "{\"v\":1} trailing", "\u{FEFF}{\"v\":1}", "{\"v\":1,}",
            "{'v':1}", "{\"v\":1,\"spec\":null}", "{\"v\":1,\"spec\":{}}", "{\"v\":1,\"challenge\":[]}",
        ].map { Data($0.utf8) } + [
            deep(100_000), deep(50_000, open: "{\"a\":", close: "}"), Data(repeating: UInt8(ascii: "["), count: 65_536),
            Data([0x7B, 0x22, 0x76, 0x22, 0x3A, 0x31, 0x2C, 0x22, 0xFF, 0x22, 0x3A, 0x22, 0xC3, 0x22, 0x7D]),
            Data([0xFF, 0xFE, 0x7B, 0x7D]), Data(repeating: 0, count: 100),
        ]
}

/// A DEALER the fuzzer sends on. Readers drain their replies as they go; the others never read, so the broker's
/// sends to them pile up (and past the high-water mark are dropped, which must not stall the broker).
private final class FuzzSocket {
    let socket: ZMQSocket
    let reads: Bool
    let forWorkerCommands: Bool
    var sent = 0
    var refused = 0
    var replies = 0

    init(_ context: ZMQContext, endpoint: String, reads: Bool, forWorkerCommands: Bool) throws {
        socket = try ZMQSocket(context, .dealer)
        try socket.setOption(.sendHighWaterMark, 2_000)
        try socket.connect(endpoint)
        self.reads = reads
        self.forWorkerCommands = forWorkerCommands
    }

    func send(_ frames: [Data]) throws {
        if try socket.send(frames, dontWait: true) { sent += 1 } else { refused += 1 }
        if reads { drain() }
    }

    func drain() {
        while (try? socket.receive(dontWait: true)) ?? nil != nil { replies += 1 }
    }

    /// Ends whatever the broker thinks this connection is (a DISCONNECT drops an evaluator registration), then
    /// waits until the broker has handled everything sent before: it answers a request for a service of a
    /// unique name, in order after the rest of this connection's messages. - Returns: whether the answer came.
    func settle(seconds: Double) throws -> Bool {
        let marker = "pumasi.fuzz-sync.\(UUID().uuidString)"
        try socket.send(MDP.worker(.disconnect))
        try socket.send(MDP.clientRequest(service: marker, body: [Wire.encode(Empty())]))
        var poller = ZMQPoller([socket])
        let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        while WallClock.monotonicNanos() < deadline {
            guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
            while let message = try socket.receive(dontWait: true) {
                replies += 1
                if message.frames.count > 2, message.frames[2] == Data(marker.utf8) { return true }
            }
        }
        return false
    }
}

@Suite("Fuzzing a live broker", .timeLimit(.minutes(2)))
struct FuzzTests {
    /// The fuzzer's seed: fixed so CI is deterministic; set PUMASI_FUZZ_SEED (hex) to explore or to replay.
    static let seed: UInt64 =
        ProcessInfo.processInfo.environment["PUMASI_FUZZ_SEED"].flatMap { UInt64($0, radix: 16) } ?? 0x5EED_F422_C0DE

    /// A bounded fuzz: random and mutated frames at a live broker, then the store must be sound and every earlier
    /// submission, score, leaderboard and award unchanged.
    @Test func randomAndMutatedFramesLeaveEarlierDataIntact() throws {
        let seed = String(Self.seed, radix: 16)
        print("FuzzTests: seed \(seed) (replay with PUMASI_FUZZ_SEED=\(seed))")
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"), logLevel: .error) {
            $0.maxMessageBytes = FrameFuzzer.maxMessageBytes
            $0.heartbeatInterval = 100
            $0.leaseMargin = 1_000
        }
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache")) {
            $0.heartbeatInterval = 100
        }
        defer { evaluator.shutdown() }
        let client = try client(broker)

        // Earlier data, through the normal API: A is awarded and frozen, B is open with scored submissions, and
        // D is open for the fuzzer's own submissions and closes.
        let (specA, files) = sampleSpec(title: "Earlier, awarded")
        let challengeA = try post(client, specA, files)
        var (specB, _) = sampleSpec(title: "Earlier, open")
        specB.timeLimitSeconds = 1
        let challengeB = try post(client, specB, files)
        specB.title = "Fuzz target"
        let challengeD = try post(client, specB, files)
        let receipts = [
            try submit(client, challengeA.id, "ada", "42"), try submit(client, challengeA.id, "bob", "41"),
            try submit(client, challengeA.id, "cy", " 42\n"), try submit(client, challengeB.id, "dan", "42"),
            try submit(client, challengeB.id, "eve", "7"),
            try submit(client, challengeB.id, "ada", "42", clientId: "earlier-1"),
        ]
        var before: [String: SubmissionInfo] = [:]
        for receipt in receipts {
            let info = try settled(client, receipt.submission)
            try #require(info.state == .scored, "\(info)")
            before[receipt.submission] = info
        }
        let (_, _) = try client.call(Service.close, ChallengeRequest(challenge: challengeA.id), as: ChallengeInfo.self)
        var shownA = try show(client, challengeA.id)
        _ = try eventually {
            shownA = try show(client, challengeA.id)
            return shownA.state == .awarded
        }
        try #require(shownA.state == .awarded && shownA.winner?.solver == "ada", "\(shownA)")
        let boardA = try leaderboard(client, challengeA.id)
        let boardB = try leaderboard(client, challengeB.id)
        let earlierSolversB = Set(boardB.entries.map(\.solver))

        // The fuzz.
        let context = try ZMQContext()
        var sockets: [FuzzSocket] = []
        for (reads, worker) in [
            (true, true), (true, true), (false, true), (false, true), (true, false), (false, false),
        ] {
            sockets.append(try FuzzSocket(context, endpoint: broker.router, reads: reads, forWorkerCommands: worker))
        }
        // Mutations (including worker commands) go out on the first four; random frames, some past the broker's
        // message limit (which makes libzmq drop the connection), on the last two, so the DISCONNECT that
        // `settle` sends reaches every connection that may have registered as an evaluator.
        var fuzzer = FrameFuzzer(
            seed: Self.seed,
            valid: validMessages(
                challenges: (challengeA.id, challengeB.id, challengeD.id), files: files, specB: specB,
                submissions: receipts.map(\.submission)))
        let count = 3_000
        let started = WallClock.monotonicNanos()
        var identities = 0
        for index in 0..<count {
            if fuzzer.rng.chance(3) {
                // A short-lived connection under a random routing id; its messages are delivered after the close
                // (linger), in order, DISCONNECT last.
                let (identity, messages) = fuzzer.workerBurst()
                let once = try ZMQSocket(context, .dealer, linger: 5_000)
                try once.setOption(.routingId, identity)
                try once.connect(broker.router)
                for message in messages { try once.send(message, dontWait: true) }
                identities += 1
            } else if fuzzer.rng.chance(35) {
                try sockets[4 + index % 2].send(fuzzer.random())
            } else {
                try sockets[index % 4].send(fuzzer.mutated())
            }
        }
        for socket in sockets where socket.forWorkerCommands {
            #expect(try socket.settle(seconds: 20), "seed \(seed): no answer to a request after the fuzz")
        }
        for socket in sockets { socket.drain() }
        let fuzzSeconds = Double(WallClock.monotonicNanos() - started) / 1e9
        print(
            "FuzzTests: \(count) messages (\(identities) bursts under random routing ids) in \(String(format: "%.1f", fuzzSeconds)) s; sent "
                + "\(sockets.map(\.sent).reduce(0, +)), refused at the high-water mark "
                + "\(sockets.map(\.refused).reduce(0, +)), replies read \(sockets.map(\.replies).reduce(0, +))")
        sockets.removeAll()

        // The broker still answers, and nothing earlier changed.
        let fresh = try BrokerClient(endpoint: broker.router, timeoutSeconds: 5)
        for receipt in receipts {
            #expect(try status(fresh, receipt.submission) == before[receipt.submission], "seed \(seed)")
        }
        #expect(try show(fresh, challengeA.id) == shownA, "seed \(seed)")
        #expect(try leaderboard(fresh, challengeA.id) == boardA, "seed \(seed)")
        let afterB = try leaderboard(fresh, challengeB.id)
        #expect(
            afterB.entries.filter { earlierSolversB.contains($0.solver) }.map(Self.unranked)
                == boardB.entries.map(Self.unranked), "seed \(seed)")
        // Whatever the fuzzer posted, the list of every challenge still encodes and decodes.
        let (listed, _) = try fresh.call(Service.list, ListRequest(), as: [ChallengeInfo].self)
        #expect(listed.contains { $0.id == challengeA.id } && listed.contains { $0.id == challengeB.id })
        print(
            "FuzzTests: the fuzzer left \(listed.count - 3) challenges, \(try show(fresh, challengeB.id).submissions - 3) "
                + "submissions to B and \(try show(fresh, challengeD.id).submissions) to D")
        // Scoring still works, and every job the fuzzer caused settles (those leased to its fake evaluators
        // were handed back by their DISCONNECT, or expire with their 1 s time limit).
        let late = try submit(fresh, challengeB.id, "zed", "42")
        let lateInfo = try settled(fresh, late.submission)
        #expect(lateInfo.state == .scored && lateInfo.score == 1, "seed \(seed): \(lateInfo)")
        var pending = (0, 0)
        _ = try eventually(seconds: 20) {
            pending = (try leaderboard(fresh, challengeB.id).pending, try leaderboard(fresh, challengeD.id).pending)
            return pending == (0, 0)
        }
        #expect(pending == (0, 0), "seed \(seed): jobs still pending after the fuzz in B and D")

        // The store, read after a clean shutdown.
        broker.shutdown()
        let store = try TestBackend.store(dir.file("broker"))
        #expect(try store.integrityCheck() == "ok", "seed \(seed)")
        // PostgreSQL checks every foreign key at each statement (or its commit) and keeps no broken one.
        if TestBackend.isSQLite { #expect(try store.db.query("PRAGMA foreign_key_check").isEmpty, "seed \(seed)") }
        for receipt in receipts {
            #expect(try store.submissionInfo(receipt.submission)?.info == before[receipt.submission], "seed \(seed)")
        }
        let scoresA = try store.db.queryOne(
            "SELECT COUNT(*) FROM outcomes WHERE challenge_id = ? AND ok = 1", [.text(challengeA.id)])
        #expect(scoresA?.int(0) == 3, "seed \(seed): forged replies recorded a score in the closed challenge")
        let awardsA = try store.db.queryOne(
            "SELECT COUNT(*) FROM awards WHERE challenge_id = ?", [.text(challengeA.id)])
        #expect(awardsA?.int(0) == 1, "seed \(seed)")
        // Every outcome belongs to a submission of its own challenge, and there is at most one per submission.
        let mismatched = try store.db.queryOne(
            """
            SELECT COUNT(*) FROM outcomes o LEFT JOIN submissions s ON s.id = o.submission_id
            WHERE s.id IS NULL OR s.challenge_id != o.challenge_id
            """)
        #expect(mismatched?.int(0) == 0, "seed \(seed)")
        let duplicated = try store.db.queryOne(
            "SELECT COUNT(*) - COUNT(DISTINCT submission_id) FROM outcomes"
        )
        #expect(duplicated?.int(0) == 0, "seed \(seed)")
    }

    /// Found by the fuzz: a REPLY that answers no lease the evaluator holds (forged, or a stray duplicate) must
    /// change nothing. The evaluator still holds its job, so it must not be handed a second one (an MDP worker
    /// takes one request at a time); and when it goes, that job must be requeued at once, not left `scoring`
    /// until its lease runs out (time limit plus margin: 40 s here, up to an hour in general).
    @Test func aReplyThatAnswersNoLeaseChangesNothing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let client = try client(broker)
        let context = try ZMQContext()
        let worker = try ZMQSocket(context, .dealer)
        try worker.connect(broker.router)
        try worker.send(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]))
        let (spec, files) = sampleSpec()
        let challenge = try post(client, spec, files)
        let first = try submit(client, challenge.id, "ada", "42")
        let second = try submit(client, challenge.id, "bob", "41")

        var requests: [[Data]] = []
        /// Reads what the broker sends this worker until the answer to a request for `marker` arrives (with no
        /// marker: until a REQUEST arrives), for up to 5 s; the worker does not heartbeat, so the broker would
        /// drop it after 7.5 s.
        func readUntil(_ marker: String?) throws -> Bool {
            var poller = ZMQPoller([worker])
            let deadline = WallClock.monotonicNanos() + 5_000_000_000
            while WallClock.monotonicNanos() < deadline {
                guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
                while let message = try worker.receive(dontWait: true) {
                    let frames = message.frames
                    if frames.count > 2, frames[1] == MDP.workerHeader,
                        frames[2] == Data([MDP.WorkerCommand.request.rawValue])
                    {
                        requests.append(frames)
                        if marker == nil { return true }
                    }
                    if let marker, frames.count > 2, frames[2] == Data(marker.utf8) { return true }
                }
            }
            return false
        }
        try #require(try readUntil(nil), "the worker got no REQUEST")
        let job = try JSONDecoder().decode(ScoringJob.self, from: try #require(requests.first?[5]))
        #expect(job.submission == first.submission)

        // A forged REPLY, then two round trips on the same connection: the second is handled in a later pass than
        // the REPLY, so anything dispatched because of it has arrived before that answer.
        let forged = ScoringResult(ok: true, score: 99)
        try worker.send(
            MDP.workerReply(clientAddress: Data("job:\(job.job + 100):1".utf8), body: [Wire.encode(forged)]))
        for round in 1...2 {
            let marker = "pumasi.sync-\(round)"
            try worker.send(MDP.clientRequest(service: marker, body: [Wire.encode(Empty())]))
            try #require(try readUntil(marker), "no answer to \(marker)")
        }
        #expect(requests.count == 1, "a worker still holding job \(job.job) was sent another REQUEST")
        let held = try status(client, first.submission)
        #expect(held.state == .scoring && held.score == nil && held.attempts == 1, "\(held)")

        // The worker leaves; its job must go to the next evaluator straight away.
        try worker.send(MDP.worker(.disconnect))
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let firstInfo = try settled(client, first.submission, seconds: 5)
        #expect(firstInfo.state == .scored && firstInfo.score == 1, "\(firstInfo)")
        let secondInfo = try settled(client, second.submission, seconds: 5)
        #expect(secondInfo.state == .scored && secondInfo.score == 0, "\(secondInfo)")
    }

    /// Found by the fuzz (its log showed peers' raw bytes, line breaks included): the broker logs bytes a peer
    /// chose, such as an unknown protocol header or a REPLY's address. They must not start a new log line, or
    /// anyone who can reach the ROUTER could write broker log entries of their choosing.
    @Test func aPeerCannotWriteLinesIntoTheBrokerLog() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let context = try ZMQContext()
        let peer = try ZMQSocket(context, .dealer)
        try peer.connect(broker.router)
        let forged = "\n2026-01-01T00:00:00.000Z critical broker: forged entry"
        try peer.send([Data(), Data("\nFORGED\r\u{1B}[2J".utf8)])
        try peer.send(MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]))
        try peer.send(MDP.workerReply(clientAddress: Data(forged.utf8), body: [Data("{}".utf8)]))
        // Answered after the two above were handled (and logged).
        try peer.send(MDP.clientRequest(service: "pumasi.sync", body: [Wire.encode(Empty())]))
        var synced = false
        var poller = ZMQPoller([peer])
        let deadline = WallClock.monotonicNanos() + 10_000_000_000
        while !synced, WallClock.monotonicNanos() < deadline {
            guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
            while let message = try peer.receive(dontWait: true) {
                if message.frames.count > 2, message.frames[2] == Data("pumasi.sync".utf8) { synced = true }
            }
        }
        try #require(synced, "no answer from the broker")
        let log = broker.spawned.stderr
        #expect(log.contains("reply with an unreadable address"), "\(log)")
        let strays = log.split(separator: "\n").map(String.init).filter { line in
            !(line.count > 24 && line.prefix(4).allSatisfy(\.isNumber) && line.dropFirst(4).first == "-")
        }
        #expect(strays.isEmpty, "log lines a peer wrote: \(strays)")
        let fakes = log.split(separator: "\n").map(String.init).filter { $0.hasPrefix("2026-01-01T00:00:00.000Z") }
        #expect(fakes.isEmpty, "a log entry a peer forged: \(fakes)")
        #expect(!log.contains("\u{1B}"), "a terminal escape sequence from a peer reached the log")
    }

    /// One valid message for every service and worker command in docs/protocol.md: the fuzzer's seeds.
    private func validMessages(
        challenges: (a: String, b: String, d: String), files: [Data], specB: ChallengeSpec, submissions: [String]
    ) -> [[Data]] {
        let (a, b, d) = challenges
        var (spec, _) = sampleSpec(title: "Fuzzed post")
        spec.deadline = WallClock.now() + 3_600_000
        func client(_ service: String, _ body: some Encodable, _ extra: [Data] = []) -> [Data] {
            MDP.clientRequest(service: service, body: [Wire.encode(body)] + extra)
        }
        let reply = { (address: String, result: ScoringResult) in
            MDP.workerReply(clientAddress: Data(address.utf8), body: [Wire.encode(result)])
        }
        let forged = ScoringResult(ok: true, score: 1e6, metrics: ["forged": 1], message: "forged")
        let infrastructure = ScoringResult(ok: false, error: .init(code: "bad_job", message: "forged"))
        let solverFailure = ScoringResult(ok: false, error: .init(code: "plugin_exit", message: "forged"))
        var messages: [[Data]] = [
            client(Service.post, PostRequest(spec: spec), files),
            client(Service.post, PostRequest(spec: specB), files),
            client(Service.list, ListRequest()), client(Service.list, ListRequest(state: .awarded)),
            client(Service.show, ChallengeRequest(challenge: a)), client(Service.show, ChallengeRequest(challenge: b)),
            client(Service.file, FileRequest(challenge: b, name: "question.txt")),
            client(Service.close, ChallengeRequest(challenge: d)),
            client(Service.submit, SubmitRequest(challenge: b, solver: "fuzzer", filename: "f.txt"), [Data("42".utf8)]),
            client(Service.submit, SubmitRequest(challenge: d, solver: "fuzzer", filename: "f.txt"), [Data("41".utf8)]),
            client(
                Service.submit, SubmitRequest(challenge: b, solver: "fuzzer", filename: "f.txt", clientId: "fuzz-1"),
                [Data("42".utf8)]),
            client(Service.submit, SubmitRequest(challenge: a, solver: "fuzzer", filename: "f.txt"), [Data("42".utf8)]),
            client(Service.leaderboard, LeaderboardRequest(challenge: b, limit: 2)),
            client(Service.leaderboard, LeaderboardRequest(challenge: a)),
            client(Service.report, ReportRequest(challenge: b)),
            client(Service.report, ReportRequest(challenge: a, view: "final")),
            client(Service.reference, ReferenceRequest(challenge: b, sha256: SHA256.hex(files[1]))),
            client(Service.events, EventsRequest(after: 0, limit: 5)),
            MDP.clientRequest(service: Service.mmiService, body: [Data(Service.builtinScorers.utf8)]),
            MDP.clientRequest(service: "mmi.nothing", body: []),
            client("pumasi.nothing", Empty()),
            MDP.worker(.ready, [Data(Service.builtinScorers.utf8)]),
            MDP.worker(.ready, [Data(Service.plugin("fuzz").utf8)]),
            MDP.worker(.heartbeat), MDP.worker(.disconnect),
            MDP.worker(.request, [Data("job:1:1".utf8), Data(), Data("{}".utf8)]),
            reply("job:1:2", forged), reply("job:0:1", forged), reply("job:-1:1", forged),
            reply("job:99999999999999999999:1", forged), reply("job::", forged), reply("job:1:1:1", forged),
            reply("", forged), reply("JOB:1:1", forged), reply("job:1:0", infrastructure),
        ]
        for submission in submissions {
            messages.append(client(Service.status, SubmissionRequest(submission: submission)))
        }
        // Forged replies for the earlier jobs (ids 1-6) and the first ones the fuzzer causes.
        for job in 1...12 {
            messages.append(reply("job:\(job):1", [forged, infrastructure, solverFailure][job % 3]))
        }
        return messages
    }

    private func show(_ client: BrokerClient, _ id: String) throws -> ChallengeInfo {
        try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self).0
    }

    /// The board, without when the broker made it (`asOf`): the same board asked for later.
    private func leaderboard(_ client: BrokerClient, _ id: String) throws -> Leaderboard {
        var board = try client.call(Service.leaderboard, LeaderboardRequest(challenge: id), as: Leaderboard.self).0
        board.asOf = nil
        return board
    }

    private static func unranked(_ entry: LeaderboardEntry) -> [String] {
        [
            entry.solver, entry.submission, entry.score.map { "\($0)" } ?? "none", "\(entry.submittedAt)",
            "\(entry.entries)",
        ]
    }
}
