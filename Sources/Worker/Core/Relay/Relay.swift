import Foundation
import PumasiShared

/// How a relay connects and where solvers reach it.
public struct RelayConfig: Sendable {
    public var brokerEndpoint: String
    public var publishEndpoint: String
    /// Where this relay takes requests from local clients (`pumasi submit --broker <this>`).
    public var listenEndpoint = "tcp://127.0.0.1:5557"
    /// The durable outbox for submissions made through this relay.
    public var outboxPath: String
    public var timeoutSeconds = 5.0
    /// How often to retry the outbox and to check the announcement log for a missed tail.
    public var syncInterval: Millis = 2_000
    /// Announcement topic prefixes to show; "" is all.
    public var topics = [""]
    /// CURVE credentials for both the requests and the subscription.
    public var curve: CurveClient?
    /// Whom the relay submits as (`Relay+Owner.swift`); over CURVE the key's principal, once the broker names it.
    public var owner: String?

    public init(brokerEndpoint: String, publishEndpoint: String, outboxPath: String) {
        self.brokerEndpoint = brokerEndpoint
        self.publishEndpoint = publishEndpoint
        self.outboxPath = outboxPath
    }
}

/// `pumasi relay`: the human-facing worker.
///
/// - Announcements: shown as they arrive, without gaps (the Clone pattern). The relay subscribes first, then
///   learns the broker's latest sequence number; an announcement that skips numbers (PUB drops past its
///   high-water mark and during the slow-joiner window, and nothing reaches a subscriber while the broker
///   restarts) makes it fetch the missing ones from the broker's log, and a periodic check catches a missed
///   tail. A log that went backwards (a new broker) resets the count.
/// - Requests from local clients are forwarded to the broker one at a time. Submissions go through the
///   durable outbox first: if the broker is away the client gets a `queued` receipt, and the relay keeps
///   delivering, in order and with the client id, until the broker has them.
///
/// Thread rule: create and run on one thread; `stop()` from any thread.
public final class Relay: Sendable {
    public let config: RelayConfig
    let logger: Logger
    private let context: ZMQContext
    private let stopSignal: ZMQStopSignal
    private let show: @Sendable (Announcement, _ recovered: Bool) -> Void
    /// Tells the owner what they follow (`pumasi relay --notify`), off this relay's loop.
    private let notifier: Notifier?

    /// - Parameter notifier: started by `run`, and stopped (its queue drained, bounded in time) when `run` returns.
    public init(
        config: RelayConfig, logger: Logger, notifier: Notifier? = nil,
        show: @escaping @Sendable (Announcement, _ recovered: Bool) -> Void
    ) throws {
        self.config = config
        self.logger = logger
        self.notifier = notifier
        self.show = show
        context = try ZMQContext()
        stopSignal = ZMQStopSignal(context: context)
    }

    public func stop() { stopSignal.fire() }

    /// Runs until `stop()`. `onReady` receives the bound listen endpoint once the relay is subscribed.
    public func run(onReady: @Sendable (String) -> Void = { _ in }) throws {
        let control = try stopSignal.makeReceiver()
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.setOption(.receiveHighWaterMark, 100_000)
        if let curve = config.curve { try subscriber.useCurve(curve) }
        try subscriber.spreadReconnects()
        for topic in config.topics { try subscriber.setOption(.subscribe, topic) }
        // One PUB endpoint per broker host: only the active broker has bound its own, and it alone publishes.
        for endpoint in Endpoint.list(config.publishEndpoint) { try subscriber.connect(endpoint) }
        let frontend = try ZMQSocket(context, .router)
        try frontend.setOption(.routerMandatory, 1)
        try frontend.bind(config.listenEndpoint)
        let listening = try frontend.lastEndpoint
        var state = try State(
            client: BrokerClient(
                endpoint: config.brokerEndpoint, timeoutSeconds: config.timeoutSeconds, curve: config.curve,
                context: context),
            outbox: RelayOutbox(path: config.outboxPath), owner: config.owner)
        // A busy reply comes back at once: the relay keeps the submission and goes on (`State.busyUntil`).
        state.client.busyPatienceSeconds = 0
        logger.info(
            "relay started",
            [
                "broker": config.brokerEndpoint, "pub": config.publishEndpoint, "listen": listening,
                "outbox": config.outboxPath, "owner": config.owner ?? "(the key's principal)",
            ])
        if let notifier {
            notifier.start()
            logger.info(
                "notices on",
                [
                    "notify": notifier.config.targets.map(\.description).joined(separator: ","),
                    "owner": notifier.config.rules.owner ?? "-",
                    "follow": notifier.config.rules.followAll
                        ? "all" : notifier.config.rules.follows.sorted().joined(separator: ","),
                ])
        }
        defer { notifier?.stop() }
        synchronise(&state)
        onReady(listening)

        var poller = ZMQPoller([subscriber, frontend, control])
        var nextSync = WallClock.now() + nextCheck(&state)
        while true {
            let wake = min(nextSync, state.busyUntil ?? nextSync)
            let ready = try poller.poll(
                timeoutMilliseconds: state.active != nil && state.busyUntil == nil
                    ? 0 : Int(max(0, wake - WallClock.now())))
            if ready[2], stopSignal.received(on: control) {
                logger.info("relay stopped")
                return
            }
            if ready[0] {
                while let message = try subscriber.receive(dontWait: true) {
                    guard let announcement = Announcement.parse(message.frames) else {
                        logger.warning("unreadable announcement ignored", ["frames": "\(message.frames.count)"])
                        continue
                    }
                    receive(announcement, &state)
                }
            }
            if ready[1] {
                while let message = try frontend.receive(dontWait: true) {
                    let reply = forward(message.frames, &state)
                    _ = try? frontend.send(reply, dontWait: true)
                }
            }
            if let until = state.busyUntil, WallClock.now() >= until {
                state.busyUntil = nil
                _ = deliverPending(&state)
            } else if state.active != nil {
                _ = deliverPending(&state)
            }
            if WallClock.now() >= nextSync {
                synchronise(&state)
                nextSync = WallClock.now() + nextCheck(&state)
            }
        }
    }

    struct State {
        var client: BrokerClient
        var outbox: RelayOutbox
        var lastSeq: Int64?
        /// The large submission being uploaded to the broker, a slice at a time.
        var active: (clientId: String, uploader: Uploader)?
        /// SHA-256 of each local upload's bytes so far, while its chunks come in order (recomputed from its file
        /// when missing, after a restart), so that the commit does not read the whole file again.
        var hashing: [String: (hasher: SHA256, bytes: Int)] = [:]
        /// Since when the broker has not answered (nil while it does): meanwhile local requests are answered at once,
        /// submissions from the outbox, the rest with the reason, and only the periodic check tries the broker.
        var brokerAway: Millis?
        /// Until when the broker asked this relay to wait (a busy reply: the relay is over its rate). Meanwhile new
        /// submissions go to the outbox at once, and the outbox is delivered again when the time comes. The broker
        /// answered, so it is not away, and nothing refused busy counts as refused.
        var busyUntil: Millis?

        /// Whether the broker asked to wait and the wait is not over.
        var isHeldBusy: Bool { busyUntil.map { WallClock.now() < $0 } ?? false }

        /// Notes a busy reply: the wait it asks for, plus up to a quarter more at random.
        mutating func busy(_ error: ProtocolError) {
            busyUntil = WallClock.now() + Jitter.after(Int64(error.retryAfterMs ?? 0))
        }
        /// Why the broker turns this relay away, when it is not only away: it refuses the relay's key, or the CURVE
        /// handshake fails (`Relay+Health.swift`). Set with `brokerAway`; cleared when the broker answers.
        var refusal: String?
        /// Whom local requests submit as.
        var owner: String?
        /// Whether the broker has named the owner (`pumasi.whoami`, over CURVE).
        var ownerConfirmed = false
        /// Checks made since the broker stopped answering (0 while it answers): the wait before the next one doubles.
        var checksWhileAway = 0
    }

    /// The wait before the next periodic check, never the same for two relays: the sync interval, a quarter more or
    /// less at random, so that relays started together do not knock in step; while the broker is away, from about
    /// `awayCheckInitial` doubling up to the sync interval, so that a broker back after a restart is found soon.
    private func nextCheck(_ state: inout State) -> Millis {
        state.checksWhileAway = state.brokerAway == nil ? 0 : state.checksWhileAway + 1
        return Self.checkWait(interval: config.syncInterval, checksWhileAway: state.checksWhileAway)
    }

    /// `nextCheck`'s wait: with the broker answering (`checksWhileAway` 0), or after that many checks without.
    static func checkWait(interval: Millis, checksWhileAway: Int) -> Millis {
        guard checksWhileAway > 0 else { return Jitter.spread(interval, by: 0.25) }
        return Jitter.spread(min(interval, awayCheckInitial << min(checksWhileAway - 1, 16)), by: 0.5)
    }

    /// The first wait between checks once the broker stops answering.
    static let awayCheckInitial: Millis = 250

    // MARK: Announcements

    private func receive(_ announcement: Announcement, _ state: inout State) {
        guard let last = state.lastSeq else {
            state.lastSeq = announcement.seq
            return present(announcement, recovered: false, state)
        }
        if announcement.seq <= last { return }  // already shown (recovered from the log)
        if announcement.seq > last + 1 {
            // Gaps are expected with a topic filter, and for the announcements of invitation-only challenges, which
            // only the log carries: it says whether they hold anything for us. Only what was on the PUB stream for us
            // and lost is worth a warning.
            let shown = recover(after: last, through: announcement.seq - 1, &state)
            let filtered = config.topics != [""]
            logger.log(
                filtered || shown == 0 ? .debug : .warning, "announcements came from the broker's log, not the stream",
                ["from": "\(last + 1)", "to": "\(announcement.seq - 1)", "shown": "\(shown)"])
        }
        if announcement.seq > (state.lastSeq ?? 0) {
            state.lastSeq = announcement.seq
            present(announcement, recovered: false, state)
        }
    }

    /// Shows an announcement, and queues the notice it makes for the owner, if any.
    private func present(_ announcement: Announcement, recovered: Bool, _ state: State) {
        show(announcement, recovered)
        guard let notifier else { return }
        let forwarded = announcement.submission.map { state.outbox.forwarded.contains($0) } ?? false
        if let notice = notifier.config.rules.notice(for: announcement, forwarded: forwarded) { notifier.post(notice) }
    }

    /// Shows logged announcements after `after` (up to `through`, if given) that this relay has not shown, on
    /// the topics it follows. (Those on other topics are the gaps a topic filter leaves: skipped, not missed.)
    /// - Returns: how many it showed.
    @discardableResult
    private func recover(after: Int64, through: Int64?, _ state: inout State) -> Int {
        var cursor = after
        var shown = 0
        for _ in 0..<100 {
            guard
                let log = try? state.client.call(
                    Service.events, EventsRequest(after: cursor, limit: EventLog.maxBatch), as: EventLog.self
                ).0
            else { return shown }
            for event in log.events where through.map({ event.seq <= $0 }) ?? true {
                if config.topics.contains(where: { event.topic.rawValue.hasPrefix($0) }) {
                    present(event, recovered: true, state)
                    shown += 1
                }
                state.lastSeq = max(state.lastSeq ?? 0, event.seq)
            }
            // The log leaves out what we may not see: `through` says how far the reply went.
            guard let covered = log.through ?? log.events.last?.seq else { return shown }
            let target = through ?? log.last
            state.lastSeq = max(state.lastSeq ?? 0, min(covered, target))
            guard covered < target else { return shown }
            cursor = covered
        }
        return shown
    }

    /// The periodic check: delivers the outbox, then compares the broker's latest sequence number with ours.
    /// Both use a short timeout, so that a missing broker holds up local clients as little as possible.
    private func synchronise(_ state: inout State) {
        state.client.timeoutSeconds = min(1, config.timeoutSeconds)
        defer { state.client.timeoutSeconds = config.timeoutSeconds }
        let log: EventLog
        do {
            guard deliverPending(&state) else { return }
            log = try state.client.call(Service.events, EventsRequest(after: 0, limit: 0), as: EventLog.self).0
        } catch ClientError.server(let error) where error.isBusy {
            // The broker answers, but not now: the next check asks again.
            brokerAnswers(&state)
            return
        } catch {
            brokerFailed(error, &state)
            return
        }
        brokerAnswers(&state)
        learnOwner(&state)
        guard let last = state.lastSeq else {
            state.lastSeq = log.last
            return
        }
        if log.last < last {
            logger.warning("the broker's announcement log restarted; following the new one", ["last": "\(log.last)"])
            state.lastSeq = log.last
        } else if log.last > last {
            recover(after: last, through: nil, &state)
        }
    }

    // MARK: Requests

    /// Answers one client request: submissions through the outbox, everything else passed to the broker.
    private func forward(_ frames: [Data], _ state: inout State) -> [Data] {
        guard let identity = frames.first else { return [] }
        var service = "pumasi.error"
        let body: [Data]
        do {
            guard case .clientRequest(let name, let requestBody) = try MDP.parse(frames.dropFirst()) else {
                throw ProtocolError(.badRequest, "a relay forwards MDP client requests only")
            }
            service = name
            switch name {
            case Service.submit: body = try submit(requestBody, &state)
            case Service.relayOutbox: body = [Wire.encode(Reply.success(try state.outbox.all()))]
            case Service.uploadBegin: body = try beginUpload(requestBody, &state)
            case Service.uploadChunk: body = try uploadChunk(requestBody, &state)
            default:
                if let since = state.brokerAway { throw unavailable(since: since, state) }
                body =
                    name == Service.whoami
                    ? try whoami(requestBody, &state)
                    : try state.client.request(service: name, body: ownerNamed(name, requestBody, state))
            }
        } catch let error as ClientError {
            if case .server = error {} else { brokerFailed(error, &state) }
            let failure: ProtocolError =
                switch error {
                case .server(let error): error
                default:
                    state.refusal.map { ProtocolError(.unavailable, $0) }
                        ?? ProtocolError(.unavailable, "relay could not reach the broker: \(error)")
                }
            body = [Wire.encode(Reply<Empty>.failure(failure))]
        } catch let error as ProtocolError {
            body = [Wire.encode(Reply<Empty>.failure(error))]
        } catch {
            body = [Wire.encode(Reply<Empty>.failure(ProtocolError(.internal, "relay failed: \(error)")))]
        }
        return [identity] + MDP.clientReply(service: service, body: body)
    }

    /// Commits the submission to the outbox, then tries the broker once. The client learns which happened.
    private func submit(_ body: [Data], _ state: inout State) throws -> [Data] {
        var request = try Wire.decode(SubmitRequest.self, from: body.first)
        request.solver = try submitter(named: request.solver, defaulted: request.solverDefaulted, state)
        request.solverDefaulted = nil
        if let upload = request.upload { return try submitUpload(request, upload: upload, &state) }
        guard body.count == 2 else {
            throw ProtocolError(
                .badRequest, "a submission carries exactly one file frame after the JSON; got \(body.count - 1)")
        }
        let clientId = request.clientId ?? UUID().uuidString.lowercased()
        request.clientId = clientId
        // A retry of something already delivered goes to the broker too: it answers from its own record.
        let entry = try state.outbox.add(request, clientId: clientId, content: body[1], now: WallClock.now())
        // The same file again within its repeat window is the entry already kept: it goes on under that one's id.
        request.clientId = entry.clientId
        // While the broker is away the receipt says "queued" at once; the periodic check delivers it. So too while
        // it has asked this relay to wait: the entries before this one go first, when the wait is over.
        if state.brokerAway == nil, !state.isHeldBusy {
            do {
                let (receipt, _) = try state.client.call(
                    Service.submit, request, files: [body[1]], as: Receipt.self)
                try state.outbox.delivered(entry, submission: receipt.submission)
                return [Wire.encode(Reply.success(receipt))]
            } catch ClientError.server(let error) where error.isFinal {
                try state.outbox.refused(entry, error: error.message)
                throw error
            } catch ClientError.server(let error) where error.isBusy {
                state.busy(error)
                logger.debug("broker busy; submission kept in the outbox", ["client.id": clientId])
            } catch {
                brokerFailed(error, &state)
                if state.refusal == nil {
                    logger.warning("broker unreachable; submissions kept in the outbox", ["client.id": clientId])
                }
            }
        }
        var receipt = Receipt(
            submission: "pending:\(entry.clientId)", challenge: entry.challenge, sha256: entry.sha256,
            size: entry.size, receivedAt: entry.queuedAt, duplicate: entry.clientId != clientId, queued: true)
        receipt.warning = state.refusal
        return [Wire.encode(Reply.success(receipt))]
    }

    /// Delivers pending submissions in order; stops at the first that cannot reach the broker, and at a busy reply
    /// (until `State.busyUntil`).
    /// - Returns: false when the broker did not answer (its failure is recorded in `state`); a busy reply is an answer.
    private func deliverPending(_ state: inout State) -> Bool {
        if state.isHeldBusy { return true }
        guard let pending = try? state.outbox.pending(), !pending.isEmpty else { return true }
        for (entry, content) in pending {
            if let file = try? state.outbox.file(of: entry) {
                guard deliverFile(entry, file, &state) else { return false }
                // Still uploading: the entries after it wait their turn, in order.
                if state.active != nil { return true }
                continue
            }
            var request = SubmitRequest(
                challenge: entry.challenge, solver: entry.solver, filename: entry.filename, clientId: entry.clientId,
                comment: entry.comment)
            request.repeatWindowSeconds = entry.repeatWindowSeconds
            do {
                let (receipt, _) = try state.client.call(Service.submit, request, files: [content], as: Receipt.self)
                try state.outbox.delivered(entry, submission: receipt.submission)
                logger.info("outbox delivered", ["client.id": entry.clientId, "submission.id": receipt.submission])
            } catch ClientError.server(let error) where error.isFinal {
                try? state.outbox.refused(entry, error: error.message)
                logger.warning("outbox submission refused", ["client.id": entry.clientId, "reason": error.message])
            } catch ClientError.server(let error) where error.isBusy {
                state.busy(error)
                return true
            } catch {
                brokerFailed(error, &state)
                return false
            }
        }
        return true
    }
}

extension ProtocolError {
    /// Whether the broker's refusal settles a submission for good. `unavailable` (a draining broker, or a busy one)
    /// and `internal` (a store failure) do not: the outbox keeps the submission and tries again.
    var isFinal: Bool { code != .unavailable && code != .internal }
}
