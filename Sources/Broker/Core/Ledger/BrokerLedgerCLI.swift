import Foundation
import PumasiShared

/// `pumasi-broker ledger verify|show`: checks and lists the hash-chained award ledger in a broker's data directory
/// (running or not).
enum BrokerLedgerCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker ledger", abstract: "Verify or show the hash-chained award ledger.",
        discussion: """
            pumasi-broker ledger verify   recompute every entry's hash and link, and check the tail against
                                          ledger.head (ledger_head in PostgreSQL) and the heads that award announcements carried
            pumasi-broker ledger show     list the entries
            verify exits 0 when the ledger is intact, and 1 naming the first bad entry and what is wrong.
            """,
        arguments: [.init("action", help: "verify or show.")],
        options: [
            HostCommand.dataDirectoryOption, HostCommand.storeOption,
            .init("challenge", value: "id", help: "Only this challenge's entries (show)."),
            .init("json", help: "Print JSON."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(spec, arguments, environment: environment) { a, place in
            switch a[argument: "action"] {
            case "verify": try verify(place.existingStore(), json: a.flag("json"))
            case "show":
                try show(place.existingStore(), challenge: a.value("challenge"), json: a.flag("json"))
            default:
                throw UsageError("unknown action '\(a[argument: "action"] ?? "")': verify or show", usage: spec.usage)
            }
        }
    }

    private static func verify(_ store: Store, json: Bool) throws {
        let report = try store.verifyLedger()
        if json { print(String(decoding: Wire.encode(report), as: UTF8.self)) }
        if let first = report.problems.first {
            let more = report.problems.dropFirst().map { "\n  also: \($0.message)" }.joined()
            throw HostCommand.Failure("ledger broken: \(first.message)\(more)")
        }
        guard !json else { return }
        print(
            "ledger intact: \(LedgerVerifier.count(report.entries)), head \(report.head?.hash ?? LedgerEntry.genesis)")
        let record = store.ledgerHeadRecord.anchorName
        let announcements = report.anchors.count { $0 != record }
        let file = report.anchors.contains(record) ? [record] : []
        let all =
            file + (announcements > 0 ? ["\(announcements) award announcement\(announcements == 1 ? "" : "s")"] : [])
        if !all.isEmpty { print("tail checked against \(all.joined(separator: " and "))") }
    }

    private static func show(_ store: Store, challenge: String?, json: Bool) throws {
        let entries = try store.ledgerEntries(challenge: challenge)
        if json {
            print(String(decoding: Wire.encode(entries), as: UTF8.self))
            return
        }
        for e in entries {
            let score = e.score.map { "score \($0), " } ?? ""
            print(
                "#\(e.seq)  \(WallClock.iso(e.at))  \(e.challenge)  \(e.amount) \(e.currency) "
                    + "to \(Logger.escaped(e.solver)) for \(e.submission)  (\(score)\(e.policy))  \(e.hash)")
            if let rationale = e.rationale { print("    rationale: \(Logger.escaped(rationale))") }
            if let origin = e.origin { print("    origin: \(origin)") }
        }
    }
}
