import Foundation
import PumasiBroker
import PumasiShared
import PumasiWorker

/// One run of the crowd scenario: the broker process, the keys, the simulated clients, and the phases in order
/// (connect, memory, fan-out, surge, flood, restart, nothing lost). Each phase prints its RESULT line.
final class CrowdRun {
    let config: CrowdConfig
    let broker: CrowdBroker
    let keys: CrowdKeys
    private(set) var fleet: CrowdFleet!
    /// Submissions acknowledged with a receipt, by challenge: checked against the store at the end.
    var acknowledged: [String: Set<String>] = [:]
    var idleMemory = (rss: 0, peak: 0)
    /// Other processes simulating relays, when this one's open files cannot hold them all.
    private(set) var shards: [CrowdShard] = []
    private let directory: String
    private let fileLimit: Int

    init(config: CrowdConfig, directory: String) throws {
        self.config = config
        self.directory = directory
        let files = Crowd.raiseFileLimit(wanted: 4 * config.clients + 4_096)
        fileLimit = files
        Crowd.line(
            "CROWD open_files_limit=\(files) clients=\(config.clients) "
                + "somaxconn=\(Broker.listenQueue.map { "\($0.somaxconn)" } ?? "unknown")")
        // Relays that do not fit go to other processes; the rest, and the broker's connections, must fit here.
        if files < 2 * (config.clients - config.relays) + 1_024 || files < config.clients + 1_024 {
            throw CrowdError.failed(
                "the open-file limit is \(files); \(config.clients) clients need about \(2 * config.clients) here "
                    + "and \(config.clients) in the broker: raise it (ulimit -n, or LimitNOFILE in systemd)")
        }
        broker = try CrowdBroker(
            directory: directory, heartbeatMs: config.heartbeatMs, ioThreads: config.brokerIOThreads)
        let started = WallClock.monotonicNanos()
        keys = try CrowdKeys(directory: directory, config: config)
        Crowd.result(
            "keys", ["registered": keys.registered, "seconds": Double(WallClock.monotonicNanos() - started) / 1e9])
    }

    func all() throws {
        let startSeconds = try broker.start()
        usleep(500_000)
        idleMemory = broker.memory()
        Crowd.result("start", ["broker_ready_s": startSeconds, "rss_idle_kb": idleMemory.rss])
        try connect()
        try fanOut()
        let calm = try surge(name: "surge", flooder: nil)
        if config.flood { try surge(name: "flood", flooder: fleet.solvers[0], calm: calm) }
        if config.pollerCount > 0 { try surge(name: "poll", flooder: nil, calm: calm, pollers: config.pollerCount) }
        if config.restart { try restart() }
        try verify()
        let memory = broker.memory()
        Crowd.result("end", ["rss_kb": memory.rss, "hwm_kb": memory.peak, "broker_cpu_s": broker.cpuSeconds()])
    }

    /// Connects every client, a batch at a time (the broker's listen queue is `net.core.somaxconn` at most), and waits
    /// until each is served: a relay has an announcement, an evaluator a heartbeat after its READY, a solver a
    /// reply. Then the broker's memory with them all, against its memory idle.
    private func connect() throws {
        fleet = try CrowdFleet(config: config)
        let cpu = (harness: harnessCPU(), broker: broker.cpuSeconds())
        let overflows = Crowd.listenOverflows()
        let started = WallClock.monotonicNanos()
        try fleet.add(.seeker, curve: keys.client(keys.seeker), endpoint: broker.router)
        var plan: [(CrowdFleet.Role, CurveKeyPair)] = keys.evaluators.map { (.evaluator, $0) }
        // As many relays here as the open files allow (two each), the others in shards of up to 8,000.
        let local = min(
            keys.relays.count, config.localRelays ?? Int.max,
            max(0, (fileLimit - 2 * (config.evaluators + config.solvers + 1) - 1_024) / 2))
        plan += keys.relays[..<local].map { (.relay, $0) }
        var remote = keys.relays[local...]
        while !remote.isEmpty {
            let slice = Array(remote.prefix(8_000))
            remote = remote.dropFirst(slice.count)
            let shard = try CrowdShard(
                keys: slice, server: keys.server.publicKey, pub: broker.pub, config: config, directory: directory,
                number: shards.count)
            shards.append(shard)
            try fleet.addRemoteRelays(count: slice.count, reportingOn: shard.reportFD)
        }
        plan += keys.solvers.map { (.solver, $0) }
        var next = 0
        // Bounded: every pass adds up to 200 clients, and `pump` returns within its 20 ms.
        while next < plan.count {
            for (role, pair) in plan[next..<min(plan.count, next + 200)] {
                try fleet.add(
                    role, curve: keys.client(pair), endpoint: role == .relay ? broker.pub : broker.router,
                    topic: config.topic)
                if role == .solver { try fleet.probe(fleet.sockets.count - 1) }
            }
            next += 200
            try fleet.pump(seconds: 0.02, until: { false })
        }
        let connected = Double(WallClock.monotonicNanos() - started) / 1e9
        // Relays: a challenge posted each second until every relay has had one (a subscription takes a moment to
        // reach the broker after the connection).
        let deadline = Double(30 + config.clients / 500)
        let relaysReady = try announceUntilAllHeard(since: started, seconds: deadline)
        let evaluatorsReady = try fleet.pump(
            seconds: deadline, until: { self.fleet.evaluators.allSatisfy { self.fleet.servedAt[$0] != 0 } })
        let solversReady = try fleet.pump(
            seconds: deadline, until: { self.fleet.solvers.allSatisfy { self.fleet.servedAt[$0] != 0 } })
        let served = Double(WallClock.monotonicNanos() - started) / 1e9
        Crowd.result(
            "connect",
            [
                "relays": config.relays, "relays_in_shards": fleet.remoteOpened.count, "shards": shards.count,
                "evaluators": config.evaluators, "solvers": config.solvers,
                "connect_s": connected, "all_served_s": served,
                "relays_served": fleet.relayOpenedTimes.filter { $0 != 0 }.count,
                "evaluators_served": fleet.evaluators.filter { fleet.servedAt[$0] != 0 }.count,
                "solvers_served": fleet.solvers.filter { fleet.servedAt[$0] != 0 }.count,
                "harness_cpu_s": harnessCPU() - cpu.harness, "broker_cpu_s": broker.cpuSeconds() - cpu.broker,
                "listen_overflows": Crowd.listenOverflows() - overflows,
            ])
        guard relaysReady && evaluatorsReady && solversReady else {
            throw CrowdError.failed("not every client was served within \(deadline) s: \(broker.logTail())")
        }
        try fleet.pump(seconds: 1, until: { false })
        let memory = broker.memory()
        let connections = config.clients
        Crowd.result(
            "memory",
            [
                "connections": connections, "rss_idle_kb": idleMemory.rss, "rss_connected_kb": memory.rss,
                "per_connection_kb": Double(memory.rss - idleMemory.rss) / Double(max(1, connections)),
                "hwm_kb": memory.peak,
            ])
    }

    /// CPU seconds this process and its shards have used so far.
    func harnessCPU() -> Double {
        CPUTime.ticks("/proc/self/stat")
            + shards.map { CPUTime.ticks("/proc/\($0.process.processIdentifier)/stat") }.reduce(0, +)
    }

    func stopShards() {
        shards.forEach { $0.stop() }
        shards.removeAll()
    }

    /// Posts a challenge each second (at most) until every relay has received a `challenge.opened` after `since`.
    /// - Returns: whether they all did within `seconds`.
    func announceUntilAllHeard(since: UInt64, seconds: Double) throws -> Bool {
        let limit = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        // Bounded by `limit`.
        while WallClock.monotonicNanos() < limit {
            _ = try post(deadline: WallClock.now() + 86_400_000, wait: 10)
            let all = try fleet.pump(
                seconds: 1, until: { self.fleet.allRelaysOpened(since: since) })
            if all { return true }
        }
        return false
    }

    /// Posts a challenge scored by the built-in `exact` scorer, as the seeker, and waits up to `wait` seconds for
    /// its id. - Returns: the id, and when the post went out (monotonic nanoseconds).
    func post(deadline: Millis, wait: Double) throws -> (id: String, sentAt: UInt64) {
        let spec = ChallengeSpec(
            title: "Crowd", description: "crowd", deadline: deadline, award: AwardSpec(amount: 1, currency: "USD"),
            scorer: ScorerSpec(builtin: "exact"), timeLimitSeconds: 10,
            files: [FileEntry(name: "answer.txt", role: .reference)])
        fleet.clearPosts()
        let sentAt = WallClock.monotonicNanos()
        try fleet.request(
            fleet.seeker, .post,
            MDP.clientRequest(service: Service.post, body: [Wire.encode(PostRequest(spec: spec)), Data("42".utf8)]))
        guard try fleet.pump(seconds: wait, until: { !self.fleet.posts.isEmpty }), let posted = fleet.posts.first
        else { throw CrowdError.failed("no reply to a post within \(wait) s") }
        return (try posted.get(), sentAt)
    }

    /// Announcement fan-out: `announcements` posts one at a time; for each, the time from sending the post until
    /// each relay has its `challenge.opened`.
    private func fanOut() throws {
        var latencies: [Double] = []
        var lasts: [Double] = []
        var posts: [Double] = []
        var missed = 0
        let cpu = (harness: harnessCPU(), broker: broker.cpuSeconds())
        for _ in 0..<config.announcements {
            let before = WallClock.monotonicNanos()
            let (_, sentAt) = try post(deadline: WallClock.now() + 86_400_000, wait: 10)
            posts.append(Crowd.milliseconds(sentAt, WallClock.monotonicNanos()))
            try fleet.pump(seconds: 10, until: { self.fleet.allRelaysOpened(since: before) })
            var last = 0.0
            for opened in fleet.relayOpenedTimes {
                guard opened >= before else {
                    missed += 1
                    continue
                }
                let latency = Crowd.milliseconds(sentAt, opened)
                latencies.append(latency)
                last = max(last, latency)
            }
            lasts.append(last)
            try fleet.pump(seconds: 0.2, until: { false })
        }
        latencies.sort()
        Crowd.result(
            "fanout",
            [
                "subscribers": config.relays, "announcements": config.announcements,
                "p50_ms": Crowd.quantile(latencies, 0.5), "p99_ms": Crowd.quantile(latencies, 0.99),
                "max_ms": latencies.last ?? 0, "last_subscriber_p50_ms": Crowd.quantile(lasts.sorted(), 0.5),
                "post_reply_p50_ms": Crowd.quantile(posts.sorted(), 0.5), "missed": missed,
                "harness_cpu_s": harnessCPU() - cpu.harness,
                "broker_cpu_s": broker.cpuSeconds() - cpu.broker,
            ])
    }

    /// After every phase: the acknowledged submissions are all in the store, as the seeker's report of each surge
    /// challenge lists them (read from the broker after its restart, when there was one).
    private func verify() throws {
        let client = try BrokerClient(endpoint: broker.router, timeoutSeconds: 120, curve: keys.client(keys.seeker))
        var acknowledgedCount = 0
        var found = 0
        for (challenge, ids) in acknowledged {
            let report = try client.report(ReportRequest(challenge: challenge))
            let stored = Set(report.submissions.map(\.submission))
            acknowledgedCount += ids.count
            found += ids.intersection(stored).count
        }
        Crowd.result(
            "lost", ["acknowledged": acknowledgedCount, "found": found, "lost": acknowledgedCount - found])
    }
}
