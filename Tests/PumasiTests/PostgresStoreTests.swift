import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// What only a PostgreSQL store has, or does its own way: its schema beside SQLite's, and how it fails.
@Suite(
    "PostgreSQL store", .timeLimit(.minutes(1)), .enabled(if: TestBackend.current == .postgresql, "PostgreSQL alone"))
struct PostgresStoreTests {
    /// A schema of its own in the test server.
    private func fresh() throws -> String {
        try TestBackend.conninfo(schema: "p_" + UUID().uuidString.prefix(8).lowercased())
    }

    private typealias Catalogue = [String: [String: String]]

    /// Each table's columns with their kind of value, whether they take NULL and whether they are in the key.
    private func sqliteCatalogue(_ db: any SQLDatabase) throws -> Catalogue {
        var catalogue: Catalogue = [:]
        let tables = try db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        for table in tables.compactMap({ $0.string(0) }) {
            for row in try db.query(
                "SELECT name, upper(type), \"notnull\", pk FROM pragma_table_info(?)", [.text(table)])
            {
                let kind =
                    switch row.string(1) ?? "" {
                    case "INTEGER": "integer"
                    case "REAL": "real"
                    case "BLOB": "blob"
                    default: "text"
                    }
                // A lone INTEGER PRIMARY KEY is SQLite's rowid: never NULL, whatever the declaration says.
                let notNull = row.int(2) == 1 || (row.int(3) ?? 0) > 0
                catalogue[table, default: [:]][row.string(0) ?? ""] =
                    "\(kind) \(notNull ? "not null" : "null") \((row.int(3) ?? 0) > 0 ? "key" : "")"
            }
        }
        return catalogue
    }

    private func postgresCatalogue(_ db: any SQLDatabase) throws -> Catalogue {
        var catalogue: Catalogue = [:]
        let rows = try db.query(
            """
            SELECT c.table_name, c.column_name, c.data_type, c.is_nullable,
                EXISTS (SELECT 1 FROM information_schema.table_constraints t
                    JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name
                        AND k.table_schema = t.table_schema
                    WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema
                        AND t.table_name = c.table_name AND k.column_name = c.column_name)
            FROM information_schema.columns c JOIN information_schema.tables t
                ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
            WHERE c.table_schema = current_schema()
            """)
        for row in rows {
            let table = row.string(0) ?? ""
            guard !PostgresSchema.ownTables.contains(table) else { continue }
            let kind =
                switch row.string(2) ?? "" {
                case "bigint", "integer": "integer"
                case "double precision": "real"
                case "bytea": "blob"
                default: "text"
                }
            catalogue[table, default: [:]][row.string(1) ?? ""] =
                "\(kind) \(row.string(3) == "NO" ? "not null" : "null") \(row.int(4) == 1 ? "key" : "")"
        }
        return catalogue
    }

    /// The schema is stated for each backend; this keeps the two the same: every table, column, kind of value,
    /// NULL-ability and key, and the triggers that keep `Schema.immutableTables` immutable.
    @Test func theSchemaIsSQLitesColumnForColumn() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let sqlite = try Store(directory: dir.path)
        let postgres = try Store(location: .postgresql(try fresh()))
        let expected = try sqliteCatalogue(sqlite.db)
        let actual = try postgresCatalogue(postgres.db)
        #expect(Set(actual.keys) == Set(expected.keys))
        for (table, columns) in expected {
            #expect(actual[table] == columns, "\(table)")
        }
        for table in Schema.immutableTables.map(\.name) {
            let sqliteEvents = try sqlite.db.query(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", [.text(table)]
            ).compactMap { $0.string(0) }
            #expect(sqliteEvents.contains { $0.contains("BEFORE UPDATE") }, "\(table)")
            #expect(sqliteEvents.contains { $0.contains("BEFORE DELETE") }, "\(table)")
            let postgresEvents = try postgres.db.query(
                """
                SELECT event_manipulation FROM information_schema.triggers
                WHERE event_object_schema = current_schema() AND event_object_table = ? AND action_timing = 'BEFORE'
                """, [.text(table)]
            ).compactMap { $0.string(0) }
            #expect(Set(postgresEvents) == ["UPDATE", "DELETE"], "\(table)")
        }
        #expect(try postgres.schemaVersion == Schema.currentVersion && postgres.integrityCheck() == "ok")
    }

    /// PostgreSQL answers COMMIT on a failed transaction with a ROLLBACK and no error: the connection makes it one.
    @Test func aFailedTransactionIsNeverTakenForCommitted() throws {
        let db = try PostgresConnection(try fresh())
        try db.execute("CREATE TABLE t (x BIGINT PRIMARY KEY)")
        try db.beginWrite()
        try db.run("INSERT INTO t VALUES (1)", [])
        #expect(throws: DatabaseError.self) { try db.run("INSERT INTO t VALUES (1)", []) }
        #expect(db.isInTransaction && !db.isTransactionUsable)
        let error = try #require(throws: DatabaseError.self) { try db.execute("COMMIT") }
        #expect(error.message.contains("the server rolled it back"), "\(error)")
        #expect(try db.queryOne("SELECT COUNT(*) FROM t")?.int(0) == 0)
    }

    /// A request whose deferred write failed, and which then threw something else, is still undone alone: its
    /// savepoint is rolled back (the deferred error read first), and the pass's earlier work commits.
    @Test func aRequestWhoseDeferredWriteFailedIsUndoneAlone() throws {
        struct Unrelated: Error {}
        let store = try Store(location: .postgresql(try fresh()))
        try store.db.execute("CREATE TABLE t (x BIGINT PRIMARY KEY)")
        try store.transaction {
            try store.savepoint { try store.db.runDeferred("INSERT INTO t VALUES (1)", []) }
            do {
                try store.savepoint {
                    try store.db.runDeferred("INSERT INTO t VALUES (1)", [])
                    throw Unrelated()
                }
                Issue.record("the savepoint did not throw")
            } catch {
                #expect(error is Unrelated, "\(error)")
            }
            #expect(store.isTransactionUsable)
        }
        #expect(try store.db.queryOne("SELECT COUNT(*) FROM t")?.int(0) == 1)
    }

    /// A host command that writes holds the brokers' lock: it refuses to run while a broker is active, and no broker
    /// becomes active while it runs.
    @Test func migrateAndRestoreRefuseAnActiveBroker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let conninfo = try fresh()
        let active = try Store(location: .postgresql(conninfo), applicationName: "pumasi-broker test pid 1")
        #expect(try active.tryToLead())
        let status = try active.brokerStatus()
        #expect(status.active?.term == 0 && status.active?.host == "pumasi-broker test pid 1", "\(status)")
        _ = try Store(directory: dir.path)
        let migrated = try CLIProcess("pumasi-broker", ["migrate", "--from", dir.path, "--to", conninfo])
            .finish(within: 30)
        #expect(migrated.termination == .exit(1), "\(migrated)")
        #expect(migrated.stderr.contains("is active on"), "\(migrated)")
    }

    /// A server that wants what the connection does not offer (SSL here) refuses every try alike: not retried.
    @Test func aServerThatRefusesTheConnectionsTermsIsNotRetried() throws {
        let server = try #require(TestBackend.server)
        let error = try #require(throws: DatabaseError.self) {
            try PostgresConnection(server + (server.contains("?") ? "&" : "?") + "sslmode=require")
        }
        #expect(!error.isConnectionLost && error.message.contains("SSL"), "\(error)")
    }

    /// A store made at PostgreSQL's first schema version is brought to the current one by PostgreSQL's own
    /// migrations: here schema 12, after which a revoked name may take a new key.
    @Test func aStoreOfTheFirstVersionIsMigrated() throws {
        let conninfo = try fresh()
        let db = try PostgresConnection(conninfo)
        try db.execute(PostgresSchema.realText + PostgresSchema.initial + PostgresSchema.immutabilityTriggers())
        try db.run("INSERT INTO pumasi_schema (id, version) VALUES (1, 11)", [])
        try db.run(
            "INSERT INTO principals (public_key, name, role, created_at, revoked_at) VALUES ('k1', 'ada', 'solver', 1, 2)",
            [])
        #expect(throws: DatabaseError.self) {
            try db.run(
                "INSERT INTO principals (public_key, name, role, created_at) VALUES ('k2', 'ada', 'solver', 3)", [])
        }
        let store = try Store(location: .postgresql(conninfo))
        #expect(try store.schemaVersion == Schema.currentVersion && store.integrityCheck() == "ok")
        try store.addPrincipal(Principal(name: "ada", role: .solver, publicKey: "k2", createdAt: 3))
        #expect(try store.principals().filter { $0.name == "ada" }.map(\.publicKey).sorted() == ["k1", "k2"])
    }

    @Test func aMalformedConnectionStringIsNamed() throws {
        let error = try #require(throws: DatabaseError.self) {
            try Store(location: .postgresql("postgresql://pumasi@127.0.0.1:5432/postgres?nonsense=1"))
        }
        #expect(error.message.hasPrefix("the connection string is malformed: "), "\(error)")
        #expect(error.message.contains("nonsense"), "\(error)")
        // What only a connection attempt finds wrong is named as well, and not taken for an unreachable server.
        let invalid = try #require(throws: DatabaseError.self) {
            try Store(location: .postgresql("postgresql://pumasi@127.0.0.1:5432/postgres?sslmode=sometimes"))
        }
        #expect(!invalid.isConnectionLost && invalid.message.contains("invalid sslmode value"), "\(invalid)")
        let broker = try CLIProcess(
            "pumasi-broker", ["--data-dir", NSTemporaryDirectory(), "--store", "postgresql://127.0.0.1/x?nonsense=1"]
        ).finish(within: 20)
        #expect(broker.termination == .exit(1), "\(broker)")
        #expect(broker.stderr.contains("the connection string is malformed"), "\(broker)")
        let usage = try CLIProcess("pumasi-broker", ["--store", "/var/lib/pumasi"]).finish(within: 20)
        #expect(usage.termination == .exit(64) && usage.stderr.contains("--store takes a postgresql://"), "\(usage)")
    }

    /// A server that answers with a refusal is not retried: the broker exits at once and says why.
    @Test func aRefusedLoginIsReportedNotRetried() throws {
        let server = try #require(TestBackend.server)
        let nobody = server.replacingOccurrences(of: "//pumasi@", with: "//nobody@")
        let error = try #require(throws: DatabaseError.self) { try Store(location: .postgresql(nobody)) }
        #expect(!error.isConnectionLost && error.message.contains("role \"nobody\" does not exist"), "\(error)")
        let broker = try CLIProcess("pumasi-broker", ["--data-dir", NSTemporaryDirectory(), "--store", nobody])
            .finish(within: 20)
        #expect(broker.termination == .exit(1) && broker.stderr.contains("\"nobody\""), "\(broker)")
    }

    @Test func aStoreOfANewerSchemaIsRefused() throws {
        let conninfo = try fresh()
        _ = try Store(location: .postgresql(conninfo))
        try PostgresConnection(conninfo).execute("UPDATE pumasi_schema SET version = 99")
        let error = try #require(throws: DatabaseError.self) { try Store(location: .postgresql(conninfo)) }
        #expect(error.kind == .schema && error.message.contains("schema version 99 is newer"), "\(error)")
    }

    /// A schema with tables of its own but no store is not taken over.
    @Test func aSchemaThatIsNoStoreIsLeftAlone() throws {
        let conninfo = try fresh()
        try PostgresConnection(conninfo).execute("CREATE TABLE challenges (id TEXT)")
        let error = try #require(throws: DatabaseError.self) { try Store(location: .postgresql(conninfo)) }
        #expect(error.message.contains("not a Pumasi store"), "\(error)")
    }

    /// A server that is down when the broker starts: the broker says so and tries again with back-off, as a service
    /// should, until it is stopped.
    @Test func aBrokerWaitsForAnUnreachableServer() throws {
        let port = try freePort()
        let broker = try CLIProcess(
            "pumasi-broker",
            ["--data-dir", NSTemporaryDirectory(), "--store", "postgresql://pumasi@127.0.0.1:\(port)/postgres"])
        let waited = broker.wait(seconds: 20) { _, stderr in
            stderr.components(separatedBy: "PostgreSQL unreachable; trying again").count > 2
        }
        #expect(waited, "\(broker.stderr)")
        #expect(broker.stderr.contains("retry.ms=1000"), "\(broker.stderr)")
        broker.stopGracefully()
    }
}
