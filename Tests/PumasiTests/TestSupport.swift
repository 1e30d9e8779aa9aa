import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// A fresh directory under the system temp directory, removed by `remove()`.
struct TempDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "pumasi-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        if executable { chmod(target, 0o755) }
        return target
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A real broker on loopback ephemeral ports, running its loop on its own thread.
final class BrokerHarness: @unchecked Sendable {
    // @unchecked Sendable: the endpoints are written once before `init` returns; the broker itself is touched
    // only by its own thread.
    let directory: String
    private(set) var router = ""
    private(set) var pub = ""
    private var stop: ZMQStopSignal?
    private let finished = DispatchSemaphore(value: 0)
    private let ended = EndBox()

    init(directory: String, logLevel: LogLevel = .warning, configure: (inout BrokerConfig) -> Void = { _ in }) throws {
        self.directory = directory
        var config = BrokerConfig(dataDirectory: directory)
        config.routerEndpoint = "tcp://127.0.0.1:*"
        config.publishEndpoint = "tcp://127.0.0.1:*"
        config.curve = false  // loopback; SecurityTests and the CLI tests run with CURVE on
        // Every board made afresh: a test asks for one right after a change (LeaderboardCacheTests set their own).
        config.leaderboardReuseFactor = 0
        if case .postgresql(let conninfo) = try TestBackend.location(for: directory) { config.postgresql = conninfo }
        configure(&config)
        let started = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let frozen = config
        let thread = Thread { [finished, ended] in
            var running = false
            do {
                let broker = try Broker(config: frozen, logger: Logger(label: "test-broker", level: logLevel))
                box.set(.success((broker.routerEndpoint, broker.publishEndpoint, broker.stopSignal)))
                running = true
                started.signal()
                try broker.run()
            } catch {
                if running {
                    ended.set(error)
                } else {
                    box.set(.failure(error))
                    started.signal()
                }
            }
            finished.signal()
        }
        thread.start()
        started.wait()
        let (router, pub, stop) = try box.get()
        self.router = router
        self.pub = pub
        self.stop = stop
    }

    /// Waits up to `seconds` for the broker's loop to end by itself (as it does when the store fails): nil if it still
    /// runs, else the error it ended with (`.success` for an end without one).
    func end(within seconds: Double) -> Result<Void, any Error>? {
        guard finished.wait(timeout: .now() + seconds) == .success else { return nil }
        finished.signal()  // for `shutdown`, which waits for it too
        if let error = ended.error { return .failure(error) }
        return .success(())
    }

    /// Stops the broker and waits for its thread to finish.
    func shutdown() {
        guard let stop else { return }
        self.stop = nil
        stop.fire()
        finished.wait()
    }

    private final class EndBox: @unchecked Sendable {
        // @unchecked Sendable: written by the broker's thread before it signals `finished`, read after that.
        private(set) var error: (any Error)?
        func set(_ error: any Error) { self.error = error }
    }

    private final class ResultBox: @unchecked Sendable {
        // @unchecked Sendable: written once by the broker thread before the semaphore is signalled.
        private var value: Result<(String, String, ZMQStopSignal), any Error>?
        func set(_ value: Result<(String, String, ZMQStopSignal), any Error>) { self.value = value }
        func get() throws -> (String, String, ZMQStopSignal) { try value!.get() }
    }
}

/// A real evaluator connected to a broker, on its own threads.
final class EvaluatorHarness: Sendable {
    let evaluator: Evaluator
    private let finished = DispatchSemaphore(value: 0)

    init(
        broker: String, cache: String, plugins: [String: String] = [:],
        configure: (inout EvaluatorConfig) -> Void = { _ in }
    ) throws {
        var config = EvaluatorConfig(brokerEndpoint: broker, cacheDirectory: cache)
        config.plugins = plugins
        configure(&config)
        evaluator = try Evaluator(config: config, logger: Logger(label: "test-evaluator", level: .warning))
        let ready = DispatchSemaphore(value: 0)
        let thread = Thread { [evaluator, finished] in
            evaluator.run(onReady: { ready.signal() })
            finished.signal()
        }
        thread.start()
        ready.wait()
    }

    func shutdown() {
        evaluator.stop()
        finished.wait()
    }
}

/// A test client that speaks to the broker.
func client(_ harness: BrokerHarness, timeout: Double = 10) throws -> BrokerClient {
    try BrokerClient(endpoint: harness.router, timeoutSeconds: timeout)
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass. Returns whether it held.
func eventually(seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
    while WallClock.monotonicNanos() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// A challenge spec scored by a built-in scorer, with one reference file and one public file.
func sampleSpec(
    scorer: ScorerSpec = ScorerSpec(builtin: "exact"), deadlineIn: Millis = 3_600_000, reference: String = "42",
    title: String = "The answer"
) -> (ChallengeSpec, [Data]) {
    let files = [
        FileEntry(name: "question.txt", role: .public), FileEntry(name: "answer.txt", role: .reference),
    ]
    let spec = ChallengeSpec(
        title: title, description: "What is the answer?", deadline: WallClock.now() + deadlineIn,
        award: AwardSpec(amount: 1000, currency: "USD"), scorer: scorer, timeLimitSeconds: 10, files: files)
    return (spec, [Data("What is six times seven?".utf8), Data(reference.utf8)])
}

/// Posts a challenge and returns it.
func post(_ client: BrokerClient, _ spec: ChallengeSpec, _ files: [Data]) throws -> ChallengeInfo {
    try client.call(Service.post, PostRequest(spec: spec), files: files, as: ChallengeInfo.self).0
}

func submit(_ client: BrokerClient, _ challenge: String, _ solver: String, _ text: String, clientId: String? = nil)
    throws
    -> Receipt
{
    try client.call(
        Service.submit, SubmitRequest(challenge: challenge, solver: solver, filename: "answer.txt", clientId: clientId),
        files: [Data(text.utf8)], as: Receipt.self
    ).0
}

func status(_ client: BrokerClient, _ submission: String, attempts: Int = 1) throws -> SubmissionInfo {
    try client.call(
        Service.status, SubmissionRequest(submission: submission), as: SubmissionInfo.self, attempts: attempts
    ).0
}

/// Waits until a submission is scored or failed. `attempts`: per request, for a client that may be between brokers.
func settled(_ client: BrokerClient, _ submission: String, seconds: Double = 20, attempts: Int = 1) throws
    -> SubmissionInfo
{
    var info = try status(client, submission, attempts: attempts)
    _ = try eventually(seconds: seconds) {
        info = try status(client, submission, attempts: attempts)
        return info.state == .scored || info.state == .failed
    }
    return info
}

/// The broker's refusal of what `body` asks, or nil (with an issue recorded) if it was not refused by the broker.
func refusal(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> ProtocolError? {
    do {
        try body()
    } catch ClientError.server(let error) {
        return error
    } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A DEALER that speaks raw MDP to a broker: for messages no client of ours would send.
final class RawPeer {
    let socket: ZMQSocket
    var poller: ZMQPoller

    init(_ context: ZMQContext, _ endpoint: String, curve: CurveClient? = nil) throws {
        socket = try ZMQSocket(context, .dealer)
        if let curve { try socket.useCurve(curve) }
        try socket.setOption(.sendHighWaterMark, 0)
        try socket.connect(endpoint)
        poller = ZMQPoller([socket])
    }

    /// The next message within `seconds`, or nil.
    func next(seconds: Double) throws -> [Data]? {
        let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        while WallClock.monotonicNanos() < deadline {
            if try poller.poll(timeoutMilliseconds: 20)[0], let message = try socket.receive(dontWait: true) {
                return message.frames
            }
        }
        return nil
    }

    /// Sends a client request and waits for its reply's error (nil for a success).
    func request(_ service: String, _ body: [Data], seconds: Double = 30) throws -> ProtocolError? {
        try socket.send(MDP.clientRequest(service: service, body: body))
        let reply = try #require(try next(seconds: seconds), "no reply to \(service) within \(seconds) s")
        return try Self.error(reply, service: service)
    }

    static func error(_ reply: [Data], service: String) throws -> ProtocolError? {
        try #require(
            reply.count >= 4 && reply[2] == Data(service.utf8), "not a reply on \(service): \(reply.count) frames")
        let decoded = try JSONDecoder().decode(Reply<Empty>.self, from: reply[3])
        return decoded.ok ? nil : decoded.error
    }
}
