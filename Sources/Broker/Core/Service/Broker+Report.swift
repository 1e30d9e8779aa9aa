import Foundation
import PumasiShared

/// `pumasi.challenge.report`: what `pumasi export` writes out as CSV, JSON or HTML.
extension Broker {
    /// A challenge's report as `sender` may see it.
    ///
    /// - The leaderboard is `pumasi.leaderboard`'s, with its rules: the view the request names (default
    ///   provisional while open, final once closed), and the final view of an open challenge only for its seeker
    ///   and admins.
    /// - The challenge's seeker and admins get every submission; a solver gets their own only, without the
    ///   private split while the challenge is open. Anyone else (another seeker, an evaluator, a judge) is refused.
    /// - A challenge in phases also gets the leaderboard of each phase that has opened, with the same rules.
    /// - No submission carries its scorer's `log`: a report is for sharing; `pumasi status` shows the log.
    /// - The submissions come a page at a time (`ReportSubmissionsRequest.maxLimit`): the first in the report, the
    ///   others through `pumasi.challenge.report.submissions`. A report of 60,000 in one reply held the loop 1.7 s.
    /// - Who may read what is decided here, on the loop; the first page, which holds the challenge's boards (0.8 s of
    ///   a challenge of 240,000 submissions), is made by the board maker (`BoardMaker`), and answered when made.
    func reportReply(_ body: [Data], sender: Sender?, identity: Data, now: Millis) throws -> [Data]? {
        let request = try Wire.decode(ReportRequest.self, from: body.first)
        let (record, solver) = try reportReader(of: request.challenge, sender: sender)
        let (_, view, phase) = try leaderboardScope(
            LeaderboardRequest(challenge: record.id, view: request.view), sender: sender)
        // Each opened phase's board with the leaderboard service's rules, so that the same view and access rules hold.
        let phases = try record.phases.prefix(record.currentPhase + 1).enumerated().map { index, phase in
            let (_, view, scope) = try leaderboardScope(
                LeaderboardRequest(challenge: record.id, view: request.view, phase: index + 1), sender: sender)
            return (number: index + 1, phase: phase, view: view, index: scope)
        }
        // The challenge as its reader sees it elsewhere (`show`): a judging panel's names only for its seeker.
        let info = try challengeInfo(record, for: sender)
        // A no-op for the seeker and admins, who see the private split all along.
        let hidden = solver != nil && hidesPrivateSplit(record, from: sender)
        let limit = Self.reportPageLimit(request.limit)
        let payer = admission.isOn ? admissionKey(identity, sender) : nil
        try checkRoomForAMaking(nil, payer: payer)
        askMaker(key: nil, identity: identity, service: Service.report, payer: payer) { store, asOf in
            let entries = try store.leaderboard(record, view: view, limit: nil, phase: phase, asOf: asOf).entries
            let phaseBoards = try phases.map { board in
                ChallengeReport.PhaseBoard(
                    number: board.number, name: board.phase.name, endsAt: board.phase.endsAt,
                    leaderboard: try store.leaderboard(record, view: board.view, limit: nil, phase: board.index).entries
                )
            }
            let page = try Self.reportPage(
                store, of: record, solver: solver, after: nil, limit: limit, hidingPrivateSplit: hidden)
            var report = ChallengeReport(
                challenge: info, metric: record.rankingMetric, precision: record.precision, leaderboard: entries,
                submissions: page.submissions, awards: try store.awards(challenge: record.id), generatedAt: now,
                phases: record.isPhased ? phaseBoards : nil)
            report.moreSubmissions = page.more ? true : nil
            return Wire.encode(Reply.success(report))
        }
        return nil
    }

    /// `pumasi.challenge.report.submissions`: a page of the report's submissions after the first.
    func reportSubmissions(_ body: [Data], sender: Sender?) throws -> ReportSubmissions {
        let request = try Wire.decode(ReportSubmissionsRequest.self, from: body.first)
        let (record, solver) = try reportReader(of: request.challenge, sender: sender)
        return try reportSubmissions(
            of: record, solver: solver, after: request.after, limit: request.limit, sender: sender)
    }

    /// The challenge of a report its sender may read, and whose submissions they get: all (nil) for its seeker and
    /// admins, their own for a solver.
    private func reportReader(of challenge: String, sender: Sender?) throws -> (ChallengeRecord, solver: String?) {
        let record = try confidentialChallenge(challenge, to: sender, for: "export its results")
        if mayManage(record, sender) { return (record, nil) }
        if let sender, sender.role == .solver { return (record, sender.name) }
        throw ProtocolError(
            .forbidden, "the report of \(record.id) is for its seeker, admins, and solvers (their own submissions)")
    }

    private func reportSubmissions(
        of record: ChallengeRecord, solver: String?, after: String?, limit: Int?, sender: Sender?
    ) throws -> ReportSubmissions {
        try Self.reportPage(
            store, of: record, solver: solver, after: after, limit: Self.reportPageLimit(limit),
            hidingPrivateSplit: solver != nil && hidesPrivateSplit(record, from: sender))
    }

    private static func reportPageLimit(_ asked: Int?) -> Int {
        min(max(asked ?? ReportSubmissionsRequest.maxLimit, 1), ReportSubmissionsRequest.maxLimit)
    }

    /// A page of a report's submissions from `store`, on the loop's store or the board maker's.
    private static func reportPage(
        _ store: Store, of record: ChallengeRecord, solver: String?, after: String?, limit: Int,
        hidingPrivateSplit hidden: Bool
    ) throws -> ReportSubmissions {
        // A cursor that is not one of the reader's submissions of this challenge is answered as a wrong id.
        guard
            let (found, more) = try store.submissions(challenge: record.id, solver: solver, after: after, limit: limit)
        else {
            throw ProtocolError(.notFound, "no submission \((after ?? "").prefix(64)) in the report of \(record.id)")
        }
        var submissions = found
        for index in submissions.indices {
            submissions[index].log = nil
            if hidden { redactPrivateSplit(&submissions[index], record: record) }
        }
        return ReportSubmissions(submissions: submissions, more: more)
    }
}
