import Foundation
import Testing

@testable import PumasiWorker

/// Competition bundles read into `CodabenchBundle`: Codabench's own test bundles (in `../shared/fixtures/codabench/`
/// next to the repository, unmodified), and small bundles written here for each way a bundle can be wrong.
@Suite("Codabench competition bundles")
struct CodabenchBundleTests {
    /// The fixtures folder: `../shared/fixtures/codabench` from the repository's root.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("../shared/fixtures/codabench").standardized.path

    /// The bundle in the fixture zip `name`, unpacked into `directory`.
    static func fixture(_ name: String, into directory: TempDirectory) throws -> CodabenchBundle {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name))
        return try CodabenchBundle(archive: data, unpackingInto: directory.path)
    }

    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
    }

    @Test func theV2WheatBundleReadsWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let bundle = try Self.fixture("competition.zip", into: dir)
        #expect(bundle.root == dir.path)
        #expect(bundle.version == 2)
        #expect(bundle.title == "Classify Wheat Seeds")
        #expect(bundle.description.hasPrefix("Classification of wheat seeds into three classes"))
        #expect(bundle.logo == "wheat.jpg")
        #expect(bundle.dockerImage == nil)
        #expect(bundle.terms == (try String(contentsOfFile: dir.file("terms.md"), encoding: .utf8)))
        #expect(bundle.pages.map(\.title) == ["Participation"])
        #expect(bundle.pages.first?.text == (try String(contentsOfFile: dir.file("participate.md"), encoding: .utf8)))
        #expect(
            bundle.tasks == [
                CodabenchBundle.Task(
                    index: 0, name: "Wheat Seed Developement Task", scoringProgram: "scoring_program",
                    ingestionProgram: "ingestion_program", inputData: "dev_phase/input_data",
                    referenceData: "dev_phase/reference_data"),
                CodabenchBundle.Task(
                    index: 1, name: "Wheat Seed Final Task", scoringProgram: "scoring_program",
                    ingestionProgram: "ingestion_program", inputData: "final_phase/input_data",
                    referenceData: "final_phase/reference_data"),
            ])
        try #require(bundle.phases.count == 2)
        let (development, testing) = (bundle.phases[0], bundle.phases[1])
        #expect(development.name == "Development Phase")
        #expect(development.description.hasPrefix("Development phase: tune your models"))
        #expect(development.start == Self.utc(2019, 8, 7))
        #expect(development.end == Self.utc(2019, 9, 30))
        #expect(development.tasks == [0])
        #expect(development.scoringProgram == "scoring_program")
        #expect(development.ingestionProgram == "ingestion_program")
        #expect(development.inputData == "dev_phase/input_data")
        #expect(development.referenceData == "dev_phase/reference_data")
        #expect(development.executionTimeLimitSeconds == nil && development.maxSubmissions == nil)
        #expect(testing.name == "Testing Phase")
        #expect(testing.start == Self.utc(2019, 10, 1))
        #expect(testing.end == nil)
        #expect(testing.tasks == [1])
        #expect(testing.inputData == "final_phase/input_data")
        #expect(testing.referenceData == "final_phase/reference_data")
        #expect(
            bundle.leaderboard == [
                CodabenchBundle.Column(key: "accuracy", title: "Prediction score", sorting: .descending),
                CodabenchBundle.Column(key: "duration", title: "Duration", sorting: .descending),
            ])
        #expect(bundle.solutions == ["solution.zip"])
        // The scoring program named is one the runner can start.
        let metadata = try CodabenchMetadata.load(programDirectory: dir.file(try #require(development.scoringProgram)))
        #expect(metadata.command == "python3 /app/program/scoring.py /app/input/ /app/output/")
    }

    @Test func theV1IrisBundleReadsWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let bundle = try Self.fixture("competition_15_iris.zip", into: dir)
        #expect(bundle.version == 1)
        #expect(bundle.title == "Iris")
        #expect(bundle.description == "The well known Iris dataset from Fisher's classic paper (Fisher, 1936).")
        #expect(bundle.dockerImage == "codalab/codalab-legacy:py37")
        #expect(bundle.logo == "logo.png")
        #expect(bundle.terms == (try String(contentsOfFile: dir.file("terms.html"), encoding: .utf8)))
        #expect(bundle.pages.map(\.title) == ["data", "evaluation", "overview"])
        #expect(bundle.pages.last?.text == (try String(contentsOfFile: dir.file("overview.html"), encoding: .utf8)))
        try #require(bundle.phases.count == 2)
        let (development, final) = (bundle.phases[0], bundle.phases[1])
        #expect(development.name == "Development")
        #expect(development.description.hasPrefix("Development phase: create models and submit them or directly"))
        #expect(development.description.hasSuffix("feed-back are provided on the validation set only."))
        #expect(development.start == Self.utc(2020, 1, 15, 18, 53))
        #expect(development.end == Self.utc(2020, 2, 14, 18, 53))
        #expect(development.executionTimeLimitSeconds == 500)
        #expect(development.maxSubmissions == 100)
        #expect(development.maxSubmissionsPerDay == 15)
        #expect(development.tasks == [0])
        #expect(development.scoringProgram == "scoring_program.zip")
        #expect(development.ingestionProgram == "ingestion_program.zip")
        #expect(development.inputData == "input_data_1_2.zip")
        #expect(development.referenceData == "reference_data_1.zip")
        #expect(development.publicData == "input_data_1_2.zip")
        #expect(development.startingKit == "starting_kit.zip")
        #expect(final.name == "Final")
        #expect(final.start == Self.utc(2020, 2, 15, 18, 53))
        #expect(final.end == nil)
        #expect(final.maxSubmissionsPerDay == 5)
        #expect(final.referenceData == "reference_data_2.zip")
        #expect(final.publicData == nil && final.startingKit == nil)
        #expect(bundle.tasks.map(\.name) == ["Development Task", "Final Task"])
        #expect(
            bundle.leaderboard == [
                CodabenchBundle.Column(key: "set1_score", title: "Prediction score", sorting: .descending),
                CodabenchBundle.Column(key: "Duration", title: "Duration", sorting: .descending),
            ])
        #expect(bundle.solutions == [])
    }

    @Test func aBundleInASingleTopLevelFolderIsRead() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let bundle = TestBundle(dir, folder: "my-competition")
        try bundle.write(TestBundle.validYAML)
        try FileManager.default.createDirectory(atPath: dir.file("__MACOSX"), withIntermediateDirectories: true)
        let read = try CodabenchBundle(directory: dir.path)
        #expect(read.root == dir.file("my-competition"))
        #expect(read.phases.map(\.scoringProgram) == ["scoring"])
        // A single top-level link to a bundle elsewhere is not followed.
        let linked = try TempDirectory()
        defer { linked.remove() }
        try FileManager.default.createSymbolicLink(
            atPath: linked.file("my-competition"), withDestinationPath: dir.file("my-competition"))
        #expect(bundle.failure(in: linked.path)?.hasPrefix("the bundle has no competition.yaml") == true)
        // Two folders and no competition.yaml at the top: which one is meant is not guessed.
        try FileManager.default.createDirectory(atPath: dir.file("other"), withIntermediateDirectories: true)
        #expect(
            bundle.failure(in: dir.path)
                == "the bundle has no competition.yaml at its top level or in a single top-level folder")
    }

    @Test func datesInCodabenchsForms() {
        let cases: [(String, Date?)] = [
            ("8-7-2019", Self.utc(2019, 8, 7)), ("12/31/2020", Self.utc(2020, 12, 31)),
            ("2020-01-15", Self.utc(2020, 1, 15)), ("2020-01-15 18:53:00+00:00", Self.utc(2020, 1, 15, 18, 53)),
            ("2020-01-15T18:53Z", Self.utc(2020, 1, 15, 18, 53)),
            ("2020-01-15 20:53:00+02:00", Self.utc(2020, 1, 15, 18, 53)),
            ("2020-01-15 18:53:00-0130", Self.utc(2020, 1, 15, 20, 23)),
            ("2020-01-15 18:53:30.5", Self.utc(2020, 1, 15, 18, 53).addingTimeInterval(30.5)),
            ("2019-02-29", nil), ("13-1-2019", nil), ("2019-1-32", nil), ("2019-01-15 24:00", nil),
            ("19-1-15", nil), ("tomorrow", nil), ("2020-01-15 18:53+25:00", nil), ("", nil), ("+1-+2-2019", nil),
        ]
        for (text, date) in cases {
            #expect(CodabenchDate.parse(text) == date, "\(text)")
        }
    }

    @Test func pathsThatLeaveTheBundleAreRefused() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let bundle = TestBundle(dir, folder: "bundle")
        let outside = dir.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bundle.file("link"), withDestinationPath: outside)
        let cases: [(String, String)] = [
            ("../outside", "task 0 scoring_program \"../outside\" names \"..\"; bundle paths must stay inside it"),
            ("scoring/../../outside", "names \"..\""),
            ("/etc", "task 0 scoring_program \"/etc\" is an absolute path; bundle paths are relative to it"),
            ("~/x", "is an absolute path"),
            ("link", "task 0 scoring_program \"link\" leads outside the bundle through a symbolic link"),
            ("missing/", "task 0 scoring_program \"missing/\" does not exist in the bundle"),
            ("[a, b]", "task 0 scoring_program must be a path, not a list or a mapping"),
            ("./", "task 0 scoring_program \"./\" names no file"),
        ]
        for (path, expected) in cases {
            try bundle.write(
                TestBundle.validYAML.replacingOccurrences(
                    of: "scoring_program: scoring", with: "scoring_program: \(path)"))
            let message = bundle.failure()
            #expect(message?.contains(expected) == true, "\(path): \(message ?? "read")")
        }
        try bundle.write(TestBundle.validYAML.replacingOccurrences(of: "terms: terms.md", with: "terms: ../outside"))
        #expect(bundle.failure()?.contains("terms \"../outside\" names \"..\"") == true)
        try bundle.write(TestBundle.validYAML.replacingOccurrences(of: "terms: terms.md", with: "terms: scoring"))
        #expect(bundle.failure() == "terms \"scoring\" is not a file")
        // A link inside the bundle is followed.
        try FileManager.default.createSymbolicLink(atPath: bundle.file("alias"), withDestinationPath: "scoring")
        try bundle.write(
            TestBundle.validYAML.replacingOccurrences(of: "scoring_program: scoring", with: "scoring_program: alias"))
        #expect(bundle.failure() == nil)
    }

    @Test func wrongBundlesAreNamedWithTheirProblem() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let bundle = TestBundle(dir)
        #expect(
            bundle.failure()
                == "the bundle has no competition.yaml at its top level or in a single top-level folder")
        let valid = TestBundle.validYAML
        let cases: [(String, String)] = [
            ("", "competition.yaml is empty"),
            ("- a\n- b\n", "competition.yaml is not a mapping of settings at its top level"),
            ("title: [x\n", "competition.yaml is not valid YAML: "),
            ("title: x\nphases:\n  - name: a\n   tasks: [0]\n", "at line 4, column"),
            (valid.replacingOccurrences(of: "title: Tiny", with: "title:"), "competition.yaml has no title"),
            (valid.replacingOccurrences(of: "version: 2", with: "version: 3"), "has version 3; only versions 1"),
            (
                valid.replacingOccurrences(of: "tasks: [0]", with: "tasks: [0, 3]"),
                "phase 1 (Dev) names task 3, which the bundle does not define"
            ),
            (valid.replacingOccurrences(of: "tasks: [0]", with: "tasks: []"), "phase 1 (Dev) names no task"),
            (
                valid.replacingOccurrences(of: "start: 1-2-2020", with: "start: soon"),
                "phase 1 (Dev) start \"soon\" is not a date"
            ),
            (
                valid.replacingOccurrences(of: "max_submissions: 5", with: "max_submissions: many"),
                "phase 1 (Dev) max_submissions must be a whole number, not \"many\""
            ),
            (
                valid.replacingOccurrences(of: "sorting: asc", with: "sorting: up"),
                "leaderboard column loss sorting must be \"asc\" or \"desc\", not \"up\""
            ),
            (
                valid.replacingOccurrences(
                    of: "  - index: 0\n    name: T", with: "  - index: 0\n    key: abc\n    name: T"),
                "task 0 refers to a task on a Codabench server by key"
            ),
            (valid + "  - index: 0\n    scoring_program: scoring\n", "two tasks have index 0"),
            (
                valid.replacingOccurrences(of: "file: page.md", with: "file: nowhere.md"),
                "page 1 file \"nowhere.md\" does not exist in the bundle"
            ),
        ]
        for (yaml, expected) in cases {
            try bundle.write(yaml)
            let message = bundle.failure()
            #expect(message?.contains(expected) == true, "\(expected): \(message ?? "read")")
        }
        try bundle.write(valid)
        let read = try CodabenchBundle(directory: bundle.root)
        #expect(read.phases.first?.maxSubmissions == 5)
        #expect(read.phases.first?.executionTimeLimitSeconds == 1.5)
        #expect(read.leaderboard == [CodabenchBundle.Column(key: "loss", title: "loss", sorting: .ascending)])
        #expect(read.pages == [CodabenchBundle.Page(title: "About", text: "# About\n")])
    }

    @Test(.enabled(if: ScoringTests.hasPython)) func aZipThatEscapesIsRefusedUnpacked() throws {
        let fixture = try CodabenchTests.Fixture()
        defer { fixture.remove() }
        let zip = try fixture.zip(["competition.yaml": TestBundle.validYAML, "../escaped.txt": "x"])
        try FileManager.default.createDirectory(atPath: fixture.dir.file("out"), withIntermediateDirectories: true)
        #expect {
            try CodabenchBundle(archive: zip, unpackingInto: fixture.dir.file("out"))
        } throws: { error in
            (error as? CodabenchBundle.Failure)?.message.hasPrefix("the bundle cannot be unpacked: ") == true
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.dir.file("escaped.txt")))
    }
}

/// A small v2 bundle written into a test's directory.
struct TestBundle {
    let root: String

    init(_ dir: TempDirectory, folder: String? = nil) {
        root = folder.map(dir.file) ?? dir.path
        try? FileManager.default.createDirectory(atPath: root + "/scoring", withIntermediateDirectories: true)
        try? Data("# Terms\n".utf8).write(to: URL(fileURLWithPath: root + "/terms.md"))
        try? Data("# About\n".utf8).write(to: URL(fileURLWithPath: root + "/page.md"))
    }

    static let validYAML = """
        version: 2
        title: Tiny
        terms: terms.md
        pages:
          - title: About
            file: page.md
        phases:
          - name: Dev
            start: 1-2-2020
            max_submissions: 5
            execution_time_limit_ms: 1500
            tasks: [0]
        leaderboards:
          - title: Results
            columns:
              - key: loss
                sorting: asc
        tasks:
          - index: 0
            name: T
            scoring_program: scoring

        """

    func file(_ name: String) -> String { root + "/" + name }

    func write(_ yaml: String) throws {
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: file("competition.yaml")))
    }

    /// The failure reading the bundle in `directory` (the root by default), or nil if it was read.
    func failure(in directory: String? = nil) -> String? {
        do {
            _ = try CodabenchBundle(directory: directory ?? root)
            return nil
        } catch {
            return error.message
        }
    }
}
