import Foundation

/// Runs programs inside a pinned environment with runc (`ContainerRunner`): the run's directories are bind-mounted at
/// their `/app` paths (the ones it only reads, read-only), with no network, the environment's own root file system
/// read-only, and the limits as a cgroup. Its image must hold Codabench's `/app` mount points
/// (`deploy/images/build-python-legacy.sh` makes them).
struct EnvironmentExecutor: ProgramExecutor {
    let environment: ContainerEnvironment
    let stateDirectory: String

    var identity: String { environment.name + "=" + environment.rootfs }

    init(environment: ContainerEnvironment, stateDirectory: String = ContainerRunner.defaultStateDirectory) {
        self.environment = environment
        self.stateDirectory = stateDirectory
    }

    func run(
        _ words: [String], mounts: [ProgramMount], directory: String, home: String, limits: PluginLimits,
        environment extra: [String: String]
    ) throws(ScoringFailure) -> String {
        let runner = ContainerRunner(environment: environment, limits: limits, stateDirectory: stateDirectory)
        var log = ""
        _ = try runner.execute(
            arguments: words,
            mounts: mounts.map { ContainerMount(source: $0.source, destination: $0.path, readOnly: !$0.writable) },
            workingDirectory: "/app/" + directory, environment: extra
        ) { _, output throws(ScoringFailure) in
            log = output
            return ScoreOutcome(score: 0)
        }
        return log
    }
}
