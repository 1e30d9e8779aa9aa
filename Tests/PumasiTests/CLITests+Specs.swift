import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// Issue 14, item 3: a spec file's unknown members, a scorer without what it needs and a JSON syntax error are
    /// refused before anything is sent, each naming the problem (and where, and the member meant).
    @Test(
        arguments: [
            (
                #""timeLimitSeconds": 10"#, #""timelimitSeconds": 10"#,
                "unknown member \"timelimitSeconds\": did you mean timeLimitSeconds?"
            ),
            (
                #""timeLimitSeconds": 10"#, #""timeLimitSeconds": 10, "rules": {"perday": 5}"#,
                "unknown member \"rules.perday\": did you mean rules.perDay?"
            ),
            (
                #""options": {"id": "id", "target": "label"}"#, #""optoins": {"id": "id", "target": "label"}"#,
                "unknown member \"scorer.optoins\": did you mean scorer.options?"
            ),
            (
                #""deadline": "+2h""#,
                #""phases": [{"name": "dev", "endsAt": "+1h"}, {"name": "final", "endsat": "+2h"}]"#,
                "unknown member \"phases[1].endsat\": did you mean phases[1].endsAt?"
            ),
            (
                #""target": "label""#, #""target": "labl""#,
                "scorer: option target=\"labl\" names no column of the reference file truth.csv "
                    + "(its columns are id, label)"
            ),
            (
                #""role": "reference""#, #""role": "public""#,
                "scorer: csv-accuracy compares submissions with a reference file, and the challenge has none "
                    + "(list one in files with \"role\": \"reference\")"
            ),
            (#""timeLimitSeconds": 10,"#, "\n  \"timeLimitSeconds\": 10,,", "3:26: expected a quoted member name"),
        ])
    func aBadSpecFileIsRefusedNamingWhereAndWhat(replacing: String, with: String, message: String) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let files = try CLIChallengeFiles(in: dir)
        let text = try String(contentsOfFile: files.spec, encoding: .utf8)
        #expect(text.contains(replacing))
        try dir.write("spec.json", text.replacingOccurrences(of: replacing, with: with))
        let refused = try run(
            "pumasi", ["post", "spec.json", "--broker", "tcp://127.0.0.1:1", "--timeout", "0.5"], in: dir.path)
        #expect(refused.termination == .exit(1), "\(refused)")
        let separator = message.first?.isNumber == true ? ":" : ": "
        #expect(refused.stderr == "Error: spec.json\(separator)\(message)\n", "\(refused)")
    }

    /// `post --dry-run` has the broker check the spec and its files whole, and posts nothing; a spec it refuses
    /// fails the same way as a post.
    @Test func aDryRunChecksASpecFileWithTheBrokerAndPostsNothing() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let b = ["--broker", broker.router]
        let files = try CLIChallengeFiles(in: dir)
        let checked = try run("pumasi", ["post", files.spec, "--dry-run"] + b)
        #expect(checked.termination == .exit(0), "\(checked)")
        #expect(
            checked.stdout.hasPrefix(
                "the spec is valid: Pet sounds, 500 USD, scorer builtin csv-accuracy (maximize), 2 files, open at once, "
                    + "deadline "),
            "\(checked)")
        #expect(checked.stdout.hasSuffix("; nothing was posted\n"), "\(checked)")
        #expect(try run("pumasi", ["list", "--json"] + b).stdout.contains("\"id\"") == false)

        // A deadline in the past is refused by the dry run too (before the broker is asked: see the offline test).
        try dir.write(
            "past.json",
            try String(contentsOfFile: files.spec, encoding: .utf8).replacingOccurrences(
                of: "\"+2h\"", with: "\"2020-01-01T00:00:00Z\""))
        let past = try run("pumasi", ["post", dir.file("past.json"), "--dry-run"] + b)
        #expect(past.termination == .exit(1) && past.stderr.contains("is not in the future"), "\(past)")
        #expect(try run("pumasi", ["post", files.spec] + b).stdout.hasPrefix("Posted ch_"))

        // A reference file too large for the message is not uploaded by a dry run: its header is checked here, and
        // the broker takes it as stated.
        try dir.write("big.csv", "id,label\n" + String(repeating: "1,cat\n", count: 300_000))
        let big = try String(contentsOfFile: files.spec, encoding: .utf8).replacingOccurrences(
            of: "truth.csv", with: "big.csv")
        try dir.write("big.json", big)
        let bigChecked = try run("pumasi", ["post", dir.file("big.json"), "--dry-run"] + b)
        #expect(bigChecked.stdout.hasPrefix("the spec is valid: Pet sounds, "), "\(bigChecked)")
        try dir.write("wrong.json", big.replacingOccurrences(of: "\"target\": \"label\"", with: "\"target\": \"y\""))
        let wrong = try run("pumasi", ["post", dir.file("wrong.json"), "--dry-run"] + b)
        #expect(
            wrong.stderr.hasSuffix(
                "wrong.json: scorer: option target=\"y\" names no column of the reference file big.csv (its columns "
                    + "are id, label)\n"), "\(wrong)")
        let listed = try run("pumasi", ["list", "--json"] + b).stdout
        #expect(listed.components(separatedBy: "\"id\"").count == 2, "one challenge, the one posted: \(listed)")
    }

    /// `post --dry-run` with no broker answering checks everything that needs none (the broker's own rules on the
    /// spec, as well as the spec file's members, dates, files and scorer's needs) and says which checks those were and
    /// which it could not make; a spec any of them refuses fails as a post would.
    @Test(
        arguments: [
            (
                #""deadline": "+2h""#, #""deadline": "2020-01-01T00:00:00Z""#,
                "spec.deadline 2020-01-01T00:00:00Z is not in the future"
            ),
            (
                #""currency": "USD""#, #""currency": "usd""#,
                "spec.award.currency must be an uppercase code such as USD or EUR"
            ),
            (
                #""timeLimitSeconds": 10"#, #""timeLimitSeconds": 10, "rules": {"perDay": 0}"#,
                "spec.rules.perDay must be from 1 to 1000000"
            ),
            (
                #""timeLimitSeconds": 10"#, #""timeLimitSeconds": 10, "slug": "Pet Sounds""#,
                "spec.slug must be 3-64 characters"
            ),
            (
                #""timeLimitSeconds": 10"#, #""timeLimitSeconds": 10, "rules": {"perday": 5}"#,
                "unknown member \"rules.perday\": did you mean rules.perDay?"
            ),
        ])
    func aDryRunWithoutABrokerChecksOfflineWhatNeedsNone(replacing: String, with: String, message: String) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let files = try CLIChallengeFiles(in: dir)
        let offline = ["--dry-run", "--broker", "tcp://127.0.0.1:1", "--timeout", "5"]
        let checked = try run("pumasi", ["post", files.spec] + offline)
        #expect(checked.termination == .exit(0), "\(checked)")
        #expect(
            checked.stdout.hasPrefix(
                "the spec is valid offline: Pet sounds, 500 USD, scorer builtin csv-accuracy (maximize), 2 files, "
                    + "open at once, deadline "), "\(checked)")
        #expect(checked.stdout.contains("\n  checked offline: JSON syntax and unknown members; dates "), "\(checked)")
        #expect(
            checked.stdout.contains("\n  not checked (they need the broker): whether the handle is taken; "),
            "\(checked)")
        #expect(
            checked.stderr.hasPrefix(
                "Warning: no broker answers at tcp://127.0.0.1:1 (connection refused): is it running? check --broker; "
                    + "the spec was checked offline only"), "\(checked)")
        let json = try decode(PostCheck.self, try run("pumasi", ["post", files.spec, "--json"] + offline))
        #expect(json.notChecked == PostCommand.brokerChecks && json.files == 2 && json.scorer == "builtin csv-accuracy")

        let text = try String(contentsOfFile: files.spec, encoding: .utf8)
        #expect(text.contains(replacing))
        try dir.write("bad.json", text.replacingOccurrences(of: replacing, with: with))
        let refused = try run("pumasi", ["post", dir.file("bad.json")] + offline)
        #expect(refused.termination == .exit(1), "\(refused)")
        #expect(refused.stderr.hasPrefix("Error: \(dir.file("bad.json")): \(message)"), "\(refused)")
    }
}
