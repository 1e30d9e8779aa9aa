internal import CZeroMQ
import Foundation

/// Watches one socket's connections (`zmq_socket_monitor`): a peer that went away, seen at once rather than after
/// missed heartbeats, or a handshake that failed. Events arrive on a PAIR socket of its own, to poll beside the
/// watched one.
///
/// libzmq sends each event from the thread that sees it (most from the context's I/O thread) with a blocking send on
/// a PAIR socket of the watched one's. Were that send ever to wait, the I/O thread would wait with it, and every
/// socket of the context would stop connecting, reconnecting and handshaking for good. Two rules keep it from
/// waiting:
/// - the reading socket takes events without a high-water mark (`ZMQ_RCVHWM` 0 on the connecting side of an inproc
///   pipe lifts its limit), so that events nobody reads for a while (a client idle between requests, a standby's
///   port refusing it every second) are kept, not blocked on;
/// - the monitor ends the watching (`zmq_socket_monitor` with no endpoint) before it closes its reading socket, and
///   keeps the watched socket open until then: a PAIR with no peer blocks every send.
///
/// Thread rule: the watched socket's thread; create it after the socket and let it go with it.
public final class ZMQMonitor {
    /// Poll it; a readable one has events for `disconnected()` or `events()`.
    public let socket: ZMQSocket
    /// Held so that it stays open until the watching has ended (`deinit`).
    private let watched: ZMQSocket

    /// One event: what happened (`ZMQ_EVENT_*`), its value (a file descriptor, or an error or protocol code), and
    /// the endpoint it concerns (for a bound socket, its own endpoint: libzmq does not name the peer).
    public struct Event: Sendable {
        public var event: Int32
        public var value: UInt32
        public var endpoint: String

        public init(event: Int32, value: UInt32, endpoint: String) {
            self.event = event
            self.value = value
            self.endpoint = endpoint
        }

        /// An event of a kind, as a connecting socket's monitor reports it (for tests of what reads them).
        public init(_ kind: Kind, value: UInt32 = 0, endpoint: String = "") {
            let event: Int32 =
                switch kind {
                case .connected: ZMQ_EVENT_CONNECTED
                case .retried: ZMQ_EVENT_CONNECT_RETRIED
                case .disconnected: ZMQ_EVENT_DISCONNECTED
                case .handshakeSucceeded: ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                case .authenticationFailed: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                case .handshakeFailed: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                case .other: 0
                }
            self.init(event: event, value: value, endpoint: endpoint)
        }

        /// A CURVE (or other security) handshake failed for a reason of protocol: `value` says which.
        public var isHandshakeFailure: Bool {
            event & (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0
        }

        /// What happened, for a connecting socket (`Watch.connections`).
        public var kind: Kind {
            switch event {
            case ZMQ_EVENT_CONNECTED: .connected
            case ZMQ_EVENT_CONNECT_RETRIED: .retried
            case ZMQ_EVENT_DISCONNECTED: .disconnected
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: .authenticationFailed
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: .handshakeFailed
            default: .other
            }
        }

        /// For a failed handshake: libzmq knows no reason. The peer closed the connection during the handshake:
        /// a server that cannot decrypt the client's HELLO (the client holds the wrong server key) does, and so
        /// does a server that is stopping.
        public var isWithoutDetail: Bool { event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL }

        /// For a failed handshake: the peer speaks another security mechanism (one side CURVE, the other not).
        public var isMechanismMismatch: Bool {
            event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                && Int32(bitPattern: value) == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
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

    /// The events of a connecting socket that `Event.kind` names.
    public enum Kind: Sendable, Equatable {
        /// The TCP (or ipc) connection is made; the handshake follows.
        case connected
        /// A connection attempt failed (refused, unreachable) and will be retried: libzmq gives no errno.
        case retried
        case disconnected
        case handshakeSucceeded
        /// The server's ZAP handler refused the client's key; `value` is its status code (400: denied).
        case authenticationFailed
        /// The security handshake failed (a CURVE key that does not match, or one side without CURVE).
        case handshakeFailed
        case other
    }

    /// What to watch for: a peer going away, a bound socket's failed handshakes, every step of a connecting
    /// socket's connections (connected, retried, handshake succeeded or failed, disconnected), or its failures.
    public enum Watch: Sendable {
        case disconnections, handshakeFailures, connections
        /// A connecting socket's disconnections and failed handshakes (refused keys among them).
        case connectionFailures
        /// `connections` without the retries: for a socket whose owner reads events only now and then while one of
        /// its endpoints may refuse it for days (a standby broker's), so that the unread events, kept without a
        /// high-water mark, do not pile up at one a second.
        case connectionsExceptRetries
    }

    /// Starts watching `watched`.
    public init(watching watched: ZMQSocket, for watch: Watch = .disconnections) throws(ZMQError) {
        let endpoint = "inproc://pumasi-monitor-\(UUID().uuidString)"
        let handshakeFailures = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        let events =
            switch watch {
            case .disconnections: ZMQ_EVENT_DISCONNECTED
            case .handshakeFailures: handshakeFailures
            case .connectionFailures: ZMQ_EVENT_DISCONNECTED | handshakeFailures | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            case .connections:
                handshakeFailures | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                    | ZMQ_EVENT_CONNECTED
                    | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED
            case .connectionsExceptRetries:
                handshakeFailures | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                    | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
            }
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") {
            zmq_socket_monitor(watched.handle, endpoint, events)
        }
        self.watched = watched
        do {
            socket = try ZMQSocket(watched.context, .pair)
            try socket.setOption(.receiveHighWaterMark, 0)
            try socket.connect(endpoint)
        } catch {
            zmq_socket_monitor(watched.handle, nil, 0)
            throw error
        }
    }

    /// Ends the watching first: no event is sent after this, so none can wait for a reader that is gone.
    deinit { zmq_socket_monitor(watched.handle, nil, 0) }

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
