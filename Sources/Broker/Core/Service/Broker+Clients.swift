import Foundation
import PumasiShared

extension Broker {
    /// Answers a client request for a service the broker implements itself. Errors that are the client's
    /// (bad input, unknown ids, closed challenges) come back as an error reply; store failures throw.
    /// - Returns: the reply's body, or nil for one that comes later (a leaderboard being made: `BoardMaker`).
    func handleClient(service: String, body: [Data], sender: Sender?, from identity: Data, now: Millis) throws
        -> [Data]?
    {
        do {
            // Deny by default: what the role table does not list does not exist, for any caller.
            guard Self.servicesByRole[Self.listedService(service)] != nil else {
                throw ProtocolError(.unknownService, "unknown service \"\(service)\"")
            }
            requestService = service
            switch service {
            case Service.post: return try postChallenge(body, sender: sender, now: now)
            case Service.list:
                return try reply(listPage(Wire.decode(ListRequest.self, from: body.first), sender: sender))
            case Service.show:
                return try reply(challengeInfo(visibleChallenge(named: body, to: sender), for: sender))
            case Service.file: return try publicFile(body, sender: sender)
            case Service.submit: return [try submit(body, sender: sender, now: now).replyJSON]
            case Service.status:
                let request = try Wire.decode(SubmissionRequest.self, from: body.first)
                guard Identifier.isWellFormed(request.submission, prefix: "sub"),
                    let found = try store.submissionInfo(request.submission), try mayRead(found.info, sender),
                    let record = try liveChallenge(found.info.challenge), try visible(record, to: sender)
                else { throw ProtocolError(.notFound, "no submission \(request.submission)") }
                var info = found.info
                let key = JobKey(row: found.row, version: info.version ?? 1)
                if info.state == .queued, let lease = memory.dispatcher.leases[key.id] {
                    info.state = .scoring
                    info.attempts = lease.attempt
                }
                info.note = try note(for: info)
                if let details = try store.detailedResults(
                    submission: info.submission, version: info.version ?? 1, content: request.details == true)
                {
                    info.detailedResultsLength = details.length
                    info.detailedResults = details.page
                }
                try showJudging(&info, sender: sender)
                try redactPrivateSplit(&info, sender: sender)
                return reply(info)
            case Service.submissions: return try reply(mySubmissions(body, sender: sender))
            case Service.leaderboard:
                return try leaderboardReply(
                    Wire.decode(LeaderboardRequest.self, from: body.first), sender: sender, identity: identity)
            case Service.report: return try reportReply(body, sender: sender, identity: identity, now: now)
            case Service.reportSubmissions: return try reply(reportSubmissions(body, sender: sender))
            case Service.close: return try reply(close(body, sender: sender, now: now))
            case Service.extend: return try reply(extend(body, sender: sender, now: now))
            case Service.cancel: return try reply(cancel(body, sender: sender, now: now))
            case Service.quota: return try reply(quotaReply(body, sender: sender, now: now))
            case Service.select: return try reply(select(body, sender: sender, now: now))
            case Service.disqualify: return try reply(disqualify(body, sender: sender, now: now))
            case Service.award: return try reply(award(body, sender: sender, now: now))
            case Service.rescore: return try reply(rescore(body, sender: sender, now: now))
            case Service.reference: return try referenceFile(body, sender: sender)
            case Service.uploadBegin: return try reply(beginUpload(body, sender: sender, now: now))
            case Service.uploadChunk: return try reply(uploadChunk(body, sender: sender, now: now))
            case Service.submissionFile: return try submissionFileChunk(body, sender: sender)
            case Service.judgeNext: return try judgeNext(body, sender: sender, now: now)
            case Service.judgeScore: return try reply(judgeScore(body, sender: sender, now: now))
            case Service.events:
                let request = try Wire.decode(EventsRequest.self, from: body.first)
                let limit = max(0, min(request.limit ?? EventLog.maxBatch, EventLog.maxBatch))
                let events = limit == 0 ? [] : try store.events(after: request.after, limit: limit)
                var log = EventLog(events: try visibleEvents(events, to: sender), last: try store.lastSeq())
                if log.events.count < events.count { log.through = events.last?.seq }
                return reply(log)
            case Service.accept: return try reply(acceptAgreement(body, sender: sender, now: now))
            case Service.agreement: return try reply(replaceAgreement(body, sender: sender, now: now))
            case Service.invitations: return try reply(manageInvitations(body, sender: sender, now: now))
            case Service.join: return try reply(join(body, sender: sender, now: now))
            case Service.ask: return try reply(ask(body, sender: sender, now: now))
            case Service.answer: return try reply(answer(body, sender: sender, now: now))
            case Service.clarifications: return try reply(clarifications(body, sender: sender))
            case Service.team: return try reply(teamRequest(body, sender: sender, now: now))
            case Service.whoami:
                return reply(
                    Identity(authenticated: sender != nil, name: sender?.name, role: sender?.role, scope: sender?.scope)
                )
            case Service.mmiService:
                let name = String(decoding: body.first ?? Data(), as: UTF8.self)
                return [Data((memory.dispatcher.isServed(name) ? MMIStatus.found : .notFound).rawValue.utf8)]
            default:
                if service.hasPrefix("mmi.") { return [Data(MMIStatus.notImplemented.rawValue.utf8)] }
                throw ProtocolError(.unknownService, "unknown service \"\(service)\"")
            }
        } catch let error as ProtocolError {
            return [Wire.encode(Reply<Empty>.failure(error))]
        }
    }

    private func reply<T: Codable>(_ result: T) -> [Data] { [Wire.encode(Reply.success(result))] }

    /// A page of `pumasi.challenge.list` (`ListRequest`): what the caller may see, read from the store a batch at a
    /// time, so that a page costs what it holds and not the whole store.
    private func listPage(_ request: ListRequest, sender: Sender?) throws -> [ChallengeInfo] {
        let limit = min(max(request.limit ?? ListRequest.maxLimit, 1), ListRequest.maxLimit)
        var after = request.after
        if let after, try !Identifier.isWellFormed(after, prefix: "ch") || !store.challengeExists(after) {
            throw ProtocolError(.notFound, "no challenge \(String(after.prefix(64))) to list after")
        }
        var page: [ChallengeInfo] = []
        var bytes = 0
        // Bounded by the store: each batch starts after the last, and an empty or short batch ends it.
        while true {
            let batch = try store.challenges(state: request.state, after: after, limit: limit)
            for record in batch where try visible(record, to: sender) {
                let info = try challengeInfo(record, for: sender)
                bytes += Wire.encode(info).count
                page.append(info)
                if page.count == limit || bytes >= ListRequest.pageBytes { return page }
            }
            guard batch.count == limit, let last = batch.last else { return page }
            after = last.id
        }
    }

    /// A solver reads only its own submissions, a seeker only those to its own challenges, an admin all; to
    /// anyone else a submission does not exist (the same `not_found` as a wrong id, so it reveals nothing).
    private func mayRead(_ info: SubmissionInfo, _ sender: Sender?) throws -> Bool {
        guard let sender else { return true }
        switch sender.role {
        case .admin: return true
        case .solver: return info.solver == sender.name
        case .seeker: return try liveChallenge(info.challenge)?.owner == sender.name
        case .evaluator, .judge: return false
        }
    }

    /// Says why a submission is still waiting.
    private func note(for info: SubmissionInfo) throws -> String? {
        switch info.state {
        case .queued:
            guard let record = try liveChallenge(info.challenge) else { return nil }
            let phase = max(0, (info.phase ?? 1) - 1)
            let service = record.scorer(phase: phase).service
            let retry = info.attempts > 0 ? " (attempt \(info.attempts + 1) of \(config.maxAttempts))" : ""
            if let refused = refusalNote(record, phase: phase) { return refused }
            return memory.dispatcher.isServed(
                service, challenge: record.id, owner: record.owner, own: record.wantsOwnEvaluators)
                ? "waiting for a free evaluator\(retry)"
                : "waiting: " + unservedReason(record, phase: phase) + retry
        case .scoring:
            return "being scored (attempt \(info.attempts) of \(config.maxAttempts))"
        case .judging, .scored, .failed:
            return nil
        }
    }

    /// The sender's own submissions, newest first, in the challenges they may still see.
    private func mySubmissions(_ body: [Data], sender: Sender?) throws -> [SubmissionInfo] {
        let request = try Wire.decode(SubmissionsRequest.self, from: body.first)
        let solver = sender?.name ?? request.solver ?? ""
        try Validation.solver(solver)
        let limit = min(max(request.limit ?? 100, 1), SubmissionsRequest.maxLimit)
        if let id = request.challenge { _ = try visibleChallenge(id, to: sender) }
        var shown: [String: Bool] = [:]
        return try store.submissions(solver: solver, challenge: request.challenge, limit: limit).filter { info in
            if let known = shown[info.challenge] { return known }
            let visible = try store.challenge(info.challenge).map { try self.visible($0, to: sender) } ?? false
            shown[info.challenge] = visible
            return visible
        }
    }

    /// A challenge by id, or by its handle (`ChallengeSpec.slug`).
    func challenge(_ id: String) throws -> ChallengeRecord {
        let key =
            Identifier.isWellFormed(id, prefix: "ch")
            ? id : Validation.isSlug(id) ? try store.challengeID(slug: id) : nil
        guard let key, let record = try store.challenge(key) else {
            throw ProtocolError(.notFound, "no challenge \(id)")
        }
        return record
    }

    private func visibleChallenge(named body: [Data], to sender: Sender?) throws -> ChallengeRecord {
        try visibleChallenge(Wire.decode(ChallengeRequest.self, from: body.first).challenge, to: sender)
    }

    /// A submission without keys and without a name: the client named nobody and had no login name to send.
    static let unnamedSolver = ProtocolError(
        .badRequest,
        "no solver named: a broker without keys takes the solver's name from the request "
            + "(pumasi submit --solver NAME, $PUMASI_SOLVER or the profile's solver)")

    private func submit(_ body: [Data], sender: Sender?, now: Millis) throws -> Receipt {
        var request = try Wire.decode(SubmitRequest.self, from: body.first)
        // With authentication on, the solver is whoever holds the key: the name in the body is not trusted.
        if let sender { request.solver = sender.name }
        if request.solver.isEmpty { throw Self.unnamedSolver }
        try Validation.solver(request.solver)
        try Validation.fileName(request.filename, what: "filename")
        if let clientId = request.clientId {
            try Validation.clientId(clientId)
            if let receipt = try store.receipt(solver: request.solver, clientId: clientId) {
                guard receipt.challenge == request.challenge else {
                    throw ProtocolError(
                        .conflict, "client id \(clientId) was already used for a submission to \(receipt.challenge)")
                }
                // The same id with another file is not a retry, as an idempotency key with other parameters is not.
                if let sha256 = try digest(of: request, file: body.count == 2 ? body[1] : nil),
                    sha256 != receipt.sha256
                {
                    throw ProtocolError(
                        .conflict,
                        "client id \(clientId) was already used for \(receipt.submission), a file of sha256 "
                            + "\(receipt.sha256); this one is \(sha256): a new submission needs a new client id")
                }
                // A retried commit whose first reply was lost may have begun the upload again: it is over.
                if let upload = request.upload, UploadInfo.isWellFormed(upload) { try store.endUpload(upload) }
                return receipt
            }
        }
        // A file comes in one frame, or before the request in chunks (`upload`).
        guard body.count == (request.upload == nil ? 2 : 1) else {
            throw ProtocolError(
                .badRequest,
                request.upload == nil
                    ? "a submission carries exactly one file frame after the JSON; got \(body.count - 1)"
                    : "a submission of an upload carries no file frame; got \(body.count - 1)")
        }
        let bytes = request.upload == nil ? body[1] : Data()
        if request.upload == nil, bytes.isEmpty { throw ProtocolError(.badRequest, "the submitted file is empty") }
        let record = try memory.liveChallenges[request.challenge] ?? challenge(request.challenge)
        if request.upload == nil, bytes.count > maxSubmissionBytes(record) {
            throw ProtocolError(
                .tooLarge,
                "the file is \(bytes.count) bytes; \(record.id) takes submissions of at most \(maxSubmissionBytes(record)) bytes"
            )
        }
        if let sender {
            try requireFullAccess(record, sender, for: "submit to \(record.id)")
        } else if memory.agreements[record.id] != nil {
            // Without keys the body names the solver, as for quotas: the terms bind that name.
            try requireAcceptedBy(request.solver, record)
        }
        if record.state == .draft {
            throw ProtocolError(.closed, "challenge \(record.id) opens at \(WallClock.iso(record.startsAt))")
        }
        guard record.state == .open, now < record.deadline else {
            throw ProtocolError(
                .closed, "challenge \(record.id) closed \(record.whenClosed)")
        }
        try checkPhase(record, solver: request.solver, now: now)
        // The same command run twice: the same file again within the window is the first submission (and costs no
        // second one of the solver's limits).
        let sha256 = try digest(of: request, file: bytes)
        if let window = request.repeatWindowSeconds, window > 0, let sha256,
            let earlier = try store.recentReceipt(
                solver: request.solver, challenge: record.id, sha256: sha256,
                since: now - Millis(min(window, 86_400)) * 1000)
        {
            if let upload = request.upload, UploadInfo.isWellFormed(upload) {
                try store.endUpload(upload)
                blobs.discard(upload)
            }
            return earlier
        }
        try checkQuota(record, solver: request.solver, now: now)
        // With teams, a submission records its solver's team: it is the team's for good, whoever leaves later.
        let team =
            record.spec?.teams != nil ? try store.currentTeam(challenge: record.id, principal: request.solver) : nil
        let external = try request.upload.map {
            try takeUpload($0, solver: request.solver, challenge: record, now: now)
        }
        var (receipt, job) = try store.insertSubmission(
            id: Identifier.make(prefix: "sub", now: now), challenge: record, solver: request.solver, team: team,
            clientId: request.clientId,
            filename: request.filename, bytes: bytes, digest: request.upload == nil ? sha256 : nil, now: now,
            phase: record.currentPhase, external: external,
            comment: try Validation.comment(request.comment, what: "comment").map {
                guard $0.count <= SubmitRequest.maxComment else {
                    throw ProtocolError(.badRequest, "comment must be at most \(SubmitRequest.maxComment) characters")
                }
                return $0
            })
        // The submission row is its own audit entry (`audit_trail`): it names the solver, the time and the hash.
        receipt.quota = try quota(record, solver: request.solver, now: now)
        if record.isJudgedOnly { try judgingRequested(record, now: now) }
        // Its writes are in before memory changes: a write that failed after would leave a job queued in memory for
        // a submission the savepoint undid.
        try store.syncWrites()
        if !record.isJudgedOnly {
            rememberPayload(
                JobPayload(
                    challenge: record.id, submission: receipt.submission, solver: request.solver,
                    filename: request.filename, sha256: receipt.sha256, content: bytes, phase: record.currentPhase,
                    fetch: external?.size),
                row: job)
        }
        jobSubmitted(row: job, challenge: record, phase: record.currentPhase)
        try tellIfUnserved(record, phase: record.currentPhase, now: now)
        return receipt
    }

    /// The SHA-256 of a submission's file: of its frame, or for an upload the one its begin declared (and its commit
    /// would check); nil for an upload unknown or malformed, or without a frame.
    private func digest(of request: SubmitRequest, file: Data?) throws -> String? {
        if let upload = request.upload {
            return UploadInfo.isWellFormed(upload) ? try store.upload(upload)?.sha256 : nil
        }
        return file.map(SHA256.hex)
    }

    /// `pumasi.challenge.post`: checks the spec whole (its members, its rules, its scorer against its reference
    /// files) and stores it; with `dryRun`, answers whether it would be posted, storing and taking nothing.
    private func postChallenge(_ body: [Data], sender: Sender?, now: Millis) throws -> [Data] {
        let parsed = body.first.map { frame in Result { try JSONValue.parse([UInt8](frame)) } }
        let tree = try? parsed?.get()
        let post: PostRequest
        do {
            post = try Wire.decode(PostRequest.self, from: body.first)
        } catch {
            if let typo = misspelling(in: body.first, tree: tree) { throw ProtocolError(.badRequest, typo.description) }
            throw error
        }
        // A spec the unknown-member check cannot read (nested deeper than it goes) is not taken unchecked.
        if case .failure(let problem)? = parsed {
            throw ProtocolError(.badRequest, "the request cannot be checked for unknown members: \(problem)")
        }
        if let tree, let unknown = UnknownMember.find(PostRequest.self, in: tree, limit: 1).first {
            throw ProtocolError(.badRequest, unknown.description)
        }
        var spec = post.spec
        try Validation.spec(&spec, now: now)
        if let slug = spec.slug, try store.challengeID(slug: slug) != nil {
            throw ProtocolError(.conflict, "the handle \(slug) is taken: choose another spec.slug")
        }
        let entries = spec.files ?? []
        guard body.count - 1 == entries.count else {
            throw ProtocolError(
                .badRequest, "spec lists \(entries.count) files but \(body.count - 1) file frames follow")
        }
        let dryRun = post.dryRun == true
        // Files that came by upload (large ones) are in the blob directory already, checked. A dry run takes no
        // upload: a file stated with its size and an empty frame is taken as stated.
        let uploaded = dryRun ? [:] : try takeFileUploads(post.uploads, count: entries.count, sender: sender, now: now)
        var files: [(entry: FileEntry, bytes: Data)] = []
        var references: [String: Data?] = [:]
        for (position, (entry, bytes)) in zip(entries, body.dropFirst()).enumerated() {
            if dryRun, bytes.isEmpty, (entry.size ?? 0) > 0 {
                files.append((entry, bytes))
                if entry.role == .reference { references[entry.name] = .some(nil) }
                continue
            }
            if let file = uploaded[position] {
                if entry.role == .reference {
                    references[entry.name] = .some(
                        try? blobs.read(file.sha256, offset: 0, count: min(64 << 10, file.size)))
                }
                if let claimed = entry.sha256, claimed != file.sha256 {
                    throw ProtocolError(
                        .badRequest, "file \(entry.name): SHA-256 is \(file.sha256), not \(claimed) as stated")
                }
                files.append(
                    (FileEntry(name: entry.name, role: entry.role, sha256: file.sha256, size: file.size), bytes))
                continue
            }
            let sha = SHA256.hex(bytes)
            if let claimed = entry.sha256, claimed != sha {
                throw ProtocolError(.badRequest, "file \(entry.name): SHA-256 is \(sha), not \(claimed) as stated")
            }
            files.append((FileEntry(name: entry.name, role: entry.role, sha256: sha, size: bytes.count), bytes))
            if entry.role == .reference { references[entry.name] = bytes }
        }
        if let problem = spec.scorerProblem(referenceFiles: references, prefix: "spec.") {
            throw ProtocolError(.badRequest, problem)
        }
        if sender == nil, spec.invitationOnly == true || spec.evaluators == .own {
            throw ProtocolError(
                .badRequest,
                spec.invitationOnly == true
                    ? "an invitation-only challenge needs a broker with keys: without them it cannot tell who is invited"
                    : "\"evaluators\": \"own\" needs a broker with keys: without them no evaluator is bound to anyone")
        }
        if dryRun {
            return reply(
                PostCheck(
                    direction: spec.direction ?? .maximize, scorer: spec.scorer.display,
                    draft: (spec.startsAt ?? now) > now, files: files.count, phases: spec.phases?.count ?? 0))
        }
        let id = Identifier.make(prefix: "ch", now: now)
        let agreement = spec.agreement
        let invite = spec.invite ?? []
        // The agreement lives in its own table, in versions; the invitations in theirs.
        spec.agreement = agreement.map { AgreementSpec(kind: $0.kind) }
        spec.invite = nil
        try store.insertChallenge(
            id: id, spec: spec, files: files, owner: sender?.name, now: now, external: Set(uploaded.keys))
        if let agreement, let text = agreement.text {
            memory.agreements[id] = try store.insertAgreement(challenge: id, kind: agreement.kind, text: text, at: now)
        }
        for name in invite {
            try store.invite(challenge: id, principal: name, via: "list", at: now)
            try store.audit("invitation.add", id, by: sender?.name, detail: name, at: now)
        }
        if spec.invitationOnly == true { memory.invitationOnly.insert(id) }
        guard let record = try store.challenge(id) else { throw ProtocolError(.internal, "challenge vanished") }
        memory.liveChallenges[id] = record
        // A draft is announced when it opens.
        if record.state == .open { try announceOpened(record, now: now) }
        try store.audit(
            "challenge.post", id, by: sender?.name,
            detail: spec.title + (record.state == .draft ? " (draft until \(WallClock.iso(record.startsAt)))" : ""),
            at: now)
        logger.info("challenge posted", ["challenge.id": id, "scorer": spec.scorer.display])
        return try reply(challengeInfo(record, for: sender))
    }

    /// For a post refused for a missing required member: the member that misspells it, to be named as unknown.
    private func misspelling(in frame: Data?, tree: JSONValue?) -> UnknownMember? {
        guard let frame, let tree else { return nil }
        do {
            _ = try JSONDecoder().decode(PostRequest.self, from: frame)
        } catch DecodingError.keyNotFound(let key, let context) {
            return UnknownMember.misspelling(of: key, at: context.codingPath, in: tree)
        } catch {}
        return nil
    }

    private func close(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let record = try visibleChallenge(named: body, to: sender)
        // Solvers may be working to the deadline: only an admin may close a challenge before it.
        if !isAdmin(sender) {
            throw ProtocolError(
                .forbidden,
                "\(record.id) closes at its deadline, \(WallClock.iso(record.deadline)); only an admin may close it sooner"
                    + (mayManage(record, sender) ? " (a seeker may extend it, or cancel it while it is a draft)" : ""))
        }
        guard record.state == .open else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue), not open")
        }
        try closeChallenge(
            record, now: now, reason: "closed before its deadline by \(sender?.name ?? "the operator")",
            by: sender?.name)
        return try challengeInfo(challenge(record.id), for: sender)
    }

    private func publicFile(_ body: [Data], sender: Sender?) throws -> [Data] {
        let request = try Wire.decode(FileRequest.self, from: body.first)
        let record = try confidentialChallenge(request.challenge, to: sender, for: "download its files")
        let offset = try Validation.offset(request.offset)
        guard let (info, bytes) = try store.publicFile(challenge: record.id, name: request.name, offset: offset) else {
            throw ProtocolError(.notFound, "challenge \(record.id) has no public file \"\(request.name)\"")
        }
        let external = try externalFileChunk(sha256: info.sha256, size: info.size, offset: offset)
        return [Wire.encode(Reply.success(info)), external ?? bytes]
    }

    /// A chunk of a reference file, for an evaluator allowed to score the challenge it belongs to: never by hash
    /// alone, so that an evaluator cannot read another challenge's hidden answers.
    private func referenceFile(_ body: [Data], sender: Sender?) throws -> [Data] {
        let request = try Wire.decode(ReferenceRequest.self, from: body.first)
        let offset = try Validation.offset(request.offset)
        guard let challenge = request.challenge else {
            throw ProtocolError(
                .badRequest,
                "name the challenge whose reference file you need (\"challenge\"): this evaluator is too old")
        }
        let notFound = ProtocolError(
            .notFound, "challenge \(challenge) has no reference file with SHA-256 \(request.sha256)")
        guard Identifier.isWellFormed(challenge, prefix: "ch"), let record = try store.challenge(challenge) else {
            throw notFound
        }
        if let sender, !Self.mayScore(record, scope: sender.scope) {
            try store.audit(
                "reference.refused", record.id, by: sender.name,
                detail: "sha256=\(request.sha256): the evaluator is not allowed to score this challenge",
                at: config.clock())
            logger.warning("reference refused", ["principal": sender.name, "challenge.id": record.id])
            throw notFound
        }
        guard let (size, bytes) = try store.referenceBlob(challenge: record.id, sha256: request.sha256, offset: offset)
        else { throw notFound }
        let info = FileInfo(name: request.sha256, sha256: request.sha256, size: size, offset: offset)
        let external = try externalFileChunk(sha256: request.sha256, size: size, offset: offset)
        return [Wire.encode(Reply.success(info)), external ?? bytes]
    }
}
