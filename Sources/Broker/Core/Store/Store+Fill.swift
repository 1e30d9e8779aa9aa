import Foundation
import PumasiShared

extension Store {
    /// Fills a fresh store at `location` as a long-lived broker's would look, for `pumasi-bench big-store` and tests:
    /// `challenges` open challenges sharing `submissions` submissions from `solvers` solvers, each scored, with its
    /// `submission.scored` announcement, through the broker's own store methods; then `pending` more that have no
    /// outcome yet (what a broker finds queued when it restarts in the middle of a surge). 1,000 rows a transaction.
    /// - Returns: the seconds taken.
    public static func fill(
        location: StoreLocation, challenges: Int, submissions: Int, solvers: Int, pending: Int,
        progress: (Int) -> Void = { _ in }
    ) throws -> Double {
        let store = try Store(location: location, synchronousFull: false)
        let start = WallClock.monotonicNanos()
        let now = WallClock.now()
        var records: [ChallengeRecord] = []
        for index in 0..<max(1, challenges) {
            let spec = ChallengeSpec(
                title: "Challenge \(index + 1)", description: "A challenge of the big store",
                deadline: now + 30 * 86_400_000, award: AwardSpec(amount: 1_000, currency: "USD"),
                scorer: ScorerSpec(builtin: "exact"), timeLimitSeconds: 10)
            let id = Identifier.make(prefix: "ch", now: now + Millis(index))
            try store.transaction { try store.insertChallenge(id: id, spec: spec, files: [], now: now) }
            guard let record = try store.challenge(id) else { throw CocoaError(.fileNoSuchFile) }
            records.append(record)
        }
        var made = 0
        let total = submissions + pending
        while made < total {
            try store.transaction {
                for _ in 0..<min(1_000, total - made) {
                    let record = records[made % records.count]
                    let solver = "solver\(made % max(1, solvers))"
                    let at = now + Millis(made / 100)
                    let id = try store.insertSubmission(
                        id: Identifier.make(prefix: "sub", now: at), challenge: record,
                        solver: solver, clientId: nil, filename: "answer.txt", bytes: Data("\(made % 997)".utf8),
                        now: at
                    ).receipt.submission
                    if made < submissions {
                        let score = Double(made % 997) / 997
                        try store.recordOutcome(
                            .scored(score: score, result: ScoringResult(ok: true, score: score)), submission: id,
                            challenge: record.id, evaluator: "filler", attempt: 1, now: at)
                        var announcement = Announcement(
                            topic: .scored, at: at, challenge: record.id, title: record.title)
                        announcement.submission = id
                        announcement.solver = solver
                        announcement.score = score
                        _ = try store.appendEvent(announcement, principal: nil)
                    }
                    made += 1
                }
            }
            if made % 100_000 == 0 { progress(made) }
        }
        return Double(WallClock.monotonicNanos() - start) / 1e9
    }
}
