import Foundation
import PumasiShared
import Testing
@testable import PumasiBroker

@Suite("SQLite store")
struct StoreTests {
    private func record(_ store: Store, id: String = Identifier.make(prefix: "ch"), direction: Direction = .maximize) throws
        -> ChallengeRecord
    {
        var (spec, files) = sampleSpec()
        spec.direction = direction
        let entries = zip(spec.files!, files).map { (entry: $0, bytes: $1) }
        try store.transaction { try store.insertChallenge(id: id, spec: spec, files: entries, now: 1) }
        return try #require(try store.challenge(id))
    }

    @Test func migratesANewFileAndReopensItUnchanged() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let id: String
        do {
            let store = try Store(directory: dir.path)
            #expect(try store.schemaVersion == Schema.currentVersion)
            id = try record(store).id
        }
        let reopened = try Store(directory: dir.path)
        #expect(try reopened.schemaVersion == Schema.currentVersion)
        #expect(try reopened.challenge(id)?.title == "The answer")
        #expect(try reopened.integrityCheck() == "ok")
        let journal = try reopened.db.queryOne("PRAGMA journal_mode")?.string(0)
        #expect(journal == "wal")
    }

    @Test func textWithNULIsStoredWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("t.sqlite3"))
        try db.execute("CREATE TABLE t (x TEXT)")
        let text = "before\u{0}after café"
        try db.run("INSERT INTO t VALUES (?)", [.text(text)])
        try db.run("INSERT INTO t VALUES (?)", [.text("")])
        #expect(try db.query("SELECT x FROM t").map { $0.string(0) } == [text, ""])
    }

    @Test func refusesAFileFromANewerBroker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        do {
            let store = try Store(directory: dir.path)
            try store.db.execute("PRAGMA user_version = 99")
        }
        #expect(throws: SQLiteError.self) { try Store(directory: dir.path) }
    }

    @Test func filesAreStoredOncePerContentAndSplitByRole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        let a = try record(store)
        _ = try record(store)
        #expect(try store.db.queryOne("SELECT COUNT(*) FROM blobs")?.int(0) == 2)
        let publicFiles = try store.files(challenge: a.id, role: .public)
        #expect(publicFiles.map(\.name) == ["question.txt"])
        let reference = try store.files(challenge: a.id, role: .reference)
        #expect(reference.first?.sha256 == SHA256.hex(Data("42".utf8)))
        #expect(try store.referenceBlob(sha256: SHA256.hex(Data("42".utf8)))?.1 == Data("42".utf8))
        // A public file is not served as reference data.
        #expect(try store.referenceBlob(sha256: publicFiles[0].sha256!) == nil)
        #expect(try store.publicFile(challenge: a.id, name: "answer.txt") == nil)
    }

    @Test func clientIdsMakeSubmissionsIdempotent() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        let challenge = try record(store)
        let first = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: "c1", filename: "a",
                bytes: Data("1".utf8), now: 5)
        }
        let again = try #require(try store.receipt(solver: "ada", clientId: "c1"))
        #expect(again.submission == first.receipt.submission)
        #expect(again.duplicate)
        #expect(try store.receipt(solver: "bob", clientId: "c1") == nil)
        let error = try #require(throws: SQLiteError.self) {
            try store.transaction {
                try store.insertSubmission(
                    id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: "c1",
                    filename: "a", bytes: Data("2".utf8), now: 6)
            }
        }
        #expect(error.isConstraintViolation)
    }

    @Test func leaderboardRanksEachSolversBestWithTiesToTheEarliest() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        for direction in Direction.allCases {
            let challenge = try record(store, direction: direction)
            let entries: [(String, Double, Millis)] = [("ada", 0.5, 10), ("bob", 0.9, 20), ("cy", 0.9, 15), ("ada", 0.7, 30)]
            try store.transaction {
                for (solver, score, at) in entries {
                    let (receipt, job) = try store.insertSubmission(
                        id: Identifier.make(prefix: "sub"), challenge: challenge, solver: solver, clientId: nil,
                        filename: "f", bytes: Data("x".utf8), now: at)
                    try store.recordScore(
                        job: job, submission: receipt.submission, challenge: challenge.id,
                        result: ScoringResult(ok: true, score: score), score: score, now: at)
                }
            }
            let board = try store.leaderboard(challenge, limit: nil)
            if direction == .maximize {
                #expect(board.entries.map(\.solver) == ["cy", "bob", "ada"])
                #expect(board.entries.map(\.score) == [0.9, 0.9, 0.7])
                #expect(board.entries.last?.entries == 2)
                #expect(try store.bestSubmission(challenge)?.solver == "cy")
            } else {
                #expect(board.entries.map(\.solver) == ["ada", "cy", "bob"])
                #expect(board.entries.map(\.score) == [0.5, 0.9, 0.9])
            }
            #expect(try store.leaderboard(challenge, limit: 1).entries.count == 1)
        }
    }

    @Test func aRecordedScoreIsNeverOverwritten() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        let challenge = try record(store)
        let (receipt, job) = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: nil, filename: "f",
                bytes: Data("x".utf8), now: 1)
        }
        func score(_ value: Double) throws {
            try store.transaction {
                try store.recordScore(
                    job: job, submission: receipt.submission, challenge: challenge.id, result: ScoringResult(ok: true),
                    score: value, now: 2)
            }
        }
        try score(1)
        #expect(throws: SQLiteError.self) { try score(99) }
        #expect(try store.submissionInfo(receipt.submission)?.score == 1)
    }

    @Test func theAwardLedgerAndEventLogAreAppendOnly() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        let challenge = try record(store)
        let (receipt, _) = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: nil, filename: "f",
                bytes: Data("x".utf8), now: 1)
        }
        try store.transaction {
            try store.insertAward(
                AwardInfo(
                    challenge: challenge.id, submission: receipt.submission, solver: "ada", amount: 1000, currency: "USD",
                    score: 1, policy: "winner-takes-all", awardedAt: 2))
            let first = try store.appendEvent(Announcement(topic: .opened, at: 1, challenge: challenge.id, title: "t"), principal: nil)
            let second = try store.appendEvent(Announcement(topic: .closed, at: 2, challenge: challenge.id, title: "t"), principal: nil)
            #expect(second.seq == first.seq + 1)
        }
        for statement in [
            "UPDATE awards SET amount = '1000000'", "DELETE FROM awards", "UPDATE events SET topic = 'x'", "DELETE FROM events",
        ] {
            let error = try #require(throws: SQLiteError.self) { try store.db.execute(statement) }
            #expect(error.message.contains("append-only"), "\(statement)")
        }
        #expect(try store.award(challenge: challenge.id)?.amount == 1000)
        #expect(try store.events(after: 0, limit: 10).map(\.topic) == [.opened, .closed])
    }
}
