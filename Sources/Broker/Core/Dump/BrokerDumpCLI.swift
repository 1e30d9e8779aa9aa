import Foundation
import PumasiShared

/// `pumasi-broker dump` and `pumasi-broker restore`: one challenge out of a broker's data directory as a JSON
/// document, and into another's. Both run on the broker host against the data directory; dump works with the broker
/// running, restore refuses while one runs on the target directory.
enum BrokerDumpCLI {
    static let dumpSpec = CommandSpec(
        name: "pumasi-broker dump", abstract: "Write one challenge, with everything about it, as one JSON document.",
        discussion: """
            Writes to stdout: the challenge and its spec, its public and reference files, every submission with its
            bytes, the outcomes and failed attempts, its announcements and audit entries, its award ledger entries,
            and its rows in other tables (final selections, disqualifications, scorer versions, replica results).
            Files and submissions are base64. Load it into another broker with 'pumasi-broker restore'.
            """,
        options: [
            HostCommand.dataDirectoryOption, HostCommand.storeOption,
            .init("challenge", value: "id", help: "The challenge to dump (required)."),
        ])

    static let restoreSpec = CommandSpec(
        name: "pumasi-broker restore", abstract: "Load a challenge written by 'pumasi-broker dump' into this broker.",
        discussion: """
            Stop the target broker first. The restore is one transaction: all of it or nothing. It is refused when the
            challenge or one of its submissions exists here already, when the dump is of another schema version, or
            when a file, a submission or a ledger entry does not match its hash. Awards are appended to this
            broker's ledger as entries restored from the source broker, naming the original entries' hashes.
            """,
        arguments: [.init("file", help: "The dump ('-' for stdin).")],
        options: [HostCommand.dataDirectoryOption])

    static func dump(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(dumpSpec, arguments, environment: environment) { a, place in
            let directory = place.directory
            guard let id = a.value("challenge") else {
                throw UsageError("dump needs --challenge <id>", usage: dumpSpec.usage)
            }
            let store = try place.existingStore()
            let dump = try store.dump(challenge: id, source: try source(directory))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(dump) + Data("\n".utf8))
        }
    }

    static func restore(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(restoreSpec, arguments, environment: environment) { a, place in
            let directory = place.directory
            guard let file = a[argument: "file"] else {
                throw UsageError("restore needs a file", usage: restoreSpec.usage)
            }
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw HostCommand.Failure("cannot read \(file)")
                }
                data = contents
            }
            let dump: ChallengeDump
            do {
                dump = try JSONDecoder().decode(ChallengeDump.self, from: data)
            } catch {
                throw HostCommand.Failure("\(file) is not a challenge dump: \(error)")
            }
            if let pid = runningBroker(in: directory) {
                throw HostCommand.Failure(
                    "a broker (pid \(pid)) is running on \(directory): stop it before restoring into its store")
            }
            // A new data directory is fine: the store is made, and the broker started on it later finds the challenge.
            let store = try Store(location: place.location, applicationName: "pumasi-broker restore")
            try store.excludeBrokers()
            let summary = try store.restore(dump)
            print(
                "Restored \(summary.challenge) from \(dump.source.broker): \(summary.files) files, "
                    + "\(summary.submissions) submissions, \(summary.outcomes) outcomes, "
                    + "\(summary.events) announcements")
            for entry in summary.ledger {
                print("Ledger entry \(entry.seq) (hash \(entry.hash)) restores entry \(entryOrigin(entry))")
            }
        }
    }

    /// This broker as a dump's source: its public key when it has one.
    private static func source(_ directory: String) throws -> ChallengeDump.Source {
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.path
        let host = ProcessInfo.processInfo.hostName
        let keyFile = (directory as NSString).appendingPathComponent("broker.key.pub")
        let key = FileManager.default.fileExists(atPath: keyFile) ? try CurveKeyFile.publicKey(keyFile) : nil
        return ChallengeDump.Source(broker: key ?? "\(host):\(absolute)", host: host, dataDirectory: absolute)
    }

    private static func entryOrigin(_ entry: LedgerEntry) -> String {
        guard let origin = entry.origin, let fields = try? JSONValue.parse(Array(origin.utf8)).object else {
            return "?"
        }
        return "\(fields["seq"]?.integer ?? 0) (hash \(fields["hash"]?.string ?? "?"))"
    }

    /// The pid of a `pumasi-broker` process that `broker.json` names and that is still running, if any. A broker
    /// running on the directory caches its next announcement number, which restored announcements would take.
    static func runningBroker(in directory: String) -> Int32? {
        let file = (directory as NSString).appendingPathComponent("broker.json")
        guard let data = FileManager.default.contents(atPath: file),
            let info = try? JSONDecoder().decode([String: String].self, from: data),
            let pid = info["pid"].flatMap(Int32.init), pid > 0, kill(pid, 0) == 0 || errno == EPERM,
            let name = FileManager.default.contents(atPath: "/proc/\(pid)/comm")
        else { return nil }
        return String(decoding: name, as: UTF8.self).hasPrefix("pumasi-broker") ? pid : nil
    }
}
