import Foundation

/// Whether higher or lower scores rank first.
public enum Direction: String, Codable, Sendable, CaseIterable {
    case maximize, minimize

    /// Whether `a` ranks strictly ahead of `b`.
    public func isBetter(_ a: Double, than b: Double) -> Bool { self == .maximize ? a > b : a < b }
}

/// The prize: an amount in a currency. Amounts are decimal, never binary floating point.
public struct AwardSpec: Codable, Sendable, Equatable {
    public var amount: Decimal
    public var currency: String
    /// How it is decided; winner-takes-all when absent.
    public var policy: AwardPolicySpec?
    /// For a challenge in phases: the phase (1, 2, …) whose final standings the policy decides on; the last by default.
    public var phase: Int?

    public init(amount: Decimal, currency: String, policy: AwardPolicySpec? = nil) {
        self.amount = amount
        self.currency = currency
        self.policy = policy
    }

    public var display: String { "\(amount) \(currency)" }
}

/// Which scorer scores a challenge: one built into every evaluator, a plugin executable that evaluators
/// which host it register for by name, a Codabench or CodaLab scoring program that travels with the challenge
/// (`program`, see `ScorerSpec+Programs.swift`), or (`"judge": true`) human judges alone, with no evaluator involved.
/// A plugin's `format` option says how it is run (`ScorerFormat`).
public struct ScorerSpec: Codable, Sendable, Equatable {
    public var builtin: String?
    public var plugin: String?
    public var options: [String: String]?
    /// Scored by the challenge's judges only (`ChallengeSpec.judging`).
    public var judge: Bool?
    /// The reference file (a zip, or a single program file) holding a Codabench or CodaLab scoring program, which
    /// evaluators fetch with the reference data and run unmodified.
    public var program: String?
    /// A program that runs a code submission on input data first; its output is what `program` scores.
    public var ingestion: IngestionSpec?
    /// The environment (an OCI image name, such as `codalab/codalab-legacy:py37`) the programs run in; on an
    /// evaluator's own host when absent.
    public var environment: String?
    /// Submissions with known scores that an evaluator checks the scorer against before its first real job.
    public var canaries: [CanarySpec]?

    public init(builtin: String? = nil, plugin: String? = nil, options: [String: String]? = nil, judge: Bool? = nil) {
        self.builtin = builtin
        self.plugin = plugin
        self.options = options
        self.judge = judge
    }

    /// The MDP service evaluators register for to run this scorer; `pumasi.judging`, which no job is ever
    /// queued for, when judges score.
    public var service: String {
        if judge == true { return Service.judging }
        if let plugin { return Service.plugin(plugin) }
        if program != nil { return Service.program(environment: environment) }
        return Service.builtinScorers
    }

    public var display: String {
        if judge == true { return "judges" }
        if let program {
            return "program \(program)" + (ingestion.map { " after ingestion \($0.program)" } ?? "")
                + (environment.map { " in \($0)" } ?? "")
        }
        return plugin.map { "plugin \($0)" } ?? "builtin \(builtin ?? "?")"
    }

    /// Checks the shape (the builtin names themselves are checked by the caller that knows them).
    public func validate() -> String? {
        if judge == true {
            guard builtin == nil, plugin == nil, options == nil, program == nil else {
                return "a scorer with \"judge\": true names no \"builtin\", \"plugin\", \"program\" or \"options\""
            }
            return nil
        }
        if let problem = canaryProblem { return problem }
        if program != nil || ingestion != nil || environment != nil { return programProblem }
        switch (builtin, plugin) {
        case (nil, nil), (.some, .some):
            return "scorer must name exactly one of \"builtin\" or \"plugin\", or be {\"judge\": true}"
        case (nil, .some(let name)):
            guard Self.isPluginName(name) else { return "plugin name must be 1-64 characters of a-z, 0-9, '-' and '_'" }
            return formatProblem
        default: return formatProblem
        }
    }

    /// 1 to 64 characters of a-z, 0-9, `-` and `_`.
    public static func isPluginName(_ name: some StringProtocol) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f
            }
    }
}

/// A challenge file's role: public files go to anyone; reference files reach evaluators only.
public enum FileRole: String, Codable, Sendable {
    case `public`, reference
}

/// A file attached to a challenge, content-addressed by SHA-256.
public struct FileEntry: Codable, Sendable, Equatable {
    public var name: String
    public var role: FileRole
    public var sha256: String?
    public var size: Int?

    public init(name: String, role: FileRole, sha256: String? = nil, size: Int? = nil) {
        self.name = name
        self.role = role
        self.sha256 = sha256
        self.size = size
    }
}

/// The valid scores of a challenge's scorer.
public struct ScoreRange: Codable, Sendable, Equatable {
    public var min: Double
    public var max: Double
    public init(min: Double, max: Double) {
        self.min = min
        self.max = max
    }

    public func contains(_ score: Double) -> Bool { score >= min && score <= max }
}

/// What a seeker posts. On the wire the deadline is in milliseconds since the epoch; `files` lists the
/// raw frames that follow the JSON frame, in order.
public struct ChallengeSpec: Codable, Sendable, Equatable {
    public var title: String
    public var description: String
    public var deadline: Millis
    public var award: AwardSpec
    public var direction: Direction?
    public var scorer: ScorerSpec
    public var timeLimitSeconds: Double?
    public var files: [FileEntry]?
    /// When it opens; until then it is a draft, seen only by its seeker. Absent: at once.
    public var startsAt: Millis?
    public var rules: SubmissionRules?
    public var ranking: RankingSpec?
    public var redundancy: RedundancySpec?
    /// Human judging: for a scorer `{"judge": true}`, or beside an automated scorer (a mixed challenge).
    public var judging: JudgingSpec?
    /// What everyone who may see the challenge reads before accepting its agreement; the description, files and
    /// clarifications are for those who accepted it.
    public var summary: String?
    /// The terms a solver accepts before seeing more than the summary, or submitting.
    public var agreement: AgreementSpec?
    /// Only the principals invited (`invite`, or a token redeemed with `pumasi join`) see it; to anyone else it does
    /// not exist. Needs a broker with keys.
    public var invitationOnly: Bool?
    /// Principals invited from the start.
    public var invite: [String]?
    /// `own`: scored only by evaluators bound to its seeker or to it. Default `any`.
    public var evaluators: EvaluatorPolicy?
    /// Solvers may form teams (`pumasi team`): limits, rankings and awards are then by entrant, a team or a solver
    /// alone.
    public var teams: TeamRules?
    /// Stages, in order (at least two to mean anything); the last one's end is the deadline.
    public var phases: [PhaseSpec]?
    /// The scores its scorer can rightly give, both ends included: a score outside fails the job as the scorer's
    /// error (never the solver's, and never recorded as a score).
    public var scoreRange: ScoreRange?
    /// A handle for the challenge, unique on its broker: 3-64 characters of a-z, 0-9 and '-', starting and ending with
    /// a letter or digit. The CLI takes it wherever it takes the challenge's id.
    public var slug: String?

    public init(
        title: String, description: String, deadline: Millis, award: AwardSpec, direction: Direction? = nil,
        scorer: ScorerSpec, timeLimitSeconds: Double? = nil, files: [FileEntry]? = nil, startsAt: Millis? = nil,
        rules: SubmissionRules? = nil, ranking: RankingSpec? = nil, redundancy: RedundancySpec? = nil,
        judging: JudgingSpec? = nil
    ) {
        self.redundancy = redundancy
        self.judging = judging
        self.startsAt = startsAt
        self.rules = rules
        self.ranking = ranking
        self.title = title
        self.description = description
        self.deadline = deadline
        self.award = award
        self.direction = direction
        self.scorer = scorer
        self.timeLimitSeconds = timeLimitSeconds
        self.files = files
    }

    public static let defaultTimeLimitSeconds = 60.0
    public static let maxTimeLimitSeconds = 3600.0
    /// A tenth of a second: less is shorter than starting a process takes.
    public static let minTimeLimitSeconds = 0.1
}
