import Foundation
import PumasiShared

/// The services of issue 5's lifecycle and rules: extend, cancel, quota, final selection, disqualification,
/// discretionary awards, and which leaderboard a caller may see.
extension Broker {
    /// The seeker who posted it, or an admin (anyone, without authentication).
    func mayManage(_ record: ChallengeRecord, _ sender: Sender?) -> Bool {
        guard let sender else { return true }
        return sender.role == .admin || record.owner == sender.name
    }

    func isAdmin(_ sender: Sender?) -> Bool { sender == nil || sender?.role == .admin }

    /// The challenge, view and phase (0-based) of a leaderboard request its sender may see.
    func leaderboardScope(_ request: LeaderboardRequest, sender: Sender?) throws -> (
        ChallengeRecord, LeaderboardView, phase: Int?
    ) {
        let record = try confidentialChallenge(request.challenge, to: sender, for: "see its leaderboard")
        if sender?.role == .judge, record.judging != nil, !record.state.isFinal {
            throw ProtocolError(
                .forbidden, "judges see the leaderboard of \(record.id) once its award is decided: they judge blind")
        }
        var phase: Int?
        if let asked = request.phase {
            // Compared, not subtracted from: any `Int` may come in, `Int.min` too.
            guard asked >= 1, asked <= record.phases.count else {
                throw ProtocolError(
                    .badRequest,
                    record.isPhased
                        ? "\(record.id) has phases 1 to \(record.phases.count), not \(asked)"
                        : "\(record.id) has no phases")
            }
            guard asked - 1 <= record.currentPhase else {
                throw ProtocolError(.notFound, "phase \(asked) of \(record.id) has not opened yet")
            }
            phase = asked - 1
        }
        // A phase that has given way to the next is settled too: its final standings decided who went on.
        let settled =
            (record.state != .draft && record.state != .open) || (phase.map { $0 < record.currentPhase } ?? false)
        let view: LeaderboardView
        switch request.view {
        case nil: view = settled ? .final : .provisional
        case let name?:
            guard let chosen = LeaderboardView(rawValue: name) else {
                throw ProtocolError(.badRequest, "view must be provisional or final, not \"\(name)\"")
            }
            view = chosen
        }
        if view == .final, !settled, !mayManage(record, sender) {
            throw ProtocolError(
                .forbidden,
                "the final leaderboard of \(record.id) is revealed when it closes, at \(WallClock.iso(record.deadline))"
            )
        }
        return (record, view, phase)
    }

    /// What a solver's status may show: the private split stays hidden from solvers until the challenge closes.
    func redactPrivateSplit(_ info: inout SubmissionInfo, sender: Sender?) throws {
        guard let record = try liveChallenge(info.challenge), hidesPrivateSplit(record, from: sender) else { return }
        Self.redactPrivateSplit(&info, record: record)
    }

    /// Whether `sender` may not see `record`'s private split yet.
    func hidesPrivateSplit(_ record: ChallengeRecord, from sender: Sender?) -> Bool {
        (record.state == .open || record.state == .draft) && !mayManage(record, sender)
    }

    /// `info` without its private split: its metrics, and its score ranked on the public split alone.
    static func redactPrivateSplit(_ info: inout SubmissionInfo, record: ChallengeRecord) {
        // Earlier scorer versions' scores carry their metrics too.
        if let history = info.history {
            info.history = history.map { old in
                var old = old
                guard let metrics = old.metrics, metrics.keys.contains(where: { $0.hasPrefix("private.") }) else {
                    return old
                }
                let shown = metrics.filter { !$0.key.hasPrefix("private.") }
                old.metrics = shown.isEmpty ? nil : shown
                old.score = Ranking(record: record, candidates: []).value(
                    RankingCandidate(
                        submission: info.submission, solver: info.solver, entrant: info.solver,
                        receivedAt: info.receivedAt,
                        order: 0,
                        score: old.score, metrics: metrics, disqualified: false, selected: false),
                    on: .provisional)
                return old
            }
        }
        guard let metrics = info.metrics else { return }
        let shown = metrics.filter { !$0.key.hasPrefix("private.") }
        info.metrics = shown.isEmpty ? nil : shown
        if metrics.keys.contains(where: { $0.hasPrefix("private.") }) {
            info.score = Ranking(record: record, candidates: []).value(
                RankingCandidate(
                    submission: info.submission, solver: info.solver, entrant: info.solver, receivedAt: info.receivedAt,
                    order: 0,
                    score: info.score, metrics: metrics, disqualified: false, selected: false),
                on: .provisional)
        }
    }

    /// The solver's quota for a challenge at `now`.
    func quota(_ record: ChallengeRecord, solver: String, now: Millis) throws -> Quota? {
        // In phases, the limits and the count are the current phase's.
        let rules = record.activeRules
        guard rules.perDay != nil || rules.total != nil else { return nil }
        let dayStart = now - now % 86_400_000
        // With teams the limits are the entrant's: the team's, shared by its members, or the solver's alone.
        let counts =
            record.spec?.teams != nil
            ? try store.entrantCounts(
                challenge: record.id, entrant: entrant(of: solver, in: record), since: dayStart,
                phase: record.phaseFilter)
            : try store.submissionCounts(
                challenge: record.id, solver: solver, since: dayStart, phase: record.phaseFilter)
        return Quota(
            perDay: rules.perDay, usedToday: counts.since, total: rules.total, used: counts.total,
            resetsAt: dayStart + 86_400_000)
    }

    /// Refuses a submission over the solver's limits, naming the limit and when it resets.
    func checkQuota(_ record: ChallengeRecord, solver: String, now: Millis) throws {
        guard let quota = try quota(record, solver: solver, now: now) else { return }
        if let total = quota.total, quota.used >= total {
            throw ProtocolError(.limitReached, "you have used all \(total) submissions to \(record.id)")
        }
        if let perDay = quota.perDay, quota.usedToday >= perDay {
            throw ProtocolError(
                .limitReached,
                "you have used today's \(perDay) submissions to \(record.id); the count resets at \(WallClock.iso(quota.resetsAt))"
            )
        }
    }

    func quotaReply(_ body: [Data], sender: Sender?, now: Millis) throws -> Quota {
        let request = try Wire.decode(QuotaRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard let solver = sender?.name ?? request.solver else { throw ProtocolError(.badRequest, "name the solver") }
        return try quota(record, solver: solver, now: now)
            ?? Quota(perDay: nil, usedToday: 0, total: nil, used: 0, resetsAt: now - now % 86_400_000 + 86_400_000)
    }

    func extend(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(ExtendRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard mayManage(record, sender) else {
            throw ProtocolError(.forbidden, "only the seeker who posted \(record.id) (or an admin) may extend it")
        }
        guard record.state == .draft || record.state == .open else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue): its deadline is final")
        }
        try Validation.notPastLatest(request.deadline, what: "deadline")
        guard request.deadline > record.deadline else {
            throw ProtocolError(
                .badRequest,
                "an extension must move the deadline later than \(WallClock.iso(record.deadline)), not to \(WallClock.iso(request.deadline))"
            )
        }
        try store.setDeadline(challenge: record.id, request.deadline)
        try store.audit(
            "challenge.extend", record.id, by: sender?.name,
            detail: "\(WallClock.iso(record.deadline)) -> \(WallClock.iso(request.deadline))", at: now)
        memory.liveChallenges[record.id]?.deadline = request.deadline
        memory.liveChallenges[record.id]?.closingAnnounced = false
        var announcement = Announcement(topic: .extended, at: now, challenge: record.id, title: record.title)
        announcement.deadline = request.deadline
        announcement.message = "deadline extended from \(WallClock.iso(record.deadline))"
        if record.state == .open { try publish(announcement) }
        return try challengeInfo(challenge(record.id), for: sender)
    }

    /// A draft may be cancelled by its seeker; a posted challenge only by an admin, until its award.
    func cancel(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(CancelRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard !record.state.isFinal else {
            throw ProtocolError(.closed, "challenge \(record.id) is already \(record.state.rawValue)")
        }
        if record.state == .draft {
            guard mayManage(record, sender) else {
                throw ProtocolError(.forbidden, "only the seeker who posted \(record.id) (or an admin) may cancel it")
            }
        } else if !isAdmin(sender) {
            throw ProtocolError(
                .forbidden, "\(record.id) is posted: solvers may be working on it, so only an admin may pull it")
        }
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 1_000 else {
            throw ProtocolError(.badRequest, "give a reason (1-1000 characters)")
        }
        try cancelChallenge(record, now: now, reason: reason, by: sender?.name)
        return try challengeInfo(challenge(record.id), for: sender)
    }

    func select(_ body: [Data], sender: Sender?, now: Millis) throws -> [String] {
        let request = try Wire.decode(SelectRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard let solver = sender?.name ?? request.solver else { throw ProtocolError(.badRequest, "name the solver") }
        guard let limit = record.rules.finalSelection else {
            throw ProtocolError(.badRequest, "challenge \(record.id) has no final selection: every submission counts")
        }
        guard record.state == .open else {
            throw ProtocolError(.closed, "the final selection for \(record.id) closed with the challenge")
        }
        let chosen = Array(Set(request.submissions)).sorted()
        guard chosen.count <= limit else {
            throw ProtocolError(.badRequest, "at most \(limit) submissions may be selected, not \(chosen.count)")
        }
        // With teams, a team selects as one: any member, for all its submissions.
        let selector = record.spec?.teams != nil ? try entrant(of: solver, in: record) : solver
        for id in chosen {
            guard Identifier.isWellFormed(id, prefix: "sub"), let owner = try store.submissionOwner(id),
                owner.challenge == record.id,
                record.spec?.teams != nil ? try submissionEntrant(id, in: record) == selector : owner.solver == solver
            else { throw ProtocolError(.notFound, "no submission \(id) of yours to \(record.id)") }
        }
        try store.selectFinal(challenge: record.id, solver: selector, submissions: chosen, now: now)
        // A selection counts on the final view only.
        leaderboards.forget(challenge: record.id, view: .final)
        try store.audit("submission.select", record.id, by: solver, detail: chosen.joined(separator: " "), at: now)
        return chosen
    }

    /// A disqualified submission never ranks: an award passes to the next in line.
    func disqualify(_ body: [Data], sender: Sender?, now: Millis) throws -> SubmissionInfo {
        let request = try Wire.decode(DisqualifyRequest.self, from: body.first)
        guard Identifier.isWellFormed(request.submission, prefix: "sub"),
            let owner = try store.submissionOwner(request.submission), let record = try liveChallenge(owner.challenge),
            mayManage(record, sender)
        else { throw ProtocolError(.notFound, "no submission \(request.submission) to a challenge of yours") }
        guard !record.state.isFinal else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue): its results are final")
        }
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 1_000 else {
            throw ProtocolError(.badRequest, "give a reason (1-1000 characters)")
        }
        guard
            try store.disqualify(
                submission: request.submission, challenge: record.id, by: sender?.name, reason: reason, now: now)
        else { throw ProtocolError(.conflict, "\(request.submission) is already disqualified") }
        leaderboards.forget(challenge: record.id)
        try store.audit("submission.disqualify", request.submission, by: sender?.name, detail: reason, at: now)
        var announcement = Announcement(topic: .disqualified, at: now, challenge: record.id, title: record.title)
        announcement.submission = request.submission
        announcement.solver = owner.solver
        announcement.message = reason
        try publish(announcement)
        try judgingWithdrawn(submission: request.submission, record: record, reason: reason, now: now)
        guard let (info, _) = try store.submissionInfo(request.submission) else {
            throw ProtocolError(.internal, "submission vanished")
        }
        return info
    }

    /// The seeker's decision on a discretionary award, once scoring has finished.
    func award(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(AwardRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard mayManage(record, sender) else {
            throw ProtocolError(.forbidden, "only the seeker who posted \(record.id) (or an admin) may award it")
        }
        guard record.policy.kind == .discretionary else {
            throw ProtocolError(
                .badRequest, "\(record.id) is awarded by its \(record.policy.kind.rawValue) policy, not by hand")
        }
        guard record.state == .closed, memory.pendingJobs[record.id] == nil else {
            throw ProtocolError(
                .closed,
                record.state == .open || record.state == .draft
                    ? "\(record.id) is still open: award it once it has closed and its scoring has finished"
                    : "\(record.id) is \(record.state == .closed ? "still being scored" : record.state.rawValue)")
        }
        let rationale = request.rationale.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...2_000).contains(rationale.count) else {
            throw ProtocolError(.badRequest, "a discretionary award needs a rationale (1-2000 characters)")
        }
        let total = request.payments.reduce(Decimal(0)) { $0 + $1.amount }
        guard request.payments.allSatisfy({ $0.amount > 0 }), total <= record.award.amount else {
            throw ProtocolError(
                .badRequest,
                "payments must be positive and add up to at most \(record.award.amount) \(record.award.currency)")
        }
        let ranking = try store.ranking(record, phase: record.awardPhase)
        var payments: [AwardInfo] = []
        for payment in request.payments {
            guard let candidate = ranking.candidates.first(where: { $0.submission == payment.submission }) else {
                throw ProtocolError(.notFound, "no submission \(payment.submission) to \(record.id)")
            }
            guard !candidate.disqualified else {
                throw ProtocolError(.conflict, "\(payment.submission) is disqualified")
            }
            payments.append(
                AwardInfo(
                    challenge: record.id, submission: candidate.submission, solver: candidate.solver,
                    amount: payment.amount, currency: record.award.currency,
                    // An unscored submission (judged outside Pumasi, say) is recorded with score 0.
                    score: ranking.value(candidate, on: .final) ?? candidate.score ?? 0,
                    policy: AwardPolicySpec.Kind.discretionary.rawValue,
                    awardedAt: now, rationale: rationale))
        }
        if payments.isEmpty {
            try closeWithoutAward(record, reason: rationale, by: sender?.name, now: now)
        } else {
            try recordAwards(payments, record, by: sender?.name, now: now)
        }
        return try challengeInfo(challenge(record.id), for: sender)
    }

    /// The reference files a new scorer of `record` would score with, by name, with their first bytes: those of
    /// the phase open now (all, without phases), less the scorer's canaries.
    private func rescoreReferences(_ record: ChallengeRecord, scorer: ScorerSpec) throws -> [String: Data?] {
        let canaries = Set((scorer.canaries ?? []).map(\.file))
        let phase = record.phases.indices.contains(record.currentPhase) ? record.phases[record.currentPhase] : nil
        var references: [String: Data?] = [:]
        for entry in try referenceFiles(record.id) where !canaries.contains(entry.name) {
            if let names = phase?.reference, !names.contains(entry.name) { continue }
            guard let sha256 = entry.sha256,
                let (size, bytes) = try store.referenceBlob(challenge: record.id, sha256: sha256, offset: 0)
            else {
                references[entry.name] = .some(nil)
                continue
            }
            references[entry.name] = .some(try externalFileChunk(sha256: sha256, size: size, offset: 0) ?? bytes)
        }
        return references
    }

    /// Scores every submission again with a new version of the scorer. The old scores stay on record (a
    /// submission's status lists them by version); ranking and awards use the new version once it is in.
    func rescore(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(RescoreRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard mayManage(record, sender) else {
            throw ProtocolError(.forbidden, "only the seeker who posted \(record.id) (or an admin) may rescore it")
        }
        guard !record.state.isFinal else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue): its scores are final")
        }
        _ = try Validation.scorer(request.scorer, what: "scorer")
        try Validation.programFiles(
            of: request.scorer, in: Set(try referenceFiles(record.id).map(\.name)), what: "scorer")
        if let builtin = request.scorer.builtin,
            let problem = BuiltinScorers.problem(
                name: builtin, options: request.scorer.options ?? [:],
                references: try rescoreReferences(record, scorer: request.scorer))
        {
            throw ProtocolError(.badRequest, "scorer: \(problem)")
        }
        // Judgements are per submission, not per version: a judged submission would never be judged again, and
        // its challenge would wait for it forever.
        guard request.scorer.judge != true else {
            throw ProtocolError(.badRequest, "judges' scores are final: rescore with an automated scorer")
        }
        let version = record.scorerVersion + 1
        guard version <= JobKey.maxVersion else {
            throw ProtocolError(.conflict, "\(record.id) has been rescored too often")
        }
        try store.addScorerVersion(
            challenge: record.id, version: version, scorer: request.scorer, by: sender?.name, reason: request.reason,
            now: now)
        try store.audit(
            "challenge.rescore", record.id, by: sender?.name,
            detail: "version \(version): \(request.scorer.display)" + (request.reason.map { " (\($0))" } ?? ""), at: now
        )
        var announcement = Announcement(topic: .rescoring, at: now, challenge: record.id, title: record.title)
        announcement.message = "scorer version \(version): \(request.scorer.display)"
        // A draft is announced when it opens, not before.
        if record.state != .draft { try publish(announcement) }
        let rows = try store.submissionRows(challenge: record.id)
        let info = try challengeInfo(challenge(record.id), for: sender)
        // Memory changes only after the last write, so that a request rolled back leaves it as the store is.
        var updated = record
        updated.scorer = request.scorer
        updated.service = request.scorer.service
        updated.scorerVersion = version
        memory.liveChallenges[record.id] = updated
        memory.pendingJobs[record.id] = nil
        for (row, phase) in rows { jobSubmitted(row: row, challenge: updated, phase: phase) }
        if record.state == .closed { memory.settleCandidates.insert(record.id) }
        return info
    }
}
