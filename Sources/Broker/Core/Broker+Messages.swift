import Foundation
import PumasiShared

extension Broker {
    /// Routes one inbound message. Runs inside the pass's transaction; each message gets a savepoint so that
    /// a failure while handling one never undoes the others in the batch.
    func handle(_ message: ZMQMessage) throws {
        guard message.frames.count >= 2, let identity = message.frames.first else {
            logger.warning("message without routing envelope dropped", ["frames": "\(message.frames.count)"])
            return
        }
        let inbound: MDP.Inbound
        do {
            inbound = try MDP.parse(message.frames.dropFirst())
        } catch {
            logger.warning("invalid message", ["peer": peerName(identity), "error": error.description])
            let body = Wire.encode(Reply<Empty>.failure(ProtocolError(.badRequest, "invalid message: \(error)")))
            send(to: identity, MDP.clientReply(service: "pumasi.error", body: [body]))
            return
        }
        let now = config.clock()
        let sendsBefore = outbox.count
        // The small in-memory state a client request may change before a write fails, so that a rolled-back
        // request leaves it as the store is. (A client request touches the dispatcher only after its last write.)
        let saved = (liveChallenges, settleCandidates, referenceCache)
        do {
            try store.savepoint {
                if case .clientRequest(let service, let body) = inbound {
                    let reply =
                        drainingSince == nil
                        ? try handleClient(service: service, body: body, now: now)
                        : [Wire.encode(Reply<Empty>.failure(ProtocolError(.unavailable, "the broker is shutting down")))]
                    send(to: identity, MDP.clientReply(service: service, body: reply))
                } else {
                    try handleWorker(identity, inbound, now: now)
                }
            }
        } catch {
            // The savepoint undid the request's writes: undo its changes in memory, and drop what it meant to
            // send, announcements included.
            (liveChallenges, settleCandidates, referenceCache) = saved
            outbox.removeSubrange(sendsBefore...)
            guard case .clientRequest = inbound else {
                // An evaluator's message changes leases in memory before it writes: after a failed write the two
                // no longer agree, and only a restart (which rebuilds from the store) makes them agree again.
                throw BrokerFault.storeWriteFailed("\(error)")
            }
            guard store.isInTransaction else {
                // SQLite rolled back the whole transaction (it may, on SQLITE_FULL or I/O errors): what this pass
                // did before is gone too, so the pass must not go on as if it were not.
                throw BrokerFault.transactionLost("\(error)")
            }
            logger.error("request failed", ["peer": peerName(identity), "error": "\(error)"])
            if case .clientRequest(let service, _) = inbound {
                let failure = ProtocolError(.internal, "the broker could not complete the request: \(error)")
                send(to: identity, MDP.clientReply(service: service, body: [Wire.encode(Reply<Empty>.failure(failure))]))
            }
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
