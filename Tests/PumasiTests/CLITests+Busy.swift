import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// A solver over the broker's rate is answered busy; `pumasi` says so once on stderr, waits the time given, sends
    /// again and succeeds.
    @Test func theCommandLineWaitsOutABusyBrokerAndSucceeds() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // One submission every 2 s, one at a time: the second command comes sooner.
        let keyed = try CLIKeyedBroker(
            in: dir, principals: ["root": "admin", "ada": "solver"],
            extra: ["--admit-rate", "0.5", "--admit-burst", "1"])
        defer { keyed.broker.spawned.stopGracefully() }
        let files = try CLIChallengeFiles(in: dir)
        try dir.write("ada.csv", CLIChallengeFiles.good)
        let posted = try run("pumasi", ["post", files.spec] + keyed.as("root"))
        let id = try #require(word(after: "Posted ", in: posted.stdout)?.dropLast().description, "\(posted)")

        let first = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--json"] + keyed.as("ada"))
        #expect(first.termination == .exit(0), "\(first)")
        let second = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--again", "--json"] + keyed.as("ada"))
        #expect(second.termination == .exit(0), "\(second)")
        let receipts = [try decode(Receipt.self, first), try decode(Receipt.self, second)]
        #expect(Set(receipts.map(\.submission)).count == 2, "\(receipts)")
        #expect(receipts.allSatisfy { $0.submission.hasPrefix("sub_") && !$0.duplicate })
        let told = second.stderr.components(separatedBy: "busy: you are sending faster than 0.5 submissions a second")
        #expect(told.count == 2, "said once: \(second)")
        #expect(second.stderr.contains("; sending again in "), "\(second)")
    }
}
