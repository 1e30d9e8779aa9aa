import Foundation
import Glibc

/// Runs a challenge's scoring plugin on one submission under resource limits and reads its score.
///
/// The plugin is run as `executable <submission-file> <reference-dir>` with stdin on /dev/null, in its own
/// process group, through `/bin/sh` which sets the limits (`ulimit`) and then `exec`s it. It must print one JSON
/// object with a numeric `score`, and optionally `metrics` (an object of numbers) and `message` (a string).
///
/// Thread rule: a runner holds only immutable values; any number of threads may call `run` at once.
public struct PluginRunner: Sendable {
    /// The search path given to plugins, also used to find an `executable` given without a slash.
    static let searchPath = "/usr/local/bin:/usr/bin:/bin"

    /// The plugin program: a path, or a name looked up in the plugin search path.
    public let executable: String
    public let limits: PluginLimits

    /// Creates a runner.
    /// - Parameters:
    ///   - executable: the plugin program: a path (relative ones are resolved against the current directory when
    ///     `run` is called) or a name found in /usr/local/bin, /usr/bin or /bin.
    ///   - limits: resource limits for each run.
    public init(executable: String, limits: PluginLimits = PluginLimits()) {
        self.executable = executable
        self.limits = limits
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
        var variables = ["PATH": Self.searchPath, "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8"]
        variables.merge(extraEnvironment) { _, extra in extra }
        if let bad = variables.first(where: { $0.key.isEmpty || $0.key.contains("=") || $0.key.contains("\0") }) {
            throw Self.startFailure("invalid environment variable name \(ScoringText.quoted(bad.key))")
        }
        let environment = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let arguments = ["-c", limitScript(), program, work, submission, reference]
        if let bad = (arguments + environment).first(where: { $0.contains("\0") }) {
            throw Self.startFailure("a path or environment value contains a NUL byte: \(ScoringText.quoted(bad))")
        }

        var attempt = 1
        while true {
            let outcome: PluginProcess.Outcome
            do {
                outcome = try PluginProcess.run(
                    path: "/bin/sh", arguments: arguments, environment: environment, wallSeconds: limits.wallSeconds,
                    outputBytes: limits.outputBytes)
            } catch {
                throw Self.startFailure("could not run plugin \(program): \(error)")
            }
            if attempt < Self.busyAttempts, Self.wasTextFileBusy(outcome) {
                _ = poll(nil, 0, Int32(20 * attempt))
                attempt += 1
                continue
            }
            return try interpret(outcome)
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

    /// The `sh -c` script: enter the working directory (`$1`; dropping the `PWD`/`OLDPWD` that `cd` exports), set
    /// the limits, then replace the shell with the plugin (`$0`) and its two arguments. The CPU hard limit is one
    /// second above the soft one so the plugin first gets SIGXCPU, which names the cause, before SIGKILL. Limits
    /// are capped at the worker's own hard limits.
    func limitScript() -> String {
        let cpuHardCap = SystemCalls.hardLimit(RLIMIT_CPU).map { Int(clamping: $0) } ?? Int.max
        let cpuSeconds = min(max(1, limits.cpuSeconds), 1 << 40)
        let cpuHard = min(cpuSeconds + 1, cpuHardCap)
        let cpuSoft = min(cpuSeconds, cpuHard)
        let kilobytes = min(max(1, limits.memoryBytes / 1024), Self.cap(RLIMIT_AS, unit: 1024))
        let blocks = min(
            max(0, limits.fileSizeBytes / 512 + (limits.fileSizeBytes % 512 == 0 ? 0 : 1)),
            Self.cap(RLIMIT_FSIZE, unit: 512))
        return "cd -- \"$1\" || exit 126; unset PWD OLDPWD; shift; "
            + "ulimit -S -t \(cpuSoft) && ulimit -H -t \(cpuHard) && ulimit -v \(kilobytes) && ulimit -f \(blocks) "
            + "|| exit 126; exec \"$0\" \"$@\""
    }

    /// Turns a finished run into an outcome or a failure.
    private func interpret(_ outcome: PluginProcess.Outcome) throws(ScoringFailure) -> ScoreOutcome {
        let log = Self.combinedLog(stdout: outcome.stdout, stderr: outcome.stderr)
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
            return try PluginScoreParser.outcome(stdout: outcome.stdout, log: log)
        case .exited(let status):
            throw failure(
                ScoringFailure.pluginExit,
                "plugin exited with status \(status)\(stderrNote)\(memoryHint(stderr: stderrEnd))")
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
            return ": it tried to write a file larger than the limit of \(limits.fileSizeBytes) bytes"
        case SIGSEGV, SIGBUS, SIGABRT:
            return " (it may have run out of memory; the limit is \(Self.mebibytes(limits.memoryBytes)))"
        default:
            return ""
        }
    }

    /// A note on the memory limit when stderr suggests an allocation failed.
    private func memoryHint(stderr: String) -> String {
        let signs = ["MemoryError", "Cannot allocate memory", "bad_alloc", "out of memory", "Out of memory"]
        guard signs.contains(where: { stderr.contains($0) }) else { return "" }
        return " (the memory limit is \(Self.mebibytes(limits.memoryBytes)))"
    }

    /// The absolute path of the plugin program, checked to exist and be executable.
    private func resolvedExecutable() throws(ScoringFailure) -> String {
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
        let path = Self.absolute(executable)
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

    private static func startFailure(_ message: String) -> ScoringFailure {
        ScoringFailure(code: ScoringFailure.pluginStart, message: message)
    }

    /// `path` made absolute against the current directory.
    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// The `S_IFMT` bits of what `path` names (following symbolic links), or nil if it does not exist.
    private static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// The worker's own hard limit for `resource` in `unit`s, or `Int.max` if unlimited.
    private static func cap(_ resource: __rlimit_resource, unit: UInt64) -> Int {
        SystemCalls.hardLimit(resource).map { Int(clamping: $0 / unit) } ?? Int.max
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

    private static func seconds(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    private static func mebibytes(_ bytes: Int) -> String {
        if bytes > 0, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        return bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }
}
