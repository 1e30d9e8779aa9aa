import Foundation
import PumasiShared

extension Broker {
    /// An MDP worker command from `identity`.
    func handleWorker(_ identity: Data, _ inbound: MDP.Inbound, sender: Sender? = nil, now: Millis) throws {
        let expiry = now + config.heartbeatInterval * Millis(config.heartbeatLiveness)
        let known = memory.dispatcher.evaluators[identity] != nil
        switch inbound {
        case .workerReady(let service):
            if known {
                // A second READY on one connection breaks the protocol: forget the peer and make it start over.
                logger.warning("evaluator sent READY twice; disconnecting", ["peer": peerName(identity)])
                try dropEvaluator(identity, now: now)
                send(to: identity, MDP.worker(.disconnect))
                return
            }
            guard Service.isScorer(service) else {
                logger.warning(
                    "evaluator refused: READY for a service no scorer has; disconnecting",
                    ["peer": peerName(identity), "service": String(service.prefix(64))])
                send(to: identity, MDP.worker(.disconnect))
                return
            }
            if let sender, let scope = sender.scope, let taken = pluginTakenElsewhere(service, scope: scope) {
                try store.audit(
                    "evaluator.refused", taken, by: sender.name,
                    detail:
                        "\(service): it serves \(taken), whose seeker brings its own evaluators; this one is bound to \(scope)",
                    at: now)
                logger.warning(
                    "evaluator refused: a service of another seeker's own evaluators",
                    ["principal": sender.name, "service": service, "challenge.id": taken])
                send(to: identity, MDP.worker(.disconnect))
                return
            }
            forgetRefusals(of: sender?.name ?? peerName(identity))
            memory.dispatcher.register(
                identity, principal: sender?.name ?? peerName(identity), service: service, scope: sender?.scope,
                expiresAt: expiry)
            logger.info("evaluator ready", ["peer": peerName(identity), "service": service])
        case .workerHeartbeat:
            guard known else { return send(to: identity, MDP.worker(.disconnect)) }
            memory.dispatcher.touch(identity, expiresAt: expiry)
        case .workerReply(let address, let body):
            guard known else { return send(to: identity, MDP.worker(.disconnect)) }
            memory.dispatcher.touch(identity, expiresAt: expiry)
            let holding = memory.dispatcher.evaluators[identity]?.batch ?? []
            let answered = ScoringJob.parseAddress(address)
            try handleResults(
                from: identity, answered: answered, address: address, body: body, sender: sender, now: now)
            // Only an answer to the batch it holds (even a late one, after its leases expired) frees an evaluator;
            // a stray or forged reply must not get it more work while the first is still running.
            if !holding.isEmpty, answered?.map(\.job) == holding { memory.dispatcher.release(identity) }
        case .workerDisconnect:
            if known {
                logger.info("evaluator disconnected", ["peer": peerName(identity)])
                try dropEvaluator(identity, now: now)
            }
        case .clientRequest:
            break
        }
    }

    /// Records each result that answers a lease its evaluator holds; anything else is ignored, so a late or
    /// duplicate reply never overwrites a recorded score.
    private func handleResults(
        from identity: Data, answered: [(job: Int64, attempt: Int)]?, address: Data, body: [Data], sender: Sender?,
        now: Millis
    ) throws {
        guard let answered else {
            logger.warning(
                "reply with an unreadable address; ignored",
                ["peer": peerName(identity), "address": String(decoding: address.prefix(64), as: UTF8.self)])
            return
        }
        let evaluator = sender?.name ?? memory.dispatcher.evaluators[identity]?.principal ?? peerName(identity)
        for (index, (job, attempt)) in answered.enumerated() {
            guard let lease = memory.dispatcher.leases[job], lease.evaluator == identity, lease.attempt == attempt
            else {
                logger.warning(
                    "reply answers no current lease; ignored", ["peer": peerName(identity), "job.id": "\(job)"])
                continue
            }
            memory.dispatcher.endLease(job)
            guard index < body.count, let result = ScoringResult.decode(body[index]) else {
                logger.warning("evaluator sent an unreadable result", ["peer": peerName(identity), "job.id": "\(job)"])
                try retryOrFail(lease, reason: "evaluator sent an unreadable result", evaluator: evaluator, now: now)
                continue
            }
            try record(result, for: lease, evaluator: evaluator, now: now)
        }
    }

    private func record(_ result: ScoringResult, for lease: Lease, evaluator: String, now: Millis) throws {
        if let failure = result.error, failure.code == Self.misconfiguredCode {
            return try refused(lease, reason: failure.message, evaluator: evaluator, now: now)
        }
        if let failure = result.error, failure.isInfrastructure {
            return try retryOrFail(lease, reason: "\(failure.code): \(failure.message)", evaluator: evaluator, now: now)
        }
        let key = lease.key
        let record = memory.liveChallenges[lease.challenge]
        guard key.version == record?.scorerVersion ?? key.version else {
            // Scored under a version a rescore has replaced: kept as that version's score, nothing more.
            try store.recordOutcome(
                Self.outcome(of: result), submission: lease.submission, challenge: lease.challenge,
                version: key.version, evaluator: evaluator, attempt: lease.attempt, now: now, unlessRecorded: true)
            return
        }
        if result.ok, let score = result.score, let range = record?.spec?.scoreRange, !range.contains(score) {
            // A score the scorer cannot rightly give is its fault, not the solver's: no score, no retry (it would
            // say the same again), and no submission counted against the solver's limits.
            let reason =
                "infrastructure: scorer_error: the scorer gave \(score), outside the challenge's valid range "
                + "\(range.min) to \(range.max): its seeker should check the scorer"
            logger.warning("score outside the valid range", ["job.id": "\(lease.job)", "score": "\(score)"])
            return try conclude(lease, with: result, evaluator: evaluator, now: now, failure: reason)
        }
        if let redundancy = record?.redundancy {
            // The submission's outcome is in already (another replica's failure ended it): nothing to decide.
            guard memory.replicas[JobKey(row: key.row, version: key.version)] != nil else {
                logger.info("replica of a submission that has its outcome; ignored", ["job.id": "\(lease.job)"])
                return
            }
            return try recordReplica(result, for: lease, evaluator: evaluator, redundancy: redundancy, now: now)
        }
        try conclude(lease, with: result, evaluator: evaluator, now: now)
    }

    static func outcome(of result: ScoringResult) -> JobOutcome {
        if result.ok, let score = result.score, score.isFinite { return .scored(score: score, result: result) }
        let reason =
            result.ok
            ? "evaluator returned no finite score"
            : "\(result.error?.code ?? "failed"): \(result.error?.message ?? "no reason given")"
        return .failed(error: reason, log: result.log)
    }

    /// Records a job's outcome under the current scorer version, announces it, and checks a bounty.
    /// - Parameter failure: ends the job as failed with this reason, whatever `result` says.
    private func conclude(
        _ lease: Lease, with result: ScoringResult, evaluator: String?, now: Millis, failure: String? = nil
    ) throws {
        // Looked up once: a record comes out of the dictionary as a copy (nothing below changes it).
        let live = memory.liveChallenges[lease.challenge]
        var announcement = Announcement(topic: .scored, at: now, challenge: lease.challenge, title: live?.title ?? "")
        announcement.submission = lease.submission
        // A judged challenge's judges follow the announcements: they judge blind until the award.
        if live?.judging == nil { announcement.solver = lease.solver }
        var bountyValue: Double?
        let outcome = failure.map { JobOutcome.failed(error: $0, log: nil) } ?? Self.outcome(of: result)
        try store.recordOutcome(
            outcome, submission: lease.submission, challenge: lease.challenge, version: lease.key.version,
            evaluator: evaluator, attempt: lease.attempt, now: now)
        switch outcome {
        case .scored(let score, _):
            try judgingFollowsScore(submission: lease.submission, challenge: lease.challenge, now: now)
            // Announced on the public split: the private one stays hidden until the challenge closes.
            if let record = live {
                let candidate = RankingCandidate(
                    submission: lease.submission, solver: lease.solver, entrant: lease.solver, receivedAt: 0, order: 0,
                    score: score,
                    metrics: result.metrics ?? [:], disqualified: false, selected: false)
                let ranking = Ranking(record: record, candidates: [])
                announcement.score = ranking.value(candidate, on: .provisional)
                bountyValue = ranking.value(candidate, on: .final)
            } else {
                announcement.score = score
            }
        case .failed(let reason, _):
            announcement.topic = .failed
            announcement.message = reason
            logger.info(
                "scoring failed", ["job.id": "\(lease.job)", "submission.id": lease.submission, "reason": reason])
        }
        try publish(announcement)
        memory.replicas[JobKey(row: lease.key.row, version: lease.key.version)] = nil
        jobEnded(challenge: lease.challenge)
        try checkBounty(challenge: lease.challenge, value: bountyValue, now: now)
    }

    /// Keeps a replica's result; once enough agree, the canonical one is the outcome. Disagreement asks for
    /// another replica, up to the limit; evaluators that disagreed with the quorum are flagged to the seeker.
    private func recordReplica(
        _ result: ScoringResult, for lease: Lease, evaluator: String, redundancy: RedundancySpec, now: Millis
    ) throws {
        let key = lease.key
        let base = JobKey(row: key.row, version: key.version)
        try store.recordReplica(
            ReplicaResult(replica: key.replica, evaluator: evaluator, result: result), submission: lease.submission,
            version: key.version, now: now)
        let results = try store.replicas(submission: lease.submission, version: key.version)
        switch Quorum.decide(results, redundancy) {
        case .agreed(let canonical, let agreeing, let odd):
            for other in odd {
                try flagDisagreement(lease, odd: other, quorum: agreeing, now: now)
            }
            try conclude(
                lease, with: canonical.result,
                evaluator: "quorum of " + agreeing.map(\.evaluator).joined(separator: ", "), now: now)
        case .undecided:
            var issued = memory.replicas[base] ?? ReplicaState()
            let outstanding = issued.count - results.count
            guard outstanding <= 0 else { return }  // more results are on their way
            if issued.count < redundancy.effectiveMaxReplicas {
                let next = JobKey(row: key.row, version: key.version, replica: issued.count)
                issued.count += 1
                memory.replicas[base] = issued
                memory.dispatcher.enqueue(QueuedJob(id: next.id, failedAttempts: 0), service: lease.service)
                logger.info(
                    "replicas disagree; one more",
                    ["submission.id": lease.submission, "replica": "\(next.replica)"])
            } else {
                let scores = results.map {
                    "\($0.evaluator): \($0.result.score.map { "\($0)" } ?? $0.result.error?.code ?? "failed")"
                }
                let reason =
                    "infrastructure: \(results.count) replicas did not agree (\(scores.joined(separator: "; ")))"
                try store.audit("submission.disputed", lease.submission, by: nil, detail: reason, at: now)
                var flag = Announcement(
                    topic: .disputed, at: now, challenge: lease.challenge,
                    title: memory.liveChallenges[lease.challenge]?.title ?? "")
                flag.submission = lease.submission
                flag.message = reason
                try publish(flag)
                try conclude(lease, with: ScoringResult(ok: false), evaluator: nil, now: now, failure: reason)
            }
        }
    }

    /// Notes an evaluator whose result disagreed with the quorum, for the seeker.
    private func flagDisagreement(_ lease: Lease, odd: ReplicaResult, quorum: [ReplicaResult], now: Millis) throws {
        let theirs = odd.result.score.map { "\($0)" } ?? odd.result.error?.code ?? "no score"
        let agreed = quorum.first?.result.score.map { "\($0)" } ?? quorum.first?.result.error?.code ?? "?"
        let detail = "\(odd.evaluator) reported \(theirs) where \(quorum.count) others agreed on \(agreed)"
        try store.audit("evaluator.disagreed", lease.submission, by: odd.evaluator, detail: detail, at: now)
        var flag = Announcement(
            topic: .disputed, at: now, challenge: lease.challenge,
            title: memory.liveChallenges[lease.challenge]?.title ?? "")
        flag.submission = lease.submission
        flag.message = detail
        try publish(flag)
        logger.warning(
            "an evaluator disagreed with the quorum", ["submission.id": lease.submission, "evaluator": odd.evaluator])
    }

    /// Requeues a job whose evaluator let it down, or ends it as failed for infrastructure reasons after
    /// `maxAttempts`; that failure is never the solver's.
    func retryOrFail(_ lease: Lease, reason: String, evaluator: String?, now: Millis) throws {
        if memory.liveChallenges[lease.challenge]?.redundancy != nil,
            lease.key.version == memory.liveChallenges[lease.challenge]?.scorerVersion,
            memory.replicas[JobKey(row: lease.key.row, version: lease.key.version)] == nil
        {
            return  // a replica of a submission that already has its outcome
        }
        if lease.attempt >= config.maxAttempts {
            let message = "infrastructure: \(reason) (after \(lease.attempt) attempts)"
            logger.warning("job failed for infrastructure reasons", ["job.id": "\(lease.job)", "reason": reason])
            guard lease.key.version == memory.liveChallenges[lease.challenge]?.scorerVersion ?? lease.key.version else {
                return
            }
            try conclude(lease, with: ScoringResult(ok: false), evaluator: nil, now: now, failure: message)
        } else {
            memory.replicas[JobKey(row: lease.key.row, version: lease.key.version)]?.principals.remove(lease.principal)
            try store.recordFailedAttempt(
                submission: lease.submission, version: lease.key.version, evaluator: evaluator, reason: reason, now: now
            )
            memory.dispatcher.enqueue(QueuedJob(id: lease.job, failedAttempts: lease.attempt), service: lease.service)
            logger.info("job requeued", ["job.id": "\(lease.job)", "reason": reason])
        }
    }

    /// Forgets an evaluator and hands its jobs back.
    func dropEvaluator(_ identity: Data, now: Millis) throws {
        for lease in memory.dispatcher.remove(identity) {
            try retryOrFail(lease, reason: "evaluator lost", evaluator: lease.principal, now: now)
        }
    }

    /// A send to an evaluator failed after the pass committed: drop it, and requeue its job next pass.
    func evaluatorUnreachable(_ identity: Data) {
        guard memory.dispatcher.evaluators[identity] != nil else { return }
        memory.orphanedLeases += memory.dispatcher.remove(identity)
    }

    func heartbeatEvaluators(now: Millis) {
        for identity in memory.dispatcher.evaluators.keys { send(to: identity, MDP.worker(.heartbeat)) }
    }

    func expireEvaluators(now: Millis) throws {
        for identity in memory.dispatcher.expired(now: now) {
            logger.warning("evaluator silent; dropped", ["peer": peerName(identity)])
            try dropEvaluator(identity, now: now)
        }
        let orphans = memory.orphanedLeases
        memory.orphanedLeases.removeAll()
        for lease in orphans {
            try retryOrFail(lease, reason: "evaluator unreachable", evaluator: lease.principal, now: now)
        }
    }

    /// A lease that outlived its challenge's time limit plus margin goes back to the queue. The evaluator
    /// stays busy until it answers; its late answer is then ignored.
    func expireLeases(now: Millis) throws {
        for lease in memory.dispatcher.expiredLeases(now: now) {
            memory.dispatcher.endLease(lease.job)
            try retryOrFail(lease, reason: "lease expired", evaluator: lease.principal, now: now)
        }
    }

    /// The fewest built-in jobs a connection is given while the queue has them, even with other connections idle: a
    /// built-in job takes an evaluator microseconds, less than the messages that would carry it alone, and spread
    /// over every idle connection a busy queue went out two to five jobs a REQUEST (pipelined: 6 % more jobs a
    /// second at 16 than at 1, with lower latency; `docs/performance.md`).
    static let leastBuiltinBatch = 16

    /// Leases queued jobs to idle evaluators, in batches for the built-in scorers; each REQUEST leaves after
    /// the pass commits. A job's lease runs to the time limits of the jobs before it in the batch and its own,
    /// plus the margin.
    func dispatch(now: Millis) throws {
        let builtin = (least: min(Self.leastBuiltinBatch, config.jobBatch), most: config.jobBatch)
        // Replicas this evaluator may not take (it scored the submission already): back to the queue afterwards.
        var deferred: [(QueuedJob, String)] = []
        defer { for (job, service) in deferred { memory.dispatcher.enqueue(job, service: service) } }
        while let (jobs, identity) = memory.dispatcher.nextAssignment(batch: {
            $0 == Service.builtinScorers ? builtin : (1, 1)
        }) {
            let principal = memory.dispatcher.evaluators[identity]?.principal ?? peerName(identity)
            var leased: [(job: Int64, attempt: Int)] = []
            var body: [Data] = []
            var expires = now + config.leaseMargin
            for queued in jobs {
                let key = JobKey(id: queued.id)
                let cached = memory.recentPayloads.removeValue(forKey: key.row)
                if let cached { memory.recentPayloadBytes -= cached.content.count }
                guard let payload = try cached ?? store.jobPayload(row: key.row),
                    let challenge = try liveChallenge(payload.challenge),
                    challenge.state == .open || challenge.state == .closed
                else {
                    logger.error("queued job has no submission or live challenge; dropped", ["job.id": "\(queued.id)"])
                    memory.dispatcher.withdraw(queued.id, from: identity)
                    continue
                }
                guard Self.mayScore(challenge, scope: memory.dispatcher.evaluators[identity]?.scope) else {
                    // Queues keep bindings apart; this is the last check before a submission leaves.
                    logger.error(
                        "job queued for an evaluator not allowed to score it; requeued", ["job.id": "\(queued.id)"])
                    memory.dispatcher.withdraw(queued.id, from: identity)
                    deferred.append((queued, challenge.queue(phase: payload.phase)))
                    continue
                }
                guard key.version == challenge.scorerVersion else {
                    // Queued before a rescore: the new version's job replaces it.
                    memory.dispatcher.withdraw(queued.id, from: identity)
                    continue
                }
                let queue = challenge.queue(phase: payload.phase)
                guard !hasRefused(principal, queue: queue, version: key.version) else {
                    // This evaluator found the scorer misconfigured: the job waits for another.
                    memory.dispatcher.withdraw(queued.id, from: identity)
                    deferred.append((queued, queue))
                    continue
                }
                let base = JobKey(row: key.row, version: key.version)
                if challenge.redundancy != nil {
                    // No replica state: the submission already has its outcome (another replica's failure ended it).
                    guard memory.replicas[base] != nil else {
                        memory.dispatcher.withdraw(queued.id, from: identity)
                        continue
                    }
                    guard memory.replicas[base]?.principals.contains(principal) != true else {
                        memory.dispatcher.withdraw(queued.id, from: identity)
                        deferred.append((queued, challenge.queue(phase: payload.phase)))
                        continue
                    }
                    memory.replicas[base, default: ReplicaState()].principals.insert(principal)
                }
                let attempt = queued.failedAttempts + 1
                expires += Millis(Self.leaseSeconds(challenge, phase: payload.phase) * 1000)
                var job = ScoringJob(
                    job: queued.id, attempt: attempt, challenge: challenge.id, submission: payload.submission,
                    filename: payload.filename, sha256: payload.sha256, scorer: challenge.scorer, reference: [],
                    timeLimitSeconds: challenge.timeLimitSeconds)
                job.fetch = payload.fetch
                memory.dispatcher.grant(
                    Lease(
                        job: queued.id, attempt: attempt, evaluator: identity, principal: principal, expires: expires,
                        submission: payload.submission, challenge: challenge.id, solver: payload.solver,
                        service: challenge.queue(phase: payload.phase)))
                leased.append((queued.id, attempt))
                body += [job.json(tail: try jobTail(challenge, phase: payload.phase)), payload.content]
            }
            guard !leased.isEmpty else { continue }
            // Sent at once, before the pass commits: the evaluator scores while the pass goes on and the disk syncs.
            // A job acknowledges nothing to anyone; a result read before the commit is recorded in the same
            // transaction as its submission; if the commit never happens, the broker stops and a restart knows no
            // such lease.
            deliver([identity] + MDP.workerRequest(clientAddress: ScoringJob.address(leased), body: body), on: router)
            StepTrace.mark(.jobSent)
        }
    }

    /// How long an evaluator may take over one job: the scoring program's time limit, plus its ingestion's, and as
    /// much again for each canary it may have to check first.
    static func leaseSeconds(_ challenge: ChallengeRecord, phase: Int) -> Double {
        let scorer = challenge.scorer(phase: phase)
        let limit = challenge.timeLimitSeconds
        let once = limit + (scorer.ingestion.map { $0.timeLimitSeconds ?? limit } ?? 0)
        return once * Double(1 + (scorer.canaries?.count ?? 0))
    }

    /// The members a challenge's jobs share, written once per scorer version.
    private func jobTail(_ challenge: ChallengeRecord, phase: Int) throws -> Data {
        let key = phase == 0 ? challenge.id : "\(challenge.id)/\(phase)"
        if let cached = memory.jobTails[key], cached.version == challenge.scorerVersion { return cached.json }
        var reference = try referenceFiles(challenge.id)
        // A phase scores on its own reference data (and its scorer's programs, input data and canaries).
        if challenge.phases.indices.contains(phase), let names = challenge.phases[phase].reference {
            let kept = Set(names + challenge.scorer(phase: phase).programFiles)
            reference = reference.filter { kept.contains($0.name) }
        }
        let json = ScoringJob.tail(
            scorer: challenge.scorer(phase: phase), reference: reference,
            timeLimitSeconds: challenge.timeLimitSeconds)
        memory.jobTails[key] = (challenge.scorerVersion, json)
        return json
    }

    /// Keeps a just-received submission for its first dispatch, if it is small and the cache has room.
    func rememberPayload(_ payload: JobPayload, row: Int64) {
        guard payload.content.count <= 64 << 10,
            memory.recentPayloadBytes + payload.content.count <= Self.payloadCacheLimit
        else { return }
        memory.recentPayloads[row] = payload
        memory.recentPayloadBytes += payload.content.count
    }
}
