import Glibc

/// Runs one program in a new process group and collects its output and status: the mechanics under
/// `PluginRunner`. Uses `posix_spawn`, `poll` and `waitid`/`wait4` directly; holds no shared state, so any
/// number of threads may run processes at once.
///
/// Orphans: the group is killed with SIGKILL when the program exits or times out, so children it left behind
/// die too. Whoever adopts them (init, or a subreaper) reaps them. A process that leaves the group (`setsid`)
/// escapes this kill (the PID namespace of `PluginIsolation`, where there is one, catches it); reading stops at
/// most a few seconds after the program ends even if such a process holds the pipes.
struct PluginProcess {
    /// What a run produced.
    struct Outcome {
        var termination: PluginTermination
        /// Whether the wall-clock limit was reached and the group killed.
        var timedOut: Bool
        var stdout: OutputCapture
        var stderr: OutputCapture
        /// User plus system CPU time the program used.
        var cpuSeconds: Double
    }

    /// How long to keep reading after the program ended, for output still in flight.
    static let drainAfterExit: Int64 = 1_000_000_000
    /// How long to keep reading after killing a timed-out group.
    static let drainAfterKill: Int64 = 2_000_000_000
    /// The longest pause between checks whether the program has exited while its pipes are quiet.
    static let maximumIdleWait: Int64 = 50_000_000

    /// Spawns `path` with `arguments` (argv[1...]) and exactly `environment` ("NAME=value"), stdin from /dev/null,
    /// stdout and stderr captured up to `outputBytes` each, and waits for it.
    /// - Parameter onTimeout: called once at the wall-clock limit, before the group is killed: to stop what the
    ///   group kill cannot reach (a container runc started in a session of its own).
    /// - Throws: `SystemCalls.Failure` if the process could not be started or watched (it is killed and reaped
    ///   first in the second case).
    static func run(
        path: String, arguments: [String], environment: [String], wallSeconds: Double, outputBytes: Int,
        onTimeout: () -> Void = {}
    ) throws(SystemCalls.Failure) -> Outcome {
        let outPipe = try SystemCalls.closeOnExecPipe()
        var outRead = OwnedDescriptor(outPipe.read)
        var outWrite = OwnedDescriptor(outPipe.write)
        let errPipe = try SystemCalls.closeOnExecPipe()
        var errRead = OwnedDescriptor(errPipe.read)
        var errWrite = OwnedDescriptor(errPipe.write)

        let start = SystemCalls.monotonicNanoseconds()
        let pid = try spawn(
            path: path, arguments: arguments, environment: environment, stdout: outWrite.raw, stderr: errWrite.raw)
        outWrite.close()
        errWrite.close()

        let wall = wallSeconds.isFinite ? min(max(wallSeconds, 0), 10_000_000) : 10_000_000
        let deadline = start + Int64(wall * 1e9)
        var stdout = OutputCapture(limit: outputBytes)
        var stderr = OutputCapture(limit: outputBytes)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var exited = false
        var gone = false
        var timedOut = false
        var stopReadingAt: Int64?
        var idleWait: Int64 = 1_000_000

        while true {
            let now = SystemCalls.monotonicNanoseconds()
            if !exited {
                switch probe(pid) {
                case .running:
                    break
                case .exited:
                    exited = true
                    if !timedOut {
                        killGroup(pid)
                        stopReadingAt = now + drainAfterExit
                    }
                case .gone:
                    exited = true
                    gone = true
                    stopReadingAt = stopReadingAt ?? now + drainAfterExit
                }
            }
            if exited, !outRead.isOpen, !errRead.isOpen { break }
            if let stop = stopReadingAt, now >= stop { break }
            if !exited, !timedOut, now >= deadline {
                timedOut = true
                onTimeout()
                killGroup(pid)
                stopReadingAt = now + drainAfterKill
                continue
            }

            var wait = exited ? maximumIdleWait : idleWait
            if !timedOut, !exited { wait = min(wait, deadline - now) }
            if let stop = stopReadingAt { wait = min(wait, stop - now) }
            var fds: [pollfd] = []
            if outRead.isOpen { fds.append(pollfd(fd: outRead.raw, events: Int16(POLLIN), revents: 0)) }
            if errRead.isOpen { fds.append(pollfd(fd: errRead.raw, events: Int16(POLLIN), revents: 0)) }
            let milliseconds = Int32(clamping: (max(wait, 0) + 999_999) / 1_000_000)
            let ready = poll(&fds, nfds_t(fds.count), milliseconds)
            if ready == -1, errno != EINTR {
                let failure = SystemCalls.Failure(operation: "poll", code: errno)
                killGroup(pid)
                if !gone { _ = reap(pid) }
                throw failure
            }
            guard ready > 0 else {
                // A timeout, or EINTR: either way the loop re-checks the clock and the process.
                idleWait = min(idleWait * 2, maximumIdleWait)
                continue
            }
            idleWait = 1_000_000
            for entry in fds where entry.revents != 0 {
                if entry.fd == outRead.raw {
                    readChunk(from: &outRead, into: &stdout, buffer: &buffer)
                } else if entry.fd == errRead.raw {
                    readChunk(from: &errRead, into: &stderr, buffer: &buffer)
                }
            }
        }
        outRead.close()
        errRead.close()

        var termination = PluginTermination.unknown("its status was collected elsewhere (is SIGCHLD ignored?)")
        var cpuSeconds = 0.0
        if !gone {
            (termination, cpuSeconds) = reap(pid)
        }
        return Outcome(
            termination: termination, timedOut: timedOut, stdout: stdout, stderr: stderr, cpuSeconds: cpuSeconds)
    }

    /// Starts the process in its own process group (group id = its pid) with default signal handling and an
    /// empty signal mask, stdin on /dev/null, stdout and stderr on the given descriptors, and every other
    /// descriptor closed (where the C library has `posix_spawn_file_actions_addclosefrom_np`; ours are all
    /// close-on-exec anyway).
    private static func spawn(
        path: String, arguments: [String], environment: [String], stdout: Int32, stderr: Int32
    ) throws(SystemCalls.Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        try check("posix_spawn_file_actions_init", posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        try check("posix_spawnattr_init", posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }

        try check(
            "posix_spawn_file_actions_addopen", posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, stdout, 1))
        try check("posix_spawn_file_actions_adddup2", posix_spawn_file_actions_adddup2(&actions, stderr, 2))
        SystemCalls.addCloseFrom(&actions, lowest: 3)

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        try check("posix_spawnattr_setflags", posix_spawnattr_setflags(&attributes, Int16(flags)))
        try check("posix_spawnattr_setpgroup", posix_spawnattr_setpgroup(&attributes, 0))
        try check("posix_spawnattr_setsigmask", posix_spawnattr_setsigmask(&attributes, &noSignals))
        try check("posix_spawnattr_setsigdefault", posix_spawnattr_setsigdefault(&attributes, &allSignals))

        var pid: pid_t = 0
        let result = withCStrings([path] + arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, path, &actions, &attributes, argv, envp)
            }
        }
        guard let code = result ?? nil else {
            throw SystemCalls.Failure(operation: "strdup", code: ENOMEM)
        }
        try check("posix_spawn(\(path))", code)
        return pid
    }

    /// Throws unless `code` (a posix_spawn family result, an errno value itself) is 0.
    private static func check(_ operation: String, _ code: Int32) throws(SystemCalls.Failure) {
        guard code == 0 else { throw SystemCalls.Failure(operation: operation, code: code) }
    }

    /// Calls `body` with a NULL-terminated array of C strings copied from `strings`.
    /// - Returns: nil if a copy could not be allocated.
    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R? {
        var pointers = strings.map { strdup($0) }
        defer {
            for pointer in pointers { free(pointer) }
        }
        guard !pointers.contains(where: { $0 == nil }) else { return nil }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { buffer in buffer.baseAddress.map(body) }
    }

    /// Reads what is available on `descriptor` into `capture`; closes the descriptor at end of file or on error.
    private static func readChunk(
        from descriptor: inout OwnedDescriptor, into capture: inout OutputCapture, buffer: inout [UInt8]
    ) {
        let fd = descriptor.raw
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            buffer.withUnsafeBytes { capture.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
            descriptor.close()
        }
    }

    private enum Probe {
        case running
        case exited
        case gone
    }

    /// Whether the process has ended, without reaping it: while it is an unreaped zombie its pid, and so its
    /// process group id, cannot be reused, which makes killing the group afterwards safe.
    private static func probe(_ pid: pid_t) -> Probe {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                return info._sifields._sigchld.si_pid == pid ? .exited : .running
            }
            if errno != EINTR { return .gone }
        }
    }

    /// Kills every process left in the group; harmless if there is none.
    private static func killGroup(_ pid: pid_t) {
        _ = kill(-pid, SIGKILL)
    }

    /// Waits for the process (already ended or killed) and collects its status and CPU time.
    private static func reap(_ pid: pid_t) -> (PluginTermination, Double) {
        var status: Int32 = 0
        var usage = rusage()
        while true {
            let result = wait4(pid, &status, 0, &usage)
            if result == pid { break }
            if result == -1, errno == EINTR { continue }
            return (.unknown("wait4 failed (errno \(errno))"), 0)
        }
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return (PluginTermination(waitStatus: status), cpu)
    }
}
