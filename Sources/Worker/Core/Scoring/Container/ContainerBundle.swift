import Foundation

/// The OCI runtime configuration (`config.json`) of one container run, as runc 1.1 reads it.
///
/// Starts from what `runc spec` makes (its /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and read-only /sys mounts,
/// its masked and read-only paths, every device denied but runc's defaults) and tightens it: a read-only root, no
/// network (a network namespace with nothing configured, not even `lo` up), new PID, IPC, UTS and mount
/// namespaces, no capabilities, no new privileges, no terminal, resource limits from `PluginLimits`, and a tmpfs
/// at /tmp. A pure value: building it touches nothing.
struct ContainerBundle {
    /// The root file system directory, absolute.
    var rootfs: String
    var arguments: [String]
    /// "NAME=value" entries.
    var environment: [String]
    var workingDirectory: String
    var mounts: [ContainerMount]
    var limits: PluginLimits
    /// The run's cgroup, relative to the evaluator's own cgroups (runc makes it and removes it on delete).
    var cgroupPath: String

    /// Most descriptors a run may open (RLIMIT_NOFILE).
    static let openFiles = 1024

    /// The configuration as a JSON object.
    var configuration: [String: Any] {
        [
            "ociVersion": "1.0.2-dev",
            "process": process,
            "root": ["path": rootfs, "readonly": true],
            "hostname": "pumasi",
            "mounts": systemMounts + mounts.map(Self.bind),
            "linux": linux,
        ]
    }

    /// The configuration as `config.json` bytes.
    func json() throws -> Data {
        try JSONSerialization.data(withJSONObject: configuration, options: [.sortedKeys])
    }

    private var process: [String: Any] {
        let noCapabilities: [String: [String]] = [
            "bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": [],
        ]
        let cpu = max(1, limits.cpuSeconds)
        let fileSize = max(0, limits.fileSizeBytes)
        return [
            "terminal": false,
            "user": ["uid": 0, "gid": 0],
            "args": arguments,
            "env": environment,
            "cwd": workingDirectory,
            "capabilities": noCapabilities,
            "noNewPrivileges": true,
            "rlimits": [
                Self.rlimit("RLIMIT_NOFILE", Self.openFiles, Self.openFiles),
                Self.rlimit("RLIMIT_CORE", 0, 0),
                // SIGXCPU at the limit, SIGKILL a second later, as for plugins.
                Self.rlimit("RLIMIT_CPU", cpu, cpu + 1),
                Self.rlimit("RLIMIT_FSIZE", fileSize, fileSize),
            ],
        ]
    }

    private var systemMounts: [[String: Any]] {
        let tmpSize = "size=\(max(1, limits.memoryBytes / 1024))k"
        return [
            Self.mount("/proc", type: "proc", source: "proc", ["nosuid", "noexec", "nodev"]),
            Self.mount("/dev", type: "tmpfs", source: "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Self.mount(
                "/dev/pts", type: "devpts", source: "devpts",
                ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Self.mount(
                "/dev/shm", type: "tmpfs", source: "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Self.mount("/dev/mqueue", type: "mqueue", source: "mqueue", ["nosuid", "noexec", "nodev"]),
            Self.mount("/sys", type: "sysfs", source: "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            // Its pages count against the memory limit like any other memory of the run.
            Self.mount("/tmp", type: "tmpfs", source: "tmpfs", ["nosuid", "nodev", "mode=1777", tmpSize]),
        ]
    }

    private var linux: [String: Any] {
        var resources: [String: Any] = [
            "devices": [["allow": false, "access": "rwm"]],
            "pids": ["limit": max(1, limits.processes)],
        ]
        if limits.memoryBytes > 0 {
            // Swap equal to the limit: no swap on top of it.
            resources["memory"] = ["limit": limits.memoryBytes, "swap": limits.memoryBytes]
        }
        return [
            "namespaces": ["pid", "network", "ipc", "uts", "mount"].map { ["type": $0] },
            "resources": resources,
            "cgroupsPath": cgroupPath,
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
        ]
    }

    private static func mount(_ destination: String, type: String, source: String, _ options: [String])
        -> [String: Any]
    {
        ["destination": destination, "type": type, "source": source, "options": options]
    }

    private static func bind(_ mount: ContainerMount) -> [String: Any] {
        let options = ["rbind", mount.readOnly ? "ro" : "rw", "nosuid", "nodev"]
        return Self.mount(mount.destination, type: "bind", source: mount.source, options)
    }

    private static func rlimit(_ type: String, _ soft: Int, _ hard: Int) -> [String: Any] {
        ["type": type, "soft": soft, "hard": hard]
    }
}
