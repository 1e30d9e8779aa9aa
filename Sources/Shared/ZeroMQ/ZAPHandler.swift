internal import CZeroMQ
import Foundation

/// A ZAP (27/ZAP) handler: decides, for each new CURVE connection to a server socket of its context, whether
/// the client's public key may connect and under which user id. libzmq then stamps that user id on every
/// message from the connection (`ZMQMessage.userId`), so a server learns who sent a request from the
/// transport, never from the request's body.
///
/// Create it before binding any CURVE server socket, and answer its requests from the owner's poll loop
/// (`socket` is pollable; call `handlePending()` when it is readable). With no handler bound, libzmq would
/// let any client that knows the server key in.
///
/// Thread rule: the owner's thread, like its socket.
public final class ZAPHandler {
    /// What the policy says about one connection attempt.
    public enum Decision: Sendable, Equatable {
        case allow(userId: String)
        case deny(reason: String)
    }

    public let socket: ZMQSocket
    private let policy: (_ publicKey: String, _ address: String) -> Decision

    /// - Parameter policy: gets the client's public key (Z85) and IP address.
    public init(context: ZMQContext, policy: @escaping (_ publicKey: String, _ address: String) -> Decision)
        throws(ZMQError)
    {
        socket = try ZMQSocket(context, .rep)
        try socket.bind("inproc://zeromq.zap.01")
        self.policy = policy
    }

    /// Answers every waiting request. A malformed request is answered 500, as the RFC asks.
    public func handlePending() throws(ZMQError) {
        while let request = try socket.receive(dontWait: true) {
            try socket.send(Self.answer(request.frames, policy: policy))
        }
    }

    static func answer(_ frames: [Data], policy: (String, String) -> Decision) -> [Data] {
        // version, request id, domain, address, identity, mechanism, credentials…
        let requestId = frames.count > 1 ? frames[1] : Data()
        func reply(_ status: String, _ text: String, _ user: String = "") -> [Data] {
            [Data("1.0".utf8), requestId, Data(status.utf8), Data(text.utf8), Data(user.utf8), Data()]
        }
        guard frames.count >= 6, frames[0] == Data("1.0".utf8) else { return reply("500", "malformed ZAP request") }
        guard frames[5] == Data("CURVE".utf8), frames.count == 7, frames[6].count == 32 else {
            return reply("400", "only CURVE is accepted")
        }
        let address = String(decoding: frames[3], as: UTF8.self)
        switch policy(CurveKeyPair.z85(frames[6]), address) {
        case .allow(let userId): return reply("200", "OK", userId)
        case .deny(let reason): return reply("400", reason)
        }
    }
}

extension CurveKeyPair {
    /// Z85 text for a 32-byte binary key.
    public static func z85(_ key: Data) -> String {
        var text = [CChar](repeating: 0, count: 41)
        let ok = key.withUnsafeBytes { bytes in
            zmq_z85_encode(&text, bytes.bindMemory(to: UInt8.self).baseAddress, bytes.count) != nil
        }
        guard ok else { return "" }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
