import Foundation
import PumasiShared

extension Broker {
    /// An MDP worker command from `identity`.
    func handleWorker(_ identity: Data, _ inbound: MDP.Inbound, now: Millis) throws {
        let expiry = now + config.heartbeatInterval * Millis(config.heartbeatLiveness)
        let known = dispatcher.evaluators[identity] != nil
        switch inbound {
        case .workerReady(let service):
            if known {
                // A second READY on one connection breaks the protocol: forget the peer and make it start over.
                logger.warning("evaluator sent READY twice; disconnecting", ["peer": peerName(identity)])
                try dropEvaluator(identity, now: now)
                send(to: identity, MDP.worker(.disconnect))
                return
            }
            dispatcher.register(identity, service: service, expiresAt: expiry)
            logger.info("evaluator ready", ["peer": peerName(identity), "service": service])
        case .workerHeartbeat:
            guard known else { return send(to: identity, MDP.worker(.disconnect)) }
            dispatcher.touch(identity, expiresAt: expiry)
        case .workerReply(let address, let body):
            guard known else { return send(to: identity, MDP.worker(.disconnect)) }
            dispatcher.touch(identity, expiresAt: expiry)
            try handleResult(from: identity, address: address, body: body, now: now)
            dispatcher.release(identity)
        case .workerDisconnect:
            if known {
                logger.info("evaluator disconnected", ["peer": peerName(identity)])
                try dropEvaluator(identity, now: now)
            }
        case .clientRequest:
            break
        }
    }

    /// Records an evaluator's result if it answers the lease that evaluator holds; anything else is ignored,
    /// so a late or duplicate reply never overwrites a recorded score.
    private func handleResult(from identity: Data, address: Data, body: [Data], now: Millis) throws {
        guard let lease = ScoringJob.parseAddress(address), dispatcher.evaluators[identity]?.job == lease.job,
            let job = try store.job(lease.job), job.state == "leased", job.attempts == lease.attempt,
            job.worker == peerName(identity)
        else {
            logger.warning(
                "reply answers no current lease; ignored",
                ["peer": peerName(identity), "address": String(decoding: address.prefix(64), as: UTF8.self)])
            return
        }
        guard let frame = body.first, let result = try? JSONDecoder().decode(ScoringResult.self, from: frame) else {
            logger.warning("evaluator sent an unreadable result", ["peer": peerName(identity), "job.id": "\(job.id)"])
            return try retryOrFail(job, reason: "evaluator sent an unreadable result", now: now)
        }
        let challenge = try store.challenge(job.challenge)
        if result.ok, let score = result.score, score.isFinite {
            try store.recordScore(job: job, result: result, score: score, now: now)
            var announcement = Announcement(
                topic: .scored, at: now, challenge: job.challenge, title: challenge?.title ?? "")
            announcement.submission = job.submission
            announcement.score = score
            if let info = try store.submissionInfo(job.submission) { announcement.solver = info.solver }
            try publish(announcement, principal: peerName(identity))
            logger.debug("scored", ["job.id": "\(job.id)", "submission.id": job.submission, "score": "\(score)"])
        } else if let failure = result.error, failure.isInfrastructure {
            try retryOrFail(job, reason: "\(failure.code): \(failure.message)", now: now)
        } else {
            let reason =
                result.ok
                ? "evaluator returned no finite score"
                : "\(result.error?.code ?? "failed"): \(result.error?.message ?? "no reason given")"
            try store.fail(job: job.id, error: reason, log: result.log, now: now)
            var announcement = Announcement(
                topic: .failed, at: now, challenge: job.challenge, title: challenge?.title ?? "")
            announcement.submission = job.submission
            announcement.message = reason
            try publish(announcement, principal: peerName(identity))
            logger.info("scoring failed", ["job.id": "\(job.id)", "submission.id": job.submission, "reason": reason])
        }
    }

    /// Requeues a job whose evaluator let it down, or ends it as failed for infrastructure reasons after
    /// `maxAttempts`; that failure is never the solver's.
    func retryOrFail(_ job: JobRecord, reason: String, now: Millis) throws {
        if job.attempts >= config.maxAttempts {
            let message = "infrastructure: \(reason) (after \(job.attempts) attempts)"
            try store.fail(job: job.id, error: message, log: nil, now: now)
            let challenge = try store.challenge(job.challenge)
            var announcement = Announcement(
                topic: .failed, at: now, challenge: job.challenge, title: challenge?.title ?? "")
            announcement.submission = job.submission
            announcement.message = message
            try publish(announcement)
            logger.warning("job failed for infrastructure reasons", ["job.id": "\(job.id)", "reason": reason])
        } else {
            try store.requeue(job: job.id, now: now)
            dispatcher.enqueue(job: job.id, service: job.service)
            logger.info("job requeued", ["job.id": "\(job.id)", "reason": reason])
        }
    }

    /// Forgets an evaluator and hands its job back.
    func dropEvaluator(_ identity: Data, now: Millis) throws {
        guard let jobID = dispatcher.remove(identity), let job = try store.job(jobID), job.state == "leased" else {
            return
        }
        try retryOrFail(job, reason: "evaluator lost", now: now)
    }

    /// A send to an evaluator failed after the pass committed: drop it, and requeue its job next pass.
    func evaluatorUnreachable(_ identity: Data) {
        guard dispatcher.evaluators[identity] != nil else { return }
        if let job = dispatcher.remove(identity) { orphanedJobs.append(job) }
    }

    func heartbeatEvaluators(now: Millis) {
        for identity in dispatcher.evaluators.keys { send(to: identity, MDP.worker(.heartbeat)) }
    }

    func expireEvaluators(now: Millis) throws {
        for identity in dispatcher.expired(now: now) {
            logger.warning("evaluator silent; dropped", ["peer": peerName(identity)])
            try dropEvaluator(identity, now: now)
        }
        let orphans = orphanedJobs
        orphanedJobs.removeAll()
        for jobID in orphans {
            if let job = try store.job(jobID), job.state == "leased" {
                try retryOrFail(job, reason: "evaluator unreachable", now: now)
            }
        }
    }

    /// A lease that outlived its challenge's time limit plus margin goes back to the queue. The evaluator
    /// stays busy until it answers; its late answer is then ignored.
    func expireLeases(now: Millis) throws {
        for job in try store.expiredLeases(now: now) {
            try retryOrFail(job, reason: "lease expired", now: now)
        }
    }

    /// Leases queued jobs to idle evaluators; the REQUEST leaves after the pass commits.
    func dispatch(now: Millis) throws {
        while let (jobID, identity) = dispatcher.nextAssignment() {
            guard let (job, bytes) = try store.lease(job: jobID, worker: peerName(identity), margin: config.leaseMargin, now: now)
            else {
                dispatcher.unassign(identity)
                continue
            }
            send(to: identity, MDP.workerRequest(clientAddress: job.address, body: [Wire.encode(job), bytes]))
        }
    }
}
