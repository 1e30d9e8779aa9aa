import Foundation
import PumasiShared

/// The `pumasi-broker` command line: options, signals, and the run.
public enum BrokerCLI {
    public static let version = "0.1.0"

    static let spec = CommandSpec(
        name: "pumasi-broker",
        abstract: "Run the Pumasi broker: challenges, submissions, scoring jobs, leaderboards, awards.",
        discussion: """
            Clients and evaluators speak 7/MDP to the ROUTER endpoint; announcements go out on the PUB endpoint.
            Subcommands: 'pumasi-broker keys' (register, list, revoke keys), 'pumasi-broker audit' (the audit trail),
            'pumasi-broker status' (which broker is active on a PostgreSQL store), 'pumasi-broker migrate' (copy an
            SQLite store into PostgreSQL),
            'pumasi-broker ledger' (verify or show the award ledger), 'pumasi-broker dump' and 'pumasi-broker restore'
            (move a challenge to another broker).
            The defaults bind loopback only. CURVE is on: the broker's key is <data-dir>/broker.key (made on first
            start; clients need broker.key.pub), and only keys registered with 'pumasi-broker keys add' get in.
            Stops gracefully on SIGTERM or SIGINT.
            """,
        options: [
            .init(
                "data-dir", short: "d", value: "directory",
                help:
                    "The broker's directory (its SQLite store, unless --store). Default: $PUMASI_DATA or ./pumasi-data."
            ),
            .init(
                "store", value: "postgresql://…",
                help: "Keep the store in PostgreSQL (libpq's URI or key=value; 'postgresql:' takes the PG* variables). "
                    + "Default: $PUMASI_STORE, else SQLite in the data directory."),
            .init("router", value: "endpoint", help: "ROUTER endpoint. Default: tcp://127.0.0.1:5555."),
            .init("pub", value: "endpoint", help: "PUB endpoint. Default: tcp://127.0.0.1:5556."),
            .init("heartbeat-ms", value: "ms", help: "MDP heartbeat interval. Default: 2500."),
            .init("max-message-mb", value: "megabytes", help: "Largest inbound message. Default: 64."),
            .init(
                "blob-dir", value: "directory",
                help: "Where large files live, by SHA-256 (shared storage for brokers sharing a PostgreSQL store). "
                    + "Default: <data-dir>/blobs."),
            .init(
                "chunk-kb", value: "kibibytes",
                help: "Largest chunk of an upload, and of a file sent back. Default: 4096."),
            .init(
                "upload-expiry-hours", value: "hours",
                help: "An upload unfinished this long after it began is forgotten with its bytes. Default: 168."),
            .init(
                "max-submission-mb", value: "megabytes",
                help: "Largest submission for a challenge whose rules state no maxBytes. Default: 16384."),
            .init(
                "lease-margin-ms", value: "ms",
                help: "Added to a challenge's time limit to make a job's lease. Default: 30000."),
            .init("job-batch", value: "n", help: "Most built-in scoring jobs per evaluator REQUEST. Default: 32."),
            .init(
                "io-threads", value: "n",
                help: "libzmq I/O threads (connections, CURVE handshakes and encryption). Default: 1."),
            .init(
                "closing-notice-ms", value: "ms", help: "How long before a deadline to announce it. Default: 3600000."),
            .init("insecure", help: "No CURVE (no authentication): allowed only with loopback endpoints."),
            .init("open-registration", help: "Let unknown keys in, as solvers named after their key."),
            .init(
                "sync", value: "full|normal",
                help: "full: commits survive power loss (default); normal: a broker crash only."),
            .init("drain-ms", value: "ms", help: "On SIGTERM, how long to wait for jobs in flight. Default: 5000."),
            .init(
                "admit-rate", value: "per-second",
                help: "Submissions a second each principal may keep up (other requests cost a quarter; an admin gets "
                    + "10 times as much); faster senders are answered busy. 0 turns it off. Default: 50."),
            .init("admit-burst", value: "n", help: "Submissions each principal may send at once. Default: 500."),
            .init(
                "takeover-after-ms", value: "ms",
                help: "A standby ends an active broker whose PostgreSQL session stays still this long. Default: 30000."),
            .init("log-level", value: "level", help: "trace, debug, info, notice, warning, error. Default: info."),
            .init("version", help: "Show the version."),
        ])

    /// Runs the broker with the command line (without the program name); returns the exit code.
    public static func main(
        _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        signals: TerminationSignals
    ) -> Int32 {
        let console = FileHandle.standardError
        if arguments.first == "keys" {
            return BrokerKeysCLI.main(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "audit" {
            return BrokerAuditCLI.main(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "ledger" {
            return BrokerLedgerCLI.main(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "dump" {
            return BrokerDumpCLI.dump(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "migrate" {
            return BrokerMigrateCLI.main(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "status" {
            return BrokerStatusCLI.main(Array(arguments.dropFirst()), environment: environment)
        }
        if arguments.first == "restore" {
            return BrokerDumpCLI.restore(Array(arguments.dropFirst()), environment: environment)
        }
        let parsed: ParsedArguments
        do {
            parsed = try spec.parse(arguments)
        } catch {
            console.write(Data((error.description + "\n").utf8))
            return 64
        }
        if parsed.helpRequested {
            FileHandle.standardOutput.write(Data(spec.help.utf8))
            return 0
        }
        if parsed.flag("version") {
            FileHandle.standardOutput.write(Data("\(version)\n".utf8))
            return 0
        }
        do {
            let config = try configuration(parsed, environment: environment)
            let level = parsed.value("log-level").flatMap(LogLevel.init(name:)) ?? .info
            let logger = Logger(label: "broker", level: level)
            // Each client, relay and evaluator connection is a file descriptor: take all the hard limit allows.
            let descriptors = FileDescriptorLimit.raiseToHard()
            logger.info(
                "file descriptors", ["limit": "\(descriptors.after)", "raised.from": "\(descriptors.before)"])
            if let listen = Broker.listenQueue {
                // A crowd reconnecting after a restart overflows a short queue (docs/deploy.md, "Many connections").
                logger.info("listen queue", ["connections": "\(listen.queue)", "somaxconn": "\(listen.somaxconn)"])
            }
            let stop = StopLatch()
            signals.onTerminate { _ in stop.fire() }
            guard let broker = try start(config, logger: logger, stop: stop) else { return 0 }
            stop.attach(broker.stopSignal)
            try broker.run()
            return 0
        } catch is StandbyStopped {
            return 0
        } catch let error as UsageError {
            console.write(Data((error.description + "\n").utf8))
            return 64
        } catch {
            console.write(Data("Error: \(error)\n".utf8))
            return 1
        }
    }

    /// Starts a broker; on PostgreSQL, one that waits as a standby until it is the active one, and that waits with
    /// back-off (0.5 s doubling to 10 s) while the server cannot be reached, as a service under systemd should.
    /// - Returns: nil if a stop came first.
    static func start(_ config: BrokerConfig, logger: Logger, stop: StopLatch) throws -> Broker? {
        var backoff: Millis = 500
        while !stop.isFired {
            do {
                return try Broker(config: config, logger: logger, standbyStops: { stop.isFired })
            } catch let error as DatabaseError where error.isConnectionLost {
                logger.error(
                    "PostgreSQL unreachable; trying again",
                    ["store": config.store.description, "error": error.message, "retry.ms": "\(backoff)"])
                let until = WallClock.monotonicNanos() + UInt64(backoff) * 1_000_000
                while !stop.isFired, WallClock.monotonicNanos() < until { usleep(50_000) }
                backoff = min(backoff * 2, 10_000)
            }
        }
        return nil
    }

    static func configuration(_ a: ParsedArguments, environment: [String: String]) throws -> BrokerConfig {
        var config = BrokerConfig(dataDirectory: a.value("data-dir") ?? environment["PUMASI_DATA"] ?? "pumasi-data")
        if let store = a.value("store") ?? environment["PUMASI_STORE"], !store.isEmpty {
            guard case .postgresql(let conninfo) = StoreLocation(store) else {
                throw UsageError(
                    "--store takes a postgresql:// connection string; a data directory goes to --data-dir",
                    usage: spec.usage)
            }
            config.postgresql = conninfo
        }
        if let router = a.value("router") { config.routerEndpoint = router }
        config.curve = !a.flag("insecure")
        config.openRegistration = a.flag("open-registration")
        if let pub = a.value("pub") { config.publishEndpoint = pub }
        for (name, endpoint) in [("router", config.routerEndpoint), ("pub", config.publishEndpoint)] {
            if let problem = Endpoint.problem(endpoint) { throw UsageError("--\(name): \(problem)", usage: spec.usage) }
        }
        func milliseconds(_ name: String, minimum: Millis) throws -> Millis? {
            guard let text = a.value(name) else { return nil }
            guard let value = Millis(text), value >= minimum else {
                throw UsageError("--\(name) must be a whole number of at least \(minimum)", usage: spec.usage)
            }
            return value
        }
        if let value = try milliseconds("heartbeat-ms", minimum: 10) { config.heartbeatInterval = value }
        if let value = try milliseconds("lease-margin-ms", minimum: 0) { config.leaseMargin = value }
        if let value = try milliseconds("closing-notice-ms", minimum: 0) { config.closingNotice = value }
        if let value = try milliseconds("drain-ms", minimum: 0) { config.drainTimeout = value }
        if let value = try milliseconds("takeover-after-ms", minimum: 1_000) { config.stalledLeaderTimeout = value }
        guard config.stalledLeaderTimeout > config.heartbeatInterval * 4 else {
            throw UsageError("--takeover-after-ms must be more than 4 heartbeat intervals", usage: spec.usage)
        }
        switch a.value("sync") {
        case nil, "full": config.synchronousFull = true
        case "normal": config.synchronousFull = false
        default: throw UsageError("--sync must be full or normal", usage: spec.usage)
        }
        if let value = try milliseconds("job-batch", minimum: 1) { config.jobBatch = Int(min(value, 100_000)) }
        if let value = try milliseconds("io-threads", minimum: 1) { config.ioThreads = Int(min(value, 1_000)) }
        if let value = try milliseconds("max-message-mb", minimum: 1) {
            // A message's file is one value in the store, and neither SQLite nor PostgreSQL takes one of 1 GiB.
            guard value <= 1000 else { throw UsageError("--max-message-mb may be at most 1000", usage: spec.usage) }
            config.maxMessageBytes = Int(value) << 20
        }
        if let text = a.value("admit-rate") {
            guard let value = Double(text), value >= 0, value <= 1_000_000 else {
                throw UsageError("--admit-rate must be a number from 0 to 1000000", usage: spec.usage)
            }
            config.admitRate = value
        }
        if let text = a.value("admit-burst") {
            guard let value = Double(text), value >= 1, value <= 1_000_000 else {
                throw UsageError("--admit-burst must be a number from 1 to 1000000", usage: spec.usage)
            }
            config.admitBurst = value
        }
        if let directory = a.value("blob-dir") { config.blobDirectory = directory }
        if let value = try milliseconds("chunk-kb", minimum: 16) {
            guard value << 10 <= config.maxMessageBytes / 2 else {
                throw UsageError("--chunk-kb must be at most half of --max-message-mb", usage: spec.usage)
            }
            config.chunkBytes = Int(value) << 10
        }
        if let value = try milliseconds("max-submission-mb", minimum: 1) {
            config.maxSubmissionBytes = Int(value) << 20
        }
        if let value = try milliseconds("upload-expiry-hours", minimum: 1) {
            config.uploadExpiry = min(value, 100_000) * 3_600_000
        }
        return config
    }
}
