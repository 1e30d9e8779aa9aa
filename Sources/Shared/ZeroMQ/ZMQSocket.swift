internal import CZeroMQ
import Foundation
import Glibc

/// The socket types Pumasi uses.
public enum ZMQSocketType: Sendable {
    case router, dealer, pub, sub, pair, req, rep, push, pull

    var raw: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        }
    }
}

/// One multipart message as received, with the transport's metadata about its sender.
public struct ZMQMessage: Sendable {
    public var frames: [Data]
    /// The user id a ZAP handler assigned to the sending connection, if any.
    public var userId: String?
    /// Set when the reader refused to keep the whole message (`receive(dontWait:admit:)`): `frames` then holds only
    /// the frames before the first one refused, and this says how large the message was.
    public var cut: Cut?

    public init(frames: [Data], userId: String? = nil, cut: Cut? = nil) {
        self.frames = frames
        self.userId = userId
        self.cut = cut
    }

    /// The size of a message that was read only in part: all its frames and bytes, those discarded included.
    public struct Cut: Sendable, Equatable {
        public var frames: Int
        public var bytes: Int

        public init(frames: Int, bytes: Int) {
            self.frames = frames
            self.bytes = bytes
        }
    }
}

/// A libzmq socket. It is the single owner of its handle and closes it in `deinit`, after setting the
/// configured linger; it keeps its context alive until then.
///
/// Thread rule: a socket belongs to one thread at a time. Create it on the thread that uses it.
public final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    public let context: ZMQContext
    public let type: ZMQSocketType

    public init(_ context: ZMQContext, _ type: ZMQSocketType, linger: Int32 = 0) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.raw) else { throw ZMQError.last("zmq_socket") }
        self.handle = handle
        self.context = context
        self.type = type
        try setOption(.linger, linger)
    }

    deinit { zmq_close(handle) }

    // MARK: Endpoints

    public func bind(_ endpoint: String) throws(ZMQError) {
        try zmqCall("bind(\(endpoint))") { zmq_bind(handle, endpoint) }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCall("connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// Stops listening on `endpoint` (a bound one, as `lastEndpoint` gives it), freeing its port.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try zmqCall("unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try zmqCall("disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    /// The endpoint last bound, with the real port after binding `tcp://host:*`.
    public var lastEndpoint: String {
        get throws(ZMQError) { try stringOption(ZMQ_LAST_ENDPOINT, "getsockopt(LAST_ENDPOINT)") }
    }

    // MARK: Sending

    /// Waits up to `timeoutMilliseconds` until a message can be queued without blocking: with `immediate` set, until
    /// a connection to some peer has completed. - Returns: whether one can.
    public func waitWritable(timeoutMilliseconds: Int) throws(ZMQError) -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLOUT), revents: 0)
        _ = try zmqCall("zmq_poll") { zmq_poll(&item, 1, timeoutMilliseconds) }
        return item.revents & Int16(ZMQ_POLLOUT) != 0
    }

    /// Sends all frames as one multipart message.
    /// - Returns: false when `dontWait` is set and the message could not be queued (EAGAIN).
    @discardableResult
    public func send(_ frames: [Data], dontWait: Bool = false) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            var rc: Int32
            repeat {
                rc = frame.withUnsafeBytes { bytes in Int32(zmq_send(handle, bytes.baseAddress, bytes.count, flags)) }
            } while rc == -1 && zmq_errno() == EINTR
            if rc == -1 {
                let error = ZMQError.last("send")
                // libzmq queues a multipart message atomically: EAGAIN can only happen on the first frame.
                if error.isWouldBlock && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Convenience for text frames.
    @discardableResult
    public func send(strings: [String], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try send(strings.map { Data($0.utf8) }, dontWait: dontWait)
    }

    // MARK: Receiving

    /// Receives one whole multipart message.
    /// - Returns: nil when `dontWait` is set and nothing is waiting (EAGAIN).
    public func receive(dontWait: Bool = false) throws(ZMQError) -> ZMQMessage? {
        try receive(dontWait: dontWait, admit: { _, _, _ in true })
    }

    /// Receives one multipart message, copying a frame only if `admit` takes it: `admit(kept, keptBytes, size)`
    /// is asked before each frame with the frames kept so far, their total size and the size of the next one. Once
    /// it says no, the rest of the message is read and released without being copied (libzmq hands over a message
    /// only whole, so it must be read to the end), and the message comes back with `cut` set. This is how a reader
    /// bounds what one message costs it, whatever the peer sent.
    /// - Returns: nil when `dontWait` is set and nothing is waiting (EAGAIN).
    public func receive(
        dontWait: Bool, admit: (_ kept: [Data], _ keptBytes: Int, _ size: Int) -> Bool
    ) throws(ZMQError) -> ZMQMessage? {
        var frames: [Data] = []
        var keptBytes = 0
        var cut: ZMQMessage.Cut?
        var userId: String?
        var index = 0
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        while true {
            let first = frames.isEmpty && cut == nil
            do {
                try zmqCall("recv") { zmq_msg_recv(&msg, handle, dontWait && first ? ZMQ_DONTWAIT : 0) }
            } catch {
                if error.isWouldBlock && first { return nil }
                throw error
            }
            let size = zmq_msg_size(&msg)
            // Asked of the first two frames: a ROUTER's first frame, the peer's routing id, is made by the socket and
            // carries none of the connection's metadata; every frame after it carries the same as the second. (Asking
            // a frame that has none costs a lookup that fails, and a message has 5 to 7 frames.)
            if index < 2, userId == nil, let value = zmq_msg_gets(&msg, "User-Id") { userId = String(cString: value) }
            index += 1
            if cut == nil, !admit(frames, keptBytes, size) {
                cut = ZMQMessage.Cut(frames: frames.count, bytes: keptBytes)
            }
            if cut != nil {
                cut?.frames += 1
                cut?.bytes += size
            } else {
                frames.append(size > 0 ? zmq_msg_data(&msg).map { Data(bytes: $0, count: size) } ?? Data() : Data())
                keptBytes += size
            }
            if zmq_msg_more(&msg) == 0 { break }
        }
        return ZMQMessage(frames: frames, userId: userId, cut: cut)
    }

    /// Receives one whole multipart message and shows each frame's bytes to `visit` (frame index, bytes) in place,
    /// without copying them: for readers that look at a few bytes of many messages. The bytes are valid only
    /// during the call.
    /// - Returns: false when `dontWait` is set and nothing is waiting (EAGAIN).
    public func receive(dontWait: Bool, visit: (Int, UnsafeRawBufferPointer) -> Void) throws(ZMQError) -> Bool {
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        var index = 0
        while true {
            let flags: Int32 = dontWait && index == 0 ? ZMQ_DONTWAIT : 0
            do {
                try zmqCall("recv") { zmq_msg_recv(&msg, handle, flags) }
            } catch {
                if error.isWouldBlock && index == 0 { return false }
                throw error
            }
            visit(index, UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
            index += 1
            if zmq_msg_more(&msg) == 0 { return true }
        }
    }

    /// Receives the frames of one message, blocking.
    public func receiveFrames() throws(ZMQError) -> [Data] {
        try receive(dontWait: false)?.frames ?? []
    }

    // MARK: Options

    public enum IntOption: Sendable {
        case linger, sendHighWaterMark, receiveHighWaterMark, routerMandatory, immediate
        case reconnectInterval, reconnectIntervalMax, sendTimeout, receiveTimeout
        case heartbeatInterval, heartbeatTimeout, heartbeatTTL, curveServer, zapEnforceDomain, backlog

        var raw: Int32 {
            switch self {
            case .linger: ZMQ_LINGER
            case .sendHighWaterMark: ZMQ_SNDHWM
            case .receiveHighWaterMark: ZMQ_RCVHWM
            case .routerMandatory: ZMQ_ROUTER_MANDATORY
            case .immediate: ZMQ_IMMEDIATE
            case .reconnectInterval: ZMQ_RECONNECT_IVL
            case .reconnectIntervalMax: ZMQ_RECONNECT_IVL_MAX
            case .sendTimeout: ZMQ_SNDTIMEO
            case .receiveTimeout: ZMQ_RCVTIMEO
            case .heartbeatInterval: ZMQ_HEARTBEAT_IVL
            case .heartbeatTimeout: ZMQ_HEARTBEAT_TIMEOUT
            case .heartbeatTTL: ZMQ_HEARTBEAT_TTL
            case .curveServer: ZMQ_CURVE_SERVER
            case .zapEnforceDomain: 93  // ZMQ_ZAP_ENFORCE_DOMAIN, a draft constant that Debian's build accepts
            case .backlog: ZMQ_BACKLOG
            }
        }
    }

    public enum BytesOption: Sendable {
        case routingId, subscribe, unsubscribe, curvePublicKey, curveSecretKey, curveServerKey, zapDomain

        var raw: Int32 {
            switch self {
            case .routingId: ZMQ_ROUTING_ID
            case .subscribe: ZMQ_SUBSCRIBE
            case .unsubscribe: ZMQ_UNSUBSCRIBE
            case .curvePublicKey: ZMQ_CURVE_PUBLICKEY
            case .curveSecretKey: ZMQ_CURVE_SECRETKEY
            case .curveServerKey: ZMQ_CURVE_SERVERKEY
            case .zapDomain: ZMQ_ZAP_DOMAIN
            }
        }
    }

    public func setOption(_ option: IntOption, _ value: Int32) throws(ZMQError) {
        var value = value
        try zmqCall("setsockopt(\(option))") {
            zmq_setsockopt(handle, option.raw, &value, MemoryLayout<Int32>.size)
        }
    }

    public func intOption(_ option: IntOption) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCall("getsockopt(\(option))") { zmq_getsockopt(handle, option.raw, &value, &size) }
        return value
    }

    /// Refuses inbound frames larger than `bytes` before they are buffered: the peer is disconnected. libzmq applies
    /// it to each frame, not to a multipart message (whose frame count it does not bound).
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        var value = bytes
        try zmqCall("setsockopt(MAXMSGSIZE)") {
            zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size)
        }
    }

    public func setOption(_ option: BytesOption, _ value: Data) throws(ZMQError) {
        let rc = value.withUnsafeBytes { bytes in zmq_setsockopt(handle, option.raw, bytes.baseAddress, bytes.count) }
        if rc == -1 { throw ZMQError.last("setsockopt(\(option))") }
    }

    public func setOption(_ option: BytesOption, _ value: String) throws(ZMQError) {
        try setOption(option, Data(value.utf8))
    }

    private func stringOption(_ option: Int32, _ operation: String) throws(ZMQError) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        try zmqCall(operation) { zmq_getsockopt(handle, option, &buffer, &size) }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
