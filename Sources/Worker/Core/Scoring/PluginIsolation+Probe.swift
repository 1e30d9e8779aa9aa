import Foundation
import Glibc

extension PluginIsolation {
    /// The isolation plugin runs get in this process: probed on first use, then fixed.
    static let current = probe()

    /// Finds the strongest isolation that works here, by running a small shell script through each candidate
    /// wrapper and checking what it sees: its process id, /proc, network devices, capabilities and cgroup. Takes a
    /// few tens of milliseconds, once.
    static func probe() -> PluginIsolation {
        let root = geteuid() == 0
        var shortfalls: [String] = []
        var chosen = unisolated
        if let tools = Tools.find() {
            // Root can make the namespaces without a user namespace when user namespaces are disabled.
            let shapes: [(user: Bool, proc: Bool)] =
                root ? [(true, true), (true, false), (false, true), (false, false)] : [(true, true), (true, false)]
            for shape in shapes {
                let candidate = PluginIsolation(
                    userNamespace: shape.user, networkDenied: true, pidNamespace: true, privateProc: shape.proc,
                    processCap: shape.user && !root ? .userNamespace : .none, shortfall: "", tools: tools,
                    cgroupBase: nil)
                if let problem = candidate.check() {
                    shortfalls.append(problem)
                } else {
                    chosen = candidate
                    break
                }
            }
        } else {
            shortfalls.append("unshare, setpriv, timeout or sleep is not in /usr/bin or /bin")
        }
        if let base = PluginCgroup.findBase() {
            let candidate = chosen.with(processCap: .cgroup, cgroupBase: base)
            if let problem = candidate.check() {
                shortfalls.append(problem)
            } else {
                chosen = candidate
            }
        } else if root {
            shortfalls.append("no pids cgroup this process may create children in")
        }
        if chosen.processCap == .none, !root {
            let candidate = chosen.with(processCap: .userWide, cgroupBase: nil)
            if let problem = candidate.check() {
                shortfalls.append(problem)
            } else {
                chosen = candidate
            }
        }
        return chosen.with(shortfall: shortfalls.joined(separator: "; "))
    }

    /// Runs the probe script through this isolation's wrapper, in a cgroup of its own if it uses cgroups.
    /// - Returns: nil if the script saw everything promised, else what went wrong.
    func check() -> String? {
        let label = checkLabel
        var cgroup: String?
        if let base = cgroupBase {
            guard let made = PluginCgroup.create(in: base, maxTasks: 16) else {
                return "\(label): could not make a cgroup in \(base)"
            }
            cgroup = made
        }
        defer {
            if let cgroup { PluginCgroup.remove(cgroup) }
        }
        let arguments = shellArguments(
            program: "/bin/sh", arguments: ["-c", probeScript], work: "/", limits: PluginLimits(processes: 16),
            cgroup: cgroup)
        let outcome: PluginProcess.Outcome
        do {
            let environment = ["PATH=\(PluginRunner.searchPath)", "LANG=C.UTF-8"]
            outcome = try PluginProcess.run(
                path: "/bin/sh", arguments: arguments, environment: environment, wallSeconds: 10, outputBytes: 4096)
        } catch {
            return "\(label): \(error)"
        }
        let said = String(decoding: outcome.stdout.head, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if outcome.termination == .exited(0), !outcome.timedOut, said == "ok" {
            return nil
        }
        if let complaint = outcome.stderr.lastLines(1).first ?? (said.isEmpty ? nil : said) {
            return "\(label): \(complaint)"
        }
        switch outcome.termination {
        case .exited(let status): return "\(label): exited with status \(status)"
        case .signaled(let signal): return "\(label): killed by \(PluginTermination.signalName(signal))"
        case .unknown(let reason): return "\(label): \(reason)"
        }
    }

    /// What a failed check was trying, for `shortfall`.
    private var checkLabel: String {
        if cgroupBase != nil { return "pids cgroup" }
        if processCap == .userWide { return "RLIMIT_NPROC" }
        guard pidNamespace else { return "plain run" }
        return (userNamespace ? "unshare --user --net --pid" : "unshare --net --pid")
            + (privateProc ? " with a private /proc" : "")
    }

    /// A shell script that prints "ok" if it runs as promised by this isolation, or else what is wrong.
    private var probeScript: String {
        var script = ""
        if pidNamespace {
            script += "[ \"$$\" = 2 ] || { echo \"the plugin is process $$, not 2\"; exit 1; }; "
            script += "while read -r key value; do [ \"$key\" != CapEff: ] || caps=$value; done < /proc/self/status; "
            script += "[ \"$caps\" = 0000000000000000 ] || { echo \"capabilities $caps\"; exit 1; }; "
        }
        if privateProc {
            script += "read -r self rest < /proc/self/stat; "
            script += "[ \"$self\" = 2 ] || { echo '/proc is not private'; exit 1; }; "
        }
        if networkDenied {
            script += "n=0; while read -r line; do case $line in *:*) n=$((n + 1));; esac; done < /proc/net/dev; "
            script += "[ \"$n\" = 1 ] || { echo \"$n network devices\"; exit 1; }; "
        }
        if cgroupBase != nil {
            script += "in=no; while read -r line; do case $line in *pumasi-plugin-*) in=yes;; esac; "
            script += "done < /proc/self/cgroup; [ \"$in\" = yes ] || { echo 'not in the cgroup'; exit 1; }; "
        }
        return script + "echo ok"
    }

    private func with(processCap: ProcessCap, cgroupBase: String?) -> PluginIsolation {
        PluginIsolation(
            userNamespace: userNamespace, networkDenied: networkDenied, pidNamespace: pidNamespace,
            privateProc: privateProc, processCap: processCap, shortfall: shortfall, tools: tools,
            cgroupBase: cgroupBase)
    }

    private func with(shortfall: String) -> PluginIsolation {
        PluginIsolation(
            userNamespace: userNamespace, networkDenied: networkDenied, pidNamespace: pidNamespace,
            privateProc: privateProc, processCap: processCap, shortfall: shortfall, tools: tools,
            cgroupBase: cgroupBase)
    }
}
