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
    static func normalised(_ text: String) -> String {
        var text = text
        // ASCII text (the usual answer) is done on its bytes: Foundation's replacing and trimming were a fifth of
        // an evaluator's time per job. In ASCII, `.whitespacesAndNewlines` is exactly tab, LF, VT, FF, CR and space.
        let ascii = text.withUTF8 { bytes -> String? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
            guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
            let last = bytes.lastIndex(where: { !isSpace($0) }) ?? first
            let kept = UnsafeBufferPointer(rebasing: bytes[first...last])
            guard kept.contains(0x0D) else { return String(decoding: kept, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(kept.count)
            for (index, byte) in kept.enumerated()
            where !(byte == 0x0D && index + 1 < kept.count && kept[index + 1] == 0x0A) {
                out.append(byte)
            }
            return String(decoding: out, as: UTF8.self)
        }
        return ascii
            ?? text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
