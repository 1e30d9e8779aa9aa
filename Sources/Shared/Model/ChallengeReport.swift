import Foundation

/// Everything a seeker exports about one challenge: the challenge itself, its leaderboard (and each phase's, for a
/// challenge in phases), every submission and the awards. The broker assembles it (it computes the leaderboard, never the client); the worker library
/// writes it out as CSV, JSON or a self-contained HTML page (`ReportFormat`).
public struct ChallengeReport: Codable, Sendable, Equatable {
    /// The layout of this type, written into every report so that readers of old exports can tell.
    public static let currentVersion = 1
    /// Decimals shown when a challenge states none.
    public static let defaultPrecision = 4
    /// The most decimals a report shows: a double carries about 15 significant digits.
    public static let maxPrecision = 12

    public var version: Int
    /// The challenge as its seeker sees it: id, title, state, direction, deadline, award and the rest.
    public var challenge: ChallengeInfo
    /// The name of the ranking score, e.g. `accuracy`: a column header and the chart's axis title.
    public var metric: String
    /// How many decimals reports show for scores and metrics; clamped to `0...maxPrecision` by `decimals`.
    public var precision: Int
    /// Each solver's best submission in the broker's order: best first, ties to the earlier submission.
    /// Entries without a score rank last (`standings`).
    public var leaderboard: [LeaderboardEntry]
    /// Every submission of the challenge, in arrival order; the broker leaves each one's `log` out. From the broker,
    /// its first page only when `moreSubmissions` is true: `pumasi.challenge.report.submissions` gives the others
    /// (`BrokerClient.report` reads them all).
    public var submissions: [SubmissionInfo]
    /// More submissions follow the first page (a reply of the broker's; nil in a whole report).
    public var moreSubmissions: Bool?
    /// The awards recorded for the challenge, in the order they were decided.
    public var awards: [AwardInfo]
    /// When the broker assembled the report.
    public var generatedAt: Millis
    /// For a challenge in phases, the leaderboard of each phase that has opened, in order, on the same view as
    /// `leaderboard` (which is the current phase's, or the last one's once the challenge closed). Nil without
    /// phases.
    public var phases: [PhaseBoard]?

    /// One phase of a challenge in phases and its leaderboard.
    public struct PhaseBoard: Codable, Sendable, Equatable {
        /// 1, 2, …
        public var number: Int
        public var name: String
        /// When it stopped, or stops, taking submissions.
        public var endsAt: Millis
        /// Its entrants' best submissions, scored on its reference data, in the broker's order.
        public var leaderboard: [LeaderboardEntry]

        public init(number: Int, name: String, endsAt: Millis, leaderboard: [LeaderboardEntry]) {
            self.number = number
            self.name = name
            self.endsAt = endsAt
            self.leaderboard = leaderboard
        }

        /// `leaderboard` in the order reports show it (see `ChallengeReport.standings`).
        public var standings: [LeaderboardEntry] { ChallengeReport.standings(leaderboard) }
    }

    public init(
        challenge: ChallengeInfo, metric: String, precision: Int = ChallengeReport.defaultPrecision,
        leaderboard: [LeaderboardEntry], submissions: [SubmissionInfo], awards: [AwardInfo], generatedAt: Millis,
        phases: [PhaseBoard]? = nil, version: Int = ChallengeReport.currentVersion
    ) {
        self.version = version
        self.challenge = challenge
        self.metric = metric
        self.precision = precision
        self.leaderboard = leaderboard
        self.submissions = submissions
        self.awards = awards
        self.generatedAt = generatedAt
        self.phases = phases
    }

    /// The decimals to show: `precision` clamped to `0...maxPrecision`.
    public var decimals: Int { min(max(precision, 0), Self.maxPrecision) }

    /// The leaderboard as reports show it: scored entries in rank order (ties keep the broker's order), then
    /// the entries without a score in the broker's order, so that a missing score never ranks ahead of a score.
    public var standings: [LeaderboardEntry] { Self.standings(leaderboard) }

    static func standings(_ leaderboard: [LeaderboardEntry]) -> [LeaderboardEntry] {
        let scored = leaderboard.enumerated().filter { $0.element.score != nil }
            .sorted { ($0.element.rank ?? Int.max, $0.offset) < ($1.element.rank ?? Int.max, $1.offset) }
            .map(\.element)
        return scored + leaderboard.filter { $0.score == nil }
    }

    /// The names of the extra metrics on the leaderboard, sorted: one column each in the leaderboard's exports.
    /// With phases, those of every phase's leaderboard.
    public var leaderboardMetricNames: [String] {
        Self.metricNames((leaderboard + (phases ?? []).flatMap(\.leaderboard)).map(\.metrics))
    }

    /// Whether some leaderboard entry, of any phase, is a team's: the exports then show members.
    public var hasTeams: Bool { (leaderboard + (phases ?? []).flatMap(\.leaderboard)).contains { $0.members != nil } }

    /// The names of the metrics of all submissions, sorted: one column each in the submissions' exports.
    public var submissionMetricNames: [String] { Self.metricNames(submissions.map(\.metrics)) }

    private static func metricNames(_ metrics: [[String: Double]?]) -> [String] {
        Set(metrics.flatMap { $0?.keys.map { $0 } ?? [] }).sorted()
    }
}

/// A page of a report's submissions after the first (`pumasi.challenge.report.submissions`).
public struct ReportSubmissions: Codable, Sendable, Equatable {
    public var submissions: [SubmissionInfo]
    /// More follow this page.
    public var more: Bool

    public init(submissions: [SubmissionInfo], more: Bool) {
        self.submissions = submissions
        self.more = more
    }
}
