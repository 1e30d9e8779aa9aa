import Foundation

/// How many submissions a solver may make, and which of them count.
public struct SubmissionRules: Codable, Sendable, Equatable {
    /// Whether every submission competes (`keep-all`), or each new one replaces the solver's earlier ones.
    public enum Mode: String, Codable, Sendable, CaseIterable {
        case keepAll = "keep-all"
        case replace
    }

    /// Submissions per solver per UTC day; nil for no limit.
    public var perDay: Int?
    /// Submissions per solver in all; nil for no limit.
    public var total: Int?
    public var mode: Mode?
    /// How many submissions a solver may select for the final (private) ranking; nil for all of them.
    public var finalSelection: Int?
    /// The largest submission file, in bytes; nil for the broker's own limit (`--max-submission-mb`).
    public var maxBytes: Int?

    public init(
        perDay: Int? = nil, total: Int? = nil, mode: Mode? = nil, finalSelection: Int? = nil, maxBytes: Int? = nil
    ) {
        self.perDay = perDay
        self.total = total
        self.mode = mode
        self.finalSelection = finalSelection
        self.maxBytes = maxBytes
    }
}

/// Which metric ranks, in which direction, and how precisely.
///
/// A scorer may return several named metrics. It may also return them per split, as `public.<metric>` and
/// `private.<metric>`: the public split ranks the provisional leaderboard shown while the challenge is open,
/// the private split the final one, revealed once it closes. A metric without split variants ranks both.
public struct RankingSpec: Codable, Sendable, Equatable {
    /// The metric that ranks; `score` (the default) is the scorer's main score.
    public var metric: String?
    /// Decimal places scores are shown and compared at: equal at this precision is a tie, which goes to the
    /// earlier submission. Default 6.
    public var precision: Int?

    public init(metric: String? = nil, precision: Int? = nil) {
        self.metric = metric
        self.precision = precision
    }

    public static let defaultPrecision = 6
}

/// How a challenge's award is decided: data in the spec, checked when it is posted.
public struct AwardPolicySpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The whole amount to the best final score.
        case winnerTakesAll = "winner-takes-all"
        /// The amount split among the top N by `shares` (percentages that add up to 100).
        case topN = "top-n"
        /// `guaranteed` when the best score reaches `minimum`, the whole amount when it reaches `target`, nothing
        /// below `minimum`.
        case thresholdTiers = "threshold-tiers"
        /// The first submission whose score meets `threshold` wins the whole amount, and the challenge closes.
        case firstToThreshold = "first-to-threshold"
        /// The seeker decides, with a recorded rationale, any amounts up to the award (`pumasi award`).
        case discretionary
    }

    public var kind: Kind
    public var shares: [Decimal]?
    public var minimum: Double?
    public var target: Double?
    public var guaranteed: Decimal?
    public var threshold: Double?

    public init(
        kind: Kind, shares: [Decimal]? = nil, minimum: Double? = nil, target: Double? = nil, guaranteed: Decimal? = nil,
        threshold: Double? = nil
    ) {
        self.kind = kind
        self.shares = shares
        self.minimum = minimum
        self.target = target
        self.guaranteed = guaranteed
        self.threshold = threshold
    }

    /// What is wrong with it for an award of `amount`, or nil.
    public func problem(amount: Decimal) -> String? {
        switch kind {
        case .winnerTakesAll, .discretionary:
            return nil
        case .topN:
            guard let shares, (1...100).contains(shares.count), shares.allSatisfy({ $0 > 0 }) else {
                return "top-n needs \"shares\": 1 to 100 positive percentages"
            }
            return shares.reduce(0, +) == 100 ? nil : "top-n shares must add up to 100, not \(shares.reduce(0, +))"
        case .thresholdTiers:
            guard let minimum, let target, let guaranteed, minimum.isFinite, target.isFinite else {
                return "threshold-tiers needs \"minimum\", \"target\" and \"guaranteed\""
            }
            guard guaranteed >= 0, guaranteed <= amount else {
                return "threshold-tiers \"guaranteed\" must be from 0 to the award amount"
            }
            return minimum == target ? "threshold-tiers \"minimum\" and \"target\" must differ" : nil
        case .firstToThreshold:
            guard let threshold, threshold.isFinite else { return "first-to-threshold needs a finite \"threshold\"" }
            return nil
        }
    }
}

/// BOINC-style redundant scoring: each submission is scored by `replicas` independent evaluators, whose
/// results must agree within `tolerance`; disagreement asks for another replica, up to `maxReplicas`, and
/// then the submission is flagged to the seeker.
public struct RedundancySpec: Codable, Sendable, Equatable {
    public var replicas: Int
    /// The largest difference between agreeing scores. Default 1e-9.
    public var tolerance: Double?
    /// Default `replicas` + 2.
    public var maxReplicas: Int?

    public init(replicas: Int, tolerance: Double? = nil, maxReplicas: Int? = nil) {
        self.replicas = replicas
        self.tolerance = tolerance
        self.maxReplicas = maxReplicas
    }

    public var effectiveTolerance: Double { tolerance ?? 1e-9 }
    public var effectiveMaxReplicas: Int { maxReplicas ?? replicas + 2 }

    public var problem: String? {
        guard (2...9).contains(replicas) else { return "redundancy.replicas must be from 2 to 9" }
        guard (replicas...16).contains(effectiveMaxReplicas) else {
            return "redundancy.maxReplicas must be from replicas to 16"
        }
        guard effectiveTolerance.isFinite, effectiveTolerance >= 0 else {
            return "redundancy.tolerance must be 0 or more"
        }
        return nil
    }
}

/// A score under one version of a challenge's scorer (a rescore adds a version; the older scores stay).
public struct ScoreRecord: Codable, Sendable, Equatable {
    public var version: Int
    public var ok: Bool
    public var score: Double?
    public var metrics: [String: Double]?
    public var error: String?
    public var at: Millis

    public init(version: Int, ok: Bool, score: Double?, metrics: [String: Double]?, error: String?, at: Millis) {
        self.version = version
        self.ok = ok
        self.score = score
        self.metrics = metrics
        self.error = error
        self.at = at
    }
}
