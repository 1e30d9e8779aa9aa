import Foundation
import Glibc
import Testing

@testable import PumasiWorker

extension Tag {
    /// Integration tests that take more than a few seconds or need something built ahead (an image).
    @Tag static var slow: Self
}

/// Programs run inside a pinned environment with runc (`ContainerRunner`), in a tiny root file system made of
/// busybox: output, mounts, no network, a read-only root, the wall-clock, memory and process limits, and the
/// failures. Tests that need runc cancel themselves, with the reason, when it is missing or the user is not root.
@Suite("Containers", .timeLimit(.minutes(1)))
struct ContainerTests {
    /// A temp directory holding `rootfs/` (busybox and its applets) and runc's state directory `runc/`.
    struct Fixture {
        let root: TempDirectory
        var rootfs: String { root.file("rootfs") }
        var state: String { root.file("runc") }
        var environment: ContainerEnvironment { ContainerEnvironment(name: "test/busybox:1", rootfs: rootfs) }

        static let applets = [
            "sh", "cat", "echo", "ls", "sleep", "seq", "wc", "touch", "mkdir", "ip", "nc", "wget", "head", "grep",
        ]

        init() throws {
            root = try TempDirectory()
            let manager = FileManager.default
            for directory in ["bin", "proc", "dev", "sys", "tmp", "data", "out"] {
                try manager.createDirectory(atPath: rootfs + "/" + directory, withIntermediateDirectories: true)
            }
            try manager.copyItem(atPath: "/bin/busybox", toPath: rootfs + "/bin/busybox")
            for applet in Self.applets {
                try manager.createSymbolicLink(atPath: rootfs + "/bin/" + applet, withDestinationPath: "busybox")
            }
        }

        func runner(_ limits: PluginLimits = PluginLimits(wallSeconds: 10)) -> ContainerRunner {
            ContainerRunner(environment: environment, limits: limits, stateDirectory: state)
        }

        /// Runs a shell script in the container; the outcome's log is the combined log.
        func run(
            _ script: String, limits: PluginLimits = PluginLimits(wallSeconds: 10), mounts: [ContainerMount] = []
        ) throws(ScoringFailure) -> ScoreOutcome {
            try runner(limits).execute(arguments: ["/bin/sh", "-c", script], mounts: mounts) { _, log in
                ScoreOutcome(score: 1, log: log)
            }
        }

        /// The containers runc still knows in this fixture's state root.
        func containersLeft() -> [String]? {
            guard let runc = Runc.locate() else { return nil }
            return Runc(path: runc, stateRoot: state + "/state").list()
        }

        /// The bundles still on disk.
        func bundlesLeft() -> [String] {
            (try? FileManager.default.contentsOfDirectory(atPath: state + "/bundles")) ?? []
        }
    }

    /// Cancels the test, saying why, where containers cannot run.
    static func requireRunc() throws {
        if let problem = ContainerRunner.runtimeProblem() {
            try Test.cancel(Comment(rawValue: problem))
        }
    }

    /// Runs `body` and returns the failure it throws, or nil.
    static func failure(_ body: () throws(ScoringFailure) -> ScoreOutcome) -> ScoringFailure? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func outputIsCapturedAndNothingIsLeftBehind() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let outcome = try fixture.run("echo hello from $HOME; echo to stderr >&2; echo $PATH; pwd")
        #expect(outcome.log.contains("--- stdout ---\nhello from /tmp\n"))
        #expect(outcome.log.contains("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n/\n"))
        #expect(outcome.log.contains("--- stderr ---\nto stderr\n"))
        #expect(fixture.containersLeft() == [])
        #expect(fixture.bundlesLeft() == [])
    }

    @Test func bindMountsAreReadOnlyOrWritable() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let input = fixture.root.file("input")
        let output = fixture.root.file("output")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try Data("reference data\n".utf8).write(to: URL(fileURLWithPath: input + "/ref.txt"))
        let outcome = try fixture.run(
            """
            cat /data/ref.txt
            if touch /data/new 2>/dev/null; then echo input-writable; else echo input-read-only; fi
            echo written inside > /out/result.txt
            """,
            mounts: [
                ContainerMount(source: input, destination: "/data", readOnly: true),
                ContainerMount(source: output, destination: "/out", readOnly: false),
            ])
        #expect(outcome.log.contains("reference data\ninput-read-only\n"))
        #expect(FileManager.default.fileExists(atPath: input + "/new") == false)
        let written = try String(contentsOfFile: output + "/result.txt", encoding: .utf8)
        #expect(written == "written inside\n")
    }

    @Test func aMountPointMissingFromTheImageIsRefusedNotMade() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let source = fixture.root.file("input")
        for directory in [source, fixture.root.file("output")] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try fixture.root.write("input/ref.txt", "ref\n")
        let failure = Self.failure { () throws(ScoringFailure) in
            try fixture.run("true", mounts: [ContainerMount(source: source, destination: "/app/in", readOnly: true)])
        }
        #expect(failure?.code == ScoringFailure.pluginStart)
        #expect(failure?.message.contains("environment test/busybox:1 has no /app/in to mount") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.rootfs + "/app"))
        // Below /tmp (a tmpfs of the run) and below an earlier mount, mount points are made where they harm nothing.
        let outcome = try fixture.run(
            "cat /tmp/in/ref.txt /data/nested/ref.txt",
            mounts: [
                ContainerMount(source: source, destination: "/tmp/in", readOnly: true),
                ContainerMount(source: fixture.root.file("output"), destination: "/data", readOnly: false),
                ContainerMount(source: source, destination: "/data/nested", readOnly: true),
            ])
        #expect(outcome.log.contains("ref\nref\n"))
    }

    @Test func thereIsNoNetwork() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        // A host listener the container must not reach, even on the loopback address.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && listen(listener, 4) == 0
                    && getsockname(listener, socketAddress, &length) == 0
            }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let outcome = try fixture.run(
            """
            cat /proc/net/dev | tail -n +3 | while read name rest; do echo "device $name"; done
            if echo hi | nc 127.0.0.1 \(port) 2>/dev/null; then echo reached; else echo unreachable; fi
            """)
        let devices = outcome.log.split(separator: "\n").filter { $0.hasPrefix("device ") }
        #expect(devices == ["device lo:"])
        #expect(outcome.log.contains("unreachable"))
    }

    @Test func theRootIsReadOnlyButTmpIsNot() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let outcome = try fixture.run(
            """
            if touch /bin/planted 2>/dev/null; then echo root-writable; else echo root-read-only; fi
            echo scratch > /tmp/scratch && cat /tmp/scratch
            """)
        #expect(outcome.log.contains("root-read-only\nscratch\n"))
        #expect(!FileManager.default.fileExists(atPath: fixture.rootfs + "/bin/planted"))
    }

    @Test func aHangIsKilledAtTheWallClockLimit() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let start = SystemCalls.monotonicNanoseconds()
        let failure = Self.failure { () throws(ScoringFailure) in
            try fixture.run("echo started; sleep 60 & sleep 60", limits: PluginLimits(wallSeconds: 1))
        }
        let elapsed = Double(SystemCalls.monotonicNanoseconds() - start) / 1e9
        #expect(failure?.code == ScoringFailure.pluginTimeout)
        #expect(failure?.message.contains("1.0 s") == true)
        #expect(failure?.log.contains("started") == true)
        #expect(elapsed < 4.5)
        #expect(fixture.containersLeft() == [])
        #expect(fixture.bundlesLeft() == [])
    }

    @Test func aMemoryHogIsKilledAndTheLimitNamed() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let failure = Self.failure { () throws(ScoringFailure) in
            // The string doubles until the memory cgroup's OOM killer stops it.
            try fixture.run(
                "x=0123456789abcdef; while true; do x=\"$x$x\"; done",
                limits: PluginLimits(wallSeconds: 10, memoryBytes: 32 << 20))
        }
        #expect(failure?.code == ScoringFailure.pluginCrashed)
        #expect(failure?.message.contains("SIGKILL") == true)
        #expect(failure?.message.contains("memory limit of 32 MiB") == true)
        #expect(fixture.containersLeft() == [])
    }

    @Test func aSpinIsStoppedAtTheCPULimit() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let failure = Self.failure { () throws(ScoringFailure) in
            try fixture.run("while true; do :; done", limits: PluginLimits(wallSeconds: 8, cpuSeconds: 1))
        }
        #expect(failure?.code == ScoringFailure.pluginCrashed)
        #expect(
            failure?.message.contains("it reached the CPU time limit of 1 s") == true, "\(String(describing: failure))")
    }

    @Test func aForkBombIsHeldByTheProcessLimit() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let start = SystemCalls.monotonicNanoseconds()
        let failure = Self.failure { () throws(ScoringFailure) in
            // Without a cap this would run to the wall-clock limit; with it the shell fails to fork and exits.
            try fixture.run("while true; do sleep 30 & done", limits: PluginLimits(wallSeconds: 4, processes: 12))
        }
        let elapsed = Double(SystemCalls.monotonicNanoseconds() - start) / 1e9
        #expect(failure?.code == ScoringFailure.pluginExit)
        #expect(failure?.message.contains("can't fork") == true)
        #expect(elapsed < 3)
        #expect(fixture.containersLeft() == [])
        #expect(ContainmentTests.canStartAProcess())
    }

    @Test func aNonZeroExitIsReportedWithTheLog() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let failure = Self.failure { () throws(ScoringFailure) in
            try fixture.run("echo partial; echo went wrong >&2; exit 3")
        }
        #expect(failure?.code == ScoringFailure.pluginExit)
        #expect(failure?.message == "plugin exited with status 3: went wrong")
        #expect(failure?.log == "--- stdout ---\npartial\n--- stderr ---\nwent wrong\n")
    }

    @Test func aProgramMissingFromTheImageCannotStart() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let failure = Self.failure { () throws(ScoringFailure) in
            try fixture.runner().execute(arguments: ["/bin/python3", "score.py"]) { _, log in
                ScoreOutcome(score: 1, log: log)
            }
        }
        #expect(failure?.code == ScoringFailure.pluginStart)
        #expect(failure?.message.contains("runc could not run the program in environment test/busybox:1") == true)
        #expect(failure?.message.contains("/bin/python3") == true)
        #expect(fixture.containersLeft() == [])
    }

    @Test func containersOfEvaluatorsThatAreGoneAreRemoved() throws {
        try Self.requireRunc()
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let runc = try #require(Runc.locate())
        // A container created (its process waiting to start) and a bundle, as an evaluator killed mid-run leaves them.
        let gone = "pumasi-2147483647-abandoned"
        let bundle = fixture.state + "/bundles/" + gone
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        let spec = ContainerBundle(
            rootfs: fixture.rootfs, arguments: ["/bin/sleep", "60"], environment: ["PATH=/bin"],
            workingDirectory: "/", mounts: [], limits: PluginLimits(), cgroupPath: gone)
        try spec.json().write(to: URL(fileURLWithPath: bundle + "/config.json"))
        let create = Process()
        create.executableURL = URL(fileURLWithPath: runc)
        create.arguments = ["--root", fixture.state + "/state", "create", "--bundle", bundle, gone]
        create.standardOutput = FileHandle.nullDevice
        create.standardError = FileHandle.nullDevice
        try create.run()
        create.waitUntilExit()
        try #require(create.terminationStatus == 0)
        #expect(fixture.containersLeft() == [gone])
        let live = "pumasi-\(getpid())-inprogress"
        try FileManager.default.createDirectory(
            atPath: fixture.state + "/bundles/" + live, withIntermediateDirectories: true)

        #expect(fixture.runner().removeAbandoned() == [gone])
        #expect(fixture.containersLeft() == [])
        #expect(fixture.bundlesLeft() == [live])
    }

    @Test func aMissingRootFileSystemCannotStart() throws {
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let missing = ContainerEnvironment(name: "test/gone:1", rootfs: fixture.root.file("gone"))
        let runner = ContainerRunner(environment: missing, stateDirectory: fixture.state)
        let failure = Self.failure { () throws(ScoringFailure) in
            try runner.execute(arguments: ["/bin/sh", "-c", "true"]) { _, _ in ScoreOutcome(score: 1) }
        }
        #expect(failure?.code == ScoringFailure.pluginStart)
        #expect(
            failure?.message
                == "the root file system \(fixture.root.file("gone")) of environment test/gone:1 does not exist or "
                + "is not a directory")
    }

    @Test func aMissingRuncCannotStart() throws {
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let runner = ContainerRunner(
            environment: fixture.environment, limits: PluginLimits(), stateDirectory: fixture.state, runcPath: nil)
        let failure = Self.failure { () throws(ScoringFailure) in
            try runner.execute(arguments: ["/bin/sh", "-c", "true"]) { _, _ in ScoreOutcome(score: 1) }
        }
        #expect(failure?.code == ScoringFailure.pluginStart)
        #expect(
            failure?.message
                == "cannot run in environment test/busybox:1: runc was not found in /usr/sbin:/usr/bin:/sbin:/bin")
    }

    @Test func environmentFlagValuesAreChecked() throws {
        let fixture = try Fixture()
        defer { fixture.root.remove() }
        let parsed = try ContainerEnvironment.parse("codalab/codalab-legacy:py37=\(fixture.rootfs)")
        #expect(parsed == ContainerEnvironment(name: "codalab/codalab-legacy:py37", rootfs: fixture.rootfs))
        let file = try fixture.root.write("plain", "not a directory")
        let refusals: [(String, String)] = [
            ("codalab", "is not NAME=DIR"),
            ("=\(fixture.rootfs)", "has no image name"),
            ("two words=\(fixture.rootfs)", "whitespace or unprintable"),
            ("bell\u{7}=\(fixture.rootfs)", "whitespace or unprintable"),
            ("name=", "has no directory"),
            ("name=\(fixture.root.file("gone"))", "does not exist"),
            ("name=\(file)", "is not a directory"),
        ]
        for (value, reason) in refusals {
            #expect(throws: ContainerEnvironment.InvalidValue.self, "\(value)") {
                try ContainerEnvironment.parse(value)
            }
            do {
                _ = try ContainerEnvironment.parse(value)
            } catch {
                #expect(error.message.contains(reason), "\(value): \(error.message)")
            }
        }
    }

    @Test func theBundleIsLockedDown() throws {
        let bundle = ContainerBundle(
            rootfs: "/images/py", arguments: ["python3", "score.py"], environment: ["LANG=C.UTF-8"],
            workingDirectory: "/app/program",
            mounts: [ContainerMount(source: "/work/ref", destination: "/app/input/ref", readOnly: true)],
            limits: PluginLimits(memoryBytes: 256 << 20, processes: 64), cgroupPath: "pumasi-1-abc")
        let object = try #require(try JSONSerialization.jsonObject(with: bundle.json()) as? [String: Any])
        let root = try #require(object["root"] as? [String: Any])
        #expect(root["readonly"] as? Bool == true)
        let process = try #require(object["process"] as? [String: Any])
        #expect(process["noNewPrivileges"] as? Bool == true)
        let capabilities = try #require(process["capabilities"] as? [String: [String]])
        let granted = capabilities.values.flatMap { $0 }
        #expect(capabilities.count == 5 && granted.isEmpty)
        let linux = try #require(object["linux"] as? [String: Any])
        let namespaces = try #require(linux["namespaces"] as? [[String: String]]).compactMap { $0["type"] }
        #expect(Set(namespaces) == ["pid", "network", "ipc", "uts", "mount"])
        let resources = try #require(linux["resources"] as? [String: Any])
        #expect((resources["memory"] as? [String: Int])?["limit"] == 256 << 20)
        #expect((resources["pids"] as? [String: Int])?["limit"] == 64)
        let mounts = try #require(object["mounts"] as? [[String: Any]])
        let tmp = try #require(mounts.first { $0["destination"] as? String == "/tmp" })
        #expect((tmp["options"] as? [String])?.contains("size=262144k") == true)
        let reference = try #require(mounts.first { $0["destination"] as? String == "/app/input/ref" })
        #expect(reference["options"] as? [String] == ["rbind", "ro", "nosuid", "nodev"])
    }

    /// The Codabench legacy image (`deploy/images/build-python-legacy.sh`) runs a scoring program laid out as
    /// Codabench lays it out under /app: numpy with `np.float`, and scikit-learn fitting a model. Needs the image
    /// built: `PUMASI_TEST_LEGACY_IMAGE=DIR`.
    @Test(.tags(.slow)) func theLegacyPythonImageRunsNumpyAndScikitLearn() throws {
        guard let image = ProcessInfo.processInfo.environment["PUMASI_TEST_LEGACY_IMAGE"] else {
            try Test.cancel("set PUMASI_TEST_LEGACY_IMAGE to a directory built by build-python-legacy.sh")
        }
        try Self.requireRunc()
        let work = try TempDirectory()
        defer { work.remove() }
        for directory in ["program", "output"] {
            try FileManager.default.createDirectory(atPath: work.file(directory), withIntermediateDirectories: true)
        }
        try work.write(
            "program/score.py",
            """
            import numpy as np, sklearn
            from sklearn.linear_model import LogisticRegression
            x = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float)
            model = LogisticRegression().fit(x, [0, 0, 1, 1])
            print(np.__version__, np.float, sklearn.__version__)
            open("/app/output/scores.txt", "w").write("accuracy: %.1f\\n" % model.score(x, [0, 0, 1, 1]))
            """)
        let environment = try ContainerEnvironment.parse("codalab/codalab-legacy:py37=\(image)")
        let runner = ContainerRunner(
            environment: environment, limits: PluginLimits(wallSeconds: 60, memoryBytes: 512 << 20),
            stateDirectory: work.file("runc"))
        let outcome = try runner.execute(
            arguments: ["python", "score.py"],
            mounts: [
                ContainerMount(source: work.file("program"), destination: "/app/program", readOnly: true),
                ContainerMount(source: work.file("output"), destination: "/app/output", readOnly: false),
            ],
            workingDirectory: "/app/program", environment: ["PYTHONUNBUFFERED": "1"]
        ) { _, log in
            ScoreOutcome(score: 1, log: log)
        }
        #expect(outcome.log.contains("1.23.5 <class 'float'> 1.2.2"))
        let scores = try String(contentsOfFile: work.file("output/scores.txt"), encoding: .utf8)
        #expect(scores == "accuracy: 1.0\n")
    }
}
