import Foundation

/// The process's limit on open file descriptors (RLIMIT_NOFILE), which bounds a server's connections: each TCP
/// connection a ZeroMQ socket accepts is one descriptor.
public enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one, as servers do at start: the soft limit is often 1,024 while the hard one
    /// (systemd's `LimitNOFILE`, or the login's `ulimit -Hn`) is far higher.
    /// - Returns: the soft limit before and after; both the same when it was already at the hard limit, or when the
    ///   kernel refused.
    @discardableResult
    public static func raiseToHard() -> (before: UInt64, after: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 else { return (before, before) }
        return (before, UInt64(raised.rlim_cur))
    }

    /// Raises the limit to `wanted` for a process that opens thousands of sockets of its own (`pumasi-bench crowd`):
    /// as root the hard limit too (never past the kernel's `fs.nr_open`), then the soft one to the hard one.
    /// - Returns: the soft limit now in force.
    public static func raise(to wanted: UInt64) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if geteuid() == 0, limit.rlim_max < rlim_t(wanted) {
            let ceiling =
                (try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8))
                .flatMap { rlim_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? rlim_t(wanted)
            var raised = limit
            raised.rlim_max = min(rlim_t(wanted), ceiling)
            raised.rlim_cur = raised.rlim_max
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised)
        }
        return raiseToHard().after
    }
}
