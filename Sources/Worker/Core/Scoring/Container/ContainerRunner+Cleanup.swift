import Foundation
import Glibc

extension ContainerRunner {
    /// Deletes the containers and bundles that evaluators which are gone left in the state directory (a run deletes
    /// its own, but not if its evaluator was killed during it): those whose id names a process that no longer
    /// exists (`pumasi-<pid>-…`). For the evaluator's start-up; safe while other evaluators share the directory.
    /// - Returns: the ids removed.
    @discardableResult
    public func removeAbandoned() -> [String] {
        let bundles = stateDirectory + "/bundles"
        let listed = (try? FileManager.default.contentsOfDirectory(atPath: bundles)) ?? []
        var containers: [String] = []
        if let runcPath {
            containers = Runc(path: runcPath, stateRoot: stateRoot).list() ?? []
        }
        var removed: [String] = []
        for id in Set(listed + containers).sorted() where Self.isAbandoned(id) {
            if let runcPath, containers.contains(id) {
                guard Runc(path: runcPath, stateRoot: stateRoot).delete(id) == nil else { continue }
            }
            try? FileManager.default.removeItem(atPath: bundles + "/" + id)
            removed.append(id)
        }
        return removed
    }

    /// Whether `id` is a run of an evaluator process that no longer exists.
    static func isAbandoned(_ id: String) -> Bool {
        guard id.hasPrefix("pumasi-") else { return false }
        let owner = id.dropFirst("pumasi-".count).prefix { $0 != "-" }
        guard let pid = pid_t(owner), pid > 0, pid != getpid() else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }
}
