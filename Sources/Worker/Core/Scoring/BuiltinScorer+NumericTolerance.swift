import Foundation

extension BuiltinScorer {
    /// One whitespace-separated token of a numbers file and the line it is on.
    private struct NumberToken {
        var text: Substring
        var line: Int
    }

    /// `numeric-tolerance`: the fraction of submitted values within tolerance of the reference values, compared
    /// in order. A value `a` is within tolerance of `b` if `|a - b| <= max(absolute, relative * |b|)`.
    /// Options `absolute` (default 0) and `relative` (default 1e-9).
    static func scoreNumericTolerance(
        options: [String: String], submission: Data, reference: Data
    ) throws(ScoringFailure) -> ScoreOutcome {
        let absolute = options["absolute"].flatMap { ScoringText.decimal($0.trimmingCharacters(in: .whitespaces)) }
        let relative = options["relative"].flatMap { ScoringText.decimal($0.trimmingCharacters(in: .whitespaces)) }
        let expected = try numbers(in: ScoringText.decode(reference, as: .reference), as: .reference)
        guard !expected.isEmpty else {
            throw .badReference("the reference holds no numbers")
        }
        let actual = try numbers(in: ScoringText.decode(submission, as: .submission), as: .submission)
        guard actual.count == expected.count else {
            let empty = actual.isEmpty ? " (the submission is empty)" : ""
            throw .badSubmission("expected \(expected.count) values, got \(actual.count)\(empty)")
        }
        let absoluteTolerance = absolute ?? 0
        let relativeTolerance = relative ?? 1e-9
        var within = 0
        for (a, b) in zip(actual, expected) where abs(a - b) <= max(absoluteTolerance, relativeTolerance * abs(b)) {
            within += 1
        }
        let score = Double(within) / Double(expected.count)
        return ScoreOutcome(
            score: score, metrics: ["within_tolerance": score],
            message: "\(within) of \(expected.count) values within tolerance")
    }

    /// The whitespace-separated decimal numbers in `text`.
    /// - Throws: a failure for `role` naming the position, line and text of the first token that is not a number.
    private static func numbers(in text: String, as role: DataRole) throws(ScoringFailure) -> [Double] {
        var values: [Double] = []
        for token in tokens(in: text) {
            guard let value = ScoringText.decimal(token.text) else {
                throw role.failure(
                    "value \(values.count + 1) (line \(token.line)) is not a number: \(ScoringText.quoted(token.text))")
            }
            values.append(value)
        }
        return values
    }

    /// Splits `text` at whitespace, remembering each token's line number.
    private static func tokens(in text: String) -> [NumberToken] {
        var result: [NumberToken] = []
        var line = 1
        var start: String.Index?
        var startLine = 1
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character.isWhitespace {
                if let tokenStart = start {
                    result.append(NumberToken(text: text[tokenStart..<index], line: startLine))
                    start = nil
                }
                if character.isNewline { line += 1 }
            } else if start == nil {
                start = index
                startLine = line
            }
            index = text.index(after: index)
        }
        if let tokenStart = start {
            result.append(NumberToken(text: text[tokenStart...], line: startLine))
        }
        return result
    }
}
