internal import CMalloc
import Foundation

/// This process's memory, as the system sees it, and a way to give freed memory back.
public enum ProcessMemory {
    /// Returns the heap memory glibc keeps after it was freed (in every arena, those of libzmq's I/O threads
    /// included) to the system. It walks the heap: a few milliseconds on a large one, so call it after a burst,
    /// not per message.
    public static func giveBack() { _ = malloc_trim(0) }

    /// The resident set size (`VmRSS`) and its peak (`VmHWM`) of process `pid` (this one by default), in bytes,
    /// from `/proc/<pid>/status`; nil where it cannot be read.
    public static func resident(pid: Int32 = getpid()) -> (current: Int, peak: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ field: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else {
                return nil
            }
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        guard let current = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
        return (current << 10, peak << 10)
    }
}
