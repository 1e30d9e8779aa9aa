import Foundation
import PumasiShared

/// How much of a challenge a principal may see.
enum ChallengeAccess: Equatable {
    /// Nothing: to them the challenge does not exist (a draft not theirs; an invitation-only challenge they are not
    /// invited to). Every service answers as for a wrong id.
    case hidden
    /// The public summary (title, award, deadline, summary, the agreement's text): they have not accepted the
    /// current version of its agreement. `why` says how to accept.
    case summary(why: String)
    /// Everything a principal of their role may see.
    case full
}

/// Confidential challenges: who may see what (agreements, invitations), and the services that manage them.
extension Broker {
    /// How much of `record` `sender` may see. Without keys (no sender) the broker is its operator's alone: all of it.
    /// The seeker who posted it and admins see all of it; a draft is theirs alone. An invitation-only challenge is
    /// seen by those invited and by the judges on its panel (any judge when it names none). An agreement binds
    /// everyone else but its judges: until they accept its current version, they see the summary.
    func access(_ record: ChallengeRecord, _ sender: Sender?) throws -> ChallengeAccess {
        guard let sender, !mayManage(record, sender) else { return .full }
        if record.state == .draft { return .hidden }
        let judges = sender.role == .judge && record.judging.map { $0.judges?.contains(sender.name) ?? true } == true
        if record.isInvitationOnly, !judges, try !store.isInvited(challenge: record.id, principal: sender.name) {
            return .hidden
        }
        guard !judges, let agreement = memory.agreements[record.id] else { return .full }
        let accepted = try store.acceptance(challenge: record.id, principal: sender.name)
        if accepted?.sha256 == agreement.sha256 { return .full }
        let how = "read it with `pumasi show \(record.id)` and accept it with `pumasi accept \(record.id)`"
        guard let accepted else { return .summary(why: "\(record.id) has an agreement: \(how)") }
        return .summary(
            why: "the agreement of \(record.id) changed (version \(agreement.version); you accepted version "
                + "\(accepted.version)): \(how)")
    }

    /// Whether `sender` may know that `record` exists.
    func visible(_ record: ChallengeRecord, to sender: Sender?) throws -> Bool {
        try access(record, sender) != .hidden
    }

    /// A challenge by id, as `sender` may see it: one hidden from them is `not_found`, like a wrong id; the attempt
    /// is in the audit trail.
    func visibleChallenge(_ id: String, to sender: Sender?) throws -> ChallengeRecord {
        let record = try challenge(id)
        if try access(record, sender) == .hidden { try refuseHidden(record, sender) }
        return record
    }

    /// A challenge whose confidential part (description, files, submissions, leaderboard) `sender` wants.
    func confidentialChallenge(_ id: String, to sender: Sender?, for what: String) throws -> ChallengeRecord {
        let record = try challenge(id)
        try requireFullAccess(record, sender, for: what)
        return record
    }

    /// Refuses `sender` anything short of full access, each refusal in the audit trail: a challenge hidden from them
    /// is `not_found`, like a wrong id; one whose agreement they have not accepted is `forbidden`, saying how to
    /// accept. Access is decided once.
    func requireFullAccess(_ record: ChallengeRecord, _ sender: Sender?, for what: String) throws {
        switch try access(record, sender) {
        case .full: return
        case .hidden: try refuseHidden(record, sender)
        case .summary(let why):
            try auditRefusal(record.id, sender, "\(what) without accepting the agreement")
            throw ProtocolError(.forbidden, "you may not \(what) yet: \(why)")
        }
    }

    private func refuseHidden(_ record: ChallengeRecord, _ sender: Sender?) throws -> Never {
        try auditRefusal(
            record.id, sender, (record.state == .draft ? "a draft not theirs" : "not invited") + " (\(requestService))")
        throw ProtocolError(.notFound, "no challenge \(record.id)")
    }

    /// Refuses a seeker's action on a challenge not theirs (admins may act on any), in the audit trail.
    func requireManager(_ record: ChallengeRecord, _ sender: Sender?, to action: String, _ refusal: String) throws {
        guard !mayManage(record, sender) else { return }
        try auditRefusal(record.id, sender, "\(action) of a challenge not theirs")
        throw ProtocolError(.forbidden, "only the seeker who posted \(record.id), or an admin, \(refusal)")
    }

    /// Without keys the body names the solver: the agreement binds that name.
    func requireAcceptedBy(_ solver: String, _ record: ChallengeRecord) throws {
        guard let agreement = memory.agreements[record.id],
            try store.acceptance(challenge: record.id, principal: solver)?.sha256 != agreement.sha256
        else { return }
        throw ProtocolError(
            .forbidden,
            "\(solver) may not submit to \(record.id) yet: accept its agreement (version \(agreement.version)) with "
                + "`pumasi accept \(record.id)`")
    }

    /// Whether an evaluator with this binding may score `record`: one bound to no one scores the challenges that do
    /// not ask for their own evaluators; one bound to a seeker or a challenge scores only those that do, and are its.
    static func mayScore(_ record: ChallengeRecord, scope: EvaluatorScope?) -> Bool {
        guard let scope else { return !record.wantsOwnEvaluators }
        return record.wantsOwnEvaluators && scope.covers(challenge: record.id, owner: record.owner)
    }

    /// For a bound evaluator's READY: a live challenge outside its binding whose seeker brings its own evaluators for
    /// this service, when no challenge within its binding uses the service. Such a READY is refused: that plugin name
    /// is the other seeker's. (Even if it were not refused, it would get none of that challenge's jobs.)
    func pluginTakenElsewhere(_ service: String, scope: EvaluatorScope) -> String? {
        // The built-in scorers' service is everyone's: its own-evaluator queues keep the jobs apart.
        guard service.hasPrefix(Service.plugin("")) else { return nil }
        var taken: String?
        for record in memory.liveChallenges.values where record.service == service && record.wantsOwnEvaluators {
            if scope.covers(challenge: record.id, owner: record.owner) { return nil }
            taken = taken ?? record.id
        }
        return taken
    }

    /// Records a refused attempt, so that an operator sees who tried what.
    func auditRefusal(_ object: String, _ sender: Sender?, _ detail: String) throws {
        guard let sender else { return }
        try store.audit("access.refused", object, by: sender.name, detail: detail, at: config.clock())
        logger.warning("access refused", ["principal": sender.name, "object": object, "reason": detail])
    }

    /// A challenge as `sender` may see it: with the summary only, its description, files, rules and judging panel are
    /// withheld; a solver learns whether they accepted its agreement.
    func challengeInfo(_ record: ChallengeRecord, for sender: Sender?) throws -> ChallengeInfo {
        var info = try store.challengeInfo(record)
        let access = try access(record, sender)
        if !mayManage(record, sender) { info.judging?.judges = nil }
        info.summary = record.spec?.summary
        info.invitationOnly = record.isInvitationOnly ? true : nil
        info.evaluators = record.spec?.evaluators
        if record.isPhased {
            info.phases = record.phases
            info.phase = record.currentPhase + 1
        }
        info.teams = record.spec?.teams
        if var agreement = memory.agreements[record.id] {
            if let sender, !mayManage(record, sender) {
                let accepted = try store.acceptance(challenge: record.id, principal: sender.name)
                agreement.accepted = accepted?.sha256 == agreement.sha256
                if let accepted, accepted.sha256 != agreement.sha256 { agreement.acceptedVersion = accepted.version }
            }
            info.agreement = agreement
        }
        if case .summary = access {
            info.description = ""
            info.files = []
            info.confidential = true
        }
        return info
    }

    // MARK: Agreements

    /// `pumasi.challenge.accept`: records that the solver accepted the agreement whose text has the given hash (the
    /// current one), in the store and the audit trail.
    func acceptAgreement(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(AcceptRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        let principal = try sender?.name ?? named(request.solver, what: "solver")
        guard let agreement = memory.agreements[record.id] else {
            throw ProtocolError(.badRequest, "\(record.id) has no agreement to accept")
        }
        guard request.sha256 == agreement.sha256 else {
            try auditRefusal(record.id, sender, "accepted agreement \(request.sha256), not the current one")
            throw ProtocolError(
                .conflict,
                "the agreement of \(record.id) is now version \(agreement.version) (SHA-256 \(agreement.sha256)), "
                    + "not the one you accepted: read it again with `pumasi show \(record.id)`")
        }
        if try store.accept(challenge: record.id, principal: principal, agreement: agreement, at: now) {
            try store.audit(
                "agreement.accept", record.id, by: principal,
                detail: "version \(agreement.version) (\(agreement.kind.rawValue)) sha256=\(agreement.sha256)", at: now)
        }
        return try challengeInfo(record, for: sender)
    }

    /// `pumasi.challenge.agreement`: the seeker gives the challenge a new version of its agreement; announced, and
    /// accepted again by every solver before they see details or submit.
    func replaceAgreement(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(AgreementRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        try requireManager(record, sender, to: "replace the agreement", "may change its terms")
        guard !record.state.isFinal else {
            throw ProtocolError(.closed, "challenge \(record.id) is \(record.state.rawValue): its terms are settled")
        }
        let text = try Validation.agreement(request.agreement, what: "agreement")
        if let current = memory.agreements[record.id], current.sha256 == SHA256.hex(Data(text.utf8)),
            current.kind == request.agreement.kind
        {
            return try challengeInfo(record, for: sender)
        }
        let agreement = try store.insertAgreement(
            challenge: record.id, kind: request.agreement.kind, text: text, at: now)
        memory.agreements[record.id] = agreement
        try store.audit(
            "agreement.replace", record.id, by: sender?.name,
            detail: "version \(agreement.version) (\(agreement.kind.rawValue)) sha256=\(agreement.sha256)", at: now)
        if record.state != .draft {
            var announcement = Announcement(
                topic: .agreementChanged, at: now, challenge: record.id, title: record.title)
            announcement.message = "version \(agreement.version), \(agreement.kind.rawValue)"
            try publish(announcement)
        }
        return try challengeInfo(record, for: sender)
    }

    // MARK: Invitations

    /// `pumasi.challenge.invitations`: invites and uninvites by name, makes and revokes tokens, and lists them all.
    func manageInvitations(_ body: [Data], sender: Sender?, now: Millis) throws -> InvitationList {
        let request = try Wire.decode(InvitationsRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        try requireManager(record, sender, to: "manage the invitations", "manages its invitations")
        guard record.isInvitationOnly else {
            throw ProtocolError(.badRequest, "\(record.id) is open to every solver: it takes no invitations")
        }
        let by = sender?.name
        for name in request.invite ?? [] {
            try Validation.name(name, what: "invitee")
            try store.invite(challenge: record.id, principal: name, via: "list", at: now)
            try store.audit("invitation.add", record.id, by: by, detail: name, at: now)
        }
        for name in request.revoke ?? [] {
            guard try store.revokeInvitation(challenge: record.id, principal: name, at: now) else {
                throw ProtocolError(.notFound, "\(name) holds no invitation to \(record.id)")
            }
            try store.audit("invitation.revoke", record.id, by: by, detail: name, at: now)
        }
        for id in request.revokeTokens ?? [] {
            guard try store.revokeInvitationToken(challenge: record.id, id: id, at: now) else {
                throw ProtocolError(.notFound, "\(record.id) has no unused invitation token \(id)")
            }
            try store.audit("invitation.token.revoke", record.id, by: by, detail: id, at: now)
        }
        let count = request.tokens ?? 0
        guard (0...InvitationsRequest.maxTokens).contains(count) else {
            throw ProtocolError(.badRequest, "tokens must be from 0 to \(InvitationsRequest.maxTokens)")
        }
        var made: [String: String] = [:]
        for _ in 0..<count {
            let id = Identifier.make(prefix: "inv", now: now)
            let token = Identifier.secret(prefix: "pmi")
            try store.insertInvitationToken(
                id: id, challenge: record.id, sha256: SHA256.hex(Data(token.utf8)), at: now)
            try store.audit("invitation.token", record.id, by: by, detail: id, at: now)
            made[id] = token
        }
        var list = try store.invitationList(challenge: record.id)
        for index in list.tokens.indices { list.tokens[index].token = made[list.tokens[index].id] }
        return list
    }

    /// `pumasi.challenge.join`: redeems an invitation token. A wrong token, a used one, a revoked one and a wrong
    /// challenge id get the same answer, so that a guess learns nothing.
    func join(_ body: [Data], sender: Sender?, now: Millis) throws -> ChallengeInfo {
        let request = try Wire.decode(JoinRequest.self, from: body.first)
        let notFound = ProtocolError(.notFound, "no challenge \(request.challenge)")
        guard let sender else {
            throw ProtocolError(.badRequest, "invitations need a broker with keys: it has no way to know who joins")
        }
        guard Identifier.isWellFormed(request.challenge, prefix: "ch"),
            let record = try store.challenge(request.challenge),
            record.state != .draft, record.isInvitationOnly
        else { throw notFound }
        if try store.isInvited(challenge: record.id, principal: sender.name) {
            return try challengeInfo(record, for: sender)
        }
        guard
            let id = try store.redeemInvitationToken(
                challenge: record.id, sha256: SHA256.hex(Data(request.token.utf8)), by: sender.name, at: now)
        else {
            try auditRefusal(record.id, sender, "a wrong, used or revoked invitation token")
            throw notFound
        }
        try store.invite(challenge: record.id, principal: sender.name, via: id, at: now)
        try store.audit("invitation.join", record.id, by: sender.name, detail: "token \(id)", at: now)
        return try challengeInfo(record, for: sender)
    }

    // MARK: Clarifications

    /// `pumasi.clarification.ask`: a solver's question, for the seeker's eyes (and admins').
    func ask(_ body: [Data], sender: Sender?, now: Millis) throws -> ClarificationInfo {
        let request = try Wire.decode(AskRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        let asker = try sender?.name ?? named(request.solver, what: "solver")
        let question = request.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty, question.utf8.count <= AskRequest.maxBytes, !question.unicodeScalars.contains("\u{0}")
        else { throw ProtocolError(.badRequest, "a question is 1 to \(AskRequest.maxBytes) bytes of text") }
        guard !record.state.isFinal else {
            throw ProtocolError(
                .closed, "challenge \(record.id) is \(record.state.rawValue): it takes no more questions")
        }
        let id = Identifier.make(prefix: "clr", now: now)
        try store.insertClarification(id: id, challenge: record.id, asker: asker, question: question, at: now)
        try store.audit("clarification.ask", id, by: asker, detail: "challenge=\(record.id)", at: now)
        return ClarificationInfo(
            id: id, challenge: record.id, question: question, asker: asker, askedAt: now, answer: nil, answeredAt: nil,
            public: false)
    }

    /// `pumasi.clarification.answer`: the seeker answers, to the asker or to everyone who may see the challenge
    /// (announced without its text, which `pumasi.clarification.list` gives to those allowed to read it).
    func answer(_ body: [Data], sender: Sender?, now: Millis) throws -> ClarificationInfo {
        let request = try Wire.decode(AnswerRequest.self, from: body.first)
        guard Identifier.isWellFormed(request.clarification, prefix: "clr"),
            let question = try store.clarification(request.clarification),
            let record = try store.challenge(question.challenge), try visible(record, to: sender)
        else { throw ProtocolError(.notFound, "no clarification \(request.clarification)") }
        try requireManager(record, sender, to: "answer the questions", "answers its questions")
        let answer = request.answer.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !answer.isEmpty, answer.utf8.count <= AskRequest.maxBytes, !answer.unicodeScalars.contains("\u{0}") else {
            throw ProtocolError(.badRequest, "an answer is 1 to \(AskRequest.maxBytes) bytes of text")
        }
        guard
            try store.answerClarification(
                id: question.id, answer: answer, by: sender?.name, public: request.public, at: now)
        else { throw ProtocolError(.conflict, "\(question.id) was answered already: an answer is final") }
        try store.audit(
            "clarification.answer", question.id, by: sender?.name,
            detail: (request.public ? "public" : "private") + " challenge=\(record.id)", at: now)
        if request.public, record.state != .draft {
            var announcement = Announcement(topic: .clarified, at: now, challenge: record.id, title: record.title)
            announcement.message = question.id
            try publish(announcement)
        }
        var answered = question
        answered.answer = answer
        answered.answeredAt = now
        answered.public = request.public
        return answered
    }

    /// `pumasi.clarification.list`: the seeker and admins see every question with its asker; anyone else who may see
    /// the challenge sees their own questions, and the public answers once they accepted its agreement.
    func clarifications(_ body: [Data], sender: Sender?) throws -> ClarificationList {
        let request = try Wire.decode(ChallengeRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        let all = try store.clarifications(challenge: record.id)
        if mayManage(record, sender) { return ClarificationList(challenge: record.id, clarifications: all) }
        let full = try access(record, sender) == .full
        let shown = all.filter { $0.asker == sender?.name || (full && $0.public && $0.answer != nil) }.map { item in
            var item = item
            if item.asker != sender?.name { item.asker = nil }
            return item
        }
        return ClarificationList(challenge: record.id, clarifications: shown)
    }

    /// The name a request gives, where no key names its sender.
    func named(_ claimed: String?, what: String) throws -> String {
        guard let claimed else { throw ProtocolError(.badRequest, "name the \(what) (\"\(what)\")") }
        try Validation.name(claimed, what: what)
        return claimed
    }

    // MARK: Announcements and the log

    /// The events of the log that `sender` may see: those of invitation-only challenges go to the invited only.
    func visibleEvents(_ events: [Announcement], to sender: Sender?) throws -> [Announcement] {
        guard sender != nil, events.contains(where: { memory.invitationOnly.contains($0.challenge) }) else {
            return events
        }
        var seen: [String: Bool] = [:]
        return try events.filter { event in
            guard memory.invitationOnly.contains(event.challenge) else { return true }
            if let known = seen[event.challenge] { return known }
            let shown = try store.challenge(event.challenge).map { try visible($0, to: sender) } ?? false
            seen[event.challenge] = shown
            return shown
        }
    }
}
