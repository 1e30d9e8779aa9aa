import Foundation
import Glibc

/// How plugin runs are contained on this machine, beyond the resource limits every run gets.
///
/// Found once per process (`PluginRunner.isolation`) by trying the strongest setup first and keeping the first
/// that works here, without extra privileges or configuration; `description` says what is in effect and, when
/// something is missing, why. The pieces, when available:
/// - user, network and PID namespaces (`unshare` from util-linux): no network but a loopback device that is down;
///   the plugin's processes live in a PID namespace whose first process is a placeholder, so killing the run kills
///   every process the plugin started, even ones that left its process group;
/// - a private /proc showing only the run's processes;
/// - no capabilities, and no way to gain any (`setpriv`: empty bounding set, no-new-privs);
/// - a process-count cap (`ProcessCap`).
///
/// Thread rule: an immutable value; any thread may use it.
public struct PluginIsolation: Sendable, Equatable, CustomStringConvertible {
    /// How the number of processes of one run is capped.
    public enum ProcessCap: Sendable, Equatable {
        /// A pids cgroup per run (`pids.max`): holds for every user, root included.
        case cgroup
        /// RLIMIT_NPROC in the run's own user namespace, where the kernel counts only the run's processes. Root is
        /// exempt from RLIMIT_NPROC, so this is never chosen for root.
        case userNamespace
        /// RLIMIT_NPROC with no user namespace: the kernel counts every process of the evaluator's user, so the
        /// limit is set to that count at the start of the run plus `PluginLimits.processes`.
        case userWide
        /// Not capped (root, with no pids cgroup available): only the wall-clock limit bounds a fork bomb.
        case none
    }

    /// Whether each run has its own user namespace (the evaluator's user is root inside it).
    public let userNamespace: Bool
    /// Whether each run has its own network namespace, with no device but a loopback that is down.
    public let networkDenied: Bool
    /// Whether each run has its own PID namespace, torn down with everything in it when the run ends.
    public let pidNamespace: Bool
    /// Whether the run's /proc shows only its own processes (so not the evaluator's command line or environment).
    public let privateProc: Bool
    /// How the process count is capped.
    public let processCap: ProcessCap
    /// Why a stronger setup is not in effect ("" when nothing is missing).
    public let shortfall: String

    /// Absolute paths of the util-linux and coreutils programs the namespaced wrapper uses.
    struct Tools: Sendable, Equatable {
        var unshare: String
        var setpriv: String
        var timeout: String
        var sleep: String

        /// The tools in /usr/bin or /bin, or nil if one is missing.
        static func find() -> Tools? {
            func locate(_ name: String) -> String? {
                ["/usr/bin/", "/bin/"].map { $0 + name }.first { access($0, X_OK) == 0 }
            }
            guard let unshare = locate("unshare"), let setpriv = locate("setpriv"), let timeout = locate("timeout"),
                let sleep = locate("sleep")
            else { return nil }
            return Tools(unshare: unshare, setpriv: setpriv, timeout: timeout, sleep: sleep)
        }
    }

    /// The wrapper's programs; nil when no namespaces are used.
    let tools: Tools?
    /// Where per-run pids cgroups are made; nil when none are.
    let cgroupBase: String?

    /// No isolation: a process group and resource limits only (what every machine supports).
    static let unisolated = PluginIsolation(
        userNamespace: false, networkDenied: false, pidNamespace: false, privateProc: false, processCap: .none,
        shortfall: "", tools: nil, cgroupBase: nil)

    /// What is in effect, for the evaluator's start-up log.
    public var description: String {
        var parts: [String] = []
        if pidNamespace {
            let namespaces = userNamespace ? "user, network and PID namespaces" : "network and PID namespaces"
            parts.append(namespaces + (privateProc ? ", private /proc" : "") + ", no capabilities")
        } else {
            parts.append("process group only (no namespaces)")
        }
        switch processCap {
        case .cgroup: parts.append("process count capped by a pids cgroup under \(cgroupBase ?? "?")")
        case .userNamespace: parts.append("process count capped by RLIMIT_NPROC in the user namespace")
        case .userWide: parts.append("process count capped by RLIMIT_NPROC over all of the user's processes")
        case .none: parts.append("process count not capped (root without a pids cgroup; bounded by the time limit)")
        }
        return parts.joined(separator: "; ") + (shortfall.isEmpty ? "" : " [\(shortfall)]")
    }

    /// The arguments for `/bin/sh` that run `program arguments…` in `work` under `limits` and this isolation.
    ///
    /// The shell enters `work` (dropping the `PWD`/`OLDPWD` that `cd` exports), joins `cgroup`, sets the limits and
    /// `exec`s. With namespaces it `exec`s `unshare` into new ones, where a second shell starts the placeholder
    /// first process of the PID namespace (it dies with the shell's process) and `exec`s `timeout` with no time
    /// limit: a relay that runs the plugin as its child (via `unshare --mount-proc` for a private /proc and
    /// `setpriv` to drop every capability) and ends the way the plugin ended, signal included. The plugin itself is
    /// not the namespace's first process, which would ignore signals it has no handler for (SIGXCPU, SIGXFSZ).
    /// - Parameter cgroup: the run's cgroup directory, if it has one.
    func shellArguments(
        program: String, arguments: [String], work: String, limits: PluginLimits, cgroup: String?
    ) -> [String] {
        var script = "cd -- \"$1\" || exit 126; unset PWD OLDPWD; shift; "
        if let cgroup {
            script += "echo $$ > \(Self.quoted(cgroup + "/cgroup.procs")) || exit 126; "
        }
        var resources = ["ulimit -c 0"] + Self.resourceLimits(limits)
        if processCap == .userWide {
            resources.append(Self.processLimit(Self.taskBudget(limits) + Self.taskCount(realUID: getuid())))
        }
        script += resources.joined(separator: " && ") + " || exit 126; "
        guard let tools else {
            return ["-c", script + "exec \"$0\" \"$@\"", program, work] + arguments
        }
        var inner = "unset PWD OLDPWD; "
        if userNamespace {
            inner += Self.processLimit(Self.taskBudget(limits)) + " || exit 126; "
        }
        inner += "\(Self.quoted(tools.setpriv)) --pdeathsig KILL -- \(Self.quoted(tools.sleep)) 2147483647 "
        inner += "</dev/null >/dev/null 2>&1 & "
        inner += "exec \(Self.quoted(tools.timeout)) --foreground 0 "
        if privateProc {
            inner += "\(Self.quoted(tools.unshare)) --mount-proc -- "
        }
        inner += "\(Self.quoted(tools.setpriv)) --bounding-set=-all --inh-caps=-all --no-new-privs -- \"$0\" \"$@\""
        script += "exec \(Self.quoted(tools.unshare)) \(userNamespace ? "--user --map-root-user " : "")--net --pid "
        script += "-- /bin/sh -c \(Self.quoted(inner)) \"$0\" \"$@\""
        return ["-c", script, program, work] + arguments
    }

    /// `ulimit` commands for CPU time, address space and file size. The CPU hard limit is one second above the soft
    /// one so the plugin first gets SIGXCPU, which names the cause, before SIGKILL. Limits are capped at the
    /// worker's own hard limits.
    private static func resourceLimits(_ limits: PluginLimits) -> [String] {
        let cpuHardCap = SystemCalls.hardLimit(RLIMIT_CPU).map { Int(clamping: $0) } ?? Int.max
        let cpuSeconds = min(max(1, limits.cpuSeconds), 1 << 40)
        let cpuHard = min(cpuSeconds + 1, cpuHardCap)
        let cpuSoft = min(cpuSeconds, cpuHard)
        let kilobytes = min(max(1, limits.memoryBytes / 1024), cap(RLIMIT_AS, unit: 1024))
        let blocks = min(
            max(0, limits.fileSizeBytes / 512 + (limits.fileSizeBytes % 512 == 0 ? 0 : 1)),
            cap(RLIMIT_FSIZE, unit: 512))
        return ["ulimit -S -t \(cpuSoft)", "ulimit -H -t \(cpuHard)", "ulimit -v \(kilobytes)", "ulimit -f \(blocks)"]
    }

    /// The process count allowed for a run: the plugin's `processes` plus two for the wrapper (the shell that
    /// becomes the relay, and the placeholder first process of the PID namespace).
    static func taskBudget(_ limits: PluginLimits) -> Int {
        min(max(1, limits.processes), 1 << 30) + 2
    }

    /// A command setting RLIMIT_NPROC: `ulimit -u` in bash and most shells, `ulimit -p` in dash.
    private static func processLimit(_ count: Int) -> String {
        let value = min(max(1, count), cap(__RLIMIT_NPROC, unit: 1))
        return "{ ulimit -u \(value) 2>/dev/null || ulimit -p \(value); }"
    }

    /// The worker's own hard limit for `resource` in `unit`s, or `Int.max` if unlimited.
    private static func cap(_ resource: __rlimit_resource, unit: UInt64) -> Int {
        SystemCalls.hardLimit(resource).map { Int(clamping: $0 / unit) } ?? Int.max
    }

    /// How many tasks (threads) the user `uid` has, as RLIMIT_NPROC counts them, from /proc.
    static func taskCount(realUID uid: uid_t) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return 0 }
        var count = 0
        for name in names where name.first?.isNumber == true {
            guard let status = try? String(contentsOfFile: "/proc/\(name)/status", encoding: .utf8) else { continue }
            var owner: uid_t?
            var threads = 1
            for line in status.split(separator: "\n") {
                if line.hasPrefix("Uid:") {
                    owner = line.dropFirst(4).split(whereSeparator: \.isWhitespace).first.flatMap { uid_t($0) }
                } else if line.hasPrefix("Threads:") {
                    threads = Int(line.dropFirst(8).trimmingCharacters(in: .whitespaces)) ?? 1
                }
            }
            if owner == uid { count += threads }
        }
        return count
    }

    /// `text` as one single-quoted shell word.
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
