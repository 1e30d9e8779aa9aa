import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Challenges that bring their own Codabench programs (`ScorerSpec.program`): posted with the challenge as reference
/// files, run by evaluators that opt in (`--programs`) on their own host, with ingestion of code submissions,
/// `/app` paths, canaries, and submissions that wait with a reason when nobody can score them.
@Suite("Challenges' own programs", .enabled(if: ScoringTests.hasPython), .timeLimit(.minutes(3)))
struct ProgramTests {
    /// A broker, an evaluator that runs challenges' programs on this host, and a client.
    struct Setup {
        let fixture: CodabenchTests.Fixture
        let broker: BrokerHarness
        var evaluator: EvaluatorHarness?
        let client: BrokerClient

        init(evaluator: Bool = true) throws {
            fixture = try CodabenchTests.Fixture()
            broker = try BrokerHarness(directory: fixture.dir.file("broker"))
            self.evaluator =
                evaluator
                ? try EvaluatorHarness(
                    broker: broker.router, cache: fixture.dir.file("evaluator-cache"),
                    configure: {
                        $0.builtins = false
                        $0.hostPrograms = true
                    }) : nil
            client = try PumasiTests.client(broker)
        }

        func shutdown() {
            evaluator?.shutdown()
            broker.shutdown()
            fixture.remove()
        }

        func events(of challenge: String) throws -> [Announcement] {
            try client.call(Service.events, EventsRequest(after: 0), as: EventLog.self).0.events.filter {
                $0.challenge == challenge
            }
        }

        func submit(_ challenge: String, _ solver: String, _ filename: String, _ data: Data) throws -> String {
            let request = SubmitRequest(challenge: challenge, solver: solver, filename: filename)
            return try client.call(Service.submit, request, files: [data], as: Receipt.self).0.submission
        }
    }

    /// A scoring program laid out as Codabench's documentation recommends: absolute `/app` paths, scores.json and a
    /// detailed results page.
    static let scoringProgram: [String: String] = [
        "metadata.yaml": "command: python3 /app/program/scoring.py /app/input/ /app/output/\n",
        "scoring.py": """
        import json, os, sys
        ref, res, out = os.path.join(sys.argv[1], "ref"), os.path.join(sys.argv[1], "res"), sys.argv[2]
        truth = open(os.path.join(ref, "labels.txt")).read().split()
        pred = open(os.path.join(res, "labels.txt")).read().split()
        correct = sum(a == b for a, b in zip(truth, pred))
        meta = open(os.path.join(res, "metadata")).read().strip() if os.path.exists(os.path.join(res, "metadata")) else "none"
        print("metadata:", meta)
        json.dump({"accuracy": correct / len(truth)}, open(os.path.join(out, "scores.json"), "w"))
        open(os.path.join(out, "detailed_results.html"), "w").write("<p>%d of %d right</p>" % (correct, len(truth)))
        """,
    ]

    /// An ingestion program in the CodaLab shape: `$input $output $ingestion_program $submission_program`; it
    /// imports the submission's `model.py`, runs it on the input data, and looks for the reference data, which it
    /// must not find.
    static let ingestionProgram: [String: String] = [
        "metadata":
            "command: python3 $ingestion_program/ingestion.py $input $output $ingestion_program $submission_program\n",
        "ingestion.py": """
        import os, sys
        input_dir, output_dir, program_dir, submission_dir = sys.argv[1:5]
        sys.path.append(submission_dir)
        from model import predict
        for line in range(30):
            print("ingestion line", line)
        hidden = [p for p in ("/app/input/ref", os.path.join(os.path.dirname(output_dir), "ref")) if os.path.exists(p) and os.listdir(p)]
        print("reference visible:", hidden)
        items = open(os.path.join(input_dir, "items.txt")).read().split()
        open(os.path.join(output_dir, "labels.txt"), "w").write(" ".join(predict(x) for x in items) + "\\n")
        """,
    ]

    /// A challenge scored by the programs above: labels a b b c.
    func spec(
        ingestion: Bool, canaries: [CanarySpec]? = nil, showLog: Int? = nil, environment: String? = nil
    ) -> (ChallengeSpec, [Data]) {
        var scorer = ScorerSpec()
        scorer.program = "scoring_program.zip"
        scorer.options = ["score-key": "accuracy"]
        scorer.environment = environment
        scorer.canaries = canaries
        if ingestion {
            scorer.ingestion = IngestionSpec(
                program: "ingestion_program.zip", input: ["input_data.zip"], timeLimitSeconds: 20, showLog: showLog)
        }
        var (spec, _) = sampleSpec(scorer: scorer)
        spec.direction = .maximize
        spec.timeLimitSeconds = 20
        spec.files = [
            FileEntry(name: "scoring_program.zip", role: .reference),
            FileEntry(name: "ingestion_program.zip", role: .reference),
            FileEntry(name: "input_data.zip", role: .reference),
            FileEntry(name: "labels.txt", role: .reference),
            FileEntry(name: "solution.zip", role: .reference),
            FileEntry(name: "broken.txt", role: .reference),
        ]
        return (spec, [])
    }

    func files(_ fixture: CodabenchTests.Fixture, scoring: [String: String] = scoringProgram) throws -> [Data] {
        [
            try fixture.zip(scoring), try fixture.zip(Self.ingestionProgram),
            try fixture.zip(["items.txt": "1 2 2 3\n"]), Data("a b b c\n".utf8),
            try fixture.zip(["model.py": Self.model(["1": "a", "2": "b", "3": "c"])]), Data("not a program\n".utf8),
        ]
    }

    static func model(_ table: [String: String]) -> String {
        let pairs = table.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        return "TABLE = {\(pairs)}\ndef predict(x):\n    return TABLE.get(x, \"?\")\n"
    }

    @Test func aResultSubmissionIsScoredByTheChallengesOwnProgramWithAppPaths() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        let (spec, _) = spec(ingestion: false)
        let challenge = try post(setup.client, spec, try files(setup.fixture))
        let submission = try setup.submit(
            challenge.id, "ada", "predictions.zip", try setup.fixture.zip(["labels.txt": "a b a c\n"]))
        let info = try settled(setup.client, submission)
        #expect(info.state == .scored && info.score == 0.75, "\(info.error ?? "") \(info.log ?? "")")
        #expect(info.metrics == ["accuracy": 0.75])
        #expect(info.log?.contains("metadata: none") == true, "no ingestion, so no metadata: \(info.log ?? "")")
        // The detailed results page is kept: its length in every status, the page when asked for.
        #expect(info.detailedResultsLength == 19 && info.detailedResults == nil, "\(info)")
        let details = try setup.client.call(
            Service.status, SubmissionRequest(submission: submission, details: true), as: SubmissionInfo.self
        ).0
        #expect(details.detailedResults == "<p>3 of 4 right</p>", "\(details.detailedResults ?? "")")
    }

    @Test func aCodeSubmissionRunsThroughTheIngestionWhichNeverSeesTheReferenceData() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        let (spec, _) = spec(ingestion: true, showLog: 3)
        let challenge = try post(setup.client, spec, try files(setup.fixture))
        let code = try setup.fixture.zip(["model.py": Self.model(["1": "a", "2": "b", "3": "b"])])
        let info = try settled(setup.client, try setup.submit(challenge.id, "ada", "code.zip", code))
        #expect(info.state == .scored && info.score == 0.75, "\(info.error ?? "") \(info.log ?? "")")
        let log = info.log ?? ""
        // The solver sees the ingestion's last 3 lines, not the rest; the scoring program found elapsedTime.
        #expect(log.contains("ingestion: finished in"), "\(log)")
        #expect(log.contains("reference visible: []"), "\(log)")
        #expect(!log.contains("ingestion line 27") && log.contains("ingestion line 29"), "\(log)")
        #expect(log.contains("metadata: elapsedTime: "), "\(log)")

        // Code that crashes fails as the solver's fault, with none of the ingestion's output shown by default.
        var quiet = spec
        quiet.scorer.ingestion?.showLog = nil
        quiet.title = "Quiet ingestion"
        let second = try post(setup.client, quiet, try files(setup.fixture))
        let crash = try setup.fixture.zip(["model.py": "raise RuntimeError('secret input is 1 2 2 3')\n"])
        let failed = try settled(setup.client, try setup.submit(second.id, "bob", "code.zip", crash))
        #expect(failed.state == .failed, "\(failed)")
        #expect(failed.error?.contains("the ingestion program failed on this submission") == true, "\(failed)")
        #expect(failed.log?.contains("secret input") != true, "\(failed.log ?? "")")
    }

    @Test func aCanaryThatScoresWronglyMakesEvaluatorsRefuseUntilTheScorerIsFixed() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        // The program scores 0.25 too low: the seeker's own solution must get 1.0, and gets 0.75.
        var wrong = Self.scoringProgram
        wrong["scoring.py"] = wrong["scoring.py"]!.replacingOccurrences(
            of: "correct / len(truth)", with: "correct / len(truth) - 0.25")
        let canaries = [
            CanarySpec(file: "solution.zip", score: 1.0), CanarySpec(file: "broken.txt", fails: true),
        ]
        var (spec, _) = spec(ingestion: true, canaries: canaries)
        spec.files?.append(FileEntry(name: "fixed_program.zip", role: .reference))
        let challenge = try post(
            setup.client, spec, try files(setup.fixture, scoring: wrong) + [try setup.fixture.zip(Self.scoringProgram)])
        let code = try setup.fixture.zip(["model.py": Self.model(["1": "a", "2": "b", "3": "c"])])
        let submission = try setup.submit(challenge.id, "ada", "code.zip", code)
        #expect(try eventually { try setup.events(of: challenge.id).contains { $0.topic == .misconfigured } })
        let info = try status(setup.client, submission)
        #expect(info.state == .queued, "no score, no failure: \(info)")
        #expect(info.note?.contains("failed its canary checks") == true, "\(info.note ?? "")")
        #expect(info.note?.contains("solution.zip was expected to get the score 1.0 but got the score 0.75") == true)
        let store = try TestBackend.store(setup.fixture.dir.file("broker"))
        #expect(try store.auditTrail(action: "challenge.misconfigured").count == 1)

        // The seeker fixes the scorer: the canaries pass and the waiting submission is scored.
        var fixed = spec.scorer
        fixed.program = "fixed_program.zip"
        _ = try setup.client.call(
            Service.rescore, RescoreRequest(challenge: challenge.id, scorer: fixed, reason: "fixed"),
            as: ChallengeInfo.self)
        let scored = try settled(setup.client, submission)
        #expect(scored.state == .scored && scored.score == 1.0, "\(scored)")
    }

    @Test func aCanaryThatMustFailButScoresIsAMisconfiguration() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        // A result-scoring program that scores anything, even a file that is no prediction, as 1.
        var lenient = Self.scoringProgram
        lenient["scoring.py"] =
            "import json, sys\njson.dump({'accuracy': 1.0}, open(sys.argv[2] + '/scores.json', 'w'))\n"
        let (spec, _) = spec(ingestion: false, canaries: [CanarySpec(file: "broken.txt", fails: true)])
        let challenge = try post(setup.client, spec, try files(setup.fixture, scoring: lenient))
        let submission = try setup.submit(challenge.id, "ada", "labels.txt", Data("a b b c\n".utf8))
        #expect(try eventually { try setup.events(of: challenge.id).contains { $0.topic == .misconfigured } })
        let info = try status(setup.client, submission)
        #expect(info.state == .queued)
        #expect(info.note?.contains("broken.txt was expected to get to fail but got the score 1.0") == true, "\(info)")
    }

    @Test func submissionsWaitWithAReasonWhenNoEvaluatorHasTheEnvironment() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        let (spec, _) = spec(ingestion: false, environment: "example.org/nowhere:1")
        let challenge = try post(setup.client, spec, try files(setup.fixture))
        let submission = try setup.submit(challenge.id, "ada", "labels.txt", Data("a b b c\n".utf8))
        let info = try status(setup.client, submission)
        #expect(info.state == .queued)
        #expect(
            info.note == "waiting: no connected evaluator has the environment example.org/nowhere:1 that the "
                + "challenge's programs run in", "\(info.note ?? "")")
        let told = try setup.events(of: challenge.id).filter { $0.topic == .unserved }
        #expect(told.count == 1 && told.first?.message?.contains("example.org/nowhere:1") == true, "\(told)")
        // A second submission does not tell the seeker again.
        _ = try setup.submit(challenge.id, "bob", "labels.txt", Data("a b b c\n".utf8))
        #expect(try setup.events(of: challenge.id).filter { $0.topic == .unserved }.count == 1)
    }

    @Test func theBrokerRefusesProgramScorersThatNameMissingFilesOrBadEnvironments() throws {
        let setup = try Setup(evaluator: false)
        defer { setup.shutdown() }
        var (spec, _) = spec(ingestion: true)
        let data = try files(setup.fixture)
        spec.scorer.ingestion?.input = ["missing.zip"]
        #expect(
            refusal { _ = try post(setup.client, spec, data) }?.message
                == "spec.scorer names missing.zip, which is not one of the challenge's reference files")
        spec.scorer.ingestion?.input = nil
        spec.scorer.environment = "bad image name"
        #expect(refusal { _ = try post(setup.client, spec, data) }?.message.contains("\"environment\" must be") == true)
        spec.scorer.environment = nil
        spec.scorer.canaries = [CanarySpec(file: "solution.zip")]
        #expect(
            refusal { _ = try post(setup.client, spec, data) }?.message
                == "spec.scorer: canary solution.zip must give either \"score\" or \"fails\": true")
        spec.scorer.canaries = nil
        spec.scorer.plugin = "also"
        #expect(refusal { _ = try post(setup.client, spec, data) }?.message.contains("exactly one of") == true)
    }
}

/// Ingestions that misbehave, run by `ProgramRun` on this host under plugin containment: each fails as the
/// submission's fault with a reason, and nothing is scored.
@Suite("Ingestion under limits", .enabled(if: ScoringTests.hasPython), .timeLimit(.minutes(2)))
struct IngestionLimitTests {
    /// Runs a code submission whose `model.py` is `code` through the test ingestion and scoring programs.
    func run(_ code: String, limits: PluginLimits) throws -> Result<ScoreOutcome, ScoringFailure> {
        let fixture = try CodabenchTests.Fixture()
        defer { fixture.remove() }
        var files: [String: String] = [:]
        let data: [String: Data] = [
            "scoring_program.zip": try fixture.zip(ProgramTests.scoringProgram),
            "ingestion_program.zip": try fixture.zip(ProgramTests.ingestionProgram),
            "input_data.zip": try fixture.zip(["items.txt": "1 2 2 3\n"]), "labels.txt": Data("a b b c\n".utf8),
        ]
        for (name, bytes) in data {
            files[name] = fixture.dir.file("file-" + name)
            try bytes.write(to: URL(fileURLWithPath: files[name]!))
        }
        let submission = fixture.dir.file("code.zip")
        try fixture.zip(["model.py": code]).write(to: URL(fileURLWithPath: submission))
        var scorer = ScorerSpec()
        scorer.program = "scoring_program.zip"
        scorer.options = ["score-key": "accuracy"]
        scorer.ingestion = IngestionSpec(program: "ingestion_program.zip", input: ["input_data.zip"], showLog: 5)
        let work = fixture.dir.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let run = ProgramRun(
            scorer: scorer, limits: limits, executor: HostExecutor(sandbox: PluginRunner.isolation),
            placement: CodabenchPlacement(archiveLimits: ZipArchive.Limits()))
        do {
            return .success(try run.run(submissionFile: submission, files: files, work: work))
        } catch {
            return .failure(error)
        }
    }

    func failure(_ result: Result<ScoreOutcome, ScoringFailure>) -> ScoringFailure? {
        if case .failure(let error) = result { return error }
        Issue.record("scored: \(result)")
        return nil
    }

    @Test func anIngestionThatFillsTheDiskIsStoppedAtTheFileSizeLimit() throws {
        let code = """
            with open("fill.bin", "wb") as f:
                for _ in range(64):
                    f.write(b"x" * (1 << 20))
            def predict(x):
                return "a"
            """
        let failure = failure(try run(code, limits: PluginLimits(wallSeconds: 20, fileSizeBytes: 4 << 20)))
        #expect(failure?.code == ScoringFailure.badSubmission, "\(failure.map { "\($0)" } ?? "")")
        #expect(failure?.message.contains("the ingestion program failed on this submission") == true)
    }

    @Test(.enabled(if: PluginRunner.isolation.processCap != .none))
    func anIngestionThatForksWithoutEndIsHeldByTheProcessCap() throws {
        let code = """
            import os, time
            children = 0
            try:
                for _ in range(10000):
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                    children += 1
            except OSError as error:
                print("fork refused after", children, "children:", error)
                raise SystemExit(3)
            def predict(x):
                return "a"
            """
        let failure = failure(try run(code, limits: PluginLimits(wallSeconds: 20, processes: 32)))
        #expect(failure?.code == ScoringFailure.badSubmission, "\(failure.map { "\($0)" } ?? "")")
        #expect(failure?.log.contains("fork refused after") == true, "\(failure?.log ?? "")")
    }

    @Test func anIngestionThatHangsIsKilledAtItsOwnTimeLimit() throws {
        let code = "import time\ntime.sleep(60)\ndef predict(x):\n    return 'a'\n"
        let started = Date()
        let failure = failure(try run(code, limits: PluginLimits(wallSeconds: 2)))
        #expect(failure?.code == ScoringFailure.badSubmission)
        #expect(failure?.message.contains("timed out") == true, "\(failure?.message ?? "")")
        #expect(Date().timeIntervalSince(started) < 30)
    }
}

/// Canaries guard any automated scorer, a built-in one too: its canary files never reach it as reference data.
@Suite("Canaries of built-in scorers", .timeLimit(.minutes(1)))
struct BuiltinCanaryTests {
    @Test func aBuiltInScorerIsCheckedAgainstItsCanariesBeforeItScores() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try BrokerHarness(directory: dir.file("broker"))
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
        defer { evaluator.shutdown() }
        let client = try PumasiTests.client(broker)
        var (spec, files) = sampleSpec()
        spec.files?.append(FileEntry(name: "right.txt", role: .reference))
        spec.files?.append(FileEntry(name: "wrong.txt", role: .reference))
        spec.scorer.canaries = [CanarySpec(file: "right.txt", score: 1), CanarySpec(file: "wrong.txt", score: 0)]
        let good = try post(client, spec, files + [Data("42".utf8), Data("41".utf8)])
        let scored = try settled(client, try submit(client, good.id, "ada", "42").submission)
        #expect(scored.state == .scored && scored.score == 1, "\(scored)")

        // A seeker who expects the wrong answer to score 1: the evaluator refuses, nothing is scored.
        spec.title = "Misconfigured"
        spec.scorer.canaries = [CanarySpec(file: "wrong.txt", score: 1)]
        spec.files?.removeAll { $0.name == "right.txt" }
        let bad = try post(client, spec, files + [Data("41".utf8)])
        let waiting = try submit(client, bad.id, "bob", "42").submission
        var info = try status(client, waiting)
        #expect(
            try eventually {
                info = try status(client, waiting)
                return info.note?.contains("canary wrong.txt was expected to get the score 1.0 but got the score 0.0")
                    == true
            }, "\(info)")
        #expect(info.state == .queued && info.score == nil)
    }
}
