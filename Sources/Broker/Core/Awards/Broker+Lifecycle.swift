import Foundation
import PumasiShared

/// The challenge lifecycle: draft → open (at its start time) → closed, under evaluation (deadline passed;
/// scoring finishes) → awarded, or closed without award; or cancelled. Every change is announced.
extension Broker {
    /// Opens drafts whose start time has come, closes open challenges whose deadline has passed, and announces
    /// deadlines drawing near.
    func applyDeadlines(now: Millis) throws {
        try advancePhases(now: now)
        for record in memory.liveChallenges.values {
            switch record.state {
            case .draft where record.startsAt <= now:
                try openDraft(record, now: now)
            case .open where record.deadline <= now && record.currentPhase + 1 >= max(1, record.phases.count):
                try closeChallenge(record, now: now, reason: "deadline passed")
            case .open where !record.closingAnnounced && record.deadline - config.closingNotice <= now:
                try store.markClosingAnnounced(challenge: record.id)
                memory.liveChallenges[record.id]?.closingAnnounced = true
                var announcement = Announcement(topic: .closing, at: now, challenge: record.id, title: record.title)
                announcement.deadline = record.deadline
                try publish(announcement)
            default:
                break
            }
        }
    }

    /// The next time a draft opens or an open challenge's deadline or closing notice falls due.
    var nextLifecycleEvent: Millis? {
        let next = memory.liveChallenges.values.compactMap { record -> Millis? in
            switch record.state {
            case .draft: record.startsAt
            case .open: record.closingAnnounced ? record.deadline : record.deadline - config.closingNotice
            default: nil
            }
        }.min()
        guard let phase = nextPhaseEnd else { return next }
        return min(next ?? phase, phase)
    }

    private func openDraft(_ record: ChallengeRecord, now: Millis) throws {
        try store.setState(challenge: record.id, .open)
        try store.audit("challenge.open", record.id, by: nil, detail: "start time reached", at: now)
        memory.liveChallenges[record.id]?.state = .open
        try announceOpened(record, now: now)
        logger.info("challenge opened", ["challenge.id": record.id])
    }

    func announceOpened(_ record: ChallengeRecord, now: Millis) throws {
        var announcement = Announcement(topic: .opened, at: now, challenge: record.id, title: record.title)
        announcement.deadline = record.deadline
        announcement.amount = record.award.amount
        announcement.currency = record.award.currency
        try publish(announcement)
    }

    /// Stops a challenge taking submissions; its award is decided once its scoring has drained.
    func closeChallenge(_ record: ChallengeRecord, now: Millis, reason: String, by principal: String? = nil) throws {
        try store.audit("challenge.close", record.id, by: principal, detail: reason, at: now)
        try store.setState(challenge: record.id, .closed, closedAt: now)
        var closed = record
        closed.state = .closed
        closed.closedAt = now
        memory.liveChallenges[record.id] = closed
        memory.settleCandidates.insert(record.id)
        var announcement = Announcement(topic: .closed, at: now, challenge: record.id, title: record.title)
        announcement.deadline = record.deadline
        announcement.message = reason
        try publish(announcement)
        logger.info("challenge closed", ["challenge.id": record.id, "reason": reason])
    }

    /// Pulls a challenge: no award, no more submissions.
    func cancelChallenge(_ record: ChallengeRecord, now: Millis, reason: String, by principal: String?) throws {
        try end(
            record, as: .cancelled, topic: .cancelled, action: "challenge.cancel", reason: reason, by: principal,
            now: now)
    }

    /// Ends a challenge without an award: records the final state, announces it with the reason, forgets it.
    private func end(
        _ record: ChallengeRecord, as state: ChallengeState, topic: Announcement.Topic, action: String, reason: String,
        by principal: String?, now: Millis
    ) throws {
        try store.audit(action, record.id, by: principal, detail: reason, at: now)
        try store.setState(challenge: record.id, state, closedAt: record.closedAt ?? now)
        memory.liveChallenges[record.id] = nil
        memory.referenceCache[record.id] = nil
        // A draft was never announced: its end is not either.
        if record.state != .draft {
            var announcement = Announcement(topic: topic, at: now, challenge: record.id, title: record.title)
            announcement.message = reason
            try publish(announcement)
        }
        logger.info(
            "challenge ended without award", ["challenge.id": record.id, "state": state.rawValue, "reason": reason])
    }

    /// A first-to-threshold bounty closes as soon as a submission meets its bar.
    func checkBounty(challenge: String, value: Double?, now: Millis) throws {
        guard let record = memory.liveChallenges[challenge], record.state == .open,
            record.policy.kind == .firstToThreshold,
            let threshold = record.policy.threshold, let value,
            record.direction == .maximize ? value >= threshold : value <= threshold
        else { return }
        try closeChallenge(record, now: now, reason: "a submission met the bounty's threshold \(threshold)")
    }

    /// Decides the award of every closed challenge whose scoring has drained.
    func settleClosedChallenges(now: Millis) throws {
        let candidates = memory.settleCandidates
        memory.settleCandidates.removeAll()
        for id in candidates {
            guard let record = memory.liveChallenges[id], record.state == .closed, memory.pendingJobs[id] == nil,
                try store.pendingJobCount(challenge: id, version: record.scorerVersion) == 0,
                try store.awaitingJudgingCount(record) == 0
            else { continue }
            switch record.policy.decide(record, ranking: try store.ranking(record, phase: record.awardPhase), now: now)
            {
            case .awaitSeeker:
                logger.info("scoring finished; the seeker decides the award", ["challenge.id": id])
            case .pay(let payments) where payments.contains(where: { $0.amount > 0 }):
                try recordAwards(payments.filter { $0.amount > 0 }, record, now: now)
            case .pay:
                try closeWithoutAward(record, reason: "no amount was due", now: now)
            case .none(let reason):
                try closeWithoutAward(record, reason: reason, now: now)
            }
        }
    }

    /// Appends awards to the ledger, announces each, and ends the challenge as awarded.
    func recordAwards(_ payments: [AwardInfo], _ record: ChallengeRecord, by principal: String? = nil, now: Millis)
        throws
    {
        // A team's payment is one per member, by the team's shares.
        let payments = try splitForTeams(payments, record)
        for (index, award) in payments.enumerated() {
            var award = award
            // Made under the terms the winner accepted last: their ledger entry names them.
            if memory.agreements[record.id] != nil {
                award.agreement = try store.acceptance(challenge: record.id, principal: award.solver)?.sha256
            }
            try store.insertAward(award)
            try store.audit(
                "challenge.award", record.id, by: principal,
                detail:
                    "\(award.amount) \(award.currency) to \(award.solver)\(award.team.map { " of team \($0)" } ?? "") "
                    + "for \(award.submission) (\(award.policy))"
                    + (award.rationale.map { ": \($0)" } ?? ""),
                at: now)
            var announcement = Announcement(topic: .awarded, at: now, challenge: record.id, title: record.title)
            announcement.submission = award.submission
            announcement.solver = award.solver
            announcement.score = award.score
            announcement.rank = index + 1
            announcement.amount = award.amount
            announcement.currency = award.currency
            announcement.message = award.rationale
            try publish(announcement)
            logger.info(
                "award decided",
                ["challenge.id": record.id, "submission.id": award.submission, "amount": "\(award.amount)"])
        }
        try store.setState(challenge: record.id, .awarded)
        memory.liveChallenges[record.id] = nil
        memory.referenceCache[record.id] = nil
    }

    func closeWithoutAward(_ record: ChallengeRecord, reason: String, by principal: String? = nil, now: Millis) throws {
        try end(
            record, as: .unawarded, topic: .unawarded, action: "challenge.unawarded", reason: reason, by: principal,
            now: now)
    }
}
