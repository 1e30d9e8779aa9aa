import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// One submission of the deterministic workload, with the score a correct scorer gives it.
private struct WorkloadEntry {
    /// 0: the csv-accuracy challenge; 1: the slow plugin's.
    var challenge: Int
    var solver: String
    var clientId: String
    var content: Data
    var expected: Double
}

/// The fault-injection workload: several solvers on two challenges, each solver's best score unique in its
/// challenge, so that the leaderboards and awards do not depend on submission times (which break ties).
private enum FaultWorkload {
    static let solvers = ["ada", "bob", "cy", "dan", "eve"]
    static let rows = 20
    static let labels = ["cat", "dog", "bird"]
    /// The csv-accuracy reference.
    static let truth = "id,label\n" + (1...rows).map { "\($0),\(labels[$0 % 3])\n" }.joined()

    /// A plugin that takes 50-200 ms, as the submission says, and then gives the score it names, so that kills
    /// land on jobs in flight.
    static let slowPlugin = """
        #!/bin/sh
        # The submission is one line: "score <n> <seconds>".
        read word score pause rest < "$1"
        sleep "$pause"
        echo "{\\"score\\": $score}"
        """

    /// A CSV with the first `correct` rows right: accuracy `correct / rows`.
    static func csv(correct: Int) -> String {
        "id,label\n" + (1...rows).map { "\($0),\($0 <= correct ? labels[$0 % 3] : "fish")\n" }.joined()
    }

    /// `csv` submissions per solver to challenge 0 and `plugin` to challenge 1, interleaved by `seed`.
    static func make(seed: UInt64, csv csvCount: Int, plugin pluginCount: Int) -> [WorkloadEntry] {
        var rng = SplitMix64(seed: seed)
        var entries: [WorkloadEntry] = []
        for (index, solver) in solvers.enumerated() {
            // Unique bests: ada leads the CSV challenge, eve the plugin's.
            let bestCorrect = rows - 2 * index
            let bestPlugin = 60 + 10 * index
            let bestAt = (Int.random(in: 0..<csvCount, using: &rng), Int.random(in: 0..<pluginCount, using: &rng))
            for n in 0..<csvCount {
                let correct = n == bestAt.0 ? bestCorrect : Int.random(in: 0..<bestCorrect, using: &rng)
                entries.append(
                    WorkloadEntry(
                        challenge: 0, solver: solver, clientId: "", content: Data(csv(correct: correct).utf8),
                        expected: Double(correct) / Double(rows)))
            }
            for n in 0..<pluginCount {
                let score = n == bestAt.1 ? bestPlugin : Int.random(in: 0..<bestPlugin, using: &rng)
                let pause = String(format: "%.3f", Double(Int.random(in: 50...200, using: &rng)) / 1000)
                entries.append(
                    WorkloadEntry(
                        challenge: 1, solver: solver, clientId: "", content: Data("score \(score) \(pause)\n".utf8),
                        expected: Double(score)))
            }
        }
        entries.shuffle(using: &rng)
        for index in entries.indices { entries[index].clientId = "fault-\(index)" }
        return entries
    }

    /// The leaderboard a correct broker shows once everything is scored: (solver, best score, entries), best first.
    static func expectedBoard(_ entries: [WorkloadEntry], challenge: Int) -> [BoardRow] {
        let mine = entries.filter { $0.challenge == challenge }
        return Dictionary(grouping: mine, by: \.solver)
            .map { solver, list in
                BoardRow(rank: 0, solver: solver, score: list.map(\.expected).max()!, entries: list.count)
            }
            .sorted { $0.score > $1.score }
            .enumerated().map {
                BoardRow(
                    rank: $0.offset + 1, solver: $0.element.solver, score: $0.element.score, entries: $0.element.entries
                )
            }
    }
}

/// A leaderboard row without what differs between runs (submission ids and times).
private struct BoardRow: Equatable, CustomStringConvertible {
    var rank: Int
    var solver: String
    var score: Double
    var entries: Int

    init(rank: Int, solver: String, score: Double, entries: Int) {
        self.rank = rank
        self.solver = solver
        self.score = score
        self.entries = entries
    }

    init(_ entry: LeaderboardEntry) {
        // A live leaderboard lists scored submissions only; a missing score (NaN) matches no expected row.
        self.init(rank: entry.rank ?? 0, solver: entry.solver, score: entry.score ?? .nan, entries: entry.entries)
    }

    var description: String { "\(rank). \(solver) \(score) (\(entries))" }
}

/// An award without what differs between runs.
private struct AwardRow: Equatable {
    var solver: String
    var amount: Decimal
    var currency: String
    var score: Double

    init?(_ award: AwardInfo?) {
        guard let award else { return nil }
        solver = award.solver
        amount = award.amount
        currency = award.currency
        score = award.score
    }
}

/// A `pumasi-broker` subprocess on fixed loopback ports, so that it comes back on the same endpoints after a
/// kill, with the same data directory. Stopped by its pid only.
private final class FixedPortBroker {
    let dataDirectory: String
    let routerPort: Int
    let pubPort: Int
    private(set) var process: CLIProcess?

    var router: String { "tcp://127.0.0.1:\(routerPort)" }
    var database: String { (dataDirectory as NSString).appendingPathComponent("pumasi.sqlite3") }

    private init(dataDirectory: String, routerPort: Int, pubPort: Int) {
        self.dataDirectory = dataDirectory
        self.routerPort = routerPort
        self.pubPort = pubPort
    }

    deinit { kill9() }

    /// Starts a broker on a random pair of free ports. The ports are below Linux's ephemeral range (32768-60999),
    /// so no outgoing connection can hold one while the broker is down, and a client reconnecting to a dead
    /// broker can never connect to itself.
    static func start(dataDirectory: String, rng: inout SplitMix64) throws -> FixedPortBroker {
        for _ in 0..<20 {
            let router = Int.random(in: 20_000..<32_767, using: &rng)
            let broker = FixedPortBroker(dataDirectory: dataDirectory, routerPort: router, pubPort: router + 1)
            if try broker.launch() { return broker }
        }
        throw CLITestFailure("no free pair of loopback ports for pumasi-broker in 20 tries")
    }

    /// Starts the broker again on the same ports; a port still held (briefly, after a kill) is retried.
    func restart() throws {
        for _ in 0..<20 {
            if try launch() { return }
            usleep(100_000)
        }
        throw CLITestFailure("pumasi-broker could not bind \(router) again within 2 s")
    }

    /// - Returns: false if the broker exited because a port was taken.
    /// - Throws: if it failed otherwise, or neither exited nor wrote its endpoints within 10 s.
    private func launch() throws -> Bool {
        precondition(process == nil)
        let spawned = try CLIProcess(
            "pumasi-broker",
            [
                "--data-dir", dataDirectory, "--router", router, "--pub", "tcp://127.0.0.1:\(pubPort)",
                "--heartbeat-ms", "200", "--lease-margin-ms", "1000", "--log-level", "warning", "--insecure",
            ])
        // broker.json survives a kill: the new broker is up when the file names its pid.
        let file = (dataDirectory as NSString).appendingPathComponent("broker.json")
        let pid = String(spawned.process.processIdentifier)
        var up = false
        _ = eventually(seconds: 10) {
            if let data = FileManager.default.contents(atPath: file),
                let info = try? JSONDecoder().decode([String: String].self, from: data), info["pid"] == pid
            {
                up = true
            }
            return up || !spawned.process.isRunning
        }
        if up {
            process = spawned
            return true
        }
        let result = spawned.terminate(seconds: 2)
        if result.stderr.contains("Address already in use") { return false }
        throw CLITestFailure("pumasi-broker did not start: \(result)")
    }

    /// SIGKILL by pid, and wait until it is gone.
    func kill9() {
        guard let process else { return }
        self.process = nil
        if process.process.isRunning { kill(process.process.processIdentifier, SIGKILL) }
        _ = process.waitForExit(seconds: 5)
    }

    /// SIGTERM, expecting a graceful exit 0.
    func stopGracefully(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let process else { return }
        self.process = nil
        process.stopGracefully(sourceLocation: sourceLocation)
    }
}

/// `pumasi evaluate` subprocesses, each restartable after a kill.
private final class EvaluatorProcesses {
    private let arguments: [String]
    private var processes: [CLIProcess?]

    init(count: Int, arguments: [String]) throws {
        self.arguments = arguments
        processes = Array(repeating: nil, count: count)
        for index in 0..<count { try start(index) }
    }

    deinit { (0..<processes.count).forEach(kill9) }

    var count: Int { processes.count }

    func start(_ index: Int) throws {
        precondition(processes[index] == nil)
        processes[index] = try CLIProcess("pumasi", arguments)
    }

    func kill9(_ index: Int) {
        guard let process = processes[index] else { return }
        processes[index] = nil
        if process.process.isRunning { kill(process.process.processIdentifier, SIGKILL) }
        _ = process.waitForExit(seconds: 5)
    }

    func stopAll(sourceLocation: SourceLocation = #_sourceLocation) {
        for index in processes.indices {
            processes[index]?.stopGracefully(sourceLocation: sourceLocation)
            processes[index] = nil
        }
    }

    /// What a process wrote to stderr, for failure messages.
    func stderr(_ index: Int) -> String { processes[index]?.stderr ?? "" }
}

/// What the load thread saw. Shared between the load thread and the test's thread.
private final class LoadLog: @unchecked Sendable {
    // @unchecked Sendable: every stored property is read and written under `lock`.
    private let lock = NSLock()
    private var _receipts: [String: Receipt] = [:]
    private var _refusals: [String] = []
    private var _tries = 0
    private var _timeouts = 0
    private var _stopped = false
    private var _finished = false
    private var _inFlightSince: UInt64?
    private let done = DispatchSemaphore(value: 0)

    func withLock<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var receipts: [String: Receipt] { withLock { _receipts } }
    var refusals: [String] { withLock { _refusals } }
    var tries: Int { withLock { _tries } }
    var timeouts: Int { withLock { _timeouts } }
    var stopped: Bool { withLock { _stopped } }
    var finished: Bool { withLock { _finished } }
    /// When the request now awaiting its reply was sent (monotonic nanoseconds), if one is.
    var inFlightSince: UInt64? {
        get { withLock { _inFlightSince } }
        set { withLock { _inFlightSince = newValue } }
    }

    func stop() { withLock { _stopped = true } }
    func record(_ clientId: String, _ receipt: Receipt) { withLock { _receipts[clientId] = receipt } }
    func refused(_ text: String) { withLock { _refusals.append(text) } }
    func tried(timedOut: Bool) {
        withLock {
            _tries += 1
            if timedOut { _timeouts += 1 }
        }
    }

    func finish() {
        withLock { _finished = true }
        done.signal()
    }

    func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

@Suite("Fault injection: kill -9 under load", .timeLimit(.minutes(3)))
struct FaultInjectionTests {
    static let seed: UInt64 =
        ProcessInfo.processInfo.environment["PUMASI_CHAOS_SEED"].flatMap { UInt64($0, radix: 16) } ?? 0xC4A0_5EED

    /// What one run ended with.
    private struct Outcome {
        var boards: [[BoardRow]]
        var awards: [AwardRow?]
    }

    /// Under a steady load, the broker is killed with SIGKILL several times and evaluators repeatedly; at the end
    /// every acknowledged submission is stored and scored exactly once, and the leaderboards and awards equal
    /// those of a fault-free run of the same workload.
    @Test func killingTheBrokerAndEvaluatorsLosesAndDuplicatesNothing() throws {
        let seed = String(Self.seed, radix: 16)
        print("FaultInjectionTests: seed \(seed) (replay with PUMASI_CHAOS_SEED=\(seed))")
        let workload = FaultWorkload.make(seed: Self.seed, csv: 24, plugin: 12)
        let expected = [
            FaultWorkload.expectedBoard(workload, challenge: 0), FaultWorkload.expectedBoard(workload, challenge: 1),
        ]

        let started = WallClock.monotonicNanos()
        let faulty = try run(workload, chaos: true, seed: seed)
        let middle = WallClock.monotonicNanos()
        let clean = try run(workload, chaos: false, seed: seed)
        print(
            "FaultInjectionTests: chaos run \(Self.seconds(middle - started)) s, "
                + "fault-free run \(Self.seconds(WallClock.monotonicNanos() - middle)) s")

        for challenge in 0..<2 {
            #expect(clean.boards[challenge] == expected[challenge], "seed \(seed): the fault-free run itself is off")
            #expect(
                faulty.boards[challenge] == clean.boards[challenge],
                "seed \(seed): challenge \(challenge) leaderboard after faults differs from the fault-free run")
            #expect(
                faulty.awards[challenge] != nil && faulty.awards[challenge] == clean.awards[challenge], "seed \(seed)")
        }
        #expect(clean.awards[0]?.solver == "ada" && clean.awards[1]?.solver == "eve", "seed \(seed)")
    }

    /// Runs the workload on a fresh broker and two evaluators, all real subprocesses; with `chaos`, kills them
    /// meanwhile. Checks the run's own invariants, and returns its leaderboards and awards.
    private func run(_ workload: [WorkloadEntry], chaos: Bool, seed: String) throws -> Outcome {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var rng = SplitMix64(seed: Self.seed &+ (chaos ? 1 : 2))
        let plugin = try dir.write("slow.sh", FaultWorkload.slowPlugin, executable: true)
        let broker = try FixedPortBroker.start(dataDirectory: dir.file("broker"), rng: &rng)
        defer { broker.kill9() }
        let evaluatorArguments = [
            "evaluate", "--broker", broker.router, "--cache", dir.file("cache"), "--heartbeat-ms", "200",
            "--plugin", "slow=\(plugin)", "--log-level", "warning",
        ]
        let evaluators = try EvaluatorProcesses(count: 2, arguments: evaluatorArguments)
        defer { (0..<evaluators.count).forEach(evaluators.kill9) }
        let client = try BrokerClient(endpoint: broker.router, timeoutSeconds: 10)

        let deadline = WallClock.now() + 3_600_000
        let csvSpec = ChallengeSpec(
            title: "Fault CSV", description: "csv-accuracy under faults", deadline: deadline,
            award: AwardSpec(amount: 700, currency: "EUR"),
            scorer: ScorerSpec(builtin: "csv-accuracy", options: ["id": "id", "target": "label"]), timeLimitSeconds: 10,
            files: [FileEntry(name: "truth.csv", role: .reference)])
        let pluginSpec = ChallengeSpec(
            title: "Fault plugin", description: "a slow plugin under faults", deadline: deadline,
            award: AwardSpec(amount: 300.25, currency: "EUR"), scorer: ScorerSpec(plugin: "slow"), timeLimitSeconds: 10,
            files: [])
        let challenges = [
            try post(client, csvSpec, [Data(FaultWorkload.truth.utf8)]).id, try post(client, pluginSpec, []).id,
        ]

        // The load: every submission retried with its client id until it is acknowledged.
        let log = LoadLog()
        defer { log.stop() }
        let router = broker.router
        let pace: useconds_t = chaos ? 75_000 : 0
        let thread = Thread {
            Self.submitAll(workload, challenges: challenges, router: router, pace: pace, log: log)
            log.finish()
        }
        thread.start()

        var kills = (broker: 0, evaluators: 0, skipped: 0)
        if chaos {
            // The reference file is fetched once per cache (a fetch cut short by a broker kill would hold its
            // evaluator up to the client's 30 s timeout); the chaos starts once it is cached.
            let cached = dir.file("cache/\(SHA256.hex(Data(FaultWorkload.truth.utf8)))")
            try #require(
                eventually(seconds: 15) { FileManager.default.fileExists(atPath: cached) }, "no reference cached")
            kills = try unleashChaos(broker: broker, evaluators: evaluators, rng: &rng, until: log)
        }
        let loaded = log.wait(seconds: 60)
        log.stop()
        try #require(loaded, "seed \(seed): the load did not finish within 60 s")

        if chaos {
            // Everything restarted cleanly: a graceful broker restart and fresh evaluators (none in back-off).
            broker.stopGracefully()
            try broker.restart()
            evaluators.stopAll()
            for index in 0..<evaluators.count { try evaluators.start(index) }
        }

        // Every acknowledged submission reaches a terminal state.
        let receipts = log.receipts
        #expect(log.refusals.isEmpty, "seed \(seed): submissions refused: \(log.refusals)")
        #expect(receipts.count == workload.count, "seed \(seed): \(workload.count - receipts.count) never acknowledged")
        var pending = [Int](repeating: -1, count: 2)
        let drained = try eventually(seconds: 60) {
            pending = try challenges.map { try leaderboard(client, $0).pending }
            return pending == [0, 0]
        }
        #expect(drained, "seed \(seed): jobs still pending 60 s after the load: \(pending)")

        // Each exactly once, scored as expected; a retried client id gets the same submission back.
        var ids = Set<String>()
        var attempts = 0
        for entry in workload {
            guard let receipt = receipts[entry.clientId] else { continue }
            ids.insert(receipt.submission)
            let info = try status(client, receipt.submission)
            attempts = max(attempts, info.attempts)
            #expect(
                info.state == .scored && info.score == entry.expected && info.solver == entry.solver,
                "seed \(seed): \(entry.clientId) \(entry.solver) expected \(entry.expected): \(info)")
            let again = try submit(client, challenges[entry.challenge], entry, clientId: entry.clientId)
            #expect(again.duplicate && again.submission == receipt.submission, "seed \(seed): \(again) for \(receipt)")
        }
        #expect(ids.count == receipts.count, "seed \(seed): two client ids were acknowledged with one submission")
        for (index, challenge) in challenges.enumerated() {
            let stored = try client.call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0
            let acknowledged = workload.filter { $0.challenge == index && receipts[$0.clientId] != nil }.count
            #expect(stored.submissions == acknowledged, "seed \(seed): challenge \(index) stores \(stored.submissions)")
        }

        // The leaderboards, then the awards once both challenges close.
        let boards = try challenges.map { try leaderboard(client, $0).entries.map(BoardRow.init) }
        var awards: [AwardRow?] = []
        for (index, challenge) in challenges.enumerated() {
            if chaos && index == 0 {
                // One more kill, aimed at the close: the award must still be decided, once.
                let sent = DispatchSemaphore(value: 0)
                let closer = Thread {
                    let quick = try? BrokerClient(endpoint: router, timeoutSeconds: 1)
                    sent.signal()
                    _ = try? quick?.call(Service.close, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self)
                }
                closer.start()
                sent.wait()
                usleep(useconds_t(Int.random(in: 0...3_000, using: &rng)))
                broker.kill9()
                try broker.restart()
                kills.broker += 1
            }
            if case .failure(let error) = Result(catching: {
                try client.call(Service.close, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self)
            }) {
                // Closed before the kill is fine; anything else is not.
                guard case ClientError.server(let refusal)? = error as? ClientError, refusal.code == .closed else {
                    throw error
                }
            }
            var info: ChallengeInfo?
            _ = try eventually(seconds: 15) {
                info = try client.call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0
                return info?.state == .awarded
            }
            #expect(info?.state == .awarded, "seed \(seed): \(String(describing: info))")
            awards.append(AwardRow(info?.winner))
        }

        // The store after a clean shutdown: sound, one score per submission.
        broker.stopGracefully()
        let store = try TestBackend.store(dir.file("broker"))
        #expect(try store.integrityCheck() == "ok", "seed \(seed)")
        let scored = try store.db.queryOne("SELECT COUNT(*) FROM outcomes WHERE ok = 1")?.int(0)
        #expect(scored == Int64(receipts.count), "seed \(seed): \(String(describing: scored)) scores")
        #expect(
            try store.db.query("SELECT submission_id, COUNT(*) FROM outcomes GROUP BY 1 HAVING COUNT(*) > 1").isEmpty)
        let awarded = try store.db.query("SELECT challenge_id FROM awards").compactMap { $0.string(0) }
        #expect(awarded.sorted() == challenges.sorted(), "seed \(seed): award ledger \(awarded)")
        let submissions = try store.db.queryOne("SELECT COUNT(*) FROM submissions")?.int(0)
        #expect(submissions == Int64(workload.count), "seed \(seed): \(String(describing: submissions)) submissions")
        let failed = try store.db.query(
            """
            SELECT s.id, o.attempt, o.error FROM submissions s LEFT JOIN outcomes o ON o.submission_id = s.id
            WHERE o.ok IS DISTINCT FROM 1
            """)
        #expect(
            failed.isEmpty,
            "seed \(seed): \(failed.map { "\($0.string(0) ?? "") attempts \($0.int(1) ?? 0): \($0.string(2) ?? "")" })")

        print(
            "FaultInjectionTests: \(chaos ? "chaos" : "fault-free"): \(receipts.count) acknowledged in \(log.tries) "
                + "tries (\(log.timeouts) timed out, \(receipts.values.filter(\.duplicate).count) acknowledged as a "
                + "retry's duplicate); broker killed \(kills.broker)x, evaluators \(kills.evaluators)x "
                + "(\(kills.skipped) kills skipped to spare a job's last attempt); most attempts on one job: \(attempts)"
        )
        return Outcome(boards: boards, awards: awards)
    }

    /// The load thread's loop: each submission retried (same client id, a fresh socket after a timeout) until the
    /// broker acknowledges it, for up to 30 s each.
    private static func submitAll(
        _ workload: [WorkloadEntry], challenges: [String], router: String, pace: useconds_t, log: LoadLog
    ) {
        guard var client = try? BrokerClient(endpoint: router, timeoutSeconds: 1) else {
            log.refused("could not create a client")
            return
        }
        for entry in workload {
            let giveUp = WallClock.monotonicNanos() + 30_000_000_000
            while !log.stopped, WallClock.monotonicNanos() < giveUp {
                log.inFlightSince = WallClock.monotonicNanos()
                defer { log.inFlightSince = nil }
                do {
                    let receipt = try submit(client, challenges[entry.challenge], entry, clientId: entry.clientId)
                    log.tried(timedOut: false)
                    log.record(entry.clientId, receipt)
                    break
                } catch .timeout, .unreachable, .disconnected {
                    log.tried(timedOut: true)
                } catch .server(let error) {
                    log.tried(timedOut: false)
                    log.refused("\(entry.clientId): \(error)")
                    break
                } catch {
                    log.tried(timedOut: false)
                    if let fresh = try? BrokerClient(endpoint: router, timeoutSeconds: 1) { client = fresh }
                    usleep(50_000)
                }
            }
            if pace > 0 { usleep(pace) }
        }
    }

    /// Kills the broker 4 times and evaluators 8 times, in a shuffled order, 0.8-1.4 s apart (longer than the 600 ms
    /// the broker takes to notice a dead evaluator), restarting each at once, until the plan is done or the load
    /// has finished.
    ///
    /// Infrastructure retries stop after 3 attempts (then the job fails as `infrastructure: …`, a legitimate
    /// outcome by design), and every kill can cost the jobs in flight one attempt. So as not to exhaust them,
    /// a kill waits (or, after 5 s, is skipped) while any unfinished job already has 2 attempts: a job is then
    /// hit at most on attempts 1 and 2, and the test can require every submission to end `scored`. (Unpaced, with
    /// kills 0.1-0.3 s apart, some jobs do end `infrastructure: evaluator unreachable (after 3 attempts)`.) The
    /// check reads the broker's SQLite file (WAL mode allows a concurrent reader).
    private func unleashChaos(
        broker: FixedPortBroker, evaluators: EvaluatorProcesses, rng: inout SplitMix64, until log: LoadLog
    ) throws -> (broker: Int, evaluators: Int, skipped: Int) {
        var plan = Array(repeating: true, count: 4) + Array(repeating: false, count: 8)
        plan.shuffle(using: &rng)
        var kills = (broker: 0, evaluators: 0, skipped: 0)
        for killBroker in plan {
            let pause = Double(Int.random(in: 800...1_400, using: &rng)) / 1000
            if eventually(seconds: pause, { log.finished }) { break }
            let safe = eventually(seconds: 5) { Self.jobsOnTheirLastAttempt(broker.database) == 0 }
            guard safe else {
                kills.skipped += 1
                continue
            }
            if killBroker {
                // Aimed at a submission in flight, 0-4 ms after it was sent: before, during or after the commit
                // that precedes its receipt.
                let delay = UInt64(Int.random(in: 0...4_000, using: &rng)) * 1_000
                let giveUp = WallClock.monotonicNanos() + 2_000_000_000
                while log.inFlightSince == nil, WallClock.monotonicNanos() < giveUp { usleep(100) }
                if let sent = log.inFlightSince {
                    while WallClock.monotonicNanos() < sent + delay { usleep(100) }
                }
                broker.kill9()
                try broker.restart()
                kills.broker += 1
            } else {
                let index = Int.random(in: 0..<evaluators.count, using: &rng)
                evaluators.kill9(index)
                try evaluators.start(index)
                kills.evaluators += 1
            }
        }
        return kills
    }

    /// Unfinished jobs on their second attempt or later (one failed attempt recorded), read from the live
    /// broker's store; nil if it cannot be read now.
    private static func jobsOnTheirLastAttempt(_ path: String) -> Int? {
        guard let db = try? SQLiteConnection(path: path),
            let row = try? db.queryOne(
                """
                SELECT COUNT(DISTINCT a.submission_id) FROM attempts a
                WHERE NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.submission_id = a.submission_id)
                """)
        else { return nil }
        return row.int(0).map(Int.init)
    }

    private static func submit(_ client: BrokerClient, _ challenge: String, _ entry: WorkloadEntry, clientId: String)
        throws(ClientError) -> Receipt
    {
        try client.call(
            Service.submit,
            SubmitRequest(challenge: challenge, solver: entry.solver, filename: "s.txt", clientId: clientId),
            files: [entry.content], as: Receipt.self
        ).0
    }

    private func submit(_ client: BrokerClient, _ challenge: String, _ entry: WorkloadEntry, clientId: String) throws
        -> Receipt
    {
        try Self.submit(client, challenge, entry, clientId: clientId)
    }

    private func leaderboard(_ client: BrokerClient, _ id: String) throws -> Leaderboard {
        try client.call(Service.leaderboard, LeaderboardRequest(challenge: id), as: Leaderboard.self).0
    }

    private static func seconds(_ nanos: UInt64) -> String { String(format: "%.1f", Double(nanos) / 1e9) }
}
