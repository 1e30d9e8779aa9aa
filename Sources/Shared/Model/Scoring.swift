import Foundation

/// The JSON frame of a broker REQUEST to an evaluator; the submission's bytes follow in the next frame.
public struct ScoringJob: Codable, Sendable, Equatable {
    public var v = wireVersion
    public var job: Int64
    public var attempt: Int
    public var challenge: String
    public var submission: String
    public var filename: String
    public var sha256: String
    public var scorer: ScorerSpec
    /// Reference files by content address; evaluators fetch each once over `pumasi.reference` and cache it.
    public var reference: [FileEntry]
    public var timeLimitSeconds: Double

    public init(
        job: Int64, attempt: Int, challenge: String, submission: String, filename: String, sha256: String,
        scorer: ScorerSpec, reference: [FileEntry], timeLimitSeconds: Double
    ) {
        self.job = job
        self.attempt = attempt
        self.challenge = challenge
        self.submission = submission
        self.filename = filename
        self.sha256 = sha256
        self.scorer = scorer
        self.reference = reference
        self.timeLimitSeconds = timeLimitSeconds
    }

    /// The MDP "client address" frame of a job's REQUEST and REPLY: it names the job and the attempt (the lease).
    public var address: Data { Data("job:\(job):\(attempt)".utf8) }

    public static func parseAddress(_ frame: Data) -> (job: Int64, attempt: Int)? {
        let parts = String(decoding: frame, as: UTF8.self).split(separator: ":")
        guard parts.count == 3, parts[0] == "job", let job = Int64(parts[1]), let attempt = Int(parts[2]) else {
            return nil
        }
        return (job, attempt)
    }
}

/// An evaluator's REPLY body.
public struct ScoringResult: Codable, Sendable, Equatable {
    public struct Failure: Codable, Sendable, Equatable {
        public var code: String
        public var message: String

        /// Codes that mean the evaluator, not the submission, could not do the job: the broker retries
        /// elsewhere, and the failure never counts against the solver.
        public static let infrastructureCodes: Set<String> = [
            "reference_unavailable", "plugin_missing", "evaluator_error", "bad_job",
        ]

        public var isInfrastructure: Bool { Self.infrastructureCodes.contains(code) }

        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }

    public var v = wireVersion
    public var ok: Bool
    public var score: Double?
    public var metrics: [String: Double]?
    public var message: String?
    public var error: Failure?
    public var log: String?

    public init(
        ok: Bool, score: Double? = nil, metrics: [String: Double]? = nil, message: String? = nil,
        error: Failure? = nil, log: String? = nil
    ) {
        self.ok = ok
        self.score = score
        self.metrics = metrics
        self.message = message
        self.error = error
        self.log = log
    }
}
