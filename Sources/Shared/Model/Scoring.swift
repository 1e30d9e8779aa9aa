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
    /// Set when the submission is too large to travel in the job: its size, and the frame after the job is empty.
    /// The evaluator fetches the bytes over `pumasi.submission.file`, in chunks, and checks them against `sha256`.
    public var fetch: Int?

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

    /// Reads a REQUEST's job frame; nil if it is not a scoring job.
    public static func decode(_ frame: Data) -> ScoringJob? {
        fastDecode(frame) ?? (try? JSONDecoder().decode(ScoringJob.self, from: frame))
    }

    /// The MDP "client address" frame of a REQUEST and its REPLY: it names each job of the batch and its
    /// attempt (the lease), `job:<id>:<attempt>`, joined by commas. The REQUEST's body then carries a job frame
    /// and a submission frame per job, and the REPLY's body one result frame per job, in the same order.
    public static func address(_ jobs: [(job: Int64, attempt: Int)]) -> Data {
        Data(jobs.map { "job:\($0.job):\($0.attempt)" }.joined(separator: ",").utf8)
    }

    public var address: Data { Self.address([(job, attempt)]) }

    /// The jobs an address frame names, or nil if it is not one (or names more than `maxBatch`).
    public static func parseAddress(_ frame: Data) -> [(job: Int64, attempt: Int)]? {
        guard frame.count <= maxBatch * 48 else { return nil }
        var jobs: [(job: Int64, attempt: Int)] = []
        for entry in String(decoding: frame, as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false) {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "job", let job = Int64(parts[1]), let attempt = Int(parts[2]) else {
                return nil
            }
            jobs.append((job, attempt))
        }
        return jobs.isEmpty || jobs.count > maxBatch ? nil : jobs
    }

    /// The most jobs one REQUEST carries.
    public static let maxBatch = 256
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

    /// Reads a REPLY body frame; nil if it is not a scoring result.
    public static func decode(_ frame: Data) -> ScoringResult? {
        fastDecode(frame) ?? (try? JSONDecoder().decode(ScoringResult.self, from: frame))
    }

    public var v = wireVersion
    public var ok: Bool
    public var score: Double?
    public var metrics: [String: Double]?
    public var message: String?
    public var error: Failure?
    public var log: String?
    /// A Codabench scoring program's detailed results page (HTML, at most 1 MiB).
    public var detailedResults: String?

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
