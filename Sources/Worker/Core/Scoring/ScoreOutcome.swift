import Foundation

/// What a scorer produced for one submission.
public struct ScoreOutcome: Sendable, Equatable {
    /// The ranking value; whether higher or lower is better depends on the scorer.
    public var score: Double
    /// Named metrics (may be empty). Builtin scorers include their main metric under its name.
    public var metrics: [String: Double]
    /// A short note for the solver.
    public var message: String?
    /// Captured plugin stdout and stderr (bounded); "" for builtin scorers.
    public var log: String
    /// A Codabench scoring program's detailed results (HTML), for the solver and the seeker.
    public var detailedResults: String?

    /// Creates an outcome.
    /// - Parameters:
    ///   - score: the ranking value.
    ///   - metrics: named metrics.
    ///   - message: a short note for the solver.
    ///   - log: captured plugin output.
    public init(score: Double, metrics: [String: Double] = [:], message: String? = nil, log: String = "") {
        self.score = score
        self.metrics = metrics
        self.message = message
        self.log = log
    }
}
