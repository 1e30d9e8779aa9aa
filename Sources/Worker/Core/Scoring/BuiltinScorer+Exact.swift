import Foundation

extension BuiltinScorer {
    /// `exact`: 1 if the submission equals the reference after trimming surrounding whitespace and normalising
    /// line endings, else 0. Option `case-sensitive` (default true).
    static func scoreExact(
        options: [String: String], submission: Data, reference: Data
    ) throws(ScoringFailure) -> ScoreOutcome {
        let caseSensitive = options["case-sensitive"] != "false"
        let expected = normalised(try ScoringText.decode(reference, as: .reference))
        let actual = normalised(try ScoringText.decode(submission, as: .submission))
        guard !expected.isEmpty else {
            throw .badReference("the reference answer is empty")
        }
        guard !actual.isEmpty else {
            throw .badSubmission("submission is empty")
        }
        let matches = caseSensitive ? actual == expected : actual.lowercased() == expected.lowercased()
        let score: Double = matches ? 1 : 0
        return ScoreOutcome(
            score: score, metrics: ["exact": score],
            message: matches ? "the answer matches" : "the answer does not match")
    }

    /// `text` with CRLF line endings turned into LF and surrounding whitespace removed.
    private static func normalised(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
