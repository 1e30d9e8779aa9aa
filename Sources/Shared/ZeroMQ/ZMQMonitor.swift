internal import CZeroMQ
import Foundation

/// Watches one socket's connections (`zmq_socket_monitor`) and reports when one drops: a peer that went away,
/// seen at once rather than after missed heartbeats. Events arrive on a PAIR socket of its own, to poll beside
/// the watched one.
///
/// Thread rule: the watched socket's thread; create it after the socket and let it go with it.
public final class ZMQMonitor {
    /// Poll it; a readable one has events for `disconnected()`.
    public let socket: ZMQSocket

    /// Starts watching `watched` for dropped connections.
    public init(watching watched: ZMQSocket) throws(ZMQError) {
        let endpoint = "inproc://pumasi-monitor-\(UUID().uuidString)"
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") {
            zmq_socket_monitor(watched.handle, endpoint, ZMQ_EVENT_DISCONNECTED)
        }
        socket = try ZMQSocket(watched.context, .pair)
        try socket.connect(endpoint)
    }

    /// Reads the events waiting. - Returns: whether a connection dropped among them.
    public func disconnected() throws(ZMQError) -> Bool {
        var dropped = false
        while let message = try socket.receive(dontWait: true) {
            // First frame: the event (16 bits) and its value (32 bits), in the machine's order; then the endpoint.
            guard let first = message.frames.first, first.count >= 6 else { continue }
            let event = first.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
            if Int32(event) & ZMQ_EVENT_DISCONNECTED != 0 { dropped = true }
        }
        return dropped
    }
}
