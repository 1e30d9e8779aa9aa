import Foundation

/// `pumasi.challenge.post`: the spec, then one frame per entry of `spec.files`.
public struct PostRequest: Codable, Sendable {
    public var v = wireVersion
    public var spec: ChallengeSpec
    /// Beside `spec.files`, in order: the upload (`pumasi.upload.begin` with purpose `file`) that holds each file, or
    /// "" for one whose bytes come in its frame (the frame of an uploaded file is empty).
    public var uploads: [String]?
    /// Check the spec and its files as a post would, answer `PostCheck`, and store nothing. A file too large for
    /// the message may come as an empty frame with its `size` stated: it is taken as stated.
    public var dryRun: Bool?
    public init(spec: ChallengeSpec, uploads: [String]? = nil, dryRun: Bool? = nil) {
        self.spec = spec
        self.uploads = uploads
        self.dryRun = dryRun
    }
}

/// The answer to a `dryRun` post: the spec would be posted, and this is how it reads.
public struct PostCheck: Codable, Sendable, Equatable {
    public var valid = true
    /// The ranking direction, the scorer's own when the spec gives none.
    public var direction: Direction
    public var scorer: String
    /// Whether it would be a draft (opening at `startsAt`).
    public var draft: Bool
    public var files: Int
    public var phases: Int
    /// Set by `pumasi post --dry-run` when no broker answered: the checks were made without one, and these (which need
    /// the broker) were not.
    public var notChecked: [String]?

    public init(direction: Direction, scorer: String, draft: Bool, files: Int, phases: Int) {
        self.direction = direction
        self.scorer = scorer
        self.draft = draft
        self.files = files
        self.phases = phases
    }
}

/// Requests that name one challenge: show, close.
public struct ChallengeRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public init(challenge: String) { self.challenge = challenge }
}

/// `pumasi.challenge.list`: optionally only challenges in one state, a page at a time: at most `limit` challenges,
/// and no more once the page's challenges take `pageBytes` of JSON (one at least, whatever its size), after the
/// challenge `after` (the last of the page before). A client asks again after the last until a page comes back
/// empty.
public struct ListRequest: Codable, Sendable {
    public var v = wireVersion
    public var state: ChallengeState?
    public var after: String?
    public var limit: Int?

    /// The most challenges a page holds, and how many it holds when `limit` is not given.
    public static let maxLimit = 100
    /// A page ends once its challenges take this many bytes of JSON: a challenge may hold 100,000 bytes of
    /// description and thousands of files, and a page of them would otherwise cost the broker as much to build.
    public static let pageBytes = 1 << 20

    public init(state: ChallengeState? = nil, after: String? = nil, limit: Int? = nil) {
        (self.state, self.after, self.limit) = (state, after, limit)
    }
}

/// `pumasi.challenge.file`: one public file of a challenge.
public struct FileRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var name: String
    /// The first byte wanted (default 0); the reply carries at most `FileInfo.chunkSize` bytes from there.
    public var offset: Int?
    public init(challenge: String, name: String, offset: Int? = nil) {
        self.challenge = challenge
        self.name = name
        self.offset = offset
    }
}

/// `pumasi.submit`: the JSON frame, then exactly one frame with the solution's bytes.
/// `clientId`, when given, makes the submission idempotent: a retry with the same id returns the first receipt.
public struct SubmitRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var solver: String
    public var filename: String
    public var clientId: String?
    /// An upload (`pumasi.upload.begin`) that holds the file, instead of a file frame.
    public var upload: String?
    /// The solver's words on it (`submit -m`), shown to them and the seeker.
    public var comment: String?
    /// The same file from the same solver to the same challenge within this many seconds of an earlier submission is
    /// that submission (a command run twice), answered with its receipt; every file is a new submission when absent.
    public var repeatWindowSeconds: Int?
    /// The client named no solver (no `--solver`, `$PUMASI_SOLVER` or profile's): `solver` is only its login name, or
    /// empty. A relay submits as its owner in its place; a broker without keys takes `solver` as it is.
    public var solverDefaulted: Bool?
    public init(
        challenge: String, solver: String, filename: String, clientId: String? = nil, upload: String? = nil,
        comment: String? = nil
    ) {
        self.challenge = challenge
        self.solver = solver
        self.filename = filename
        self.clientId = clientId
        self.upload = upload
        self.comment = comment
    }

    /// The longest comment, in characters.
    public static let maxComment = 500
    /// The CLI's repeat window: ten minutes.
    public static let defaultRepeatWindowSeconds = 600
}

/// `pumasi.submission.status`.
public struct SubmissionRequest: Codable, Sendable {
    public var v = wireVersion
    public var submission: String
    /// `pumasi.submission.status`: send the detailed results page too, if the outcome has one.
    public var details: Bool?
    public init(submission: String, details: Bool? = nil) {
        self.submission = submission
        self.details = details
    }
}

/// `pumasi.submission.list`: the sender's own submissions (with keys; without, `solver`'s), of one challenge or all.
public struct SubmissionsRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String?
    public var solver: String?
    public var limit: Int?
    public init(challenge: String? = nil, solver: String? = nil, limit: Int? = nil) {
        self.challenge = challenge
        self.solver = solver
        self.limit = limit
    }

    public static let maxLimit = 1_000
}

/// `pumasi.leaderboard`.
public struct LeaderboardRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var limit: Int?
    /// `provisional` or `final`; default: provisional while open, final once closed. The final view of an open
    /// challenge is for its seeker and admins only.
    public var view: String?
    /// For a challenge in phases, which one (1, 2, …); default the current one, or the last once it closed.
    public var phase: Int?
    public init(challenge: String, limit: Int? = nil, view: String? = nil, phase: Int? = nil) {
        self.challenge = challenge
        self.limit = limit
        self.view = view
        self.phase = phase
    }
}

/// `pumasi.challenge.report`: a challenge's results for export, with its leaderboard on `view` (as for
/// `LeaderboardRequest`: default provisional while open, final once closed), and the first page of its
/// submissions: at most `limit` (default and most `ReportSubmissionsRequest.maxLimit`).
public struct ReportRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var view: String?
    public var limit: Int?
    public init(challenge: String, view: String? = nil, limit: Int? = nil) {
        self.challenge = challenge
        self.view = view
        self.limit = limit
    }
}

/// `pumasi.challenge.report.submissions`: the report's submissions after `after` (a submission id of the pages
/// before), in the report's order, at most `limit` (default and most `maxLimit`); the same access as the report.
public struct ReportSubmissionsRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var after: String
    public var limit: Int?

    /// The most submissions a page holds: about 30 ms of the broker's loop for a page of them, where a report of
    /// 60,000 in one reply held it 1.7 s.
    public static let maxLimit = 1_000

    public init(challenge: String, after: String, limit: Int? = nil) {
        (self.challenge, self.after, self.limit) = (challenge, after, limit)
    }
}

/// `pumasi.challenge.extend`: a later deadline.
public struct ExtendRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var deadline: Millis
    public init(challenge: String, deadline: Millis) {
        self.challenge = challenge
        self.deadline = deadline
    }
}

/// `pumasi.challenge.cancel`.
public struct CancelRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var reason: String
    public init(challenge: String, reason: String) {
        self.challenge = challenge
        self.reason = reason
    }
}

/// `pumasi.quota`: a solver's remaining submissions.
public struct QuotaRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    /// Without authentication, whose quota; with it, the key's holder.
    public var solver: String?
    public init(challenge: String, solver: String? = nil) {
        self.challenge = challenge
        self.solver = solver
    }
}

/// `pumasi.select`: the submissions a solver picks for the final ranking (replacing an earlier pick).
public struct SelectRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var submissions: [String]
    public var solver: String?
    public init(challenge: String, submissions: [String], solver: String? = nil) {
        self.challenge = challenge
        self.submissions = submissions
        self.solver = solver
    }
}

/// `pumasi.disqualify`.
public struct DisqualifyRequest: Codable, Sendable {
    public var v = wireVersion
    public var submission: String
    public var reason: String
    public init(submission: String, reason: String) {
        self.submission = submission
        self.reason = reason
    }
}

/// `pumasi.award`: the seeker's own decision for a discretionary award, with its rationale.
public struct AwardRequest: Codable, Sendable {
    public struct Payment: Codable, Sendable, Equatable {
        public var submission: String
        public var amount: Decimal
        public init(submission: String, amount: Decimal) {
            self.submission = submission
            self.amount = amount
        }
    }

    public var v = wireVersion
    public var challenge: String
    /// Empty: no award.
    public var payments: [Payment]
    public var rationale: String
    public init(challenge: String, payments: [Payment], rationale: String) {
        self.challenge = challenge
        self.payments = payments
        self.rationale = rationale
    }
}

/// `pumasi.reference`: an evaluator fetches one reference file by content address.
public struct ReferenceRequest: Codable, Sendable {
    public var v = wireVersion
    /// The challenge whose job needs the file: the broker gives it only to an evaluator allowed to score that
    /// challenge, and only if it is one of that challenge's reference files.
    public var challenge: String?
    public var sha256: String
    /// The first byte wanted (default 0), as for `FileRequest`.
    public var offset: Int?
    public init(challenge: String?, sha256: String, offset: Int? = nil) {
        self.challenge = challenge
        self.sha256 = sha256
        self.offset = offset
    }
}

/// `pumasi.events`: announcements with a sequence number above `after`, oldest first, at most `limit`
/// (0 asks only for the latest sequence number).
public struct EventsRequest: Codable, Sendable {
    public var v = wireVersion
    public var after: Int64
    public var limit: Int?
    public init(after: Int64, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }
}

/// `pumasi.challenge.rescore`: every submission scored again by a new version of the scorer.
public struct RescoreRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var scorer: ScorerSpec
    public var reason: String?
    public init(challenge: String, scorer: ScorerSpec, reason: String? = nil) {
        self.challenge = challenge
        self.scorer = scorer
        self.reason = reason
    }
}
