import Foundation

/// A Codabench ingestion program: it runs a code submission (`$submission_program`, `/app/ingested_program`) on
/// the challenge's input data (`$input`, `/app/input_data`), which only evaluators ever receive, and writes the
/// predictions that the scoring program then scores. Its files are reference files, named here.
public struct IngestionSpec: Codable, Sendable, Equatable {
    /// The reference file (a zip) holding the ingestion program.
    public var program: String
    /// The reference files that are its input data (zips are unpacked); none when absent.
    public var input: [String]?
    /// Its wall-clock limit; the challenge's `timeLimitSeconds` when absent.
    public var timeLimitSeconds: Double?
    /// Its memory limit in MiB; the evaluator's plugin memory limit when absent.
    public var memoryMiB: Int?
    /// How many of the last lines of its output the solver sees: none when absent or 0.
    public var showLog: Int?
    /// CodaLab's rule: only a submission holding a `metadata` file is code, run by the ingestion; any other is a
    /// result submission, scored as it is. Every submission is code when absent (Codabench's rule).
    public var acceptsResults: Bool?

    public init(program: String, input: [String]? = nil, timeLimitSeconds: Double? = nil, showLog: Int? = nil) {
        self.program = program
        self.input = input
        self.timeLimitSeconds = timeLimitSeconds
        self.showLog = showLog
    }

    public static let maxShownLines = 1_000
}

/// A submission whose outcome the seeker knows, that an evaluator scores before the challenge's first real job (and
/// again after any change of scorer, its files or its environment): the challenge's own solution with its score,
/// or a file that must fail. A canary that comes out otherwise makes the evaluator refuse the challenge as
/// misconfigured, and no solver's submission is scored meanwhile.
public struct CanarySpec: Codable, Sendable, Equatable {
    /// The reference file that is the canary submission.
    public var file: String
    /// The score it must get, within `tolerance` (default 1e-6, relative to the score's size when above 1).
    public var score: Double?
    public var tolerance: Double?
    /// It must fail as the solver's fault (a bad submission), not get a score.
    public var fails: Bool?

    public init(file: String, score: Double? = nil, tolerance: Double? = nil, fails: Bool? = nil) {
        self.file = file
        self.score = score
        self.tolerance = tolerance
        self.fails = fails
    }

    /// Whether `actual` is the expected score.
    public func matches(_ actual: Double) -> Bool {
        guard let score else { return false }
        let tolerance = tolerance ?? 1e-6
        return abs(actual - score) <= tolerance * max(1, abs(score))
    }

    /// What it expects, for messages.
    public var expectation: String {
        fails == true ? "to fail" : "the score \(score.map { "\($0)" } ?? "?")"
    }

    public static let maxCanaries = 8
}

extension ScorerSpec {
    /// The reference files its programs and canaries are made of (not reference data for the scorer).
    public var programFiles: [String] {
        [program, ingestion?.program].compactMap { $0 } + (ingestion?.input ?? []) + (canaries ?? []).map(\.file)
    }

    /// Whether an environment name is one an evaluator can advertise: an OCI image reference without a digest,
    /// 1-200 characters of a-z, A-Z, 0-9 and `._/:-`.
    public static func isEnvironmentName(_ name: String) -> Bool {
        (1...200).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)
                    || [0x2e, 0x5f, 0x2f, 0x3a, 0x2d].contains(c)
            }
    }

    /// What is wrong with a program scorer's shape, or nil.
    var programProblem: String? {
        guard let program else { return "\"ingestion\" and \"environment\" go with a \"program\" scorer" }
        guard builtin == nil, plugin == nil else {
            return "scorer must name exactly one of \"builtin\", \"plugin\" or \"program\", or be {\"judge\": true}"
        }
        guard !program.isEmpty else { return "\"program\" names a reference file" }
        if let environment, !Self.isEnvironmentName(environment) {
            return "\"environment\" must be an image name of 1-200 characters of a-z, A-Z, 0-9 and ._/:- (no digest)"
        }
        let options = options ?? [:]
        if let unknown = options.keys.sorted().first(where: { $0 != ScorerFormat.scoreKeyOption }) {
            return "a program scorer takes the option \"score-key\" only, not \"\(unknown)\""
        }
        if let key = scoreKey, key.isEmpty || key.utf8.count > 256 { return "option \"score-key\" must be 1-256 bytes" }
        if let ingestion {
            if let limit = ingestion.timeLimitSeconds,
                !(limit >= ChallengeSpec.minTimeLimitSeconds && limit <= ChallengeSpec.maxTimeLimitSeconds)
            {
                return "ingestion.timeLimitSeconds must be at least \(ChallengeSpec.minTimeLimitSeconds) and at most "
                    + "\(Int(ChallengeSpec.maxTimeLimitSeconds))"
            }
            if let memory = ingestion.memoryMiB, !(16...65_536).contains(memory) {
                return "ingestion.memoryMiB must be from 16 to 65536"
            }
            if let lines = ingestion.showLog, !(0...IngestionSpec.maxShownLines).contains(lines) {
                return "ingestion.showLog must be from 0 to \(IngestionSpec.maxShownLines) lines"
            }
        }
        return nil
    }

    /// What is wrong with the canaries, or nil.
    var canaryProblem: String? {
        guard let canaries else { return nil }
        guard (1...CanarySpec.maxCanaries).contains(canaries.count) else {
            return "\"canaries\" lists 1 to \(CanarySpec.maxCanaries) submissions"
        }
        for canary in canaries {
            switch (canary.score, canary.fails) {
            case (.some(let score), nil), (.some(let score), false?):
                guard score.isFinite else { return "canary \(canary.file): \"score\" must be a number" }
            case (nil, true?): break
            default: return "canary \(canary.file) must give either \"score\" or \"fails\": true"
            }
            if let tolerance = canary.tolerance, !(tolerance >= 0 && tolerance.isFinite) {
                return "canary \(canary.file): \"tolerance\" must be a number of at least 0"
            }
        }
        return nil
    }
}
