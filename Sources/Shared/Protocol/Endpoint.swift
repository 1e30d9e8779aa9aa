/// ZeroMQ endpoint facts that more than one component checks.
public enum Endpoint {
    /// Whether an endpoint can be reached only from this machine (loopback TCP, ipc, inproc): the only places
    /// where Pumasi runs without CURVE.
    public static func isLocal(_ endpoint: String) -> Bool {
        ["tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"].contains { endpoint.hasPrefix($0) }
    }
}
