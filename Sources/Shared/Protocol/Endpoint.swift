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

    /// What is wrong with an endpoint as given, or nil: `tcp://host:port` (port `*` for a bound one),
    /// `ipc://path` or `inproc://name`. A bare `host:port` gets a suggestion, not libzmq's `Invalid argument`.
    public static func problem(_ endpoint: String) -> String? {
        let usage = "tcp://host:port, ipc://path or inproc://name"
        guard let separator = endpoint.range(of: "://") else {
            if let colon = endpoint.lastIndex(of: ":"), !endpoint[..<colon].isEmpty,
                endpoint[endpoint.index(after: colon)...].allSatisfy(\.isNumber),
                endpoint.index(after: colon) < endpoint.endIndex
            {
                return "'\(endpoint)' is not an endpoint: did you mean tcp://\(endpoint)?"
            }
            return "'\(endpoint)' is not an endpoint (\(usage))"
        }
        let transport = endpoint[..<separator.lowerBound]
        let address = endpoint[separator.upperBound...]
        switch transport {
        case "tcp":
            guard let colon = address.lastIndex(of: ":"), !address[..<colon].isEmpty else {
                return "'\(endpoint)' needs a host and a port (tcp://host:port)"
            }
            let port = address[address.index(after: colon)...]
            guard port == "*" || (UInt16(port).map { $0 > 0 } ?? false) else {
                return "'\(endpoint)': '\(port)' is not a port (1 to 65535)"
            }
            return nil
        case "ipc", "inproc":
            return address.isEmpty ? "'\(endpoint)' needs a \(transport == "ipc" ? "path" : "name")" : nil
        default:
            return "'\(endpoint)': Pumasi does not speak '\(transport)' (\(usage))"
        }
    }

    /// What is wrong with a comma-separated list of endpoints (`list`), or nil.
    public static func listProblem(_ text: String) -> String? {
        let endpoints = list(text)
        guard !endpoints.isEmpty else { return "no endpoint given" }
        return endpoints.lazy.compactMap(problem).first
    }
}
