import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// The pinned Python environment the fixtures were written for, if built (`PUMASI_TEST_LEGACY_IMAGE`).
enum LegacyImage {
    static let path = ProcessInfo.processInfo.environment["PUMASI_TEST_LEGACY_IMAGE"]
}

/// Codabench's own test bundles and submissions, unmodified, posted with `pumasi post --bundle`'s reading and
/// scored end to end: in the pinned environment they were written for (`deploy/images/build-python-legacy.sh`,
/// `PUMASI_TEST_LEGACY_IMAGE`), where the scores are those of the programs run by hand in that environment; and on a
/// host whose numpy is 1.24, where the iris scoring program's silent wrong score (-0.999999) is caught by a canary.
@Suite(
    "Codabench bundles end to end", .tags(.slow), .timeLimit(.minutes(5)),
    .enabled(if: LegacyImage.path != nil && ContainerRunner.runtimeProblem() == nil))
struct CodabenchFixtureTests {
    static let image = LegacyImage.path
    static let legacy = "codalab/codalab-legacy:py37"

    struct Setup {
        let dir: TempDirectory
        let broker: BrokerHarness
        let client: BrokerClient

        init() throws {
            dir = try TempDirectory()
            broker = try BrokerHarness(directory: dir.file("broker"))
            client = try PumasiTests.client(broker, timeout: 30)
        }

        func evaluator(_ name: String, configure: @escaping (inout EvaluatorConfig) -> Void) throws -> EvaluatorHarness
        {
            try EvaluatorHarness(
                broker: broker.router, cache: dir.file("cache-" + name),
                configure: {
                    $0.builtins = false
                    configure(&$0)
                })
        }

        /// Posts a fixture bundle as `pumasi post --bundle` reads it.
        func post(_ bundle: String, _ adjust: (inout CodabenchBundle.PostOptions) -> Void = { _ in }) throws
            -> ChallengeInfo
        {
            let scratch = dir.file("bundle-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let archive = try Data(contentsOf: URL(fileURLWithPath: CodabenchBundleTests.fixtures + "/" + bundle))
            var options = CodabenchBundle.PostOptions(
                award: AwardSpec(amount: 100, currency: "USD"), deadline: WallClock.now() + 3_600_000,
                now: WallClock.now())
            adjust(&options)
            let posting = try CodabenchBundle(archive: archive, unpackingInto: scratch).posting(options)
            return try PumasiTests.post(client, posting.spec, posting.files)
        }

        /// Accepts the challenge's terms (the bundle's) for `solver`, and submits a fixture.
        func submit(_ challenge: String, _ solver: String, fixture name: String) throws -> String {
            let info = try client.call(Service.show, ChallengeRequest(challenge: challenge), as: ChallengeInfo.self).0
            if let agreement = info.agreement {
                _ = try client.call(
                    Service.accept, AcceptRequest(challenge: challenge, sha256: agreement.sha256, solver: solver),
                    as: ChallengeInfo.self)
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: CodabenchBundleTests.fixtures + "/" + name))
            let request = SubmitRequest(challenge: challenge, solver: solver, filename: name)
            return try client.call(Service.submit, request, files: [data], as: Receipt.self).0.submission
        }

        func shutdown() {
            broker.shutdown()
            dir.remove()
        }
    }

    /// The iris scoring program run by hand in the legacy environment on the result submission and phase 1's
    /// reference data: the score Pumasi must give.
    static func irisByHand(_ dir: TempDirectory) throws -> Double {
        let work = dir.file("by-hand")
        let fixtures = CodabenchBundleTests.fixtures
        for (zip, into) in [
            ("competition_15_iris.zip", "bundle"), ("submission_15_iris_result.zip", "input/res"),
        ] {
            try FileManager.default.createDirectory(atPath: work + "/" + into, withIntermediateDirectories: true)
            try ZipArchive.unpack(Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + zip)), into: work + "/" + into)
        }
        for (zip, into) in [("scoring_program.zip", "program"), ("reference_data_1.zip", "input/ref")] {
            try FileManager.default.createDirectory(atPath: work + "/" + into, withIntermediateDirectories: true)
            try ZipArchive.unpack(
                Data(contentsOf: URL(fileURLWithPath: work + "/bundle/" + zip)), into: work + "/" + into)
        }
        try FileManager.default.createDirectory(atPath: work + "/output", withIntermediateDirectories: true)
        let runner = ContainerRunner(
            environment: ContainerEnvironment(name: legacy, rootfs: image ?? ""),
            limits: PluginLimits(wallSeconds: 120), stateDirectory: dir.file("runc"))
        _ = try runner.execute(
            arguments: ["python", "/app/program/score.py", "/app/input", "/app/output"],
            mounts: [
                ContainerMount(source: work + "/program", destination: "/app/program", readOnly: false),
                ContainerMount(source: work + "/input", destination: "/app/input", readOnly: true),
                ContainerMount(source: work + "/output", destination: "/app/output", readOnly: false),
            ], workingDirectory: "/app/program"
        ) { _, log in ScoreOutcome(score: 0, log: log) }
        let scores = try String(contentsOfFile: work + "/output/scores.txt", encoding: .utf8)
        let line = scores.split(separator: "\n").first { $0.hasPrefix("set1_score:") } ?? ""
        return try #require(Double(line.dropFirst("set1_score:".count).trimmingCharacters(in: .whitespaces)))
    }

    @Test func theIrisBundleScoresResultsAndCodeInItsEnvironmentAndRefusesAHostThatGetsItWrong() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        let expected = try Self.irisByHand(setup.dir)
        #expect(expected != -0.999999, "the program must work in its own environment")
        let pinned = try setup.evaluator("pinned") { $0.environments = [Self.legacy: Self.image ?? ""] }
        defer { pinned.shutdown() }
        let canary = CanarySpec(file: "canary_submission_15_iris_result.zip", score: expected)
        let result = CodabenchBundleTests.fixtures + "/submission_15_iris_result.zip"
        let challenge = try setup.post("competition_15_iris.zip") { $0.canaries = [(result, canary, 1)] }
        #expect(challenge.scorer.contains(Self.legacy), "\(challenge.scorer)")

        let results = try settled(
            setup.client, try setup.submit(challenge.id, "ada", fixture: "submission_15_iris_result.zip"),
            seconds: 180)
        #expect(results.state == .scored && results.score == expected, "\(results.error ?? "") \(results.log ?? "")")
        #expect(results.metrics?["Duration"] != nil, "\(results.metrics ?? [:])")
        let code = try settled(
            setup.client, try setup.submit(challenge.id, "bob", fixture: "submission_15_iris_code.zip"), seconds: 180)
        #expect(code.state == .scored, "\(code.error ?? "") \(code.log ?? "")")
        #expect(code.score.map { $0 != -0.999999 && $0.isFinite } == true, "\(code)")

        // The same bundle on this host's programs, with Debian 12's numpy 1.24: its scoring program would write its
        // placeholder -0.999999 and exit 0; the canary catches it and nothing is scored.
        let hosted = try setup.post("competition_15_iris.zip") {
            $0.canaries = [(result, canary, 1)]
            $0.onHost = true
        }
        let onHost = try setup.evaluator("host") { $0.hostPrograms = true }
        defer { onHost.shutdown() }
        let waiting = try setup.submit(hosted.id, "eve", fixture: "submission_15_iris_result.zip")
        var info = try status(setup.client, waiting)
        #expect(
            try eventually(seconds: 120) {
                info = try status(setup.client, waiting)
                return info.note?.contains("failed its canary checks") == true
            }, "\(info)")
        #expect(info.state == .queued && info.score == nil)
        #expect(info.note?.contains("got the score -0.999999") == true, "\(info.note ?? "")")
    }

    @Test func theWheatBundleRunsItsIngestionOnTheSubmissionsCodeWithAppPaths() throws {
        let setup = try Setup()
        defer { setup.shutdown() }
        let pinned = try setup.evaluator("pinned") { $0.environments = [Self.legacy: Self.image ?? ""] }
        defer { pinned.shutdown() }
        // The bundle names no image (Codabench would use its default): the seeker pins one.
        let challenge = try setup.post("competition.zip") { $0.environment = Self.legacy }
        let info = try settled(
            setup.client, try setup.submit(challenge.id, "ada", fixture: "submission.zip"), seconds: 180)
        #expect(info.state == .scored, "\(info.error ?? "") \(info.log ?? "")")
        // The submission clusters with an unseeded KMeans, so its accuracy differs from run to run (by hand too):
        // a share of the 40 test seeds, with the ingestion's duration beside it.
        let score = try #require(info.score)
        #expect((0...1).contains(score) && abs(score * 40 - (score * 40).rounded()) < 1e-9, "\(score)")
        #expect((info.metrics?["duration"] ?? -1) > 0, "\(info.metrics ?? [:])")
    }
}
