import Foundation
import PumasiShared

/// `pumasi-broker migrate --from <data-dir> --to postgresql://…`: moves a broker from its SQLite file to PostgreSQL.
enum BrokerMigrateCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker migrate", abstract: "Copy a whole SQLite store into an empty PostgreSQL store.",
        discussion: """
            Every row of every table, in one transaction; then each table's rows are counted on both sides and the
            copied award ledger is verified. The ledger's head (ledger.head) and the broker's key (broker.key) come
            along, so clients keep the key they know. No broker may run on either store meanwhile. The source is
            opened as a broker would open it (brought to the current schema first) and otherwise left as it was.
            """,
        options: [
            .init("from", value: "data-dir", help: "The data directory of the SQLite store."),
            .init("to", value: "postgresql://…", help: "The PostgreSQL store (an empty schema, made if need be)."),
            .init("json", help: "Print the counts as JSON."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(spec, arguments, environment: environment) { a, _ in
            guard let from = a.value("from"), let to = a.value("to") else {
                throw UsageError("migrate needs --from <data-dir> and --to postgresql://…", usage: spec.usage)
            }
            guard case .postgresql = StoreLocation(to) else {
                throw UsageError("--to takes a postgresql:// connection string", usage: spec.usage)
            }
            let source = HostCommand.Place(directory: from, location: .sqlite(directory: from))
            if let pid = BrokerDumpCLI.runningBroker(in: from) {
                throw HostCommand.Failure("a broker (pid \(pid)) is running on \(from): stop it before migrating")
            }
            let sourceStore = try source.existingStore()
            let target = try Store(location: StoreLocation(to), applicationName: "pumasi-broker migrate")
            try target.excludeBrokers()
            let keyFile = (from as NSString).appendingPathComponent("broker.key")
            let key = FileManager.default.fileExists(atPath: keyFile) ? try CurveKeyFile.readPair(keyFile) : nil
            let tables = try target.copy(from: sourceStore, brokerKey: key)
            let report = try target.verifyLedger()
            if a.flag("json") {
                print(String(decoding: Wire.encode(tables), as: UTF8.self))
            } else {
                print("Copied \(sourceStore.path) into \(target.path)")
                for table in tables {
                    print("  \(table.table.padding(toLength: 20, withPad: " ", startingAt: 0))\(table.target)")
                }
                print(
                    "ledger intact: \(LedgerVerifier.count(report.entries)), head \(report.head?.hash ?? LedgerEntry.genesis)"
                )
            }
            if let mismatch = tables.first(where: { $0.source != $0.target }) {
                throw HostCommand.Failure(
                    "\(mismatch.table): \(mismatch.source) rows in the source but \(mismatch.target) in the target")
            }
            guard report.intact else {
                throw HostCommand.Failure("the copied ledger does not verify: \(report.problems.first?.message ?? "?")")
            }
        }
    }
}
