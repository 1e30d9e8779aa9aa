import Foundation
import PumasiShared

extension Broker {
    /// Meters a client request against its sender's bucket (`Admission`), before any store work.
    /// - Returns: the busy reply to send, when the sender is over its rate; nil when the request may go on.
    ///
    /// A refusal is not stored and not audited: a flood must stay cheap. It is logged at most once per sender each
    /// few seconds, with the count of refusals since the last line.
    func admit(_ identity: Data, _ inbound: MDP.Inbound, sender: Sender?) -> [Data]? {
        guard admission.isOn, case .clientRequest(let service, _) = inbound else { return nil }
        let key = admissionKey(identity, sender)
        let cost = admission.cost(service: service)
        guard let refusal = admission.admit(key, role: sender?.role, cost: cost, now: config.clock()) else {
            return nil
        }
        if let count = refusal.log {
            logger.warning(
                "sender over its rate; refused busy",
                [
                    "peer": peerName(identity), "principal": sender?.name ?? "-", "service": service,
                    "refused.since.last": "\(count)", "retry.after.ms": "\(refusal.retryAfterMs)",
                ])
        }
        let factor = admission.factor(sender?.role) ?? 1
        let rate = Self.figure(admission.rate * factor)
        let reads = Self.figure(admission.rate * factor / admission.readCost)
        let burst = Self.figure(admission.burst * factor)
        let error = ProtocolError(
            .unavailable,
            "busy: you are sending faster than \(rate) submissions a second (or \(reads) other requests; bursts of "
                + "\(burst)); retry in \(refusal.retryAfterMs) ms",
            retryAfterMs: refusal.retryAfterMs)
        return MDP.clientReply(service: service, body: [Wire.encode(Reply<Empty>.failure(error))])
    }

    /// Whose bucket a request is taken from: its principal's with CURVE, its connection's without.
    func admissionKey(_ identity: Data, _ sender: Sender?) -> Admission.Key {
        sender.map { .principal($0.name) } ?? .connection(identity)
    }

    /// A rate or a size as people write it: whole when it is, else with one decimal.
    private static func figure(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
