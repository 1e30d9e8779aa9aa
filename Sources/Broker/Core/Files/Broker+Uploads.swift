import Foundation
import PumasiShared

/// Files of any size: uploads in chunks to the blob directory, and a submission's file read back in chunks.
///
/// An upload is named by who sends which file (SHA-256 and size) to which challenge, so a client whose connection
/// broke asks `pumasi.upload.begin` again and learns how much the broker holds. Each chunk is synced before its
/// acknowledgement; `pumasi.submit` with `upload` checks the whole file's SHA-256, syncs and renames it into place,
/// and commits the submission's row before the receipt goes out. No step holds more than one chunk in memory.
extension Broker {
    /// `pumasi.upload.begin`: checks everything a submission would be refused for that is known before its bytes (the
    /// challenge, access, limits, size), then says where the upload stands.
    func beginUpload(_ body: [Data], sender: Sender?, now: Millis) throws -> UploadInfo {
        let request = try Wire.decode(UploadBeginRequest.self, from: body.first)
        if request.purpose == UploadBeginRequest.file { return try beginFileUpload(request, sender: sender, now: now) }
        guard request.purpose == nil else {
            throw ProtocolError(.badRequest, "purpose must be \"file\" (a challenge's file) or absent (a submission)")
        }
        guard sender == nil || sender?.role == .solver else {
            throw ProtocolError(.forbidden, "submissions are for solvers; a challenge's files go with purpose \"file\"")
        }
        let solver = sender?.name ?? request.solver ?? ""
        if solver.isEmpty { throw Self.unnamedSolver }
        try Validation.solver(solver)
        try Validation.fileName(request.filename, what: "filename")
        try Self.checkSHA256(request.sha256)
        guard request.size > 0 else {
            throw ProtocolError(.badRequest, "the file is empty (0 bytes): there is nothing to submit")
        }
        let record = try memory.liveChallenges[request.challenge] ?? challenge(request.challenge)
        let limit = maxSubmissionBytes(record)
        let id = UploadInfo.id(principal: solver, challenge: record.id, sha256: request.sha256, size: request.size)
        if let earlier = try admitSubmission(
            record, solver: solver, sender: sender, now: now, sha256: request.sha256,
            repeatWindow: request.repeatWindowSeconds)
        {
            // The same command run twice: the file is the earlier submission, and none of its bytes need to come.
            var info = UploadInfo(
                upload: id, sha256: request.sha256, size: request.size, received: request.size,
                chunkBytes: config.chunkBytes, maxBytes: limit)
            info.repeated = earlier
            return info
        }
        guard request.size <= limit else {
            throw ProtocolError(
                .tooLarge,
                "the file is \(request.size) bytes; \(record.id) takes submissions of at most \(limit) bytes")
        }
        try store.beginUpload(
            UploadRecord(
                id: id, challenge: record.id, principal: solver, sha256: request.sha256, size: request.size,
                filename: request.filename), now: now)
        let received = blobs.contains(request.sha256) ? request.size : min(blobs.received(id), request.size)
        return UploadInfo(
            upload: id, sha256: request.sha256, size: request.size, received: received,
            chunkBytes: config.chunkBytes, maxBytes: limit)
    }

    /// `pumasi.upload.chunk`: appends one chunk where the upload stands, synced before the reply.
    func uploadChunk(_ body: [Data], sender: Sender?, now: Millis) throws -> UploadInfo {
        let request = try Wire.decode(UploadChunkRequest.self, from: body.first)
        let upload = try ownUpload(request.upload, sender: sender)
        guard body.count == 2 else {
            throw ProtocolError(
                .badRequest, "a chunk carries exactly one frame after the JSON; got \(body.count - 1)")
        }
        let chunk = body[1]
        guard chunk.count <= config.chunkBytes else {
            throw ProtocolError(
                .tooLarge,
                "a chunk of \(chunk.count) bytes is larger than this broker's chunk cap of \(config.chunkBytes) bytes")
        }
        guard !chunk.isEmpty else { throw ProtocolError(.badRequest, "the chunk is empty") }
        let received = blobs.contains(upload.sha256) ? upload.size : blobs.received(upload.id)
        guard request.offset == received else {
            throw ProtocolError(
                .conflict,
                "chunk at offset \(request.offset), but \(upload.id) holds \(received) bytes: send from \(received)")
        }
        guard received + chunk.count <= upload.size else {
            throw ProtocolError(
                .badRequest,
                "the chunk ends at byte \(received + chunk.count), past the \(upload.size) bytes declared for \(upload.id)"
            )
        }
        try blobs.append(upload.id, at: received, chunk)
        let limit =
            upload.challenge.isEmpty
            ? config.maxSubmissionBytes
            : maxSubmissionBytes(try memory.liveChallenges[upload.challenge] ?? challenge(upload.challenge))
        return UploadInfo(
            upload: upload.id, sha256: upload.sha256, size: upload.size, received: received + chunk.count,
            chunkBytes: config.chunkBytes, maxBytes: limit)
    }

    /// The file of a finished upload, checked and stored for good in the blob directory, for `pumasi.submit`.
    /// - Returns: its SHA-256 and size, for the submission's row.
    func takeUpload(_ id: String, solver: String, challenge: ChallengeRecord, now: Millis) throws -> (
        sha256: String, size: Int
    ) {
        guard UploadInfo.isWellFormed(id), let upload = try store.upload(id), upload.principal == solver,
            upload.challenge == challenge.id
        else { throw ProtocolError(.notFound, "no upload \(id) of yours to \(challenge.id)") }
        return try commitUpload(upload, now: now)
    }

    /// Checks a finished upload's size and SHA-256 and stores its file for good (see `takeUpload`).
    func commitUpload(_ upload: UploadRecord, now: Millis) throws -> (sha256: String, size: Int) {
        let id = upload.id
        if !blobs.contains(upload.sha256) {
            let received = blobs.received(id)
            guard received == upload.size else {
                throw ProtocolError(
                    .conflict,
                    "\(id) holds \(received) of its \(upload.size) bytes: send the rest (from \(received)) first")
            }
            let digest = try blobs.digest(id)
            guard digest == upload.sha256 else {
                blobs.discard(id)
                throw ProtocolError(
                    .badRequest,
                    "\(id) arrived with SHA-256 \(digest), not \(upload.sha256) as declared: its bytes were thrown "
                        + "away; upload the file again")
            }
            try blobs.commit(id, sha256: upload.sha256)
        }
        try store.recordStoredFile(sha256: upload.sha256, size: upload.size, now: now)
        try store.endUpload(id)
        return (upload.sha256, upload.size)
    }

    /// `pumasi.submission.file`: a chunk of a submission's file, for whoever may read the submission, and for an
    /// evaluator that holds a lease on it.
    func submissionFileChunk(_ body: [Data], sender: Sender?) throws -> [Data] {
        let request = try Wire.decode(SubmissionFileRequest.self, from: body.first)
        let offset = request.offset ?? 0
        guard Identifier.isWellFormed(request.submission, prefix: "sub"),
            let file = try store.submissionFile(request.submission), try mayReadFile(file, sender)
        else { throw ProtocolError(.notFound, "no submission \(request.submission)") }
        guard (0...file.size).contains(offset) else {
            throw ProtocolError(.badRequest, "offset must be from 0 to the file's size, \(file.size)")
        }
        let count = min(config.chunkBytes, file.size - offset)
        let bytes =
            file.external
            ? try blobs.read(file.sha256, offset: offset, count: count)
            : try store.submissionChunk(file.submission, offset: offset, length: count)
        let info = FileInfo(name: file.filename, sha256: file.sha256, size: file.size, offset: offset)
        return [Wire.encode(Reply.success(info)), bytes]
    }

    /// `pumasi.upload.begin` with purpose `file`: a file of a challenge its seeker is about to post.
    private func beginFileUpload(_ request: UploadBeginRequest, sender: Sender?, now: Millis) throws -> UploadInfo {
        guard sender == nil || sender?.role == .seeker || sender?.role == .admin else {
            throw ProtocolError(.forbidden, "a challenge's files are for seekers and admins")
        }
        let principal = sender?.name ?? request.solver ?? "operator"
        try Validation.fileName(request.filename, what: "filename")
        try Self.checkSHA256(request.sha256)
        guard request.size > 0 else { throw ProtocolError(.badRequest, "the file is empty (0 bytes)") }
        guard request.size <= config.maxSubmissionBytes else {
            throw ProtocolError(
                .tooLarge, "the file is \(request.size) bytes; this broker takes at most \(config.maxSubmissionBytes)")
        }
        let id = UploadInfo.id(principal: principal, challenge: "", sha256: request.sha256, size: request.size)
        try store.beginUpload(
            UploadRecord(
                id: id, challenge: "", principal: principal, sha256: request.sha256, size: request.size,
                filename: request.filename), now: now)
        let received = blobs.contains(request.sha256) ? request.size : min(blobs.received(id), request.size)
        return UploadInfo(
            upload: id, sha256: request.sha256, size: request.size, received: received,
            chunkBytes: config.chunkBytes, maxBytes: config.maxSubmissionBytes)
    }

    /// The files of a challenge being posted that came by upload: each checked and stored in the blob directory.
    /// - Returns: by position in `spec.files`, each uploaded file's SHA-256 and size.
    func takeFileUploads(_ uploads: [String]?, count: Int, sender: Sender?, now: Millis) throws -> [Int: (
        sha256: String, size: Int
    )] {
        guard let uploads else { return [:] }
        guard uploads.count == count else {
            throw ProtocolError(.badRequest, "uploads lists \(uploads.count) entries for \(count) files")
        }
        var taken: [Int: (sha256: String, size: Int)] = [:]
        for (position, id) in uploads.enumerated() where !id.isEmpty {
            guard UploadInfo.isWellFormed(id), let upload = try store.upload(id), upload.challenge.isEmpty,
                sender == nil || upload.principal == sender?.name
            else { throw ProtocolError(.notFound, "no upload \(id) of yours for a challenge's file") }
            taken[position] = try commitUpload(upload, now: now)
        }
        return taken
    }

    /// A chunk of a challenge's file kept in the blob directory, or nil for one kept in its row.
    func externalFileChunk(sha256: String, size: Int, offset: Int) throws -> Data? {
        guard try store.isExternalBlob(sha256) else { return nil }
        return try blobs.read(sha256, offset: offset, count: max(0, min(config.chunkBytes, size - offset)))
    }

    /// Forgets uploads begun more than `uploadExpiry` ago and never finished, with their partial files; looked for
    /// once an hour (and at start). A client that comes back later begins again from 0.
    func expireUploads(now: Millis) throws {
        nextUploadExpiry = now + 3_600_000
        for id in try store.staleUploads(before: now - config.uploadExpiry) {
            try store.endUpload(id)
            blobs.discard(id)
            logger.info("abandoned upload removed", ["upload.id": id])
        }
    }

    /// The largest submission `record` takes: its rules' `maxBytes`, else the broker's.
    func maxSubmissionBytes(_ record: ChallengeRecord) -> Int {
        record.rules.maxBytes ?? config.maxSubmissionBytes
    }

    /// Refuses a submission to `record` by `solver` for anything but its file: access, state, phase and quota.
    /// - Parameters:
    ///   - sha256: the file's, with `repeatWindow`: the same file from the same solver to the same challenge within that
    ///     many seconds is the earlier submission (a command run twice), and costs none of the solver's limits.
    /// - Returns: that earlier submission's receipt, if it is one; nil when the submission is new and may be made.
    @discardableResult
    func admitSubmission(
        _ record: ChallengeRecord, solver: String, sender: Sender?, now: Millis, sha256: String? = nil,
        repeatWindow: Int? = nil
    ) throws -> Receipt? {
        if let sender {
            try requireFullAccess(record, sender, for: "submit to \(record.id)")
        } else if memory.agreements[record.id] != nil {
            try requireAcceptedBy(solver, record)
        }
        if record.state == .draft {
            throw ProtocolError(.closed, "challenge \(record.id) opens at \(WallClock.iso(record.startsAt))")
        }
        guard record.state == .open, now < record.deadline else {
            throw ProtocolError(
                .closed, "challenge \(record.id) closed \(record.whenClosed)")
        }
        try checkPhase(record, solver: solver, now: now)
        if let sha256, let window = repeatWindow, window > 0,
            let earlier = try store.recentReceipt(
                solver: solver, challenge: record.id, sha256: sha256, since: now - Millis(min(window, 86_400)) * 1000)
        {
            return earlier
        }
        try checkQuota(record, solver: solver, now: now)
        return nil
    }

    private func ownUpload(_ id: String, sender: Sender?) throws -> UploadRecord {
        guard UploadInfo.isWellFormed(id), let upload = try store.upload(id),
            sender == nil || upload.principal == sender?.name
        else {
            throw ProtocolError(.notFound, "no upload \(id): begin (or resume) it with \(Service.uploadBegin)")
        }
        return upload
    }

    private func mayReadFile(_ file: SubmissionFile, _ sender: Sender?) throws -> Bool {
        guard let sender else { return true }
        switch sender.role {
        case .admin: return true
        case .solver: return file.solver == sender.name
        case .seeker: return try liveChallenge(file.challenge)?.owner == sender.name
        case .evaluator:
            return memory.dispatcher.leases.values.contains {
                $0.submission == file.submission && $0.principal == sender.name
            }
        case .judge: return false
        }
    }

    private static func checkSHA256(_ text: String) throws(ProtocolError) {
        guard SHA256.isHex(text) else {
            throw ProtocolError(.badRequest, "sha256 must be 64 lowercase hex digits")
        }
    }
}
