import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// The hash-chained award ledger: awards through a real broker, then tampered with as someone with access to the
/// files would, and checked by the real `pumasi-broker ledger verify`.
@Suite("Award ledger", .timeLimit(.minutes(2)))
struct LedgerTests {
    private func broker(_ arguments: String...) throws -> CLIResult {
        try CLIProcess("pumasi-broker", arguments).finish(within: 30)
    }

    private func verify(_ fixture: AwardedFixture) throws -> CLIResult {
        try CLIProcess("pumasi-broker", ["ledger", "verify", "--data-dir", fixture.directory]).finish(within: 30)
    }

    private func entries(_ fixture: AwardedFixture) throws -> [LedgerEntry] {
        try Ledger.entries(fixture.database())
    }

    /// The message for a broken ledger: `Error: ledger broken: <first problem>`, then `  also: …` lines.
    private func expectBroken(_ result: CLIResult, first: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.termination == .exit(1), "\(result)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result)", sourceLocation: sourceLocation)
        let line = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(line == "Error: ledger broken: " + first, "\(result)", sourceLocation: sourceLocation)
    }

    private func short(_ hash: String) -> String { String(hash.prefix(12)) + "…" }

    @Test func anIntactLedgerVerifiesAndEachAwardAnnouncesItsHead() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        let ledger = try entries(fixture)
        #expect(ledger.map(\.seq) == [1, 2, 3])
        #expect(ledger.map(\.challenge) == fixture.challenges)
        #expect(ledger.allSatisfy { $0.isSealed && $0.solver == "ada" && $0.amount == "1000" && $0.origin == nil })
        #expect(ledger[0].prevHash == LedgerEntry.genesis)
        #expect(ledger[1].prevHash == ledger[0].hash && ledger[2].prevHash == ledger[1].hash)
        // Every award's announcement carried the ledger's head as it stood once that award was recorded.
        #expect(fixture.awarded.map(\.ledger) == ledger.map(\.anchor))
        #expect(try fixture.recordedHead() == ledger[2].anchor)

        let result = try verify(fixture)
        #expect(result.termination == .exit(0), "\(result)")
        #expect(
            result.stdout
                == "ledger intact: 3 entries, head \(ledger[2].hash)\n"
                + "tail checked against \(fixture.headName) and 3 award announcements\n"
        )
        #expect(result.stderr.isEmpty)

        let json = try broker("ledger", "verify", "--json", "--data-dir", fixture.directory)
        #expect(json.termination == .exit(0), "\(json)")
        let report = try JSONDecoder().decode(LedgerReport.self, from: Data(json.stdout.utf8))
        #expect(report.intact && report.entries == 3 && report.head == ledger[2].anchor && report.problems.isEmpty)
        #expect(report.anchors.count == 4)

        let show = try broker("ledger", "show", "--data-dir", fixture.directory)
        #expect(show.termination == .exit(0), "\(show)")
        let lines = show.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(
            lines[0].hasPrefix("#1  ") && lines[0].contains("1000 USD to ada for ")
                && lines[0].hasSuffix(ledger[0].hash))
        let shown = try broker(
            "ledger", "show", "--json", "--challenge", fixture.challenges[1], "--data-dir", fixture.directory)
        #expect(try JSONDecoder().decode([LedgerEntry].self, from: Data(shown.stdout.utf8)) == [ledger[1]])
    }

    /// An amount updated past the triggers, and an entry deleted from the middle: each is the one problem named.
    @Test(arguments: [
        (
            "UPDATE awards SET amount = '999999' WHERE id = 2",
            #"entry 2 was edited: its amount is "999999" in the row but "1000" in the hashed text"#
        ),
        ("DELETE FROM awards WHERE id = 2", "entry 2 is missing: entry 3 follows entry 1"),
    ])
    func aRowChangedPastTheTriggersIsNamed(sql: String, problem: String) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        try fixture.tamper(sql)
        let result = try verify(fixture)
        expectBroken(result, first: problem)
        #expect(!result.stderr.contains("also:"), "\(result)")
    }

    /// Deleting the last entry leaves a chain that is intact by itself: the head file notices, and so does the
    /// announcement of that award, even when the head file is rewritten to match.
    @Test func aDeletedLastEntryIsCaughtByTheHeadFileAndTheAnnouncement() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        let ledger = try entries(fixture)
        try fixture.tamper("DELETE FROM awards WHERE id = 3")
        let result = try verify(fixture)
        expectBroken(
            result,
            first:
                "entries are missing from the end: the ledger ends at entry 2, but \(fixture.headName) records entry 3 "
                + "(hash \(short(ledger[2].hash)))")
        let announcement = "announcement \(fixture.awarded[2].seq) (challenge.awarded, \(fixture.challenges[2]))"
        #expect(
            result.stderr.contains(
                "  also: entries are missing from the end: the ledger ends at entry 2, but \(announcement) "
                    + "records entry 3"
            ), "\(result)")

        try fixture.overwriteHead(ledger[1].anchor)
        let again = try verify(fixture)
        expectBroken(
            again,
            first: "entries are missing from the end: the ledger ends at entry 2, but \(announcement) records entry 3 "
                + "(hash \(short(ledger[2].hash)))")
    }

    /// Someone who knows the format rewrites entry 2 (its amount, its text and its hash) but not the entries after
    /// it: entry 3's link breaks, and entry 2's own announcement disagrees.
    @Test func anEntryRewrittenWithItsHashRecomputedBreaksTheNextLink() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        let ledger = try entries(fixture)
        let forged = try fixture.forge(2) { $0.amount = "999999" }
        #expect(try entries(fixture)[1] == forged && forged.isSealed)
        let result = try verify(fixture)
        expectBroken(
            result,
            first:
                "entry 2 was rewritten: its hash is \(short(forged.hash)), but announcement \(fixture.awarded[1].seq) "
                + "(challenge.awarded, \(fixture.challenges[1])) records \(short(ledger[1].hash))")
        #expect(
            result.stderr.contains(
                "  also: entry 3's link is broken: its prev_hash \(short(ledger[1].hash)) is not entry 2's hash "
                    + "\(short(forged.hash)) (entry 2 was rewritten, or entry 3 replaced)"), "\(result)")
    }

    /// The last entry has no successor whose link could break: the head file and its announcement disagree.
    @Test func theLastEntryRewrittenWithItsHashRecomputedDiffersFromItsAnchors() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        let ledger = try entries(fixture)
        let forged = try fixture.forge(3) { $0.solver = "mallory" }
        let result = try verify(fixture)
        expectBroken(
            result,
            first:
                "entry 3 was rewritten: its hash is \(short(forged.hash)), "
                + "but \(fixture.headName) records \(short(ledger[2].hash))"
        )
        #expect(
            result.stderr.contains("(challenge.awarded, \(fixture.challenges[2])) records \(short(ledger[2].hash))"),
            "\(result)")
    }

    @Test func aMissingHeadFileIsReported() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir, challenges: 1)
        try fixture.removeHead()
        let missing = TestBackend.isSQLite ? "the head file ledger.head" : "the ledger_head table"
        expectBroken(try verify(fixture), first: "\(missing) is missing, but the ledger has 1 entry")
        // The broker's next start writes it again.
        try BrokerHarness(directory: fixture.directory).shutdown()
        #expect(try verify(fixture).termination == .exit(0))
    }

    /// An award of several payments (here a discretionary one, decided by the seeker with a rationale) is one entry per
    /// payment, each hashing the rationale and each announced with the head it made; verify reads it while the broker
    /// runs.
    @Test func anAwardOfSeveralPaymentsIsAnEntryPerPaymentEachAnnouncedWithItsHead() throws {
        let setup = try ChallengeRulesTests.Setup()
        defer { setup.stop() }
        let challenge = try setup.post(setup.spec(policy: AwardPolicySpec(kind: .discretionary)))
        let idea = try setup.scored(challenge.id, "ada", 0.2)
        let other = try setup.scored(challenge.id, "bob", 0.9)
        try setup.close(challenge.id)
        let rationale = "ada's approach is the one we will build on"
        let payments: [AwardRequest.Payment] = [
            .init(submission: idea.submission, amount: 700), .init(submission: other.submission, amount: 100.5),
        ]
        _ = try setup.client().call(
            Service.award, AwardRequest(challenge: challenge.id, payments: payments, rationale: rationale),
            as: ChallengeInfo.self)

        let directory = setup.dir.file("broker")
        let ledger = try TestBackend.store(setup.dir.file("broker")).ledgerEntries()
        #expect(ledger.map(\.submission) == [idea.submission, other.submission])
        #expect(ledger.map(\.amount) == ["700", "100.5"] && ledger.allSatisfy { $0.policy == "discretionary" })
        #expect(ledger.allSatisfy { $0.rationale == rationale && $0.text.contains(#""rationale":"\#(rationale)""#) })
        let awarded = try setup.events(of: challenge.id).filter { $0.topic == .awarded }
        #expect(awarded.map(\.ledger) == ledger.map(\.anchor))
        let result = try broker("ledger", "verify", "--data-dir", directory)
        #expect(result.termination == .exit(0), "\(result)")
        #expect(result.stdout.hasPrefix("ledger intact: 2 entries, head \(ledger[1].hash)\n"), "\(result)")
    }

    /// The canonical text is pinned, and its hash is what the documented shell recipe computes.
    @Test func theCanonicalTextIsFixedAndSha256sumRecomputesTheHash() throws {
        var entry = LedgerEntry(
            seq: 7, at: 1_795_428_000_123, challenge: "ch_a", submission: "sub_b", solver: "ada \"the\" solver",
            score: 0.75, policy: "split-top-3", amount: "333.33", currency: "EUR", rationale: "a third each",
            prevHash: String(repeating: "ab", count: 32))
        entry.seal()
        let expected = [
            #"{"ledger":1,"seq":7,"at":1795428000123,"challenge":"ch_a","submission":"sub_b","#,
            #""solver":"ada \"the\" solver","score":0.75,"policy":"split-top-3","amount":"333.33","currency":"EUR","#,
            #""rationale":"a third each","origin":null,"prev":"\#(entry.prevHash)"}"#,
        ]
        #expect(entry.text == expected.joined())
        let shell = try CLIProcess(
            executable: "/bin/sh", ["-c", #"printf '%s%s' "$1" "$2" | sha256sum"#, "sh", entry.prevHash, entry.text]
        ).finish(within: 10)
        #expect(shell.stdout.hasPrefix(entry.hash + " "), "\(shell)")
        var unscored = entry
        unscored.score = nil
        unscored.rationale = nil
        #expect(
            unscored.canonical.contains(#""score":null,"policy""#) && unscored.canonical.contains(#""rationale":null"#))
        #expect(!unscored.isSealed)

        var announcement = Announcement(topic: .awarded, seq: 3, at: 1, challenge: "ch_a", title: "t")
        announcement.ledger = entry.anchor
        #expect(
            String(decoding: announcement.json, as: UTF8.self).hasSuffix(
                #","ledger":{"seq":7,"hash":"\#(entry.hash)"}}"#))
        #expect(try JSONDecoder().decode(Announcement.self, from: announcement.json) == announcement)
    }

    /// Awards written before the ledger existed are chained, in order, by the migration that makes it.
    @Test(.enabled(if: TestBackend.isSQLite, "SQLite's migrations from older files"))
    func awardsWrittenBeforeTheLedgerAreChainedByTheMigration() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // Schema 6, the last before the ledger: its awards rows come through every migration after it.
        let ledgerIndex = try #require(Schema.migrations.firstIndex(of: Schema.ledgerMigration))
        #expect(ledgerIndex >= 6)
        do {
            let db = try SQLiteConnection(path: dir.file("pumasi.sqlite3"))
            for index in 0..<6 {
                try db.execute(Schema.migrations[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
            try db.execute(
                """
                INSERT INTO challenges (id, title, description, state, deadline, award_amount, award_currency,
                    direction, scorer_json, service, time_limit, spec_json, created_at)
                VALUES
                    ('ch_a', 'A', 'd', 'awarded', 1, '500', 'USD', 'maximize', '{}', 'pumasi.builtin', 5, '{}', 1),
                    ('ch_b', 'B', 'd', 'awarded', 1, '12.5', 'EUR', 'minimize', '{}', 'pumasi.builtin', 5, '{}', 1);
                INSERT INTO submissions (id, challenge_id, solver, filename, sha256, size, content, received_at) VALUES
                    ('sub_a', 'ch_a', 'ada', 'f', 'h', 1, x'31', 10),
                    ('sub_b', 'ch_b', 'bob', 'f', 'h', 1, x'32', 11);
                INSERT INTO awards (challenge_id, submission_id, solver, amount, currency, score, policy, awarded_at)
                VALUES
                    ('ch_a', 'sub_a', 'ada', '500', 'USD', 1, 'winner-takes-all', 20),
                    ('ch_b', 'sub_b', 'bob', '12.5', 'EUR', 0.25, 'winner-takes-all', 30);
                """)
        }
        let store = try Store(directory: dir.path)
        #expect(try store.schemaVersion == Schema.currentVersion)
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.db.query("PRAGMA foreign_key_check").isEmpty)
        #expect(
            try store.db.queryOne("SELECT COUNT(*) FROM sqlite_master WHERE name = 'awards_unchained'")?.int(0) == 0)
        let ledger = try store.ledgerEntries()
        #expect(ledger.map(\.seq) == [1, 2] && ledger.map(\.challenge) == ["ch_a", "ch_b"])
        #expect(ledger.allSatisfy { $0.isSealed })
        #expect(ledger[0].origin?.hasPrefix(#"{"kind":"migrated","row":1,"at":"#) == true)
        #expect(ledger[1].origin?.hasPrefix(#"{"kind":"migrated","row":2,"at":"#) == true)
        #expect(
            try store.award(challenge: "ch_b")
                == AwardInfo(
                    challenge: "ch_b", submission: "sub_b", solver: "bob", amount: Decimal(string: "12.5")!,
                    currency: "EUR",
                    score: 0.25, policy: "winner-takes-all", awardedAt: 30))
        #expect(try store.verifyLedger().intact)
        #expect(try store.recordedLedgerHead() == ledger[1].anchor)
        let error = try #require(throws: DatabaseError.self) { try store.db.execute("UPDATE awards SET amount = '1'") }
        #expect(error.message.contains("append-only"))
        let result = try broker("ledger", "verify", "--data-dir", dir.path)
        #expect(result.stdout.hasPrefix("ledger intact: 2 entries, head \(ledger[1].hash)\n"), "\(result)")
    }

    @Test func verifyNeedsAStoreAndAKnownAction() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let missing = try broker("ledger", "verify", "--data-dir", dir.file("nothing"))
        #expect(missing.termination == .exit(1) && missing.stderr.hasPrefix("Error: no broker store in "), "\(missing)")
        let unknown = try broker("ledger", "repair", "--data-dir", dir.path)
        #expect(
            unknown.termination == .exit(64) && unknown.stderr.hasPrefix("Error: unknown action 'repair'"), "\(unknown)"
        )
        _ = try TestBackend.store(dir.path)
        let empty = try broker("ledger", "verify", "--data-dir", dir.path)
        #expect(empty.stdout == "ledger intact: 0 entries, head \(LedgerEntry.genesis)\n", "\(empty)")
        let help = try broker("ledger", "--help")
        #expect(
            help.termination == .exit(0) && help.stdout.contains("USAGE: pumasi-broker ledger [<options>] <action>"))
    }
}
