import Foundation

/// `pumasi.judge.next`: the next submission for this judge to score.
public struct JudgeNextRequest: Codable, Sendable {
    public var v = wireVersion
    /// Only this challenge's submissions; absent: any challenge this judge may judge.
    public var challenge: String?
    /// Without authentication, who is judging; with it, the key's holder.
    public var judge: String?

    public init(challenge: String? = nil, judge: String? = nil) {
        self.challenge = challenge
        self.judge = judge
    }
}

/// A submission given to a judge, blind: nothing in it names the submission or its solver. The submission's
/// bytes follow the reply's JSON frame.
public struct JudgeAssignment: Codable, Sendable, Equatable {
    /// Opaque: it names this judge's place on one submission, and nothing else.
    public var assignment: String
    public var challenge: String
    public var title: String
    /// `submission` plus the submitted file's extension (`submission.csv`): a file name may name its author.
    public var filename: String
    public var size: Int
    public var sha256: String
    public var scale: JudgingSpec.Scale
    /// With a scorecard, the criteria to score, each on `scale`.
    public var criteria: [JudgingSpec.Criterion]?
    /// Until then the place is this judge's; after it, another judge may take it while it is unscored.
    public var expiresAt: Millis

    public init(
        assignment: String, challenge: String, title: String, filename: String, size: Int, sha256: String,
        scale: JudgingSpec.Scale, criteria: [JudgingSpec.Criterion]? = nil, expiresAt: Millis
    ) {
        self.assignment = assignment
        self.challenge = challenge
        self.title = title
        self.filename = filename
        self.size = size
        self.sha256 = sha256
        self.scale = scale
        self.criteria = criteria
        self.expiresAt = expiresAt
    }
}

/// The result of `pumasi.judge.next`: an assignment (and a file frame after the JSON), or none and why.
public struct JudgeNextReply: Codable, Sendable, Equatable {
    public var assignment: JudgeAssignment?
    public var note: String?

    public init(assignment: JudgeAssignment? = nil, note: String? = nil) {
        self.assignment = assignment
        self.note = note
    }
}

/// `pumasi.judge.score`: a judge's score (on the challenge's scale) and comment for one of their assignments.
/// With a scorecard, a score for every criterion instead, with a comment for any of them; `score` is then
/// computed by the broker (the weighted mean: `JudgingSpec.judgement`), and if sent must equal it.
public struct JudgeScoreRequest: Codable, Sendable {
    public var v = wireVersion
    public var assignment: String
    /// Required without criteria; with them, best left out.
    public var score: Double?
    /// Per criterion, by name: its score on the challenge's scale. Only for a challenge with criteria.
    public var criteria: [String: Double]?
    /// Per criterion, by name: a comment on it. Only for a challenge with criteria.
    public var comments: [String: String]?
    /// The overall comment.
    public var comment: String?
    /// Without authentication, who is judging; with it, the key's holder.
    public var judge: String?

    public init(
        assignment: String, score: Double? = nil, criteria: [String: Double]? = nil,
        comments: [String: String]? = nil, comment: String? = nil, judge: String? = nil
    ) {
        self.assignment = assignment
        self.score = score
        self.criteria = criteria
        self.comments = comments
        self.comment = comment
        self.judge = judge
    }
}

/// A judge's score of one criterion, with their comment on it.
public struct CriterionScore: Codable, Sendable, Equatable {
    public var name: String
    public var score: Double
    public var comment: String?

    public init(name: String, score: Double, comment: String? = nil) {
        self.name = name
        self.score = score
        self.comment = comment
    }
}

/// What a judge gets back once a judgement is durably recorded.
public struct JudgementReceipt: Codable, Sendable, Equatable {
    public var assignment: String
    public var challenge: String
    /// The judge's score: with a scorecard, the weighted mean of `criteria`.
    public var score: Double
    public var comment: String?
    /// With a scorecard, each criterion's score and comment, in the challenge's order.
    public var criteria: [CriterionScore]?
    public var at: Millis
    /// True when this answers a repeat of a judgement already recorded.
    public var duplicate: Bool
    /// Judgements the submission still needs: 0 once its judging is complete.
    public var remaining: Int

    public init(
        assignment: String, challenge: String, score: Double, comment: String?, criteria: [CriterionScore]? = nil,
        at: Millis, duplicate: Bool, remaining: Int
    ) {
        self.assignment = assignment
        self.challenge = challenge
        self.score = score
        self.comment = comment
        self.criteria = criteria
        self.at = at
        self.duplicate = duplicate
        self.remaining = remaining
    }
}

/// One judgement of a submission, as its status shows it: the seeker (and admins) see who judged, the solver
/// only the score, the comment and any criterion scores and comments.
public struct JudgementInfo: Codable, Sendable, Equatable {
    /// The judge's score: with a scorecard, the weighted mean of `criteria`.
    public var score: Double
    public var comment: String?
    /// With a scorecard, each criterion's score and comment, in the challenge's order.
    public var criteria: [CriterionScore]?
    public var judge: String?
    public var at: Millis

    public init(score: Double, comment: String?, criteria: [CriterionScore]? = nil, judge: String?, at: Millis) {
        self.score = score
        self.comment = comment
        self.criteria = criteria
        self.judge = judge
        self.at = at
    }
}
