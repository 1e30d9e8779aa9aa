import PumasiShared

/// Everything an operator can set on a broker. Defaults bind loopback only.
public struct BrokerConfig: Sendable {
    /// The broker's own directory on this host: `broker.json` (endpoints, pid), and with SQLite the store and the
    /// broker's key.
    public var dataDirectory: String
    /// A PostgreSQL store instead of the data directory's SQLite file.
    public var postgresql: String?
    /// Where the store lives.
    public var store: StoreLocation { postgresql.map(StoreLocation.postgresql) ?? .sqlite(directory: dataDirectory) }
    /// The ROUTER endpoint for clients and evaluators.
    public var routerEndpoint = "tcp://127.0.0.1:5555"
    /// The PUB endpoint for announcements.
    public var publishEndpoint = "tcp://127.0.0.1:5556"
    /// CurveZMQ on both endpoints, with keys checked by the broker's ZAP handler. Turning it off is allowed
    /// only when both endpoints are on this machine (`BrokerConfig.validate`).
    public var curve = true
    /// Whether a key the broker does not know may connect, as a solver named after the key.
    public var openRegistration = false
    /// MDP heartbeat interval; an evaluator silent for `heartbeatLiveness` intervals is gone.
    public var heartbeatInterval: Millis = 2_500
    public var heartbeatLiveness = 3
    /// The largest inbound message, all its frames counted (`MessageLimits`); also libzmq's bound on each frame, over
    /// which it closes the peer's connection.
    public var maxMessageBytes = 64 << 20
    /// libzmq's background I/O threads (`ZMQ_IO_THREADS`): they accept connections, run CURVE handshakes and
    /// encrypt what the broker sends. One is libzmq's default; a broker that thousands reconnect to at once after a
    /// restart, or that sends each announcement to ten thousand subscribers, may use more (`docs/deploy.md`).
    public var ioThreads = 1
    /// Where files too large for a row live (`BlobStore`); nil for `<data-dir>/blobs`. Brokers sharing a PostgreSQL
    /// store must share it too.
    public var blobDirectory: String?
    /// The largest chunk of an upload (`pumasi.upload.chunk`), and of a submission's file sent back.
    public var chunkBytes = 4 << 20
    /// The largest submission to a challenge whose rules state no `maxBytes`.
    public var maxSubmissionBytes = 16 << 30
    /// An upload not finished this long after it began is abandoned: its partial file and its row go.
    public var uploadExpiry: Millis = 7 * 86_400_000
    /// A job's lease is its challenge's time limit plus this margin.
    public var leaseMargin: Millis = 30_000
    /// Attempts before a job that keeps losing its evaluator ends as failed (infrastructure).
    public var maxAttempts = 3
    /// How long before a deadline `challenge.closing` is announced.
    public var closingNotice: Millis = 3_600_000
    /// On a PostgreSQL store, how long the active broker's session may stay still (no statement begun or ended)
    /// before a standby ends it and takes over: many heartbeat intervals, as an active broker runs a pass at least
    /// once each.
    public var stalledLeaderTimeout: Millis = 30_000
    /// On SIGTERM, how long to wait for leases in flight to be answered before exiting.
    public var drainTimeout: Millis = 5_000
    /// SQLite's `synchronous` setting. `full` (the default) fsyncs the WAL at every commit, so an acknowledged
    /// submission survives power loss; `normal` survives a crash of the broker (kill -9) but not of the machine.
    /// With PostgreSQL, `full` keeps the server's `synchronous_commit` and `normal` turns it off for the broker.
    public var synchronousFull = true
    /// The most jobs of built-in scorers sent to an evaluator connection in one REQUEST. Plugin jobs, which may
    /// run for minutes, go one per REQUEST.
    public var jobBatch = 32
    /// The most messages handled in one poll-loop pass, that is in one transaction.
    public var batchLimit = 1_024
    /// Per-principal admission (`Admission`): the submissions a second each sender may keep up (other requests
    /// cost a quarter of one), and how many it may send at once. Far above what a solver, or a relay forwarding for
    /// hundreds, sends; a sender over it is answered busy with a time to retry. A rate of 0 turns admission off.
    public var admitRate = 50.0
    public var admitBurst = 500.0
    /// Loop time a request takes before its sender pays for more (`Admission.freeLoopNanos`): ordinary requests
    /// take a tenth of it in a release build.
    public var admitFreeLoopNanos: UInt64 = 1_000_000
    /// A leaderboard reply is given again for this many times as long as it took to make (`LeaderboardCache`), so that
    /// a crowd polling a board costs the loop a tenth of its time at most; 0 makes every board afresh.
    public var leaderboardReuseFactor: UInt64 = 10
    /// The wall clock, injectable for tests.
    public var clock: @Sendable () -> Millis = { WallClock.now() }

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// Refuses a configuration that would expose an unauthenticated broker beyond this machine.
    public func validate() throws(ConfigurationError) {
        guard admitRate >= 0, admitRate.isFinite, admitBurst >= 1, admitBurst.isFinite else {
            throw ConfigurationError(description: "--admit-rate must be 0 or more and --admit-burst at least 1")
        }
        guard (1...64).contains(ioThreads) else {
            throw ConfigurationError(description: "--io-threads must be between 1 and 64")
        }
        guard (1...ScoringJob.maxBatch).contains(jobBatch) else {
            throw ConfigurationError(description: "--job-batch must be between 1 and \(ScoringJob.maxBatch)")
        }
        // libzmq deletes a wildcard ipc socket file when the listener closes, after a new one was bound: the
        // announcement endpoint, bound anew when a key is revoked, needs a fixed path.
        if publishEndpoint.hasPrefix("ipc://") && publishEndpoint.hasSuffix("*") {
            throw ConfigurationError(description: "--pub takes a fixed ipc:// path, not ipc://*")
        }
        guard !curve else { return }
        for endpoint in [routerEndpoint, publishEndpoint] where !Endpoint.isLocal(endpoint) {
            throw ConfigurationError(
                description:
                    "--insecure needs loopback endpoints (tcp://127.0.0.1, tcp://[::1], ipc://); \(endpoint) is not")
        }
    }

}

public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A standby broker was asked to stop before it became the active one.
public struct StandbyStopped: Error, CustomStringConvertible, Sendable {
    public var description: String { "stopped while a standby" }
}
