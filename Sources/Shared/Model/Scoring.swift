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
        var text: [UInt8] = []
        text.reserveCapacity(jobs.count * 32)
        for (position, entry) in jobs.enumerated() {
            if position > 0 { text.append(UInt8(ascii: ",")) }
            text += "job:".utf8
            text += String(entry.job).utf8
            text.append(UInt8(ascii: ":"))
            text += String(entry.attempt).utf8
        }
        return Data(text)
    }

    public var address: Data { Self.address([(job, attempt)]) }

    /// The jobs an address frame names, or nil if it is not one (or names more than `maxBatch`).
    /// Read on its bytes (`job:` digits `:` digits, comma-separated): the broker reads one with every result batch.
    public static func parseAddress(_ frame: Data) -> [(job: Int64, attempt: Int)]? {
        guard frame.count <= maxBatch * 48 else { return nil }
        var jobs: [(job: Int64, attempt: Int)] = []
        let whole = frame.withUnsafeBytes { raw -> Bool in
            var bytes = raw[...]
            while true {
                guard bytes.starts(with: "job:".utf8) else { return false }
                bytes = bytes.dropFirst(4)
                guard let job = number(&bytes), bytes.popFirst() == UInt8(ascii: ":"), let attempt = number(&bytes)
                else { return false }
                jobs.append((job, Int(attempt)))
                guard let separator = bytes.popFirst() else { return true }
                guard separator == UInt8(ascii: ",") else { return false }
            }
        }
        return !whole || jobs.isEmpty || jobs.count > maxBatch ? nil : jobs
    }

    /// The decimal number at the start of `bytes` (one digit at least, no sign, no overflow), taken off it.
    private static func number(_ bytes: inout Slice<UnsafeRawBufferPointer>) -> Int64? {
        var value: Int64 = 0
        var digits = 0
        while let byte = bytes.first, (0x30...0x39).contains(byte) {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow, !carry else { return nil }
            value = sum
            digits += 1
            bytes = bytes.dropFirst()
        }
        return digits > 0 ? value : nil
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
