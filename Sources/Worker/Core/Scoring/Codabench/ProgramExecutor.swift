import Foundation
import Glibc

/// A directory a Codabench program sees at `/app/<name>`.
struct ProgramMount: Sendable, Equatable {
    var name: String
    /// Its place on the evaluator's host.
    var source: String
    var writable: Bool

    /// Where the program sees it.
    var path: String { "/app/" + name }
}

/// Where a challenge's Codabench programs run: on the evaluator's own host under plugin containment
/// (`HostExecutor`), or inside a pinned environment (`EnvironmentExecutor`).
protocol ProgramExecutor: Sendable {
    /// What runs programs, for messages and for the canaries' verdict key: "host", or the environment's name and
    /// root.
    var identity: String { get }

    /// Runs a program's command words, which name its directories by their `/app` paths, with `mounts` at
    /// `/app/<name>` and `/app/<directory>` as its current directory, and returns its combined output.
    /// - Throws: what `PluginRunner.execute` throws for a run that did not exit 0 (or could not start).
    func run(
        _ words: [String], mounts: [ProgramMount], directory: String, home: String, limits: PluginLimits,
        environment: [String: String]
    ) throws(ScoringFailure) -> String
}

/// Runs programs on the evaluator's host, through `PluginRunner` (its limits, namespaces and clean environment),
/// with each `/app/<name>` in the command words replaced by the directory's place on the host.
struct HostExecutor: ProgramExecutor {
    let sandbox: PluginIsolation

    var identity: String { "host" }

    func run(
        _ words: [String], mounts: [ProgramMount], directory: String, home: String, limits: PluginLimits,
        environment: [String: String]
    ) throws(ScoringFailure) -> String {
        // Longest names first, so that `/app/input_data` is not taken for `/app/input` followed by `_data`.
        let byLength = mounts.sorted { $0.name.count > $1.name.count }
        let mapped = words.map { word in
            byLength.reduce(word) { text, mount in text.replacingOccurrences(of: mount.path, with: mount.source) }
        }
        guard let first = mapped.first else { throw PluginRunner.startFailure("the command has no words") }
        guard let current = mounts.first(where: { $0.name == directory }) else {
            throw PluginRunner.startFailure("no directory /app/\(directory) to run in")
        }
        func runner(_ executable: String) -> PluginRunner {
            PluginRunner(executable: executable, limits: limits, isolation: sandbox)
        }
        let program: String
        do {
            program = try runner(first).resolvedExecutable(relativeTo: current.source)
        } catch {
            guard first == "python", let python3 = try? runner("python3").resolvedExecutable() else { throw error }
            program = python3
        }
        var log = ""
        _ = try runner(program).execute(
            program: program, arguments: Array(mapped.dropFirst()), directory: current.source, home: home,
            extraEnvironment: environment
        ) { _, output throws(ScoringFailure) in
            log = output
            return ScoreOutcome(score: 0)
        }
        return log
    }
}
