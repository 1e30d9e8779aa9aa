/// Names of the services the broker implements itself (MDP client framing) and of scorer services.
public enum Service {
    public static let post = "pumasi.challenge.post"
    public static let list = "pumasi.challenge.list"
    public static let show = "pumasi.challenge.show"
    public static let file = "pumasi.challenge.file"
    public static let close = "pumasi.challenge.close"
    public static let extend = "pumasi.challenge.extend"
    public static let cancel = "pumasi.challenge.cancel"
    public static let quota = "pumasi.quota"
    public static let select = "pumasi.select"
    public static let disqualify = "pumasi.disqualify"
    public static let award = "pumasi.award"
    public static let rescore = "pumasi.challenge.rescore"
    public static let submit = "pumasi.submit"
    public static let status = "pumasi.submission.status"
    /// A solver's own submissions, newest first (`SubmissionsRequest`).
    public static let submissions = "pumasi.submission.list"
    public static let leaderboard = "pumasi.leaderboard"
    /// A challenge's results for export: challenge, leaderboard, submissions and awards (`ChallengeReport`).
    public static let report = "pumasi.challenge.report"
    /// The report's further submissions, page by page after the first page the report holds (`ReportSubmissions`).
    public static let reportSubmissions = "pumasi.challenge.report.submissions"
    public static let reference = "pumasi.reference"
    /// Files of any size, in chunks: begin (or resume) an upload, send a chunk, read a submission's file.
    public static let uploadBegin = "pumasi.upload.begin"
    public static let uploadChunk = "pumasi.upload.chunk"
    public static let submissionFile = "pumasi.submission.file"
    /// Human judging, for judges (and admins): the next blind assignment, and a judge's score for one.
    public static let judgeNext = "pumasi.judge.next"
    public static let judgeScore = "pumasi.judge.score"
    /// Confidential challenges: accept an agreement, replace one, manage invitations, redeem a token.
    public static let accept = "pumasi.challenge.accept"
    public static let agreement = "pumasi.challenge.agreement"
    public static let invitations = "pumasi.challenge.invitations"
    public static let join = "pumasi.challenge.join"
    /// Clarifications: a solver asks, the seeker answers privately or publicly, everyone lists what they may see.
    public static let ask = "pumasi.clarification.ask"
    public static let answer = "pumasi.clarification.answer"
    public static let clarifications = "pumasi.clarification.list"
    /// Teams: create, invite, join, leave, set award shares, show (`TeamRequest`).
    public static let team = "pumasi.team"
    /// The announcement log: events after a sequence number, and the latest number (the Clone pattern's snapshot).
    public static let events = "pumasi.events"
    /// Who the caller is, as the broker sees it: the principal's name and role (`Identity`), for `pumasi whoami`.
    public static let whoami = "pumasi.whoami"
    /// Served by a relay itself: what its outbox holds.
    public static let relayOutbox = "pumasi.relay.outbox"
    /// 8/MMI: is a worker registered for the service named in the body?
    public static let mmiService = "mmi.service"

    /// Every service the broker answers as MDP client requests (the relay's own `relayOutbox` is not one).
    public static let brokerServices = [
        post, list, show, file, close, extend, cancel, quota, select, disqualify, award, rescore, submit, status,
        leaderboard, report, reference, judgeNext, judgeScore, events, mmiService, accept, agreement, invitations,
        join, ask, answer, clarifications, team, uploadBegin, uploadChunk, submissionFile, submissions, whoami,
        reportSubmissions,
    ]

    /// The services that change nothing: a request to one may be sent again whatever became of the first.
    public static let readOnly: Set<String> = [
        list, show, file, status, submissions, leaderboard, report, reportSubmissions, events, whoami, mmiService,
        submissionFile, reference, clarifications,
    ]

    /// Scorer services evaluators register for with READY.
    public static let builtinScorers = "pumasi.builtin"
    public static func plugin(_ name: String) -> String { "pumasi.plugin.\(name)" }
    /// Codabench and CodaLab programs that travel with their challenge: on evaluators that run them on their own host
    /// (`pumasi.program`), or in a named environment (`pumasi.program.<image>`) on evaluators that have it.
    public static func program(environment: String?) -> String {
        environment.map { "pumasi.program.\($0)" } ?? "pumasi.program"
    }
    /// Whether evaluators may serve `name` (READY): a scorer's service, as a challenge's spec can name it.
    public static func isScorer(_ name: String) -> Bool {
        if name == builtinScorers || name == program(environment: nil) { return true }
        if name.hasPrefix("pumasi.plugin.") { return ScorerSpec.isPluginName(name.dropFirst(14)) }
        if name.hasPrefix("pumasi.program.") { return ScorerSpec.isEnvironmentName(String(name.dropFirst(15))) }
        return false
    }

    /// The service of a challenge scored by judges alone: no job is ever queued for it.
    public static let judging = "pumasi.judging"
}
