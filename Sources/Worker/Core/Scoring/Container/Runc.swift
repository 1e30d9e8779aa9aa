import Foundation
import Glibc

/// The runc program and one state root: the commands a container run makes besides `run` itself.
///
/// Each command is a child process bounded in time (`PluginProcess`). Thread rule: an immutable value; any number
/// of threads may use it at once (runc locks its state per container).
struct Runc: Sendable {
    /// Where runc is looked for; the evaluator's own PATH is not trusted for it.
    static let searchPath = "/usr/sbin:/usr/bin:/sbin:/bin"
    /// The environment of runc itself.
    static let environment = ["PATH=\(searchPath)", "LANG=C.UTF-8"]
    /// The longest a `kill`, `delete` or `list` may take.
    static let commandSeconds = 10.0

    /// The absolute path of runc.
    let path: String
    /// runc's `--root`: where it keeps the state of this evaluator's containers.
    let stateRoot: String

    /// runc's path in `searchPath`, or nil if it is not installed.
    static func locate() -> String? {
        searchPath.split(separator: ":").map { "\($0)/runc" }.first { candidate in
            PluginRunner.fileType(candidate) == S_IFREG && access(candidate, X_OK) == 0
        }
    }

    /// The arguments of `runc run` for a bundle, logging runc's own errors as JSON lines to `log`.
    func runArguments(id: String, bundle: String, log: String) -> [String] {
        ["--root", stateRoot, "--log", log, "--log-format", "json", "run", "--keep", "--bundle", bundle, id]
    }

    /// Sends SIGKILL to every process of the container (all of them: its PID namespace dies with its first).
    func kill(_ id: String) {
        _ = command(["kill", id, "KILL"])
    }

    /// Deletes the container, killing what is left of it, with its state and cgroups.
    /// - Returns: why it failed, or nil once no container `id` is left.
    @discardableResult
    func delete(_ id: String) -> String? {
        guard let outcome = command(["delete", "--force", id]) else { return "runc delete could not be run" }
        guard outcome.termination != .exited(0) else { return nil }
        let error = outcome.stderr.lastLines(2).joined(separator: " | ")
        // Deleting a container that never came to be is not a failure.
        return error.contains("does not exist") || error.contains("not found") ? nil : error
    }

    /// The ids of the containers in the state root.
    func list() -> [String]? {
        guard let outcome = command(["list", "--quiet"]), outcome.termination == .exited(0) else { return nil }
        return String(decoding: outcome.stdout.head, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    private func command(_ arguments: [String]) -> PluginProcess.Outcome? {
        try? PluginProcess.run(
            path: path, arguments: ["--root", stateRoot] + arguments, environment: Self.environment,
            wallSeconds: Self.commandSeconds, outputBytes: 16 << 10)
    }

    /// The error messages runc logged to a `--log-format json` file (its own failures, not the program's).
    static func errors(inLog path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let level = entry["level"] as? String, level == "error" || level == "fatal"
            else { return nil }
            return entry["msg"] as? String
        }
    }
}
