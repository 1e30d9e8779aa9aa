import Foundation
import PumasiShared

/// Phases (issue 12): a challenge in stages. The first opens with the challenge; at a phase's end its submissions
/// stop, and once its scoring has drained the next opens, in one transaction with everything it brings: who
/// qualified (from the phase before's final standings) and the submissions carried over to be scored on the new
/// phase's data. A broker that stops in between opens it when it starts again, once.
extension Broker {
    /// Opens the next phase of every open challenge whose current phase has ended and finished scoring.
    func advancePhases(now: Millis) throws {
        for record in memory.liveChallenges.values where record.state == .open && record.isPhased {
            let current = record.currentPhase
            guard current + 1 < record.phases.count, record.phases[current].endsAt <= now,
                (record.phases[current + 1].startsAt ?? 0) <= now
            else { continue }
            let pending =
                memory.pendingJobs[record.id] == nil
                ? 0 : try store.pendingJobCount(challenge: record.id, version: record.scorerVersion, phase: current)
            guard pending == 0, try store.awaitingJudgingCount(record) == 0 else { continue }
            try openPhase(current + 1, of: record, now: now)
        }
    }

    /// The next phase end among open challenges in phases, for the loop's timer.
    var nextPhaseEnd: Millis? {
        memory.liveChallenges.values.compactMap { record -> Millis? in
            guard record.state == .open, record.isPhased, record.currentPhase + 1 < record.phases.count else {
                return nil
            }
            return max(record.phases[record.currentPhase].endsAt, record.phases[record.currentPhase + 1].startsAt ?? 0)
        }.min()
    }

    private func openPhase(_ next: Int, of record: ChallengeRecord, now: Millis) throws {
        let spec = record.phases[next]
        let before = try store.ranking(record, phase: next - 1)
        let standings = before.finalStandings()
        var qualified: [String]?
        if let rule = spec.qualify {
            var entrants = standings
            if let bar = rule.bar { entrants = entrants.filter { before.meets($0.value, bar) } }
            if let top = rule.top { entrants = Array(entrants.prefix(top)) }
            qualified = entrants.map(\.candidate.entrant)
        }
        try store.recordPhaseOpening(challenge: record.id, phase: next, qualified: qualified, at: now)
        var opened = record
        opened.currentPhase = next
        memory.liveChallenges[record.id] = opened
        var carried = 0
        if spec.carryOver == true {
            // Each qualified entrant's submissions that counted on the final leaderboard of the phase before: its
            // final selection, or its best.
            let counting = before.counting(on: .final)
            for entrant in qualified ?? standings.map(\.candidate.entrant) {
                guard let theirs = counting[entrant] else { continue }
                let chosen = record.rules.finalSelection == nil ? Array(theirs.prefix(1)) : theirs
                for (candidate, _) in chosen {
                    try carryOver(candidate.submission, entrant: entrant, into: next, of: opened, now: now)
                    carried += 1
                }
            }
        }
        let name = "phase \(next + 1) (\(spec.name))"
        try store.audit(
            "challenge.phase", record.id, by: nil,
            detail: "\(name) opened"
                + (qualified.map { " for \($0.count) qualified entrant\($0.count == 1 ? "" : "s")" } ?? "")
                + (carried > 0 ? "; \(carried) submission\(carried == 1 ? "" : "s") carried over" : ""),
            at: now)
        var announcement = Announcement(topic: .phase, at: now, challenge: record.id, title: record.title)
        announcement.message = name
        announcement.deadline = spec.endsAt
        try publish(announcement)
        logger.info("phase opened", ["challenge.id": record.id, "phase": "\(next + 1)", "carried": "\(carried)"])
    }

    /// A copy of `submission` in phase `phase`, queued for scoring there; it counts against no limit.
    private func carryOver(
        _ submission: String, entrant: String, into phase: Int, of record: ChallengeRecord, now: Millis
    )
        throws
    {
        guard let original = try store.submissionContent(submission) else { return }
        let (solver, filename, bytes) = original
        let external = try store.externalFile(of: submission)
        let (receipt, job) = try store.insertSubmission(
            id: Identifier.make(prefix: "sub", now: now), challenge: record, solver: solver,
            team: Entrant.teamId(entrant), clientId: nil, filename: filename, bytes: bytes, now: now, phase: phase,
            carriedFrom: submission, external: external)
        try store.syncWrites()
        rememberPayload(
            JobPayload(
                challenge: record.id, submission: receipt.submission, solver: solver, filename: filename,
                sha256: receipt.sha256, content: bytes, phase: phase, fetch: external?.size),
            row: job)
        jobSubmitted(row: job, challenge: record, phase: phase)
    }

    /// Refuses a submission a phased challenge cannot take now: between phases, or from an entrant who did not
    /// qualify for this one.
    func checkPhase(_ record: ChallengeRecord, solver: String, now: Millis) throws {
        guard record.isPhased else { return }
        let current = record.currentPhase
        let spec = record.phases[current]
        if now >= spec.endsAt, current + 1 < record.phases.count {
            let next = record.phases[current + 1]
            throw ProtocolError(
                .closed,
                "phase \(current + 1) (\(spec.name)) of \(record.id) ended at \(WallClock.iso(spec.endsAt)); "
                    + "phase \(current + 2) (\(next.name)) opens "
                    + (next.startsAt.map { "at \(WallClock.iso($0)), or later " } ?? "")
                    + "once its scoring has finished")
        }
        guard let qualified = try store.qualified(challenge: record.id, phase: current) else { return }
        let entrant = record.spec?.teams != nil ? try entrant(of: solver, in: record) : solver
        guard qualified.contains(entrant) else {
            throw ProtocolError(
                .forbidden,
                "phase \(current + 1) (\(spec.name)) of \(record.id) is for the entrants who qualified in phase "
                    + "\(current); you did not")
        }
    }
}
