import PumasiShared

/// Why a request to the broker did not succeed.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// No reply within the timeout: the broker is down, unreachable, or overloaded.
    case timeout(endpoint: String, seconds: Double)
    /// The broker answered with an error.
    case server(ProtocolError)
    /// The reply was not what the protocol promises.
    case invalidReply(String)
    case transport(ZMQError)

    public var description: String {
        switch self {
        case .timeout(let endpoint, let seconds):
            "no reply from the broker at \(endpoint) within \(seconds) s (is it running? check --broker)"
        case .server(let error): error.message
        case .invalidReply(let detail): "invalid reply from the broker: \(detail)"
        case .transport(let error): "\(error)"
        }
    }
}
