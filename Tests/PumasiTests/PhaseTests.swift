import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Phases over real CURVE sockets (issue 12): a development phase and a final one scored on other data, who
/// qualifies, what is carried over, and a restart across the phase change that loses and repeats nothing.
@Suite("Phases over CURVE", .timeLimit(.minutes(2)))
struct PhaseTests {
    /// Phase 1 (dev) scores against dev.txt ("42") and ends `devMillis` from now; phase 2 (final) scores against
    /// final.txt ("43"), takes the top two of phase 1, and carries their best submissions over.
    static func phasedSpec(devMillis: Millis) -> (ChallengeSpec, [Data]) {
        let now = WallClock.now()
        let end = now + 3_600_000
        let files = [
            FileEntry(name: "question.txt", role: .public), FileEntry(name: "dev.txt", role: .reference),
            FileEntry(name: "final.txt", role: .reference),
        ]
        var spec = ChallengeSpec(
            title: "Two phases", description: "Dev, then final.", deadline: end,
            award: AwardSpec(amount: 500, currency: "USD"), scorer: ScorerSpec(builtin: "exact"), timeLimitSeconds: 10,
            files: files)
        spec.phases = [
            PhaseSpec(name: "dev", endsAt: now + devMillis, reference: ["dev.txt"]),
            PhaseSpec(
                name: "final", endsAt: end, reference: ["final.txt"], qualify: .init(top: 2), carryOver: true),
        ]
        return (spec, [Data("What is it?".utf8), Data("42".utf8), Data("43".utf8)])
    }

    static func board(_ client: BrokerClient, _ id: String, phase: Int? = nil) throws -> [String] {
        try client.call(
            Service.leaderboard, LeaderboardRequest(challenge: id, phase: phase), as: Leaderboard.self
        ).0.entries.map { "\($0.solver) \($0.score.map { String($0) } ?? "-")" }
    }

    @Test func aFinalPhaseScoredOnOtherDataRanksByThatDataOnly() throws {
        let setup = try SecureSetup(extra: [("cy", .solver, nil)])
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        let (spec, files) = Self.phasedSpec(devMillis: 1_500)
        let challenge = try post(try setup.client("acme"), spec, files).id
        let (ada, bob, cy) = (try setup.client("ada"), try setup.client("bob"), try setup.client("cy"))
        for (client, name, answer) in [(ada, "ada", "42"), (bob, "bob", "43"), (cy, "cy", "44")] {
            _ = try settled(client, try submit(client, challenge, name, answer).submission)
        }
        #expect(try Self.board(ada, challenge) == ["ada 1.0", "bob 0.0", "cy 0.0"])

        #expect(
            eventually(seconds: 10) {
                (try? ada.call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0.phase)
                    == 2
            })
        // The top two came over (bob ahead of cy on a tie: he submitted first), scored on the final data alone.
        #expect(
            eventually(seconds: 10) { (try? Self.board(ada, challenge)) == ["bob 1.0", "ada 0.0"] },
            "\(String(describing: try? Self.board(ada, challenge)))")
        #expect(try Self.board(ada, challenge, phase: 1) == ["ada 1.0", "bob 0.0", "cy 0.0"])
        let carried = try ada.call(Service.leaderboard, LeaderboardRequest(challenge: challenge), as: Leaderboard.self)
            .0
            .entries.first { $0.solver == "ada" }?.submission
        let info = try status(ada, try #require(carried))
        #expect(info.phase == 2 && info.carriedFrom?.hasPrefix("sub_") == true && info.score == 0)
        // A phase that gave way to the next shows its final standings (they decided who went on); the open one not.
        let closedPhase = try ada.call(
            Service.leaderboard, LeaderboardRequest(challenge: challenge, view: "final", phase: 1), as: Leaderboard.self
        ).0
        #expect(closedPhase.phase == 1 && closedPhase.phaseName == "dev" && closedPhase.view == "final")
        let openPhase = refusal {
            _ = try ada.call(
                Service.leaderboard, LeaderboardRequest(challenge: challenge, view: "final", phase: 2),
                as: Leaderboard.self)
        }
        #expect(openPhase?.code == .forbidden)
        let refused = refusal { _ = try submit(cy, challenge, "cy", "43") }
        #expect(
            refused?.code == .forbidden && refused?.message.contains("did not") == true,
            "\(String(describing: refused))")
        #expect(refusal { _ = try Self.board(ada, challenge, phase: 3) }?.code == .badRequest)

        // The report carries each opened phase's board; its main leaderboard is the current phase's.
        let report = try setup.client("acme").call(
            Service.report, ReportRequest(challenge: challenge), as: ChallengeReport.self
        ).0
        let boards = (report.phases ?? []).map { phase in
            "\(phase.number) \(phase.name): "
                + phase.leaderboard.map { "\($0.solver) \($0.score.map { String($0) } ?? "-")" }
                .joined(separator: ", ")
        }
        #expect(boards == ["1 dev: ada 1.0, bob 0.0, cy 0.0", "2 final: bob 1.0, ada 0.0"], "\(report)")
        #expect(report.leaderboard == report.phases?.last?.leaderboard)
        #expect(report.phases?.map(\.endsAt) == spec.phases?.map(\.endsAt))
        #expect(report.challenge.phase == 2 && report.challenge.phases == spec.phases)

        _ = try setup.client("root").call(Service.close, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self)
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(eventually { (try? store.award(challenge: challenge)) != nil })
        #expect(try store.award(challenge: challenge)?.solver == "bob")
        #expect(
            try store.auditTrail(action: "challenge.phase").map(\.detail) == [
                "phase 2 (final) opened for 2 qualified entrants; 2 submissions carried over"
            ])
        let events = try ada.call(Service.events, EventsRequest(after: 0, limit: 100), as: EventLog.self).0.events
        #expect(events.filter { $0.topic == .phase }.map(\.message) == ["phase 2 (final)"])
    }

    /// The broker is down when the development phase ends: the next one opens when it is back, once, with what it
    /// carries; a second restart repeats none of it.
    @Test func aRestartAcrossThePhaseChangeLosesAndRepeatsNothing() throws {
        let setup = try SecureSetup()
        let evaluator = try setup.evaluator()
        let (spec, files) = Self.phasedSpec(devMillis: 1_200)
        let challenge = try post(try setup.client("acme"), spec, files).id
        let ada = try setup.client("ada")
        let receipt = try submit(ada, challenge, "ada", "43")
        #expect(try settled(ada, receipt.submission).score == 0)
        evaluator.shutdown()
        setup.broker.shutdown()
        // Down until the development phase has ended.
        #expect(eventually(seconds: 5) { WallClock.now() > spec.phases![0].endsAt + 100 })
        for _ in 0..<2 {
            let broker = try BrokerHarness(directory: setup.dir.file("broker"), logLevel: .error) { $0.curve = true }
            let store = try TestBackend.store(setup.dir.file("broker"))
            #expect(
                eventually(seconds: 10) {
                    (try? store.db.queryOne("SELECT COUNT(*) FROM phase_openings")?.int(0)) == 1
                })
            let carried = try store.db.query(
                "SELECT id, carried_from, phase FROM submissions WHERE challenge_id = ? AND carried_from IS NOT NULL",
                [.text(challenge)])
            #expect(carried.map { "\($0.string(1) ?? "") \($0.int(2) ?? -1)" } == ["\(receipt.submission) 1"])
            #expect(try store.events(after: 0, limit: 100).filter { $0.topic == .phase }.count == 1)
            broker.shutdown()
        }
        setup.dir.remove()
    }

    /// A phase may have its own scorer: the final one here accepts answers within 1 of final.txt's, the dev one only
    /// dev.txt's exact text; and the award may be decided on a phase other than the last.
    @Test func aPhaseScoresWithItsOwnScorerAndTheAwardMayFollowAnotherPhase() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        var (spec, files) = Self.phasedSpec(devMillis: 1_200)
        spec.phases![1].qualify = nil
        spec.phases![1].scorer = ScorerSpec(builtin: "numeric-tolerance", options: ["absolute": "1"])
        spec.award.phase = 1
        let challenge = try post(try setup.client("acme"), spec, files).id
        let (ada, bob) = (try setup.client("ada"), try setup.client("bob"))
        #expect(try settled(ada, try submit(ada, challenge, "ada", "42.5").submission).score == 0)
        #expect(try settled(bob, try submit(bob, challenge, "bob", "42").submission).score == 1)
        #expect(
            // Carried over in the order of phase 1's standings: a tie goes to the one carried first.
            eventually(seconds: 10) { (try? Self.board(ada, challenge)) == ["bob 1.0", "ada 1.0"] },
            "\(String(describing: try? Self.board(ada, challenge)))")
        _ = try setup.client("root").call(Service.close, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self)
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(eventually { (try? store.award(challenge: challenge)) != nil })
        // Decided on phase 1, where bob alone was right.
        #expect(try store.award(challenge: challenge)?.solver == "bob")
        var (wrong, _) = Self.phasedSpec(devMillis: 60_000)
        wrong.phases![1].scorer = ScorerSpec(builtin: "csv-rmse")
        #expect(
            refusal { _ = try post(try setup.client("acme"), wrong, files) }?.message.contains("ranks minimized")
                == true)
    }

    /// A phase with a start of its own waits for it, even once the phase before is done.
    @Test func aPhaseWithItsOwnStartWaitsForIt() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        var (spec, files) = Self.phasedSpec(devMillis: 500)
        spec.phases![1].qualify = nil
        spec.phases![1].startsAt = spec.phases![0].endsAt + 1_500
        let challenge = try post(try setup.client("acme"), spec, files).id
        let ada = try setup.client("ada")
        _ = eventually(seconds: 5) { WallClock.now() > spec.phases![0].endsAt + 300 }
        let between = refusal { _ = try submit(ada, challenge, "ada", "43") }
        #expect(
            between?.code == .closed && between?.message.contains("opens at") == true, "\(String(describing: between))")
        #expect(try Self.show(ada, challenge).phase == 1)
        #expect(eventually(seconds: 10) { (try? Self.show(ada, challenge).phase) == 2 })
        #expect(WallClock.now() >= spec.phases![1].startsAt!)
        _ = try submit(ada, challenge, "ada", "43")
    }

    static func show(_ client: BrokerClient, _ id: String) throws -> ChallengeInfo {
        try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self).0
    }

    @Test func aSpecsPhasesAreChecked() throws {
        let broker = try BrokerHarness(directory: try TempDirectory().path, logLevel: .error)
        defer { broker.shutdown() }
        let client = try client(broker)
        var (spec, files) = Self.phasedSpec(devMillis: 60_000)
        func refusedPost(_ change: (inout ChallengeSpec) -> Void) -> String? {
            var changed = spec
            change(&changed)
            return refusal { _ = try post(client, changed, files) }?.message
        }
        #expect(refusedPost { $0.deadline += 1 }?.hasPrefix("spec.deadline must be the last phase's end") == true)
        #expect(refusedPost { $0.phases![1].endsAt = $0.phases![0].endsAt }?.contains("must come after") == true)
        #expect(refusedPost { $0.phases![1].reference = ["nope.txt"] }?.contains("not one of the spec's") == true)
        #expect(refusedPost { $0.phases![0].carryOver = true }?.contains("the first phase") == true)
        // A valid one posts; extending it moves its last phase's end with the deadline.
        let posted = try post(client, spec, files)
        let later = posted.deadline + 60_000
        _ = try client.call(
            Service.extend, ExtendRequest(challenge: posted.id, deadline: later), as: ChallengeInfo.self)
        let extended = try Self.show(client, posted.id)
        #expect(extended.phases?.last?.endsAt == later && extended.deadline == later)
        spec.phases![1].name = "dev"
        #expect(refusal { _ = try post(client, spec, files) }?.message.contains("used twice") == true)
        files = []
    }
}

/// Schema 15 (phases) on a realistic store of schema 14: every row of every table the same, column for column.
@Suite(
    "Schema 14 store through the phases migration", .timeLimit(.minutes(1)),
    .enabled(if: TestBackend.isSQLite, "SQLite files alone"))
struct Schema14MigrationTests {
    @Test func everyRowOfEveryTableIsKept() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // A schema-5 store with every state in it, brought to 14 as a broker of that schema would have.
        let path = dir.file("pumasi.sqlite3")
        try Schema5MigrationTests.writeSchema5(path)
        let db = try SQLiteConnection(path: path)
        _ = try Schema.migrate(db, to: 14)
        #expect(try db.userVersion == 14)
        func snapshot() throws -> [String: [[String: String]]] {
            var tables: [String: [[String: String]]] = [:]
            let names = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").compactMap {
                $0.string(0)
            }
            for table in names {
                let columns = try db.query("SELECT name FROM pragma_table_info(?)", [.text(table)]).compactMap {
                    $0.string(0)
                }
                // In a stable order whatever the table's key (some have no rowid).
                // Each value as SQLite quotes it: its type and its exact value in text.
                let quoted = columns.map { "quote(\"\($0)\")" }.joined(separator: ", ")
                tables[table] = try db.query("SELECT \(quoted) FROM \(table)").map { row in
                    Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, row.string($0) ?? "?") })
                }.sorted { $0.sorted { $0.key < $1.key }.description < $1.sorted { $0.key < $1.key }.description }
            }
            return tables
        }
        let before = try snapshot()
        #expect(before["submissions"]?.count == 6 && before["awards"]?.count == 1)
        _ = try Schema.migrate(db)
        #expect(try db.userVersion == Schema.currentVersion)
        let after = try snapshot()
        for (table, rows) in before {
            let kept = (after[table] ?? []).map { row in row.filter { rows.first?[$0.key] != nil } }.sorted {
                $0.sorted { $0.key < $1.key }.description < $1.sorted { $0.key < $1.key }.description
            }
            #expect(kept == rows, "\(table)")
        }
        // What the migration added reads as "one phase": every submission in phase 0, none carried over.
        #expect(after["submissions"]?.allSatisfy { $0["phase"] == "0" && $0["carried_from"] == "NULL" } == true)
        #expect(before["submissions"]?.first?["content"]?.hasPrefix("X'") == true)
        #expect(after["phase_openings"]?.isEmpty == true)
    }
}
