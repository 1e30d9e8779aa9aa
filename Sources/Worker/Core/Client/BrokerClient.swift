import Foundation
import PumasiShared

/// A one-shot client of the broker's own services: MDP client framing over a DEALER socket, with a timeout
/// and, for idempotent requests, retries on a fresh socket (the Lazy Pirate pattern).
///
/// Given several endpoints (brokers on several hosts sharing one store, one of them active), the socket connects to
/// all of them with `ZMQ_IMMEDIATE`, so that a request goes only over a connection that has completed: to the
/// active broker, the one that has bound its endpoint. A retry after a failover reaches the new active broker.
///
/// Thread rule: one client per thread.
public final class BrokerClient {
    /// The endpoint, or the comma-separated list, as given.
    public let endpoint: String
    public let endpoints: [String]
    public var timeoutSeconds: Double
    /// CURVE credentials, for a broker with authentication on.
    public let curve: CurveClient?
    private let context: ZMQContext
    private var socket: ZMQSocket?

    public init(endpoint: String, timeoutSeconds: Double = 10, curve: CurveClient? = nil, context: ZMQContext? = nil)
        throws
    {
        self.endpoint = endpoint
        self.endpoints = Endpoint.list(endpoint)
        self.timeoutSeconds = timeoutSeconds
        self.curve = curve
        self.context = try context ?? ZMQContext()
    }

    private func connected() throws(ZMQError) -> ZMQSocket {
        if let socket { return socket }
        let socket = try ZMQSocket(context, .dealer)
        if let curve { try socket.useCurve(curve) }
        if endpoints.count > 1 { try socket.setOption(.immediate, 1) }
        for endpoint in endpoints.isEmpty ? [endpoint] : endpoints { try socket.connect(endpoint) }
        self.socket = socket
        return socket
    }

    /// Sends one request and waits for its reply frames.
    /// - Parameter attempts: how many times to try; more than one only for requests that are safe to repeat.
    public func request(service: String, body: [Data], attempts: Int = 1) throws(ClientError) -> [Data] {
        for _ in 0..<max(1, attempts) {
            do {
                let socket = try connected()
                let deadline = WallClock.monotonicNanos() + UInt64(timeoutSeconds * 1e9)
                // With several brokers, wait for a completed connection (the active broker's) to take the request.
                if endpoints.count > 1 {
                    guard try socket.waitWritable(timeoutMilliseconds: Int(timeoutSeconds * 1000)),
                        try socket.send(MDP.clientRequest(service: service, body: body), dontWait: true)
                    else {
                        self.socket = nil
                        continue
                    }
                } else {
                    try socket.send(MDP.clientRequest(service: service, body: body))
                }
                var poller = ZMQPoller([socket])
                while true {
                    let now = WallClock.monotonicNanos()
                    guard now < deadline else { break }
                    let ready = try poller.poll(timeoutMilliseconds: Int((deadline - now) / 1_000_000) + 1)
                    guard ready[0], let reply = try socket.receive(dontWait: true) else { continue }
                    let frames = reply.frames
                    guard frames.count >= 3, frames[0].isEmpty, frames[1] == MDP.clientHeader else {
                        throw ClientError.invalidReply("not an MDP client reply (\(frames.count) frames)")
                    }
                    let replyService = String(decoding: frames[2], as: UTF8.self)
                    if replyService == "pumasi.error" {
                        throw ClientError.server(Self.error(in: frames.dropFirst(3).first))
                    }
                    // A reply to an earlier attempt that timed out on this socket cannot arrive: each retry
                    // uses a new socket. Anything for another service is a broker fault.
                    guard replyService == service else {
                        throw ClientError.invalidReply("reply for \(replyService), expected \(service)")
                    }
                    return Array(frames.dropFirst(3))
                }
            } catch let error as ClientError {
                throw error
            } catch let error as ZMQError {
                throw ClientError.transport(error)
            } catch {
                throw ClientError.invalidReply("\(error)")
            }
            socket = nil  // abandon the socket: a late reply must not be read as the answer to the next request
        }
        throw ClientError.timeout(endpoint: endpoint, seconds: timeoutSeconds)
    }

    /// Sends a JSON request (plus raw frames) and decodes the JSON result; returns the extra reply frames too.
    public func call<Request: Encodable, Result: Codable>(
        _ service: String, _ request: Request, files: [Data] = [], as: Result.Type, attempts: Int = 1
    ) throws(ClientError) -> (Result, [Data]) {
        let frames = try self.request(service: service, body: [Wire.encode(request)] + files, attempts: attempts)
        guard let first = frames.first else { throw ClientError.invalidReply("empty reply") }
        let reply: Reply<Result>
        do {
            reply = try JSONDecoder().decode(Reply<Result>.self, from: first)
        } catch {
            throw ClientError.invalidReply("reply is not the expected JSON: \(error)")
        }
        if let error = reply.error { throw ClientError.server(error) }
        guard reply.ok, let result = reply.result else { throw ClientError.invalidReply("reply has no result") }
        return (result, Array(frames.dropFirst()))
    }

    private static func error(in frame: Data?) -> ProtocolError {
        guard let frame, let reply = try? JSONDecoder().decode(Reply<Empty>.self, from: frame), let error = reply.error
        else { return ProtocolError(.internal, "the broker reported an error without details") }
        return error
    }

    /// Fetches a whole file chunk by chunk (`pumasi.challenge.file` or `pumasi.reference`) and checks it
    /// against its SHA-256.
    /// - Parameter request: the request for the chunk at an offset.
    public func fetchFile<Request: Encodable>(_ service: String, request: (Int) -> Request, attempts: Int = 1)
        throws(ClientError) -> (FileInfo, Data)
    {
        var content = Data()
        var info: FileInfo?
        repeat {
            let (chunkInfo, frames) = try call(service, request(content.count), as: FileInfo.self, attempts: attempts)
            guard let chunk = frames.first, chunkInfo.offset ?? 0 == content.count else {
                throw ClientError.invalidReply("file chunk missing or out of order")
            }
            guard info == nil || info?.size == chunkInfo.size, chunkInfo.size >= content.count + chunk.count,
                !chunk.isEmpty || chunkInfo.size == content.count
            else { throw ClientError.invalidReply("file changed size or sent an empty chunk") }
            info = chunkInfo
            content.append(chunk)
        } while content.count < (info?.size ?? 0)
        guard let info, SHA256.hex(content) == info.sha256 else {
            throw ClientError.invalidReply("file arrived damaged (SHA-256 mismatch)")
        }
        return (info, content)
    }
}
