import Foundation

/// What the broker publishes on PUB, as three frames: topic, sequence number (decimal), JSON body.
/// Subscribers filter by topic prefix; sequence numbers rise by one per announcement and survive restarts.
public struct Announcement: Codable, Sendable, Equatable {
    public enum Topic: String, Codable, Sendable, CaseIterable {
        case opened = "challenge.opened"
        case extended = "challenge.extended"
        case closing = "challenge.closing"
        case closed = "challenge.closed"
        case scored = "submission.scored"
        case failed = "submission.failed"
        case awarded = "challenge.awarded"
        case unawarded = "challenge.unawarded"
        case cancelled = "challenge.cancelled"
        case disqualified = "submission.disqualified"
        case disputed = "submission.disputed"
        case rescoring = "challenge.rescoring"
        /// A submission awaits judges; the announcement names neither the submission nor its solver.
        case judgingRequested = "judging.requested"
        /// A submission's judgements are all in and combined: `score` is its judged score.
        case judged = "submission.judged"
        /// The challenge's agreement was replaced: solvers accept the new version before they submit again.
        case agreementChanged = "challenge.agreement"
        /// The seeker answered a question for everyone: `pumasi clarifications` shows it.
        case clarified = "challenge.clarified"
        /// The next phase opened (`message`: its name and number; `deadline`: its end).
        case phase = "challenge.phase"
        /// An evaluator refused the challenge: its scorer failed a canary check (`message` says which, and how).
        /// No submission is scored by that evaluator until the scorer, its files or its environment change.
        case misconfigured = "challenge.misconfigured"
        /// Submissions wait: no connected evaluator serves the challenge's scorer (`message`: which, and why).
        case unserved = "challenge.unserved"
    }

    public var topic: Topic
    public var seq: Int64
    public var at: Millis
    public var challenge: String
    public var title: String
    public var deadline: Millis?
    public var submission: String?
    public var solver: String?
    public var score: Double?
    public var rank: Int?
    public var amount: Decimal?
    public var currency: String?
    public var message: String?
    /// On `challenge.awarded`: the award ledger's head once the award was recorded.
    public var ledger: LedgerAnchor?

    public init(topic: Topic, seq: Int64 = 0, at: Millis, challenge: String, title: String) {
        self.topic = topic
        self.seq = seq
        self.at = at
        self.challenge = challenge
        self.title = title
    }

    public var frames: [Data] { frames(json: json) }

    /// The frames, with the body already written.
    public func frames(json: Data) -> [Data] { [Data(utf8: topic.rawValue), Data(utf8: String(seq)), json] }

    /// Parses the three frames of a published announcement.
    public static func parse(_ frames: [Data]) -> Announcement? {
        guard frames.count == 3 else { return nil }
        return try? JSONDecoder().decode(Announcement.self, from: frames[2])
    }
}
