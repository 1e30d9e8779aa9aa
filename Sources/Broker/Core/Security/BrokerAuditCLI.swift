import Foundation
import PumasiShared

/// `pumasi-broker audit`: shows and filters the audit trail in a broker's data directory (running or not).
enum BrokerAuditCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker audit", abstract: "Show the audit trail: every state change and who made it.",
        options: [
            .init("data-dir", short: "d", value: "directory", help: "The broker's data directory. Default: $PUMASI_DATA or ./pumasi-data."),
            .init("principal", value: "name", help: "Only this principal's actions ('operator' for the broker host's own)."),
            .init("action", value: "action", help: "Only this action, e.g. submission.submit, challenge.close, key.revoke."),
            .init("since", value: "time", help: "Only from this time on (2026-11-23T10:00:00Z)."),
            .init("json", help: "Print JSON."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        do {
            let a = try spec.parse(arguments)
            if a.helpRequested {
                FileHandle.standardOutput.write(Data(spec.help.utf8))
                return 0
            }
            var since: Millis?
            if let text = a.value("since") {
                guard let value = WallClock.parse(text) else {
                    throw UsageError("--since must be a time such as 2026-11-23T10:00:00Z", usage: spec.usage)
                }
                since = value
            }
            let directory = a.value("data-dir") ?? environment["PUMASI_DATA"] ?? "pumasi-data"
            guard FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("pumasi.sqlite3"))
            else { throw BrokerKeysCLI.CommandError("no broker store in \(directory)") }
            let entries = try Store(directory: directory).auditTrail(
                principal: a.value("principal"), action: a.value("action"), since: since)
            if a.flag("json") {
                print(String(decoding: Wire.encode(entries), as: UTF8.self))
            } else {
                for e in entries {
                    print("\(WallClock.iso(e.at))  \(e.principal ?? "(broker)")  \(e.action)  \(e.object)  \(Logger.escaped(e.detail ?? ""))")
                }
            }
            return 0
        } catch let error as UsageError {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 64
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            return 1
        }
    }
}
