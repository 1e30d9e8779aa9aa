import Foundation
import PumasiShared

/// The network's floors: the same hops as Pumasi's jobs (client → broker → evaluator → broker → subscriber, with
/// the receipt back to the client on the way), on the same kind of sockets over loopback TCP, each party on its
/// own thread with its own context as in the benchmark proper, but with no store, no JSON and no logic.
enum Chain {
    /// The serial path's floor: `jobs` one at a time; the latency of each, in milliseconds, from send to the
    /// announcement.
    static func run(jobs: Int) throws -> [Double] {
        nonisolated(unsafe) var endpoints: (router: String, pub: String)?
        let relay = try Party(name: relayName) { context, control, ready in
            let router = try ZMQSocket(context, .router)
            try router.bind("tcp://127.0.0.1:*")
            let publisher = try ZMQSocket(context, .pub)
            try publisher.bind("tcp://127.0.0.1:*")
            endpoints = (try router.lastEndpoint, try publisher.lastEndpoint)
            ready()
            var evaluator: Data?
            try serve(router, until: control) { frames in
                guard frames.count == 3 else { return }
                switch frames[2] {
                case Data("ready".utf8): evaluator = frames[0]
                case Data("result".utf8): try publisher.send([Data("scored".utf8), Data("1".utf8)])
                default:
                    try router.send([frames[0], Data(), Data("receipt".utf8)])
                    if let evaluator { try router.send([evaluator, Data(), Data("job".utf8)]) }
                }
            }
        }
        defer { relay.end() }
        guard let (routerEndpoint, pubEndpoint) = endpoints else { throw CocoaError(.featureUnsupported) }

        let evaluator = try Party(name: "chain-eval") { context, control, ready in
            let dealer = try ZMQSocket(context, .dealer)
            try dealer.connect(routerEndpoint)
            try dealer.send([Data(), Data("ready".utf8)])
            ready()
            try serve(dealer, until: control) { _ in try dealer.send([Data(), Data("result".utf8)]) }
        }
        defer { evaluator.end() }

        let context = try ZMQContext()
        let client = try ZMQSocket(context, .dealer)
        try client.connect(routerEndpoint)
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.setOption(.subscribe, "scored")
        try subscriber.connect(pubEndpoint)
        // Until the subscription is live and the evaluator registered: a job's announcement arrives.
        var poller = ZMQPoller([subscriber])
        for _ in 0..<500 {
            try client.send([Data(), Data("submit".utf8)])
            if try poller.poll(timeoutMilliseconds: 20)[0] { break }
        }
        usleep(100_000)
        while try subscriber.receive(dontWait: true) != nil {}
        while try client.receive(dontWait: true) != nil {}

        var latencies: [Double] = []
        latencies.reserveCapacity(jobs)
        for _ in 0..<jobs {
            let start = WallClock.monotonicNanos()
            try client.send([Data(), Data("submit".utf8)])
            guard try poller.poll(timeoutMilliseconds: 5_000)[0] else { break }
            _ = try subscriber.receive(dontWait: true)
            latencies.append(Double(WallClock.monotonicNanos() - start) / 1e6)
            while try client.receive(dontWait: true) != nil {}
        }
        return latencies
    }

    /// The sizes of a job's frames, in bytes, as the broker's are in the benchmark (counted on the broker's sends and
    /// receipts): the submission's request and its file, the receipt, a job's frame in a batch (its file follows it in
    /// a frame of its own), its share of the batch's address frame (`job:<id>:<attempt>,`), its result's frame, and
    /// the `submission.scored` announcement's body.
    static let frameSizes = (
        submit: 77, file: 2, receipt: 228, job: 393, address: 14, result: 84, announcement: 176
    )
    /// The relay's thread, whose CPU time `pipelined` reports.
    private static let relayName = "chain-relay"

    /// The jobs a batch to one evaluator connection holds at most, as `Broker.leastBuiltinBatch` gives a connection
    /// while the queue has them.
    static let batch = 16

    /// The pipelined path's floor: `jobs` with at most `window` in flight, in messages of the broker's shape (MDP
    /// envelopes and frames of the broker's sizes; jobs to `2 × connections` evaluator connections in batches of up
    /// to `batch`, a job frame and a file frame each; a result frame for each job in one message a batch; one
    /// announcement a job), and at each hop nothing done but what routes a job: the relay keeps a queue of job
    /// numbers and a list of idle evaluator connections.
    /// - Returns: the run's figures; its `cpu.broker` is the relay's thread's CPU time, as the broker's loop thread's
    ///   is in the benchmark proper.
    static func pipelined(jobs: Int, window: Int, connections: Int) throws -> Driver.Run {
        nonisolated(unsafe) var endpoints: (router: String, pub: String)?
        let relay = try Party(name: relayName) { context, control, ready in
            let router = try ZMQSocket(context, .router)
            try router.setOption(.sendHighWaterMark, 0)
            try router.bind("tcp://127.0.0.1:*")
            let publisher = try ZMQSocket(context, .pub)
            try publisher.setOption(.sendHighWaterMark, 0)
            try publisher.bind("tcp://127.0.0.1:*")
            endpoints = (try router.lastEndpoint, try publisher.lastEndpoint)
            ready()
            try relayPipelined(router: router, publisher: publisher, control: control)
        }
        defer { relay.end() }
        guard let (routerEndpoint, pubEndpoint) = endpoints else { throw CocoaError(.featureUnsupported) }

        let evaluators = try (0..<2).map { index in
            try Party(name: "chain-eval-\(index)") { context, control, ready in
                let dealers = try (0..<max(1, connections)).map { _ in
                    let dealer = try ZMQSocket(context, .dealer)
                    try dealer.connect(routerEndpoint)
                    try dealer.send(MDP.worker(.ready, [Data("chain".utf8)]))
                    return dealer
                }
                ready()
                try evaluatePipelined(dealers: dealers, control: control)
            }
        }
        defer { evaluators.forEach { $0.end() } }

        let context = try ZMQContext()
        let client = try ZMQSocket(context, .dealer)
        try client.setOption(.sendHighWaterMark, 0)
        try client.connect(routerEndpoint)
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.setOption(.subscribe, "")
        try subscriber.connect(pubEndpoint)
        var submitFrames = MDP.clientRequest(
            service: Service.submit,
            body: [Data(count: frameSizes.submit), Data(count: frameSizes.file)])
        func submit(_ number: Int) throws {
            withUnsafeBytes(of: UInt64(number)) { submitFrames[3].replaceSubrange(0..<8, with: $0) }
            _ = try client.send(submitFrames)
        }
        // Until the subscription is live and both evaluators registered: a job's announcement arrives.
        var announcements = ZMQPoller([subscriber])
        var warmed = false
        for _ in 0..<500 where !warmed {
            try submit(Int(UInt32.max))
            warmed = try announcements.poll(timeoutMilliseconds: 20)[0]
        }
        // Warm-up messages still on their way are not counted: their number is no job's.
        guard warmed else { throw CocoaError(.featureUnsupported) }

        var poller = ZMQPoller([client, subscriber])
        let cpuBefore = CPUTime.now(thread: relayName)
        var sentAt: [UInt64] = []
        sentAt.reserveCapacity(jobs)
        var latencies: [Double] = []
        latencies.reserveCapacity(jobs)
        var scored: UInt64?
        let start = WallClock.monotonicNanos()
        let limit = start + 120 * 1_000_000_000
        // Done when every job's announcement is in: the relay sends each receipt before its job goes on.
        while latencies.count < jobs && WallClock.monotonicNanos() < limit {
            while sentAt.count < jobs && sentAt.count - latencies.count < window {
                sentAt.append(WallClock.monotonicNanos())
                try submit(sentAt.count - 1)
            }
            let ready = try poller.poll(timeoutMilliseconds: 1_000)
            if ready[0] { while try client.receive(dontWait: true, visit: { _, _ in }) {} }
            if ready[1] {
                while try subscriber.receive(
                    dontWait: true, visit: { index, bytes in if index == 2 { scored = number(in: bytes) } })
                {
                    if let job = scored, job < sentAt.count {
                        latencies.append(Double(WallClock.monotonicNanos() - sentAt[Int(job)]) / 1e6)
                    }
                    scored = nil
                }
            }
        }
        let seconds = Double(WallClock.monotonicNanos() - start) / 1e9
        let cpuAfter = CPUTime.now(thread: relayName)
        return Driver.Run(
            seconds: seconds, latencies: latencies,
            cpu: (cpuAfter.process - cpuBefore.process, cpuAfter.broker - cpuBefore.broker))
    }

    /// The job number in a body's first 8 bytes.
    private static func number(in bytes: UnsafeRawBufferPointer) -> UInt64? {
        bytes.count >= 8 ? bytes.loadUnaligned(as: UInt64.self) : nil
    }

    /// The relay of `pipelined`, until `control` is readable.
    private static func relayPipelined(router: ZMQSocket, publisher: ZMQSocket, control: ZMQSocket) throws {
        var queue: [UInt64] = []
        var head = 0
        var idle: [Data] = []
        var receiptFrames = MDP.clientReply(service: Service.submit, body: [Data(count: frameSizes.receipt)])
        var announcement = [Data("submission.scored".utf8), Data(), Data(count: frameSizes.announcement)]
        var sequence = 0
        var jobFrame = Data(count: frameSizes.job)
        let file = Data(count: frameSizes.file)
        // Each time no message waits, each idle connection takes up to a batch of the queue.
        let dispatch = {
            while head < queue.count, let evaluator = idle.popLast() {
                let count = min(batch, queue.count - head)
                var body: [Data] = []
                body.reserveCapacity(2 * count)
                for job in queue[head..<(head + count)] {
                    withUnsafeBytes(of: job) { jobFrame.replaceSubrange(0..<8, with: $0) }
                    body += [jobFrame, file]
                }
                head += count
                let address = Data(count: frameSizes.address * count)
                try router.send([evaluator] + MDP.workerRequest(clientAddress: address, body: body))
            }
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
        }
        try serve(router, until: control, drained: dispatch) { frames in
            guard frames.count >= 4 else { return }
            if frames[2] == MDP.clientHeader, frames.count >= 5, let job = frames[4].withUnsafeBytes(number) {
                withUnsafeBytes(of: job) { receiptFrames[3].replaceSubrange(0..<8, with: $0) }
                try router.send([frames[0]] + receiptFrames)
                queue.append(job)
            } else if frames[2] == MDP.workerHeader, frames[3].first == MDP.WorkerCommand.reply.rawValue,
                frames.count >= 7
            {
                // One announcement for each job of the batch, numbered as the broker numbers its own.
                for result in frames[6...] where result.count >= 8 {
                    sequence += 1
                    announcement[1] = Data(String(sequence).utf8)
                    announcement[2].replaceSubrange(0..<8, with: result.prefix(8))
                    try publisher.send(announcement)
                }
                idle.append(frames[0])
            } else if frames[2] == MDP.workerHeader, frames[3].first == MDP.WorkerCommand.ready.rawValue {
                idle.append(frames[0])
            }
        }
    }

    /// Hands each message that arrives on `socket` to `handle`, and calls `drained` each time none is left waiting,
    /// until `control` is readable.
    private static func serve(
        _ socket: ZMQSocket, until control: ZMQSocket, drained: () throws -> Void = {},
        _ handle: ([Data]) throws -> Void
    ) throws {
        var poller = ZMQPoller([socket, control])
        while true {
            let readable = try poller.poll(timeoutMilliseconds: -1)
            if readable[1] { return }
            while let message = try socket.receive(dontWait: true) { try handle(message.frames) }
            try drained()
        }
    }

    /// An evaluator of `pipelined`: answers each batch on each of its connections with a result for each of its
    /// jobs, until `control` is readable.
    private static func evaluatePipelined(dealers: [ZMQSocket], control: ZMQSocket) throws {
        var poller = ZMQPoller(dealers + [control])
        var result = Data(count: frameSizes.result)
        while true {
            let readable = try poller.poll(timeoutMilliseconds: -1)
            if readable[dealers.count] { return }
            for (dealer, ready) in zip(dealers, readable) where ready {
                while let message = try dealer.receive(dontWait: true) {
                    // "" MDPW01 REQUEST address "" then a job frame and a file frame for each job.
                    guard message.frames.count >= 7 else { continue }
                    let results = stride(from: 5, to: message.frames.count - 1, by: 2).map { index in
                        result.replaceSubrange(0..<8, with: message.frames[index].prefix(8))
                        return result
                    }
                    try dealer.send(MDP.workerReply(clientAddress: message.frames[3], body: results))
                }
            }
        }
    }
}

/// One party of a chain: a thread with a ZeroMQ context of its own, running `body` until its control socket is
/// readable. `body` calls `ready` once its sockets are up; the initializer returns then (or when `body` fails).
private final class Party {
    private let stop: ZMQStopSignal
    private let done = DispatchSemaphore(value: 0)

    init(
        name: String,
        _ body: @escaping @Sendable (ZMQContext, _ control: ZMQSocket, _ ready: () -> Void) throws -> Void
    ) throws {
        let context = try ZMQContext()
        let stop = ZMQStopSignal(context: context)
        self.stop = stop
        let started = DispatchSemaphore(value: 0)
        let done = self.done
        Thread {
            defer { done.signal() }
            nameCurrentThread(name)
            var signalled = false
            do {
                let control = try stop.makeReceiver()
                try body(context, control) {
                    signalled = true
                    started.signal()
                }
            } catch {
                FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            }
            if !signalled { started.signal() }
        }.start()
        started.wait()
    }

    /// Stops the thread and waits for it.
    func end() {
        stop.fire()
        done.wait()
    }
}
