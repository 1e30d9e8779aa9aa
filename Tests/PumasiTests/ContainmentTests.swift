import Foundation
import Glibc
import Testing

@testable import PumasiWorker

/// Hostile plugins against the runner's containment (issue 4): fork bombs, escaping processes, disk filling, the
/// network and the evaluator's secrets. Each is contained and the test process carries on. What the machine allows
/// is in `PluginRunner.isolation`; as root every namespace must be available (set
/// `PUMASI_TEST_ALLOW_NO_ISOLATION=1` where they are deliberately not, such as an unprivileged container).
@Suite("Plugin containment")
struct ContainmentTests {
    typealias Sandbox = ScoringTests.Sandbox

    static var isolation: PluginIsolation { PluginRunner.isolation }

    /// Whether the process count is capped here, so that an exponential fork bomb is safe to run.
    static var countIsCapped: Bool { isolation.processCap != .none }

    /// Why a test that needs namespaces cannot run as root.
    struct NamespacesMissing: Error, CustomStringConvertible {
        var description: String
    }

    /// Fails as root, or cancels the test for another user, when the namespaces are not available.
    static func requireNamespaces() throws {
        guard !isolation.pidNamespace else { return }
        let reason = "no namespaces for plugins here: \(isolation)"
        if geteuid() == 0, ProcessInfo.processInfo.environment["PUMASI_TEST_ALLOW_NO_ISOLATION"] == nil {
            throw NamespacesMissing(description: reason + " (running as root, they should be)")
        }
        try Test.cancel(Comment(rawValue: reason))
    }

    /// The size of the file at `path`, or nil if there is none.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Whether this process can still start a program and collect its status.
    static func canStartAProcess() -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        do {
            try process.run()
        } catch {
            return false
        }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test func isolationIsProbedAndDescribed() throws {
        let isolation = Self.isolation
        #expect(!isolation.description.isEmpty)
        if isolation.pidNamespace {
            #expect(isolation.networkDenied)
        }
        if geteuid() != 0 {
            #expect(isolation.processCap != .none, "\(isolation)")
        }
        try Self.requireNamespaces()
        #expect(isolation.description.contains("namespaces"))
    }

    @Test(.timeLimit(.minutes(1)))
    func loopingForkBombIsContained() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let plugin = try sandbox.script("bomb.sh", "#!/bin/sh\necho 'spawning' >&2\nwhile :; do sleep 60 & done\n")
        let mark = ScoringTests.newMark()
        let start = ContinuousClock.now
        let failure = try #require(
            sandbox.failure(
                plugin, limits: PluginLimits(wallSeconds: 2, processes: 32), environment: ["PUMASI_TEST_MARK": mark]))
        #expect(ScoringTests.seconds(since: start) < 10)
        if Self.countIsCapped {
            // The shell gives up at the first fork that fails.
            #expect(failure.code == "plugin_exit", "\(failure)")
            #expect(failure.message.contains("fork"), "\(failure)")
            #expect(failure.message.contains("the limit is 32 processes"), "\(failure)")
        } else {
            #expect(failure.code == "plugin_timeout", "\(failure)")
        }
        #expect(ScoringTests.waitUntilNoneMarked(mark, timeout: 10) == [])
        #expect(Self.canStartAProcess())
    }

    @Test(.timeLimit(.minutes(1)))
    func classicForkBombIsContained() throws {
        guard Self.countIsCapped else {
            try Test.cancel("an uncapped exponential fork bomb is not safe to run: \(Self.isolation)")
        }
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let plugin = try sandbox.script("bomb.sh", "#!/bin/sh\nb() { b | b & }\nb\nsleep 1\n")
        let mark = ScoringTests.newMark()
        let start = ContinuousClock.now
        let failure = try #require(
            sandbox.failure(
                plugin, limits: PluginLimits(wallSeconds: 2, processes: 32), environment: ["PUMASI_TEST_MARK": mark]))
        #expect(ScoringTests.seconds(since: start) < 10)
        #expect(["plugin_exit", "plugin_output", "plugin_timeout"].contains(failure.code), "\(failure)")
        #expect(ScoringTests.waitUntilNoneMarked(mark, timeout: 10) == [])
        #expect(Self.canStartAProcess())
    }

    @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
    func stubbornForkBombRunsOutOfTimeAndIsKilled() throws {
        guard Self.countIsCapped else {
            try Test.cancel("an uncapped exponential fork bomb is not safe to run: \(Self.isolation)")
        }
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // Every process keeps forking, retrying each failure, until the wall-clock limit.
        let plugin = try sandbox.script(
            "bomb.py",
            """
            #!/usr/bin/env python3
            import os, sys, time
            print("bombing", file=sys.stderr, flush=True)
            while True:
                try:
                    os.fork()
                except OSError:
                    time.sleep(0.005)
            """)
        let mark = ScoringTests.newMark()
        let start = ContinuousClock.now
        let failure = try #require(
            sandbox.failure(
                plugin, limits: PluginLimits(wallSeconds: 2, processes: 32), environment: ["PUMASI_TEST_MARK": mark]))
        #expect(ScoringTests.seconds(since: start) < 10)
        #expect(failure.code == "plugin_timeout", "\(failure)")
        #expect(failure.log.contains("bombing"))
        #expect(ScoringTests.waitUntilNoneMarked(mark, timeout: 10) == [])
        #expect(Self.canStartAProcess())
    }

    @Test(.timeLimit(.minutes(1)))
    func processesThatLeaveTheGroupDieWithTheRun() throws {
        try Self.requireNamespaces()
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // setsid puts the sleep in a session and process group of its own, out of reach of the group kill.
        let plugin = try sandbox.script(
            "escape.sh", "#!/bin/sh\nsetsid sleep 60 </dev/null >/dev/null 2>&1 &\nsleep 0.2\necho '{\"score\": 1}'\n")
        let mark = ScoringTests.newMark()
        let outcome = try sandbox.run(plugin, environment: ["PUMASI_TEST_MARK": mark])
        #expect(outcome.score == 1)
        #expect(ScoringTests.waitUntilNoneMarked(mark) == [])
    }

    @Test(.timeLimit(.minutes(1)))
    func diskFillingShellPluginStopsAtTheFileSizeLimit() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // head would write 50 MB; the shell reports the signal that stops it, and the plugin exits with its status.
        let plugin = try sandbox.script(
            "fill.sh", "#!/bin/sh\nhead -c 50000000 /dev/zero > fill.bin || exit $?\necho '{\"score\": 1}'\n")
        let limit = 1 << 20
        let failure = try #require(sandbox.failure(plugin, limits: PluginLimits(wallSeconds: 10, fileSizeBytes: limit)))
        #expect(["plugin_exit", "plugin_crashed"].contains(failure.code), "\(failure)")
        #expect(failure.message.contains("file-size limit"), "\(failure)")
        #expect(failure.message.contains("1 MiB"), "\(failure)")
        let size = try #require(Self.fileSize(sandbox.work + "/fill.bin"))
        #expect(size <= limit)
    }

    @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
    func diskFillingPythonPluginStopsAtTheFileSizeLimit() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // Python ignores SIGXFSZ, so the write fails with EFBIG ("File too large") instead.
        let plugin = try sandbox.script(
            "fill.py",
            """
            #!/usr/bin/env python3
            block = b"x" * 65536
            with open("fill.bin", "wb") as out:
                for _ in range(1000):
                    out.write(block)
            print('{"score": 1}')
            """)
        let limit = 1 << 20
        let failure = try #require(sandbox.failure(plugin, limits: PluginLimits(wallSeconds: 10, fileSizeBytes: limit)))
        #expect(failure.code == "plugin_exit", "\(failure)")
        #expect(failure.message.contains("File too large"), "\(failure)")
        #expect(failure.message.contains("the file-size limit is 1 MiB per file"), "\(failure)")
        let size = try #require(Self.fileSize(sandbox.work + "/fill.bin"))
        #expect(size <= limit)
    }

    @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
    func networkIsDenied() throws {
        let listener = try Listener()
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let plugin = try sandbox.script(
            "connect.py",
            """
            #!/usr/bin/env python3
            import json, os, socket
            try:
                socket.create_connection(("127.0.0.1", int(os.environ["PUMASI_TEST_PORT"])), timeout=3).close()
                print(json.dumps({"score": 1, "message": "connected"}))
            except OSError as error:
                print(json.dumps({"score": 0, "message": str(error)}))
            """)
        let environment = ["PUMASI_TEST_PORT": "\(listener.port)"]
        func run(_ isolation: PluginIsolation) throws -> ScoreOutcome {
            try PluginRunner(executable: plugin, limits: PluginLimits(wallSeconds: 20), isolation: isolation).run(
                submissionFile: sandbox.submission, referenceDirectory: sandbox.reference,
                workDirectory: sandbox.work, extraEnvironment: environment)
        }
        // Without isolation the plugin reaches the listener: the check below is not vacuous.
        let plain = try run(.unisolated)
        #expect(plain.score == 1, "\(plain.message ?? "")")
        try Self.requireNamespaces()
        let isolated = try run(Self.isolation)
        #expect(isolated.score == 0, "\(isolated.message ?? "")")
    }

    @Test(.timeLimit(.minutes(1)))
    func evaluatorSecretsDoNotReachThePlugin() throws {
        let secret = "s3cret-" + UUID().uuidString
        setenv("PUMASI_SECRET_KEY", secret, 1)
        defer { unsetenv("PUMASI_SECRET_KEY") }
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        // Prints its environment as the log; scores the number of variables naming the secret; reports whether
        // the evaluator's /proc entry (its command line and environment) is visible.
        let plugin = try sandbox.script(
            "secrets.sh",
            """
            #!/bin/sh
            env >&2
            found=$(env | grep -c PUMASI_SECRET)
            if [ -e "/proc/$PUMASI_TEST_EVALUATOR/environ" ]; then visible=1; else visible=0; fi
            echo "{\\"score\\": $found, \\"metrics\\": {\\"visible\\": $visible}}"
            """)
        let outcome = try sandbox.run(plugin, environment: ["PUMASI_TEST_EVALUATOR": "\(getpid())"])
        #expect(outcome.score == 0)
        #expect(!outcome.log.contains(secret))
        #expect(!outcome.log.contains("PUMASI_SECRET_KEY"))
        if Self.isolation.privateProc {
            #expect(outcome.metrics["visible"] == 0)
        }
    }

    /// A TCP listener on 127.0.0.1 at a port the kernel picks; closed when released.
    final class Listener {
        let fd: Int32
        let port: UInt16

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(fd, generic, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, generic, &length) == 0
                }
            }
            port = UInt16(bigEndian: address.sin_port)
            try #require(bound)
        }

        deinit {
            close(fd)
        }
    }
}
