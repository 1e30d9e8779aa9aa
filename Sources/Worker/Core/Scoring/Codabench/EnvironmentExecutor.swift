import Foundation

/// Programs in a pinned environment: not wired yet, so such jobs fail as the evaluator's (`plugin_start`), to be
/// replaced by the runc runner in the next step.
struct EnvironmentExecutor: ProgramExecutor {
    let name: String
    let rootfs: String
    init(name: String, rootfs: String, workRoot: String) throws(ScoringFailure) {
        self.name = name
        self.rootfs = rootfs
    }
    var identity: String { name + "=" + rootfs }
    func run(
        _ words: [String], mounts: [ProgramMount], directory: String, home: String, limits: PluginLimits,
        environment: [String: String]
    ) throws(ScoringFailure) -> String {
        throw PluginRunner.startFailure("environments are not wired yet")
    }
}
