import Foundation
import PumasiShared

/// What the broker host's own subcommands (`pumasi-broker keys`, `audit`, `ledger`, `dump`, `restore`) share: parsing,
/// `--help`, the data directory, and exit codes (0 ok, 1 failure, 64 usage).
enum HostCommand {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static let dataDirectoryOption = CommandSpec.Option(
        "data-dir", short: "d", value: "directory",
        help: "The broker's data directory. Default: $PUMASI_DATA or ./pumasi-data.")
    static let storeOption = CommandSpec.Option(
        "store", value: "postgresql://…",
        help: "A PostgreSQL store instead of the data directory's SQLite file. Default: $PUMASI_STORE.")

    /// Where a host command works: the data directory, and the store (its SQLite file, or a PostgreSQL database).
    struct Place {
        var directory: String
        var location: StoreLocation

        /// The store, which must already exist (a host command never starts an empty broker).
        func existingStore() throws -> Store {
            if case .sqlite(let directory) = location {
                guard
                    FileManager.default.fileExists(
                        atPath: (directory as NSString).appendingPathComponent(Store.sqliteFileName))
                else { throw Failure("no broker store in \(directory)") }
            }
            return try Store(location: location, applicationName: "pumasi-broker (host command)", create: false)
        }
    }

    /// The data directory and store that `--data-dir` and `--store` (or the environment) name.
    static func place(_ a: ParsedArguments, environment: [String: String], usage: String) throws -> Place {
        let directory = a.value("data-dir") ?? environment["PUMASI_DATA"] ?? "pumasi-data"
        guard let store = a.value("store") ?? environment["PUMASI_STORE"], !store.isEmpty else {
            return Place(directory: directory, location: .sqlite(directory: directory))
        }
        let location = StoreLocation(store)
        guard location.isPostgreSQL else {
            throw UsageError(
                "--store takes a postgresql:// connection string; a data directory goes to --data-dir", usage: usage)
        }
        return Place(directory: directory, location: location)
    }

    static func run(
        _ spec: CommandSpec, _ arguments: [String], environment: [String: String],
        _ body: (ParsedArguments, _ place: Place) throws -> Void
    ) -> Int32 {
        do {
            let parsed = try spec.parse(arguments)
            if parsed.helpRequested {
                FileHandle.standardOutput.write(Data(spec.help.utf8))
                return 0
            }
            try body(parsed, try place(parsed, environment: environment, usage: spec.usage))
            return 0
        } catch let error as UsageError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 64
        } catch let error as DatabaseError where error.isConstraintViolation {
            FileHandle.standardError.write(Data("Error: that key or name is already registered\n".utf8))
            return 1
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            return 1
        }
    }
}
