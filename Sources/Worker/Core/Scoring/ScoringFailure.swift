import Foundation

/// Why a submission could not be scored.
///
/// `code` is one of the constants below. Only `bad_submission` counts against the solver; every other code
/// means the challenge (its reference data, options or plugin) or the worker is at fault.
public struct ScoringFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The solver's file is malformed.
    public static let badSubmission = "bad_submission"
    /// The challenge's reference data is unusable.
    public static let badReference = "bad_reference"
    /// The scorer's options are invalid.
    public static let badOptions = "bad_options"
    /// The plugin ran past its wall-clock limit and was killed.
    public static let pluginTimeout = "plugin_timeout"
    /// The plugin was killed by a signal.
    public static let pluginCrashed = "plugin_crashed"
    /// The plugin exited with a non-zero status.
    public static let pluginExit = "plugin_exit"
    /// The plugin's stdout is not a valid JSON score.
    public static let pluginOutput = "plugin_output"
    /// The plugin could not be started.
    public static let pluginStart = "plugin_start"
    /// The plugin exceeded a resource limit (reserved: limit violations currently surface as crashes or exits).
    public static let pluginLimit = "plugin_limit"

    /// One of the code constants above, e.g. `"bad_submission"`.
    public var code: String
    /// What is wrong, naming the line, column, id or limit concerned.
    public var message: String
    /// Captured plugin output (bounded); "" for builtin scorers.
    public var log: String

    /// Creates a failure.
    /// - Parameters:
    ///   - code: one of the code constants.
    ///   - message: a clear, specific explanation.
    ///   - log: captured plugin output, if any.
    public init(code: String, message: String, log: String = "") {
        self.code = code
        self.message = message
        self.log = log
    }

    public var description: String { "\(code): \(message)" }

    static func badSubmission(_ message: String) -> ScoringFailure {
        ScoringFailure(code: badSubmission, message: message)
    }

    static func badReference(_ message: String) -> ScoringFailure {
        ScoringFailure(code: badReference, message: message)
    }

    static func badOptions(_ message: String) -> ScoringFailure {
        ScoringFailure(code: badOptions, message: message)
    }
}
