import Foundation
import Glibc

/// Per-run pids cgroups: the one process-count cap that also holds for root, which RLIMIT_NPROC exempts.
///
/// A run's cgroup is a directory `pumasi-plugin-<evaluator pid>-<random>` made under the evaluator's own cgroup in
/// the pids hierarchy (cgroup v1 `pids`, or v2 where the evaluator's cgroup already delegates `pids` to its
/// children), with `pids.max` set. The plugin's wrapper shell joins it before anything else, so every process the
/// plugin starts is counted. Nothing is configured on the machine: without such a writable place there are no
/// cgroups. Stateless; any thread may call these functions.
enum PluginCgroup {
    /// The directory per-run cgroups are made in, if this process may make them there; found once and checked
    /// by making, limiting and removing one. Cgroups left by evaluators that are gone are removed on the way.
    static func findBase() -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let memberships = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        for candidate in candidates(mountinfo: mounts, cgroup: memberships) {
            removeAbandoned(in: candidate)
            if let probe = create(in: candidate, maxTasks: 16) {
                remove(probe)
                return candidate
            }
        }
        return nil
    }

    /// Where this process's pids cgroup is, v1 first: from its memberships (`/proc/self/cgroup`) and the cgroup
    /// mounts (`/proc/self/mountinfo`).
    static func candidates(mountinfo: String, cgroup: String) -> [String] {
        let found = directories(of: "pids", mountinfo: mountinfo, cgroup: cgroup)
        return [found.v1, found.v2].compactMap { $0 }
    }

    /// This process's cgroup directory in cgroup v1's hierarchy of `controller` and in the v2 hierarchy, where
    /// each is mounted: from its memberships (`/proc/self/cgroup`) and the mounts (`/proc/self/mountinfo`).
    static func directories(of controller: Substring, mountinfo: String, cgroup: String) -> (v1: String?, v2: String?) {
        var v1Path: String?
        var v2Path: String?
        for line in cgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0", fields[1].isEmpty {
                v2Path = String(fields[2])
            } else if fields[1].split(separator: ",").contains(controller) {
                v1Path = String(fields[2])
            }
        }
        var v1Base: String?
        var v2Base: String?
        for line in mountinfo.split(separator: "\n") {
            // id parent major:minor root mount-point options [optional…] - type source super-options
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = parts.firstIndex(of: "-"), dash >= 5, parts.count > dash + 3 else { continue }
            let root = unescaped(parts[3])
            let mountPoint = unescaped(parts[4])
            let type = parts[dash + 1]
            let superOptions = parts[dash + 3].split(separator: ",")
            if type == "cgroup", superOptions.contains(controller), let path = v1Path {
                v1Base = v1Base ?? joined(mountPoint, root: root, path: path)
            } else if type == "cgroup2", let path = v2Path {
                v2Base = v2Base ?? joined(mountPoint, root: root, path: path)
            }
        }
        return (v1Base, v2Base)
    }

    /// Makes a run's cgroup under `base` with `pids.max` = `maxTasks`.
    /// - Returns: its directory, or nil if it could not be made and limited (nothing is left behind then).
    static func create(in base: String, maxTasks: Int) -> String? {
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let path = "\(base)/pumasi-plugin-\(getpid())-\(suffix)"
        guard mkdir(path, 0o755) == 0 else { return nil }
        guard write("\(max(1, maxTasks))", to: path + "/pids.max") else {
            _ = rmdir(path)
            return nil
        }
        return path
    }

    /// Kills whatever is still in a run's cgroup (cgroup v2 `cgroup.kill`, else each listed process: what escaped
    /// the process group when there is no PID namespace to catch it), then removes the cgroup, waiting up to two
    /// seconds for the killed processes to exit.
    static func remove(_ path: String) {
        if !write("1", to: path + "/cgroup.kill") {
            let listed = (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in listed.split(separator: "\n").compactMap({ pid_t($0) }) where pid > 1 {
                _ = kill(pid, SIGKILL)
            }
        }
        let deadline = SystemCalls.monotonicNanoseconds() + 2_000_000_000
        while rmdir(path) != 0, errno == EBUSY || errno == EINTR, SystemCalls.monotonicNanoseconds() < deadline {
            _ = poll(nil, 0, 5)
        }
    }

    /// Removes empty run cgroups under `base` whose evaluator process no longer exists.
    private static func removeAbandoned(in base: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix("pumasi-plugin-") {
            let owner = name.dropFirst("pumasi-plugin-".count).prefix { $0 != "-" }
            guard let pid = pid_t(owner), pid != getpid(), kill(pid, 0) == -1, errno == ESRCH else { continue }
            _ = rmdir(base + "/" + name)
        }
    }

    /// Writes `text` to an existing (kernel) file without truncating or creating it.
    private static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    /// `path` (a cgroup path) inside a cgroup file system mounted at `mountPoint` whose root is `root`.
    static func joined(_ mountPoint: String, root: String, path: String) -> String? {
        let relative: Substring
        if root == "/" {
            relative = path.dropFirst(0)
        } else if path == root || path.hasPrefix(root + "/") {
            relative = path.dropFirst(root.count)
        } else {
            return nil
        }
        let trimmed = relative.drop { $0 == "/" }
        return trimmed.isEmpty ? mountPoint : mountPoint + "/" + trimmed
    }

    /// Undoes mountinfo's octal escapes (`\040` for a space).
    static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
