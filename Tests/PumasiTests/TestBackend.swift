import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// The store backend a test run uses: SQLite unless `PUMASI_TEST_BACKEND=postgresql`, which `Tests/run.sh` sets for
/// its second run of the whole suite, with `PUMASI_TEST_POSTGRES` naming the throwaway server it started.
///
/// Under PostgreSQL, a test's data directory stands for a schema of its own in that server (named after the
/// directory's path), so that a broker in a harness, a broker process and the test's own look at the store all
/// find the same one.
enum TestBackend: String {
    case sqlite
    case postgresql

    static let current: TestBackend =
        ProcessInfo.processInfo.environment["PUMASI_TEST_BACKEND"] == "postgresql" ? .postgresql : .sqlite

    /// The server `Tests/run.sh` started, as a libpq URI; nil when the tests run without one.
    static let server: String? = {
        guard let text = ProcessInfo.processInfo.environment["PUMASI_TEST_POSTGRES"], !text.isEmpty else { return nil }
        return text
    }()

    /// The schema that stands for `directory`.
    static func schema(for directory: String) -> String {
        let path = URL(fileURLWithPath: directory).standardizedFileURL.path
        return "t_" + SHA256.hex(Data(path.utf8)).prefix(20)
    }

    /// A connection string for `schema` in the test server, made if need be.
    static func conninfo(schema: String) throws -> String {
        let server = try #require(server, "PostgreSQL tests need PUMASI_TEST_POSTGRES: run Tests/run.sh")
        let admin = try PostgresConnection(server, applicationName: "pumasi-tests")
        try admin.execute("CREATE SCHEMA IF NOT EXISTS \(schema)")
        return server + (server.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
    }

    /// Where the store of a test's `directory` lives on this run's backend.
    static func location(for directory: String) throws -> StoreLocation {
        switch current {
        case .sqlite: .sqlite(directory: directory)
        case .postgresql: .postgresql(try conninfo(schema: schema(for: directory)))
        }
    }

    /// The store of a test's `directory` on this run's backend.
    static func store(_ directory: String, synchronousFull: Bool = true) throws -> Store {
        try Store(location: location(for: directory), synchronousFull: synchronousFull)
    }

    /// What a `pumasi-broker` process started with `arguments` needs in its environment to use this run's backend:
    /// `PUMASI_STORE` for the directory its `--data-dir` names.
    static func environment(forBroker arguments: [String]) throws -> [String: String] {
        guard current == .postgresql, let index = arguments.firstIndex(of: "--data-dir"), index + 1 < arguments.count,
            !arguments.contains("--store")
        else { return [:] }
        return ["PUMASI_STORE": try conninfo(schema: schema(for: arguments[index + 1]))]
    }

    /// The store's database for a test's `directory`, opened directly (not through a `Store`), as its owner could.
    static func database(_ directory: String) throws -> any SQLDatabase {
        switch try location(for: directory) {
        case .sqlite: try SQLiteConnection(path: (directory as NSString).appendingPathComponent(Store.sqliteFileName))
        case .postgresql(let conninfo): try PostgresConnection(conninfo)
        }
    }

    /// Runs SQL on the store as someone with access to the database would: no triggers spared (SQLite's ledger and
    /// event log triggers dropped, PostgreSQL's skipped by a superuser's `session_replication_role`).
    static func tamper(_ directory: String, _ sql: String, _ values: [SQLValue] = []) throws {
        let db = try database(directory)
        if db.backend == .postgresql {
            try db.execute("SET session_replication_role = replica")
        } else {
            try db.execute(
                """
                DROP TRIGGER IF EXISTS awards_append_only_update; DROP TRIGGER IF EXISTS awards_append_only_delete;
                DROP TRIGGER IF EXISTS events_append_only_update; DROP TRIGGER IF EXISTS events_append_only_delete;
                """)
        }
        try db.run(sql, values)
    }

    /// For tests of what only one backend has (SQLite's migrations from older files, its pragmas, `ledger.head`).
    static var isSQLite: Bool { current == .sqlite }
}

/// A PostgreSQL cluster of a test's own, made with `initdb` in the test's directory and started with `pg_ctl` on a
/// free loopback port: for tests that restart or stop the server, which the shared one must never be. As root, it
/// runs as the `postgres` user that Debian's package made (initdb refuses root). Stopped by `stop()`.
final class PrivateCluster {
    let port: Int
    private let directory: String
    private let bin: String

    var conninfo: String { "postgresql://pumasi@127.0.0.1:\(port)/postgres" }

    init(in dir: TempDirectory) throws {
        bin = try #require(
            ProcessInfo.processInfo.environment["PUMASI_TEST_PGBIN"],
            "PUMASI_TEST_PGBIN names PostgreSQL's bin: run Tests/run.sh")
        directory = dir.file("pg")
        port = try freePort()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)
        }
        let made = try run(
            "initdb", ["-D", directory + "/data", "-A", "trust", "-U", "pumasi", "-E", "UTF8", "--locale=C", "-N"])
        try #require(made.termination == .exit(0), "initdb: \(made)")
        try start()
    }

    /// Runs a PostgreSQL tool through `bash`, which first closes every descriptor past stderr: the server that
    /// `pg_ctl` leaves running must not hold the one by which Foundation learns that the tool has exited.
    private func run(_ tool: String, _ arguments: [String]) throws -> CLIResult {
        let path = (bin as NSString).appendingPathComponent(tool)
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] : [path]
        let closeAndRun = """
            for fd in /proc/$$/fd/*; do n=${fd##*/}; if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-"; fi; done
            exec "$@"
            """
        return try CLIProcess(executable: "/bin/bash", ["-c", closeAndRun, "bash"] + command + arguments).finish(
            within: 60)
    }

    func start() throws {
        let started = try run(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-o",
                "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(directory)", "start",
            ])
        try #require(started.termination == .exit(0), "pg_ctl start: \(started)")
    }

    /// A fast restart (`pg_ctl restart -m fast`): every session is ended, then the server takes connections again.
    func restart() throws {
        let restarted = try run("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "restart"])
        try #require(restarted.termination == .exit(0), "pg_ctl restart: \(restarted)")
    }

    func stop() { _ = try? run("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"]) }
}
