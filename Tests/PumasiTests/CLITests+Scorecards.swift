import Foundation
import PumasiShared
import Testing

extension CLITests {
    /// A scorecard through the built executables: `show` and `judge next` list the criteria with their weights,
    /// `judge score --criterion … --comment-for …` scores them, and `status` shows each criterion per judge.
    @Test func aJudgeScoresAScorecardCriterionByCriterion() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let b = ["--broker", broker.router]
        let spec = try dir.write(
            "pitch.json",
            """
            {"title": "Best pitch", "description": "A pump business.", "deadline": "+2h",
             "award": {"amount": 300, "currency": "USD"}, "scorer": {"judge": true},
             "judging": {"scale": {"min": 1, "max": 5}, "criteria": [
                {"name": "novelty", "weight": 2, "description": "How new is it?"},
                {"name": "market fit"}]}}
            """)
        let challenge = try decode(ChallengeInfo.self, try run("pumasi", ["post", spec, "--json"] + b)).id
        let shown = try run("pumasi", ["show", challenge] + b)
        #expect(
            shown.stdout.contains(
                "  criteria      novelty (weight 2): How new is it?\n                market fit (weight 1)"),
            "\(shown)")
        try dir.write("pitch.md", "Tidal pumps.")
        let submitted = try run("pumasi", ["submit", challenge, dir.file("pitch.md"), "--solver", "ada"] + b)
        let submission = try #require(word(after: "Submitted ", in: submitted.stdout), "\(submitted)")

        let next = try run("pumasi", ["judge", "next", "--judge", "judy", "-o", dir.file("judy")] + b)
        let assignment = try #require(word(after: "Assignment ", in: next.stdout), "\(next)")
        #expect(
            next.stdout.contains(
                "  criteria    novelty (weight 2): How new is it?\n              market fit (weight 1)\n"),
            "\(next)")
        #expect(
            next.stdout.hasSuffix(
                "Score it with: pumasi judge score \(assignment) --criterion \"novelty=<1 to 5>\" "
                    + "--criterion \"market fit=<1 to 5>\" --comment \"…\"\n"),
            "\(next)")

        func score(_ arguments: [String]) throws -> CLIResult {
            try run("pumasi", ["judge", "score", assignment, "--judge", "judy"] + arguments + b)
        }
        let missing = try score(["--criterion", "novelty=4"])
        #expect(missing.termination == .exit(1), "\(missing)")
        #expect(missing.stderr.hasPrefix("Error: criterion \"market fit\" is not scored"), "\(missing)")
        let unknown = try score(["--criterion", "novelty=4", "--criterion", "market fit=2", "--criterion", "cost=1"])
        #expect(unknown.stderr.hasPrefix("Error: no criterion \"cost\" in this challenge"), "\(unknown)")
        let offScale = try score(["--criterion", "novelty=6", "--criterion", "market fit=2"])
        #expect(
            offScale.stderr.hasPrefix("Error: criterion \"novelty\" must be scored from 1.0 to 5.0, not 6.0"),
            "\(offScale)")
        for (arguments, message) in [
            (["--criterion", "novelty"], "--criterion must be NAME=VALUE, not 'novelty'"),
            (["--criterion", "novelty=high"], "--criterion novelty must be scored with a number, not 'high'"),
            (["--criterion", "novelty=1", "--criterion", "novelty=2"], "--criterion novelty is given more than once"),
            ([], "--score (or, with a scorecard, --criterion) is required"),
        ] {
            let refused = try score(arguments)
            #expect(refused.termination == .exit(64), "\(refused)")
            #expect(refused.stderr.hasPrefix("Error: \(message)\nUsage: pumasi judge score"), "\(refused)")
        }

        // (2·4 + 1) / 3 = 3.
        let scored = try score([
            "--criterion", "novelty=4", "--criterion", "market fit=1", "--comment-for", "novelty=Bold.",
            "--comment", "Promising.",
        ])
        #expect(scored.termination == .exit(0), "\(scored)")
        #expect(
            scored.stdout
                == "Scored \(assignment): 3 (novelty 4, market fit 1). The submission's judging is complete.\n",
            "\(scored)")
        let status = try run("pumasi", ["status", submission] + b)
        #expect(status.stdout.contains("score       3\n"), "\(status)")
        #expect(
            status.stdout.hasSuffix("judgement   3 by judy: Promising.\n    novelty 4: Bold.\n    market fit 1\n"),
            "\(status)")

        let help = try pumasi("help", "judge", "score")
        #expect(help.stdout == (try pumasi("judge", "score", "--help")).stdout)
        #expect(help.stdout.contains("  --criterion <name=number>"), "\(help)")
        #expect(help.stdout.contains("one for every criterion. (repeatable)"), "\(help)")
        #expect(help.stdout.contains("  --comment-for <name=text>"), "\(help)")
    }
}
