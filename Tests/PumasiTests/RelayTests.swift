import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A relay on its own thread, recording what it shows.
final class RelayHarness: @unchecked Sendable {
    // @unchecked Sendable: `listen` is written once before init returns; `box` guards what the relay shows.
    let relay: Relay
    private(set) var listen = ""
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - curve: the relay owner's credentials, for a broker with CURVE on.
    ///   - notifier: delivers the relay's notices (`--notify`), if any.
    ///   - configure: changes to the relay's configuration.
    init(
        broker: String, pub: String, outbox: String, syncInterval: Millis, curve: CurveClient? = nil,
        notifier: Notifier? = nil, configure: (inout RelayConfig) -> Void = { _ in }
    ) throws {
        var config = RelayConfig(brokerEndpoint: broker, publishEndpoint: pub, outboxPath: outbox)
        config.listenEndpoint = "tcp://127.0.0.1:*"
        config.syncInterval = syncInterval
        config.timeoutSeconds = 1
        config.curve = curve
        configure(&config)
        let box = Box()
        relay = try Relay(config: config, logger: Logger(label: "test-relay", level: .error), notifier: notifier) {
            announcement, recovered in
            box.append(announcement, recovered)
        }
        box.owner = nil
        let ready = DispatchSemaphore(value: 0)
        let endpoint = Box()
        Thread { [relay, finished] in
            do {
                try relay.run(onReady: {
                    endpoint.text = $0; ready.signal()
                })
            } catch {
                ready.signal()
            }
            finished.signal()
        }.start()
        ready.wait()
        listen = endpoint.text
        box.owner = self
        self.box = box
    }

    private var box: Box?

    var seen: [(seq: Int64, recovered: Bool)] { (box?.snapshot() ?? []).map { (seq: $0.0.seq, recovered: $0.1) } }
    /// The announcements shown, in order.
    var shown: [Announcement] { (box?.snapshot() ?? []).map(\.0) }

    func shutdown() {
        relay.stop()
        finished.wait()
    }

    private final class Box: @unchecked Sendable {
        // @unchecked Sendable: every field is read and written under `lock`.
        private let lock = NSLock()
        private var items: [(Announcement, Bool)] = []
        private var _text = ""
        weak var owner: RelayHarness?
        var text: String {
            get { lock.withLock { _text } }
            set { lock.withLock { _text = newValue } }
        }
        func append(_ announcement: Announcement, _ recovered: Bool) {
            lock.withLock { items.append((announcement, recovered)) }
        }
        func snapshot() -> [(Announcement, Bool)] { lock.withLock { items } }
    }
}

@Suite("Relay: announcements without gaps, a durable outbox", .timeLimit(.minutes(2)))
struct RelayTests {
    /// Relays checked on the broker every 2 s exactly, so relays started together came back in step after a
    /// restart (found from outside: six within 25 – 45 ms, again and again), and up to 2.2 s after the broker. The
    /// wait is spread now, and short while the broker is away.
    @Test func thePeriodicCheckIsSpreadAndSoonerWhileTheBrokerIsAway() {
        let answering = (0..<200).map { _ in Relay.checkWait(interval: 2_000, checksWhileAway: 0) }
        #expect(answering.allSatisfy { (1_500...2_500).contains($0) })
        #expect(Set(answering).count > 50, "\(Set(answering).count) distinct waits of 200")
        let away = (1...8).map { checks in
            (0..<50).map { _ in Relay.checkWait(interval: 2_000, checksWhileAway: checks) }
        }
        #expect(away[0].allSatisfy { (125...375).contains($0) }, "\(away[0].min()!) – \(away[0].max()!)")
        #expect(away[1].allSatisfy { (250...750).contains($0) })
        #expect(away[7].allSatisfy { (1_000...3_000).contains($0) })
        #expect(Set(away[0]).count > 10)
    }

    @Test func aGapInSequenceNumbersIsFilledFromTheBrokersLog() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) { $0.closingNotice = 0 }
        defer { broker.shutdown() }
        // The relay listens to a publisher this test controls, so it misses everything the broker publishes.
        let context = try ZMQContext()
        let fake = try ZMQSocket(context, .pub)
        try fake.bind("tcp://127.0.0.1:*")
        let relay = try RelayHarness(
            broker: broker.router, pub: try fake.lastEndpoint, outbox: dir.file("outbox.sqlite3"), syncInterval: 600_000
        )
        defer { relay.shutdown() }
        let client = try client(broker)
        for n in 1...3 {
            let (spec, files) = sampleSpec(title: "Challenge \(n)")
            _ = try post(client, spec, files)
        }
        // Announcement 3 arrives live; 1 and 2 never did.
        let log = try client.call(Service.events, EventsRequest(after: 0), as: EventLog.self).0
        #expect(log.events.map(\.seq) == [1, 2, 3])
        #expect(log.last == 3)
        #expect(
            try eventually {
                try fake.send(log.events[2].frames)
                return relay.seen.count >= 3
            })
        let seen = relay.seen
        #expect(seen.map(\.seq) == [1, 2, 3])
        #expect(seen.map(\.recovered) == [true, true, false])
    }

    @Test func aMissedTailIsFoundByThePeriodicCheck() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker")) { $0.closingNotice = 0 }
        defer { broker.shutdown() }
        let context = try ZMQContext()
        let silent = try ZMQSocket(context, .pub)
        try silent.bind("tcp://127.0.0.1:*")
        let relay = try RelayHarness(
            broker: broker.router, pub: try silent.lastEndpoint, outbox: dir.file("outbox.sqlite3"), syncInterval: 100)
        defer { relay.shutdown() }
        let client = try client(broker)
        let (spec, files) = sampleSpec()
        _ = try post(client, spec, files)
        #expect(eventually { relay.seen.count == 1 })
        #expect(relay.seen.first?.seq == 1)
        #expect(relay.seen.first?.recovered == true)
    }

    @Test func submissionsMadeWhileTheBrokerIsAwayAreDeliveredOnceWhenItReturns() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try BrokerHarness(directory: dir.file("broker"))
        let router = broker.router
        let pub = broker.pub
        let (spec, files) = sampleSpec()
        let challenge = try post(try client(broker), spec, files)
        broker.shutdown()

        let relay = try RelayHarness(broker: router, pub: pub, outbox: dir.file("outbox.sqlite3"), syncInterval: 200)
        defer { relay.shutdown() }
        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 10)
        let request = SubmitRequest(
            challenge: challenge.id, solver: "ada", filename: "answer.txt", clientId: "offline-1",
            comment: "made on the train")
        let queued = try viaRelay.call(Service.submit, request, files: [Data("42".utf8)], as: Receipt.self).0
        #expect(queued.queued == true)
        #expect(queued.submission == "pending:offline-1")
        // The same command run again (a new client id, the same file, within its repeat window) is that submission.
        var again0 = request
        again0.clientId = "offline-2"
        again0.repeatWindowSeconds = SubmitRequest.defaultRepeatWindowSeconds
        let repeated = try viaRelay.call(Service.submit, again0, files: [Data("42".utf8)], as: Receipt.self).0
        #expect(repeated.submission == "pending:offline-1", "\(repeated)")
        let pending = try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0
        #expect(pending.map(\.state) == [.pending])

        // The broker comes back on the same endpoints, with the same store.
        broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.routerEndpoint = router
            $0.publishEndpoint = pub
        }
        defer { broker.shutdown() }
        var entries: [OutboxEntry] = []
        #expect(
            try eventually {
                entries = try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0
                return entries.first?.state == .delivered
            })
        let delivered = try #require(entries.first?.submission)
        #expect(delivered.hasPrefix("sub_"))
        // A retry of the same submission through the relay is answered from the broker's record.
        let again = try submit(viaRelay, challenge.id, "ada", "42", clientId: "offline-1")
        #expect(again.submission == delivered)
        #expect(again.duplicate)
        let direct = try client(broker)
        #expect(try status(direct, delivered).comment == "made on the train", "the comment travels with it")
        #expect(
            try direct.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
                .submissions == 1)
    }
}

extension RelayTests {
    /// With its broker away, a relay answers every local request at once, many at a time: each submission gets its
    /// `queued` receipt as soon as the outbox holds it, and other requests the reason; all are delivered when the
    /// broker returns.
    @Test func aRelayWhoseBrokerIsAwayAnswersEveryRequestAtOnce() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var broker = try BrokerHarness(directory: dir.file("broker"))
        let (router, pub) = (broker.router, broker.pub)
        let (spec, files) = sampleSpec()
        let challenge = try post(try client(broker), spec, files)
        broker.shutdown()
        // The relay waits up to 5 s for its broker; the clients give it 4 s for each answer.
        let relay = try RelayHarness(broker: router, pub: pub, outbox: dir.file("outbox.sqlite3"), syncInterval: 200) {
            $0.timeoutSeconds = 5
        }
        defer { relay.shutdown() }
        let receipts = Receipts()
        let group = DispatchGroup()
        for index in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                let result = Result {
                    let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 4)
                    return try submit(viaRelay, challenge.id, "solver-\(index)", "42", clientId: "burst-\(index)")
                }
                receipts.add(result)
            }.start()
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        let all = receipts.all
        #expect(all.count == 8)
        #expect(all.allSatisfy { (try? $0.get().queued) == true }, "\(all)")
        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 4)
        let refused = refusal { _ = try viaRelay.call(Service.list, ListRequest(), as: [ChallengeInfo].self) }
        #expect(
            refused?.message.contains("the relay's broker has not answered since") == true,
            "\(String(describing: refused))")

        broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.routerEndpoint = router
            $0.publishEndpoint = pub
        }
        defer { broker.shutdown() }
        #expect(
            try eventually(seconds: 20) {
                try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0.allSatisfy {
                    $0.state == .delivered
                }
            })
        #expect(
            try client(broker).call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
                .submissions == 8)
    }

    private final class Receipts: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Result<Receipt, any Error>] = []
        func add(_ result: Result<Receipt, any Error>) { lock.withLock { results.append(result) } }
        var all: [Result<Receipt, any Error>] { lock.withLock { results } }
    }
}
