import Foundation
import Glibc

/// Reads what the kernel recorded in a container run's memory cgroup, which runc makes at a path relative to the
/// evaluator's own cgroup and keeps until the container is deleted. Stateless; any thread may call it.
enum ContainerCgroup {
    /// How many times the kernel's OOM killer killed a process of the run's cgroup (`oom_kill` in cgroup v1's
    /// `memory.oom_control` or v2's `memory.events`), or nil if it cannot be read here.
    /// - Parameter relativePath: the run's `cgroupsPath`, relative to this process's cgroup.
    static func oomKills(relativePath: String) -> Int? {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let memberships = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        for (directory, file) in memoryDirectories(mountinfo: mounts, cgroup: memberships) {
            let path = directory + "/" + relativePath + "/" + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 2, fields[0] == "oom_kill", let count = Int(fields[1]) { return count }
            }
        }
        return nil
    }

    /// This process's memory cgroup directories with the file holding their OOM kills: cgroup v1's `memory`
    /// hierarchy first, then v2's.
    static func memoryDirectories(mountinfo: String, cgroup: String) -> [(String, String)] {
        let found = PluginCgroup.directories(of: "memory", mountinfo: mountinfo, cgroup: cgroup)
        return [found.v1.map { ($0, "memory.oom_control") }, found.v2.map { ($0, "memory.events") }].compactMap { $0 }
    }
}
