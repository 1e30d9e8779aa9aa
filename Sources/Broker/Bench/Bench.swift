import Foundation
import PumasiBroker
import PumasiShared
import PumasiWorker

/// `pumasi-bench`: drives submissions through a real broker (its own thread, SQLite in a temp directory) and
/// two real evaluators (built-in `exact` scorer) over loopback TCP, and prints one RESULT line per scenario.
/// Latency is from sending the submission to receiving its `submission.scored` announcement.
@main
struct Bench {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "crowd" { exit(Crowd.main(arguments.dropFirst())) }
        if arguments.first == "crowd-relays" { exit(CrowdShard.main(Array(arguments.dropFirst()))) }
        if arguments.first == "big-store" {
            // `pumasi-bench big-store [submissions] [pending] [challenges]`: a broker starting on a long-lived store.
            var options = BigStore.Options()
            if let value = arguments.dropFirst().first.flatMap(Int.init) { options.submissions = value }
            if let value = arguments.dropFirst(2).first.flatMap(Int.init) { options.pending = value }
            if let value = arguments.dropFirst(3).first.flatMap(Int.init) { options.challenges = max(1, value) }
            return try BigStore.run(
                options, directory: NSTemporaryDirectory() + "pumasi-big-store-\(UUID().uuidString)")
        }
        let jobs = arguments.first.flatMap(Int.init) ?? 20_000
        let serialJobs = arguments.dropFirst().first.flatMap(Int.init) ?? 2_000
        let slots = arguments.dropFirst(2).first.flatMap(Int.init) ?? 4
        // Which configurations to run (comma-separated): full, normal, curve (the default set), floor, chain, and on
        // PostgreSQL pg, pg-sync-off and pg-floor.
        let chosen = Set((arguments.dropFirst(3).first ?? "full,normal,curve").split(separator: ",").map(String.init))
        let directory = NSTemporaryDirectory() + "pumasi-bench-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: directory + "-sync-normal")
        }

        let window = arguments.dropFirst(4).first.flatMap(Int.init) ?? 200
        // full-ids: as full, each submission with its own client id as `pumasi submit` sends (an idempotency lookup).
        let configurations = [
            ("full", true, false, false), ("normal", false, false, false), ("curve", true, true, false),
            ("full-ids", true, false, true),
        ]
        // PostgreSQL: the server that PUMASI_BENCH_POSTGRES names (a libpq URI), a fresh schema for each run.
        let postgres = ProcessInfo.processInfo.environment["PUMASI_BENCH_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
        if chosen.contains(where: { $0.hasPrefix("pg") }), postgres == nil {
            FileHandle.standardError.write(Data("pg configurations need PUMASI_BENCH_POSTGRES=postgresql://…\n".utf8))
            exit(64)
        }
        let placement: Placement?
        do {
            placement = try Placement.fromEnvironment()
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(64)
        }
        let schemas = BenchSchemas(server: postgres ?? "")
        defer { schemas.dropAll() }
        if chosen.contains("chain") {
            // The serial path's hops alone, with nothing done at any of them.
            let latencies = try Chain.run(jobs: max(serialJobs, 1))
            report("chain-floor", Driver.Run(seconds: latencies.reduce(0, +) / 1e3, latencies: latencies, cpu: (0, 0)))
            // The pipelined path's: its relay's CPU per job is what the broker's loop cannot do without.
            report("chain-floor-pipelined", try Chain.pipelined(jobs: jobs, window: window, connections: slots))
        }
        if chosen.contains("floor") {
            // The store alone: the three rows of a scored job, 100 jobs to a transaction (as in a busy pass), then
            // one job at a time in two transactions (as a lone job takes).
            for synchronousFull in [true, false] {
                let floor = directory + "-floor"
                defer { try? FileManager.default.removeItem(atPath: floor) }
                let suffix = synchronousFull ? "" : "-sync-normal"
                let (seconds, _) = try statements("store-floor" + suffix, jobs: jobs) {
                    try Store.measureFloor(
                        directory: floor, jobs: jobs, perCommit: 100, synchronousFull: synchronousFull)
                }
                print(
                    String(
                        format: "RESULT name=store-floor%@ jobs=%d seconds=%.3f jobs_per_s=%.0f us_per_job=%.1f",
                        suffix, jobs, seconds, Double(jobs) / seconds, seconds * 1e6 / Double(max(1, jobs))))
                let serial = try steps("store-floor-serial" + suffix) {
                    try Store.measureFloor(
                        directory: floor + "-serial", jobs: serialJobs, perCommit: 0, synchronousFull: synchronousFull)
                }
                try? FileManager.default.removeItem(atPath: floor + "-serial")
                report(
                    "store-floor-serial" + suffix,
                    Driver.Run(seconds: serial.seconds, latencies: serial.latencies, cpu: (0, 0)))
            }
        }
        if chosen.contains("pg-floor") {
            // The same store floor on PostgreSQL, `synchronous_commit` on (the server's default) and off.
            for synchronousFull in [true, false] {
                let suffix = synchronousFull ? "" : "-sync-off"
                let (seconds, _) = try Store.measureFloor(
                    location: .postgresql(try schemas.make()), jobs: jobs, perCommit: 100,
                    synchronousFull: synchronousFull)
                print(
                    String(
                        format: "RESULT name=pg-store-floor%@ jobs=%d seconds=%.3f jobs_per_s=%.0f us_per_job=%.1f",
                        suffix, jobs, seconds, Double(jobs) / seconds, seconds * 1e6 / Double(max(1, jobs))))
                let serial = try Store.measureFloor(
                    location: .postgresql(try schemas.make()), jobs: serialJobs, perCommit: 0,
                    synchronousFull: synchronousFull)
                report(
                    "pg-store-floor-serial" + suffix,
                    Driver.Run(seconds: serial.seconds, latencies: serial.latencies, cpu: (0, 0)))
            }
        }
        for (name, synchronousFull) in [("pg", true), ("pg-sync-off", false)] where chosen.contains(name) {
            let harness = try Harness(
                directory: directory + "-" + name, slots: slots, synchronousFull: synchronousFull, curve: false,
                postgresql: try schemas.make())
            defer {
                harness.stop()
                try? FileManager.default.removeItem(atPath: directory + "-" + name)
            }
            let driver = try Driver(router: harness.router, pub: harness.pub, keys: harness.keys)
            try driver.warmUp()
            // The server's CPU per job too: with both on this machine, they share its cores.
            for (scenario, count, inFlight) in [("pipelined-", jobs, window), ("serial-", serialJobs, 1)] {
                let before = schemas.serverCPU()
                try report(
                    scenario + name,
                    steps(scenario + name, when: inFlight == 1) { try driver.run(jobs: count, window: inFlight) })
                if let before, let after = schemas.serverCPU() {
                    print(
                        String(
                            format: "SERVER name=%@ postgres_cpu_us_per_job=%.1f", scenario + name,
                            (after - before) * 1e6 / Double(max(1, count))))
                }
            }
        }
        for (name, synchronousFull, curve, clientIds) in configurations where chosen.contains(name) {
            let suffix = (synchronousFull ? "" : "-sync-normal") + (curve ? "-curve" : "") + (clientIds ? "-ids" : "")
            defer { try? FileManager.default.removeItem(atPath: directory + suffix) }
            let run = {
                let harness = try Harness(
                    directory: directory + suffix, slots: slots, synchronousFull: synchronousFull, curve: curve,
                    brokerCPU: placement?.brokerCPU)
                defer { harness.stop() }
                if placement != nil {
                    let list = { (cpus: [Int]) in cpus.map(String.init).joined(separator: ",") }
                    print(
                        "PLACE name=\(name) broker_thread_cpus=\(list(harness.brokerThreadCPUs)) "
                            + "driver_cpus=\(list(Placement.cpus()))")
                }
                let driver = try Driver(
                    router: harness.router, pub: harness.pub, keys: harness.keys, clientIds: clientIds)
                try driver.warmUp()
                try report(
                    "pipelined" + suffix,
                    statements("pipelined" + suffix, jobs: jobs) { try driver.run(jobs: jobs, window: window) })
                try report("serial" + suffix, steps("serial" + suffix) { try driver.run(jobs: serialJobs, window: 1) })
            }
            if let placement { try placement.withOthers(run) } else { try run() }
        }
    }

    /// With `PUMASI_BENCH_STEPS` set, runs `body` (a serial run: one job at a time) with `StepTrace` on, and prints for
    /// each step of a job's path the median time from its start and from the step before it in the same job
    /// (`STEP name=… step=… p50_us=… since_last_us=… jobs=…`).
    static func steps<T>(_ name: String, when wanted: Bool = true, _ body: () throws -> T) rethrows -> T {
        guard wanted, ProcessInfo.processInfo.environment["PUMASI_BENCH_STEPS"] != nil else { return try body() }
        let (value, marks) = try recording(StepTrace.start, StepTrace.stop, body)
        for line in StepTrace.summary(marks) {
            print(
                String(
                    format: "STEP name=%@ step=%@ p50_us=%.1f since_last_us=%.1f jobs=%d", name, line.label,
                    line.p50Micros, line.sinceLastMicros, line.jobs))
        }
        return value
    }

    /// With `PUMASI_BENCH_SQL` set, runs `body` (`jobs` jobs) with `SQLTrace` on, and prints each SQLite statement it
    /// ran, the longest total time first: how often per job, and its time per job
    /// (`SQL name=… count=… per_job=… us_per_job=… | statement`).
    static func statements<T>(_ name: String, jobs: Int, _ body: () throws -> T) rethrows -> T {
        guard ProcessInfo.processInfo.environment["PUMASI_BENCH_SQL"] != nil else { return try body() }
        let (value, recorded) = try recording(SQLTrace.start, SQLTrace.stop, body)
        let perJob = 1 / Double(max(1, jobs))
        for statement in recorded {
            let text = statement.text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            print(
                String(
                    format: "SQL name=%@ count=%d per_job=%.2f us_per_job=%.2f | %@", name, statement.count,
                    Double(statement.count) * perJob, Double(statement.nanos) / 1e3 * perJob, String(text.prefix(100))))
        }
        return value
    }

    /// Runs `body` between `start` and `stop`: its value and what was recorded, or its error (and the recording dropped).
    private static func recording<T, Recorded>(
        _ start: () -> Void, _ stop: () -> Recorded, _ body: () throws -> T
    ) rethrows -> (T, Recorded) {
        start()
        let value: T
        do {
            value = try body()
        } catch {
            _ = stop()
            throw error
        }
        return (value, stop())
    }

    static func report(_ name: String, _ result: Driver.Run) {
        let sorted = result.latencies.sorted()
        if ProcessInfo.processInfo.environment["PUMASI_BENCH_TAIL"] != nil, !sorted.isEmpty {
            let marks = [0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999]
            let text = marks.map {
                String(format: "p%g=%.3f", $0 * 100, sorted[min(sorted.count - 1, Int(Double(sorted.count) * $0))])
            }
            print("TAIL name=\(name) " + text.joined(separator: " ") + String(format: " max=%.3f", sorted.last ?? 0))
        }
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        print(
            String(
                format:
                    "RESULT name=%@ jobs=%d seconds=%.3f jobs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f cpu_us_per_job=%.1f broker_us_per_job=%.1f",
                name, sorted.count, result.seconds, Double(sorted.count) / result.seconds, percentile(0.50),
                percentile(0.99), result.cpu.process * 1e6 / Double(max(1, sorted.count)),
                result.cpu.broker * 1e6 / Double(max(1, sorted.count))))
    }
}

/// The broker and two evaluators, in this process.
final class Harness {
    let router: String
    let pub: String
    private let stopBroker: ZMQStopSignal
    private let brokerDone = DispatchSemaphore(value: 0)
    private let evaluators: [Evaluator]
    private let evaluatorsDone = DispatchGroup()

    /// With CURVE: the broker's public key and a registered key per role.
    let keys: BenchKeys?

    /// The CPUs the broker's loop thread may run on, read back once it has started.
    let brokerThreadCPUs: [Int]

    /// `brokerCPU`: the broker's loop thread alone on that CPU (`Placement`), once the broker has started its other
    /// threads.
    init(
        directory: String, slots: Int, synchronousFull: Bool, curve: Bool, postgresql: String? = nil,
        brokerCPU: Int? = nil
    ) throws {
        keys = curve ? try BenchKeys(directory: directory) : nil
        var config = BrokerConfig(dataDirectory: directory)
        config.postgresql = postgresql
        config.routerEndpoint = "tcp://127.0.0.1:*"
        config.publishEndpoint = "tcp://127.0.0.1:*"
        config.synchronousFull = synchronousFull
        config.curve = curve
        // The throughput runs send as fast as one principal can: per-principal admission would measure itself.
        config.admitRate = 0
        let environment = ProcessInfo.processInfo.environment
        if let limit = environment["PUMASI_BENCH_PASS"].flatMap(Int.init) { config.batchLimit = limit }
        if let jobs = environment["PUMASI_BENCH_JOB_BATCH"].flatMap(Int.init) { config.jobBatch = jobs }
        let ready = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var endpoints: (String, String, ZMQStopSignal)?
        nonisolated(unsafe) var failure: (any Error)?
        nonisolated(unsafe) var placed: [Int] = []
        let frozen = config
        let done = brokerDone
        Thread {
            nameCurrentThread("broker")
            do {
                let broker = try Broker(config: frozen, logger: Logger(label: "bench-broker", level: .warning))
                if let brokerCPU { try Placement.pin([brokerCPU]) }
                placed = Placement.cpus()
                endpoints = (broker.routerEndpoint, broker.publishEndpoint, broker.stopSignal)
                ready.signal()
                try broker.run()
            } catch {
                failure = error
                ready.signal()
            }
            done.signal()
        }.start()
        ready.wait()
        if let failure { throw failure }
        guard let (router, pub, stop) = endpoints else { throw CocoaError(.featureUnsupported) }
        brokerThreadCPUs = placed
        self.router = router
        self.pub = pub
        stopBroker = stop
        let evaluatorCurve = keys?.client(keys?.evaluator)
        evaluators = try (1...2).map { n in
            var config = EvaluatorConfig(brokerEndpoint: router, cacheDirectory: directory + "/cache-\(n)")
            config.curve = evaluatorCurve
            config.slots = slots
            return try Evaluator(config: config, logger: Logger(label: "bench-evaluator", level: .warning))
        }
        for evaluator in evaluators {
            let started = DispatchSemaphore(value: 0)
            evaluatorsDone.enter()
            let group = evaluatorsDone
            Thread {
                evaluator.run(onReady: { started.signal() })
                group.leave()
            }.start()
            started.wait()
        }
    }

    func stop() {
        evaluators.forEach { $0.stop() }
        evaluatorsDone.wait()
        stopBroker.fire()
        brokerDone.wait()
    }
}

/// One pipelining client and one announcement subscriber.
final class Driver {
    private let client: ZMQSocket
    private let subscriber: ZMQSocket
    private var challenge = ""

    private let router: String
    private let keys: BenchKeys?

    /// Whether each submission carries a client id of its own, as `pumasi submit` sends.
    private let clientIds: Bool
    private var submitted = 0

    init(router: String, pub: String, keys: BenchKeys?, clientIds: Bool = false) throws {
        self.router = router
        self.keys = keys
        self.clientIds = clientIds
        let context = try ZMQContext()
        client = try ZMQSocket(context, .dealer)
        if let curve = keys?.client(keys?.solver) { try client.useCurve(curve) }
        try client.setOption(.sendHighWaterMark, 0)
        try client.setOption(.receiveHighWaterMark, 0)
        try client.connect(router)
        subscriber = try ZMQSocket(context, .sub)
        if let curve = keys?.client(keys?.solver) { try subscriber.useCurve(curve) }
        try subscriber.setOption(.receiveHighWaterMark, 0)
        try subscriber.setOption(.subscribe, "submission.")
        try subscriber.connect(pub)
    }

    /// Posts the challenge and waits until a scored announcement arrives, so the subscription is live.
    func warmUp() throws {
        let spec = ChallengeSpec(
            title: "Benchmark", description: "bench", deadline: WallClock.now() + 86_400_000,
            award: AwardSpec(amount: 1, currency: "USD"), scorer: ScorerSpec(builtin: "exact"), timeLimitSeconds: 10,
            files: [FileEntry(name: "answer.txt", role: .reference)])
        let seeker = try BrokerClient(endpoint: router, curve: keys?.client(keys?.seeker))
        let (info, _) = try seeker.call(
            Service.post, PostRequest(spec: spec), files: [Data("42".utf8)], as: ChallengeInfo.self)
        challenge = info.id
        var poller = ZMQPoller([subscriber])
        for _ in 0..<500 {
            _ = try submit(Data("42".utf8))
            if try poller.poll(timeoutMilliseconds: 20)[0] {
                while try subscriber.receive(dontWait: true) != nil {}
                break
            }
        }
        usleep(200_000)
        while try subscriber.receive(dontWait: true) != nil {}
        while try client.receive(dontWait: true) != nil {}
    }

    /// The frames of a submission: always the same, made once (the driver must cost far less than what it drives).
    private var submitFrames: [Data] = []

    private func submit(_ bytes: Data) throws -> Bool {
        if clientIds {
            // A new body per submission: a counter, not a UUID, keeps the driver's own cost low.
            submitted += 1
            let request = SubmitRequest(
                challenge: challenge, solver: "bench", filename: "a.txt", clientId: "bench-\(submitted)")
            return try client.send(MDP.clientRequest(service: Service.submit, body: [Wire.encode(request), bytes]))
        }
        if submitFrames.isEmpty {
            submitFrames = MDP.clientRequest(
                service: Service.submit,
                body: [Wire.encode(SubmitRequest(challenge: challenge, solver: "bench", filename: "a.txt")), bytes])
        }
        return try client.send(submitFrames)
    }

    /// The `"submission":"sub_…"` value in a JSON body, found by a byte scan and folded into a number: the driver
    /// must cost less than the broker it measures, and a JSON decode (or even a `String`) per message would make
    /// it the bottleneck.
    static func submissionKey(in body: UnsafeRawBufferPointer) -> UInt64? {
        let key: StaticString = #""submission":""#
        let keyLength = key.utf8CodeUnitCount
        let idLength = 20
        guard body.count >= keyLength + idLength, let base = body.baseAddress else { return nil }
        var index = 0
        while index + keyLength + idLength <= body.count {
            if memcmp(base + index, key.utf8Start, keyLength) == 0 {
                // FNV-1a over the id's 20 bytes.
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for byte in body[(index + keyLength)..<(index + keyLength + idLength)] {
                    hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
                }
                return hash
            }
            index += 1
        }
        return nil
    }

    struct Run {
        var seconds: Double
        var latencies: [Double]
        /// CPU seconds the run cost: the whole process (broker, evaluators, this driver, libzmq's threads), and
        /// the broker's thread alone.
        var cpu: (process: Double, broker: Double)
    }

    /// Submits `jobs` with at most `window` unscored, and waits for every score.
    func run(jobs: Int, window: Int) throws -> Run {
        let cpuBefore = CPUTime.now()
        var sentAt: [UInt64] = []
        sentAt.reserveCapacity(jobs)
        var sendIndex: [UInt64: Int] = [:]
        sendIndex.reserveCapacity(jobs)
        var scoredAt: [UInt64: UInt64] = [:]
        scoredAt.reserveCapacity(jobs)
        var acknowledged = 0
        var poller = ZMQPoller([client, subscriber])
        let start = WallClock.monotonicNanos()
        let limit = start + 600 * 1_000_000_000
        var found: UInt64?
        while (acknowledged < jobs || scoredAt.count < jobs) && WallClock.monotonicNanos() < limit {
            while sentAt.count < jobs && sentAt.count - scoredAt.count < window {
                sentAt.append(WallClock.monotonicNanos())
                StepTrace.mark(.sent)
                _ = try submit(Data("42".utf8))
            }
            let ready = try poller.poll(timeoutMilliseconds: 1_000)
            // A reply: "" MDPC01 service receipt. An announcement: topic sequence body.
            if ready[0] {
                while try client.receive(
                    dontWait: true,
                    visit: { index, bytes in
                        if index == 3 { found = Self.submissionKey(in: bytes) }
                    })
                {
                    if let key = found {
                        StepTrace.mark(.receipt)
                        sendIndex[key] = acknowledged
                        acknowledged += 1
                    }
                    found = nil
                }
            }
            if ready[1] {
                while try subscriber.receive(
                    dontWait: true,
                    visit: { index, bytes in
                        if index == 2 { found = Self.submissionKey(in: bytes) }
                    })
                {
                    if let key = found {
                        scoredAt[key] = WallClock.monotonicNanos()
                        StepTrace.mark(.finished)
                    }
                    found = nil
                }
            }
        }
        let seconds = Double(WallClock.monotonicNanos() - start) / 1e9
        let cpuAfter = CPUTime.now()
        var latencies: [Double] = []
        for (key, at) in scoredAt {
            guard let index = sendIndex[key] else { continue }
            latencies.append(Double(at - sentAt[index]) / 1e6)
        }
        return Run(
            seconds: seconds, latencies: latencies,
            cpu: (cpuAfter.process - cpuBefore.process, cpuAfter.broker - cpuBefore.broker))
    }
}

/// CPU time used so far, from `/proc`: this process's, and that of its thread named `broker`.
enum CPUTime {
    /// The CPU seconds of the whole process, and of its thread whose name begins with `thread` (the broker's loop).
    static func now(thread: String = "broker") -> (process: Double, broker: Double) {
        (ticks("/proc/self/stat"), task(named: thread).map { ticks("/proc/self/task/\($0)/stat") } ?? 0)
    }

    private static func task(named prefix: String) -> String? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.first { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?.hasPrefix(prefix) == true
        }
    }

    /// utime + stime (fields 14 and 15 of `stat`, after the parenthesised name) in seconds; with `children`, also
    /// cutime + cstime (16 and 17: the children it has waited for).
    static func ticks(_ path: String, children: Bool = false) -> Double {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 15, let user = Double(fields[11]), let system = Double(fields[12]),
            let childUser = Double(fields[13]), let childSystem = Double(fields[14])
        else { return 0 }
        return (user + system + (children ? childUser + childSystem : 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Keys for a benchmark with CURVE on, registered in the store before the broker starts.
struct BenchKeys {
    let server: CurveKeyPair
    let seeker: CurveKeyPair
    let solver: CurveKeyPair
    let evaluator: CurveKeyPair

    init(directory: String) throws {
        let store = try Store(directory: directory)
        server = try CurveKeyPair.generate()
        try CurveKeyFile.write(server, to: (directory as NSString).appendingPathComponent("broker.key"))
        seeker = try CurveKeyPair.generate()
        solver = try CurveKeyPair.generate()
        evaluator = try CurveKeyPair.generate()
        for (name, role, pair) in [
            ("seeker", Role.seeker, seeker), ("solver", .solver, solver), ("evaluator", .evaluator, evaluator),
        ] {
            try store.addPrincipal(Principal(name: name, role: role, publicKey: pair.publicKey, createdAt: 0))
        }
    }

    func client(_ pair: CurveKeyPair?) -> CurveClient? {
        pair.map { CurveClient(serverKey: server.publicKey, keys: $0) }
    }
}

/// Fresh schemas in the benchmark's PostgreSQL server, one per run, dropped at the end.
final class BenchSchemas {
    private let server: String
    private var made: [String] = []

    init(server: String) { self.server = server }

    /// CPU seconds the server has used in all, when it runs on this machine: its postmaster and every process it
    /// started, live or ended (read from `/proc`); nil when the server's processes cannot be seen from here.
    func serverCPU() -> Double? {
        guard let db = try? PostgresConnection(server, applicationName: "pumasi-bench"),
            let stat = try? String(contentsOfFile: "/proc/\(db.backendPID)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")"),
            let parent = stat[stat.index(after: close)...].split(separator: " ").dropFirst(1).first.flatMap({ Int($0) })
        else { return nil }
        let children = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var total = CPUTime.ticks("/proc/\(parent)/stat", children: true)
        for pid in children where Int(pid) != nil {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let end = text.lastIndex(of: ")"),
                text[text.index(after: end)...].split(separator: " ").dropFirst(1).first.flatMap({ Int($0) }) == parent
            else { continue }
            total += CPUTime.ticks("/proc/\(pid)/stat")
        }
        return total
    }

    /// A connection string for a new, empty schema.
    func make() throws -> String {
        let name = "bench_" + UUID().uuidString.prefix(8).lowercased()
        try PostgresConnection(server, applicationName: "pumasi-bench").execute("CREATE SCHEMA \(name)")
        made.append(name)
        return server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(name)"
    }

    func dropAll() {
        guard !made.isEmpty, let admin = try? PostgresConnection(server, applicationName: "pumasi-bench") else {
            return
        }
        for name in made { try? admin.execute("DROP SCHEMA \(name) CASCADE") }
    }
}
