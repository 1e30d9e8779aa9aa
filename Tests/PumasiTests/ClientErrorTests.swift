import CZeroMQ
import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Errors that name their cause: the client's socket monitor tells a refused key, a wrong broker key, a broker
/// without (or with) CURVE, nobody listening and a connection dropped under an oversized message apart, at once,
/// instead of one "no reply" after the whole timeout.
@Suite("Client errors name their cause", .timeLimit(.minutes(2)))
struct ClientErrorTests {
    /// Runs `body` and returns the ClientError it throws, with the seconds it took.
    private func failure(_ body: () throws(ClientError) -> Void) -> (ClientError?, Double) {
        let start = WallClock.monotonicNanos()
        var caught: ClientError?
        do { try body() } catch { caught = error }
        return (caught, Double(WallClock.monotonicNanos() - start) / 1e9)
    }

    private func list(_ client: BrokerClient) throws(ClientError) {
        _ = try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self)
    }

    @Test func anUnregisteredKeyIsToldSoAtOnce() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let stranger = try setup.client("x", keys: try CurveKeyPair.generate(), timeout: 20)
        let (error, seconds) = failure { () throws(ClientError) in try list(stranger) }
        guard case .keyRefused(_, 400, _) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(seconds < 5)
        #expect(error?.description.contains("refused your key (not registered, or revoked") == true)
        #expect(error?.description.contains("pumasi-broker keys add") == true)
    }

    @Test func aWrongBrokerKeyIsToldSoAtOnce() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let wrong = CurveClient(serverKey: try CurveKeyPair.generate().publicKey, keys: setup.keys["ada"]!)
        let client = try BrokerClient(endpoint: setup.broker.router, timeoutSeconds: 20, curve: wrong)
        let (error, seconds) = failure { () throws(ClientError) in try list(client) }
        guard case .handshakeFailed(_, true, false, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(seconds < 5)
        #expect(error?.description.contains("the broker's key is not the one given (--broker-key") == true)
    }

    @Test func aClientWithoutCURVEIsToldTheBrokerExpectsIt() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let plain = try BrokerClient(endpoint: setup.broker.router, timeoutSeconds: 20)
        let (error, seconds) = failure { () throws(ClientError) in try list(plain) }
        guard case .handshakeFailed(_, false, _, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(seconds < 5)
        #expect(error?.description.contains("expects CURVE") == true)
    }

    @Test func aCURVEClientOfABrokerWithoutItIsToldSo() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"), logLevel: .error)
        defer { broker.shutdown() }
        let keys = try CurveKeyPair.generate()
        let client = try BrokerClient(
            endpoint: broker.router, timeoutSeconds: 20,
            curve: CurveClient(serverKey: try CurveKeyPair.generate().publicKey, keys: keys))
        let (error, seconds) = failure { () throws(ClientError) in try list(client) }
        // The mismatch when libzmq reads the broker's greeting first; no detail when the broker's close wins.
        guard case .handshakeFailed(_, true, _, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(seconds < 5)
        #expect(error?.description.contains("does not use CURVE") == true)
    }

    @Test func aBrokerThatIsDownIsToldSoInASecond() throws {
        // Port 1: nobody listens there. (A port just bound and released may be taken again by a test running beside
        // this one, or connect to itself: TCP's simultaneous open.)
        let endpoint = "tcp://127.0.0.1:1"
        let client = try BrokerClient(endpoint: endpoint, timeoutSeconds: 20)
        let (error, seconds) = failure { () throws(ClientError) in try list(client) }
        guard case .unreachable(_, true, _) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(seconds < 5)
        #expect(
            error?.description == "no broker answers at \(endpoint) (connection refused): is it running? check --broker"
        )
    }

    /// A read sent while nobody listens, as while a broker restarts, is sent again with a growing wait for up to
    /// `restartPatienceSeconds`, and answered once a broker binds; a write is not sent again, and a client without
    /// patience (a relay's) fails as before.
    @Test func aReadWaitsOutABrokerRestartingAndAWriteDoesNot() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let patient = try BrokerClient(endpoint: endpoint, timeoutSeconds: 10)
        patient.restartPatienceSeconds = 10
        nonisolated(unsafe) var told: [ClientError] = []
        patient.onRetry = { told.append($0) }
        let impatient = try BrokerClient(endpoint: endpoint, timeoutSeconds: 10)
        let (early, _) = failure { () throws(ClientError) in try list(impatient) }
        guard case .unreachable(_, true, _) = early else { Issue.record("\(String(describing: early))"); return }
        let (write, _) = failure { () throws(ClientError) in
            let (spec, files) = sampleSpec()
            _ = try patient.call(Service.post, PostRequest(spec: spec), files: files, as: ChallengeInfo.self)
        }
        guard case .unreachable(_, true, _) = write else { Issue.record("\(String(describing: write))"); return }
        #expect(told.isEmpty, "a write is not sent again")

        // The broker binds 1.5 s after the read is first sent, as one restarting does.
        nonisolated(unsafe) var broker: BrokerHarness?
        let started = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            usleep(1_500_000)
            broker = try? BrokerHarness(directory: dir.file("broker")) { $0.routerEndpoint = endpoint }
            started.signal()
        }
        defer {
            started.wait()
            broker?.shutdown()
        }
        let began = WallClock.monotonicNanos()
        let page = try patient.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0
        #expect(page.isEmpty)
        #expect(WallClock.monotonicNanos() - began >= 1_000_000_000, "answered only once the broker was there")
        #expect(told.count == 1)
        guard case .unreachable(_, true, _) = told.first else { Issue.record("\(told)"); return }
    }

    /// A reply that never comes over a connection that completed its handshake keeps the timeout's message.
    @Test func aSilentPeerIsATimeout() throws {
        let context = try ZMQContext()
        let silent = try ZMQSocket(context, .router)
        try silent.bind("tcp://127.0.0.1:*")
        let client = try BrokerClient(endpoint: try silent.lastEndpoint, timeoutSeconds: 1)
        let (error, _) = failure { () throws(ClientError) in try list(client) }
        guard case .timeout = error else { Issue.record("\(String(describing: error))"); return }
        #expect(error?.description.hasPrefix("no reply from the broker at ") == true)
    }

    /// A message over the broker's limit (ZMQ_MAXMSGSIZE) costs the connection: the client says so, with the size.
    @Test func aMessageOverTheBrokersLimitIsToldSo() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"), logLevel: .error) { $0.maxMessageBytes = 1 << 20 }
        defer { broker.shutdown() }
        // A fresh client, as a one-shot command is: the request is queued before the connection completes.
        let client = try BrokerClient(endpoint: broker.router, timeoutSeconds: 20)
        let (error, seconds) = failure { () throws(ClientError) in
            _ = try client.request(service: Service.list, body: [Data(count: 3 << 20)])
        }
        guard case .disconnected(_, let bytes) = error else { Issue.record("\(String(describing: error))"); return }
        #expect(bytes > 3 << 20)
        #expect(seconds < 5)
        #expect(error?.description.contains("(3.0 MB) may be over its limit") == true, "\(String(describing: error))")
        try list(client)  // and the next one too, on the fresh connection
    }

    @Test(
        arguments: [
            ("tcp://127.0.0.1:5555", nil),
            ("tcp://broker.example.org:5555", nil),
            ("tcp://[::1]:5555", nil),
            ("tcp://127.0.0.1:*", nil),
            ("ipc:///tmp/relay.ipc", nil),
            ("inproc://broker", nil),
            ("127.0.0.1:5555", "'127.0.0.1:5555' is not an endpoint: did you mean tcp://127.0.0.1:5555?"),
            ("localhost:5555", "'localhost:5555' is not an endpoint: did you mean tcp://localhost:5555?"),
            ("broker", "'broker' is not an endpoint (tcp://host:port, ipc://path or inproc://name)"),
            ("tcp://127.0.0.1", "'tcp://127.0.0.1' needs a host and a port (tcp://host:port)"),
            ("tcp://127.0.0.1:99999", "'tcp://127.0.0.1:99999': '99999' is not a port (1 to 65535)"),
            ("ipc://", "'ipc://' needs a path"),
            ("udp://a:1", "'udp://a:1': Pumasi does not speak 'udp' (tcp://host:port, ipc://path or inproc://name)"),
        ] as [(String, String?)])
    func endpointsAreCheckedBeforeUse(endpoint: String, problem: String?) {
        #expect(Endpoint.problem(endpoint) == problem)
    }

    @Test func aListOfEndpointsIsCheckedWhole() {
        #expect(Endpoint.listProblem("tcp://a:1,tcp://b:1") == nil)
        #expect(Endpoint.listProblem("tcp://a:1,b:1") == "'b:1' is not an endpoint: did you mean tcp://b:1?")
        #expect(Endpoint.listProblem(" , ") == "no endpoint given")
    }
}

/// The rules of `ConnectionWatch`, without sockets: events in, verdicts out.
@Suite("The client's connection watch")
struct ConnectionWatchTests {
    @Test func refusalsEndTheWaitAfterTheGraceWithOneEndpoint() {
        var watch = ConnectionWatch(endpointCount: 1, refusalGrace: 1000)
        #expect(watch.on(.init(.retried), now: 0) == nil)
        #expect(watch.check(now: 5000) == nil, "one retry may follow a closed connection")
        #expect(watch.on(.init(.retried), now: 100) == nil)
        #expect(watch.check(now: 1099) == nil)
        #expect(watch.check(now: 1100) == .refused)
        // A connection made resets the grace.
        #expect(watch.on(.init(.connected), now: 1100) == nil)
        #expect(watch.check(now: 5000) == nil)
    }

    @Test func refusalsAreNormalWithSeveralBrokers() {
        var watch = ConnectionWatch(endpointCount: 2, refusalGrace: 1000)
        #expect(watch.on(.init(.retried), now: 100) == nil)
        #expect(watch.on(.init(.retried), now: 200) == nil)
        #expect(watch.check(now: 1_000_000) == nil)
    }

    @Test func aRefusedKeyOrHandshakeEndsTheWaitAtOnce() {
        var watch = ConnectionWatch(endpointCount: 2)
        #expect(watch.on(.init(.authenticationFailed, value: 400), now: 0) == .keyRefused(status: 400))
        let protocolError = ZMQMonitor.Event(
            event: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
            value: UInt32(bitPattern: ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC),
            endpoint: "")
        guard case .handshakeFailed(false, _) = watch.on(protocolError, now: 0) else {
            Issue.record("no handshake failure")
            return
        }
    }

    /// A broker that stops during a client's handshake closes the connection as one holding another key does: the
    /// client cannot tell them apart from one failure (found from outside: a restart told clients their key for
    /// the broker was wrong). The second in a row, after libzmq has connected again, is the key.
    @Test func aHandshakeFailedWithoutDetailEndsTheWaitOnlyTheSecondTimeInARow() {
        var watch = ConnectionWatch(endpointCount: 1)
        #expect(watch.on(.init(.handshakeFailed), now: 0) == nil)
        _ = watch.on(.init(.connected), now: 100)
        _ = watch.on(.init(.handshakeSucceeded), now: 100)
        // A handshake succeeded between: the next failure is a first again.
        #expect(watch.on(.init(.handshakeFailed), now: 200) == nil)
        guard case .handshakeFailed(false, _) = watch.on(.init(.handshakeFailed), now: 300) else {
            Issue.record("no handshake failure the second time")
            return
        }
    }

    @Test func aDisconnectionEndsOnlyARequestSentOverACompletedConnection() {
        var watch = ConnectionWatch(endpointCount: 1)
        _ = watch.on(.init(.connected), now: 0)
        _ = watch.on(.init(.handshakeSucceeded), now: 0)
        // Idle: the socket reconnects and a later request goes over the new connection.
        #expect(watch.on(.init(.disconnected), now: 0) == nil)
        #expect(!watch.ready && watch.everReady)
        // Sent before the handshake: the request waits in the queue for the connection, through a failed one.
        watch.sent()
        _ = watch.on(.init(.connected), now: 0)
        #expect(watch.on(.init(.disconnected), now: 0) == nil)
        // Once a handshake completes, the request goes out over it, and is lost with it.
        _ = watch.on(.init(.handshakeSucceeded), now: 0)
        #expect(watch.on(.init(.disconnected), now: 0) == .disconnected)
        watch.finished()
        _ = watch.on(.init(.handshakeSucceeded), now: 0)
        watch.sent()
        #expect(watch.on(.init(.disconnected), now: 0) == .disconnected)
    }
}
