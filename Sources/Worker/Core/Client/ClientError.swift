import Foundation
import PumasiShared

/// Why a request to the broker did not succeed. The connection failures name their cause, as the socket's monitor
/// saw it (`ConnectionWatch`); docs/security.md lists the messages.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// No reply within the timeout over a connection that had completed its handshake: the broker is busy or stuck.
    case timeout(endpoint: String, seconds: Double)
    /// No connection to any broker: refused (nobody listens), or none made within the timeout.
    case unreachable(endpoint: String, refused: Bool, seconds: Double)
    /// The broker refused the client's key (ZAP status: 400 not registered or revoked, 300 or 500 not checked).
    case keyRefused(endpoint: String, status: Int, fingerprint: String)
    /// The security handshake failed: a broker key that is not the broker's, or one side without CURVE (told by
    /// whether the client uses it, and by the protocol error when libzmq gives one).
    case handshakeFailed(endpoint: String, clientUsesCurve: Bool, mechanismMismatch: Bool, detail: String)
    /// The broker closed the connection while the request was pending; the size of the request.
    case disconnected(endpoint: String, requestBytes: Int)
    /// The broker answered with an error.
    case server(ProtocolError)
    /// The reply was not what the protocol promises.
    case invalidReply(String)
    case transport(ZMQError)

    /// Whether trying again may help (the broker could not be reached, lost the request, or garbled a reply: an
    /// upload resumes after these), as opposed to the broker's answer, a refused key or a failed handshake.
    /// The broker was not there to take the request: nobody listened, or the connection closed under it (a broker
    /// stopping, or restarting).
    public var isBrokerAway: Bool {
        switch self {
        case .unreachable(_, let refused, _): refused
        case .disconnected: true
        default: false
        }
    }

    public var isTransient: Bool {
        switch self {
        case .timeout, .unreachable, .disconnected, .transport, .invalidReply: true
        case .keyRefused, .handshakeFailed, .server: false
        }
    }

    /// Requests at least this large are said to be perhaps over the broker's message limit when the broker
    /// closes the connection under them.
    static let largeRequestBytes = 1 << 20

    public var description: String {
        switch self {
        case .timeout(let endpoint, let seconds):
            "no reply from the broker at \(endpoint) within \(Self.seconds(seconds)) (is it running? check --broker)"
        case .unreachable(let endpoint, true, _):
            "no broker answers at \(endpoint) (connection refused): is it running? check --broker"
        case .unreachable(let endpoint, false, let seconds):
            "no broker answers at \(endpoint): no connection within \(Self.seconds(seconds)) "
                + "(check --broker, and that the host and port are reachable)"
        case .keyRefused(let endpoint, 400, let fingerprint):
            "the broker at \(endpoint) refused your key (not registered, or revoked; fingerprint \(fingerprint)): "
                + "register it with `pumasi-broker keys add --role ROLE --name NAME YOUR.key.pub`, or check --key"
        case .keyRefused(let endpoint, let status, _):
            "the broker at \(endpoint) could not check your key (ZAP status \(status)): try again, or ask its operator"
        case .handshakeFailed(let endpoint, true, true, _):
            "the broker at \(endpoint) does not use CURVE (it was started with --insecure): "
                + "connect with --broker-key none, or check --broker"
        case .handshakeFailed(let endpoint, true, false, _):
            "the CURVE handshake with the broker at \(endpoint) failed: the broker's key is not the one given "
                + "(--broker-key or $PUMASI_BROKER_KEY: use the broker's <data-dir>/broker.key.pub), or the broker "
                + "does not use CURVE (started with --insecure: then --broker-key none)"
        case .handshakeFailed(let endpoint, false, _, _):
            // libzmq reports a CURVE server's refusal of a client without CURVE without detail. A CURVE client of a
            // broker without it sees the mismatch, or (when the broker's close wins the race) no detail either.
            "the broker at \(endpoint) expects CURVE: give --key and --broker-key (or $PUMASI_KEY and "
                + "$PUMASI_BROKER_KEY)"
        case .disconnected(let endpoint, let bytes) where bytes >= Self.largeRequestBytes:
            "the broker at \(endpoint) closed the connection before replying: the message "
                + "(\(Self.megabytes(bytes))) may be over its limit (pumasi-broker --max-message-mb, 64 MB by default)"
        case .disconnected(let endpoint, _):
            "the broker at \(endpoint) closed the connection before replying (it stopped or restarted): try again"
        case .server(let error): error.message
        case .invalidReply(let detail): "invalid reply from the broker: \(detail)"
        case .transport(let error): "\(error)"
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    private static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / Double(1 << 20))
    }
}
