import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Challenges' programs in a pinned environment: an evaluator that has it (`--environment`) runs them under runc
/// with the run's directories at Codabench's `/app` paths and nothing else of the host; one that lacks it gets none
/// of the challenge's jobs.
@Suite("Challenges' programs in environments", .timeLimit(.minutes(2)))
struct ProgramEnvironmentTests {
    /// A busybox image with Codabench's mount points.
    static func image(_ fixture: ContainerTests.Fixture) throws -> ContainerEnvironment {
        for directory in [
            "app/program", "app/ingested_program", "app/input/ref", "app/input/res", "app/input_data", "app/output",
            "app/shared",
        ] {
            try FileManager.default.createDirectory(
                atPath: fixture.rootfs + "/" + directory, withIntermediateDirectories: true)
        }
        return fixture.environment
    }

    /// A scoring program in shell: the score is the number of lines of `res/answer.txt` that match `ref/truth.txt`,
    /// out of 4.
    static let scoring: [String: String] = [
        "metadata.yaml": "command: sh /app/program/score.sh /app/input /app/output\n",
        "score.sh": """
        right=$(grep -c -x -F -f "$1/ref/truth.txt" "$1/res/answer.txt")
        echo "right: $right"
        echo "{\\"score\\": $right}" > "$2/scores.json"
        """,
    ]

    /// An ingestion in shell: runs the submission's `run.sh` on the input data, after looking for what it must not
    /// reach: the reference data, the host's files and the network.
    static func ingestion(hostSecret: String) -> [String: String] {
        [
            "metadata": "command: sh $ingestion_program/ingest.sh $input $output $submission_program\n",
            "ingest.sh": """
            echo "reference: $(ls /app/input/ref | wc -l) files"
            cat \(hostSecret) 2>/dev/null && echo "host file: readable" || echo "host file: unreachable"
            ls /root /home 2>/dev/null | head -n 3
            wget -q -T 2 -O - http://127.0.0.1:9/ 2>/dev/null && echo "network: open" || echo "network: none"
            sh "$3/run.sh" "$1/questions.txt" > "$2/answer.txt"
            """,
        ]
    }

    @Test func aCodeSubmissionIsIngestedAndScoredInTheEnvironmentWithNothingOfTheHost() throws {
        try ContainerTests.requireRunc()
        let fixture = try CodabenchTests.Fixture()
        defer { fixture.remove() }
        let container = try ContainerTests.Fixture()
        defer { container.root.remove() }
        let environment = try Self.image(container)
        let secret = fixture.dir.file("secret.txt")
        try Data("the reference answers\n".utf8).write(to: URL(fileURLWithPath: secret))

        let broker = try BrokerHarness(directory: fixture.dir.file("broker"))
        defer { broker.shutdown() }
        let evaluator = try EvaluatorHarness(
            broker: broker.router, cache: fixture.dir.file("evaluator-cache"),
            configure: {
                $0.builtins = false
                $0.environments = [environment.name: environment.rootfs]
            })
        defer { evaluator.shutdown() }
        let client = try PumasiTests.client(broker)

        var scorer = ScorerSpec()
        scorer.program = "scoring.zip"
        scorer.environment = environment.name
        scorer.ingestion = IngestionSpec(program: "ingestion.zip", input: ["input.zip"], showLog: 10)
        var (spec, _) = sampleSpec(scorer: scorer)
        spec.files = ["scoring.zip", "ingestion.zip", "input.zip", "truth.txt"].map {
            FileEntry(name: $0, role: .reference)
        }
        let challenge = try post(
            client, spec,
            [
                try fixture.zip(Self.scoring), try fixture.zip(Self.ingestion(hostSecret: secret)),
                try fixture.zip(["questions.txt": "1\n2\n3\n4\n"]), Data("2\n4\n6\n9\n".utf8),
            ])
        let code = try fixture.zip(["run.sh": "while read n; do echo $((n * 2)); done < \"$1\"\n"])
        let request = SubmitRequest(challenge: challenge.id, solver: "ada", filename: "code.zip")
        let receipt = try client.call(Service.submit, request, files: [code], as: Receipt.self).0
        let info = try settled(client, receipt.submission, seconds: 60)
        #expect(info.state == .scored && info.score == 3, "\(info.error ?? "") \(info.log ?? "")")
        let log = info.log ?? ""
        #expect(log.contains("reference: 0 files"), "\(log)")
        #expect(log.contains("host file: unreachable") && !log.contains("the reference answers"), "\(log)")
        #expect(log.contains("network: none"), "\(log)")
        #expect(container.containersLeft()?.isEmpty != false)
    }

    @Test func anEvaluatorWithoutTheEnvironmentGetsNoneOfItsJobs() throws {
        let fixture = try CodabenchTests.Fixture()
        defer { fixture.remove() }
        let broker = try BrokerHarness(directory: fixture.dir.file("broker"))
        defer { broker.shutdown() }
        // Runs programs on its host, but has no environment: the challenge's jobs wait for one that has it.
        let evaluator = try EvaluatorHarness(
            broker: broker.router, cache: fixture.dir.file("evaluator-cache"),
            configure: {
                $0.builtins = false
                $0.hostPrograms = true
            })
        defer { evaluator.shutdown() }
        let client = try PumasiTests.client(broker)
        var scorer = ScorerSpec()
        scorer.program = "scoring.zip"
        scorer.environment = "test/busybox:1"
        var (spec, _) = sampleSpec(scorer: scorer)
        spec.files = [FileEntry(name: "scoring.zip", role: .reference), FileEntry(name: "truth.txt", role: .reference)]
        let challenge = try post(client, spec, [try fixture.zip(Self.scoring), Data("2\n".utf8)])
        let request = SubmitRequest(challenge: challenge.id, solver: "ada", filename: "answer.txt")
        let receipt = try client.call(Service.submit, request, files: [Data("2\n".utf8)], as: Receipt.self).0
        // The broker dispatches in the pass that stored the submission: a lease would show in this status already.
        let info = try status(client, receipt.submission)
        #expect(info.state == .queued && info.attempts == 0, "\(info)")
        #expect(info.note?.contains("no connected evaluator has the environment test/busybox:1") == true)
    }
}
