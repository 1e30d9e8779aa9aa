import Foundation

/// `pumasi.challenge.post`: the spec, then one frame per entry of `spec.files`.
public struct PostRequest: Codable, Sendable {
    public var v = wireVersion
    public var spec: ChallengeSpec
    public init(spec: ChallengeSpec) { self.spec = spec }
}

/// Requests that name one challenge: show, close.
public struct ChallengeRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public init(challenge: String) { self.challenge = challenge }
}

/// `pumasi.challenge.list`: optionally only challenges in one state.
public struct ListRequest: Codable, Sendable {
    public var v = wireVersion
    public var state: ChallengeState?
    public init(state: ChallengeState? = nil) { self.state = state }
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
    public init(challenge: String, solver: String, filename: String, clientId: String? = nil) {
        self.challenge = challenge
        self.solver = solver
        self.filename = filename
        self.clientId = clientId
    }
}

/// `pumasi.submission.status`.
public struct SubmissionRequest: Codable, Sendable {
    public var v = wireVersion
    public var submission: String
    public init(submission: String) { self.submission = submission }
}

/// `pumasi.leaderboard`.
public struct LeaderboardRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var limit: Int?
    public init(challenge: String, limit: Int? = nil) {
        self.challenge = challenge
        self.limit = limit
    }
}

/// `pumasi.reference`: an evaluator fetches one reference file by content address.
public struct ReferenceRequest: Codable, Sendable {
    public var v = wireVersion
    public var sha256: String
    /// The first byte wanted (default 0), as for `FileRequest`.
    public var offset: Int?
    public init(sha256: String, offset: Int? = nil) {
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
