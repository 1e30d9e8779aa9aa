import Foundation

/// Resource limits for one plugin run.
public struct PluginLimits: Sendable, Equatable {
    /// Wall-clock limit in seconds; past it the plugin's whole process group is killed. Default 30.
    public var wallSeconds: Double
    /// CPU time limit in seconds (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL a second later. Default 30.
    public var cpuSeconds: Int
    /// Address-space limit in bytes (RLIMIT_AS). Default 1 GiB.
    public var memoryBytes: Int
    /// Largest file the plugin may write, in bytes (RLIMIT_FSIZE, rounded up to 512-byte blocks). Default 64 MiB.
    public var fileSizeBytes: Int
    /// Cap on the captured stdout and, separately, stderr. Output beyond it is read and discarded, and the log
    /// notes how much was dropped. Default 64 KiB.
    public var outputBytes: Int
    /// Most processes (threads count too) the plugin may have at once, where `PluginRunner.isolation` can cap
    /// them: a pids cgroup, or RLIMIT_NPROC in the run's own user namespace. Default 256.
    public var processes: Int

    /// Creates limits; every parameter has the default documented on its property.
    public init(
        wallSeconds: Double = 30, cpuSeconds: Int = 30, memoryBytes: Int = 1 << 30, fileSizeBytes: Int = 64 << 20,
        outputBytes: Int = 64 << 10, processes: Int = 256
    ) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.fileSizeBytes = fileSizeBytes
        self.outputBytes = outputBytes
        self.processes = processes
    }
}
