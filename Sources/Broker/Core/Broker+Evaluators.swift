import Foundation
import PumasiShared

extension Broker {
    /// An MDP worker command from `identity`.
    func handleWorker(_ identity: Data, _ inbound: MDP.Inbound, sender: Sender? = nil, now: Millis) throws {
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
            let holding = dispatcher.evaluators[identity]?.job
            try handleResult(from: identity, address: address, body: body, sender: sender, now: now)
            // Only an answer to the job it holds (even a late one, after its lease expired) frees an evaluator;
            // a stray or forged reply must not get it a second job while the first is still running.
            if let holding, ScoringJob.parseAddress(address)?.job == holding { dispatcher.release(identity) }
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
    private func handleResult(from identity: Data, address: Data, body: [Data], sender: Sender?, now: Millis) throws {
        guard let answered = ScoringJob.parseAddress(address), let lease = dispatcher.leases[answered.job],
            lease.evaluator == identity, lease.attempt == answered.attempt
        else {
            logger.warning(
                "reply answers no current lease; ignored",
                ["peer": peerName(identity), "address": String(decoding: address.prefix(64), as: UTF8.self)])
            return
        }
        dispatcher.endLease(lease.job)
        guard let frame = body.first, let result = try? JSONDecoder().decode(ScoringResult.self, from: frame) else {
            logger.warning("evaluator sent an unreadable result", ["peer": peerName(identity), "job.id": "\(lease.job)"])
            return try retryOrFail(lease, reason: "evaluator sent an unreadable result", now: now)
        }
        let title = liveChallenges[lease.challenge]?.title ?? ""
        if result.ok, let score = result.score, score.isFinite {
            try store.recordScore(
                job: lease.job, submission: lease.submission, challenge: lease.challenge, result: result, score: score,
                now: now)
            try store.audit(
                "submission.score", lease.submission, by: sender?.name ?? peerName(identity), detail: "score=\(score)",
                at: now)
            var announcement = Announcement(topic: .scored, at: now, challenge: lease.challenge, title: title)
            announcement.submission = lease.submission
            announcement.solver = lease.solver
            announcement.score = score
            try publish(announcement)
        } else if let failure = result.error, failure.isInfrastructure {
            return try retryOrFail(lease, reason: "\(failure.code): \(failure.message)", now: now)
        } else {
            let reason =
                result.ok
                ? "evaluator returned no finite score"
                : "\(result.error?.code ?? "failed"): \(result.error?.message ?? "no reason given")"
            try store.fail(job: lease.job, error: reason, log: result.log, now: now)
            try store.audit("submission.fail", lease.submission, by: sender?.name ?? peerName(identity), detail: reason, at: now)
            var announcement = Announcement(topic: .failed, at: now, challenge: lease.challenge, title: title)
            announcement.submission = lease.submission
            announcement.solver = lease.solver
            announcement.message = reason
            try publish(announcement)
            logger.info("scoring failed", ["job.id": "\(lease.job)", "submission.id": lease.submission, "reason": reason])
        }
        jobEnded(challenge: lease.challenge)
    }

    /// Requeues a job whose evaluator let it down, or ends it as failed for infrastructure reasons after
    /// `maxAttempts`; that failure is never the solver's.
    func retryOrFail(_ lease: Lease, reason: String, now: Millis) throws {
        let counted = lease.attempt - lease.restarts
        if counted >= config.maxAttempts {
            let message = "infrastructure: \(reason) (after \(counted) attempts)"
            try store.fail(job: lease.job, error: message, log: nil, now: now)
            var announcement = Announcement(
                topic: .failed, at: now, challenge: lease.challenge, title: liveChallenges[lease.challenge]?.title ?? "")
            announcement.submission = lease.submission
            announcement.solver = lease.solver
            announcement.message = message
            try publish(announcement)
            jobEnded(challenge: lease.challenge)
            logger.warning("job failed for infrastructure reasons", ["job.id": "\(lease.job)", "reason": reason])
        } else {
            try store.requeue(job: lease.job, now: now)
            dispatcher.enqueue(job: lease.job, service: lease.service)
            logger.info("job requeued", ["job.id": "\(lease.job)", "reason": reason])
        }
    }

    /// Forgets an evaluator and hands its job back.
    func dropEvaluator(_ identity: Data, now: Millis) throws {
        guard let lease = dispatcher.remove(identity) else { return }
        try retryOrFail(lease, reason: "evaluator lost", now: now)
    }

    /// A send to an evaluator failed after the pass committed: drop it, and requeue its job next pass.
    func evaluatorUnreachable(_ identity: Data) {
        guard dispatcher.evaluators[identity] != nil else { return }
        if let lease = dispatcher.remove(identity) { orphanedLeases.append(lease) }
    }

    func heartbeatEvaluators(now: Millis) {
        for identity in dispatcher.evaluators.keys { send(to: identity, MDP.worker(.heartbeat)) }
    }

    func expireEvaluators(now: Millis) throws {
        for identity in dispatcher.expired(now: now) {
            logger.warning("evaluator silent; dropped", ["peer": peerName(identity)])
            try dropEvaluator(identity, now: now)
        }
        let orphans = orphanedLeases
        orphanedLeases.removeAll()
        for lease in orphans { try retryOrFail(lease, reason: "evaluator unreachable", now: now) }
    }

    /// A lease that outlived its challenge's time limit plus margin goes back to the queue. The evaluator
    /// stays busy until it answers; its late answer is then ignored.
    func expireLeases(now: Millis) throws {
        for lease in dispatcher.expiredLeases(now: now) {
            dispatcher.endLease(lease.job)
            try retryOrFail(lease, reason: "lease expired", now: now)
        }
    }

    /// Leases queued jobs to idle evaluators; the REQUEST leaves after the pass commits.
    func dispatch(now: Millis) throws {
        while let (jobID, identity) = dispatcher.nextAssignment() {
            guard let granted = try store.lease(job: jobID, worker: peerName(identity), margin: config.leaseMargin, now: now),
                let challenge = try liveChallenge(granted.challenge)
            else {
                dispatcher.release(identity)
                continue
            }
            let expires = now + Millis(challenge.timeLimitSeconds * 1000) + config.leaseMargin
            let job = ScoringJob(
                job: jobID, attempt: granted.attempt, challenge: challenge.id, submission: granted.submission,
                filename: granted.filename, sha256: granted.sha256, scorer: challenge.scorer,
                reference: try referenceFiles(challenge.id), timeLimitSeconds: challenge.timeLimitSeconds)
            dispatcher.grant(
                Lease(
                    job: jobID, attempt: granted.attempt, restarts: granted.restarts, evaluator: identity, expires: expires,
                    submission: granted.submission, challenge: challenge.id, solver: granted.solver,
                    service: challenge.service))
            send(to: identity, MDP.workerRequest(clientAddress: job.address, body: [job.json, granted.content]))
        }
    }
}
