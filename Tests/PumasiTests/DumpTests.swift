import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// `pumasi-broker dump` and `restore`: a challenge awarded through a real broker, moved into another store, reads
/// the same there through the Store API and a broker started on it.
@Suite("Challenge dump and restore", .timeLimit(.minutes(2)))
struct DumpTests {
    /// What the Store API tells of a challenge, with what necessarily differs between two stores left out: the
    /// announcements' sequence numbers and ledger heads, and the restore's own audit entry.
    private struct View: Equatable {
        var info: ChallengeInfo
        var leaderboards: [Leaderboard]
        var submissions: [SubmissionInfo]
        var awards: [AwardInfo]
        var files: [FileEntry]
        var bytes: [Data]
        var events: [Announcement]
        var audit: [AuditEntry]
    }

    private func view(_ store: Store, _ id: String) throws -> View {
        let record = try #require(try store.challenge(id))
        let ids = try store.db.query("SELECT id FROM submissions WHERE challenge_id = ? ORDER BY seq", [.text(id)])
            .compactMap { $0.string(0) }
        let files = try store.files(challenge: id, role: .public) + store.files(challenge: id, role: .reference)
        let bytes = try files.map { file in
            file.role == .public
                ? try #require(try store.publicFile(challenge: id, name: file.name)).1
                : try #require(try store.referenceBlob(challenge: id, sha256: file.sha256 ?? "")).1
        }
        let events = try store.events(after: 0, limit: 10_000).filter { $0.challenge == id }.map {
            var event = $0
            event.seq = 0
            event.ledger = nil
            return event
        }
        let objects = Set(ids + [id])
        return View(
            info: try store.challengeInfo(record),
            leaderboards: try [.provisional, .final].map { try store.leaderboard(record, view: $0, limit: nil) },
            submissions: try ids.map { try #require(try store.submissionInfo($0)).info },
            awards: try store.awards(challenge: id), files: files, bytes: bytes, events: events,
            audit: try store.auditTrail().filter { objects.contains($0.object) && $0.action != "challenge.restore" })
    }

    private func source(_ directory: String) -> ChallengeDump.Source {
        ChallengeDump.Source(broker: "test-source", host: "test-host", dataDirectory: directory)
    }

    /// Through JSON and back, as a file carries it.
    private func reread(_ dump: ChallengeDump) throws -> ChallengeDump {
        try JSONDecoder().decode(ChallengeDump.self, from: try JSONEncoder().encode(dump))
    }

    @Test func aRestoredChallengeReadsTheSameAndItsAwardJoinsTheTargetsLedger() throws {
        let sourceDir = try TempDirectory()
        defer { sourceDir.remove() }
        let targetDir = try TempDirectory()
        defer { targetDir.remove() }
        let from = try AwardedFixture(in: sourceDir, challenges: 2)
        let into = try AwardedFixture(in: targetDir, challenges: 1)
        let id = from.challenges[1]
        let sourceStore = try TestBackend.store(from.directory)
        // A failed attempt before the score, a replica's result, a final selection and a disqualification, so that
        // the dump has each.
        let submissions = try sourceStore.db.query(
            "SELECT id, solver FROM submissions WHERE challenge_id = ? ORDER BY seq", [.text(id)])
        let first = submissions[0]
        try sourceStore.transaction {
            try sourceStore.recordFailedAttempt(
                submission: first.string(0) ?? "", version: 1, evaluator: "ev", reason: "lost", now: 5)
            try sourceStore.recordReplica(
                ReplicaResult(replica: 1, evaluator: "ev", result: ScoringResult(ok: true, score: 1)),
                submission: first.string(0) ?? "", version: 1, now: 5)
            try sourceStore.selectFinal(challenge: id, solver: "ada", submissions: [first.string(0) ?? ""], now: 6)
            #expect(
                try sourceStore.disqualify(
                    submission: submissions[1].string(0) ?? "", challenge: id, by: "sam", reason: "copied", now: 7))
            // And what a confidential challenge adds: its agreement, an acceptance, invitations, a clarification.
            let terms = try sourceStore.insertAgreement(challenge: id, kind: .licence, text: "Keep it quiet.", at: 8)
            _ = try sourceStore.accept(challenge: id, principal: "ada", agreement: terms, at: 9)
            try sourceStore.invite(challenge: id, principal: "ada", via: "list", at: 9)
            try sourceStore.insertInvitationToken(
                id: "inv_1", challenge: id, sha256: String(repeating: "a", count: 64), at: 9)
            try sourceStore.insertClarification(id: "clr_1", challenge: id, asker: "ada", question: "Why?", at: 10)
            // And teams and phases: a team, its member, the merge that made it, an invitation, a phase opening.
            try sourceStore.insertTeam(id: "team_1", challenge: id, name: "owls", by: "ada", at: 11)
            try sourceStore.addMember(team: "team_1", challenge: id, principal: "ada", at: 11)
            try sourceStore.recordMerge(challenge: id, from: "ada", into: "team_1", at: 11)
            try sourceStore.inviteToTeam(team: "team_1", challenge: id, invitee: "bob", by: "ada", at: 12)
            try sourceStore.recordPhaseOpening(challenge: id, phase: 1, qualified: ["team:team_1"], at: 13)
        }
        let dump = try reread(try sourceStore.dump(challenge: id, source: source(from.directory)))
        #expect(dump.submissions.count == 2 && dump.files.count == 2 && dump.attempts.count == 1)
        #expect(dump.tables["disqualifications"]?.count == 1 && dump.tables["final_selections"]?.count == 1)
        #expect(dump.tables["replica_results"]?.count == 1)
        for table in [
            "agreements", "acceptances", "invitations", "invitation_tokens", "clarifications", "teams", "team_members",
            "entrant_merges", "team_invitations", "phase_openings",
        ] {
            #expect(dump.tables[table]?.count == 1, "\(table)")
        }
        #expect(dump.ledger.map(\.seq) == [2] && dump.source.ledgerHead?.seq == 2)

        let target = try TestBackend.store(into.directory)
        let summary = try target.restore(dump)
        #expect(summary.challenge == id && summary.submissions == 2 && summary.outcomes == 2)
        #expect(try view(target, id) == view(sourceStore, id))
        #expect(
            try target.dump(challenge: id, source: source(into.directory)).tables
                == sourceStore.dump(challenge: id, source: source(from.directory)).tables)
        #expect(try target.submissionInfo(first.string(0) ?? "")?.info.attempts == 1)
        #expect(try target.currentAgreement(challenge: id)?.text == "Keep it quiet.")
        #expect(try target.acceptance(challenge: id, principal: "ada")?.version == 1)
        #expect(try target.isInvited(challenge: id, principal: "ada"))
        #expect(try target.currentTeam(challenge: id, principal: "ada") == "team_1")
        #expect(try target.qualified(challenge: id, phase: 1) == ["team:team_1"])

        // The award is the target's ledger entry 2, chained to its entry 1, naming the entry it was on the source.
        let ledger = try target.ledgerEntries()
        let original = dump.ledger[0]
        #expect(ledger.count == 2 && ledger[1].prevHash == ledger[0].hash && ledger[1].isSealed)
        #expect(summary.ledger == [ledger[1]])
        let origin = #"{"kind":"restored","broker":"test-source","seq":2,"hash":"\#(original.hash)","from":null,"at":"#
        #expect(ledger[1].origin?.hasPrefix(origin) == true, "\(ledger[1].origin ?? "")")
        #expect(ledger[1].award == original.award)
        let awarded = try #require(try target.events(after: 0, limit: 100).last { $0.topic == .awarded })
        #expect(awarded.challenge == id && awarded.ledger == ledger[1].anchor)
        #expect(try target.verifyLedger().intact)
        #expect(try target.recordedLedgerHead() == ledger[1].anchor)
        #expect(try target.auditTrail(action: "challenge.restore").map(\.principal) == ["operator"])

        let again = try #require(throws: RestoreRefused.self) { try target.restore(dump) }
        #expect(again.description == "challenge \(id) already exists in this store")
        #expect(try target.ledgerEntries().count == 2)
    }

    @Test func aDumpThatDoesNotHoldTogetherIsRefusedWhole() throws {
        let sourceDir = try TempDirectory()
        defer { sourceDir.remove() }
        let from = try AwardedFixture(in: sourceDir, challenges: 1)
        let id = from.challenges[0]
        let dump = try TestBackend.store(from.directory).dump(challenge: id, source: source(from.directory))
        let target = try TestBackend.store(sourceDir.file("target"))

        func refusal(_ change: (inout ChallengeDump) -> Void) throws -> String {
            var changed = dump
            change(&changed)
            return try #require(throws: RestoreRefused.self) { try target.restore(reread(changed)) }.description
        }
        let submission = dump.submissions[0]["id"]?.value.text ?? ""
        #expect(
            try refusal { $0.submissions[0]["content"] = DumpValue(.blob(Data("43".utf8))) }
                .hasPrefix("submission \(submission) does not match its SHA-256: the dump says "))
        let reference = try #require(dump.files.firstIndex { $0["role"]?.value.text == "reference" })
        let blob = try #require(dump.blobs.firstIndex { $0["sha256"] == dump.files[reference]["sha256"] })
        #expect(
            try refusal { $0.blobs[blob]["content"] = DumpValue(.blob(Data("41".utf8))) }
                .hasPrefix("file answer.txt does not match its SHA-256"))
        #expect(
            try refusal { $0.ledger[0].amount = "1000000" }
                == "the dump's ledger entry 1 does not match its hash \(dump.ledger[0].hash)")
        #expect(try refusal { $0.schemaVersion += 1 }.hasPrefix("the dump is of schema version "))
        #expect(
            try refusal { $0.outcomes[0]["challenge_id"] = DumpValue(.text("ch_other")) }
                == "the dump's outcomes include some that are not challenge \(id)'s")
        #expect(
            try refusal { $0.submissions[0]["sneaky\"); DROP TABLE awards; --"] = DumpValue(.null) }
                .hasPrefix("the dump's submissions rows have a column sneaky"))
        #expect(
            try refusal {
                $0.tables["principals"] = [["name": DumpValue(.text("eve")), "role": DumpValue(.text("admin"))]]
            }
                == "the dump has rows of a table principals that this store does not keep per challenge")
        // Found only after the challenge, its files, submissions and award are in: all of it is undone.
        #expect(
            try refusal { $0.events[$0.events.count - 1]["body_json"] = DumpValue(.text("{")) }
                .hasSuffix("of the dump cannot be read"))

        #expect(try target.challenge(id) == nil)
        #expect(try target.db.queryOne("SELECT COUNT(*) FROM submissions")?.int(0) == 0)
        #expect(try target.ledgerEntries().isEmpty && target.recordedLedgerHead() == nil)
        #expect(try target.restore(dump).challenge == id)
    }

    /// The real executables: dump from one broker's directory, restore into another's, refused the second time and
    /// while a broker runs there; a broker started on it serves the challenge as it was.
    @Test func theExecutablesMoveAChallengeToAnotherBroker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let from = try AwardedFixture(in: dir, challenges: 1)
        let id = from.challenges[0]
        let targetDirectory = dir.file("target")
        func broker(_ arguments: [String]) throws -> CLIResult {
            try CLIProcess("pumasi-broker", arguments).finish(within: 30)
        }

        let dumped = try broker(["dump", "--challenge", id, "--data-dir", from.directory])
        #expect(dumped.termination == .exit(0) && dumped.stderr.isEmpty, "\(dumped.termination) \(dumped.stderr)")
        #expect(dumped.stdout.contains(#""format" : "pumasi-challenge-dump""#))
        #expect(dumped.stdout.contains(#""base64" : ""#))
        let file = try dir.write("ch.pumasi.json", dumped.stdout)

        let restored = try broker(["restore", file, "--data-dir", targetDirectory])
        #expect(restored.termination == .exit(0), "\(restored)")
        let sourceEntry = try #require(try TestBackend.store(from.directory).ledgerEntries().first)
        let lines = restored.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(restored)")
        #expect(lines.first?.hasPrefix("Restored \(id) from ") == true, "\(restored)")
        // Announcements: opened, closing (the deadline is within the notice), two scored, closed, awarded.
        #expect(lines.first?.hasSuffix(": 2 files, 2 submissions, 2 outcomes, 6 announcements") == true, "\(restored)")
        #expect(lines.last?.hasSuffix(" restores entry 1 (hash \(sourceEntry.hash))") == true, "\(restored)")

        let again = try broker(["restore", file, "--data-dir", targetDirectory])
        #expect(again.termination == .exit(1) && again.stdout.isEmpty, "\(again)")
        #expect(again.stderr == "Error: challenge \(id) already exists in this store\n", "\(again)")

        let verified = try broker(["ledger", "verify", "--data-dir", targetDirectory])
        #expect(verified.termination == .exit(0), "\(verified)")
        #expect(verified.stdout.hasPrefix("ledger intact: 1 entry, head "), "\(verified)")

        let missing = try broker(["dump", "--challenge", "ch_0000000000000000", "--data-dir", from.directory])
        #expect(missing.stderr == "Error: no challenge ch_0000000000000000 in this store\n", "\(missing)")
        let usage = try broker(["dump", "--data-dir", from.directory])
        #expect(
            usage.termination == .exit(64) && usage.stderr.hasPrefix("Error: dump needs --challenge <id>"), "\(usage)")

        let target = try CLIBroker(dataDirectory: targetDirectory)
        defer { target.spawned.stopGracefully() }
        let running = try broker(["restore", file, "--data-dir", targetDirectory])
        #expect(running.termination == .exit(1), "\(running)")
        #expect(
            running.stderr.hasPrefix("Error: a broker (pid \(target.spawned.process.processIdentifier)) is running"))
        let client = try BrokerClient(endpoint: target.router, timeoutSeconds: 10)
        let (shown, _) = try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self)
        var (board, _) = try client.call(Service.leaderboard, LeaderboardRequest(challenge: id), as: Leaderboard.self)
        #expect(board.asOf != nil)
        board.asOf = nil  // the store's own board says nothing of when a broker made it
        let sourceStore = try TestBackend.store(from.directory)
        let record = try #require(try sourceStore.challenge(id))
        #expect(shown == (try sourceStore.challengeInfo(record)))
        #expect(board == (try sourceStore.leaderboard(record, view: .final, limit: nil)))
        #expect(shown.state == .awarded && shown.winner?.solver == "ada")
    }
}
