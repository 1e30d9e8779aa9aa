import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

@Suite(
    "Moving a store from SQLite into PostgreSQL", .timeLimit(.minutes(2)),
    .enabled(if: TestBackend.isSQLite && TestBackend.server != nil, "an SQLite source and the test server"))
struct MigrateTests {
    private func broker(_ arguments: [String]) throws -> CLIResult {
        try CLIProcess("pumasi-broker", arguments).finish(within: 60)
    }

    /// A store with three awarded challenges, a principal and an audit trail goes over whole: every table's count
    /// matches, the ledger verifies with the same head, the broker's key comes along, and a broker on the copy
    /// answers as the one on the file did.
    @Test func aWholeStoreGoesOverAndABrokerOnItAnswersTheSame() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let fixture = try AwardedFixture(in: dir)
        let source = try Store(directory: fixture.directory)
        try source.addPrincipal(
            Principal(name: "ada", role: .solver, publicKey: try CurveKeyPair.generate().publicKey, createdAt: 5))
        let keys = try CurveKeyPair.generate()
        try CurveKeyFile.write(keys, to: fixture.directory + "/broker.key")
        let head = try #require(try source.ledgerHead())
        let before = try listing(BrokerHarness(directory: fixture.directory))
        let counts = try Store.tablesInCopyOrder.map {
            try source.db.queryOne("SELECT COUNT(*) FROM \($0)")?.int(0) ?? -1
        }

        let target = try TestBackend.conninfo(schema: "m_" + UUID().uuidString.prefix(8).lowercased())
        let migrated = try broker(["migrate", "--from", fixture.directory, "--to", target, "--json"])
        #expect(migrated.termination == .exit(0), "\(migrated)")
        let tables = try JSONDecoder().decode([MigratedTable].self, from: Data(migrated.stdout.utf8))
        #expect(tables.map(\.table) == Store.tablesInCopyOrder)
        #expect(tables.allSatisfy { $0.source == $0.target }, "\(tables)")
        #expect(tables.map { Int64($0.source) } == counts)
        #expect(tables.first { $0.table == "awards" }?.target == 3 && tables.first { $0.table == "events" }!.target > 0)

        // Counted again here, on the target itself.
        let copy = try Store(location: .postgresql(target))
        for (table, count) in zip(Store.tablesInCopyOrder, counts) {
            let expected = count + (table == "audit" ? 1 : 0)  // the migration's own audit entry
            #expect(try copy.db.queryOne("SELECT COUNT(*) FROM \(table)")?.int(0) == expected, "\(table)")
        }
        #expect(try copy.auditTrail(action: "store.migrate").count == 1)
        let verified = try broker(["ledger", "verify", "--store", target])
        #expect(
            verified.stdout == "ledger intact: 3 entries, head \(head.hash)\ntail checked against ledger_head "
                + "and 3 award announcements\n", "\(verified)")

        // A broker on the copy serves under the same key and answers as the one on the file did.
        let after = try listing(BrokerHarness(directory: dir.file("moved")) { $0.postgresql = target })
        #expect(before.count == 6 && after == before)
        try FileManager.default.createDirectory(atPath: dir.file("host"), withIntermediateDirectories: true)
        #expect(try Broker.sharedKeys(copy, directory: dir.file("host"), now: 1) == keys)
        // Seeded from the source's newest submission: the next one continues the sequence.
        #expect(try copy.db.queryOne("SELECT MAX(seq) FROM submissions")?.int(0) == counts[3])

        let again = try broker(["migrate", "--from", fixture.directory, "--to", target])
        #expect(again.termination == .exit(1), "\(again)")
        #expect(again.stderr.contains("the target store is not empty: its challenges table has rows"), "\(again)")
        let usage = try broker(["migrate", "--from", fixture.directory])
        #expect(usage.termination == .exit(64) && usage.stderr.contains("migrate needs --from"), "\(usage)")
    }

    /// What a client reads of every challenge: its info, leaderboard and submissions, as JSON, from a broker that is
    /// then stopped.
    private func listing(_ harness: BrokerHarness) throws -> [String] {
        defer { harness.shutdown() }
        let client = try client(harness)
        let list = try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0
        var texts: [String] = []
        for challenge in list {
            var board = try client.call(
                Service.leaderboard, LeaderboardRequest(challenge: challenge.id), as: Leaderboard.self
            ).0
            board.asOf = nil  // when each broker made it
            texts += [String(decoding: Wire.encode(challenge), as: UTF8.self)]
            texts += [String(decoding: Wire.encode(board), as: UTF8.self)]
        }
        return texts
    }
}

/// Every table of an SQLite store is one `migrate` copies: a table added with a schema version and left out of the
/// copy would be lost without a word.
@Suite("The tables a migration copies")
struct MigrateTableListTests {
    @Test func everyTableOfTheSchemaIsCopied() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try Store(directory: dir.path)
        let tables = try store.db.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).compactMap { $0.string(0) }
        #expect(tables.count > 20)
        #expect(
            Set(tables) == Set(Store.tablesInCopyOrder), "\(Set(tables).symmetricDifference(Store.tablesInCopyOrder))")
    }
}
