import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// The pet-sounds challenge in two phases and no deadline: dev (ends in 1 h, scored on dev.csv, 3 a day) and
    /// final (ends in 2 h, scored on final.csv, for the top entrant of dev, who brings their best submission).
    /// `ada.csv` scores 0.75 on dev.csv.
    func phasedSpec(in dir: TempDirectory) throws -> String {
        try dir.write("train.csv", CLIChallengeFiles.publicText)
        try dir.write("dev.csv", CLIChallengeFiles.truth)
        try dir.write("final.csv", CLIChallengeFiles.worse)
        try dir.write("ada.csv", CLIChallengeFiles.good)
        return try dir.write(
            "phases.json",
            """
            {"title": "Pet sounds in phases", "description": "Which animal makes each sound?",
             "award": {"amount": 100, "currency": "USD"},
             "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
             "files": [{"path": "train.csv", "role": "public"}, {"path": "dev.csv", "role": "reference"},
                       {"path": "final.csv", "role": "reference"}],
             "phases": [{"name": "dev", "endsAt": "+1h", "reference": ["dev.csv"], "rules": {"perDay": 3}},
                        {"name": "final", "endsAt": "+2h", "reference": ["final.csv"], "qualify": {"top": 1},
                         "carryOver": true}]}
            """)
    }

    /// A phased spec file posted to a real broker: `show` prints the phases, `leaderboard --phase 1` names its
    /// phase, a phase that does not exist or has not opened is the broker's error, and the leaderboard CSV export
    /// has a phase column.
    @Test func aChallengeInPhasesShowsItsPhasesAndLeaderboards() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let evaluator = try startWorker(
            ["evaluate", "--broker", broker.router, "--cache", dir.file("cache")], ready: "evaluator starting")
        defer { evaluator.stopGracefully() }
        let b = ["--broker", broker.router]

        let info = try decode(ChallengeInfo.self, try run("pumasi", ["post", try phasedSpec(in: dir), "--json"] + b))
        let phases = try #require(info.phases, "\(info)")
        #expect(phases.map(\.name) == ["dev", "final"] && info.phase == 1, "\(info)")
        #expect(info.deadline == phases[1].endsAt && phases[1].endsAt - phases[0].endsAt == 3_600_000, "\(info)")
        let id = info.id

        let shown = try run("pumasi", ["show", id] + b)
        #expect(shown.termination == .exit(0), "\(shown)")
        #expect(
            shown.stdout.contains(
                """

                  phases        1 dev    ends \(WallClock.iso(phases[0].endsAt))  (open now)  reference dev.csv, 3 a day
                                2 final  ends \(WallClock.iso(phases[1].endsAt))  (upcoming)  reference final.csv, \
                top 1 of phase 1, carries the best submission over

                """), "\(shown)")

        let ada = try decode(
            SubmissionInfo.self,
            try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada", "--wait", "--json"] + b))
        #expect(ada.state == .scored && ada.score == 0.75, "\(ada)")
        let board = try run("pumasi", ["leaderboard", id, "--phase", "1"] + b)
        #expect(board.termination == .exit(0), "\(board)")
        let lines = board.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(
            lines == [
                "Pet sounds in phases [\(id), open] provisional by score, higher is better, phase 1 (dev)",
                "RANK SOLVER SCORE ENTRIES SUBMISSION SUBMITTED",
                "1 ada 0.750000 1 \(ada.submission) \(WallClock.iso(ada.receivedAt))",
            ], "\(board)")

        let missing = try run("pumasi", ["leaderboard", id, "--phase", "3"] + b)
        #expect(missing.termination == .exit(1) && missing.stdout.isEmpty, "\(missing)")
        #expect(missing.stderr == "Error: \(id) has phases 1 to 2, not 3\n", "\(missing)")
        let unopened = try run("pumasi", ["leaderboard", id, "--phase", "2"] + b)
        #expect(unopened.stderr == "Error: phase 2 of \(id) has not opened yet\n", "\(unopened)")
        let notANumber = try run("pumasi", ["leaderboard", id, "--phase", "0"] + b)
        #expect(notANumber.termination == .exit(64), "\(notANumber)")
        #expect(notANumber.stderr.hasPrefix("Error: --phase must be a phase's number: 1, 2, …\n"), "\(notANumber)")

        let csv = try run("pumasi", ["export", id, "--format", "leaderboard-csv"] + b)
        let table = try CSVTable.parse(csv.stdout)
        #expect(table.header.prefix(4) == ["phase", "rank", "solver", "submission"], "\(csv)")
        #expect(table.rows.map { Array($0.fields.prefix(5)) } == [["1", "1", "ada", ada.submission, "0.750000"]])
    }

    /// A spec file's phase ends read like its deadline; without a deadline it is the last phase's end, and one
    /// that differs is refused, naming the file.
    @Test func aSpecFilesPhaseEndsAndDeadline() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = try phasedSpec(in: dir)
        let now: Millis = 1_795_428_000_000
        let spec = try SpecFile.load(path, now: now).spec
        #expect(spec.phases?.map(\.endsAt) == [now + 3_600_000, now + 7_200_000])
        #expect(spec.deadline == now + 7_200_000)
        #expect(spec.phases?[1].qualify == PhaseSpec.Qualification(top: 1) && spec.phases?[1].carryOver == true)
        #expect(spec.phases?[0].rules?.perDay == 3 && spec.phases?[0].reference == ["dev.csv"])

        func refusal(_ text: String) throws -> String {
            let changed = try dir.write("changed.json", text)
            do {
                _ = try SpecFile.load(changed, now: now)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let original = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        let withDeadline = original.replacingOccurrences(
            of: "\"award\":", with: "\"deadline\": \"2026-11-23T13:00:00Z\", \"award\":")
        #expect(
            try refusal(withDeadline) == "\(dir.file("changed.json")): deadline 2026-11-23T13:00:00Z is not the last "
                + "phase's end, 2026-11-23T12:00:00Z: give them equal, or leave the deadline out")
        let equal = withDeadline.replacingOccurrences(of: "13:00:00Z", with: "12:00:00Z")
        #expect(try refusal(equal) == "accepted")
        #expect(
            try refusal(original.replacingOccurrences(of: "\"+1h\"", with: "\"soon\""))
                == "\(dir.file("changed.json")): phases[0].endsAt \"soon\" is not ISO 8601 (2026-12-31T00:00:00Z) "
                + "or relative (+2h)")
        #expect(
            try refusal(original.replacingOccurrences(of: "\"phases\"", with: "\"stages\""))
                .hasPrefix("\(dir.file("changed.json")): unknown member \"stages\" (known here: agreement, "))

        // Through the built executable: exit 1, the same message, nothing posted (no broker is asked).
        let posted = try run("pumasi", ["post", dir.file("changed.json"), "--broker", "tcp://127.0.0.1:1"])
        #expect(posted.termination == .exit(1) && posted.stdout.isEmpty, "\(posted)")
        #expect(
            posted.stderr.hasPrefix("Error: \(dir.file("changed.json")): unknown member \"stages\" (known here: "),
            "\(posted)")
    }
}
