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
        var v1Path: String?
        var v2Path: String?
        for line in cgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0", fields[1].isEmpty {
                v2Path = String(fields[2])
            } else if fields[1].split(separator: ",").contains("memory") {
                v1Path = String(fields[2])
            }
        }
        var v1: String?
        var v2: String?
        for line in mountinfo.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = parts.firstIndex(of: "-"), dash >= 5, parts.count > dash + 3 else { continue }
            let root = PluginCgroup.unescaped(parts[3])
            let mountPoint = PluginCgroup.unescaped(parts[4])
            let type = parts[dash + 1]
            if type == "cgroup", parts[dash + 3].split(separator: ",").contains("memory"), let path = v1Path {
                v1 = v1 ?? PluginCgroup.joined(mountPoint, root: root, path: path)
            } else if type == "cgroup2", let path = v2Path {
                v2 = v2 ?? PluginCgroup.joined(mountPoint, root: root, path: path)
            }
        }
        return [v1.map { ($0, "memory.oom_control") }, v2.map { ($0, "memory.events") }].compactMap { $0 }
    }
}
