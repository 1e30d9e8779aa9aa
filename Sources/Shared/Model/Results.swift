import Foundation

/// Where a challenge is in its life.
public enum ChallengeState: String, Codable, Sendable, CaseIterable {
    /// Posted with a start time in the future: seen only by its seeker (and admins) until it opens.
    case draft
    /// Taking submissions until the deadline.
    case open
    /// Under evaluation: past its deadline (or closed by an admin), no more submissions; scoring and judging
    /// finish, then the award is decided.
    case closed
    /// Scoring drained and the award decided and recorded.
    case awarded
    /// Scoring drained and no award was due: closed without award.
    case unawarded
    /// Pulled: by its seeker while a draft, or by an admin at any time before the award.
    case cancelled

    /// Whether nothing more will happen to it.
    public var isFinal: Bool { self == .awarded || self == .unawarded || self == .cancelled }
}

/// A challenge as clients see it.
public struct ChallengeInfo: Codable, Sendable, Equatable {
    public var id: String
    /// Its handle, if its seeker gave it one (`ChallengeSpec.slug`).
    public var slug: String?
    public var title: String
    public var description: String
    public var state: ChallengeState
    public var deadline: Millis
    public var award: AwardSpec
    public var direction: Direction
    public var scorer: String
    public var timeLimitSeconds: Double
    /// Public files only.
    public var files: [FileEntry]
    public var submissions: Int
    public var createdAt: Millis
    public var closedAt: Millis?
    /// The first award recorded (the winner, for winner-takes-all); `awards` lists them all.
    public var winner: AwardInfo?
    public var startsAt: Millis?
    public var rules: SubmissionRules?
    public var ranking: RankingSpec?
    public var awards: [AwardInfo]?
    public var scorerVersion: Int?
    public var redundancy: RedundancySpec?
    public var judging: JudgingSpec?
    public var summary: String?
    /// The current agreement, with its text, and for a solver whether they accepted it.
    public var agreement: AgreementInfo?
    /// True when the description and files are withheld until the reader accepts the agreement.
    public var confidential: Bool?
    public var invitationOnly: Bool?
    public var evaluators: EvaluatorPolicy?
    /// Its phases, and which is open now (1, 2, …).
    public var phases: [PhaseSpec]?
    public var phase: Int?
    /// Set when the challenge takes teams: their most members and merge deadline, as the spec gives them.
    public var teams: TeamRules?

    public init(
        id: String, title: String, description: String, state: ChallengeState, deadline: Millis, award: AwardSpec,
        direction: Direction, scorer: String, timeLimitSeconds: Double, files: [FileEntry], submissions: Int,
        createdAt: Millis, closedAt: Millis? = nil, winner: AwardInfo? = nil, startsAt: Millis? = nil,
        rules: SubmissionRules? = nil, ranking: RankingSpec? = nil, awards: [AwardInfo]? = nil,
        judging: JudgingSpec? = nil
    ) {
        self.judging = judging
        self.startsAt = startsAt
        self.rules = rules
        self.ranking = ranking
        self.awards = awards
        self.id = id
        self.title = title
        self.description = description
        self.state = state
        self.deadline = deadline
        self.award = award
        self.direction = direction
        self.scorer = scorer
        self.timeLimitSeconds = timeLimitSeconds
        self.files = files
        self.submissions = submissions
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.winner = winner
    }
}

/// What a solver gets back once a submission is durably stored.
public struct Receipt: Codable, Sendable, Equatable {
    public var submission: String
    public var challenge: String
    public var sha256: String
    public var size: Int
    public var receivedAt: Millis
    /// True when this answers a retry of an earlier request with the same client id.
    public var duplicate: Bool
    /// Set by a relay that could not reach the broker: the submission waits in the relay's outbox, on disk,
    /// and `submission` is `pending:<client id>` until it is delivered.
    public var queued: Bool?
    /// Set by a relay whose broker refuses its key: why the queued submission cannot be delivered until the broker's
    /// operator registers the relay's key (it stays in the outbox meanwhile).
    public var warning: String?
    /// What the solver may still submit to this challenge, when it has limits.
    public var quota: Quota?

    public init(
        submission: String, challenge: String, sha256: String, size: Int, receivedAt: Millis, duplicate: Bool,
        queued: Bool? = nil, quota: Quota? = nil
    ) {
        self.quota = quota
        self.submission = submission
        self.challenge = challenge
        self.sha256 = sha256
        self.size = size
        self.receivedAt = receivedAt
        self.duplicate = duplicate
        self.queued = queued
    }
}

/// Where a submission is.
public enum SubmissionState: String, Codable, Sendable {
    /// Stored; waiting for a free evaluator.
    case queued
    /// Leased to an evaluator that is scoring it.
    case scoring
    /// Waiting for its judges, in a challenge that judges alone score.
    case judging
    case scored
    /// Could not be scored; `error` says why.
    case failed
}

public struct SubmissionInfo: Codable, Sendable, Equatable {
    public var submission: String
    public var challenge: String
    public var solver: String
    public var filename: String
    public var sha256: String
    public var size: Int
    public var receivedAt: Millis
    public var state: SubmissionState
    public var attempts: Int
    public var score: Double?
    public var metrics: [String: Double]?
    public var message: String?
    public var error: String?
    public var log: String?
    public var scoredAt: Millis?
    /// Why it is where it is, while it waits: so that nothing looks stuck without a reason.
    public var note: String?
    /// The scorer version `state` and `score` are for, and the outcomes under every version (after a rescore).
    public var version: Int?
    public var history: [ScoreRecord]?
    /// The phase it was submitted to (1, 2, …; 1 for a challenge without phases), and the submission it was carried
    /// over from, if it was.
    public var phase: Int?
    public var carriedFrom: String?
    /// Its judges' scores and comments, in a judged challenge: see `JudgementInfo` for who sees what.
    public var judgements: [JudgementInfo]?
    /// The length (in characters) of the detailed results page its scoring program wrote, if it wrote one; the page
    /// itself when the request asked for it (`SubmissionRequest.details`). Its solver and the seeker see these.
    public var detailedResultsLength: Int?
    public var detailedResults: String?
    /// The solver's words on it (`submit -m`).
    public var comment: String?

    public init(
        submission: String, challenge: String, solver: String, filename: String, sha256: String, size: Int,
        receivedAt: Millis, state: SubmissionState, attempts: Int, score: Double? = nil,
        metrics: [String: Double]? = nil, message: String? = nil, error: String? = nil, log: String? = nil,
        scoredAt: Millis? = nil, note: String? = nil
    ) {
        self.submission = submission
        self.challenge = challenge
        self.solver = solver
        self.filename = filename
        self.sha256 = sha256
        self.size = size
        self.receivedAt = receivedAt
        self.state = state
        self.attempts = attempts
        self.score = score
        self.metrics = metrics
        self.message = message
        self.error = error
        self.log = log
        self.scoredAt = scoredAt
        self.note = note
    }
}

/// One solver's line on a leaderboard: their best submission and how many they made.
public struct LeaderboardEntry: Codable, Sendable, Equatable {
    public var rank: Int?
    public var solver: String
    public var submission: String
    /// The ranking score; nil when the solver has no score (yet), which ranks last. The broker's live
    /// leaderboard lists scored submissions only, so it always sets it.
    public var score: Double?
    public var submittedAt: Millis
    public var entries: Int
    /// The scorer's other metrics for that submission, shown beside the score in reports.
    public var metrics: [String: Double]?
    /// A team's entry: `solver` is then the team's name, and `members` its members.
    public var team: String?
    public var members: [String]?

    public init(
        rank: Int?, solver: String, submission: String, score: Double?, submittedAt: Millis, entries: Int,
        metrics: [String: Double]? = nil
    ) {
        self.rank = rank
        self.solver = solver
        self.submission = submission
        self.score = score
        self.submittedAt = submittedAt
        self.entries = entries
        self.metrics = metrics
    }
}

/// The broker computes leaderboards: each solver's best scored submission, best first, ties to the earliest.
public struct Leaderboard: Codable, Sendable, Equatable {
    public var challenge: String
    public var title: String
    public var state: ChallengeState
    public var direction: Direction
    public var entries: [LeaderboardEntry]
    /// Submissions not yet scored, and ones that failed to score.
    public var pending: Int
    public var failed: Int
    /// `provisional` (the public split, while open) or `final` (the private split, once closed).
    public var view: String?
    /// The metric that ranks, and the decimal places scores are shown and compared at.
    public var metric: String?
    public var precision: Int?
    /// For a challenge in phases: which one (1, 2, …) and its name.
    public var phase: Int?
    public var phaseName: String?
    /// When the broker computed it: a large challenge's board is given again for a while (`docs/protocol.md`).
    public var asOf: Millis?

    public init(
        challenge: String, title: String, state: ChallengeState, direction: Direction, entries: [LeaderboardEntry],
        pending: Int, failed: Int
    ) {
        self.challenge = challenge
        self.title = title
        self.state = state
        self.direction = direction
        self.entries = entries
        self.pending = pending
        self.failed = failed
    }
}

/// A solver's submission limits for one challenge and how much of them is left. Submissions that failed for
/// infrastructure reasons do not count.
public struct Quota: Codable, Sendable, Equatable {
    public var perDay: Int?
    public var usedToday: Int
    public var remainingToday: Int?
    /// The next UTC midnight, when the daily count starts again.
    public var resetsAt: Millis
    public var total: Int?
    public var used: Int
    public var remaining: Int?

    public init(perDay: Int?, usedToday: Int, total: Int?, used: Int, resetsAt: Millis) {
        self.perDay = perDay
        self.usedToday = usedToday
        self.total = total
        self.used = used
        self.resetsAt = resetsAt
        remainingToday = perDay.map { max(0, $0 - usedToday) }
        remaining = total.map { max(0, $0 - used) }
    }

    /// "3 of 5 left today (resets 2026-11-24T00:00:00Z), 17 of 50 left in all", or nil without limits.
    public var summary: String? {
        var parts: [String] = []
        if let perDay, let remainingToday {
            parts.append("\(remainingToday) of \(perDay) left today (resets \(WallClock.iso(resetsAt)))")
        }
        if let total, let remaining { parts.append("\(remaining) of \(total) left in all") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}

/// A recorded award.
public struct AwardInfo: Codable, Sendable, Equatable {
    public var challenge: String
    public var submission: String
    public var solver: String
    public var amount: Decimal
    public var currency: String
    public var score: Double
    public var policy: String
    public var awardedAt: Millis
    /// Why, for an award the seeker decided (discretionary) or one that passed over a disqualified winner.
    public var rationale: String?
    /// The SHA-256 of the challenge agreement the winner accepted, when the challenge has one.
    public var agreement: String?
    /// The team whose award this is a member's share of.
    public var team: String?

    public init(
        challenge: String, submission: String, solver: String, amount: Decimal, currency: String, score: Double,
        policy: String, awardedAt: Millis, rationale: String? = nil, agreement: String? = nil, team: String? = nil
    ) {
        self.rationale = rationale
        self.agreement = agreement
        self.team = team
        self.challenge = challenge
        self.submission = submission
        self.solver = solver
        self.amount = amount
        self.currency = currency
        self.score = score
        self.policy = policy
        self.awardedAt = awardedAt
    }
}

/// A challenge file with its bytes in the next frame.
/// The next frame carries the bytes from `offset` on, at most `FileInfo.chunkSize` of them: files are fetched
/// in chunks, so that no reply is larger than a chunk (a peer that asks and never reads costs the broker at
/// most its high-water mark times one chunk).
public struct FileInfo: Codable, Sendable, Equatable {
    public var name: String
    public var sha256: String
    /// The whole file's size.
    public var size: Int
    /// Where the chunk in the next frame starts.
    public var offset: Int?

    public init(name: String, sha256: String, size: Int, offset: Int? = nil) {
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.offset = offset
    }

    public static let chunkSize = 256 << 10
}

/// `mmi.service` answers with a bare status, not JSON.
public enum MMIStatus: String, Sendable {
    case found = "200", notFound = "404", notImplemented = "501"
}

/// The answer to `pumasi.events`: the events asked for and the log's latest sequence number.
public struct EventLog: Codable, Sendable, Equatable {
    public var events: [Announcement]
    public var last: Int64
    /// The last sequence number the reply covers: the events up to it that the caller may not see (those of
    /// invitation-only challenges it is not invited to) were left out. Absent: the last event's.
    public var through: Int64?

    public init(events: [Announcement], last: Int64) {
        self.events = events
        self.last = last
    }

    public static let maxBatch = 1_000
}

/// One submission held by a relay's outbox.
public struct OutboxEntry: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Waiting for the broker.
        case pending
        /// The broker stored it; `submission` is its id.
        case delivered
        /// The broker refused it; `error` says why.
        case refused
    }

    public var clientId: String
    public var challenge: String
    public var solver: String
    public var filename: String
    public var size: Int
    public var sha256: String
    public var queuedAt: Millis
    public var state: State
    public var submission: String?
    public var error: String?
    /// The solver's comment, passed on with the submission.
    public var comment: String?
    /// The request's repeat window (`SubmitRequest.repeatWindowSeconds`), passed on with it.
    public var repeatWindowSeconds: Int?

    public init(
        clientId: String, challenge: String, solver: String, filename: String, size: Int, sha256: String,
        queuedAt: Millis, state: State, submission: String? = nil, error: String? = nil, comment: String? = nil,
        repeatWindowSeconds: Int? = nil
    ) {
        self.comment = comment
        self.repeatWindowSeconds = repeatWindowSeconds
        self.clientId = clientId
        self.challenge = challenge
        self.solver = solver
        self.filename = filename
        self.size = size
        self.sha256 = sha256
        self.queuedAt = queuedAt
        self.state = state
        self.submission = submission
        self.error = error
    }
}
