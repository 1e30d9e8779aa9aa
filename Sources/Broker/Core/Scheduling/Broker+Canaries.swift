import Foundation
import PumasiShared

/// Evaluators that refuse a challenge as misconfigured, and queues no connected evaluator serves: in both cases
/// submissions wait (never failed, never counted against their solvers) with a reason their solvers can read, and
/// the seeker is told.
extension Broker {
    /// The failure code of an evaluator that refuses a challenge because its scorer failed a canary check.
    static let misconfiguredCode = "challenge_misconfigured"

    /// An evaluator refused `lease`'s challenge: its job goes back to the queue, for other evaluators (this one gets
    /// none of the challenge's jobs under this scorer version until it connects anew); the seeker is told once per
    /// evaluator, through the audit trail and an announcement.
    func refused(_ lease: Lease, reason: String, evaluator: String, now: Millis) throws {
        guard let record = memory.liveChallenges[lease.challenge] else { return }
        let key = RefusalKey(queue: lease.service, version: lease.key.version)
        let known = memory.refusals[key]?[lease.principal] != nil
        memory.refusals[key, default: [:]][lease.principal] = reason
        memory.dispatcher.enqueue(QueuedJob(id: lease.job, failedAttempts: lease.attempt - 1), service: lease.service)
        guard !known else { return }
        logger.warning(
            "an evaluator refused a misconfigured challenge",
            ["challenge.id": record.id, "evaluator": evaluator, "reason": reason])
        try store.audit("challenge.misconfigured", record.id, by: evaluator, detail: reason, at: now)
        var announcement = Announcement(topic: .misconfigured, at: now, challenge: record.id, title: record.title)
        announcement.message = "evaluator \(evaluator) refuses to score it: \(reason)"
        try publish(announcement)
    }

    /// Whether the evaluator `principal` refused the challenge's jobs in `queue` under `version`.
    func hasRefused(_ principal: String, queue: String, version: Int) -> Bool {
        memory.refusals[RefusalKey(queue: queue, version: version)]?[principal] != nil
    }

    /// An evaluator connected anew: its environment or programs may have changed, so its refusals are forgotten
    /// (it checks the canaries again before scoring).
    func forgetRefusals(of principal: String) {
        for key in Array(memory.refusals.keys) {
            memory.refusals[key]?[principal] = nil
            if memory.refusals[key]?.isEmpty == true { memory.refusals[key] = nil }
        }
    }

    /// Why a queued submission of the phase (0-based) waits, when every connected evaluator that could score it
    /// refused the challenge; nil when some evaluator may still take it.
    func refusalNote(_ record: ChallengeRecord, phase: Int) -> String? {
        let queue = record.queue(phase: phase)
        guard let refusals = memory.refusals[RefusalKey(queue: queue, version: record.scorerVersion)],
            let (evaluator, reason) = refusals.min(by: { $0.key < $1.key })
        else { return nil }
        let service = record.scorer(phase: phase).service
        let others = memory.dispatcher.evaluators.values.contains {
            $0.service == service && refusals[$0.principal] == nil
        }
        guard !others else { return nil }
        return "waiting: the challenge's scorer failed its canary checks (evaluator \(evaluator): \(reason)); "
            + "its seeker has been told, and no submission is scored until the scorer is fixed"
    }

    /// Why nobody serves the phase's (0-based) queue, for the solver's status and the seeker's announcement.
    func unservedReason(_ record: ChallengeRecord, phase: Int) -> String {
        let scorer = record.scorer(phase: phase)
        if record.wantsOwnEvaluators {
            return "none of the seeker's own evaluators serving \(scorer.service) is connected"
        }
        if scorer.program != nil {
            guard let environment = scorer.environment else {
                return "no connected evaluator runs challenge programs on its own host (`pumasi evaluate --programs`)"
            }
            return "no connected evaluator has the environment \(environment) that the challenge's programs run in"
        }
        return "no evaluator serving \(scorer.service) is connected"
    }

    /// Tells the seeker, once per broker run and queue, that a submission waits because no connected evaluator
    /// serves the challenge's scorer.
    func tellIfUnserved(_ record: ChallengeRecord, phase: Int, now: Millis) throws {
        guard !record.isJudgedOnly else { return }
        let queue = record.queue(phase: phase)
        let service = record.scorer(phase: phase).service
        guard
            !memory.dispatcher.isServed(
                service, challenge: record.id, owner: record.owner, own: record.wantsOwnEvaluators),
            memory.unservedTold.insert(queue).inserted
        else { return }
        var announcement = Announcement(topic: .unserved, at: now, challenge: record.id, title: record.title)
        announcement.message = unservedReason(record, phase: phase) + "; submissions wait until one connects"
        try publish(announcement)
    }
}
