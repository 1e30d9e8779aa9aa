import Foundation
import PumasiShared
import Synchronization
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// A `pumasi-broker` process on a shared PostgreSQL store, at fixed loopback ports so that clients can list it
/// before it is active. Stopped by its pid.
final class StoreBroker {
    let name: String
    let directory: String
    let router: String
    let pub: String
    let store: String
    private(set) var process: CLIProcess?

    init(_ name: String, in dir: TempDirectory, store: String) throws {
        self.name = name
        directory = dir.file(name)
        router = "tcp://127.0.0.1:\(try freePort())"
        pub = "tcp://127.0.0.1:\(try freePort())"
        self.store = store
    }

    deinit { kill9() }

    func start(extra: [String] = []) throws {
        process = try CLIProcess(
            "pumasi-broker",
            [
                "--data-dir", directory, "--store", store, "--router", router, "--pub", pub, "--insecure",
                "--heartbeat-ms", "250", "--lease-margin-ms", "1000", "--log-level", "notice",
            ] + extra)
    }

    var pid: Int32? { process?.process.processIdentifier }

    /// Whether this process wrote its `broker.json`: it is the active broker, serving.
    var isServing: Bool {
        guard let pid, let data = FileManager.default.contents(atPath: directory + "/broker.json"),
            let info = try? JSONDecoder().decode([String: String].self, from: data)
        else { return false }
        return info["pid"] == String(pid)
    }

    var isStandby: Bool { process?.stderr.contains("standby: another broker is active") == true }

    func kill9() {
        guard let process else { return }
        self.process = nil
        kill(process.process.processIdentifier, SIGKILL)
        _ = process.waitForExit(seconds: 10)
    }
}

/// A free TCP port on loopback (free when asked; the test binds it soon after), below the kernel's ephemeral range
/// where there is room: clients knock again and again at a port nobody listens on yet (a standby broker's), and
/// on loopback a connection whose source port, always an ephemeral one, happens to equal its destination port
/// connects to itself (TCP's simultaneous open), which would leave the port taken for the broker that binds it.
/// Up to 100 random tries there, then any port the kernel hands out.
///
/// Never the same port twice in one test process: a port is free again once its check closes, so two calls before
/// either port is bound (a broker's router and another's PUB) could hand out one port for both, and a client meant
/// for one socket would then handshake with the other and fail (seen once in CI as a client's "expects CURVE").
func freePort() throws -> Int {
    let ephemeral =
        (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }.first ?? 32_768
    func unused(_ port: Int) -> Int? {
        handedOutPorts.withLock { $0.insert(port).inserted } ? port : nil
    }
    if ephemeral > 11_000 {
        for _ in 0..<100 {
            let port = Int.random(in: 10_000..<ephemeral)
            if try bindLoopback(port: port) == port, let port = unused(port) { return port }
        }
    }
    var port: Int?
    for _ in 0..<100 where port == nil {
        let bound: Int = try #require(try bindLoopback(port: 0), "no free port: errno \(errno)")
        port = unused(bound)
    }
    return try #require(port, "no free port that was not handed out before")
}

/// Every port `freePort` has handed out in this process.
private let handedOutPorts = Mutex<Set<Int>>([])

/// Binds a TCP socket to `port` on 127.0.0.1 (0: the kernel's choice) and closes it.
/// - Returns: the port bound, or nil if it was taken.
private func bindLoopback(port: Int) throws -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0, "socket: errno \(errno)")
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// A fresh schema of the test server, for a store of its own.
private func freshStore() throws -> String {
    try TestBackend.conninfo(schema: "f_" + UUID().uuidString.prefix(8).lowercased())
}

/// Every acknowledged submission scored exactly once (each waited for through `client`), and the announcement log
/// numbered 1, 2, 3 … with no gap and no number used twice, across however many terms.
private func expectScoredOnceWithoutGaps(
    _ receipts: [Receipt], _ client: BrokerClient, _ db: PostgresConnection,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for receipt in receipts {
        // Retried as a relay retries: the client lists both brokers, and right after the last takeover its connection
        // to the new active one may still be in the making (a single try with its 1 s timeout failed once in CI).
        let info = try settled(client, receipt.submission, seconds: 30, attempts: 5)
        #expect(info.state == .scored, "\(receipt.submission): \(info.state)", sourceLocation: sourceLocation)
    }
    let count = Int64(receipts.count)
    #expect(try db.queryOne("SELECT COUNT(*) FROM submissions")?.int(0) == count, sourceLocation: sourceLocation)
    #expect(
        try db.queryOne("SELECT COUNT(*) FROM outcomes WHERE ok = 1")?.int(0) == count, sourceLocation: sourceLocation)
    #expect(
        try db.query("SELECT submission_id FROM outcomes GROUP BY 1 HAVING COUNT(*) > 1").isEmpty,
        sourceLocation: sourceLocation)
    let seqs = try db.query("SELECT seq FROM events ORDER BY seq").compactMap { $0.int(0) }
    #expect(seqs == Array(1...Int64(seqs.count)), sourceLocation: sourceLocation)
}

/// Two brokers on one store, the first active and the second its standby; an evaluator and a client that list both;
/// and a challenge posted through them. `stop()` ends every process it started, by pid.
private struct BrokerPair {
    let brokers: [StoreBroker]
    let routers: String
    let evaluator: EvaluatorHarness?
    let client: BrokerClient
    let challenge: ChallengeInfo

    init(store: String, in dir: TempDirectory, evaluator withEvaluator: Bool = true) throws {
        let brokers = [try StoreBroker("a", in: dir, store: store), try StoreBroker("b", in: dir, store: store)]
        try brokers[0].start()
        try #require(eventually(seconds: 20) { brokers[0].isServing }, "broker a did not start")
        try brokers[1].start()
        try #require(eventually(seconds: 20) { brokers[1].isStandby }, "broker b is not a standby")
        self.brokers = brokers
        routers = brokers.map(\.router).joined(separator: ",")
        evaluator =
            withEvaluator
            ? try EvaluatorHarness(broker: routers, cache: dir.file("cache")) {
                $0.heartbeatInterval = 250
                $0.reconnectInitial = 100
                $0.reconnectMax = 500
            } : nil
        client = try BrokerClient(endpoint: routers, timeoutSeconds: 1)
        let (spec, files) = sampleSpec()
        do {
            challenge = try client.call(
                Service.post, PostRequest(spec: spec), files: files, as: ChallengeInfo.self, attempts: 5
            ).0
        } catch {
            // What the brokers said, for a post that neither answered.
            for broker in brokers { print("broker \(broker.name):\n\(broker.process?.stderr ?? "")") }
            throw error
        }
    }

    func stop() {
        evaluator?.shutdown()
        for broker in brokers { broker.kill9() }
    }
}

@Suite(
    "Standby brokers on one PostgreSQL store", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: TestBackend.current == .postgresql, "PostgreSQL alone"))
struct FailoverTests {
    /// Two brokers on one store: one is active, the other waits; `kill -9` the active one again and again (starting
    /// it again as the new standby) while solvers submit through a client that lists both. Every acknowledged
    /// submission is scored exactly once, the announcement log has no gap and no number twice, and each takeover is
    /// timed from the kill to the first receipt from the new active broker.
    @Test func killingTheActiveBrokerHandsItsWorkToTheStandby() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try freshStore()
        let pair = try BrokerPair(store: store, in: dir)
        defer { pair.stop() }
        let (brokers, routers, client, challenge) = (pair.brokers, pair.routers, pair.client, pair.challenge)

        // `pumasi-broker status` names the active broker and its standby.
        let status = try CLIProcess("pumasi-broker", ["status", "--store", store]).finish(within: 20)
        #expect(status.termination == .exit(0), "\(status)")
        #expect(status.stdout.contains("term 1") && status.stdout.contains("pid \(brokers[0].pid ?? 0)"), "\(status)")
        #expect(status.stdout.contains("standby  pumasi-broker"), "\(status)")

        let listener = try AnnouncementListener(brokers.map(\.pub).joined(separator: ","))

        // Three solvers submit all along, each through its own client listing both brokers, each submission under a
        // client id of its own and retried under it until a broker acknowledges it.
        let load = SubmissionLoad(routers: routers, challenge: challenge.id, solvers: ["ada", "bob", "cy"])
        var takeovers: [Double] = []
        let kills = 10
        var active = 0
        for round in 0..<kills {
            try #require(
                eventually(seconds: 20) {
                    try listener.drain()
                    return load.acknowledged > 3 * (round + 1)
                }, "round \(round): no load")
            let killedAt = WallClock.monotonicNanos()
            brokers[active].kill9()
            let next = 1 - active
            try #require(
                eventually(seconds: 20) {
                    try listener.drain()
                    return brokers[next].isServing
                }, "round \(round): the standby did not take over")
            // The first receipt once the standby serves is the new broker's: the killed one answers nothing.
            let before = load.acknowledged
            try #require(
                eventually(seconds: 20) {
                    try listener.drain()
                    return load.acknowledged > before
                }, "round \(round): no receipt")
            takeovers.append(Double(WallClock.monotonicNanos() - killedAt) / 1e9)
            try brokers[active].start()
            try #require(
                eventually(seconds: 20) { brokers[active].isStandby },
                "round \(round): the restarted broker is no standby")
            active = next
        }
        let receipts = load.stop()
        #expect(load.unacknowledged == 0, "submissions with no receipt within 20 s: \(load.unacknowledged)")

        // Every acknowledged submission is scored exactly once, by the broker of whichever term saw its result.
        let db = try PostgresConnection(store)
        try expectScoredOnceWithoutGaps(receipts, client, db)
        // Never two brokers publishing at once: what a subscriber of both heard rises strictly (it may miss some
        // during a takeover, which a relay reads back from the log).
        _ = try listener.wait(seconds: 1) { _ in false }
        let heard = listener.received.compactMap(\.seq)
        #expect(heard.count > kills && zip(heard, heard.dropFirst()).allSatisfy { $0 < $1 }, "\(heard)")
        #expect(try db.queryOne("SELECT MAX(term) FROM broker_terms")?.int(0) == Int64(kills + 1))

        // The challenge closes and is awarded by whichever broker is active; the ledger verifies across the terms.
        _ = try client.call(
            Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self, attempts: 5)
        #expect(
            try eventually(seconds: 30) {
                try client.call(
                    Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self, attempts: 5
                ).0.state == .awarded
            })
        let verified = try CLIProcess("pumasi-broker", ["ledger", "verify", "--store", store]).finish(within: 30)
        #expect(verified.termination == .exit(0) && verified.stdout.hasPrefix("ledger intact: 1 entry"), "\(verified)")

        let sorted = takeovers.sorted()
        print(
            "FailoverTests: \(kills) kills, \(receipts.count) acknowledged submissions (\(load.retries) retried, "
                + "the longest wait for a receipt \(String(format: "%.2f", load.longestWait)) s); kill to first receipt from "
                + "the new broker: p50 \(String(format: "%.2f", sorted[sorted.count / 2])) s, "
                + "max \(String(format: "%.2f", sorted.last ?? 0)) s")
    }
}

extension FailoverTests {
    /// The active broker's session is ended by the server (a failed commit, as when PostgreSQL restarts or the link
    /// drops): the broker stops with an error, having acknowledged nothing it could not commit, and the standby
    /// takes over with everything acknowledged before.
    @Test func aBrokerThatLosesItsSessionStepsDownAndTheStandbyTakesOver() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try freshStore()
        let pair = try BrokerPair(store: store, in: dir, evaluator: false)
        defer { pair.stop() }
        let (brokers, client, challenge) = (pair.brokers, pair.client, pair.challenge)
        let before = try submit(client, challenge.id, "ada", "42", clientId: "before")

        let admin = try PostgresConnection(store)
        let ended = try admin.queryOne(
            "SELECT pg_terminate_backend(backend_pid::INTEGER) FROM broker_terms WHERE term = 1")
        #expect(ended?.int(0) == 1)
        let exited = try #require(brokers[0].process?.waitForExit(seconds: 20), "broker a did not stop")
        #expect(exited.termination == .exit(1), "\(exited)")
        #expect(exited.stderr.contains("store transaction failed; stopping"), "\(exited.stderr)")
        #expect(eventually(seconds: 20) { brokers[1].isServing }, "broker b did not take over")

        let after = try client.call(
            Service.submit,
            SubmitRequest(challenge: challenge.id, solver: "bob", filename: "answer.txt", clientId: "after"),
            files: [Data("42".utf8)], as: Receipt.self, attempts: 10
        ).0
        #expect(try status(client, before.submission).submission == before.submission)
        #expect(try status(client, after.submission).challenge == challenge.id)
        #expect(try admin.queryOne("SELECT COUNT(*) FROM submissions")?.int(0) == 2)
        #expect(try admin.queryOne("SELECT MAX(term) FROM broker_terms")?.int(0) == 2)
    }
}

extension FailoverTests {
    /// PostgreSQL itself restarts under load: every broker session ends, the active broker stops (as it must, having
    /// lost the lock), the standby waits with back-off, and brokers restarted as systemd would restart them elect one
    /// again. Every acknowledged submission is scored exactly once, and the log has no gap.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PUMASI_TEST_PGBIN"] != nil, "a PostgreSQL of its own"))
    func aPostgreSQLRestartUnderLoadLosesNothing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let cluster = try PrivateCluster(in: dir)
        defer { cluster.stop() }
        let pair = try BrokerPair(store: cluster.conninfo, in: dir)
        defer { pair.stop() }
        let (brokers, routers, client, challenge) = (pair.brokers, pair.routers, pair.client, pair.challenge)
        let load = SubmissionLoad(routers: routers, challenge: challenge.id, solvers: ["ada", "bob"])
        try #require(eventually(seconds: 20) { load.acknowledged >= 10 })

        try cluster.restart()
        let restartedAt = load.acknowledged
        var restarts = 0
        // As systemd's Restart=on-failure does: a broker that exited is started again (as a standby, or as the
        // active one if the lock is free).
        let resumed = try eventually(seconds: 60) {
            for broker in brokers where broker.process?.process.isRunning == false {
                restarts += 1
                try broker.start()
            }
            return load.acknowledged >= restartedAt + 10 && brokers.contains { $0.isServing }
        }
        #expect(resumed, "no broker served again after PostgreSQL restarted")
        #expect(restarts >= 1, "the active broker did not stop when its session ended")
        let receipts = load.stop()
        #expect(load.unacknowledged == 0, "submissions with no receipt within 20 s: \(load.unacknowledged)")

        let db = try PostgresConnection(cluster.conninfo)
        try expectScoredOnceWithoutGaps(receipts, client, db)
        #expect(try db.queryOne("SELECT MAX(term) FROM broker_terms")?.int(0) ?? 0 >= 2)
        print(
            "FailoverTests: PostgreSQL restarted under load; \(receipts.count) acknowledged, \(restarts) broker restarts"
        )
    }
}

extension FailoverTests {
    /// An evaluator sees its broker's connection drop at once (a socket monitor), not after the heartbeats it misses:
    /// with heartbeats 10 s apart, it scores for the new active broker within seconds of the old one's death, where
    /// without the monitor only its next heartbeat (answered by the new broker with DISCONNECT) would bring it over.
    @Test func anEvaluatorFollowsTheNewBrokerWithoutWaitingForItsHeartbeats() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try freshStore()
        let pair = try BrokerPair(store: store, in: dir, evaluator: false)
        defer { pair.stop() }
        let evaluator = try EvaluatorHarness(broker: pair.routers, cache: dir.file("slow-cache")) {
            $0.heartbeatInterval = 10_000
            $0.reconnectInitial = 100
        }
        defer { evaluator.shutdown() }
        let first = try submit(pair.client, pair.challenge.id, "ada", "42", clientId: "first")
        #expect(try settled(pair.client, first.submission, seconds: 15).state == .scored)
        pair.brokers[0].kill9()
        #expect(eventually(seconds: 20) { pair.brokers[1].isServing })
        let second = try pair.client.call(
            Service.submit,
            SubmitRequest(challenge: pair.challenge.id, solver: "bob", filename: "answer.txt", clientId: "second"),
            files: [Data("42".utf8)], as: Receipt.self, attempts: 10
        ).0
        // Well inside the 10 s until its next heartbeat, which is what would tell it otherwise.
        #expect(try settled(pair.client, second.submission, seconds: 6).state == .scored)
    }
}

extension FailoverTests {
    /// A holder of the brokers' lock whose session stays still (a broker stopped or stuck while its host still
    /// answers keepalives, which no server timeout ends) is ended by a standby after `--takeover-after-ms`, and the
    /// standby takes over.
    @Test func aStandbyEndsAStillActiveSessionAndTakesOver() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try freshStore()
        // The hung broker: a session that took the lock and then does nothing, with no idle timeout of its own.
        let hung = try Store(location: .postgresql(store), applicationName: "pumasi-broker hung pid 1")
        #expect(try hung.tryToLead())
        let standby = try StoreBroker("b", in: dir, store: store)
        try standby.start(extra: ["--takeover-after-ms", "2000"])
        #expect(eventually(seconds: 30) { standby.isServing }, "\(standby.process?.stderr ?? "")")
        #expect(standby.process?.stderr.contains("the active broker's session was still too long; ended it") == true)
        #expect(throws: DatabaseError.self) { try hung.brokerStatus() }
        standby.kill9()
    }
}

/// Solvers submitting from threads of their own until stopped, each submission under a new client id, retried under
/// it (a second or more between tries) until some broker acknowledges it. Bounded: 300 submissions a solver.
private final class SubmissionLoad: @unchecked Sendable {
    // @unchecked Sendable: `receipts`, `retries` and `stopping` are touched only under `lock`.
    private let lock = NSLock()
    private var receipts: [Receipt] = []
    private var tries = 0
    private var stopping = false
    /// Submissions given no receipt within 20 s (each ends its solver), and the longest wait for one, in seconds.
    private var givenUp = 0
    private var longest = 0.0
    private let done = DispatchGroup()

    init(routers: String, challenge: String, solvers: [String]) {
        for solver in solvers {
            done.enter()
            Thread { [self] in
                defer { done.leave() }
                guard let client = try? BrokerClient(endpoint: routers, timeoutSeconds: 1) else { return }
                for n in 0..<300 {
                    if lock.withLock({ stopping }) { return }
                    let request = SubmitRequest(
                        challenge: challenge, solver: solver, filename: "answer.txt", clientId: "\(solver)-\(n)")
                    // Retried for up to 20 s, by time: a refused or dropped connection fails at once, so a count
                    // of tries alone could run out during a takeover. A submission begun is carried through to its
                    // receipt, stopping or not: the broker may have stored it already, and the test counts what the
                    // store holds against the receipts. One client all along, as a relay keeps one: a client that
                    // stops reaching the active broker (its context's I/O thread held by a monitor event nobody
                    // could read, before `ZMQMonitor` ended its watching first) gives up here and is counted.
                    let began = WallClock.monotonicNanos()
                    var acknowledged = false
                    while !acknowledged, WallClock.monotonicNanos() - began < 20_000_000_000 {
                        lock.withLock { tries += 1 }
                        if let receipt = try? client.call(
                            Service.submit, request, files: [Data((n % 2 == 0 ? "42" : "41").utf8)], as: Receipt.self
                        ).0 {
                            lock.withLock {
                                receipts.append(receipt)
                                longest = max(longest, Double(WallClock.monotonicNanos() - began) / 1e9)
                            }
                            acknowledged = true
                        } else {
                            usleep(100_000)
                        }
                    }
                    if !acknowledged {
                        lock.withLock { givenUp += 1 }
                        return
                    }
                    usleep(2_000)
                }
            }.start()
        }
    }

    var acknowledged: Int { lock.withLock { receipts.count } }
    var retries: Int { lock.withLock { tries - receipts.count } }
    var unacknowledged: Int { lock.withLock { givenUp } }
    var longestWait: Double { lock.withLock { longest } }

    /// Stops the solvers and returns every receipt they were given.
    func stop() -> [Receipt] {
        lock.withLock { stopping = true }
        done.wait()
        return lock.withLock { receipts }
    }
}

@Suite("Evaluators that reconnect", .timeLimit(.minutes(1)))
struct ReconnectTests {
    /// An evaluator whose broker is silent gives up its connection before it backs off. A broker that comes back
    /// during the back-off must not receive a READY from the abandoned connection (whose connect was still pending)
    /// as well as from the new one: it would register a connection nobody reads and lease it jobs.
    @Test func anEvaluatorClosesItsAbandonedConnectionBeforeItsBackOff() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let evaluator = try EvaluatorHarness(broker: endpoint, cache: dir.file("cache")) {
            $0.heartbeatInterval = 100
            $0.heartbeatLiveness = 2
            $0.reconnectInitial = 2_000
        }
        defer { evaluator.shutdown() }
        // Well past its liveness (0.2 s) and into its first back-off (2 s), the broker comes back.
        usleep(800_000)
        let router = try ZMQSocket(ZMQContext(), .router)
        try router.bind(endpoint)
        let boundAt = WallClock.monotonicNanos()
        var poller = ZMQPoller([router])
        var readyAt: UInt64?
        while readyAt == nil, WallClock.monotonicNanos() < boundAt + 5_000_000_000 {
            guard try poller.poll(timeoutMilliseconds: 50)[0] else { continue }
            while let message = try router.receive(dontWait: true) {
                let frames = message.frames
                if frames.count >= 4, frames[2] == MDP.workerHeader,
                    frames[3] == Data([MDP.WorkerCommand.ready.rawValue])
                {
                    readyAt = WallClock.monotonicNanos()
                }
            }
        }
        let elapsed = Double((try #require(readyAt, "no READY within 5 s")) - boundAt) / 1e9
        // An abandoned connection left open would have connected within libzmq's reconnect interval (0.1 s) and
        // sent its READY; the new one comes when the back-off ends, 1.4 s or more after the broker came back.
        #expect(elapsed > 1.0, "READY \(elapsed) s after the broker came back, during the evaluator's back-off")
    }
}
