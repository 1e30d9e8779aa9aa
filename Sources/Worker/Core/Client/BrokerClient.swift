import Foundation
import PumasiShared

/// A one-shot client of the broker's own services: MDP client framing over a DEALER socket, with a timeout
/// and, for idempotent requests, retries on a fresh socket (the Lazy Pirate pattern).
///
/// Given several endpoints (brokers on several hosts sharing one store, one of them active), the socket connects to
/// all of them with `ZMQ_IMMEDIATE`, so that a request goes only over a connection that has completed: to the
/// active broker, the one that has bound its endpoint. A retry after a failover reaches the new active broker.
///
/// A busy reply (the broker refused the request unread, for its sender's rate) is waited out and the request sent
/// again, for up to `busyPatienceSeconds`: nothing of a refused request was done, so this is safe for any request.
///
/// Thread rule: one client per thread.
public final class BrokerClient {
    /// The endpoint, or the comma-separated list, as given.
    public let endpoint: String
    public let endpoints: [String]
    public var timeoutSeconds: Double
    /// How long a request may keep being answered busy, in all, before the busy reply is the answer; 0 returns it
    /// at once (a relay, which keeps the request and goes on with its other work).
    public var busyPatienceSeconds = 60.0
    /// Told of the first busy reply to each request, and how long the client waits before it sends it again.
    public var onBusy: ((ProtocolError, _ waitMs: Int64) -> Void)?
    /// How long a request to a read-only service (`Service.readOnly`) that the broker never answered, because nobody
    /// listened or the connection closed under it, keeps being sent again, in all: a broker restarting takes about
    /// 1.5 s, and a command run meanwhile should get its answer, not fail. 0 (the default) tries once (a relay, which
    /// has its own retries).
    public var restartPatienceSeconds = 0.0
    /// Told of the first such failure of each request, before the client waits and sends it again.
    public var onRetry: ((ClientError) -> Void)?
    /// CURVE credentials, for a broker with authentication on.
    public let curve: CurveClient?
    private let context: ZMQContext
    private var socket: ZMQSocket?
    /// The socket's monitor, and what its events said: how a request fails at once with its cause.
    private var monitor: ZMQMonitor?
    private var watch: ConnectionWatch

    public init(endpoint: String, timeoutSeconds: Double = 10, curve: CurveClient? = nil, context: ZMQContext? = nil)
        throws
    {
        self.endpoint = endpoint
        self.endpoints = Endpoint.list(endpoint)
        self.timeoutSeconds = timeoutSeconds
        self.curve = curve
        self.context = try context ?? ZMQContext()
        watch = ConnectionWatch(endpointCount: endpoints.count)
    }

    private func connected() throws(ZMQError) -> ZMQSocket {
        if let socket { return socket }
        let socket = try ZMQSocket(context, .dealer)
        if let curve { try socket.useCurve(curve) }
        try socket.spreadReconnects()
        if endpoints.count > 1 { try socket.setOption(.immediate, 1) }
        // The monitor before the connections, so that it sees their first events. With several endpoints refusals
        // are normal (standbys) and decide nothing (`ConnectionWatch`): they are not watched, so that a client kept
        // idle between requests (a relay's) does not gather one unread event a second per standby.
        monitor = try ZMQMonitor(watching: socket, for: endpoints.count > 1 ? .connectionsExceptRetries : .connections)
        watch = ConnectionWatch(endpointCount: endpoints.count)
        do {
            for endpoint in endpoints.isEmpty ? [endpoint] : endpoints { try socket.connect(endpoint) }
        } catch {
            abandon()
            throw error
        }
        self.socket = socket
        return socket
    }

    /// Drops the socket (and its monitor): a late reply must not be read as the answer to the next request.
    private func abandon() {
        monitor = nil
        socket = nil
    }

    /// Reads the monitor's events. - Throws: the failure they show, if the wait for a reply should end.
    private func watchEvents(requestBytes: Int) throws {
        guard let monitor else { return }
        let now = WallClock.monotonicNanos()
        var verdict: ConnectionWatch.Verdict?
        for event in try monitor.events() { verdict = watch.on(event, now: now) ?? verdict }
        guard let verdict = verdict ?? watch.check(now: now) else { return }
        throw failure(verdict, requestBytes: requestBytes)
    }

    private func failure(_ verdict: ConnectionWatch.Verdict, requestBytes: Int) -> ClientError {
        switch verdict {
        case .keyRefused(let status):
            let fingerprint = curve.map { String(SHA256.hex(Data($0.keys.publicKey.utf8)).prefix(16)) } ?? "none"
            return .keyRefused(endpoint: endpoint, status: status, fingerprint: fingerprint)
        case .handshakeFailed(let mismatch, let detail):
            return .handshakeFailed(
                endpoint: endpoint, clientUsesCurve: curve != nil, mechanismMismatch: mismatch, detail: detail)
        case .refused:
            return .unreachable(endpoint: endpoint, refused: true, seconds: timeoutSeconds)
        case .disconnected:
            return .disconnected(endpoint: endpoint, requestBytes: requestBytes)
        }
    }

    /// The most busy replies one request waits out, whatever their retry-after.
    static let maxBusyTries = 200

    /// Sends one request and waits for its reply frames. A refused key or a failed handshake ends the wait at
    /// once, and so do refused connections (one endpoint) after a second and a connection lost under the request.
    /// A busy reply is waited out (its retry-after, plus up to a quarter more at random so that the clients refused
    /// together do not come back together) and the request sent again, within `busyPatienceSeconds`.
    /// - Parameter attempts: how many times to try; more than one only for requests that are safe to repeat.
    public func request(service: String, body: [Data], attempts: Int = 1) throws(ClientError) -> [Data] {
        let started = WallClock.monotonicNanos()
        var tries = 0
        while true {
            let frames = try patientExchange(service: service, body: body, attempts: attempts)
            guard let busy = Self.busy(in: frames), tries < Self.maxBusyTries else { return frames }
            let wait = Jitter.after(Int64(busy.retryAfterMs ?? 0))
            let waited = Double(WallClock.monotonicNanos() - started) / 1e9
            guard waited + Double(wait) / 1_000 <= busyPatienceSeconds else { return frames }
            if tries == 0 { onBusy?(busy, wait) }
            tries += 1
            usleep(useconds_t(min(wait, 3_600_000) * 1_000))
        }
    }

    /// The busy refusal these reply frames carry, if they do. Looked for in a small first frame only (a busy reply
    /// is a short error), so that other replies cost one byte search at most.
    static func busy(in frames: [Data]) -> ProtocolError? {
        guard let first = frames.first, first.count < 2_048, first.range(of: busyMarker) != nil,
            let error = try? JSONDecoder().decode(Reply<Empty>.self, from: first).error, error.isBusy
        else { return nil }
        return error
    }

    private static let busyMarker = Data("\"retryAfterMs\"".utf8)

    /// `exchange`, sent again with a growing, jittered wait (250 ms doubling up to 2 s) while it fails because the
    /// broker is away, for a read-only service and up to `restartPatienceSeconds`.
    private func patientExchange(service: String, body: [Data], attempts: Int) throws(ClientError) -> [Data] {
        let started = WallClock.monotonicNanos()
        var wait: Int64 = 250
        // Bounded by the patience: each turn waits 187 ms at least (250 spread by a quarter).
        while true {
            do {
                return try exchange(service: service, body: body, attempts: attempts)
            } catch {
                guard Service.readOnly.contains(service), error.isBrokerAway else { throw error }
                let jittered = Jitter.spread(wait, by: 0.25)
                let waited = Double(WallClock.monotonicNanos() - started) / 1e9
                guard waited + Double(jittered) / 1_000 <= restartPatienceSeconds else { throw error }
                if wait == 250 { onRetry?(error) }
                usleep(useconds_t(jittered * 1_000))
                wait = min(wait * 2, 2_000)
            }
        }
    }

    /// One request and its reply (or a failure), over `attempts` tries.
    private func exchange(service: String, body: [Data], attempts: Int) throws(ClientError) -> [Data] {
        let message = MDP.clientRequest(service: service, body: body)
        let requestBytes = message.reduce(0) { $0 + $1.count }
        var lastFailure: ClientError?
        for _ in 0..<max(1, attempts) {
            do {
                let socket = try connected()
                let deadline = WallClock.monotonicNanos() + UInt64(timeoutSeconds * 1e9)
                try watchEvents(requestBytes: requestBytes)
                // With several brokers, wait for a completed connection (the active broker's) to take the request.
                if endpoints.count > 1 {
                    var queued = false
                    while !queued, WallClock.monotonicNanos() < deadline {
                        let left = Int((deadline - min(deadline, WallClock.monotonicNanos())) / 1_000_000) + 1
                        if try socket.waitWritable(timeoutMilliseconds: min(left, 100)) {
                            queued = try socket.send(message, dontWait: true)
                        }
                        try watchEvents(requestBytes: requestBytes)
                    }
                    guard queued else {
                        lastFailure = timeoutFailure()
                        abandon()
                        continue
                    }
                } else {
                    try socket.send(message)
                }
                watch.sent()
                defer { watch.finished() }
                var poller = ZMQPoller([socket] + (monitor.map { [$0.socket] } ?? []))
                while true {
                    let now = WallClock.monotonicNanos()
                    guard now < deadline else { break }
                    // Wake at least every 100 ms to check the grace for refused connections.
                    let left = Int((deadline - now) / 1_000_000) + 1
                    let ready = try poller.poll(timeoutMilliseconds: min(left, 100))
                    try watchEvents(requestBytes: requestBytes)
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
                lastFailure = timeoutFailure()
            } catch let error as ClientError {
                switch error {
                case .server: throw error
                // A refused connection or a lost request may be tried again, on a fresh socket; a refused key or a
                // failed handshake may not.
                case .unreachable, .disconnected: lastFailure = error
                default:
                    abandon()
                    throw error
                }
            } catch let error as ZMQError {
                throw ClientError.transport(error)
            } catch {
                throw ClientError.invalidReply("\(error)")
            }
            abandon()
        }
        throw lastFailure ?? timeoutFailure()
    }

    /// The timeout, as a missing reply when a connection had completed its handshake and as no connection if not.
    private func timeoutFailure() -> ClientError {
        watch.everReady
            ? .timeout(endpoint: endpoint, seconds: timeoutSeconds)
            : .unreachable(endpoint: endpoint, refused: watch.refusing, seconds: timeoutSeconds)
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

    /// Every challenge the broker lists (in `state`, if given), page after page (`ListRequest`) until an empty one.
    public func challenges(state: ChallengeState?) throws(ClientError) -> [ChallengeInfo] {
        var all: [ChallengeInfo] = []
        // Bounded: a page holds one challenge at least, and no broker holds a million challenges.
        for _ in 0..<1_000_000 {
            let (page, _) = try call(
                Service.list, ListRequest(state: state, after: all.last?.id), as: [ChallengeInfo].self)
            if page.isEmpty { break }
            all += page
        }
        return all
    }

    /// A challenge's whole report: the report (`pumasi.challenge.report`) and its submissions' further pages
    /// (`pumasi.challenge.report.submissions`), each after the last submission read.
    public func report(_ request: ReportRequest) throws(ClientError) -> ChallengeReport {
        var (report, _) = try call(Service.report, request, as: ChallengeReport.self)
        // Bounded: a page holds one submission at least, and the broker's pages end.
        var more = report.moreSubmissions == true
        var seen = Set(report.submissions.map(\.submission))
        for _ in 0..<1_000_000 where more {
            guard let last = report.submissions.last?.submission else {
                throw ClientError.invalidReply("a report page said more submissions follow, and held none")
            }
            let next = ReportSubmissionsRequest(challenge: request.challenge, after: last, limit: request.limit)
            let (page, _) = try call(Service.reportSubmissions, next, as: ReportSubmissions.self)
            // Each page must go on from the last: one that repeats a submission would never end.
            guard !page.submissions.isEmpty || !page.more,
                page.submissions.allSatisfy({ seen.insert($0.submission).inserted })
            else {
                throw ClientError.invalidReply("a report page repeated submissions, or said more follow and held none")
            }
            report.submissions += page.submissions
            more = page.more
        }
        guard !more else { throw ClientError.invalidReply("a report went on past 1,000,000 pages") }
        report.moreSubmissions = nil
        return report
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
