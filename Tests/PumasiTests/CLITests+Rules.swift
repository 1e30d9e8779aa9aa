import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

extension CLITests {
    /// Issue 5 through the built executables: limits and the quota, a final selection, an extension, a rescore,
    /// a disqualification, an admin's close, a discretionary award, and a draft cancelled by its seeker.
    @Test func seekersAndSolversUseTheRulesThroughTheCommandLine() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let setup = try scoringSetup(in: dir)
        defer {
            setup.evaluator.stopGracefully()
            setup.broker.spawned.stopGracefully()
        }
        let b = setup.b
        let spec = try dir.write(
            "rules.json",
            """
            {"title": "Pet sounds, with rules", "description": "d", "deadline": "+2h",
             "award": {"amount": 500, "currency": "USD", "policy": {"kind": "discretionary"}},
             "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
             "rules": {"perDay": 2, "finalSelection": 1}, "ranking": {"precision": 3},
             "files": [{"path": "train.csv", "role": "public"}, {"path": "truth.csv", "role": "reference"}]}
            """)
        let posted = try run("pumasi", ["post", spec, "--json"] + b)
        let id = try decode(ChallengeInfo.self, posted).id
        #expect(
            try run("pumasi", ["show", id] + b).stdout.contains("limits        2 a day, select 1 for the final ranking")
        )

        func submit(_ file: String, as solver: String, again: Bool = false) throws -> CLIResult {
            try run("pumasi", ["submit", id, dir.file(file), "--solver", solver] + (again ? ["--again"] : []) + b)
        }
        let first = try submit("ada.csv", as: "ada")
        #expect(first.stdout.contains("Quota: 1 of 2 left today (resets "), "\(first)")
        let ada1 = try #require(first.stdout.split(separator: " ").dropFirst().first.map(String.init))
        #expect(try submit("bob.csv", as: "ada").stdout.contains("Quota: 0 of 2 left today"))
        // The same command run again is the same submission, and costs nothing; --again is a new one, over the limit.
        let repeated = try submit("ada.csv", as: "ada")
        #expect(
            repeated.termination == .exit(0) && repeated.stdout.hasPrefix("Submitted \(ada1) ")
                && repeated.stdout.contains("the same submission; --again submits the file anew"), "\(repeated)")
        let over = try submit("ada.csv", as: "ada", again: true)
        #expect(over.termination == .exit(1) && over.stderr.contains("you have used today's 2 submissions"), "\(over)")
        let quota = try run("pumasi", ["quota", id, "--solver", "ada"] + b)
        #expect(quota.stdout.hasPrefix("0 of 2 left today (resets "), "\(quota)")
        let bob = try decode(
            Receipt.self, try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "bob", "--json"] + b))

        let selected = try run("pumasi", ["select", id, "--submission", ada1, "--solver", "ada"] + b)
        #expect(selected.stdout == "Selected for the final ranking: \(ada1)\n", "\(selected)")
        #expect(try run("pumasi", ["extend", id, "+3h"] + b).stdout.hasPrefix("Extended \(id): the deadline is now "))
        let rescored = try run(
            "pumasi", ["rescore", id, "--builtin", "csv-accuracy", "--option", "id=id", "--option", "target=label"] + b)
        #expect(rescored.stdout.hasPrefix("Rescoring \(id) with scorer version 2"), "\(rescored)")
        let disqualified = try run("pumasi", ["disqualify", bob.submission, "--reason", "copied ada's file"] + b)
        #expect(disqualified.stdout == "Disqualified \(bob.submission) by bob: copied ada's file\n", "\(disqualified)")
        let status = try run("pumasi", ["status", ada1, "--wait"] + b)
        #expect(
            status.stdout.contains("scorer      version 2") && status.stdout.contains("version 1   0.75"), "\(status)")

        let final = try run("pumasi", ["leaderboard", id, "--final"] + b)
        #expect(final.stdout.contains("final by score") && final.stdout.contains("0.750"), "\(final)")
        #expect(!final.stdout.contains(" bob "), "a disqualified solver is off the board: \(final)")
        #expect(try run("pumasi", ["close", id] + b).termination == .exit(0))
        // The award waits until the close has been handled and the rescore's scoring has finished.
        var awarded = try run("pumasi", ["award", id, "--pay", "\(ada1)=120.50", "--rationale", "the clearest"] + b)
        _ = try eventually {
            if awarded.termination != .exit(0) {
                awarded = try run(
                    "pumasi", ["award", id, "--pay", "\(ada1)=120.50", "--rationale", "the clearest"] + b)
            }
            return awarded.termination == .exit(0)
        }
        #expect(awarded.stdout == "\(id) is awarded: 120.5 USD to ada for \(ada1)\n", "\(awarded)")

        let draftSpec = try dir.write(
            "draft.json",
            """
            {"title": "Later", "description": "d", "deadline": "+2h", "startsAt": "+1h",
             "award": {"amount": 1, "currency": "USD"}, "scorer": {"builtin": "csv-accuracy"},
             "files": [{"path": "truth.csv", "role": "reference"}]}
            """)
        let draft = try run("pumasi", ["post", draftSpec] + b)
        #expect(draft.stdout.contains("(a draft until "), "\(draft)")
        let draftID = try #require(
            draft.stdout.split(separator: ":").first?.split(separator: " ").last.map(String.init))
        let cancelled = try run("pumasi", ["cancel", draftID, "--reason", "wrong data"] + b)
        #expect(cancelled.stdout == "Cancelled \(draftID): Later.\n", "\(cancelled)")
        let noReason = try run("pumasi", ["cancel", draftID] + b)
        #expect(noReason.termination == .exit(64), "\(noReason)")
    }

    /// Redundant scoring set in a spec file: two evaluator processes score each submission, and they agree.
    @Test func aSpecFileAsksForRedundantScoring() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let setup = try scoringSetup(in: dir)
        let second = try startWorker(
            ["evaluate", "--broker", setup.broker.router, "--cache", dir.file("cache-2")], ready: "evaluator starting")
        defer {
            second.stopGracefully()
            setup.evaluator.stopGracefully()
            setup.broker.spawned.stopGracefully()
        }
        let b = setup.b
        let spec = try dir.write(
            "replicas.json",
            """
            {"title": "Pet sounds, twice", "description": "d", "deadline": "+2h",
             "award": {"amount": 500, "currency": "USD"},
             "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
             "redundancy": {"replicas": 2, "tolerance": 0.001},
             "files": [{"path": "train.csv", "role": "public"}, {"path": "truth.csv", "role": "reference"}]}
            """)
        let id = try decode(ChallengeInfo.self, try run("pumasi", ["post", spec, "--json"] + b)).id
        let shown = try run("pumasi", ["show", id] + b)
        #expect(shown.stdout.contains("replicas      2 evaluators must agree within 0.001 (up to 4 tries)"), "\(shown)")
        let scored = try decode(
            SubmissionInfo.self,
            try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada", "--wait", "--json"] + b))
        #expect(scored.state == .scored && scored.score == 0.75, "\(scored)")
        #expect(scored.message?.contains("6 of 8") == true)
        let replicas = try TestBackend.store(dir.file("broker")).replicas(submission: scored.submission, version: 1)
        #expect(replicas.count == 2 && Set(replicas.map(\.evaluator)).count == 2, "\(replicas.map(\.evaluator))")
        let bad = try dir.write(
            "bad.json",
            #"{"title": "t", "description": "d", "deadline": "+1h", "award": {"amount": 1, "currency": "USD"}, "scorer": {"builtin": "exact"}, "redundancy": {"replicas": 1}}"#
        )
        let refused = try run("pumasi", ["post", bad] + b)
        #expect(
            refused.termination == .exit(1) && refused.stderr.contains("redundancy.replicas must be from 2 to 9"),
            "\(refused)")
    }
}
