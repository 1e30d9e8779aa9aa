import Foundation
import Glibc

/// Runs a program inside a pinned environment (`ContainerEnvironment`) with runc, under a plugin's limits.
///
/// Each run gets an OCI bundle of its own (`ContainerBundle`: the environment's root file system read-only, the
/// given bind mounts, a tmpfs at /tmp, no network, new PID, IPC, UTS and mount namespaces, no capabilities, no new
/// privileges, rlimits, and a cgroup capping memory at `PluginLimits.memoryBytes` and processes at
/// `PluginLimits.processes`), is started as `runc run` with stdin on /dev/null and stdout and stderr captured as a
/// plugin's are, and is killed with `runc kill` at the wall-clock limit. The container, its cgroups and its bundle
/// are deleted after every run, whatever happened. Needs root and runc (`runtimeProblem()` says why not).
///
/// Failures are a plugin's: `plugin_start` (no runc, no root file system, runc could not start the program),
/// `plugin_timeout`, `plugin_crashed` (a signal, as runc reports it: status 128 + the signal; a SIGKILL from the
/// memory cgroup's OOM killer says the memory limit was hit), `plugin_exit`, each with the captured log. A program
/// that itself exits with a status above 128 reads as killed by a signal.
///
/// Thread rule: a runner holds only immutable values; any number of threads may call `execute` at once.
public struct ContainerRunner: Sendable {
    /// Where state and bundles go unless the caller names another directory.
    public static let defaultStateDirectory = "/run/pumasi-runc"
    /// The search path inside the container.
    static let searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The environment runs use.
    public let environment: ContainerEnvironment
    public let limits: PluginLimits
    /// Holds runc's state root (`state/`) and the bundles of runs in progress (`bundles/`).
    public let stateDirectory: String
    /// runc's path; nil when it is not installed (runs then fail with `plugin_start`).
    let runcPath: String?

    /// Creates a runner.
    /// - Parameters:
    ///   - environment: the environment to run in.
    ///   - limits: resource limits for each run.
    ///   - stateDirectory: where runc's state and the runs' bundles are kept; made on the first run.
    public init(
        environment: ContainerEnvironment, limits: PluginLimits = PluginLimits(),
        stateDirectory: String = ContainerRunner.defaultStateDirectory
    ) {
        self.init(environment: environment, limits: limits, stateDirectory: stateDirectory, runcPath: Runc.locate())
    }

    /// Creates a runner with a given runc (for tests of a missing one).
    init(environment: ContainerEnvironment, limits: PluginLimits, stateDirectory: String, runcPath: String?) {
        self.environment = environment
        self.limits = limits
        self.stateDirectory = PluginRunner.absolute(stateDirectory)
        self.runcPath = runcPath
    }

    /// Why containers cannot run on this machine, or nil if they can: for the evaluator's start-up check.
    public static func runtimeProblem() -> String? {
        guard Runc.locate() != nil else {
            return "runc was not found in \(Runc.searchPath) (install the runc package)"
        }
        guard geteuid() == 0 else {
            return "containers need root: the evaluator runs as uid \(geteuid()) and rootless runc is not supported"
        }
        return nil
    }

    /// The runc state root, where `runc list` shows this runner's containers.
    var stateRoot: String { stateDirectory + "/state" }

    /// Runs `arguments` (argv, no shell) once in the environment and turns the run into a failure unless it exited
    /// 0, in which case `score` reads the outcome.
    ///
    /// The environment holds only `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    /// `HOME=/tmp` and `LANG=C.UTF-8`, plus `environment`, which may override them.
    /// - Parameters:
    ///   - arguments: the program (a path in the container, or a name in its PATH) and its arguments.
    ///   - mounts: host paths to bind-mount, in order.
    ///   - workingDirectory: the program's current directory, an absolute path in the container.
    ///   - environment: further environment variables.
    ///   - score: reads the score of a run that exited 0, given the run and its combined log.
    /// - Throws: `plugin_start`, `plugin_timeout`, `plugin_crashed`, `plugin_exit`, or what `score` throws.
    func execute(
        arguments: [String], mounts: [ContainerMount] = [], workingDirectory: String = "/",
        environment extra: [String: String] = [:],
        _ score: (PluginProcess.Outcome, String) throws(ScoringFailure) -> ScoreOutcome
    ) throws(ScoringFailure) -> ScoreOutcome {
        let runc = try checkedRunc()
        let variables = try Self.variables(extra)
        try check(arguments: arguments, mounts: mounts, workingDirectory: workingDirectory, variables: variables)

        let id = Self.newIdentifier()
        let bundle = stateDirectory + "/bundles/" + id
        let bundleSpec = ContainerBundle(
            rootfs: environment.rootfs, arguments: arguments, environment: variables,
            workingDirectory: workingDirectory, mounts: mounts, limits: limits, cgroupPath: id)
        defer {
            runc.delete(id)
            try? FileManager.default.removeItem(atPath: bundle)
        }
        do {
            let manager = FileManager.default
            try manager.createDirectory(atPath: stateRoot, withIntermediateDirectories: true)
            try manager.createDirectory(
                atPath: bundle, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try bundleSpec.json().write(to: URL(fileURLWithPath: bundle + "/config.json"))
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not write the container bundle: \(error)")
        }

        let runcLog = bundle + "/runc.log"
        let outcome: PluginProcess.Outcome
        do {
            outcome = try PluginProcess.run(
                path: runc.path, arguments: runc.runArguments(id: id, bundle: bundle, log: runcLog),
                environment: Runc.environment, wallSeconds: limits.wallSeconds, outputBytes: limits.outputBytes,
                onTimeout: { runc.kill(id) })
        } catch {
            throw PluginRunner.startFailure("could not run runc: \(error)")
        }
        let ending = ContainerEnding(
            outcome: outcome, runcErrors: Runc.errors(inLog: runcLog),
            oomKills: ContainerCgroup.oomKills(relativePath: id) ?? 0)
        let log = PluginRunner.combinedLog(stdout: outcome.stdout, stderr: outcome.stderr)
        try ending.interpret(limits: limits, environment: environment.name, log: log)
        return try score(outcome, log)
    }

    /// runc, with the environment's root file system and root checked.
    private func checkedRunc() throws(ScoringFailure) -> Runc {
        guard environment.rootfs.hasPrefix("/"), PluginRunner.fileType(environment.rootfs) == S_IFDIR else {
            throw PluginRunner.startFailure(
                "the root file system \(environment.rootfs) of environment \(environment.name) does not exist or is "
                    + "not a directory")
        }
        guard let runcPath else {
            throw PluginRunner.startFailure(
                "cannot run in environment \(environment.name): runc was not found in \(Runc.searchPath)")
        }
        guard geteuid() == 0 else {
            throw PluginRunner.startFailure(
                "cannot run in environment \(environment.name): containers need root (rootless runc is not supported)")
        }
        return Runc(path: runcPath, stateRoot: stateRoot)
    }

    /// The run's environment as sorted "NAME=value" entries.
    private static func variables(_ extra: [String: String]) throws(ScoringFailure) -> [String] {
        var variables = ["PATH": searchPath, "HOME": "/tmp", "LANG": "C.UTF-8"]
        variables.merge(extra) { _, given in given }
        if let bad = variables.first(where: { $0.key.isEmpty || $0.key.contains("=") || $0.key.contains("\0") }) {
            throw PluginRunner.startFailure("invalid environment variable name \(ScoringText.quoted(bad.key))")
        }
        return variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    }

    private func check(
        arguments: [String], mounts: [ContainerMount], workingDirectory: String, variables: [String]
    ) throws(ScoringFailure) {
        guard let program = arguments.first, !program.isEmpty else {
            throw PluginRunner.startFailure("no program was given to run in environment \(environment.name)")
        }
        let paths = [workingDirectory] + mounts.map(\.destination)
        if let bad = paths.first(where: { !$0.hasPrefix("/") || $0.split(separator: "/").contains("..") }) {
            throw PluginRunner.startFailure(
                "container path \(ScoringText.quoted(bad)) is not absolute or contains \"..\"")
        }
        for mount in mounts where !mount.source.hasPrefix("/") || PluginRunner.fileType(mount.source) == nil {
            throw PluginRunner.startFailure("the mount source \(mount.source) does not exist or is not absolute")
        }
        for (index, mount) in mounts.enumerated() {
            let writable = ["/tmp", "/dev"] + mounts[..<index].map(\.destination)
            if writable.contains(where: { Self.path(mount.destination, isWithin: $0) }) { continue }
            var info = stat()
            guard lstat(environment.rootfs + mount.destination, &info) != 0 else { continue }
            throw PluginRunner.startFailure(
                "environment \(environment.name) has no \(mount.destination) to mount \(mount.source) on (its root "
                    + "file system must hold the mount points, which runc would otherwise make in it)")
        }
        let texts = arguments + variables + paths + mounts.map(\.source)
        if let bad = texts.first(where: { $0.contains("\0") }) {
            throw PluginRunner.startFailure(
                "an argument, path or variable contains a NUL byte: \(ScoringText.quoted(bad))")
        }
    }

    /// Whether `path` is `directory` or lies below it (both absolute, without `..`).
    static func path(_ path: String, isWithin directory: String) -> Bool {
        let trimmed = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return path == trimmed || path.hasPrefix(trimmed + "/")
    }

    /// A container id unique to this run: `pumasi-<evaluator pid>-<random>`.
    static func newIdentifier() -> String {
        let random = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return "pumasi-\(getpid())-\(random.prefix(12))"
    }
}
