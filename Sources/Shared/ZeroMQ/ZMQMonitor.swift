internal import CZeroMQ
import Foundation

/// Watches one socket's connections (`zmq_socket_monitor`): a peer that went away, seen at once rather than after
/// missed heartbeats, or a handshake that failed. Events arrive on a PAIR socket of its own, to poll beside the
/// watched one.
///
/// Thread rule: the watched socket's thread; create it after the socket and let it go with it.
public final class ZMQMonitor {
    /// Poll it; a readable one has events for `disconnected()` or `events()`.
    public let socket: ZMQSocket

    /// One event: what happened (`ZMQ_EVENT_*`), its value (a file descriptor, or an error or protocol code), and
    /// the endpoint it concerns (for a bound socket, its own endpoint: libzmq does not name the peer).
    public struct Event: Sendable {
        public var event: Int32
        public var value: UInt32
        public var endpoint: String

        /// A CURVE (or other security) handshake failed for a reason of protocol: `value` says which.
        public var isHandshakeFailure: Bool {
            event & (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0
        }

        /// Why a handshake failed, in words.
        public var handshakeProblem: String {
            guard event & ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL != 0 else { return "the handshake failed (no detail)" }
            switch Int32(bitPattern: value) {
            case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
                return "the client's HELLO did not decrypt: it holds the wrong server key"
            case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
                return "the client does not use CURVE"
            default:
                return "protocol error 0x\(String(value, radix: 16))"
            }
        }
    }

    /// What to watch for.
    public enum Watch: Sendable {
        case disconnections, handshakeFailures
    }

    /// Starts watching `watched`.
    public init(watching watched: ZMQSocket, for watch: Watch = .disconnections) throws(ZMQError) {
        let endpoint = "inproc://pumasi-monitor-\(UUID().uuidString)"
        let events =
            watch == .disconnections
            ? ZMQ_EVENT_DISCONNECTED : ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") {
            zmq_socket_monitor(watched.handle, endpoint, events)
        }
        socket = try ZMQSocket(watched.context, .pair)
        try socket.connect(endpoint)
    }

    /// Reads the events waiting.
    public func events() throws(ZMQError) -> [Event] {
        var events: [Event] = []
        while let message = try socket.receive(dontWait: true) {
            // First frame: the event (16 bits) and its value (32 bits), in the machine's order; then the endpoint.
            guard let first = message.frames.first, first.count >= 6 else { continue }
            let event = first.withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }
            let value = first.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
            let endpoint = message.frames.count > 1 ? String(decoding: message.frames[1], as: UTF8.self) : ""
            events.append(Event(event: Int32(event), value: value, endpoint: endpoint))
        }
        return events
    }

    /// Reads the events waiting. - Returns: whether a connection dropped among them.
    public func disconnected() throws(ZMQError) -> Bool {
        try events().contains { $0.event & ZMQ_EVENT_DISCONNECTED != 0 }
    }
}
