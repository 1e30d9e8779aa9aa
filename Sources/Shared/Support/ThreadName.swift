import Foundation

/// Names the calling thread for the operating system (`top -H`, `perf`, `/proc/<pid>/task/*/comm`), which
/// Foundation's `Thread.name` does not do on Linux. Linux keeps at most 15 bytes.
public func nameCurrentThread(_ name: String) {
    try? String(name.utf8.prefix(15))?.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
}
