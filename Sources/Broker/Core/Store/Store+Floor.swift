import Foundation
import PumasiShared

extension Store {
    /// What the store alone costs per scored job, for `pumasi-bench`: the three rows the broker writes for one job
    /// (the submission, its outcome and the `submission.scored` announcement) through the same methods the broker
    /// uses, on a fresh store in `directory`. No sockets, no threads.
    ///
    /// With `perCommit` > 0, that many jobs share a transaction (a busy broker's pass). With 0, each job takes two
    /// transactions, as one job alone does in the broker: the submission's, then its outcome's with the announcement.
    /// - Returns: the seconds taken, and each job's time in milliseconds (with `perCommit` 0) or each commit's.
    public static func measureFloor(directory: String, jobs: Int, perCommit: Int, synchronousFull: Bool) throws
        -> (seconds: Double, latencies: [Double])
    {
        try measureFloor(
            location: .sqlite(directory: directory), jobs: jobs, perCommit: perCommit, synchronousFull: synchronousFull)
    }

    /// The same on any store: an SQLite directory, or an empty PostgreSQL schema.
    public static func measureFloor(location: StoreLocation, jobs: Int, perCommit: Int, synchronousFull: Bool) throws
        -> (seconds: Double, latencies: [Double])
    {
        let store = try Store(location: location, synchronousFull: synchronousFull)
        try store.checkpointInBackground()
        let now = WallClock.now()
        let spec = ChallengeSpec(
            title: "Floor", description: "floor", deadline: now + 86_400_000,
            award: AwardSpec(amount: 1, currency: "USD"),
            scorer: ScorerSpec(builtin: "exact"), timeLimitSeconds: 10)
        let id = Identifier.make(prefix: "ch", now: now)
        try store.transaction { try store.insertChallenge(id: id, spec: spec, files: [], now: now) }
        guard let record = try store.challenge(id) else { throw CocoaError(.fileNoSuchFile) }
        let content = Data("42".utf8)
        func submission() throws -> String {
            let at = WallClock.now()
            return try store.insertSubmission(
                id: Identifier.make(prefix: "sub", now: at), challenge: record, solver: "floor", clientId: nil,
                filename: "a.txt", bytes: content, now: at
            ).receipt.submission
        }
        func outcome(_ submission: String) throws {
            let at = WallClock.now()
            try store.recordOutcome(
                .scored(score: 1, result: ScoringResult(ok: true, score: 1)), submission: submission, challenge: id,
                evaluator: "floor", attempt: 1, now: at)
            var announcement = Announcement(topic: .scored, at: at, challenge: id, title: record.title)
            announcement.submission = submission
            announcement.solver = "floor"
            announcement.score = 1
            _ = try store.appendEvent(announcement, principal: nil)
        }
        var latencies: [Double] = []
        let start = WallClock.monotonicNanos()
        var done = 0
        while done < jobs {
            let began = WallClock.monotonicNanos()
            StepTrace.mark(.sent)
            let count = perCommit > 0 ? min(perCommit, jobs - done) : 1
            if perCommit > 0 {
                try store.transaction {
                    for _ in 0..<count { try outcome(try submission()) }
                }
            } else {
                let id = try store.transaction { try submission() }
                try store.transaction { try outcome(id) }
            }
            latencies.append(Double(WallClock.monotonicNanos() - began) / 1e6)
            StepTrace.mark(.finished)
            done += count
        }
        return (Double(WallClock.monotonicNanos() - start) / 1e9, latencies)
    }
}
