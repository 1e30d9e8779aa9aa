import Glibc

/// How a container run ended, as `runc run` and the run's memory cgroup tell it, and the failure it stands for.
///
/// runc exits with the program's status, or 128 + the signal that killed it; its own failures (a bad bundle, a
/// program not found in the image) it also reports with a non-zero status, and logs as errors. A pure value.
struct ContainerEnding {
    var outcome: PluginProcess.Outcome
    /// What runc logged as errors: non-empty when runc itself failed.
    var runcErrors: [String]
    /// How many processes of the run the memory cgroup's OOM killer killed.
    var oomKills: Int

    /// The signal that killed the program, from runc's status (128 + the signal).
    var signal: Int32? {
        guard case .exited(let status) = outcome.termination, status > 128, status < 128 + 65 else { return nil }
        return status - 128
    }

    /// Throws the failure the run stands for, unless it exited 0.
    func interpret(limits: PluginLimits, environment: String, log: String) throws(ScoringFailure) {
        func failure(_ code: String, _ message: String) -> ScoringFailure {
            ScoringFailure(code: code, message: message, log: log)
        }
        if outcome.timedOut {
            throw failure(
                ScoringFailure.pluginTimeout,
                "plugin timed out after \(PluginRunner.seconds(limits.wallSeconds)) s (the wall-clock limit) and was "
                    + "killed")
        }
        let memory = PluginRunner.mebibytes(limits.memoryBytes)
        let stderrEnd = outcome.stderr.lastLines(3).joined(separator: " | ")
        let stderrNote = stderrEnd.isEmpty ? " (stderr is empty)" : ": \(stderrEnd)"
        if outcome.termination != .exited(0), let error = runcErrors.last {
            throw failure(
                ScoringFailure.pluginStart, "runc could not run the program in environment \(environment): \(error)")
        }
        if let signal {
            let name = PluginTermination.signalName(signal)
            throw failure(
                ScoringFailure.pluginCrashed,
                "plugin was killed by \(name)\(cause(of: signal, limits: limits, memory: memory))\(stderrNote)")
        }
        let oomNote =
            oomKills > 0 ? " (the OOM killer killed a process of the run: it hit the memory limit of \(memory))" : ""
        switch outcome.termination {
        case .exited(0):
            return
        case .exited(let status):
            throw failure(ScoringFailure.pluginExit, "plugin exited with status \(status)\(stderrNote)\(oomNote)")
        case .signaled(let signal):
            throw failure(
                ScoringFailure.pluginCrashed, "runc was killed by \(PluginTermination.signalName(signal))\(stderrNote)")
        case .unknown(let reason):
            throw failure(ScoringFailure.pluginExit, "runc ended but \(reason)\(stderrNote)")
        }
    }

    /// Why a signal probably arrived, as a clause starting with ": " or "", for the crash message.
    private func cause(of signal: Int32, limits: PluginLimits, memory: String) -> String {
        let cpu = max(1, limits.cpuSeconds)
        switch signal {
        case SIGKILL where oomKills > 0:
            return ": it hit the memory limit of \(memory) (the OOM killer killed it)"
        case SIGXCPU:
            return ": it reached the CPU time limit of \(cpu) s"
        case SIGKILL where outcome.cpuSeconds >= Double(cpu):
            return ": it reached the CPU time limit of \(cpu) s"
        case SIGXFSZ:
            let limit = PluginRunner.mebibytes(limits.fileSizeBytes)
            return ": it tried to write a file larger than the file-size limit of \(limit)"
        case SIGSEGV, SIGBUS, SIGABRT:
            return " (it may have run out of memory; the limit is \(memory))"
        default:
            return ""
        }
    }
}
