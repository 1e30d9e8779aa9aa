import Foundation
import PumasiShared

/// What one inbound message may hold, decided frame by frame while the broker reads it
/// (`ZMQSocket.receive(dontWait:admit:)`): a message over a limit is read to its end and released without being
/// copied, and no JSON decoder ever sees a body larger than its service can need.
///
/// The limits, checked before each frame is copied, the message's shape before its size:
/// - the envelope (routing id, delimiter, protocol header, service or worker command): 255 bytes a frame;
/// - the whole message, every frame counted: at most `maxMessageBytes` (`--max-message-mb`);
/// - a client request: its JSON frame at most `jsonLimit(service)`, and at most `bodyFrames(service)` frames after
///   the service (the JSON and the file frames the service takes: one for a submission or an upload chunk, one per
///   spec file for a post, none for the rest);
/// - a worker message: a REPLY carries an address of at most `ScoringJob.maxBatch` jobs, a delimiter and one result
///   per job; READY one service name; HEARTBEAT and DISCONNECT nothing;
/// - a message with any other header: its four envelope frames, which are enough to tell what is wrong with it; the
///   refusal names the header it came with.
struct MessageLimits: Sendable, Equatable {
    var maxMessageBytes: Int

    /// The JSON frame of a request that takes nothing but small fields (ids, a state, a page): 64 KiB.
    static let smallJSON = 64 << 10
    /// A challenge spec: a description of up to 100,000 bytes, an agreement, phases, rules; files travel in frames.
    static let specJSON = 4 << 20
    /// An agreement of up to `AgreementSpec.maxBytes` (64 KiB) escaped as JSON, or a list of invitations.
    static let textJSON = 1 << 20
    /// The most files a posted spec may carry in frames.
    static let maxSpecFiles = 10_000
    /// The longest envelope frame: a routing id, a service name (MDP: 255 bytes at most).
    static let envelopeBytes = 255

    /// Which limit a message broke.
    enum Breach: Equatable, Sendable {
        case message(limit: Int)
        case envelope(frame: Int)
        case frames(kind: String, limit: Int)
        case body(service: String, limit: Int)
        /// A protocol header other than MDP's two (as much of it as is shown).
        case header(String)

        /// The error code its refusal carries: another protocol's header is not a matter of size.
        var code: ProtocolError.Code {
            if case .header = self { return .badVersion }
            return .tooLarge
        }
    }

    /// The largest JSON frame the service named by `service` (its frame's bytes) takes.
    static func jsonLimit(_ service: Data) -> Int {
        if service == Names.post { return specJSON }
        if service == Names.agreement || service == Names.invitations || service == Names.team { return textJSON }
        return smallJSON
    }

    /// How many frames the service named by `service` takes after its name: its JSON and its file frames.
    static func bodyFrames(_ service: Data) -> Int {
        if service == Names.post { return 1 + maxSpecFiles }
        if service == Names.submit || service == Names.uploadChunk { return 2 }
        return 1
    }

    /// The names of the services with limits of their own, as frames: compared as bytes, so that a submission's
    /// frames cost no string decoding.
    private enum Names {
        static let post = Data(Service.post.utf8)
        static let agreement = Data(Service.agreement.utf8)
        static let invitations = Data(Service.invitations.utf8)
        static let team = Data(Service.team.utf8)
        static let submit = Data(Service.submit.utf8)
        static let uploadChunk = Data(Service.uploadChunk.utf8)
    }

    /// Why the next frame, of `size` bytes, may not be kept after `kept` (`keptBytes` in all), or nil if it may:
    /// the shape of the message first (its frames), then its size, then its service's limit on the JSON body.
    func breach(_ kept: [Data], keptBytes: Int, next size: Int) -> Breach? {
        let index = kept.count
        if index < 4 {
            if size > Self.envelopeBytes { return .envelope(frame: index) }
            return keptBytes + size > maxMessageBytes ? .message(limit: maxMessageBytes) : nil
        }
        if let breach = shapeBreach(kept, next: size) { return breach }
        if keptBytes + size > maxMessageBytes { return .message(limit: maxMessageBytes) }
        if index == 4, kept[2] == MDP.clientHeader, size > Self.jsonLimit(kept[3]) {
            return .body(service: String(decoding: kept[3], as: UTF8.self), limit: Self.jsonLimit(kept[3]))
        }
        return nil
    }

    /// A frame more than the message's kind takes, or a REPLY's address longer than `ScoringJob.maxBatch` jobs.
    private func shapeBreach(_ kept: [Data], next size: Int) -> Breach? {
        let index = kept.count
        switch kept[2] {
        case MDP.clientHeader:
            let frames = 4 + Self.bodyFrames(kept[3])
            return index >= frames ? .frames(kind: String(decoding: kept[3], as: UTF8.self), limit: frames) : nil
        case MDP.workerHeader:
            let command = kept[3].first.flatMap(MDP.WorkerCommand.init(rawValue:))
            let frames: Int
            switch command {
            case .reply: frames = 6 + ScoringJob.maxBatch
            case .ready: frames = 5
            default: frames = 4
            }
            if index >= frames {
                return .frames(kind: "a worker \(command.map { "\($0)".uppercased() } ?? "message")", limit: frames)
            }
            if command == .reply, index == 4, size > ScoringJob.maxBatch * 48 { return .envelope(frame: index) }
            return nil
        default:
            return .header(String(decoding: kept[2].prefix(16), as: UTF8.self))
        }
    }

    /// The error a refused message gets, naming the limit it broke and its size.
    static func refusal(_ breach: Breach, _ cut: ZMQMessage.Cut) -> String {
        let size = "\(cut.bytes) bytes in \(cut.frames) frames"
        switch breach {
        case .message(let limit):
            return "message too large: \(size), over the broker's limit of \(limit) bytes a message (--max-message-mb)"
        case .envelope(let frame):
            return "message refused: its frame \(frame) is too large for an MDP envelope frame (\(size))"
        case .frames(let kind, let limit):
            return
                "message refused: \(kind) takes at most \(limit) frames with its envelope; this one has \(cut.frames)"
                + " (\(cut.bytes) bytes)"
        case .body(let service, let limit):
            return "\(service) takes a JSON body of at most \(limit) bytes; this request carried \(size)"
        case .header(let header):
            return
                "message refused: unknown protocol header \"\(header)\"; this broker speaks 7/MDP version 0.1: "
                + "MDPC01 for clients, MDPW01 for workers (\(size))"
        }
    }
}
