import Foundation
import PumasiShared

/// `pumasi-broker audit`: shows and filters the audit trail in a broker's data directory (running or not).
enum BrokerAuditCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker audit", abstract: "Show the audit trail: every state change and who made it.",
        options: [
            HostCommand.dataDirectoryOption, HostCommand.storeOption,
            .init(
                "principal", value: "name",
                help: "Only this principal's actions ('operator' for the broker host's own)."),
            .init(
                "action", value: "action",
                help: "Only this action, e.g. submission.submit, challenge.close, key.revoke."),
            .init("since", value: "time", help: "Only from this time on (2026-11-23T10:00:00Z)."),
            .init("json", help: "Print JSON."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(spec, arguments, environment: environment) { a, place in
            var since: Millis?
            if let text = a.value("since") {
                guard let value = WallClock.parse(text) else {
                    throw UsageError("--since must be a time such as 2026-11-23T10:00:00Z", usage: spec.usage)
                }
                since = value
            }
            let entries = try place.existingStore().auditTrail(
                principal: a.value("principal"), action: a.value("action"), since: since)
            if a.flag("json") {
                print(String(decoding: Wire.encode(entries), as: UTF8.self))
            } else {
                for e in entries {
                    print(
                        "\(WallClock.iso(e.at))  \(e.principal ?? "(broker)")  \(e.action)  \(e.object)  \(Logger.escaped(e.detail ?? ""))"
                    )
                }
            }
        }
    }
}
