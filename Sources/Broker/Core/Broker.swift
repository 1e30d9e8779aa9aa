import Foundation
import PumasiShared

/// The Pumasi broker: one thread running a poll loop that owns the ROUTER and PUB sockets and the store.
///
/// Each pass handles up to `batchLimit` messages and the due timers inside one transaction (group commit),
/// commits, and only then sends the replies and announcements that pass produced — so every acknowledgement
/// follows a durable commit. Job requests to evaluators alone go out during the pass (`dispatch`): they
/// acknowledge nothing, and evaluators score while the pass goes on.
///
/// Thread rule: create and run a broker on one thread; other threads stop it through `stopSignal`.
public final class Broker {
    let config: BrokerConfig
    let logger: Logger
    let store: Store
    /// Large files and uploads under way, on disk.
    let blobs: BlobStore
    let router: ZMQSocket
    /// The PUB socket: made anew (same endpoint, same key) when a key is revoked, which ends every subscription;
    /// subscribers reconnect and do the handshake again, and a revoked key is refused there.
    private(set) var publisher: ZMQSocket
    private let serverSecretKey: String?
    private let context: ZMQContext
    private let control: ZMQSocket
    public let routerEndpoint: String
    public let publishEndpoint: String
    /// Fire it from any thread to stop the broker after its current pass.
    public let stopSignal: ZMQStopSignal

    /// What the broker holds in memory besides its sockets and this pass's sends: rebuilt from the store at start,
    /// and restored whole when a request is rolled back.
    var memory = BrokerMemory()
    /// Each sender's token bucket (`Admission`). Not part of `memory`: a request rolled back was still sent.
    var admission: Admission
    /// Warnings about what senders do wrong, at most one a sender and kind every 10 s (`throttled`).
    var logThrottle = LogThrottle(interval: 10_000)
    /// Leaderboard replies that took long to make, given again for a while (`LeaderboardCache`).
    var leaderboards = LeaderboardCache()
    /// Makes leaderboards off the loop (`BoardMaker`).
    let boardMaker: BoardMaker
    /// Leaderboards this pass was asked for and did not have: ordered once it has committed (`orderBoards`).
    var boardsAsked: [BoardAsk] = []
    /// Leaderboards being made, by key, with who waits for each.
    var boardsMaking: [LeaderboardCache.Key: BoardMaking] = [:]
    /// Reports' first pages being made, by ticket.
    var reportsMaking: [Int: BoardAsk] = [:]
    /// The last ticket given to an order of the board maker.
    var boardTickets = 0
    /// The service of the client request being handled, for the audit entries of refusals.
    var requestService = ""
    /// What this pass will send once its transaction has committed, and its size in bytes.
    var outbox: [(socket: ZMQSocket, frames: [Data])] = [] {
        didSet { if outbox.isEmpty { outboxBytes = 0 } }
    }
    private(set) var outboxBytes = 0
    /// Bytes read from the ROUTER since memory was last given back to the system (`giveBackMemory`).
    var bytesSinceTrim = 0
    /// The resident set size just after memory was last given back (0 before the first time).
    var residentAfterTrim = 0
    /// Whether the last pass read messages: the next idle one is when the loop goes idle after work.
    var lastPassRead = true
    static let payloadCacheLimit = 32 << 20
    private var nextHeartbeat: Millis = 0
    /// When abandoned uploads are next looked for (`expireUploads`).
    var nextUploadExpiry: Millis = 0
    /// Authentication, when CURVE is on: the ZAP handler, the principals it consults, the broker's public key.
    private(set) var zap: ZAPHandler?
    private(set) var principals: Principals?
    /// Handshakes that fail before ZAP (a wrong server key): the router's monitor, and where they are logged.
    private var handshakeMonitor: ZMQMonitor?
    private var refusals: RefusalLog?
    public let publicKey: String?

    /// Set once a stop is asked for: from then on no new work is taken, and the loop ends when the leases in
    /// flight have been answered or `drainTimeout` has passed.
    private(set) var drainingSince: Millis?

    /// Opens the store and, on PostgreSQL, waits as a standby until this broker is the active one; then binds its
    /// endpoints and rebuilds its memory from the store.
    /// - Parameter standbyStops: asked every second while a standby waits: true ends the wait (`StandbyStopped`).
    public init(
        config: BrokerConfig, logger: Logger, context: ZMQContext? = nil,
        standbyStops: @Sendable () -> Bool = { false }
    ) throws {
        try config.validate()
        self.config = config
        self.logger = logger
        admission = Admission(rate: config.admitRate, burst: config.admitBurst)
        admission.freeLoopNanos = config.admitFreeLoopNanos
        leaderboards.ageFactor = config.leaderboardReuseFactor
        let context =
            try context
            ?? (config.ioThreads == 1 ? ZMQContext() : ZMQContext(ioThreads: config.ioThreads, maxSockets: 1_023))
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        let host = ProcessInfo.processInfo.hostName
        store = try Store(
            location: config.store, synchronousFull: config.synchronousFull,
            applicationName: "pumasi-broker \(host) pid \(getpid())")
        if config.store.isPostgreSQL {
            if try !store.tryToLead() {
                logger.notice("standby: another broker is active on this store", ["store": store.path])
                let waited = try store.waitToLead(
                    endingHolderStalledFor: config.stalledLeaderTimeout,
                    onEnded: { [logger, config] in
                        logger.warning(
                            "the active broker's session was still too long; ended it",
                            ["backend": "\($0)", "still.ms": "\(config.stalledLeaderTimeout)"])
                    }, shouldStop: standbyStops)
                guard waited else { throw StandbyStopped() }
            }
            try store.expireWhenSilent(after: max(10_000, config.heartbeatInterval * 4))
        }
        blobs = try BlobStore(
            directory: config.blobDirectory ?? (config.dataDirectory as NSString).appendingPathComponent("blobs"))
        try store.checkpointInBackground()
        var serverKeys: CurveKeyPair?
        if config.curve {
            let keys =
                config.store.isPostgreSQL
                ? try Self.sharedKeys(store, directory: config.dataDirectory, now: config.clock())
                : try Self.loadOrCreateKeys(in: config.dataDirectory)
            let principals = try Principals(store: store, openRegistration: config.openRegistration)
            // The ZAP handler must be bound before any CURVE server socket.
            let refusals = RefusalLog(logger: logger)
            self.refusals = refusals
            zap = try ZAPHandler(context: context) { publicKey, address in
                let decision = principals.decide(publicKey: publicKey)
                if case .deny(let reason) = decision { refusals.record(publicKey: publicKey, address: address, reason) }
                return decision
            }
            self.principals = principals
            serverKeys = keys
        }
        publicKey = serverKeys?.publicKey
        router = try ZMQSocket(context, .router)
        if let serverKeys { try router.serveCurve(secretKey: serverKeys.secretKey) }
        try router.setOption(.routerMandatory, 1)
        // libzmq bounds each frame (a larger one costs the peer its connection); the broker bounds the message and
        // each service's body as it reads them (`MessageLimits`).
        try router.setMaxMessageSize(Int64(config.maxMessageBytes))
        // Finite, modest high-water marks: a peer that asks and never reads can hold at most this many replies
        // (each at most a file chunk or an MDP job) in the broker's memory.
        try router.setOption(.sendHighWaterMark, 1_000)
        try router.setOption(.receiveHighWaterMark, 1_000)
        try router.setOption(.backlog, Self.listenBacklog)
        if serverKeys != nil { handshakeMonitor = try ZMQMonitor(watching: router, for: .handshakeFailures) }
        try router.bind(config.routerEndpoint)
        routerEndpoint = try router.lastEndpoint
        self.context = context
        serverSecretKey = serverKeys?.secretKey
        publisher = try Self.makePublisher(context, secretKey: serverKeys?.secretKey)
        try publisher.bind(config.publishEndpoint)
        publishEndpoint = try publisher.lastEndpoint
        stopSignal = ZMQStopSignal(context: context)
        control = try stopSignal.makeReceiver()
        boardMaker = try BoardMaker(location: config.store, context: context, clock: config.clock)

        try rebuildMemory()
        if let term = try store.beginTerm(
            host: host, pid: getpid(), router: routerEndpoint, pub: publishEndpoint, now: config.clock())
        {
            logger.notice("active", ["term": "\(term.term)", "store": store.path])
        }
        try writeEndpointsFile()
        do {
            try store.advanceLedgerHead()
        } catch {
            logger.warning("award ledger head file not written", ["error": "\(error)"])
        }
        logger.info(
            "broker started",
            [
                "router": routerEndpoint, "pub": publishEndpoint, "store": store.path,
                "jobs.queued": String(memory.dispatcher.queuedCount),
            ])
    }

    /// Builds the broker's memory from the store alone: the live challenges, every submission still without an
    /// outcome (queued again with its failed attempts; leases of an earlier run died with it), the replicas kept,
    /// and the judging still owed. What a broker does when it starts, and when it takes over from another.
    func rebuildMemory() throws {
        memory = BrokerMemory()
        for record in try store.liveChallenges() {
            memory.liveChallenges[record.id] = record
            if record.state == .closed { memory.settleCandidates.insert(record.id) }
        }
        let pending = try store.recoverPendingJobs()
        // What was read and no longer awaits anything goes, so that the next start reads less.
        let forgotten = try store.forgetScored()
        if forgotten > 0 {
            logger.debug("unscored rows of scored or ended submissions deleted", ["rows": "\(forgotten)"])
        }
        for job in pending {
            guard let record = memory.liveChallenges[job.challenge] else { continue }
            var done: [ReplicaResult] = []
            if record.redundancy != nil { done = try store.replicas(submission: job.submission, version: job.version) }
            jobSubmitted(
                row: job.row, challenge: record, phase: job.phase, failedAttempts: job.failedAttempts,
                replicasDone: done)
        }
        try recoverPendingJudging()
        memory.agreements = try store.currentAgreements()
        memory.invitationOnly = try store.invitationOnlyChallenges()
    }

    /// The PUB socket, not yet bound: CURVE with the broker's key when it has one, and a high-water mark that lets a
    /// slow subscriber fall behind by 100,000 announcements before it loses any.
    private static func makePublisher(_ context: ZMQContext, secretKey: String?) throws -> ZMQSocket {
        let publisher = try ZMQSocket(context, .pub)
        if let secretKey { try publisher.serveCurve(secretKey: secretKey) }
        try publisher.setOption(.sendHighWaterMark, 100_000)
        try publisher.setOption(.backlog, listenBacklog)
        return publisher
    }

    /// Connections a listening endpoint queues before they are accepted (`ZMQ_BACKLOG`): as many as the kernel
    /// allows, which caps it at `net.core.somaxconn` (see `listenQueue`). libzmq's default, 100, is overflowed when
    /// thousands of relays and evaluators reconnect after a restart: each dropped SYN costs its client a
    /// retransmission a second or more later (`pumasi-bench crowd`, docs/performance.md).
    static let listenBacklog: Int32 = 65_535

    /// The queue the kernel gives a listening endpoint that asks for `listenBacklog`: `net.core.somaxconn` when it
    /// is smaller (nil where it cannot be read).
    public static var listenQueue: (queue: Int, somaxconn: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8),
            let somaxconn = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return (min(Int(listenBacklog), somaxconn), somaxconn)
    }

    /// Set while the PUB endpoint is unbound after a cut whose bind failed: each pass tries again, and announcements
    /// meanwhile reach only the log (relays read them back).
    private var publisherUnbound = false

    /// Cuts the subscriptions (see `cutSubscriptions`); a failure is logged, not fatal: the next passes bind again.
    private func cutSubscriptionsOrRetry() {
        do {
            if publisherUnbound {
                publisherUnbound = !(try Self.bindIfFree(publisher, publishEndpoint))
                if !publisherUnbound { logger.notice("announcement endpoint bound again", ["pub": publishEndpoint]) }
            } else {
                try cutSubscriptions()
            }
        } catch {
            publisherUnbound = true
            logger.error("announcement endpoint not bound again; retrying each pass", ["error": "\(error)"])
        }
    }

    /// Ends every subscription at once, so that a revoked key's live SUB connection hears nothing more: the PUB
    /// socket is closed and bound again at the same endpoint. Subscribers reconnect within libzmq's reconnect
    /// interval and redo the CURVE handshake, where a revoked key is refused; what they miss meanwhile, relays
    /// read back from the log. Called at the start of a pass, when nothing is queued for the old socket.
    private func cutSubscriptions() throws {
        // The port first, then the socket: closing the old one ends its connections. libzmq releases the port on
        // its I/O thread, so the new socket tries to bind it for up to a second.
        try publisher.unbind(publishEndpoint)
        publisher = try Self.makePublisher(context, secretKey: serverSecretKey)
        var bound = false
        for _ in 0..<200 where !bound {
            bound = try Self.bindIfFree(publisher, publishEndpoint)
            if !bound { usleep(5_000) }
        }
        publisherUnbound = !bound
        logger.notice("a key was revoked: every subscription cut, to be made again through the handshake")
    }

    /// Binds `endpoint`. - Returns: false while its port is still in use.
    private static func bindIfFree(_ socket: ZMQSocket, _ endpoint: String) throws(ZMQError) -> Bool {
        do {
            try socket.bind(endpoint)
        } catch {
            guard error.code == EADDRINUSE else { throw error }
            return false
        }
        return true
    }

    /// Runs until `stopSignal` fires.
    public func run() throws {
        var poller = ZMQPoller(
            [router, control, boardMaker.receiver] + (zap.map { [$0.socket] } ?? [])
                + (handshakeMonitor.map { [$0.socket] } ?? []))
        while true {
            let ready = try poller.poll(timeoutMilliseconds: pollTimeout())
            if ready[0] { StepTrace.mark(.brokerWoke) }
            if ready[2] { answerBoards() }
            if ready.count > 3, ready[3] { try zap?.handlePending() }
            if ready.count > 4, ready[4], let handshakeMonitor {
                for event in try handshakeMonitor.events() where event.isHandshakeFailure {
                    refusals?.recordHandshakeFailure(endpoint: event.endpoint, event.handshakeProblem)
                }
            }
            if ready[1], stopSignal.received(on: control), drainingSince == nil {
                drainingSince = config.clock()
                logger.info("stopping: taking no new work", ["leases": "\(memory.dispatcher.leases.count)"])
            }
            do {
                try pass(readable: ready[0])
            } catch {
                // The store failed: the loop ends here, and whoever waits for a board is answered first.
                stopMakingBoards()
                throw error
            }
            if let since = drainingSince,
                memory.dispatcher.leases.isEmpty || config.clock() - since >= config.drainTimeout
            {
                break
            }
        }
        shutdown()
    }

    /// One loop pass: a batch of messages and the due timers in one transaction, then the sends.
    ///
    /// If the transaction cannot commit (disk full, I/O error) nothing of the pass is sent and the error ends
    /// the loop: the in-memory state may no longer match the store, and a restart rebuilds it from the store.
    func pass(readable: Bool) throws {
        do {
            try principals?.refresh()
            if principals?.takeRevocation() == true || publisherUnbound { cutSubscriptionsOrRetry() }
            try store.transaction {
                if readable {
                    // A pass stops reading once its replies hold 64 MiB (they are sent before the next is read) or
                    // once it has read for `passBudgetNanos` (its timers, heartbeats first, run before the next).
                    let readUntil = WallClock.monotonicNanos() + passBudgetNanos
                    var reading = 0
                    while reading < config.batchLimit, outboxBytes < Self.outboxLimit,
                        WallClock.monotonicNanos() < readUntil
                    {
                        guard let message = try nextMessage() else { break }
                        if message.cut == nil { try handle(message) }
                        StepTrace.mark(.handled)
                        reading += 1
                        // Jobs go out as the pass goes, not only at its end, so evaluators score while it goes on.
                        if reading % Self.dispatchEvery == 0, drainingSince == nil { try dispatch(now: config.clock()) }
                    }
                }
                try runTimers(now: config.clock())
                if drainingSince == nil { try dispatch(now: config.clock()) }
            }
        } catch {
            outbox.removeAll()
            boardsAsked.removeAll()
            logger.critical("store transaction failed; stopping so a restart can recover", ["error": "\(error)"])
            throw error
        }
        flushOutbox()
        orderBoards()
        StepTrace.mark(.flushed)
        // Idle: the poll waited its whole timeout (up to a heartbeat interval) with nothing to read. A busy loop that
        // merely emptied its queue for a moment is not idle: trimming then costs it the pages it will fault in again.
        giveBackMemory(idle: !readable)
    }

    private func pollTimeout() -> Int {
        if !memory.orphanedLeases.isEmpty || !memory.settleCandidates.isEmpty { return 0 }
        if drainingSince != nil { return 20 }
        let now = config.clock()
        var due = nextHeartbeat
        if let lifecycle = nextLifecycleEvent { due = min(due, lifecycle) }
        if let lease = memory.dispatcher.nextLeaseExpiry { due = min(due, lease) }
        return Int(max(0, min(due - now, config.heartbeatInterval)))
    }

    private func runTimers(now: Millis) throws {
        if now >= nextHeartbeat {
            heartbeatEvaluators(now: now)
            nextHeartbeat = now + config.heartbeatInterval
        }
        try expireEvaluators(now: now)
        try expireLeases(now: now)
        if now >= nextUploadExpiry { try expireUploads(now: now) }
        try applyDeadlines(now: now)
        try settleClosedChallenges(now: now)
    }

    /// A challenge that is open or still scoring, from the mirror (or the store, for one posted by this pass).
    func liveChallenge(_ id: String) throws -> ChallengeRecord? {
        if let record = memory.liveChallenges[id] { return record }
        return try store.challenge(id)
    }

    func referenceFiles(_ challenge: String) throws -> [FileEntry] {
        if let files = memory.referenceCache[challenge] { return files }
        let files = try store.files(challenge: challenge, role: .reference)
        memory.referenceCache[challenge] = files
        return files
    }

    /// A job of `challenge` was submitted: it is pending until it has an outcome.
    /// With redundancy, as many replicas as are still needed go to the queue (`replicasDone`: the results kept
    /// from before a restart).
    func jobSubmitted(
        row: Int64, challenge: ChallengeRecord, phase: Int = 0, failedAttempts: Int = 0,
        replicasDone: [ReplicaResult] = []
    ) {
        let queue = challenge.queue(phase: phase)
        let base = JobKey(row: row, version: challenge.scorerVersion)
        memory.pendingJobs[challenge.id, default: 0] += 1
        // A submission that judges alone score waits for them, not for an evaluator.
        guard !challenge.isJudgedOnly else { return }
        guard let redundancy = challenge.redundancy else {
            return memory.dispatcher.enqueue(
                QueuedJob(id: base.id, failedAttempts: failedAttempts), service: queue, owner: challenge.owner
            )
        }
        let done = replicasDone.count
        let wanted = done < redundancy.replicas ? redundancy.replicas : min(done + 1, redundancy.effectiveMaxReplicas)
        for replica in done..<max(done, wanted) {
            let key = JobKey(row: row, version: challenge.scorerVersion, replica: replica)
            memory.dispatcher.enqueue(
                QueuedJob(id: key.id, failedAttempts: 0), service: queue, owner: challenge.owner)
        }
        memory.replicas[base] = ReplicaState(count: max(done, wanted), principals: Set(replicasDone.map(\.evaluator)))
    }

    /// A job of `challenge` reached its outcome: if the challenge is closed it may now be settled.
    func jobEnded(challenge: String) {
        if let count = memory.pendingJobs[challenge] { memory.pendingJobs[challenge] = count > 1 ? count - 1 : nil }
        if memory.liveChallenges[challenge]?.state == .closed, memory.pendingJobs[challenge] == nil {
            memory.settleCandidates.insert(challenge)
        }
    }

    /// Sends what the committed pass produced. A peer that vanished meanwhile is not an error for the broker.
    func flushOutbox() {
        let pending = outbox
        outbox.removeAll(keepingCapacity: true)
        for (socket, frames) in pending { deliver(frames, on: socket) }
    }

    /// Sends one message now; a peer at its high-water mark or gone is logged and, if an evaluator, let go.
    func deliver(_ frames: [Data], on socket: ZMQSocket) {
        do {
            if try !socket.send(frames, dontWait: true) {
                logger.warning("peer at its high-water mark; message dropped", ["peer": peerName(frames[0])])
                if socket === router { evaluatorUnreachable(frames[0]) }
            }
        } catch {
            if error.isHostUnreachable {
                logger.debug("peer gone before its reply", ["peer": peerName(frames[0])])
                if socket === router { evaluatorUnreachable(frames[0]) }
            } else {
                logger.error("send failed", ["error": "\(error)"])
            }
        }
    }

    func send(to identity: Data, _ frames: [Data]) {
        outbox.append((router, [identity] + frames))
        outboxBytes += frames.reduce(0) { $0 + $1.count }
    }

    static let outboxLimit = 64 << 20
    /// Messages between two dispatches within a pass.
    static let dispatchEvery = 32

    /// Logs an announcement and queues it for PUB. An award's carries the ledger's head, which anchors the ledger
    /// in the event log and with every subscriber.
    func publish(_ announcement: Announcement, principal: String? = nil) throws {
        var announcement = announcement
        if announcement.topic == .awarded, announcement.ledger == nil { announcement.ledger = try store.ledgerHead() }
        let (numbered, json) = try store.appendEvent(announcement, principal: principal)
        // PUB sends to every subscriber: an invitation-only challenge's announcements stay in the log, which gives
        // them to those invited (`pumasi.events`; relays read it whenever the sequence skips, and every few seconds).
        if memory.invitationOnly.contains(announcement.challenge) { return }
        outbox.append((publisher, numbered.frames(json: json)))
    }

    /// Writes `broker.json` (endpoints and pid) into the data directory, so that scripts and tests can find a
    /// broker that bound `tcp://host:*`.
    private func writeEndpointsFile() throws {
        var info = ["router": routerEndpoint, "pub": publishEndpoint, "pid": String(getpid())]
        if let publicKey { info["publicKey"] = publicKey }
        let path = (config.dataDirectory as NSString).appendingPathComponent("broker.json")
        try Wire.encode(info).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The broker's keypair, `<data-dir>/broker.key` (0600) with `broker.key.pub` beside it; made on first start.
    static func loadOrCreateKeys(in directory: String) throws -> CurveKeyPair {
        let path = (directory as NSString).appendingPathComponent("broker.key")
        if FileManager.default.fileExists(atPath: path) { return try CurveKeyFile.readPair(path) }
        let keys = try CurveKeyPair.generate()
        try CurveKeyFile.write(keys, to: path)
        return keys
    }

    /// The keypair every broker on a PostgreSQL store shares (see `Store.sharedBrokerKeys`), with its public half
    /// written to `<data-dir>/broker.key.pub` for clients on this host, as an SQLite broker does. A `broker.key`
    /// already in the data directory (a broker moved from SQLite, whose clients know its key) becomes the shared key
    /// if the store has none yet, and must be that key if it has.
    static func sharedKeys(_ store: Store, directory: String, now: Millis) throws -> CurveKeyPair {
        let file = (directory as NSString).appendingPathComponent("broker.key")
        let local = FileManager.default.fileExists(atPath: file) ? try CurveKeyFile.readPair(file) : nil
        let keys = try store.sharedBrokerKeys(generate: { try local ?? CurveKeyPair.generate() }, now: now)
        if let local, local != keys {
            throw ConfigurationError(
                description: "\(file) holds another key than the one the store's brokers share (\(keys.publicKey)); "
                    + "move it away to serve under the shared key")
        }
        let path = (directory as NSString).appendingPathComponent("broker.key.pub")
        try Data("public-key = \"\(keys.publicKey)\"\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return keys
    }

    /// A broker whose loop ended without `shutdown` (its store failed) still stops its board maker's thread.
    deinit { boardMaker.stop() }

    /// Tells every evaluator to go, and whoever waits for a leaderboard that the broker is stopping. Leases still
    /// unanswered stay in the store and are requeued on restart.
    private func shutdown() {
        for identity in memory.dispatcher.evaluators.keys {
            _ = try? router.send([identity] + MDP.worker(.disconnect), dontWait: true)
        }
        // Those told the broker is stopping are told before the socket closes (up to half a second): a stop with
        // nobody waiting for a board closes at once, as a restart wants.
        if stopMakingBoards() > 0 { try? router.setOption(.linger, 500) }
        logger.info("broker stopped")
    }

    func peerName(_ identity: Data) -> String { identity.map { String(format: "%02x", $0) }.joined() }
}
