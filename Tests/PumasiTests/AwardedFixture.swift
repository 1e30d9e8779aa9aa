import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// A broker data directory in which challenges were posted, answered by two solvers, scored by a real evaluator,
/// closed and awarded through a real broker, which is stopped again: what the ledger and dump tests tamper with,
/// verify, dump and restore.
struct AwardedFixture {
    /// The broker's data directory.
    let directory: String
    /// The challenges, in the order awarded.
    let challenges: [String]
    /// Each challenge's `challenge.awarded` announcement, as subscribers received it.
    let awarded: [Announcement]

    init(in dir: TempDirectory, challenges count: Int = 3) throws {
        directory = dir.file("broker")
        var challenges: [String] = []
        var awarded: [Announcement] = []
        let broker = try BrokerHarness(directory: directory)
        defer { broker.shutdown() }
        let listener = try AnnouncementListener(broker.pub)
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let client = try client(broker)
        for index in 0..<count {
            let (spec, files) = sampleSpec(title: "Challenge \(index)")
            let challenge = try post(client, spec, files)
            let right = try submit(client, challenge.id, "ada", "42")
            let wrong = try submit(client, challenge.id, "bob", "41")
            #expect(try settled(client, right.submission).score == 1)
            #expect(try settled(client, wrong.submission).score == 0)
            _ = try client.call(Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
            let award = try #require(try listener.wait { $0.topic == .awarded && $0.challenge == challenge.id })
            challenges.append(challenge.id)
            awarded.append(award)
        }
        self.challenges = challenges
        self.awarded = awarded
    }

    var databasePath: String { (directory as NSString).appendingPathComponent("pumasi.sqlite3") }
    var headFilePath: String { (directory as NSString).appendingPathComponent(LedgerHeadFile.name) }

    /// The store's database, opened directly (not through a `Store`), as its owner could.
    func database() throws -> any SQLDatabase { try TestBackend.database(directory) }

    /// Runs SQL on the store as someone with access to the database would: no triggers spared.
    func tamper(_ sql: String, _ values: [SQLValue] = []) throws { try TestBackend.tamper(directory, sql, values) }

    /// How `ledger verify` names the head record that this backend keeps apart from the ledger.
    var headName: String { TestBackend.isSQLite ? "ledger.head" : "ledger_head" }

    /// The head recorded apart from the ledger: `ledger.head`, or the `ledger_head` row.
    func recordedHead() throws -> LedgerAnchor? {
        guard TestBackend.isSQLite else { return try LedgerHeadTable().read(database()) }
        return try FileManager.default.contents(atPath: headFilePath).map {
            try JSONDecoder().decode(LedgerAnchor.self, from: $0)
        }
    }

    /// Overwrites the head recorded apart from the ledger, as someone covering their tracks would.
    func overwriteHead(_ anchor: LedgerAnchor) throws {
        guard TestBackend.isSQLite else {
            return try tamper("UPDATE ledger_head SET seq = ?, hash = ?", [.integer(anchor.seq), .text(anchor.hash)])
        }
        try Wire.encode(anchor).write(to: URL(fileURLWithPath: headFilePath))
    }

    /// Removes the head recorded apart from the ledger.
    func removeHead() throws {
        guard TestBackend.isSQLite else { return try tamper("DELETE FROM ledger_head") }
        try FileManager.default.removeItem(atPath: headFilePath)
    }

    /// Rewrites ledger entry `seq` as someone who knows the format would: `change` applied to its fields, its text
    /// and hash recomputed, and the entries after it left alone.
    /// - Returns: the forged entry.
    func forge(_ seq: Int64, _ change: (inout LedgerEntry) -> Void) throws -> LedgerEntry {
        var entry = try #require(try Ledger.entries(database()).first { $0.seq == seq })
        change(&entry)
        entry.seal()
        try tamper(
            "UPDATE awards SET solver = ?, amount = ?, entry = ?, hash = ? WHERE id = ?",
            [.text(entry.solver), .text(entry.amount), .text(entry.text), .text(entry.hash), .integer(seq)])
        return entry
    }
}
