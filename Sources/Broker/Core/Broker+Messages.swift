import Foundation
import PumasiShared

extension Broker {
    /// Routes one inbound message. Runs inside the pass's transaction; each message gets a savepoint so that
    /// a failure while handling one never undoes the others in the batch.
    func handle(_ message: ZMQMessage) {
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
            // The savepoint undid the request's writes: drop what it meant to send, announcements included.
            outbox.removeSubrange(sendsBefore...)
            logger.error("request failed", ["peer": peerName(identity), "error": "\(error)"])
            if case .clientRequest(let service, _) = inbound {
                let failure = ProtocolError(.internal, "the broker could not complete the request: \(error)")
                send(to: identity, MDP.clientReply(service: service, body: [Wire.encode(Reply<Empty>.failure(failure))]))
            }
        }
    }
}
