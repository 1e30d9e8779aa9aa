import Foundation
import PumasiShared

extension ChallengeRecord {
    var judging: JudgingSpec? { spec?.judging }
    /// Scored by its judges alone: no evaluator is involved.
    var isJudgedOnly: Bool { scorer.judge == true }
    /// Open, or closed with its scoring and judging still to finish.
    var isJudgeable: Bool { state == .open || state == .closed }
}

/// Human judging, blind. A submission that needs judging is announced (`judging.requested`, naming neither it
/// nor its solver) and counts as its challenge's pending work, so settlement waits for it. Judges take
/// assignments (`pumasi.judge.next`) and score them (`pumasi.judge.score`); when a submission has the judgements
/// its challenge asks for, they are combined by the challenge's rule and recorded, and `submission.judged` is
/// announced.
extension Broker {
    // MARK: Work arriving and leaving

    /// A submission to a judged-only challenge awaits its judges. Its pending work was counted when it was
    /// submitted (`jobSubmitted`), and ends when its judging does.
    func judgingRequested(_ record: ChallengeRecord, now: Millis) throws {
        guard let judging = record.judging else { return }
        var announcement = Announcement(topic: .judgingRequested, at: now, challenge: record.id, title: record.title)
        announcement.message = judging.required == 1 ? "1 judgement needed" : "\(judging.required) judgements needed"
        try publish(announcement)
    }

    /// The automated scorer of a mixed challenge has scored a submission: now its judges score it too, and the
    /// challenge has that much more pending work.
    func judgingFollowsScore(submission: String, challenge: String, now: Millis) throws {
        guard let record = memory.liveChallenges[challenge], !record.isJudgedOnly, record.judging != nil,
            try store.awaitsJudging(submission, record)
        else { return }
        try judgingRequested(record, now: now)
        memory.pendingJobs[challenge, default: 0] += 1
    }

    /// A disqualified submission is judged no further: its pending judging ends, so that settlement need not
    /// wait for judgements that will never come. One judged alone ends as failed.
    func judgingWithdrawn(submission: String, record: ChallengeRecord, reason: String, now: Millis) throws {
        guard record.judging != nil, try store.judgedScore(submission) == nil else { return }
        if record.isJudgedOnly {
            guard try store.submissionInfo(submission)?.info.state == .queued else { return }
            try store.recordJudgingOutcome(
                submission: submission, challenge: record.id, version: record.scorerVersion, score: nil, metrics: nil,
                message: nil,
                error: "disqualified before its judging finished: \(reason)", now: now)
        } else if try store.submissionInfo(submission)?.info.state != .scored {
            return
        }
        jobEnded(challenge: record.id)
    }

    /// After a restart: the judging that mixed challenges still wait for is pending work again. (A judged-only
    /// challenge's submissions without an outcome are recovered as pending jobs.)
    func recoverPendingJudging() throws {
        for record in memory.liveChallenges.values where record.isJudgeable && !record.isJudgedOnly {
            let waiting = try store.awaitingJudgingCount(record)
            if waiting > 0 { memory.pendingJobs[record.id, default: 0] += waiting }
        }
    }

    // MARK: Services

    /// `pumasi.judge.next`: the assignment this judge still holds, or a new one. The reply names the challenge but
    /// neither the submission nor its solver; the submission's bytes follow the JSON frame.
    func judgeNext(_ body: [Data], sender: Sender?, now: Millis) throws -> [Data] {
        let request = try Wire.decode(JudgeNextRequest.self, from: body.first)
        let judge = try judgeName(request.judge, sender: sender)
        let challenges: [ChallengeRecord]
        if let id = request.challenge {
            let record = try memory.liveChallenges[id] ?? challenge(id)
            guard try visible(record, to: sender) else { throw ProtocolError(.notFound, "no challenge \(record.id)") }
            guard let judging = record.judging else {
                throw ProtocolError(.badRequest, "challenge \(id) is not judged")
            }
            guard judging.admits(judge) else {
                throw ProtocolError(.forbidden, "\(judge) is not among the judges of \(id)")
            }
            guard record.isJudgeable else {
                throw ProtocolError(.closed, "challenge \(id) is \(record.state.rawValue)")
            }
            challenges = [record]
        } else {
            challenges = memory.liveChallenges.values.filter { $0.isJudgeable && $0.judging?.admits(judge) == true }
                .sorted {
                    ($0.state == .closed ? 0 : 1, $0.deadline, $0.id) < (
                        $1.state == .closed ? 0 : 1, $1.deadline, $1.id
                    )
                }
        }
        let byId = Dictionary(uniqueKeysWithValues: challenges.map { ($0.id, $0) })
        // A place already held is given again, so that a lost reply costs the judge nothing.
        if let held = try store.heldAssignments(judge: judge, now: now).first(where: { byId[$0.challenge] != nil }),
            let record = byId[held.challenge], let payload = try store.judgingPayload(held.submission)
        {
            return try assignmentReply(held, record, withFile(payload))
        }
        for record in challenges {
            guard let judging = record.judging, let payload = try store.nextForJudging(record, judge: judge, now: now)
            else { continue }
            let assignment = JudgingAssignment(
                id: Identifier.make(prefix: "asg", now: now), submission: payload.submission, challenge: record.id,
                judge: judge, expiresAt: now + judging.assignmentMillis)
            try store.insertAssignment(assignment, now: now)
            try store.audit(
                "judging.assign", assignment.id, by: judge, detail: "submission=\(payload.submission)", at: now)
            return try assignmentReply(assignment, record, withFile(payload))
        }
        let scope = request.challenge.map { "in \($0)" } ?? "in the challenges you judge"
        return [Wire.encode(Reply.success(JudgeNextReply(note: "nothing to judge \(scope) right now")))]
    }

    private func assignmentReply(_ assignment: JudgingAssignment, _ record: ChallengeRecord, _ payload: JudgingPayload)
        -> [Data]
    {
        let given = JudgeAssignment(
            assignment: assignment.id, challenge: record.id, title: record.title,
            filename: Self.blindFilename(payload.filename), size: payload.content.count, sha256: payload.sha256,
            scale: record.judging?.range ?? JudgingSpec().range, criteria: record.judging?.criteria,
            expiresAt: assignment.expiresAt)
        return [Wire.encode(Reply.success(JudgeNextReply(assignment: given))), payload.content]
    }

    /// A judge gets the submission in the reply's one frame: one kept in the blob directory is read from there, up
    /// to half the largest message (a larger one is refused with a reason rather than sent empty).
    private func withFile(_ payload: JudgingPayload) throws -> JudgingPayload {
        guard payload.content.isEmpty, let file = try store.externalFile(of: payload.submission) else { return payload }
        guard file.size <= config.maxMessageBytes / 2 else {
            throw ProtocolError(
                .tooLarge,
                "the next submission to judge is \(file.size) bytes, more than a judge's assignment carries "
                    + "(\(config.maxMessageBytes / 2)); an admin must judge it from its download")
        }
        var payload = payload
        payload.content = try blobs.read(file.sha256, offset: 0, count: file.size)
        return payload
    }

    /// `submission` with the submitted file's extension (two for `.tar.gz` and the like): the name a solver gave
    /// a file may name the solver.
    static func blindFilename(_ name: String) -> String {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).dropFirst()
        let kept = parts.suffix(parts.suffix(2).first == "tar" ? 2 : 1).filter {
            (1...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
        }
        return (["submission"] + kept).joined(separator: ".")
    }

    /// `pumasi.judge.score`: records a judge's score for one of their assignments; the last judgement a
    /// submission needs completes its judging. With a scorecard the judge scores every criterion, and their
    /// score is the weighted mean (`JudgingSpec.judgement`). Repeating a recorded judgement returns it again;
    /// changing it is refused (judgements are final).
    func judgeScore(_ body: [Data], sender: Sender?, now: Millis) throws -> JudgementReceipt {
        let request = try Wire.decode(JudgeScoreRequest.self, from: body.first)
        let judge = try judgeName(request.judge, sender: sender)
        guard Identifier.isWellFormed(request.assignment, prefix: "asg"),
            let assignment = try store.assignment(request.assignment), assignment.judge == judge
        else { throw ProtocolError(.notFound, "no assignment \(request.assignment) of yours") }
        let comment = try Validation.comment(request.comment)
        let comments = try Validation.comments(request.comments)
        guard let record = try liveChallenge(assignment.challenge), let judging = record.judging else {
            throw ProtocolError(.notFound, "no assignment \(request.assignment) of yours")
        }
        let (score, criteria) = try judging.judgement(
            score: request.score, criteria: request.criteria, comments: comments)
        var receipt = JudgementReceipt(
            assignment: assignment.id, challenge: record.id, score: score, comment: comment, criteria: criteria,
            at: now, duplicate: false, remaining: 0)
        let earlier = try store.judgements(submission: assignment.submission)
        if let recorded = earlier.first(where: { $0.assignment == assignment.id }) {
            guard recorded.score == score, recorded.comment == comment,
                recorded.criteria.map(judging.ordered) == criteria
            else {
                throw ProtocolError(
                    .conflict, "\(assignment.id) was already scored \(recorded.score): a judgement is final")
            }
            receipt.at = recorded.at
            receipt.duplicate = true
            receipt.remaining =
                try store.judgedScore(assignment.submission) == nil ? judging.required - earlier.count : 0
            return receipt
        }
        guard record.isJudgeable else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue): its judging is over")
        }
        guard try store.awaitsJudging(assignment.submission, record), earlier.count < judging.required else {
            throw ProtocolError(.conflict, "the submission of \(assignment.id) needs no more judgements")
        }
        let judgement = Judgement(
            assignment: assignment.id, judge: judge, score: score, comment: comment, criteria: criteria, at: now)
        try store.insertJudgement(judgement, submission: assignment.submission, challenge: record.id)
        leaderboards.forget(challenge: record.id)
        let detail = (["score=\(score)"] + (criteria ?? []).map { "\($0.name)=\($0.score)" }).joined(separator: " ")
        try store.audit("submission.judge", assignment.submission, by: judge, detail: detail, at: now)
        let scores = earlier.map(\.score) + [score]
        receipt.remaining = judging.required - scores.count
        if receipt.remaining == 0 {
            try completeJudging(assignment.submission, record, judging, scores: scores, now: now)
        }
        return receipt
    }

    /// Combines a submission's judgements, records the result, announces it, and ends its pending work.
    private func completeJudging(
        _ submission: String, _ record: ChallengeRecord, _ judging: JudgingSpec, scores: [Double], now: Millis
    ) throws {
        let combined = judging.rule.combine(scores)
        let how = "\(judging.rule.rawValue) of \(scores.count) judgement\(scores.count == 1 ? "" : "s")"
        try store.insertJudged(
            submission: submission, challenge: record.id, score: combined, rule: judging.rule, count: scores.count,
            now: now)
        if record.isJudgedOnly {
            try store.recordJudgingOutcome(
                submission: submission, challenge: record.id, version: record.scorerVersion, score: combined,
                metrics: [judging.metricName: combined],
                message: "judged: \(how)", error: nil, now: now)
        }
        try store.audit(
            "submission.judged", submission, by: nil, detail: "\(judging.metricName)=\(combined) (\(how))", at: now)
        let ranking = try store.ranking(record)
        let candidate = ranking.candidates.first { $0.submission == submission }
        var announcement = Announcement(topic: .judged, at: now, challenge: record.id, title: record.title)
        // No solver: the judges follow the announcements, and they judge blind until the award.
        announcement.submission = submission
        announcement.score = combined
        announcement.message = how
        try publish(announcement)
        try checkBounty(challenge: record.id, value: candidate.flatMap { ranking.value($0, on: .final) }, now: now)
        // Last: a request's changes in memory follow its writes, so that a failed write leaves none behind.
        jobEnded(challenge: record.id)
        logger.info(
            "judging complete", ["submission.id": submission, "challenge.id": record.id, "judged": "\(combined)"])
    }

    /// The judge: the key's holder with authentication, else the name the request gives.
    private func judgeName(_ claimed: String?, sender: Sender?) throws -> String {
        if let sender { return sender.name }
        guard let claimed else { throw ProtocolError(.badRequest, "name the judge (\"judge\")") }
        try Validation.name(claimed, what: "judge")
        return claimed
    }

    // MARK: What a submission's status shows

    /// Adds a judged submission's judged metrics, where its judging stands, and the judgements its reader may
    /// see: the challenge's seeker and admins see every judgement with its judge; the solver sees scores and
    /// comments (with a scorecard, every criterion's too), without judges, once the judging is complete.
    func showJudging(_ info: inout SubmissionInfo, sender: Sender?) throws {
        guard let record = try liveChallenge(info.challenge), let judging = record.judging else { return }
        let judgements = try store.judgements(submission: info.submission)
        let judged = try store.judgedScore(info.submission)
        if let judged {
            info.metrics = judging.metrics(adding: judged, to: info.metrics ?? [:], score: info.score)
        } else if try store.awaitsJudging(info.submission, record) {
            let progress = "\(judgements.count) of \(judging.required) judgements in"
            if record.isJudgedOnly {
                info.state = .judging
                info.note = "waiting for judges: \(progress)"
            } else {
                info.note = "being judged: \(progress)"
            }
        }
        let named = mayManage(record, sender)
        if named || judged != nil, !judgements.isEmpty {
            info.judgements = judgements.map {
                JudgementInfo(
                    score: $0.score, comment: $0.comment, criteria: $0.criteria.map(judging.ordered),
                    judge: named ? $0.judge : nil, at: $0.at)
            }
        }
    }
}
