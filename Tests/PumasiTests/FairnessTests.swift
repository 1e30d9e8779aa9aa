import Foundation
import PumasiShared
import Synchronization
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Per-principal admission against a live broker: a flooder is answered busy, with when to retry, and the others are
/// not held up; clients and relays wait the time given and send again, losing nothing.
@Suite("Fairness under a flood: per-principal admission", .timeLimit(.minutes(2)))
struct FairnessTests {
    /// What a flood of pipelined submissions got back.
    struct Flood {
        var receipts = 0
        var busy: [ProtocolError] = []
        var other: [String] = []
    }

    /// Sends `count` submissions from `curve`'s principal at once on one DEALER, without waiting for replies, then
    /// reads every reply (for at most 20 s). `sent` is signalled once all are sent.
    static func flood(
        _ router: String, _ curve: CurveClient, challenge: String, count: Int, sent: DispatchSemaphore
    ) throws -> Flood {
        let context = try ZMQContext()
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.useCurve(curve)
        try dealer.connect(router)
        for index in 0..<count {
            let request = SubmitRequest(
                challenge: challenge, solver: "bob", filename: "answer.txt", clientId: "flood-\(index)")
            try dealer.send(MDP.clientRequest(service: Service.submit, body: [Wire.encode(request), Data("41".utf8)]))
        }
        sent.signal()
        var flood = Flood()
        var poller = ZMQPoller([dealer])
        let deadline = WallClock.monotonicNanos() + 20_000_000_000
        while flood.receipts + flood.busy.count + flood.other.count < count, WallClock.monotonicNanos() < deadline {
            guard try poller.poll(timeoutMilliseconds: 100)[0], let reply = try dealer.receive(dontWait: true) else {
                continue
            }
            guard reply.frames.count == 4,
                let reply = try? JSONDecoder().decode(Reply<Receipt>.self, from: reply.frames[3])
            else {
                flood.other.append("\(reply.frames.count) frames")
                continue
            }
            if reply.ok {
                flood.receipts += 1
            } else if let error = reply.error, error.isBusy {
                flood.busy.append(error)
            } else {
                flood.other.append("\(reply.error.map { "\($0)" } ?? "no error")")
            }
        }
        return flood
    }

    @Test func aFlooderIsAnsweredBusyWhileAnotherSolversSubmissionsAllGetReceipts() throws {
        let setup = try SecureSetup {
            $0.admitCounting(rate: 20, burst: 10)
        }
        defer { setup.stop() }
        let (spec, files) = sampleSpec()
        let challenge = try post(try setup.client("acme"), spec, files)

        let sent = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Flood, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let (router, bob) = (setup.broker.router, setup.curve("bob"))
        Thread {
            let flood = Result { try Self.flood(router, bob, challenge: challenge.id, count: 300, sent: sent) }
            result.withLock { $0 = flood }
            if case .failure = flood { sent.signal() }
            done.signal()
        }.start()
        // ada submits while the flood is in the broker's queue, and never waits: a busy reply would be thrown.
        sent.wait()
        let ada = try setup.client("ada")
        ada.busyPatienceSeconds = 0
        var receipts: [Receipt] = []
        for index in 0..<8 {
            receipts.append(try submit(ada, challenge.id, "ada", "42", clientId: "ada-\(index)"))
        }
        #expect(Set(receipts.map(\.submission)).count == 8)
        #expect(receipts.allSatisfy { !$0.duplicate })

        done.wait()
        let flood = try #require(try result.withLock { $0 }?.get())
        // Every request answered: a receipt, or busy; none dropped.
        #expect(flood.other.isEmpty, "\(flood.other)")
        #expect(flood.receipts + flood.busy.count == 300)
        #expect(flood.receipts >= 10, "the burst goes through")
        #expect(flood.busy.count >= 200, "\(flood.receipts) receipts")
        // One token comes back every 50 ms at 20 a second: no wait is longer.
        #expect(flood.busy.allSatisfy { (1...50).contains($0.retryAfterMs ?? 0) })
        let message = try #require(flood.busy.first?.message)
        #expect(message.hasPrefix("busy: you are sending faster than 20 submissions a second"), "\(message)")
        #expect(message.contains("bursts of 10"), "\(message)")

        // After the wait it was told, the flooder is admitted again.
        usleep(useconds_t((flood.busy.last?.retryAfterMs ?? 50) + 1) * 1_000)
        let bobClient = try setup.client("bob")
        bobClient.busyPatienceSeconds = 0
        let late = try submit(bobClient, challenge.id, "bob", "43", clientId: "after-the-wait")
        #expect(late.submission.hasPrefix("sub_"))
        // What was refused busy was not stored: the receipts, and no more.
        let root = try setup.client("root")
        let stored = try root.call(Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self).0
        #expect(stored.submissions == 8 + flood.receipts + 1)
    }

    @Test func aClientWaitsOutBusyRepliesAndSaysSoOnce() throws {
        let setup = try SecureSetup {
            $0.admitCounting(rate: 10, burst: 1)
        }
        defer { setup.stop() }
        let (spec, files) = sampleSpec()
        let challenge = try post(try setup.client("root"), spec, files)
        let ada = try setup.client("ada")
        let told = Mutex<[Int64]>([])
        ada.onBusy = { _, wait in told.withLock { $0.append(wait) } }
        let receipts = try (0..<5).map { try submit(ada, challenge.id, "ada", "42", clientId: "ada-\($0)") }
        #expect(Set(receipts.map(\.submission)).count == 5)
        #expect(receipts.allSatisfy { $0.submission.hasPrefix("sub_") && !$0.duplicate })
        // The burst is one: each later submission was refused at least once, and told of once. A wait is the
        // retry-after (at most 100 ms at 10 a second) plus up to a quarter more.
        let waits = told.withLock { $0 }
        #expect(waits.count == 4, "\(waits)")
        #expect(waits.allSatisfy { (2...126).contains($0) }, "\(waits)")
    }

    @Test func aClientOutOfPatienceReturnsTheBusyReply() throws {
        let setup = try SecureSetup {
            $0.admitCounting(rate: 0.01, burst: 1)
        }
        defer { setup.stop() }
        let (spec, files) = sampleSpec()
        let challenge = try post(try setup.client("root"), spec, files)
        let ada = try setup.client("ada")
        ada.busyPatienceSeconds = 1
        _ = try submit(ada, challenge.id, "ada", "42", clientId: "first")
        // The next token is 100 s away: more than the client will wait.
        let error = try #require(refusal { _ = try submit(ada, challenge.id, "ada", "42", clientId: "second") })
        #expect(error.isBusy)
        #expect((99_000...100_000).contains(error.retryAfterMs ?? 0), "\(error)")
    }

    @Test func aRelayForwardingThroughABusyBrokerLosesNothing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // Without CURVE a connection is a sender: the relay's connection to the broker has a bucket of its own.
        let broker = try BrokerHarness(directory: dir.file("broker")) {
            $0.admitCounting(rate: 5, burst: 2)
        }
        defer { broker.shutdown() }
        let (spec, files) = sampleSpec()
        let challenge = try post(try client(broker), spec, files)
        let relay = try RelayHarness(
            broker: broker.router, pub: broker.pub, outbox: dir.file("outbox.sqlite3"), syncInterval: 200)
        defer { relay.shutdown() }
        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 10)
        viaRelay.busyPatienceSeconds = 0
        let count = 12
        let receipts = try (0..<count).map {
            try submit(viaRelay, challenge.id, "solver-\($0)", "42", clientId: "relay-\($0)")
        }
        // The relay answers each one: from the broker, or queued while the broker asks it to wait.
        #expect(receipts.count == count)
        #expect(receipts.contains { $0.queued == true }, "the relay was over its rate at least once")
        var entries: [OutboxEntry] = []
        #expect(
            try eventually(seconds: 20) {
                entries = try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0
                return entries.count == count && entries.allSatisfy { $0.state != .pending }
            }, "\(entries.map(\.state))")
        #expect(entries.allSatisfy { $0.state == .delivered }, "busy is not a refusal: \(entries.map(\.error))")
        #expect(Set(entries.compactMap(\.submission)).count == count)
        let stored = try client(broker).call(
            Service.show, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self
        ).0
        #expect(stored.submissions == count)
    }

    @Test func aLargeSubmissionThroughARelayIsUploadedWholeThroughABusyBroker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // 2 MB in 64 KiB chunks: 32 chunks (a quarter each), a begin and a commit, against bursts of 2.
        let broker = try UploadTests.broker(dir) {
            $0.admitCounting(rate: 20, burst: 2)
        }
        defer { broker.shutdown() }
        let (spec, files) = sampleSpec()
        let challenge = try post(try client(broker), spec, files)
        let relay = try RelayHarness(
            broker: broker.router, pub: broker.pub, outbox: dir.file("outbox.sqlite3"), syncInterval: 200)
        defer { relay.shutdown() }
        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 10)
        let (path, data) = try UploadTests.file(dir, "big.bin", size: 2_000_000, seed: 5)
        let queued = try Uploader(
            client: viaRelay, path: path, request: UploadTests.request(challenge.id, clientId: "busy-upload")
        ).run()
        #expect(queued.queued == true && queued.size == data.count)
        var entries: [OutboxEntry] = []
        #expect(
            try eventually(seconds: 30) {
                entries = try viaRelay.call(Service.relayOutbox, Empty(), as: [OutboxEntry].self).0
                return entries.first.map { $0.state != .pending } ?? false
            }, "\(entries)")
        #expect(entries.first?.state == .delivered, "\(entries)")
        let submission = try #require(entries.first?.submission)
        let copy = dir.file("copy.bin")
        _ = try client(broker).download(Service.submissionFile, to: copy) {
            SubmissionFileRequest(submission: submission, offset: $0)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == data)
    }
}

extension BrokerConfig {
    /// Admission at `rate` and `burst`, counted by request as a release build counts: a request of this debug build
    /// may hold the loop over the free millisecond and pay for the rest (`Admission.charge`, tested by
    /// `AdmissionTests`), which would move the counts and waits these tests check.
    mutating func admitCounting(rate: Double, burst: Double) {
        (admitRate, admitBurst, admitFreeLoopNanos) = (rate, burst, 50_000_000)
    }
}
