import Foundation

/// `pumasi.upload.begin`: starts an upload of a file to a challenge, or resumes it. The same principal, challenge,
/// SHA-256 and size name the same upload, so asking again after a broken connection says how much is held.
public struct UploadBeginRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var sha256: String
    public var size: Int
    public var filename: String
    /// The solver, without CURVE (with it, the key says who uploads).
    public var solver: String?
    /// As `SubmitRequest.solverDefaulted`: `solver` is no name the client chose, and a relay puts its owner there.
    public var solverDefaulted: Bool?
    /// As `SubmitRequest.repeatWindowSeconds`: the same file submitted by the same solver to the same challenge within
    /// this many seconds is that submission, and the answer's `repeated` says so before any byte is sent.
    public var repeatWindowSeconds: Int?
    /// `file` for a file of a challenge about to be posted (then `challenge` is empty and `PostRequest.uploads` names
    /// the upload); a submission otherwise.
    public var purpose: String?

    public init(
        challenge: String, sha256: String, size: Int, filename: String, solver: String? = nil, purpose: String? = nil
    ) {
        self.challenge = challenge
        self.sha256 = sha256
        self.size = size
        self.filename = filename
        self.solver = solver
        self.purpose = purpose
    }

    /// The purpose of a challenge's file.
    public static let file = "file"
}

/// `pumasi.upload.chunk`: the JSON frame, then one frame of at most `UploadInfo.chunkBytes` bytes, which must
/// start where the upload stands (`UploadInfo.received`).
public struct UploadChunkRequest: Codable, Sendable {
    public var v = wireVersion
    public var upload: String
    public var offset: Int

    public init(upload: String, offset: Int) {
        self.upload = upload
        self.offset = offset
    }
}

/// An upload as the broker (or a relay) holds it: the next chunk starts at `received`; once it equals `size`,
/// `pumasi.submit` with `upload` commits it.
public struct UploadInfo: Codable, Sendable, Equatable {
    public var upload: String
    public var sha256: String
    public var size: Int
    /// Bytes held, on disk and synced.
    public var received: Int
    /// The largest chunk accepted.
    public var chunkBytes: Int
    /// The largest file the challenge takes.
    public var maxBytes: Int
    /// The earlier submission this file is (`UploadBeginRequest.repeatWindowSeconds`): nothing is to be sent, and this
    /// is the receipt.
    public var repeated: Receipt?

    public init(upload: String, sha256: String, size: Int, received: Int, chunkBytes: Int, maxBytes: Int) {
        self.upload = upload
        self.sha256 = sha256
        self.size = size
        self.received = received
        self.chunkBytes = chunkBytes
        self.maxBytes = maxBytes
    }

    /// An upload's id: `upl_` and 32 hex digits of the SHA-256 of what names it, so that the same file from the same
    /// principal to the same challenge resumes the same upload.
    public static func id(principal: String, challenge: String, sha256: String, size: Int) -> String {
        "upl_" + SHA256.hex(Data("\(principal)\u{0}\(challenge)\u{0}\(sha256)\u{0}\(size)".utf8)).prefix(32)
    }

    public static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 36 && id.hasPrefix("upl_") && SHA256.isLowercaseHex(id.utf8.dropFirst(4))
    }
}

/// `pumasi.submission.file`: a chunk of a submission's file, for whoever may read the submission (and for an
/// evaluator that holds a lease on it). The reply is a `FileInfo` and the chunk.
public struct SubmissionFileRequest: Codable, Sendable {
    public var v = wireVersion
    public var submission: String
    public var offset: Int?

    public init(submission: String, offset: Int? = nil) {
        self.submission = submission
        self.offset = offset
    }
}
