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
}
