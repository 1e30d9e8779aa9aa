import Foundation
import PumasiShared

/// How a relay tells a broker that is away from one that turns it away. Both leave the relay answering its clients at
/// once, submissions from the outbox; a broker that refuses the relay's key (not registered, or revoked) or fails its
/// CURVE handshake will not take the outbox's submissions by waiting, so the relay says so: once in its log, at
/// error level, and in every reply meanwhile (a queued receipt's `warning`, other requests' error), until the broker
/// answers again.
extension Relay {
    /// Records a failed request to the broker: the broker is away, and perhaps refuses this relay.
    func brokerFailed(_ error: any Error, _ state: inout State) {
        if state.brokerAway == nil { state.brokerAway = WallClock.now() }
        guard let refusal = Self.refusal(error) else { return }
        if state.refusal == nil {
            logger.error(
                "the broker refuses this relay's key; submissions are kept in the outbox until it takes it",
                ["broker": config.brokerEndpoint, "reason": "\(error)"])
        }
        state.refusal = refusal
    }

    /// The broker answered: it is back, and takes the relay's key.
    func brokerAnswers(_ state: inout State) {
        if state.refusal != nil {
            logger.info("the broker takes this relay's key again")
        } else if state.brokerAway != nil {
            logger.info("the broker answers again")
        }
        state.brokerAway = nil
        state.refusal = nil
    }

    /// The reply to a request the relay cannot pass on while its broker is away or refuses it.
    func unavailable(since: Millis, _ state: State) -> ProtocolError {
        if let refusal = state.refusal { return ProtocolError(.unavailable, refusal) }
        return ProtocolError(
            .unavailable,
            "the relay's broker has not answered since \(WallClock.iso(since)); submissions are kept in the relay's "
                + "outbox and delivered when it returns")
    }

    /// What to tell clients when `error` is the broker turning this relay away, not only being away.
    static func refusal(_ error: any Error) -> String? {
        guard let error = error as? ClientError else { return nil }
        switch error {
        case .keyRefused, .handshakeFailed:
            return "the broker refuses this relay's key (\(error)); submissions are kept in the relay's outbox and "
                + "delivered once the broker's operator registers the relay's key"
        default: return nil
        }
    }
}
