import Foundation

/// How human judges score a challenge's submissions: blind, through `pumasi.judge.next` and `pumasi.judge.score`.
///
/// A challenge whose scorer is `{"judge": true}` is scored by its judges alone: the combined judged score is the
/// submission's score. A challenge with an automated scorer and `judging` is mixed: the scorer runs as usual, and
/// once it has scored a submission the judges score it too, adding the judged metric (and, with `weight`, the
/// metric `total`).
///
/// With `criteria` the challenge is judged by scorecard: each judge scores every criterion on the scale, and
/// their score of the submission is the weighted mean of those scores, `Σ weightᵢ · scoreᵢ / Σ weightᵢ` (see
/// `JudgingSpec+Criteria.swift`). The judges' scores are then combined by `combine`, as without criteria.
public struct JudgingSpec: Codable, Sendable, Equatable {
    /// How several judges' scores of one submission make one.
    public enum Rule: String, Codable, Sendable, CaseIterable {
        case mean, median, min, max

        /// The combined score of `scores` (not empty).
        public func combine(_ scores: [Double]) -> Double {
            let sorted = scores.sorted()
            guard let low = sorted.first, let high = sorted.last else { return .nan }
            switch self {
            case .mean: return sorted.reduce(0, +) / Double(sorted.count)
            case .min: return low
            case .max: return high
            case .median:
                let middle = sorted.count / 2
                return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
            }
        }
    }

    /// The range a judge's score must fall in, both ends included.
    public struct Scale: Codable, Sendable, Equatable {
        public var min: Double
        public var max: Double

        public init(min: Double, max: Double) {
            self.min = min
            self.max = max
        }

        public func contains(_ score: Double) -> Bool { score.isFinite && score >= min && score <= max }
    }

    /// How many judges score each submission. Default 1.
    public var perSubmission: Int?
    /// How their scores combine. Default `mean`.
    public var combine: Rule?
    /// Default 0 to 10.
    public var scale: Scale?
    /// The principals who may judge, by name; absent: any principal with the role `judge` (or `admin`).
    public var judges: [String]?
    /// The metric the combined score is recorded under. Default `judged`.
    public var metric: String?
    /// Mixed challenges only: the weight `w` of the judged score in the metric `total`,
    /// `(1 - w) * score + w * judged`, from 0 to 1.
    public var weight: Double?
    /// How long a judge holds an assignment before another judge may take its place. Default 1440 (a day).
    public var assignmentMinutes: Int?
    /// A scorecard: what each judge scores, criterion by criterion (1 to 20). Absent: one score per judge.
    public var criteria: [Criterion]?

    public init(
        perSubmission: Int? = nil, combine: Rule? = nil, scale: Scale? = nil, judges: [String]? = nil,
        metric: String? = nil, weight: Double? = nil, assignmentMinutes: Int? = nil, criteria: [Criterion]? = nil
    ) {
        self.perSubmission = perSubmission
        self.combine = combine
        self.scale = scale
        self.judges = judges
        self.metric = metric
        self.weight = weight
        self.assignmentMinutes = assignmentMinutes
        self.criteria = criteria
    }

    public var required: Int { perSubmission ?? 1 }
    public var rule: Rule { combine ?? .mean }
    public var range: Scale { scale ?? Scale(min: 0, max: 10) }
    public var metricName: String { metric ?? Self.defaultMetric }
    public var assignmentMillis: Millis { Millis(assignmentMinutes ?? 1_440) * 60_000 }

    public static let defaultMetric = "judged"
    /// The metric a mixed challenge with a `weight` gets: the weighted sum of the score and the judged score.
    public static let totalMetric = "total"

    /// A judged submission's metrics: its scorer's `metrics`, the judged metric, and with a `weight` the metric
    /// `total` from its main `score`. When the scorer split its score (`public.score`, `private.score`), the
    /// total is split the same way, and no unsplit total is given (it would show the private split early).
    public func metrics(adding judged: Double, to metrics: [String: Double], score: Double?) -> [String: Double] {
        var result = metrics
        result[metricName] = judged
        guard let weight, let score else { return result }
        let splits = ["public", "private"]
        if splits.contains(where: { metrics["\($0).score"] != nil }) {
            for split in splits {
                let part = metrics["\(split).score"] ?? score
                result["\(split).\(Self.totalMetric)"] = (1 - weight) * part + weight * judged
            }
        } else {
            result[Self.totalMetric] = (1 - weight) * score + weight * judged
        }
        return result
    }

    /// Whether `name` may judge: anyone with the right role when no panel is named.
    public func admits(_ name: String) -> Bool { judges.map { $0.contains(name) } ?? true }

    /// What is wrong with it for a challenge scored by `scorer`, or nil.
    public func problem(scorer: ScorerSpec) -> String? {
        if let perSubmission, !(1...20).contains(perSubmission) { return "\"perSubmission\" must be from 1 to 20" }
        if let scale {
            guard scale.min.isFinite, scale.max.isFinite, scale.min < scale.max,
                Swift.max(abs(scale.min), abs(scale.max)) <= 1e9
            else { return "\"scale\" needs finite \"min\" < \"max\", each within ±1e9" }
        }
        if let judges {
            guard judges.count >= required, judges.count <= 100, Set(judges).count == judges.count else {
                return "\"judges\" must name \(required) to 100 different principals (at least \"perSubmission\")"
            }
            if let bad = judges.first(where: { !(1...64).contains($0.count) || $0.contains(where: \.isNewline) }) {
                return "judge name \"\(bad.prefix(64))\" must be 1-64 characters on one line"
            }
        }
        if let metric {
            guard (1...64).contains(metric.count), !metric.contains(where: \.isWhitespace),
                !["score", Self.totalMetric].contains(metric), !metric.hasPrefix("public."),
                !metric.hasPrefix("private.")
            else {
                return "\"metric\" must be a name of 1-64 characters without spaces, not score or total, "
                    + "and without a split prefix"
            }
        }
        if let weight {
            guard scorer.judge != true else {
                return "\"weight\" combines an automated score with the judged one; this challenge is judged only"
            }
            guard weight.isFinite, (0...1).contains(weight) else { return "\"weight\" must be from 0 to 1" }
        }
        if let minutes = assignmentMinutes, !(1...43_200).contains(minutes) {
            return "\"assignmentMinutes\" must be from 1 to 43200 (30 days)"
        }
        if let criteria, let problem = Self.problem(criteria: criteria) { return problem }
        return nil
    }
}
