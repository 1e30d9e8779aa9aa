import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// The canonical text against values that format or compare in surprising ways, on a real store file.
@Suite("Award ledger: canonical text", .timeLimit(.minutes(1)))
struct LedgerCanonicalTests {
    /// A store with one challenge and one submission to pay, and the entries `awards` appends.
    private func ledger(_ dir: TempDirectory, solver: String, scores: [Double?]) throws -> Store {
        let store = try TestBackend.store(dir.path)
        let (spec, files) = sampleSpec()
        let entries = zip(spec.files!, files).map { (entry: $0, bytes: $1) }
        try store.transaction {
            try store.insertChallenge(id: "ch_a", spec: spec, files: entries, now: 1)
            let challenge = try #require(try store.challenge("ch_a"))
            _ = try store.insertSubmission(
                id: "sub_a", challenge: challenge, solver: solver, clientId: nil, filename: "a",
                bytes: Data("42".utf8), now: 2)
        }
        for (index, score) in scores.enumerated() {
            try store.insertAward(
                AwardInfo(
                    challenge: "ch_a", submission: "sub_a", solver: solver, amount: Decimal(string: "333.33")!,
                    currency: "USD", score: score ?? 0, policy: "split", awardedAt: Int64(10 + index),
                    rationale: "für \"Ada\" ✓\n\u{1}"))
        }
        return store
    }

    /// Scores that print in long, exponent or large forms all read back to the text they were hashed as.
    @Test func scoresOfEveryFormReadBackToTheirHashedText() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let scores: [Double?] = [0.1 + 0.2, 1e-7, 1e300, 123_456_789_012_345_680, .leastNonzeroMagnitude, -2.5, 1, 0]
        let store = try ledger(dir, solver: "Zoë 🦊", scores: scores)
        let report = try store.verifyLedger()
        #expect(report.intact, "\(report.problems)")
        #expect(try store.ledgerEntries().map(\.score) == scores)
    }

    /// An award's score is the ranking value rounded to the challenge's precision, and a small negative score
    /// rounds to -0.0 (`Ranking.rounded`: -0.001 at 2 places). SQLite keeps a whole REAL as an integer, so the row
    /// reads back 0.0: the untouched ledger must still verify.
    @Test func aNegativeZeroScoreVerifies() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let rounded = (-0.001 * 100).rounded() / 100
        #expect(rounded == 0 && rounded.sign == .minus)
        let store = try ledger(dir, solver: "ada", scores: [rounded])
        let report = try store.verifyLedger()
        #expect(report.intact, "\(report.problems)")
    }

    /// The row's solver changed to a different name that Swift's `==` deems equal (canonically equivalent:
    /// "José" precomposed and decomposed are two principals to SQLite's UNIQUE) must be reported as an edit.
    @Test func aSolverReplacedByACanonicallyEquivalentNameIsAnEdit() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let precomposed = "Jos\u{E9}"
        let decomposed = "Jose\u{301}"
        #expect(Array(precomposed.utf8) != Array(decomposed.utf8))
        let store = try ledger(dir, solver: precomposed, scores: [1])
        #expect(try store.verifyLedger().intact)
        try TestBackend.tamper(dir.path, "UPDATE awards SET solver = ? WHERE id = 1", [.text(decomposed)])
        #expect(try store.ledgerEntries().first.map { Array($0.solver.utf8) } == Array(decomposed.utf8))
        let report = try store.verifyLedger()
        #expect(!report.intact)
        #expect(report.problems.first?.kind == .edited && report.problems.first?.seq == 1, "\(report.problems)")
    }
}
