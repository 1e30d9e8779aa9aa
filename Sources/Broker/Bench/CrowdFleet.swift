internal import CEpoll
import Foundation
import Glibc
import PumasiShared

/// Every simulated client of the crowd, in this process, on one thread: relays (SUB), evaluators (MDP workers),
/// solvers and a seeker (MDP clients), each socket with its own CURVE key, all in one libzmq context.
///
/// One thread waits on all of them with `epoll` over their `ZMQ_FD`s, so a pass costs what is ready, not the
/// number of sockets (`zmq_poll` over 16,000 items would cost the harness more than the broker it measures).
/// A socket is drained after its descriptor fires and after every send on it (a send can consume the signal);
/// a sweep over all of them each second, a slice per pass, catches anything missed.
///
/// Thread rule: create and use it on one thread.
final class CrowdFleet {
    enum Role { case relay, evaluator, solver, seeker }

    /// What a request awaiting its reply was, and when it went out (monotonic nanoseconds).
    struct Pending {
        enum Kind { case submit, probe, post, board }
        var kind: Kind
        var sentAt: UInt64
        var wallSentAt: Int64
    }

    /// One reply to a submission.
    struct SubmitReply {
        var solver: Int
        var sentAt: UInt64
        var wallSentAt: Int64
        var answeredAt: UInt64
        var wallAnsweredAt: Int64
        /// The submission id when accepted.
        var submission: String?
        /// The error code when refused (`closed`, `busy`, …).
        var code: String?
    }

    let context: ZMQContext
    private(set) var sockets: [ZMQSocket] = []
    private(set) var roles: [Role] = []
    private(set) var relays: [Int] = []
    private(set) var evaluators: [Int] = []
    private(set) var solvers: [Int] = []
    private(set) var seeker = -1
    private let epoll: Int32

    /// Per socket: when it last received anything; for relays, when the last `challenge.opened` came.
    private(set) var heard: [UInt64] = []
    private(set) var opened: [UInt64] = []
    /// Evaluators: when READY last went out, and when the broker was first heard from after it.
    private(set) var readyAt: [UInt64] = []
    private(set) var servedAt: [UInt64] = []
    private var pending: [[Pending]] = []
    private(set) var submitReplies: [SubmitReply] = []
    /// Replies to leaderboard requests: how long each took, and when the broker made the board (its `asOf`; nil for
    /// a refusal).
    private(set) var boardReplies: [(seconds: Double, asOf: Int64?)] = []
    /// Replies to the seeker's posts: the challenge id, or the error.
    private(set) var posts: [Result<String, CrowdError>] = []
    /// Relays simulated by other processes (`CrowdShard`): when each last had a `challenge.opened`, as they report.
    private(set) var remoteOpened: [UInt64] = []
    private var shards: [(fd: Int32, offset: Int, pending: [UInt8])] = []
    /// Called with a relay's socket index and the time, when it receives a `challenge.opened` (a shard reports it).
    var onOpened: ((Int, UInt64) -> Void)?
    private(set) var jobsAnswered = 0
    /// Sends refused by libzmq at once (a full queue: the broker is not reading): not sent, so not counted as sent.
    private(set) var sendFailures = 0

    private let service = Data(Service.builtinScorers.utf8)
    private let result = Wire.encode(ScoringResult(ok: true, score: 1))
    private let heartbeatNanos: UInt64
    private var nextHeartbeat: UInt64 = 0
    private var heartbeatCycle: UInt64 = 0
    private var heartbeatCursor = Int.max
    private var nextSweep: UInt64 = 0
    private var sweepCycle: UInt64 = 0
    private var sweepCursor = Int.max

    init(config: CrowdConfig) throws {
        context = try ZMQContext(ioThreads: config.ioThreads, maxSockets: config.clients + 64)
        guard context.maxSockets >= config.clients else {
            throw CrowdError.failed("ZMQ_MAX_SOCKETS is \(context.maxSockets), below the \(config.clients) clients")
        }
        epoll = epoll_create1(0)
        guard epoll >= 0 else { throw CrowdError.failed("epoll_create1: errno \(errno)") }
        heartbeatNanos = UInt64(config.heartbeatMs) * 1_000_000
    }

    deinit {
        close(epoll)
        // The sockets close before their context (each keeps it alive; the context terminates after the last).
        sockets.removeAll()
    }

    /// Adds a client with its own key, connected to the broker; an evaluator sends READY at once (queued by libzmq
    /// until the connection is up).
    func add(_ role: Role, curve: CurveClient, endpoint: String, topic: String = "") throws {
        let socket = try ZMQSocket(context, role == .relay ? .sub : .dealer)
        try socket.useCurve(curve)
        // As the product's relays, evaluators and clients do: after a restart they come back spread out, not at once.
        try socket.spreadReconnects()
        if role == .relay { try socket.setOption(.subscribe, topic) }
        try socket.connect(endpoint)
        let index = sockets.count
        sockets.append(socket)
        roles.append(role)
        heard.append(0)
        opened.append(0)
        readyAt.append(0)
        servedAt.append(0)
        pending.append([])
        switch role {
        case .relay: relays.append(index)
        case .evaluator: evaluators.append(index)
        case .solver: solvers.append(index)
        case .seeker: seeker = index
        }
        var event = epoll_event()
        event.events = UInt32(EPOLLIN.rawValue)
        event.data.u32 = UInt32(index)
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, try socket.fileDescriptor, &event) == 0 else {
            throw CrowdError.failed("epoll_ctl: errno \(errno) (file descriptors: raise RLIMIT_NOFILE)")
        }
        if role == .evaluator { try sendReady(index) }
    }

    /// Relays in another process that reports their `challenge.opened` times as lines `<relay> <nanoseconds>` on
    /// `fd` (non-blocking; CLOCK_MONOTONIC is the machine's, so its times compare with this process's).
    func addRemoteRelays(count: Int, reportingOn fd: Int32) throws {
        shards.append((fd, remoteOpened.count, []))
        remoteOpened += Array(repeating: 0, count: count)
        var event = epoll_event()
        event.events = UInt32(EPOLLIN.rawValue)
        event.data.u32 = Self.shardTag | UInt32(shards.count - 1)
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw CrowdError.failed("epoll_ctl (shard): errno \(errno)")
        }
    }

    private static let shardTag: UInt32 = 0x8000_0000

    /// Every relay, here and in shards: how many, and when each last had a `challenge.opened` (0: never).
    var relayCount: Int { relays.count + remoteOpened.count }
    var relayOpenedTimes: [UInt64] { relays.map { opened[$0] } + remoteOpened }
    func allRelaysOpened(since: UInt64) -> Bool {
        relays.allSatisfy { opened[$0] >= since } && remoteOpened.allSatisfy { $0 >= since }
    }

    /// Reads a shard's report lines.
    private func readShard(_ number: Int) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        // Bounded: the pipe holds at most what the shard wrote; each read takes up to 64 KiB of it.
        while true {
            let count = buffer.withUnsafeMutableBytes { read(shards[number].fd, $0.baseAddress, $0.count) }
            if count == 0 {
                // The shard ended: its pipe would be reported readable on every wait from now on.
                epoll_ctl(epoll, EPOLL_CTL_DEL, shards[number].fd, nil)
                return
            }
            guard count > 0 else { return }
            shards[number].pending += buffer[0..<count]
            var start = 0
            let bytes = shards[number].pending
            for (position, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
                let fields = bytes[start..<position].split(separator: UInt8(ascii: " "))
                start = position + 1
                guard fields.count == 2, let relay = Int(String(decoding: fields[0], as: UTF8.self)),
                    let at = UInt64(String(decoding: fields[1], as: UTF8.self)),
                    relay >= 0, shards[number].offset + relay < remoteOpened.count
                else { continue }
                remoteOpened[shards[number].offset + relay] = at
            }
            shards[number].pending = Array(bytes[start...])
        }
    }

    // MARK: Sending

    /// Sends without blocking, then drains the socket (the send may have taken its descriptor's signal).
    @discardableResult
    func send(_ index: Int, _ frames: [Data]) throws -> Bool {
        let sent = try sockets[index].send(frames, dontWait: true)
        if !sent { sendFailures += 1 }
        try drain(index)
        return sent
    }

    /// A request from a solver or the seeker, remembered until its reply.
    @discardableResult
    func request(_ index: Int, _ kind: Pending.Kind, _ frames: [Data]) throws -> Bool {
        pending[index].append(Pending(kind: kind, sentAt: WallClock.monotonicNanos(), wallSentAt: WallClock.now()))
        guard try send(index, frames) else {
            pending[index].removeLast()
            return false
        }
        return true
    }

    private func sendReady(_ index: Int) throws {
        readyAt[index] = WallClock.monotonicNanos()
        servedAt[index] = 0
        try send(index, MDP.worker(.ready, [service]))
    }

    /// Forgets requests whose replies will never come (sent to a broker that has since stopped).
    func forgetPending() {
        for index in pending.indices { pending[index].removeAll() }
    }

    /// Forgets who has been served, so that a restart is timed afresh (an evaluator's new READY resets its own).
    func resetServed() {
        for index in servedAt.indices { servedAt[index] = 0 }
    }

    func clearReplies() {
        submitReplies.removeAll(keepingCapacity: true)
        boardReplies.removeAll()
    }
    func clearPosts() { posts.removeAll() }

    /// Sends a request to the broker and forgets the reply: for a service every client may call (`mmi.service`).
    func probe(_ index: Int) throws {
        try request(index, .probe, MDP.clientRequest(service: Service.mmiService, body: [service]))
    }

    // MARK: Waiting

    /// Handles whatever arrives until `done()` holds or `seconds` have passed; `tick` runs between waits (to send
    /// on a schedule). Heartbeats go out to the broker from every evaluator meanwhile.
    /// - Returns: whether `done()` held.
    @discardableResult
    func pump(seconds: Double, tick: () throws -> Void = {}, until done: () -> Bool) throws -> Bool {
        let limit = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        // Bounded by `limit`: each pass waits at most 5 ms.
        while true {
            try tick()
            if done() { return true }
            let now = WallClock.monotonicNanos()
            if now >= limit { return false }
            try heartbeat(now: now)
            try sweep(now: now)
            let count = events.withUnsafeMutableBufferPointer {
                epoll_wait(epoll, $0.baseAddress, Int32($0.count), 5)
            }
            if count < 0 && errno != EINTR { throw CrowdError.failed("epoll_wait: errno \(errno)") }
            for slot in 0..<max(0, Int(count)) {
                let tag = events[slot].data.u32
                if tag & Self.shardTag != 0 { readShard(Int(tag & ~Self.shardTag)) } else { try drain(Int(tag)) }
            }
        }
    }

    /// Sends the evaluators' heartbeats spread over the interval, each evaluator once per interval: all at once,
    /// a thousand sends would hold this thread (and the replies it times) in one burst.
    private func heartbeat(now: UInt64) throws {
        if heartbeatCursor >= evaluators.count {
            guard now >= nextHeartbeat else { return }
            heartbeatCursor = 0
            heartbeatCycle = now
            nextHeartbeat = now + heartbeatNanos
        }
        let elapsed = Double(now - heartbeatCycle) / Double(heartbeatNanos)
        let due = min(evaluators.count, Int(elapsed * Double(evaluators.count)) + 1)
        while heartbeatCursor < due {
            try send(evaluators[heartbeatCursor], MDP.worker(.heartbeat))
            heartbeatCursor += 1
        }
    }

    /// Drains every socket once a second, a slice each pass (a safety net for a signal missed; in one burst it
    /// would hold this thread as the heartbeats would).
    private func sweep(now: UInt64) throws {
        if sweepCursor >= sockets.count {
            guard now >= nextSweep else { return }
            sweepCursor = 0
            sweepCycle = now
            nextSweep = now + 1_000_000_000
        }
        let due = min(sockets.count, Int(Double(now - sweepCycle) / 1e9 * Double(sockets.count)) + 1)
        while sweepCursor < due {
            try drain(sweepCursor)
            sweepCursor += 1
        }
    }

    /// Receives everything waiting on one socket.
    private func drain(_ index: Int) throws {
        let socket = sockets[index]
        if roles[index] == .relay {
            // Announcements are most of what arrives (one per relay each): read in place, with no copy.
            var isOpened = false
            let topic = Self.openedTopic
            while try socket.receive(
                dontWait: true,
                visit: { frame, bytes in
                    if frame == 0 { isOpened = bytes.elementsEqual(topic) }
                })
            {
                let now = WallClock.monotonicNanos()
                heard[index] = now
                if isOpened {
                    opened[index] = now
                    onOpened?(index, now)
                }
            }
            return
        }
        while let message = try socket.receive(dontWait: true) {
            let now = WallClock.monotonicNanos()
            heard[index] = now
            switch roles[index] {
            case .relay: break
            case .evaluator: try evaluatorGot(index, message.frames, now: now)
            case .solver, .seeker: clientGot(index, message.frames, now: now)
            }
        }
    }

    private static let openedTopic = Data(Announcement.Topic.opened.rawValue.utf8)

    /// A job gets the same valid result at once, however many it batches; DISCONNECT (a broker that does not know
    /// this evaluator, as after a restart) gets a new READY, as a real evaluator's reconnect would.
    private func evaluatorGot(_ index: Int, _ frames: [Data], now: UInt64) throws {
        guard frames.count >= 3, let command = frames[2].first.flatMap(MDP.WorkerCommand.init(rawValue:)) else {
            return
        }
        switch command {
        case .request:
            guard frames.count >= 7 else { return }
            let jobs = (frames.count - 5) / 2
            jobsAnswered += jobs
            if servedAt[index] == 0 { servedAt[index] = now }
            let reply = MDP.workerReply(clientAddress: frames[3], body: Array(repeating: result, count: jobs))
            _ = try sockets[index].send(reply, dontWait: true)
        case .heartbeat:
            if servedAt[index] == 0 { servedAt[index] = now }
        case .disconnect:
            try sendReady(index)
        case .ready, .reply:
            break
        }
    }

    /// A reply to a solver's or the seeker's oldest request of the reply's service: replies to one kind of request
    /// come in the order they were sent, but a leaderboard's may come after replies to requests sent after it (it is
    /// made off the broker's loop: `docs/protocol.md`, "Leaderboard").
    private func clientGot(_ index: Int, _ frames: [Data], now: UInt64) {
        guard frames.count >= 4, let kind = Self.kinds[frames[2]],
            let position = pending[index].firstIndex(where: { $0.kind == kind })
        else { return }
        let request = pending[index].remove(at: position)
        let body = frames[3]
        switch request.kind {
        case .probe:
            if servedAt[index] == 0 { servedAt[index] = now }
        case .submit:
            if servedAt[index] == 0 { servedAt[index] = now }
            let accepted = Self.value(after: #""ok":true"#, in: body) != nil
            // A busy refusal is `unavailable` with a retry-after (`ProtocolError.isBusy`): counted as `busy`.
            let busy = !accepted && body.range(of: Data(#""retryAfterMs""#.utf8)) != nil
            submitReplies.append(
                SubmitReply(
                    solver: index, sentAt: request.sentAt, wallSentAt: request.wallSentAt, answeredAt: now,
                    wallAnsweredAt: WallClock.now(),
                    submission: accepted ? Self.value(after: #""submission":""#, in: body) : nil,
                    code: accepted ? nil : busy ? "busy" : Self.value(after: #""code":""#, in: body) ?? "unreadable"))
        case .board:
            let asOf = body.range(of: Data(#""ok":true"#.utf8)).flatMap { _ in body.range(of: Data(#""asOf":"#.utf8)) }
                .flatMap { range in
                    Int64(String(decoding: body[range.upperBound...].prefix { (48...57).contains($0) }, as: UTF8.self))
                }
            boardReplies.append((Double(now - request.sentAt) / 1e9, asOf))
        case .post:
            if let reply = try? JSONDecoder().decode(Reply<ChallengeInfo>.self, from: body), let info = reply.result {
                posts.append(.success(info.id))
            } else {
                posts.append(.failure(.failed("post refused: \(String(decoding: body.prefix(300), as: UTF8.self))")))
            }
        }
    }

    /// Each request's kind by the service its reply names.
    private static let kinds: [Data: Pending.Kind] = [
        Data(Service.submit.utf8): .submit, Data(Service.leaderboard.utf8): .board,
        Data(Service.mmiService.utf8): .probe, Data(Service.post.utf8): .post,
    ]

    /// The characters after `key` up to the next `"` (for a key ending in `"`), or "" when found otherwise; a byte
    /// scan, since a JSON decode of every receipt would cost the harness more than the broker's answer.
    static func value(after key: String, in body: Data) -> String? {
        let pattern = Data(key.utf8)
        guard let range = body.range(of: pattern) else { return nil }
        guard key.hasSuffix("\"") else { return "" }
        let rest = body[range.upperBound...]
        guard let end = rest.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: rest[..<end], as: UTF8.self)
    }
}
