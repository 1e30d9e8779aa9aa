import Foundation

/// Scorecards: a judged challenge's criteria, and the rule that turns a judge's criterion scores into their score.
///
/// The rule: with criteria `c₁ … cₙ` of weights `w₁ … wₙ` (default 1 each), a judge scores every criterion on
/// the challenge's scale, and their score of the submission is the weighted mean
/// `Σ wᵢ · sᵢ / Σ wᵢ` (summed in the order the challenge lists its criteria), which lies on the scale too.
/// The broker computes it: a request may leave `score` out, or send exactly that value. The judges' scores are
/// then combined by the challenge's `combine` rule (mean by default), as without criteria.
extension JudgingSpec {
    /// One thing judges score, with its weight in their score.
    public struct Criterion: Codable, Sendable, Equatable {
        /// 1-40 letters, digits, spaces, `-` or `_`, not starting or ending with a space; unique in its challenge
        /// regardless of case (`Novelty` and `novelty` may not both be criteria).
        public var name: String
        /// Finite, above 0, at most 1e6. Default 1.
        public var weight: Double?
        /// What judges should look for: at most 1000 characters.
        public var description: String?

        public init(name: String, weight: Double? = nil, description: String? = nil) {
            self.name = name
            self.weight = weight
            self.description = description
        }

        public var effectiveWeight: Double { weight ?? 1 }

        /// Whether `name` is a well-formed criterion name (see `name`).
        public static func isWellFormed(_ name: String) -> Bool {
            (1...40).contains(name.count) && name.first != " " && name.last != " "
                && name.allSatisfy { $0.isLetter || ($0.isASCII && $0.isNumber) || $0 == " " || $0 == "-" || $0 == "_" }
        }
    }

    /// What is wrong with a challenge's criteria, or nil.
    static func problem(criteria: [Criterion]) -> String? {
        guard (1...20).contains(criteria.count) else { return "\"criteria\" must list 1 to 20 criteria" }
        var seen: Set<String> = []
        for criterion in criteria {
            let name = criterion.name
            guard Criterion.isWellFormed(name) else {
                return "criterion name \"\(name.prefix(64))\" must be 1-40 letters, digits, spaces, '-' or '_', "
                    + "not starting or ending with a space"
            }
            guard seen.insert(name.lowercased()).inserted else {
                return "criterion \"\(name)\" is listed twice (names differ by more than case)"
            }
            if let weight = criterion.weight, !(weight.isFinite && weight > 0 && weight <= 1e6) {
                return "criterion \"\(name)\": \"weight\" must be a number above 0, at most 1e6"
            }
            if let description = criterion.description,
                description.count > 1_000 || description.unicodeScalars.contains("\u{0}")
            {
                return "criterion \"\(name)\": \"description\" must be at most 1000 characters, without NUL"
            }
        }
        return nil
    }

    /// A judge's score of a submission from what they sent, checked against this spec: their `score` alone
    /// without criteria; with criteria, the weighted mean of `criteria` (see the rule above), with each
    /// criterion's score and comment in the order the challenge lists them.
    /// - Parameters:
    ///   - comments: per criterion, already checked and trimmed (an empty one is no comment).
    /// - Throws: `badRequest` naming the missing, unknown or off-scale criterion, a `score` that is not the
    ///   weighted mean, or criteria sent to a challenge without them.
    public func judgement(score: Double?, criteria marks: [String: Double]?, comments: [String: String]?)
        throws(ProtocolError) -> (score: Double, criteria: [CriterionScore]?)
    {
        let scale = range
        guard let criteria else {
            guard marks == nil, comments == nil else {
                throw ProtocolError(
                    .badRequest,
                    "this challenge has no criteria: send one \"score\", without \"criteria\" or \"comments\"")
            }
            guard let score else { throw ProtocolError(.badRequest, "\"score\" is required") }
            guard scale.contains(score) else {
                throw ProtocolError(.badRequest, "score must be from \(scale.min) to \(scale.max), not \(score)")
            }
            return (score, nil)
        }
        let marks = marks ?? [:]
        let names = Set(criteria.map(\.name))
        let listed = criteria.map { "\"\($0.name)\"" }.joined(separator: ", ")
        if let unknown = marks.keys.sorted().first(where: { !names.contains($0) }) {
            throw ProtocolError(
                .badRequest, "no criterion \"\(unknown.prefix(64))\" in this challenge: its criteria are \(listed)")
        }
        if let unknown = (comments ?? [:]).keys.sorted().first(where: { !names.contains($0) }) {
            throw ProtocolError(
                .badRequest,
                "a comment for \"\(unknown.prefix(64))\", which is not a criterion: the criteria are \(listed)")
        }
        if let off = criteria.first(where: { marks[$0.name].map { !scale.contains($0) } ?? false }) {
            throw ProtocolError(
                .badRequest,
                "criterion \"\(off.name)\" must be scored from \(scale.min) to \(scale.max), not \(marks[off.name] ?? .nan)"
            )
        }
        let missing = criteria.filter { marks[$0.name] == nil }.map { "\"\($0.name)\"" }
        if !missing.isEmpty {
            throw ProtocolError(
                .badRequest,
                (missing.count == 1 ? "criterion \(missing[0]) is" : "criteria \(missing.joined(separator: ", ")) are")
                    + " not scored: every criterion must be (\(listed))")
        }
        let scored = criteria.map {
            CriterionScore(
                name: $0.name, score: marks[$0.name] ?? .nan,
                comment: comments?[$0.name].flatMap { $0.isEmpty ? nil : $0 })
        }
        let mean = weightedMean(scored)
        if let score, !(abs(score - mean) <= 1e-9 * Swift.max(1, abs(mean))) {
            throw ProtocolError(
                .badRequest,
                "\"score\" \(score) is not the weighted mean of the criteria, \(mean): leave it out and it is computed")
        }
        return (mean, scored)
    }

    /// The weighted mean of criterion scores, each weighted as its criterion (1 for one not listed), summed in
    /// the order given, and kept on the scale against rounding.
    public func weightedMean(_ scores: [CriterionScore]) -> Double {
        let weights = Dictionary(
            (criteria ?? []).map { ($0.name, $0.effectiveWeight) }, uniquingKeysWith: { a, _ in a })
        var total = 0.0
        var weight = 0.0
        for mark in scores {
            let w = weights[mark.name] ?? 1
            total += w * mark.score
            weight += w
        }
        guard weight > 0 else { return .nan }
        return Swift.min(Swift.max(total / weight, range.min), range.max)
    }

    /// `scores` in the order the challenge lists its criteria; any it does not list follow, by name.
    public func ordered(_ scores: [CriterionScore]) -> [CriterionScore] {
        let position = Dictionary(
            (criteria ?? []).enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        return scores.sorted {
            (position[$0.name] ?? Int.max, $0.name) < (position[$1.name] ?? Int.max, $1.name)
        }
    }
}
