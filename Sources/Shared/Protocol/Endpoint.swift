/// ZeroMQ endpoint facts that more than one component checks.
public enum Endpoint {
    /// The endpoints of a list, as `--broker` and `PUMASI_BROKER` take them: comma-separated, one per broker host
    /// (`tcp://a:5555,tcp://b:5555`), of which one is active at a time.
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Whether an endpoint can be reached only from this machine (loopback TCP, ipc, inproc): the only places
    /// where Pumasi runs without CURVE.
    public static func isLocal(_ endpoint: String) -> Bool {
        ["tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"].contains { endpoint.hasPrefix($0) }
    }
}
