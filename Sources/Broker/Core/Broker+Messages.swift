import Foundation
import PumasiShared

extension Broker {
    /// Routes one inbound message. Runs inside the pass's transaction; each client request gets a savepoint, so that
    /// a failure while handling one never undoes the others in the batch. An evaluator's message gets none: one whose
    /// writes fail stops the broker, and the pass's whole transaction is rolled back (below).
    func handle(_ message: ZMQMessage) throws {
        guard message.frames.count >= 2, let identity = message.frames.first else {
            logger.warning("message without routing envelope dropped", ["frames": "\(message.frames.count)"])
            return
        }
        let inbound: MDP.Inbound
        do {
            inbound = try MDP.parse(message.frames.dropFirst())
        } catch {
            if let line = throttled("invalid message", by: peerName(identity)) {
                logger.warning(
                    "invalid message",
                    [
                        "peer": peerName(identity), "error": error.description, "occurrences": "\(line.occurrences)",
                        "others.unlogged": "\(line.others)",
                    ])
            }
            let body = Wire.encode(Reply<Empty>.failure(ProtocolError(.badRequest, "invalid message: \(error)")))
            send(to: identity, MDP.clientReply(service: "pumasi.error", body: [body]))
            return
        }
        // Who sent it, from the transport (the user id the ZAP handler gave the connection), never from the body.
        var sender: Sender?
        if let principals {
            guard let userId = message.userId, let who = principals.principal(userId: userId) else {
                // An evaluator whose key was revoked is let go at once: no more jobs go to its connection.
                if memory.dispatcher.evaluators[identity] != nil { try dropEvaluator(identity, now: config.clock()) }
                return refuse(identity, inbound, "your key is not (or no longer) registered with this broker")
            }
            sender = Sender(name: who.name, role: who.role, scope: who.scope)
        }
        if let sender, let problem = Self.forbidden(inbound, for: sender.role) {
            if let line = throttled("request refused", by: sender.name) {
                logger.warning(
                    "request refused",
                    [
                        "peer": peerName(identity), "principal": sender.name, "reason": problem,
                        "occurrences": "\(line.occurrences)", "others.unlogged": "\(line.others)",
                    ])
            }
            return refuse(identity, inbound, problem)
        }
        // A sender over its rate is answered busy here, before the savepoint: a refusal costs no store work.
        if let busy = admit(identity, inbound, sender: sender) { return send(to: identity, busy) }
        // What the request holds the loop for beyond the ordinary is charged to its sender afterwards.
        let started = admission.isOn ? WallClock.monotonicNanos() : 0
        defer {
            if admission.isOn, inbound.isClientRequest {
                admission.charge(admissionKey(identity, sender), loopNanos: WallClock.monotonicNanos() - started)
            }
        }
        let now = config.clock()
        let sendsBefore = outbox.count
        let boardsAskedBefore = boardsAsked.count
        // The memory as it was, so that a client request rolled back leaves memory as the store is. Copied whole
        // for any client request but a submission (copy-on-write: a request pays for what it changes); a
        // submission, the one that comes by the thousand, syncs its writes before it changes any memory but the
        // mirrors kept here. Never for an evaluator's message: one that fails stops the broker (below), and with a
        // copy held each heartbeat and each result would copy every evaluator and lease whole to change one.
        let saved: BrokerMemory? = inbound.isClientRequest && !inbound.isSubmission ? memory : nil
        let mirrors = (memory.liveChallenges, memory.settleCandidates, memory.referenceCache)
        // A savepoint copies each page its request changes into SQLite's statement journal (4 KiB a page), which the
        // pass's rollback makes needless for an evaluator's message.
        let guarded: (() throws -> Void) throws -> Void = inbound.isClientRequest ? store.savepoint : store.synced
        do {
            try guarded {
                if case .clientRequest(let service, let body) = inbound {
                    let reply =
                        drainingSince == nil
                        ? try handleClient(service: service, body: body, sender: sender, from: identity, now: now)
                        : [Wire.encode(Reply<Empty>.failure(Self.stoppingError))]
                    if let reply { send(to: identity, MDP.clientReply(service: service, body: reply)) }
                } else {
                    try handleWorker(identity, inbound, sender: sender, now: now)
                }
            }
        } catch {
            // The savepoint undid the request's writes (an evaluator's, the pass's rollback will): undo its changes
            // in memory, and drop what it meant to send, announcements included.
            if let saved {
                memory = saved
            } else {
                (memory.liveChallenges, memory.settleCandidates, memory.referenceCache) = mirrors
            }
            outbox.removeSubrange(sendsBefore...)
            boardsAsked.removeSubrange(boardsAskedBefore...)
            guard case .clientRequest = inbound else {
                // An evaluator's message changes leases in memory before it writes: after a failed write the two
                // no longer agree, and only a restart (which rebuilds from the store) makes them agree again.
                throw BrokerFault.storeWriteFailed("\(error)")
            }
            guard store.isTransactionUsable else {
                // The transaction is gone (SQLite rolls it back itself on SQLITE_FULL or I/O errors) or failed
                // past the request's savepoint (PostgreSQL keeps it open until a rollback): what this pass did
                // before is lost too, so the pass must not go on as if it were not.
                throw BrokerFault.transactionLost("\(error)")
            }
            logger.error("request failed", ["peer": peerName(identity), "error": "\(error)"])
            if case .clientRequest(let service, _) = inbound {
                let failure = ProtocolError(.internal, "the broker could not complete the request: \(error)")
                send(
                    to: identity, MDP.clientReply(service: service, body: [Wire.encode(Reply<Empty>.failure(failure))]))
            }
        }
    }
}

extension Broker {
    /// Whether to log now what `sender` did wrong (`kind`): at most once per `LogThrottle.interval` for each
    /// sender and kind, and a few lines an interval in all. Its value is what the line stands for.
    func throttled(_ kind: String, by sender: String) -> LogThrottle.Line? {
        logThrottle.admit(kind + "\u{0}" + sender, now: config.clock())
    }
}

/// Who sent a request, as the transport says.
struct Sender {
    var name: String
    var role: Role
    /// An evaluator's binding to a seeker or a challenge.
    var scope: EvaluatorScope? = nil
}

extension Broker {
    /// The services each role may use; anything not listed is open to every registered principal.
    /// Who may call each service, when keys say who is calling. Deny by default: a service that is not listed here
    /// is refused to everyone, whatever `handleClient` knows of it, so a new service cannot be open by accident.
    /// Within a service, its handler decides further (a seeker manages only its own challenges, a solver reads
    /// only its own submissions). Evaluators call nothing but `reference`: they work as MDP workers.
    static let servicesByRole: [String: Set<Role>] = [
        Service.post: [.seeker, .admin],
        Service.list: [.seeker, .solver, .judge, .admin],
        Service.show: [.seeker, .solver, .judge, .admin],
        Service.file: [.seeker, .solver, .judge, .admin],
        Service.leaderboard: [.seeker, .solver, .judge, .admin],
        Service.report: [.seeker, .solver, .judge, .admin],
        Service.reportSubmissions: [.seeker, .solver, .judge, .admin],
        Service.status: [.seeker, .solver, .judge, .admin],
        Service.submissions: [.solver, .admin],
        Service.events: [.seeker, .solver, .judge, .admin],
        Service.mmiService: [.seeker, .solver, .judge, .admin],
        Service.close: [.seeker, .admin],
        Service.extend: [.seeker, .admin],
        Service.cancel: [.seeker, .admin],
        Service.rescore: [.seeker, .admin],
        Service.disqualify: [.seeker, .admin],
        Service.award: [.seeker, .admin],
        Service.submit: [.solver],
        Service.uploadBegin: [.solver, .seeker, .admin],
        Service.uploadChunk: [.solver, .seeker, .admin],
        Service.submissionFile: [.seeker, .solver, .admin, .evaluator],
        Service.select: [.solver],
        Service.quota: [.solver, .admin],
        Service.reference: [.evaluator],
        Service.judgeNext: [.judge, .admin],
        Service.judgeScore: [.judge, .admin],
        Service.accept: [.solver, .seeker],
        Service.agreement: [.seeker, .admin],
        Service.invitations: [.seeker, .admin],
        Service.join: [.solver, .seeker, .judge],
        Service.ask: [.solver],
        Service.answer: [.seeker, .admin],
        Service.clarifications: [.seeker, .solver, .judge, .admin],
        Service.team: [.solver, .seeker, .admin],
        Service.whoami: Set(Role.allCases),
    ]

    /// The service a request is checked as: every `mmi.*` request as `mmi.service`.
    static func listedService(_ service: String) -> String { service.hasPrefix("mmi.") ? Service.mmiService : service }

    /// Why `role` may not send this message, or nil if it may.
    static func forbidden(_ inbound: MDP.Inbound, for role: Role) -> String? {
        switch inbound {
        case .clientRequest(let service, _):
            // A service nobody may call is answered as unknown, by `handleClient`.
            guard let allowed = servicesByRole[listedService(service)], !allowed.contains(role) else { return nil }
            return
                "\(service) is for \(allowed.map(\.rawValue).sorted().joined(separator: " and ")); you are \(role.rawValue)"
        case .workerReady, .workerReply, .workerHeartbeat, .workerDisconnect:
            return role == .evaluator ? nil : "only evaluators may act as MDP workers; you are \(role.rawValue)"
        }
    }

    /// Answers a refused message: an error reply to a client, DISCONNECT to a would-be worker.
    func refuse(_ identity: Data, _ inbound: MDP.Inbound, _ reason: String) {
        if case .clientRequest(let service, _) = inbound {
            let body = Wire.encode(Reply<Empty>.failure(ProtocolError(.forbidden, reason)))
            send(to: identity, MDP.clientReply(service: service, body: [body]))
        } else if case .workerDisconnect = inbound {
            return
        } else {
            send(to: identity, MDP.worker(.disconnect))
        }
    }
}

/// A failure the broker cannot carry on from: the loop ends and a restart rebuilds state from the store.
enum BrokerFault: Error, CustomStringConvertible {
    case transactionLost(String)
    case storeWriteFailed(String)

    var description: String {
        switch self {
        case .transactionLost(let cause): "the store rolled back the pass's transaction (\(cause))"
        case .storeWriteFailed(let cause): "a write for an evaluator's message failed (\(cause))"
        }
    }
}
