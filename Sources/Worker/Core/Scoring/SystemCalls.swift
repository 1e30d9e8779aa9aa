import Glibc

/// Thin helpers over the C library calls the plugin runner makes. Stateless and thread-safe.
///
/// Swift's Glibc module is built without `_GNU_SOURCE`, which hides `pipe2` and
/// `posix_spawn_file_actions_addclosefrom_np`; both are looked up once with `dlsym` instead.
enum SystemCalls {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    private static let pipe2: Pipe2? = symbol("pipe2", as: Pipe2.self)
    private static let addCloseFrom: AddCloseFrom? = symbol(
        "posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)

    /// A system call that failed: the call and its errno, e.g. `pipe2: Too many open files (errno 24)`.
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var code: Int32

        var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
    }

    /// Runs a call returning -1 on failure, retrying on EINTR.
    /// - Throws: `Failure` with errno read right after the failing call.
    @discardableResult
    static func retrying(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(Failure) -> Int32 {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw Failure(operation: operation(), code: code)
        }
    }

    /// Creates a pipe whose two ends are close-on-exec from the start, so a process spawned concurrently by
    /// another thread cannot inherit them.
    /// - Returns: the read end and the write end; the caller owns both.
    static func closeOnExecPipe() throws(Failure) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let pipe2 {
            try retrying("pipe2") { pipe2(&fds, O_CLOEXEC) }
        } else {
            // Only on C libraries without pipe2; the flag is set right away, leaving a narrow window.
            try retrying("pipe") { pipe(&fds) }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// Adds "close every descriptor from `lowest` up" to spawn file actions, where the C library supports it.
    static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, lowest: Int32) {
        if let addCloseFrom {
            _ = addCloseFrom(&actions, lowest)
        }
    }

    /// Nanoseconds on the monotonic clock.
    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The current hard limit of a resource, or nil if unlimited.
    static func hardLimit(_ resource: __rlimit_resource) -> UInt64? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0, limit.rlim_max != rlim_t.max else {
            return nil
        }
        return UInt64(limit.rlim_max)
    }

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }
}
