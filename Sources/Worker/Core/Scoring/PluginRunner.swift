import Foundation
import Glibc

/// Runs a challenge's scoring plugin on one submission under resource limits and reads its score.
///
/// The plugin is run as `executable <submission-file> <reference-dir>` with stdin on /dev/null, in its own
/// process group, through `/bin/sh` which sets the limits (`ulimit`) and then `exec`s it, inside the namespaces and
/// cgroup that `isolation` provides on this machine. It must print one JSON object with a numeric `score`, and
/// optionally `metrics` (an object of numbers) and `message` (a string).
///
/// Thread rule: a runner holds only immutable values; any number of threads may call `run` at once.
public struct PluginRunner: Sendable {
    /// The search path given to plugins, also used to find an `executable` given without a slash.
    static let searchPath = "/usr/local/bin:/usr/bin:/bin"

    /// How plugin runs are contained on this machine: found by trying once per process (the first call takes a
    /// few tens of milliseconds), then fixed. Its description is meant for the evaluator's start-up log.
    public static var isolation: PluginIsolation { PluginIsolation.current }

    /// The plugin program: a path, or a name looked up in the plugin search path.
    public let executable: String
    public let limits: PluginLimits
    /// The containment runs get: `PluginRunner.isolation` unless a test asks for another.
    let sandbox: PluginIsolation

    /// Creates a runner.
    /// - Parameters:
    ///   - executable: the plugin program: a path (relative ones are resolved against the current directory when
    ///     `run` is called) or a name found in /usr/local/bin, /usr/bin or /bin.
    ///   - limits: resource limits for each run.
    public init(executable: String, limits: PluginLimits = PluginLimits()) {
        self.init(executable: executable, limits: limits, isolation: PluginIsolation.current)
    }

    /// Creates a runner with a given isolation (for tests comparing isolated and plain runs).
    init(executable: String, limits: PluginLimits, isolation: PluginIsolation) {
        self.executable = executable
        self.limits = limits
        self.sandbox = isolation
    }

    /// Runs the plugin once and reads its score.
    ///
    /// The environment holds only `PATH=/usr/local/bin:/usr/bin:/bin`, `HOME` and `TMPDIR` (both the working
    /// directory) and `LANG=C.UTF-8`, plus `extraEnvironment`, which may override them.
    /// - Parameters:
    ///   - submissionFile: the solver's file, passed as the first argument.
    ///   - referenceDirectory: the challenge's reference data, passed as the second argument.
    ///   - workDirectory: an existing directory the caller created; the plugin's current directory.
    ///   - extraEnvironment: further environment variables.
    /// - Throws: `plugin_start`, `plugin_timeout`, `plugin_crashed`, `plugin_exit` or `plugin_output`, with the
    ///   captured output in `log`.
    public func run(
        submissionFile: String, referenceDirectory: String, workDirectory: String,
        extraEnvironment: [String: String] = [:]
    ) throws(ScoringFailure) -> ScoreOutcome {
        let program = try resolvedExecutable()
        let work = Self.absolute(workDirectory)
        let submission = Self.absolute(submissionFile)
        let reference = Self.absolute(referenceDirectory)
        guard Self.fileType(work) == S_IFDIR else {
            throw Self.startFailure("the working directory \(work) does not exist or is not a directory")
        }
        guard Self.fileType(submission) != nil else {
            throw Self.startFailure("the submission file \(submission) does not exist")
        }
        return try execute(
            program: program, arguments: [submission, reference], directory: work, home: work,
            extraEnvironment: extraEnvironment
        ) { outcome, log throws(ScoringFailure) in
            try PluginScoreParser.outcome(stdout: outcome.stdout, log: log)
        }
    }

    /// Runs `program arguments…` once in `directory` under this runner's limits and isolation, and turns the run
    /// into a failure unless it exited 0, in which case `score` reads the outcome.
    ///
    /// The environment is the clean one `run` describes, with `HOME` and `TMPDIR` set to `home`.
    /// - Parameters:
    ///   - program: the absolute path of the program (see `resolvedExecutable`).
    ///   - directory: the run's current directory, which must exist.
    ///   - score: reads the score of a run that exited 0, given the run and its combined log.
    /// - Throws: `plugin_start`, `plugin_timeout`, `plugin_crashed`, `plugin_exit`, or what `score` throws.
    func execute(
        program: String, arguments: [String], directory: String, home: String, extraEnvironment: [String: String],
        score: (PluginProcess.Outcome, String) throws(ScoringFailure) -> ScoreOutcome
    ) throws(ScoringFailure) -> ScoreOutcome {
        var variables = ["PATH": Self.searchPath, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"]
        variables.merge(extraEnvironment) { _, extra in extra }
        if let bad = variables.first(where: { $0.key.isEmpty || $0.key.contains("=") || $0.key.contains("\0") }) {
            throw Self.startFailure("invalid environment variable name \(ScoringText.quoted(bad.key))")
        }
        let environment = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        if let bad = ([program, directory] + arguments + environment).first(where: { $0.contains("\0") }) {
            throw Self.startFailure("a path or environment value contains a NUL byte: \(ScoringText.quoted(bad))")
        }

        var attempt = 1
        while true {
            let outcome: PluginProcess.Outcome
            do {
                outcome = try runOnce(program: program, arguments: arguments, work: directory, environment: environment)
            } catch {
                throw Self.startFailure("could not run plugin \(program): \(error)")
            }
            if attempt < Self.busyAttempts, Self.wasTextFileBusy(outcome) {
                _ = poll(nil, 0, Int32(20 * attempt))
                attempt += 1
                continue
            }
            let log = Self.combinedLog(stdout: outcome.stdout, stderr: outcome.stderr)
            try interpret(outcome, log: log)
            return try score(outcome, log)
        }
    }

    /// How many times to try a plugin whose file was momentarily "busy".
    static let busyAttempts = 4

    /// Whether the shell could not exec the plugin because the file was open for writing (ETXTBSY).
    ///
    /// This is transient when the executable was written just before: any process spawned meanwhile, by any
    /// thread, briefly holds a copy of the writer's descriptor until it execs. The shell then exits 126.
    private static func wasTextFileBusy(_ outcome: PluginProcess.Outcome) -> Bool {
        guard outcome.termination == .exited(126), !outcome.timedOut, outcome.stdout.totalBytes == 0 else {
            return false
        }
        return String(decoding: outcome.stderr.head, as: UTF8.self).contains("Text file busy")
    }

    /// Runs the plugin once through the wrapper shell, in a pids cgroup of its own when the isolation has them
    /// (a cgroup that cannot be made costs this run its process-count cap, not the submission its score).
    private func runOnce(
        program: String, arguments: [String], work: String, environment: [String]
    ) throws(SystemCalls.Failure) -> PluginProcess.Outcome {
        let tasks = PluginIsolation.taskBudget(limits)
        let cgroup = sandbox.cgroupBase.flatMap { PluginCgroup.create(in: $0, maxTasks: tasks) }
        defer {
            if let cgroup { PluginCgroup.remove(cgroup) }
        }
        let shellArguments = sandbox.shellArguments(
            program: program, arguments: arguments, work: work, limits: limits, cgroup: cgroup)
        return try PluginProcess.run(
            path: "/bin/sh", arguments: shellArguments, environment: environment, wallSeconds: limits.wallSeconds,
            outputBytes: limits.outputBytes)
    }

    /// Throws the failure a finished run stands for, unless it exited 0.
    private func interpret(_ outcome: PluginProcess.Outcome, log: String) throws(ScoringFailure) {
        func failure(_ code: String, _ message: String) -> ScoringFailure {
            ScoringFailure(code: code, message: message, log: log)
        }
        if outcome.timedOut {
            throw failure(
                ScoringFailure.pluginTimeout,
                "plugin timed out after \(Self.seconds(limits.wallSeconds)) s (the wall-clock limit) and was killed")
        }
        let stderrEnd = outcome.stderr.lastLines(3).joined(separator: " | ")
        let stderrNote = stderrEnd.isEmpty ? " (stderr is empty)" : ": \(stderrEnd)"
        switch outcome.termination {
        case .exited(0):
            return
        case .exited(let status):
            throw failure(
                ScoringFailure.pluginExit,
                "plugin exited with status \(status)\(stderrNote)\(limitHint(stderr: stderrEnd))")
        case .signaled(let signal):
            let name = PluginTermination.signalName(signal)
            throw failure(
                ScoringFailure.pluginCrashed, "plugin was killed by \(name)\(cause(of: signal, outcome))\(stderrNote)")
        case .unknown(let reason):
            throw failure(ScoringFailure.pluginExit, "plugin ended but \(reason)\(stderrNote)")
        }
    }

    /// Why a signal probably arrived, as a clause starting with ": " or "", for the crash message.
    private func cause(of signal: Int32, _ outcome: PluginProcess.Outcome) -> String {
        switch signal {
        case SIGXCPU:
            return ": it reached the CPU time limit of \(max(1, limits.cpuSeconds)) s"
        case SIGKILL where outcome.cpuSeconds >= Double(max(1, limits.cpuSeconds)):
            return ": it reached the CPU time limit of \(max(1, limits.cpuSeconds)) s"
        case SIGXFSZ:
            let limit = Self.mebibytes(limits.fileSizeBytes)
            return ": it tried to write a file larger than the file-size limit of \(limit)"
        case SIGSEGV, SIGBUS, SIGABRT:
            return " (it may have run out of memory; the limit is \(Self.mebibytes(limits.memoryBytes)))"
        default:
            return ""
        }
    }

    /// A note on the limit concerned when stderr suggests an allocation, a write or a fork failed because of one.
    private func limitHint(stderr: String) -> String {
        let memorySigns = ["MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory", "Out of memory"]
        if memorySigns.contains(where: { stderr.contains($0) }) {
            return " (the memory limit is \(Self.mebibytes(limits.memoryBytes)))"
        }
        // EFBIG's text where the writer survives (Python ignores SIGXFSZ), the shell's report where it does not.
        if stderr.contains("File too large") || stderr.contains("File size limit exceeded") {
            return " (the file-size limit is \(Self.mebibytes(limits.fileSizeBytes)) per file)"
        }
        let forkSigns = ["Cannot fork", "fork: Resource temporarily unavailable", "can't fork", "BlockingIOError"]
        if sandbox.processCap != .none, forkSigns.contains(where: { stderr.contains($0) }) {
            return " (the limit is \(limits.processes) processes)"
        }
        return ""
    }

    /// The absolute path of the plugin program, checked to exist and be executable.
    /// - Parameter base: the directory a relative path is resolved against; the current directory if nil.
    func resolvedExecutable(relativeTo base: String? = nil) throws(ScoringFailure) -> String {
        guard !executable.isEmpty else {
            throw Self.startFailure("no plugin executable was given")
        }
        guard executable.contains("/") else {
            for directory in Self.searchPath.split(separator: ":") {
                let candidate = "\(directory)/\(executable)"
                if Self.fileType(candidate) == S_IFREG, access(candidate, X_OK) == 0 {
                    return candidate
                }
            }
            throw Self.startFailure("plugin executable \(executable) was not found in \(Self.searchPath)")
        }
        let path = Self.absolute(executable, in: base ?? FileManager.default.currentDirectoryPath)
        switch Self.fileType(path) {
        case nil:
            throw Self.startFailure("plugin executable \(path) does not exist")
        case S_IFDIR?:
            throw Self.startFailure("plugin executable \(path) is a directory")
        default:
            guard access(path, X_OK) == 0 else {
                throw Self.startFailure("plugin executable \(path) is not executable (check its permissions)")
            }
            return path
        }
    }

    static func startFailure(_ message: String) -> ScoringFailure {
        ScoringFailure(code: ScoringFailure.pluginStart, message: message)
    }

    /// `path` made absolute against `directory`, the current directory by default.
    static func absolute(_ path: String, in directory: String = FileManager.default.currentDirectoryPath) -> String {
        path.hasPrefix("/") ? path : directory + "/" + path
    }

    /// The `S_IFMT` bits of what `path` names (following symbolic links), or nil if it does not exist.
    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// The plugin's stdout and stderr, each bounded and marked.
    static func combinedLog(stdout: OutputCapture, stderr: OutputCapture) -> String {
        var log = ""
        for (name, capture) in [("stdout", stdout), ("stderr", stderr)] where capture.totalBytes > 0 {
            let text = capture.text
            log += "--- \(name) ---\n" + text + (text.hasSuffix("\n") ? "" : "\n")
        }
        return log
    }

    static func seconds(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    static func mebibytes(_ bytes: Int) -> String {
        if bytes > 0, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        return bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
