import Foundation
import PumasiShared
import Testing

@Suite("ZeroMQ wrapper over loopback", .timeLimit(.minutes(1)))
struct ZeroMQTests {
    @Test func routerAndDealerCarryMultipartMessagesWithEmptyAndBinaryFrames() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setOption(.routingId, Data("dealer-1".utf8))
        try dealer.connect(endpoint)
        let binary = Data((0..<256).map { UInt8($0) })
        try dealer.send([Data(), Data("hello".utf8), binary])
        let received = try #require(try router.receive())
        #expect(received.frames == [Data("dealer-1".utf8), Data(), Data("hello".utf8), binary])
        try router.send([Data("dealer-1".utf8), Data("back".utf8)])
        #expect(try dealer.receiveFrames() == [Data("back".utf8)])
    }

    @Test func nonBlockingReceiveOnAnEmptySocketReturnsNil() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .dealer)
        try socket.bind("tcp://127.0.0.1:*")
        #expect(try socket.receive(dontWait: true) == nil)
    }

    @Test func routerMandatoryReportsAnUnknownPeer() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setOption(.routerMandatory, 1)
        try router.bind("tcp://127.0.0.1:*")
        let error = try #require(throws: ZMQError.self) { try router.send([Data("nobody".utf8), Data("x".utf8)]) }
        #expect(error.isHostUnreachable)
    }

    @Test func badEndpointsFailWithANamedError() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .dealer)
        let error = try #require(throws: ZMQError.self) { try socket.connect("nonsense://where") }
        #expect(error.description.contains("connect(nonsense://where)"))
        #expect(error.code != 0)
    }

    @Test func publisherReachesSubscribersByTopicPrefix() throws {
        let context = try ZMQContext()
        let pub = try ZMQSocket(context, .pub)
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try ZMQSocket(context, .sub)
        try sub.setOption(.subscribe, "challenge.")
        try sub.connect(try pub.lastEndpoint)
        // The slow-joiner window: keep publishing until the subscription has reached the publisher.
        var poller = ZMQPoller([sub])
        var got: ZMQMessage?
        for _ in 0..<200 where got == nil {
            try pub.send(strings: ["submission.scored", "ignored"])
            try pub.send(strings: ["challenge.opened", "wanted"])
            if try poller.poll(timeoutMilliseconds: 10)[0] { got = try sub.receive(dontWait: true) }
        }
        let message = try #require(got)
        #expect(message.frames == [Data("challenge.opened".utf8), Data("wanted".utf8)])
    }

    @Test func pollerTimesOutWhenNothingArrives() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context, .pull)
        try socket.bind("tcp://127.0.0.1:*")
        var poller = ZMQPoller([socket])
        let start = WallClock.monotonicNanos()
        #expect(try poller.poll(timeoutMilliseconds: 20) == [false])
        #expect(WallClock.monotonicNanos() - start >= 15_000_000)
    }

    @Test func oversizedMessagesAreRefusedAndTheSocketKeepsWorking() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.setMaxMessageSize(1_000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        let big = try ZMQSocket(context, .dealer)
        try big.connect(endpoint)
        try big.send([Data(count: 10_000)])
        let small = try ZMQSocket(context, .dealer)
        try small.setOption(.routingId, Data("small".utf8))
        try small.connect(endpoint)
        try small.send([Data("ok".utf8)])
        let message = try #require(try router.receive())
        #expect(message.frames == [Data("small".utf8), Data("ok".utf8)])
        var poller = ZMQPoller([router])
        #expect(try poller.poll(timeoutMilliseconds: 100) == [false])
    }

    /// A reader that refuses a frame gets the frames before it and the message's whole size, and the next message
    /// whole: the rest of the refused one was read and released, not left in the socket.
    @Test func aReaderKeepsOnlyTheFramesItAdmitsAndTheNextMessageIsWhole() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setOption(.routingId, Data("peer".utf8))
        try dealer.connect(try router.lastEndpoint)
        try dealer.send([Data("head".utf8), Data(count: 5_000), Data(count: 7_000)])
        try dealer.send([Data("next".utf8)])
        var asked: [(kept: Int, keptBytes: Int, size: Int)] = []
        let cut = try #require(
            try router.receive(dontWait: false) { kept, keptBytes, size in
                asked.append((kept.count, keptBytes, size))
                return size < 1_000
            })
        #expect(cut.frames == [Data("peer".utf8), Data("head".utf8)])
        #expect(cut.cut == ZMQMessage.Cut(frames: 4, bytes: 4 + 4 + 5_000 + 7_000))
        #expect(asked.map(\.kept) == [0, 1, 2] && asked.map(\.keptBytes) == [0, 4, 8] && asked.last?.size == 5_000)
        let next = try #require(try router.receive(dontWait: false) { _, _, _ in true })
        #expect(next.frames == [Data("peer".utf8), Data("next".utf8)] && next.cut == nil)
    }

    @Test func stopSignalWakesAPoller() throws {
        let context = try ZMQContext()
        let stop = ZMQStopSignal(context: context)
        let receiver = try stop.makeReceiver()
        DispatchQueue.global().async { stop.fire() }
        var poller = ZMQPoller([receiver])
        #expect(try poller.poll(timeoutMilliseconds: 5_000) == [true])
        #expect(stop.received(on: receiver))
    }

    /// A socket that retries a refused connection every millisecond, whose monitor is let go while the socket is
    /// still open: libzmq's next event must not wait for the reader that is gone (it would hold the context's I/O
    /// thread, and no socket of the context would connect again).
    @Test func aMonitorLetGoBeforeItsSocketLeavesTheContextWorking() throws {
        let context = try ZMQContext()
        var watched: ZMQSocket? = try retryingEveryMillisecond(context)
        var monitor: ZMQMonitor? = try ZMQMonitor(watching: try #require(watched), for: .connections)
        try watched?.connect("tcp://127.0.0.1:\(try freePort())")
        var poller = ZMQPoller([try #require(monitor).socket])
        #expect(try poller.poll(timeoutMilliseconds: 5_000) == [true], "no monitor event within 5 s")
        monitor = nil
        usleep(100_000)
        watched = nil
        try expectConnects(in: context)
    }

    /// Events nobody reads for a while (a client idle between requests, knocking at a standby's port) are kept, not
    /// waited on: more of them than libzmq's default high-water marks (1,000 a side) would let through.
    @Test func unreadMonitorEventsNeverStopTheContext() throws {
        let context = try ZMQContext()
        let watched = try retryingEveryMillisecond(context)
        let monitor = try ZMQMonitor(watching: watched, for: .connections)
        try watched.connect("tcp://127.0.0.1:\(try freePort())")
        // Long enough for well past 2,000 retries (about 3,000 at one a millisecond), checked by counting at the end
        // what was kept.
        usleep(3_000_000)
        try expectConnects(in: context)
        let kept = try monitor.events().filter { $0.kind == .retried }.count
        #expect(kept > 2_000, "only \(kept) retries in 3 s: the test did not pass the default limits")
    }

    /// A DEALER retrying its connections every millisecond, which makes libzmq's monitor events come fast.
    private func retryingEveryMillisecond(_ context: ZMQContext) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, .dealer)
        try socket.setOption(.reconnectInterval, 1)
        try socket.setOption(.reconnectIntervalMax, 1)
        return socket
    }

    /// Two new sockets of `context` connect over loopback and carry a message: its I/O thread works.
    private func expectConnects(in context: ZMQContext, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect(try router.lastEndpoint)
        try dealer.send([Data("ping".utf8)])
        var poller = ZMQPoller([router])
        #expect(
            try poller.poll(timeoutMilliseconds: 5_000) == [true], "the context no longer connects",
            sourceLocation: sourceLocation)
    }

    @Test func curveKeypairsAreZ85Text() throws {
        #expect(ZMQContext.has("curve"))
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(pair.secretKey.utf8.count == 40)
        #expect(pair.publicKey != pair.secretKey)
    }
}
