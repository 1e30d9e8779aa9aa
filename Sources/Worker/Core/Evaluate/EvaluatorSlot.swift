import Foundation
import PumasiShared

/// One MDP worker connection for one scorer service, with its own runner thread.
///
/// The slot's thread owns the DEALER to the broker and keeps heartbeating while the runner thread scores;
/// the two talk over an inproc PAIR. After losing the broker (no traffic for `heartbeatLiveness` intervals,
/// or a DISCONNECT) the slot reconnects on a new socket with exponential back-off and sends READY again.
final class EvaluatorSlot {
    private let config: EvaluatorConfig
    private let service: String
    private let context: ZMQContext
    private let stop: ZMQStopSignal
    private let logger: Logger
    private let onReady: @Sendable () -> Void

    init(
        config: EvaluatorConfig, service: String, context: ZMQContext, stop: ZMQStopSignal, logger: Logger,
        onReady: @escaping @Sendable () -> Void
    ) {
        self.config = config
        self.service = service
        self.context = context
        self.stop = stop
        self.logger = logger
        self.onReady = onReady
    }

    /// Runs on the calling thread until the stop signal fires.
    func run() throws {
        let control = try stop.makeReceiver()
        let pair = try ZMQSocket(context, .pair)
        let pairEndpoint = "inproc://pumasi-slot-\(UUID().uuidString)"
        try pair.bind(pairEndpoint)
        // Small built-in jobs are scored on this thread (no thread hop); plugins and large jobs on a runner
        // thread, so that heartbeats go on meanwhile.
        let inlineRunner = service == Service.builtinScorers ? try JobRunner(config: config, logger: logger) : nil
        let runnerDone = DispatchSemaphore(value: 0)
        let runner = Thread { [config, logger, context] in
            nameCurrentThread("pumasi-runner")
            Self.runnerLoop(config: config, context: context, endpoint: pairEndpoint, logger: logger)
            runnerDone.signal()
        }
        runner.start()
        defer {
            _ = try? pair.send(strings: ["STOP"])
            runnerDone.wait()
        }

        var backoff = config.reconnectInitial
        var busy = false
        var signalledReady = false
        let endpoints = Endpoint.list(config.brokerEndpoint)
        var stopRequested = false
        while true {
            // The connection lives in this scope alone: closed before the back-off, so that a connect still pending
            // when the link comes back cannot hand the broker an evaluator that nobody reads.
            do {
                let dealer = try ZMQSocket(context, .dealer)
                if let curve = config.curve { try dealer.useCurve(curve) }
                try dealer.spreadReconnects()
                // With several brokers (one active), READY goes over the first connection that completes: the active
                // broker's, the only one that has bound its endpoint.
                if endpoints.count > 1 { try dealer.setOption(.immediate, 1) }
                // A dropped connection (the broker killed, or another taking over) is seen at once, not after the
                // heartbeats it misses; a refused key or a failed handshake is said. Watched from before the
                // connections, so that their first handshake is seen too.
                let monitor = try ZMQMonitor(watching: dealer, for: .connectionFailures)
                for endpoint in endpoints { try dealer.connect(endpoint) }
                if endpoints.count > 1 {
                    var waitPoller = ZMQPoller([pair, control])
                    while try !dealer.waitWritable(timeoutMilliseconds: 100) {
                        let ready = try waitPoller.poll(timeoutMilliseconds: 0)
                        if ready[1], stop.received(on: control) { stopRequested = true }
                        if ready[0], try pair.receive(dontWait: true) != nil { busy = false }
                        if stopRequested && !busy { return }
                    }
                }
                try dealer.send(MDP.worker(.ready, [Data(service.utf8)]))
                if !signalledReady {
                    signalledReady = true
                    onReady()
                }
                logger.info("connected", ["broker": config.brokerEndpoint, "service": service])
                var poller = ZMQPoller([dealer, pair, control, monitor.socket])
                var lastHeard = config.clock()
                var nextHeartbeat = lastHeard + config.heartbeatInterval
                var lost = false
                while !lost {
                    let now = config.clock()
                    let ready = try poller.poll(timeoutMilliseconds: Int(max(0, nextHeartbeat - now)))
                    if ready[2], stop.received(on: control) { stopRequested = true }
                    if ready[3] { lost = try connectionFailed(monitor.events()) || lost }
                    if ready[0] {
                        while let message = try dealer.receive(dontWait: true) {
                            lastHeard = config.clock()
                            backoff = config.reconnectInitial
                            switch Self.command(message.frames) {
                            case .request?:
                                StepTrace.mark(.evaluatorReceived)
                                // frames: "" MDPW01 0x02 address "" (job submission)…
                                let frames = message.frames
                                guard frames.count >= 7, frames.count % 2 == 1, !busy else {
                                    logger.warning("unexpected or malformed REQUEST ignored", ["busy": "\(busy)"])
                                    continue
                                }
                                if let inline = inlineRunner, let results = Self.scoreInline(frames, with: inline) {
                                    // Built-in scorers are quick and bounded by the message size: score here,
                                    // saving two thread hops per batch.
                                    try dealer.send(MDP.workerReply(clientAddress: frames[3], body: results))
                                    StepTrace.mark(.evaluatorReplied)
                                    continue
                                }
                                busy = true
                                try pair.send([frames[3]] + frames[5...])
                            case .disconnect?:
                                logger.info("broker asked to reconnect", ["service": service])
                                lost = true
                            case .heartbeat?:
                                break
                            default:
                                logger.warning(
                                    "unexpected message from broker ignored", ["frames": "\(message.frames.count)"])
                            }
                        }
                    }
                    if ready[1], let result = try pair.receive(dontWait: true), result.frames.count >= 2 {
                        busy = false
                        try dealer.send(
                            MDP.workerReply(clientAddress: result.frames[0], body: Array(result.frames[1...])))
                        StepTrace.mark(.evaluatorReplied)
                    }
                    if stopRequested && !busy {
                        _ = try? dealer.send(MDP.worker(.disconnect), dontWait: true)
                        logger.info("stopped", ["service": service])
                        return
                    }
                    let after = config.clock()
                    if after >= nextHeartbeat {
                        try dealer.send(MDP.worker(.heartbeat), dontWait: true)
                        nextHeartbeat = after + config.heartbeatInterval
                    }
                    if after - lastHeard > config.heartbeatInterval * Millis(config.heartbeatLiveness) {
                        logger.warning("broker silent; reconnecting", ["service": service, "backoff.ms": "\(backoff)"])
                        lost = true
                    }
                }
            }
            // Wait out the back-off, still answering a stop; a job in progress finishes first and its late
            // reply is dropped (the broker has requeued it). Longer by up to half at random, so that a thousand
            // evaluators that lost the same broker do not all come back to it in the same moment (never shorter: the
            // back-off is the least time an abandoned connection is given to be gone).
            let resume = config.clock() + Jitter.after(backoff, by: 0.5)
            backoff = min(backoff * 2, config.reconnectMax)
            var waitPoller = ZMQPoller([pair, control])
            while config.clock() < resume || busy {
                let ready = try waitPoller.poll(timeoutMilliseconds: Int(max(1, resume - config.clock())))
                if ready[1], stop.received(on: control) {
                    stopRequested = true
                }
                if ready[0], try pair.receive(dontWait: true) != nil { busy = false }
                if stopRequested && !busy { return }
            }
        }
    }

    /// Logs what the monitor's events say. - Returns: whether the connection is lost (the slot reconnects after its
    /// back-off, which also paces the error lines of a refused key).
    private func connectionFailed(_ events: [ZMQMonitor.Event]) -> Bool {
        var lost = false
        for event in events {
            switch event.kind {
            case .disconnected:
                logger.warning("broker connection dropped; reconnecting", ["service": service])
            case .authenticationFailed:
                logger.error(
                    "the broker refused this evaluator's key (not registered, or revoked): register it with "
                        + "pumasi-broker keys add --role evaluator",
                    ["service": service, "broker": event.endpoint, "zap.status": "\(event.value)"])
            case .handshakeFailed:
                logger.error(
                    "the CURVE handshake with the broker failed: check --broker-key (the broker's broker.key.pub), "
                        + "and that both sides use CURVE",
                    ["service": service, "broker": event.endpoint, "reason": event.handshakeProblem])
            default:
                continue
            }
            lost = true
        }
        return lost
    }

    /// Built-in jobs up to this size in all, with their reference data cached, are scored inline.
    private static let inlineLimit = 256 << 10

    /// Scores a REQUEST's jobs on this thread if all are small built-in jobs with their reference data on disk;
    /// nil if any is not (the runner thread takes the batch then).
    private static func scoreInline(_ frames: [Data], with runner: JobRunner) -> [Data]? {
        var jobs: [(ScoringJob, Data)] = []
        var bytes = 0
        for index in stride(from: 5, to: frames.count, by: 2) {
            bytes += frames[index + 1].count
            guard bytes <= inlineLimit, let job = ScoringJob.decode(frames[index]), job.scorer.builtin != nil,
                job.fetch == nil,
                runner.hasReferenceCached(job)
            else { return nil }
            jobs.append((job, frames[index + 1]))
        }
        return jobs.map { runner.run($0.0, submission: $0.1).json }
    }

    private static let malformedJob = ScoringResult(
        ok: false, error: .init(code: "bad_job", message: "job must carry exactly one submission frame"))

    private static func command(_ frames: [Data]) -> MDP.WorkerCommand? {
        guard frames.count >= 3, frames[0].isEmpty, frames[1] == MDP.workerHeader, frames[2].count == 1 else {
            return nil
        }
        return MDP.WorkerCommand(rawValue: frames[2][frames[2].startIndex])
    }

    /// The runner thread: receives `[address, (job, submission)…]`, scores each in turn, answers
    /// `[address, result…]`.
    private static func runnerLoop(config: EvaluatorConfig, context: ZMQContext, endpoint: String, logger: Logger) {
        do {
            let pair = try ZMQSocket(context, .pair)
            try pair.connect(endpoint)
            let runner = try JobRunner(config: config, logger: logger)
            while true {
                let frames = try pair.receiveFrames()
                if frames.count == 1 { return }  // STOP
                var results: [Data] = []
                for index in stride(from: 1, to: frames.count, by: 2) {
                    let result =
                        index + 1 < frames.count
                        ? runner.run(jobFrame: frames[index], submission: frames[index + 1]) : malformedJob
                    results.append(result.json)
                }
                try pair.send([frames[0]] + results)
            }
        } catch {
            logger.error("runner stopped", ["error": "\(error)"])
        }
    }
}
