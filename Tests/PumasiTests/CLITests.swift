import Foundation
import PumasiShared
import Testing

/// How a command-line process ended.
enum CLITermination: Equatable, CustomStringConvertible {
    case exit(Int32)
    case signal(Int32)

    var description: String {
        switch self {
        case .exit(let code): "exit \(code)"
        case .signal(let number): "killed by signal \(number)"
        }
    }
}

/// What one run of a built executable printed, and how it ended.
struct CLIResult: CustomStringConvertible {
    var termination: CLITermination
    var stdout: String
    var stderr: String

    var description: String { "\(termination)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---" }
}

/// A built executable (`pumasi`, `pumasi-broker`) running as a real subprocess, after swift-argument-parser's
/// `AssertExecuteCommand`. Its stdout and stderr go to files, so a chatty child never blocks on a full pipe
/// and a long-running one can be read while it runs. Stopped by its pid only; killed on deinit if still running.
final class CLIProcess {
    let name: String
    let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    /// The directory holding the executables: the test bundle's own directory or the nearest one above it with
    /// `pumasi` and `pumasi-broker` in it.
    static let binDirectory: String? = {
        let fm = FileManager.default
        let exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = (exe as NSString).deletingLastPathComponent
        for _ in 0..<6 {
            let tools = ["pumasi", "pumasi-broker"].map { (directory as NSString).appendingPathComponent($0) }
            if tools.allSatisfy(fm.isExecutableFile(atPath:)) { return directory }
            let parent = (directory as NSString).deletingLastPathComponent
            if parent == directory { break }
            directory = parent
        }
        return nil
    }()

    /// Starts `tool` with `arguments`; the environment is this process's minus any `PUMASI_*` setting, with
    /// `XDG_CONFIG_HOME` at a directory that does not exist (so no profile of the user's is read), plus `environment`.
    convenience init(
        _ tool: String, _ arguments: [String], in workingDirectory: String? = nil, environment: [String: String] = [:]
    ) throws {
        let directory = try #require(
            Self.binDirectory,
            "no executables named pumasi and pumasi-broker next to the test bundle (build with --build-tests)")
        try self.init(
            executable: (directory as NSString).appendingPathComponent(tool), arguments, in: workingDirectory,
            environment: environment)
    }

    /// Starts the program at `path` with `arguments`, with the same environment and output files as a tool.
    init(
        executable path: String, _ arguments: [String], in workingDirectory: String? = nil,
        environment: [String: String] = [:]
    ) throws {
        name = ([(path as NSString).lastPathComponent] + arguments).joined(separator: " ")
        let base = NSTemporaryDirectory() + "pumasi-cli-\(UUID().uuidString)"
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        let fm = FileManager.default
        guard fm.createFile(atPath: stdoutPath, contents: nil), fm.createFile(atPath: stderrPath, contents: nil),
            let out = FileHandle(forWritingAtPath: stdoutPath), let err = FileHandle(forWritingAtPath: stderrPath)
        else { throw CocoaError(.fileWriteUnknown) }
        defer {
            try? out.close()
            try? err.close()
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUMASI_") }
        process.environment?["XDG_CONFIG_HOME"] = NSTemporaryDirectory() + "pumasi-tests-no-config"
        process.environment?.merge(environment) { _, new in new }
        if (path as NSString).lastPathComponent == "pumasi-broker" {
            process.environment?.merge(try TestBackend.environment(forBroker: arguments)) { _, new in new }
        }
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    var stdout: String { String(decoding: FileManager.default.contents(atPath: stdoutPath) ?? Data(), as: UTF8.self) }
    var stderr: String { String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self) }

    /// Waits up to `seconds` for the process to exit; nil if it is still running.
    func waitForExit(seconds: Double) -> CLIResult? {
        _ = eventually(seconds: seconds) { !process.isRunning }
        guard !process.isRunning else { return nil }
        let status = process.terminationStatus
        let termination: CLITermination = process.terminationReason == .exit ? .exit(status) : .signal(status)
        return CLIResult(termination: termination, stdout: stdout, stderr: stderr)
    }

    /// Waits up to `seconds` until `condition(stdout, stderr)` holds; false if it did not or the process exited first.
    func wait(seconds: Double = 10, until condition: (_ stdout: String, _ stderr: String) -> Bool) -> Bool {
        eventually(seconds: seconds) { condition(stdout, stderr) || !process.isRunning } && condition(stdout, stderr)
    }

    /// Waits up to `seconds` for the process to end by itself; one that does not is stopped, and the test fails.
    func finish(within seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) -> CLIResult {
        if let result = waitForExit(seconds: seconds) { return result }
        let result = terminate(seconds: 2)
        Issue.record("\(name) did not finish within \(seconds) s: \(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Sends SIGTERM to the pid and waits up to `seconds`; a process that does not exit by then is killed.
    func terminate(seconds: Double = 10) -> CLIResult {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        if let result = waitForExit(seconds: seconds) { return result }
        kill(process.processIdentifier, SIGKILL)
        let killed = waitForExit(seconds: 5)
        return CLIResult(
            termination: .signal(SIGKILL), stdout: killed?.stdout ?? stdout,
            stderr: (killed?.stderr ?? stderr) + "\n[test: no exit within \(seconds) s of SIGTERM]")
    }

    /// Stops a long-running process with SIGTERM and expects a graceful exit 0.
    func stopGracefully(sourceLocation: SourceLocation = #_sourceLocation) {
        let result = terminate()
        #expect(result.termination == .exit(0), "\(name) after SIGTERM: \(result)", sourceLocation: sourceLocation)
    }
}

/// A `pumasi-broker` subprocess on ephemeral loopback ports, found through the `broker.json` it writes.
struct CLIBroker {
    let spawned: CLIProcess
    let router: String
    let pub: String
    /// The broker's CURVE public key; nil for an insecure broker.
    let publicKey: String?

    /// `insecure: false` starts it with CURVE: only keys registered in its data directory get in.
    init(dataDirectory: String, insecure: Bool = true, extra: [String] = []) throws {
        let spawned = try CLIProcess(
            "pumasi-broker",
            Self.arguments(dataDirectory: dataDirectory).filter { insecure || $0 != "--insecure" } + extra)
        let file = (dataDirectory as NSString).appendingPathComponent("broker.json")
        var endpoints: [String: String] = [:]
        _ = eventually(seconds: 10) {
            guard let data = FileManager.default.contents(atPath: file) else { return !spawned.process.isRunning }
            endpoints = (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
            return !endpoints.isEmpty
        }
        guard let router = endpoints["router"], let pub = endpoints["pub"], insecure || endpoints["publicKey"] != nil
        else {
            let result = spawned.terminate()
            throw CLITestFailure("pumasi-broker wrote no endpoints to \(file) within 10 s: \(result)")
        }
        self.spawned = spawned
        self.router = router
        self.pub = pub
        publicKey = endpoints["publicKey"]
    }

    /// Loopback ephemeral ports, warnings only.
    static func arguments(dataDirectory: String) -> [String] {
        [
            "--data-dir", dataDirectory, "--router", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*",
            "--log-level", "warning", "--insecure",
        ]
    }
}

/// A running CLI broker and an evaluator scoring for it (`CLITests.scoringSetup`), and a challenge spec to post.
struct CLIScoringSetup {
    let broker: CLIBroker
    let evaluator: CLIProcess
    /// The spec file's path.
    let spec: String

    /// `--broker` and the broker's endpoint, for every command.
    var b: [String] { ["--broker", broker.router] }

    /// Stops the evaluator, then the broker, each expected to exit 0 on SIGTERM.
    func stop() {
        evaluator.stopGracefully()
        broker.spawned.stopGracefully()
    }
}

struct CLITestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A challenge on disk as a seeker writes it: a spec, a public file, and a reference CSV scored by csv-accuracy.
struct CLIChallengeFiles {
    static let publicText = "id,feature\n1,whiskers\n2,bark\n3,purr\n4,wings\n5,fetch\n6,meow\n7,beak\n8,wag\n"
    static let truth = "id,label\n1,cat\n2,dog\n3,cat\n4,bird\n5,dog\n6,cat\n7,bird\n8,dog\n"
    /// 6 of 8 right (rows 4 and 8 wrong): accuracy 0.75.
    static let good = "id,label\n1,cat\n2,dog\n3,cat\n4,cat\n5,dog\n6,cat\n7,bird\n8,cat\n"
    /// 3 of 8 right (rows 1-3): accuracy 0.375.
    static let worse = "id,label\n1,cat\n2,dog\n3,cat\n4,dog\n5,cat\n6,dog\n7,cat\n8,bird\n"
    static let perfect = truth

    let spec: String

    init(
        in dir: TempDirectory, title: String = "Pet sounds", deadline: String = "+2h",
        scorer: String = #"{"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}}"#
    ) throws {
        try dir.write("train.csv", Self.publicText)
        try dir.write("truth.csv", Self.truth)
        spec = try dir.write(
            "spec.json",
            """
            {"title": "\(title)", "description": "Which animal makes each sound?", "deadline": "\(deadline)",
             "award": {"amount": 500, "currency": "USD"}, "scorer": \(scorer), "timeLimitSeconds": 10,
             "files": [{"path": "train.csv", "role": "public"}, {"path": "truth.csv", "role": "reference"}]}
            """)
    }
}

@Suite("Command line: the built executables", .timeLimit(.minutes(2)))
struct CLITests {
    // MARK: Help and version

    @Test func helpGoesToStdoutWithExit0() throws {
        for arguments in [["--help"], ["-h"], ["help"], ["help", "submit"], ["submit", "--help"], ["submit", "-h"]] {
            let result = try run("pumasi", arguments)
            #expect(result.termination == .exit(0), "\(arguments): \(result)")
            #expect(result.stderr.isEmpty, "\(arguments): \(result)")
            for heading in ["OVERVIEW: ", "USAGE: ", "OPTIONS:"] {
                #expect(result.stdout.contains(heading), "\(arguments) lacks \(heading): \(result)")
            }
        }
        let top = try pumasi("--help")
        #expect(top.stdout.hasPrefix("OVERVIEW: "))
        #expect(top.stdout.contains("USAGE: pumasi <subcommand>"))
        #expect(top.stdout.contains("SUBCOMMANDS:"))
        for name in [
            "post", "close", "list", "show", "download", "submit", "status", "leaderboard", "export", "judge",
            "evaluate", "relay",
        ] {
            #expect(top.stdout.contains("\n  \(name) "), "subcommand \(name) missing from --help")
        }
        let viaHelp = try pumasi("help", "submit")
        let viaFlag = try pumasi("submit", "--help")
        #expect(viaHelp.stdout == viaFlag.stdout)
        #expect(viaFlag.stdout.contains("USAGE: pumasi submit [<options>] <challenge> <file>"))
        #expect(viaFlag.stdout.contains("ARGUMENTS:"))
        #expect(viaFlag.stdout.contains("--solver <name>"))
    }

    @Test func versionIsPrinted() throws {
        let client = try pumasi("--version")
        #expect(client.termination == .exit(0))
        #expect(client.stdout == "0.1.0\n")
        #expect(client.stderr.isEmpty)
        let broker = try run("pumasi-broker", ["--version"])
        #expect(broker.termination == .exit(0))
        #expect(broker.stdout == "0.1.0\n")
    }

    @Test func brokerHelpGoesToStdoutWithExit0() throws {
        let result = try run("pumasi-broker", ["--help"])
        #expect(result.termination == .exit(0), "\(result)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.hasPrefix("OVERVIEW: "))
        #expect(result.stdout.contains("USAGE: pumasi-broker [<options>]"))
        #expect(result.stdout.contains("--data-dir <directory>"))
    }

    // MARK: Usage errors: exit 64, `Error: …` and a usage line on stderr, nothing on stdout

    @Test(arguments: [
        (["frobnicate"], "Usage: pumasi <subcommand>"),
        (["help", "frobnicate"], "Usage: pumasi <subcommand>"),
        (["submit"], "Usage: pumasi submit "),
        (["submit", "ch_x"], "Usage: pumasi submit "),
        (["submit", "ch_x", "a.csv", "extra"], "Usage: pumasi submit "),
        (["list", "--bogus"], "Usage: pumasi list "),
        (["list", "--state", "sleeping"], "Usage: pumasi list "),
        (["list", "--timeout", "nope"], "Usage: pumasi list "),
        (["list", "--json=yes"], "Usage: pumasi list "),
        (["show", "ch_x", "--broker"], "Usage: pumasi show "),
        (["leaderboard", "ch_x", "--limit", "-3"], "Usage: pumasi leaderboard "),
        (["leaderboard", "ch_x", "--final", "--provisional"], "Usage: pumasi leaderboard "),
        (["export", "ch_x", "--format", "xml"], "Usage: pumasi export "),
        (["export", "ch_x", "--output", "results.csv"], "Usage: pumasi export "),
        (["export", "ch_x", "--json"], "Usage: pumasi export "),
        (["evaluate", "--slots", "0"], "Usage: pumasi evaluate "),
    ])
    func usageErrorsExit64(arguments: [String], usage: String) throws {
        let result = try run("pumasi", arguments)
        #expect(result.termination == .exit(64), "\(arguments): \(result)")
        #expect(result.stdout.isEmpty, "\(arguments): \(result)")
        #expect(result.stderr.hasPrefix("Error: "), "\(arguments): \(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix(usage) }, "\(arguments): no line starting \"\(usage)\": \(result)")
    }

    @Test(arguments: [["--heartbeat-ms", "nope"], ["--heartbeat-ms", "5"], ["--bogus"], ["--router"]])
    func brokerUsageErrorsExit64(arguments: [String]) throws {
        let result = try run("pumasi-broker", arguments)
        #expect(result.termination == .exit(64), "\(arguments): \(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("Error: "), "\(result)")
        #expect(result.stderr.split(separator: "\n").contains { $0.hasPrefix("Usage: pumasi-broker") }, "\(result)")
    }

    /// Whole stderr, compared exactly as swift-argument-parser's `AssertExecuteCommand` does: the usage line and
    /// the help hint name the command that was misused (`See 'math add --help' …` in its MathExampleTests).
    @Test func usageErrorsReadExactlyLikeArgumentParsers() throws {
        let cases: [(tool: String, arguments: [String], stderr: String)] = [
            (
                "pumasi", ["frobnicate"],
                """
                Error: unknown subcommand 'frobnicate'
                Usage: pumasi <subcommand> [<options>]
                  See 'pumasi --help' for more information.

                """
            ),
            (
                "pumasi", ["list", "--bogus"],
                """
                Error: unknown option '--bogus'
                Usage: pumasi list [<options>]
                  See 'pumasi list --help' for more information.

                """
            ),
            (
                "pumasi", ["submit", "ch_x"],
                """
                Error: missing expected argument '<file>'
                Usage: pumasi submit [<options>] <challenge> <file>
                  See 'pumasi submit --help' for more information.

                """
            ),
            (
                "pumasi-broker", ["--heartbeat-ms", "nope"],
                """
                Error: --heartbeat-ms must be a whole number of at least 10
                Usage: pumasi-broker [<options>]
                  See 'pumasi-broker --help' for more information.

                """
            ),
        ]
        for (tool, arguments, stderr) in cases {
            let result = try run(tool, arguments)
            #expect(result.termination == .exit(64), "\(tool) \(arguments): \(result)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == stderr, "\(tool) \(arguments)")
        }
    }

    // MARK: Failures: exit 1 with `Error: …`

    @Test func noBrokerListeningIsAFailureNotAHang() throws {
        let result = try pumasi("list", "--broker", "tcp://127.0.0.1:1", "--timeout", "0.5")
        #expect(result.termination == .exit(1), "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.hasPrefix("Error: no broker answers at tcp://127.0.0.1:1 (connection refused)"), "\(result)")
    }

    @Test func unknownIdsFromALiveBrokerAreFailures() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }

        let status = try pumasi("status", "sub_zzzzzzzzzzzzzzzz", "--broker", broker.router)
        #expect(status.termination == .exit(1), "\(status)")
        #expect(status.stdout.isEmpty)
        #expect(status.stderr.hasPrefix("Error: no submission sub_zzzzzzzzzzzzzzzz"), "\(status)")

        let show = try pumasi("show", "ch_0000000000000000", "--broker", broker.router)
        #expect(show.termination == .exit(1), "\(show)")
        #expect(show.stderr.hasPrefix("Error: no challenge"), "\(show)")

        let list = try pumasi("list", "--broker", broker.router)
        #expect(list.termination == .exit(0), "\(list)")
        #expect(list.stdout == "No open challenges.\n")
        let listed = try decode([ChallengeInfo].self, try pumasi("list", "--json", "--broker", broker.router))
        #expect(listed.isEmpty)
    }

    @Test func badSpecFilesAreFailuresNamingTheProblem() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        // Never reached: each spec fails before any request is sent.
        let nowhere = ["--broker", "tcp://127.0.0.1:1", "--timeout", "0.5"]

        let missing = try run("pumasi", ["post", "missing.json"] + nowhere, in: dir.path)
        #expect(missing.termination == .exit(1), "\(missing)")
        #expect(missing.stdout.isEmpty)
        #expect(missing.stderr.hasPrefix("Error: "), "\(missing)")
        #expect(missing.stderr.contains("missing.json"), "\(missing)")

        _ = try CLIChallengeFiles(in: dir, deadline: "soon")
        let soon = try run("pumasi", ["post", "spec.json"] + nowhere, in: dir.path)
        #expect(soon.termination == .exit(1), "\(soon)")
        #expect(soon.stderr.hasPrefix("Error: spec.json: "), "\(soon)")
        #expect(soon.stderr.contains("deadline \"soon\""), "\(soon)")

        _ = try CLIChallengeFiles(in: dir, scorer: #"{"builtin": "csv-accuracy", "options": {"colour": "red"}}"#)
        let option = try run("pumasi", ["post", "spec.json"] + nowhere, in: dir.path)
        #expect(option.termination == .exit(1), "\(option)")
        #expect(option.stderr.hasPrefix("Error: spec.json: "), "\(option)")
        #expect(option.stderr.contains("\"colour\""), "\(option)")
        #expect(option.stderr.contains("csv-accuracy"), "\(option)")

        _ = try CLIChallengeFiles(in: dir, scorer: #"{"plugin": "acc", "options": {"format": "kaggle"}}"#)
        let format = try run("pumasi", ["post", "spec.json"] + nowhere, in: dir.path)
        #expect(format.termination == .exit(1), "\(format)")
        #expect(format.stderr.hasPrefix("Error: spec.json: scorer: option \"format\" must be one of"), "\(format)")

        try dir.write("broken.json", #"{"title": "x""#)
        let broken = try run("pumasi", ["post", "broken.json"] + nowhere, in: dir.path)
        #expect(broken.termination == .exit(1), "\(broken)")
        #expect(broken.stderr == "Error: broken.json:1:14: expected ',' or '}' in object\n", "\(broken)")

        let solution = try run(
            "pumasi", ["submit", "ch_0000000000000000", "nothing.csv", "--solver", "ada"] + nowhere, in: dir.path)
        #expect(solution.termination == .exit(1), "\(solution)")
        #expect(solution.stderr.hasPrefix("Error: "), "\(solution)")
        #expect(solution.stderr.contains("nothing.csv"), "\(solution)")
    }

    @Test func anEvaluatorRefusesAPluginDirectoryThatIsNoScoringProgram() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("program"), withIntermediateDirectories: true)
        let arguments = ["evaluate", "--plugin", "acc=program", "--broker", "tcp://127.0.0.1:1", "--cache", "cache"]
        let result = try run("pumasi", arguments, in: dir.path)
        #expect(result.termination == .exit(1), "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.hasPrefix("Error: plugin acc: program is a directory without metadata.yaml or metadata"),
            "\(result)")
    }

    // MARK: Graceful shutdown

    /// `broker.json` is how scripts find a broker and know it is up, so from the moment it exists a SIGTERM must
    /// mean a graceful stop (exit 0): neither death by the signal nor a SIGTERM that is lost. The window is short,
    /// so a few brokers are tried, each stopped as soon as its file appears.
    @Test func aBrokerStopsGracefullyFromTheMomentItsEndpointsFileExists() throws {
        for attempt in 1...5 {
            let dir = try TempDirectory()
            defer { dir.remove() }
            let broker = try CLIProcess("pumasi-broker", CLIBroker.arguments(dataDirectory: dir.path))
            // Polls much faster than `eventually` so the SIGTERM lands right after the file appears.
            let deadline = WallClock.monotonicNanos() + 10_000_000_000
            while !FileManager.default.fileExists(atPath: dir.file("broker.json")), broker.process.isRunning,
                WallClock.monotonicNanos() < deadline
            {
                usleep(200)
            }
            try #require(FileManager.default.fileExists(atPath: dir.file("broker.json")), "\(broker.stderr)")
            let result = broker.terminate(seconds: 5)
            guard result.termination == .exit(0) else {
                Issue.record("broker \(attempt), SIGTERM just after broker.json appeared: \(result)")
                return
            }
        }
    }

    // MARK: A whole challenge through the command line

    @Test func aChallengeGoesFromPostToAwardThroughTheCommandLine() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let setup = try scoringSetup(in: dir)
        defer { setup.stop() }
        let b = setup.b

        let posted = try run("pumasi", ["post", setup.spec] + b)
        #expect(posted.termination == .exit(0), "\(posted)")
        #expect(posted.stdout.hasPrefix("Posted ch_"), "\(posted)")
        #expect(posted.stdout.contains("csv-accuracy, maximize"), "\(posted)")

        let listed = try decode([ChallengeInfo].self, try run("pumasi", ["list", "--json"] + b))
        let challenge = try #require(listed.first { posted.stdout.hasPrefix("Posted \($0.id): ") }, "\(listed)")
        let id = challenge.id
        #expect(challenge.title == "Pet sounds")
        #expect(challenge.state == .open)
        #expect(challenge.files.map(\.name) == ["train.csv"])
        let table = try run("pumasi", ["list"] + b)
        #expect(table.stdout.hasPrefix("ID "), "\(table)")
        #expect(table.stdout.contains(id))

        let shown = try run("pumasi", ["show", id] + b)
        #expect(shown.termination == .exit(0), "\(shown)")
        #expect(shown.stdout.hasPrefix("Pet sounds  [\(id), open]"), "\(shown)")
        #expect(shown.stdout.contains("train.csv"))
        #expect(!shown.stdout.contains("truth.csv"), "the reference file must stay private: \(shown)")

        let downloaded = try run("pumasi", ["download", id, "-o", dir.file("dl")] + b)
        #expect(downloaded.termination == .exit(0), "\(downloaded)")
        #expect(
            FileManager.default.contents(atPath: dir.file("dl/train.csv")) == Data(CLIChallengeFiles.publicText.utf8))
        #expect(!FileManager.default.fileExists(atPath: dir.file("dl/truth.csv")))

        let ada = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada", "--wait", "--json"] + b)
        #expect(ada.termination == .exit(0), "\(ada)")
        let adaInfo = try decode(SubmissionInfo.self, ada)
        #expect(adaInfo.state == .scored)
        #expect(adaInfo.solver == "ada")
        #expect(adaInfo.score == 0.75)
        #expect(adaInfo.metrics == ["accuracy": 0.75])
        #expect(adaInfo.message == "6 of 8 rows correct")
        #expect(adaInfo.filename == "ada.csv")

        let bob = try run("pumasi", ["submit", id, dir.file("bob.csv"), "--solver", "bob", "--wait", "--json"] + b)
        #expect(bob.termination == .exit(0), "\(bob)")
        let bobInfo = try decode(SubmissionInfo.self, bob)
        #expect(bobInfo.state == .scored)
        #expect(bobInfo.score == 0.375)

        let status = try run("pumasi", ["status", adaInfo.submission] + b)
        #expect(status.termination == .exit(0), "\(status)")
        #expect(status.stdout.hasPrefix("\(adaInfo.submission)  scored"), "\(status)")
        #expect(status.stdout.contains("score       0.75"), "\(status)")

        let board = try decode(Leaderboard.self, try run("pumasi", ["leaderboard", id, "--json"] + b))
        #expect(board.entries.map(\.solver) == ["ada", "bob"])
        #expect(board.entries.map(\.score) == [0.75, 0.375])
        #expect(board.entries.map(\.rank) == [1, 2])
        #expect(board.entries.map(\.submission) == [adaInfo.submission, bobInfo.submission])
        #expect(board.pending == 0 && board.failed == 0)
        let top = try decode(Leaderboard.self, try run("pumasi", ["leaderboard", id, "--json", "--limit", "1"] + b))
        #expect(top.entries.map(\.solver) == ["ada"])

        let human = try run("pumasi", ["leaderboard", id] + b)
        #expect(human.termination == .exit(0), "\(human)")
        let lines = human.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("RANK ") }, "no RANK header: \(human)")
        try #require(lines.count == header + 3, "a header and two rows: \(human)")
        #expect(
            lines[header + 1].hasPrefix("1 ") && lines[header + 1].contains(" ada ")
                && lines[header + 1].contains(" 0.750000 "))
        #expect(
            lines[header + 2].hasPrefix("2 ") && lines[header + 2].contains(" bob ")
                && lines[header + 2].contains(" 0.375000 "))

        let closed = try run("pumasi", ["close", id] + b)
        #expect(closed.termination == .exit(0), "\(closed)")
        #expect(closed.stdout.hasPrefix("Closed \(id): Pet sounds."), "\(closed)")

        var final: ChallengeInfo?
        _ = try eventually(seconds: 10) {
            final = try decode(ChallengeInfo.self, try run("pumasi", ["show", id, "--json"] + b))
            return final?.state == .awarded
        }
        let awarded = try #require(final)
        #expect(awarded.state == .awarded)
        #expect(awarded.winner?.solver == "ada")
        #expect(awarded.winner?.submission == adaInfo.submission)
        #expect(awarded.winner?.score == 0.75)
        #expect(awarded.winner?.amount == 500)
        let shownAwarded = try run("pumasi", ["show", id] + b)
        #expect(shownAwarded.stdout.contains("awarded       500 USD to ada (\(adaInfo.submission))"), "\(shownAwarded)")
        #expect(shownAwarded.stdout.contains("(winner takes all)"), "\(shownAwarded)")

        let late = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "bob"] + b)
        #expect(late.termination == .exit(1), "\(late)")
        #expect(late.stdout.isEmpty, "\(late)")
        #expect(late.stderr.hasPrefix("Error: challenge \(id) closed"), "\(late)")

        let again = try run("pumasi", ["close", id] + b)
        #expect(again.termination == .exit(1), "\(again)")
        #expect(again.stderr.hasPrefix("Error: "), "\(again)")
    }

    // MARK: A relay: announcements out, requests through

    @Test func aRelayShowsAnnouncementsAndForwardsSubmissions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let evaluator = try startWorker(
            ["evaluate", "--broker", broker.router, "--cache", dir.file("cache")], ready: "evaluator starting")
        defer { evaluator.stopGracefully() }
        // The relay binds an ephemeral port and logs the endpoint it got (ZMQ_LAST_ENDPOINT).
        let relay = try startWorker(
            [
                "relay", "--broker", broker.router, "--pub", broker.pub, "--listen", "tcp://127.0.0.1:*",
                "--outbox", dir.file("outbox.sqlite3"), "--owner", "cy",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")
        #expect(listen.hasPrefix("tcp://127.0.0.1:") && !listen.hasSuffix("*"), "\(listen)")

        // PUB/SUB drops what is published before the subscription lands: post until the relay shows one.
        let files = try CLIChallengeFiles(in: dir, title: "Relayed")
        try dir.write("cy.csv", CLIChallengeFiles.perfect)
        var id: String?
        let deadline = WallClock.monotonicNanos() + 10_000_000_000
        for _ in 0..<10 where id == nil && WallClock.monotonicNanos() < deadline {
            let posted = try decode(
                ChallengeInfo.self, try pumasi("post", files.spec, "--json", "--broker", broker.router))
            if relay.wait(seconds: 1, until: { stdout, _ in stdout.contains("challenge.opened \(posted.id) ") }) {
                id = posted.id
            }
        }
        let challenge = try #require(
            id, "the relay showed no challenge.opened within 10 s: \(relay.stdout)\n\(relay.stderr)")
        #expect(relay.stdout.contains("challenge.opened \(challenge) \"Relayed\" award 500 USD deadline "))

        let submitted = try pumasi("submit", challenge, dir.file("cy.csv"), "--broker", listen, "--solver", "cy")
        #expect(submitted.termination == .exit(0), "\(submitted)")
        #expect(submitted.stdout.hasPrefix("Submitted sub_"), "\(submitted)")
        let submission = try #require(word(after: "Submitted ", in: submitted.stdout))
        #expect(submitted.stdout.contains(" to \(challenge)"))

        let scored = "submission.scored \(challenge) \"Relayed\" \(submission) by cy scored 1"
        #expect(relay.wait(until: { stdout, _ in stdout.contains(scored) }), "no \(scored): \(relay.stdout)")

        // Reads go through the relay too, and its errors come back as the broker's.
        let info = try decode(SubmissionInfo.self, try pumasi("status", submission, "--json", "--broker", listen))
        #expect(info.state == .scored && info.score == 1 && info.solver == "cy")
        let unknown = try pumasi("status", "sub_zzzzzzzzzzzzzzzz", "--broker", listen)
        #expect(unknown.termination == .exit(1), "\(unknown)")
        #expect(unknown.stderr.hasPrefix("Error: no submission sub_zzzzzzzzzzzzzzzz"), "\(unknown)")

        let stopped = relay.terminate()
        #expect(stopped.termination == .exit(0), "relay after SIGTERM: \(stopped)")
        #expect(stopped.stderr.contains("relay stopped"), "\(stopped)")
    }

    // MARK: Judging: a judge's relay shows the work, `pumasi judge next` and `score` do it

    @Test func aJudgeTakesAndScoresSubmissionsThroughARelayAndDirectly() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let relay = try startWorker(
            [
                "relay", "--broker", broker.router, "--pub", broker.pub, "--listen", "tcp://127.0.0.1:*",
                "--outbox", dir.file("outbox.sqlite3"), "--topic", "judging.",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")
        let b = ["--broker", broker.router]

        let spec = try dir.write(
            "essay.json",
            """
            {"title": "Best essay", "description": "On pumps.", "deadline": "+2h",
             "award": {"amount": 300, "currency": "USD"}, "scorer": {"judge": true},
             "judging": {"perSubmission": 2, "combine": "median", "scale": {"min": 1, "max": 5}}}
            """)
        let challenge = try decode(ChallengeInfo.self, try run("pumasi", ["post", spec, "--json"] + b)).id
        let shown = try run("pumasi", ["show", challenge] + b)
        #expect(shown.stdout.contains("scorer        judges (higher is better)"), "\(shown)")
        #expect(shown.stdout.contains("judging       2 judges per submission, median, scale 1 to 5"), "\(shown)")
        try dir.write("ada-essay.md", "Pumps move water.")
        // --wait returns at once: a submission that waits for people is not waited for.
        let submitted = try run(
            "pumasi", ["submit", challenge, dir.file("ada-essay.md"), "--solver", "ada", "--wait"] + b)
        #expect(submitted.termination == .exit(0), "\(submitted)")
        #expect(submitted.stdout.contains(" judging\n"), "\(submitted)")
        #expect(submitted.stdout.contains("note        waiting for judges: 0 of 2 judgements in"), "\(submitted)")
        let submission = String(submitted.stdout.prefix { !$0.isWhitespace })
        #expect(submission.hasPrefix("sub_"), "\(submitted)")

        // The relay follows `judging.` only: it shows the work, and nothing else.
        let line =
            "judging.requested \(challenge) \"Best essay\" a submission awaits judging (2 judgements needed): "
            + "pumasi judge next --challenge \(challenge)"
        #expect(relay.wait(until: { stdout, _ in stdout.contains(line) }), "no \(line): \(relay.stdout)")
        #expect(!relay.stdout.contains("challenge.opened"), "\(relay.stdout)")

        let next = try run("pumasi", ["judge", "next", "--broker", listen, "--judge", "judy", "-o", dir.file("judy")])
        #expect(next.termination == .exit(0), "\(next)")
        let assignment = try #require(word(after: "Assignment ", in: next.stdout), "\(next)")
        #expect(next.stdout.hasPrefix("Assignment asg_"), "\(next)")
        #expect(next.stdout.contains(" for \(challenge) \"Best essay\"\n"), "\(next)")
        #expect(next.stdout.contains("scale       1 to 5"), "\(next)")
        #expect(!next.stdout.contains("ada") && !next.stdout.contains(submission), "blind: \(next)")
        let saved = dir.file("judy/\(assignment)-submission.md")
        #expect(next.stdout.contains("file        \(saved) (17 bytes"), "\(next)")
        #expect(FileManager.default.contents(atPath: saved) == Data("Pumps move water.".utf8))

        let scored = try run(
            "pumasi",
            [
                "judge", "score", assignment, "--score", "4", "--comment", "Clear.", "--judge", "judy", "--broker",
                listen,
            ])
        #expect(scored.termination == .exit(0), "\(scored)")
        #expect(scored.stdout == "Scored \(assignment): 4. It needs 1 more judgement.\n", "\(scored)")
        let again = try run("pumasi", ["judge", "next", "--broker", listen, "--judge", "judy", "-o", dir.file("judy")])
        #expect(again.stdout == "No assignment: nothing to judge in the challenges you judge right now.\n", "\(again)")
        let changed = try run("pumasi", ["judge", "score", assignment, "--score", "5", "--judge", "judy"] + b)
        #expect(changed.termination == .exit(1), "\(changed)")
        #expect(
            changed.stderr.hasPrefix("Error: \(assignment) was already scored 4.0: a judgement is final"), "\(changed)")

        // Another judge, directly against the broker, for scripts.
        struct Next: Decodable {
            var assignment: JudgeAssignment?
            var path: String?
        }
        let second = try decode(
            Next.self, try run("pumasi", ["judge", "next", "--json", "--judge", "jules", "-o", dir.file("jules")] + b))
        let place = try #require(second.assignment)
        #expect(second.path == dir.file("jules/\(place.assignment)-submission.md"))
        let receipt = try decode(
            JudgementReceipt.self,
            try run(
                "pumasi", ["judge", "score", place.assignment, "-s", "2", "-m", "Short.", "-j", "jules", "--json"] + b))
        #expect(receipt.remaining == 0 && receipt.score == 2)

        let status = try run("pumasi", ["status", submission] + b)
        #expect(status.stdout.hasPrefix("\(submission)  scored"), "\(status)")
        #expect(status.stdout.contains("score       3"), "\(status)")
        #expect(status.stdout.contains("judgement   4 by judy: Clear.\n  judgement   2 by jules: Short."), "\(status)")

        let missing = try run("pumasi", ["judge", "score", assignment, "--judge", "judy"] + b)
        #expect(missing.termination == .exit(64), "\(missing)")
        #expect(
            missing.stderr.hasPrefix(
                "Error: --score (or, with a scorecard, --criterion) is required\nUsage: pumasi judge score [<options>] <assignment>"
            ), "\(missing)")
        let group = try pumasi("judge")
        #expect(group.termination == .exit(0) && group.stdout.contains("SUBCOMMANDS:\n  next "), "\(group)")
        let bogus = try pumasi("judge", "bogus")
        #expect(
            bogus.termination == .exit(64) && bogus.stderr.hasPrefix("Error: unknown subcommand 'bogus'"), "\(bogus)")
        #expect(try pumasi("help", "judge", "next").stdout == (try pumasi("judge", "next", "--help")).stdout)
    }
}

extension CLITests {
    /// Runs a built executable to completion (bounded: killed after `seconds`).
    @discardableResult
    func run(
        _ tool: String, _ arguments: [String], in directory: String? = nil, seconds: Double = 30,
        environment: [String: String] = [:]
    ) throws -> CLIResult {
        try CLIProcess(tool, arguments, in: directory, environment: environment).finish(within: seconds)
    }

    func pumasi(_ arguments: String..., in directory: String? = nil) throws -> CLIResult {
        try run("pumasi", arguments, in: directory)
    }

    /// A CLI broker with an evaluator, the pet-sounds challenge's files in `dir`, and two solutions there:
    /// `ada.csv` (accuracy 0.75) and `bob.csv` (0.375).
    func scoringSetup(in dir: TempDirectory) throws -> CLIScoringSetup {
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        let evaluator = try startWorker(
            ["evaluate", "--broker", broker.router, "--cache", dir.file("cache")], ready: "evaluator starting")
        let files = try CLIChallengeFiles(in: dir)
        try dir.write("ada.csv", CLIChallengeFiles.good)
        try dir.write("bob.csv", CLIChallengeFiles.worse)
        return CLIScoringSetup(broker: broker, evaluator: evaluator, spec: files.spec)
    }

    /// Starts a long-running `pumasi` subcommand and waits (≤10 s) until its stderr shows `ready`.
    func startWorker(_ arguments: [String], ready: String, environment: [String: String] = [:]) throws -> CLIProcess {
        let worker = try CLIProcess("pumasi", arguments, environment: environment)
        guard worker.wait(until: { _, stderr in stderr.contains(ready) }) else {
            let result = worker.terminate()
            throw CLITestFailure("\(worker.name) did not log \"\(ready)\" within 10 s: \(result)")
        }
        return worker
    }

    func decode<T: Decodable>(
        _ type: T.Type, _ result: CLIResult, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(result.stdout.utf8))
        } catch {
            Issue.record("stdout is not \(type) JSON: \(error)\n\(result)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// The word after `prefix` in `text`, up to whitespace.
    func word(after prefix: String, in text: String) -> String? {
        guard let range = text.range(of: prefix) else { return nil }
        let rest = text[range.upperBound...]
        return String(rest.prefix { !$0.isWhitespace })
    }
}

extension CLITests {
    /// The broker asks for the longest listen queue there is and logs it as `net.core.somaxconn` caps it
    /// (docs/deploy.md, "Many connections"). What the socket got is not read back: Linux shows a listener's queue
    /// only through sock_diag (`ss`), which this checks nothing of.
    @Test func theBrokerLogsItsListenQueueAsSomaxconnCapsIt() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let text = try String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8)
        let somaxconn = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        let broker = try CLIProcess(
            "pumasi-broker",
            [
                "--data-dir", dir.file("broker"), "--router", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*",
                "--insecure", "--log-level", "info",
            ])
        defer { broker.stopGracefully() }
        #expect(broker.wait { _, stderr in stderr.contains("broker started") }, "\(broker.stderr)")
        let logged = "listen queue connections=\(min(65_535, somaxconn)) somaxconn=\(somaxconn)"
        #expect(broker.stderr.contains(logged), "\(broker.stderr)")
    }
}
