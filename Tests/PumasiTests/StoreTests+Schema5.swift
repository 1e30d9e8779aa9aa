import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// A realistic schema-5 store, every state represented, brought to the current schema and then served.
@Suite(
    "Schema 5 store through every migration", .timeLimit(.minutes(1)),
    .enabled(if: TestBackend.isSQLite, "SQLite files alone"))
struct Schema5MigrationTests {
    static func writeSchema5(_ path: String) throws {
        let db = try SQLiteConnection(path: path)
        for index in 0..<5 {
            try db.execute(Schema.migrations[index])
            try db.execute("PRAGMA user_version = \(index + 1)")
        }
        let future: Int64 = 9_999_999_999_999
        try db.execute(
            """
            INSERT INTO challenges (id, title, description, state, deadline, award_amount, award_currency, direction,
                scorer_json, service, time_limit, spec_json, created_at, closed_at, owner)
            VALUES
                ('ch_open', 'Open', 'd', 'open', \(future), '10', 'USD', 'maximize', '{"builtin":"exact"}',
                    'pumasi.builtin', 5, '{}', 1, NULL, 'sam'),
                ('ch_closed', 'Closed', 'd', 'closed', 5, '100', 'EUR', 'maximize', '{"builtin":"exact"}',
                    'pumasi.builtin', 5, '{}', 1, 6, 'sam'),
                ('ch_won', 'Won', 'd', 'awarded', 5, '12.50', 'USD', 'minimize', '{"builtin":"exact"}',
                    'pumasi.builtin', 5, '{}', 1, 6, 'sam'),
                ('ch_none', 'None', 'd', 'unawarded', 5, '1', 'USD', 'maximize', '{"builtin":"exact"}',
                    'pumasi.builtin', 5, '{}', 1, 6, NULL);
            INSERT INTO blobs (sha256, size, content) VALUES ('hq', 1, x'71');
            INSERT INTO challenge_files (challenge_id, name, role, sha256, position)
                VALUES ('ch_open', 'q.txt', 'public', 'hq', 0);
            INSERT INTO submissions (id, challenge_id, solver, filename, sha256, size, content, received_at) VALUES
                ('sub_o1', 'ch_open', 'ada', 'f', 'h', 1, x'31', 10),
                ('sub_o2', 'ch_open', 'bob', 'f', 'h', 1, x'32', 11),
                ('sub_c1', 'ch_closed', 'ada', 'f', 'h', 1, x'31', 3),
                ('sub_c2', 'ch_closed', 'Zoë', 'f', 'h', 1, x'32', 4),
                ('sub_w1', 'ch_won', 'José', 'f', 'h', 1, x'31', 3),
                ('sub_n1', 'ch_none', 'bob', 'f', 'h', 1, x'31', 3);
            INSERT INTO jobs (id, submission_id, challenge_id, service, state, attempts, restarts, error, updated_at)
            VALUES
                (1, 'sub_o1', 'ch_open', 'pumasi.builtin', 'queued', 1, 0, NULL, 20),
                (2, 'sub_o2', 'ch_open', 'pumasi.builtin', 'leased', 2, 1, NULL, 21),
                (3, 'sub_c1', 'ch_closed', 'pumasi.builtin', 'done', 1, 0, NULL, 4),
                (4, 'sub_c2', 'ch_closed', 'pumasi.builtin', 'done', 1, 0, NULL, 5),
                (5, 'sub_w1', 'ch_won', 'pumasi.builtin', 'done', 3, 1, NULL, 4),
                (6, 'sub_n1', 'ch_none', 'pumasi.builtin', 'failed', 3, 0, 'timeout: slow', 4);
            INSERT INTO scores (submission_id, challenge_id, job_id, score, metrics_json, message, scored_at) VALUES
                ('sub_c1', 'ch_closed', 3, 0.25, '{"accuracy":0.25}', 'ok', 4),
                ('sub_c2', 'ch_closed', 4, 0.30000000000000004, '{"accuracy":0.30000000000000004}', NULL, 5),
                ('sub_w1', 'ch_won', 5, 1e-7, NULL, NULL, 4);
            INSERT INTO awards (challenge_id, submission_id, solver, amount, currency, score, policy, awarded_at)
                VALUES ('ch_won', 'sub_w1', 'José', '12.50', 'USD', 1e-7, 'winner-takes-all', 7);
            INSERT INTO events (at, topic, challenge_id, principal, body_json) VALUES
                (1, 'challenge.opened', 'ch_won', 'sam',
                    '{"topic":"challenge.opened","seq":1,"at":1,"challenge":"ch_won","title":"Won"}'),
                (7, 'challenge.awarded', 'ch_won', NULL,
                    '{"topic":"challenge.awarded","seq":2,"at":7,"challenge":"ch_won","title":"Won","solver":"José"}');
            INSERT INTO principals (public_key, name, role, created_at, revoked_at) VALUES
                ('k1', 'sam', 'seeker', 1, NULL), ('k2', 'ada', 'solver', 1, NULL), ('k3', 'old', 'judge', 1, 2);
            INSERT INTO audit (at, principal, action, object, detail) VALUES
                (1, 'sam', 'challenge.post', 'ch_won', 'Won'),
                (4, 'ev1', 'submission.score', 'sub_w1', 'score=1e-07'),
                (4, 'ev2', 'submission.fail', 'sub_n1', 'timeout: slow'),
                (7, NULL, 'challenge.award', 'ch_won', 'José 12.50 USD');
            """)
    }

    @Test func everyFactSurvivesAndTheBrokerSettlesTheClosedChallenge() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try Self.writeSchema5(dir.file("pumasi.sqlite3"))
        do {
            let store = try Store(directory: dir.path)
            #expect(try store.schemaVersion == Schema.currentVersion)
            #expect(try store.integrityCheck() == "ok")
            #expect(try store.challenge("ch_won")?.state == .awarded)
            #expect(try store.challenge("ch_none")?.state == .unawarded)
            #expect(try store.challenge("ch_closed")?.state == .closed)
            #expect(try store.challenge("ch_open")?.owner == "sam")
            let w1 = try #require(try store.submissionInfo("sub_w1")?.info)
            #expect(w1.state == .scored && w1.score == 1e-7 && w1.attempts == 2)
            let n1 = try #require(try store.submissionInfo("sub_n1")?.info)
            #expect(n1.state == .failed && n1.error == "timeout: slow")
            #expect(try store.submissionInfo("sub_c2")?.info.score == 0.30000000000000004)
            #expect(try store.recoverPendingJobs().map(\.row).count == 2)
            #expect(try store.award(challenge: "ch_won")?.solver == "José")
            #expect(try store.award(challenge: "ch_won")?.amount == Decimal(string: "12.50"))
            let report = try store.verifyLedger()
            #expect(report.intact && report.entries == 1, "\(report.problems)")
            #expect(try store.events(after: 0, limit: 10).map(\.topic) == [.opened, .awarded])
            #expect(try store.principals().map(\.name).sorted() == ["ada", "old", "sam"])
            let trail = try store.auditTrail().map { "\($0.principal ?? "-") \($0.action) \($0.object)" }
            #expect(trail.contains("ev1 submission.score sub_w1") && trail.contains("- challenge.award ch_won"))
        }
        let broker = try BrokerHarness(directory: dir.path)
        defer { broker.shutdown() }
        // The hand-made ids are not well-formed for the wire: read the broker's store file beside it.
        let reader = try SQLiteConnection(path: dir.file("pumasi.sqlite3"))
        let awarded = try eventually(seconds: 10) {
            try reader.queryOne("SELECT state FROM challenges WHERE id = 'ch_closed'")?.string(0) == "awarded"
        }
        #expect(awarded)
        broker.shutdown()
        let store = try Store(directory: dir.path)
        let awards = try store.awards(challenge: "ch_closed")
        #expect(awards.map(\.solver) == ["Zoë"] && awards.first?.score == 0.3)
        #expect(try store.verifyLedger().intact)
        #expect(try store.ledgerEntries().count == 2)
    }
}

@Suite("WAL checkpoints", .enabled(if: TestBackend.isSQLite, "SQLite files alone"))
struct CheckpointTests {
    /// A store with its checkpointer and a table to fill, a page of it per row.
    static func fillerStore(in dir: TempDirectory) throws -> Store {
        let store = try Store(directory: dir.path)
        try store.checkpointInBackground()
        try store.db.execute("CREATE TABLE filler (x BLOB)")
        return store
    }

    /// Commits `pages` rows of about a page each in one transaction.
    static func commit(_ pages: Int, to store: Store) throws {
        let page = Data(repeating: 7, count: 4_000)
        try store.transaction {
            for _ in 0..<pages { try store.db.run("INSERT INTO filler VALUES (?)", [.blob(page)]) }
        }
    }

    static func walSize(_ store: Store) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: store.path + "-wal")[.size] as? Int ?? 0
    }

    /// The checkpointer follows the writer's WAL (SQLite's WAL hook): past its page threshold it checkpoints,
    /// so the log is reused from its start instead of growing with every commit.
    @Test func theWALIsCheckpointedOnceItHoldsEnoughPages() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Self.fillerStore(in: dir)
        // 40 commits of 100 pages each: 4,000 pages (16 MB) written in all.
        for _ in 0..<40 {
            try Self.commit(100, to: store)
            usleep(60_000)
        }
        let wal = try Self.walSize(store)
        #expect(wal > 0 && wal < 8 << 20, "the WAL grew to \(wal) bytes")
    }

    /// Commits back to back, as a busy broker's passes are: the checkpointer never finds the log copied whole between
    /// two of them, so the writer checkpoints itself past `logRestartPages` and the log starts over. Before, it grew
    /// with every commit for as long as the load lasted.
    @Test func theWALStopsGrowingUnderCommitsBackToBack() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Self.fillerStore(in: dir)
        // 1,600 commits of 10 pages each: about 16,000 pages (64 MB) written, four times the restart length.
        var largest = 0
        for _ in 0..<1_600 {
            try Self.commit(10, to: store)
            largest = max(largest, try Self.walSize(store))
        }
        let bound = (Store.logRestartPages + 1_000) * 4_096
        #expect(largest > 0 && largest < bound, "the WAL grew to \(largest) bytes (bound \(bound))")
    }
}
