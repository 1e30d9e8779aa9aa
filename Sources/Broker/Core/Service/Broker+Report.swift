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
    func report(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeReport {
        let request = try Wire.decode(ReportRequest.self, from: body.first)
        let record = try confidentialChallenge(request.challenge, to: sender, for: "export its results")
        let solver: String?
        if mayManage(record, sender) {
            solver = nil
        } else if let sender, sender.role == .solver {
            solver = sender.name
        } else {
            throw ProtocolError(
                .forbidden, "the report of \(record.id) is for its seeker, admins, and solvers (their own submissions)")
        }
        let board = try leaderboard(LeaderboardRequest(challenge: record.id, view: request.view), sender: sender)
        // Each opened phase's board through the same service, so that the same view and access rules hold.
        let phases = try record.phases.prefix(record.currentPhase + 1).enumerated().map { index, phase in
            let phaseBoard = try leaderboard(
                LeaderboardRequest(challenge: record.id, view: request.view, phase: index + 1), sender: sender)
            return ChallengeReport.PhaseBoard(
                number: index + 1, name: phase.name, endsAt: phase.endsAt, leaderboard: phaseBoard.entries)
        }
        var submissions = try store.submissions(challenge: record.id, solver: solver)
        for index in submissions.indices {
            submissions[index].log = nil
            // A no-op for the seeker and admins, who see the private split all along.
            if solver != nil { try redactPrivateSplit(&submissions[index], sender: sender) }
        }
        // The challenge as its reader sees it elsewhere (`show`): a judging panel's names only for its seeker.
        let info = try challengeInfo(record, for: sender)
        return ChallengeReport(
            challenge: info, metric: record.rankingMetric, precision: record.precision,
            leaderboard: board.entries, submissions: submissions, awards: try store.awards(challenge: record.id),
            generatedAt: now, phases: record.isPhased ? phases : nil)
    }
}
