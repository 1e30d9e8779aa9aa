import Foundation
import Testing

/// `pumasi-bench crowd` at a small scale, run as the built executable (it starts its own `pumasi-broker` process and
/// a relay shard, stops them by pid and removes its directory): the figures are the benchmark's, the invariants are
/// checked here.
@Suite("A crowd at the deadline (pumasi-bench crowd)", .tags(.slow), .timeLimit(.minutes(3)))
struct CrowdTests {
    /// The RESULT lines of a run, by name (`crowd-surge`), each as its key=value fields.
    static func results(_ stdout: String) -> [String: [String: String]] {
        var results: [String: [String: String]] = [:]
        for fields in lines(stdout, kind: "RESULT") { if let name = fields["name"] { results[name] = fields } }
        return results
    }

    /// The key=value fields of each line of a run that starts with `kind` (`RESULT`, `STEP`), in order.
    static func lines(_ stdout: String, kind: String) -> [[String: String]] {
        stdout.split(separator: "\n").filter { $0.hasPrefix(kind + " ") }.map { line in
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ").dropFirst() {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            return fields
        }
    }

    @Test func aSmallCrowdIsServedAndNothingAcknowledgedIsLost() throws {
        let run = try CLIProcess(
            "pumasi-bench",
            [
                "crowd", "relays=50", "evaluators=10", "solvers=20", "submissions=200", "window=3",
                // The broker with two I/O threads (`--io-threads`): a restart and a fan-out through both.
                "announcements=2", "flood-factor=5", "local-relays=20", "broker-io-threads=2",
            ])
        let result = run.finish(within: 150)
        #expect(result.termination == .exit(0), "\(result)")
        let figures = Self.results(result.stdout)

        let connect = try #require(figures["crowd-connect"], "\(result)")
        #expect(connect["relays_served"] == "50")
        #expect(connect["evaluators_served"] == "10")
        #expect(connect["solvers_served"] == "20")
        // 30 of the relays in another process, whose reports count as the others do.
        #expect(connect["relays_in_shards"] == "30")
        #expect(connect["shards"] == "1")
        #expect(try #require(figures["crowd-memory"])["connections"] == "81")
        // Every subscriber got every timed announcement.
        #expect(try #require(figures["crowd-fanout"])["missed"] == "0")

        var accepted = 0
        for name in ["crowd-surge", "crowd-flood", "crowd-poll"] {
            let surge = try #require(figures[name], "\(result)")
            #expect(surge["finished"] == "true", "\(name)")
            #expect(surge["unanswered"] == "0", "\(name)")
            // The deadline falls inside the window: some were taken before it and some refused after it, and none
            // on the wrong side.
            #expect(Int(surge["accepted"] ?? "") ?? 0 > 0, "\(name)")
            #expect(Int(surge["refused_closed"] ?? "") ?? 0 > 0, "\(name)")
            #expect(surge["accepted_after_deadline"] == "0", "\(name)")
            #expect(surge["refused_before_deadline"] == "0", "\(name)")
            accepted += Int(surge["accepted"] ?? "") ?? 0
        }
        let fairness = try #require(figures["crowd-flood-fairness"])
        #expect(fairness["flooder_sent"] == "50")
        // A fifth of the solvers polled the board every second of the 3 s window, and each poll was answered.
        let polls = try #require(figures["crowd-poll-fairness"], "\(result)")
        #expect(polls["pollers"] == "4" && polls["polls"] == "12" && polls["boards_answered"] == "12", "\(polls)")
        #expect(polls["boards_refused"] == "0", "\(polls)")
        #expect(Int(polls["boards_made"] ?? "") ?? 0 >= 1, "\(polls)")

        let restart = try #require(figures["crowd-restart"], "\(result)")
        #expect(restart["relays_served"] == "50")
        #expect(restart["evaluators_served"] == "10")
        #expect(restart["solvers_served"] == "20")

        // Every receipt's submission is in the store, as the seeker's reports list them after the restart.
        let lost = try #require(figures["crowd-lost"], "\(result)")
        #expect(lost["acknowledged"] == String(accepted))
        #expect(lost["lost"] == "0")
    }

    @Test func aBadSettingIsNamed() throws {
        let result = try CLIProcess("pumasi-bench", ["crowd", "relays=many"]).finish(within: 10)
        #expect(result.termination == .exit(64))
        #expect(result.stderr.contains("relays must be a whole number of at least 0, not \"many\""), "\(result)")
        #expect(result.stderr.contains("Usage: pumasi-bench crowd"))
    }
}
