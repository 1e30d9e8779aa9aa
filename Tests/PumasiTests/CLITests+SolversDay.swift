import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A solver's day from the command line: a challenge by its handle, submissions with a comment, the list of mine,
/// help at every level, and shell completion.
extension CLITests {
    @Test func aSolverUsesHandlesCommentsAndTheListOfTheirSubmissions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let setup = try scoringSetup(in: dir)
        defer { setup.stop() }
        // The seeker names the challenge `pet-sounds`; it is taken once.
        let text = try String(contentsOfFile: setup.spec, encoding: .utf8)
        try dir.write(
            "spec.json", text.replacingOccurrences(of: "{\"title\"", with: "{\"slug\": \"pet-sounds\", \"title\""))
        let posted = try run("pumasi", ["post", setup.spec] + setup.b)
        #expect(posted.termination == .exit(0), "\(posted)")
        let again = try run("pumasi", ["post", setup.spec] + setup.b)
        #expect(again.termination == .exit(1) && again.stderr.contains("the handle pet-sounds is taken"), "\(again)")
        try dir.write(
            "bad.json", text.replacingOccurrences(of: "{\"title\"", with: "{\"slug\": \"Pet Sounds\", \"title\""))
        let bad = try run("pumasi", ["post", dir.file("bad.json")] + setup.b)
        #expect(bad.termination == .exit(1) && bad.stderr.contains("spec.slug must be 3-64 characters"), "\(bad)")

        let shown = try run("pumasi", ["show", "pet-sounds"] + setup.b)
        #expect(shown.stdout.hasPrefix("Pet sounds  [ch_") && shown.stdout.contains(", pet-sounds, open]"), "\(shown)")
        let submitted = try run(
            "pumasi",
            ["submit", "pet-sounds", dir.file("ada.csv"), "--solver", "ada", "-m", "first try: a forest", "--wait"]
                + setup.b)
        #expect(submitted.termination == .exit(0) && submitted.stdout.contains("0.75"), "\(submitted)")
        _ = try run("pumasi", ["submit", "pet-sounds", dir.file("bob.csv"), "--solver", "ada", "--wait"] + setup.b)
        _ = try run("pumasi", ["submit", "pet-sounds", dir.file("bob.csv"), "--solver", "bob", "--wait"] + setup.b)

        let mine = try decode(
            [SubmissionInfo].self,
            try run("pumasi", ["submissions", "pet-sounds", "--solver", "ada", "--json"] + setup.b))
        #expect(mine.count == 2 && mine.allSatisfy { $0.solver == "ada" }, "\(mine)")
        #expect(mine.map(\.score) == [0.375, 0.75], "newest first: \(mine)")
        #expect(mine.last?.comment == "first try: a forest")
        let table = try run("pumasi", ["submissions", "--solver", "ada"] + setup.b)
        #expect(table.stdout.hasPrefix("SUBMISSION"), "\(table)")
        #expect(table.stdout.contains("first try: a forest") && table.stdout.contains("scored"), "\(table)")
        let status = try run("pumasi", ["status", mine[1].submission] + setup.b)
        #expect(status.stdout.contains("\n  comment     first try: a forest"), "\(status)")
        let none = try run("pumasi", ["submissions", "--solver", "cy"] + setup.b)
        #expect(none.stdout == "No submissions yet.\n", "\(none)")
        let board = try run("pumasi", ["leaderboard", "pet-sounds"] + setup.b)
        #expect(board.termination == .exit(0) && board.stdout.contains("ada"), "\(board)")
    }

    @Test func helpWorksAtEveryLevel() throws {
        #expect(try pumasi("judge", "help", "next").stdout == (try pumasi("judge", "next", "--help")).stdout)
        #expect(try pumasi("team", "help", "create").stdout == (try pumasi("team", "create", "--help")).stdout)
        #expect(try pumasi("judge", "help").stdout == (try pumasi("judge", "--help")).stdout)
        let unknown = try pumasi("team", "help", "bogus")
        #expect(unknown.termination == .exit(64) && unknown.stderr.contains("unknown subcommand 'bogus'"), "\(unknown)")
    }

    @Test func shellCompletionNamesEveryCommandAndOption() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let script = try pumasi("completion", "bash")
        #expect(script.termination == .exit(0))
        try dir.write("pumasi.bash", script.stdout)
        // Real bash completes as a user's TAB would.
        func complete(_ words: [String]) throws -> [String] {
            let line = words.map { "'\($0)'" }.joined(separator: " ")
            let bash = Process()
            bash.executableURL = URL(fileURLWithPath: "/bin/bash")
            bash.arguments = [
                "-c",
                "source \(dir.file("pumasi.bash")); COMP_WORDS=(\(line)); COMP_CWORD=\(words.count - 1); _pumasi; "
                    + "printf '%s\\n' \"${COMPREPLY[@]}\"",
            ]
            let output = Pipe()
            bash.standardOutput = output
            try bash.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            bash.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        #expect(try complete(["pumasi", "sub"]) == ["submit", "submissions"])
        #expect(try complete(["pumasi", "judge", ""]).contains("next"))
        #expect(try complete(["pumasi", "submit", "ch", "f", "--me"]) == ["--message"])
        #expect(try complete(["pumasi", "post", "--bun"]) == ["--bundle"])
        let fish = try pumasi("completion", "fish")
        #expect(fish.stdout.contains("complete -c pumasi -n '__fish_use_subcommand' -a submissions"))
        let zsh = try pumasi("completion", "zsh")
        #expect(zsh.stdout.hasPrefix("autoload -U +X bashcompinit && bashcompinit\n"))
        let nope = try pumasi("completion", "tcsh")
        #expect(nope.termination == .exit(64) && nope.stderr.contains("bash, zsh or fish"), "\(nope)")
    }
}
