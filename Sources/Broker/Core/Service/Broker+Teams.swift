import Foundation
import PumasiShared

/// Teams (issue 12): solvers of a challenge that takes teams form them, invite and merge until the merge deadline;
/// limits, rankings and awards are then by entrant.
extension Broker {
    /// Who `solver` competes as now: their team, or themselves.
    func entrant(of solver: String, in record: ChallengeRecord) throws -> String {
        try store.currentTeam(challenge: record.id, principal: solver).map(Entrant.team) ?? solver
    }

    /// Whose a submission is now, following merges.
    func submissionEntrant(_ id: String, in record: ChallengeRecord) throws -> String? {
        try store.submissionEntrant(id, challenge: record.id)
    }

    func teamRequest(_ body: [Data], sender: Sender?, now: Millis) throws -> TeamList {
        let request = try Wire.decode(TeamRequest.self, from: body.first)
        let record = try visibleChallenge(request.challenge, to: sender)
        guard let rules = record.spec?.teams else {
            throw ProtocolError(.badRequest, "\(record.id) takes no teams: every solver competes alone")
        }
        if request.action == .show { return try showTeams(request, record, sender: sender) }
        guard sender == nil || sender?.role == .solver else {
            throw ProtocolError(
                .forbidden, "teams are for solvers: a \(sender?.role.rawValue ?? "") may only show them")
        }
        let caller = try sender?.name ?? named(request.solver, what: "solver")
        let frozenAt = min(rules.mergeDeadline ?? record.deadline, record.deadline)
        guard record.state == .open || record.state == .draft, now < frozenAt else {
            throw ProtocolError(
                .closed,
                "teams of \(record.id) are frozen since \(WallClock.iso(frozenAt)): no one joins, leaves or merges")
        }
        let mine = try store.currentTeam(challenge: record.id, principal: caller)
        switch request.action {
        case .create:
            let name = try Self.teamName(request.name)
            if let mine, let team = try store.team(id: mine) {
                throw ProtocolError(.conflict, "you are in team \(team.name) of \(record.id): leave it first")
            }
            guard try store.team(challenge: record.id, name: name) == nil else {
                throw ProtocolError(.conflict, "\(record.id) has a team named \(name) already")
            }
            let id = Identifier.make(prefix: "team", now: now)
            try store.insertTeam(id: id, challenge: record.id, name: name, by: caller, at: now)
            try store.addMember(team: id, challenge: record.id, principal: caller, at: now)
            // What the creator submitted alone is the team's now.
            try store.recordMerge(challenge: record.id, from: caller, into: id, at: now)
            leaderboards.forget(challenge: record.id)
            try store.audit("team.create", record.id, by: caller, detail: "\(name) (\(id))", at: now)
            return try teamList(record, [id], message: "Created team \(name).")
        case .invite:
            let team = try myTeam(mine, record)
            guard let invitee = request.invitee, !invitee.isEmpty else {
                throw ProtocolError(.badRequest, "name the solver to invite, or team:NAME for a whole team")
            }
            var key = invitee
            if let other = Entrant.teamId(invitee) {
                guard let target = try store.team(challenge: record.id, name: other), target.mergedInto == nil,
                    target.id != team.id
                else { throw ProtocolError(.notFound, "\(record.id) has no other team named \(other)") }
                key = Entrant.team(target.id)
            } else {
                try Validation.name(invitee, what: "invitee")
                guard !team.members.contains(where: { $0.name == invitee }) else {
                    throw ProtocolError(.conflict, "\(invitee) is in \(team.name) already")
                }
            }
            try store.inviteToTeam(team: team.id, challenge: record.id, invitee: key, by: caller, at: now)
            try store.audit("team.invite", record.id, by: caller, detail: "\(invitee) to \(team.name)", at: now)
            return try teamList(record, [team.id], message: "Invited \(invitee) to \(team.name).")
        case .join:
            let name = try Self.teamName(request.name)
            guard let target = try store.team(challenge: record.id, name: name), target.mergedInto == nil else {
                throw ProtocolError(.notFound, "\(record.id) has no team named \(name)")
            }
            if mine == target.id { return try teamList(record, [target.id], message: "You are in \(name) already.") }
            let maxSize = rules.maxSize ?? TeamRules.defaultMaxSize
            if let mine, let own = try store.team(id: mine) {
                // A member of another team merges it in whole, if the target invited that team.
                guard try store.isInvitedToTeam(team: target.id, invitee: Entrant.team(own.id)) else {
                    throw ProtocolError(
                        .forbidden, "\(name) has not invited your team \(own.name): a merge needs its invitation")
                }
                guard own.members.count + target.members.count <= maxSize else {
                    throw ProtocolError(
                        .limitReached,
                        "\(own.name) and \(name) have \(own.members.count + target.members.count) members together; "
                            + "teams of \(record.id) have at most \(maxSize)")
                }
                try checkMergeFits(record, [Entrant.team(own.id), Entrant.team(target.id)], into: name, now: now)
                for member in own.members {
                    try store.removeMember(team: own.id, principal: member.name, at: now)
                    try store.addMember(team: target.id, challenge: record.id, principal: member.name, at: now)
                }
                try store.markMerged(team: own.id, into: target.id)
                try store.recordMerge(challenge: record.id, from: Entrant.team(own.id), into: target.id, at: now)
                leaderboards.forget(challenge: record.id)
                try store.dropTeamInvitation(team: target.id, invitee: Entrant.team(own.id))
                try store.audit("team.merge", record.id, by: caller, detail: "\(own.name) into \(name)", at: now)
                return try teamList(record, [target.id], message: "Merged \(own.name) into \(name).")
            }
            guard try store.isInvitedToTeam(team: target.id, invitee: caller) else {
                throw ProtocolError(.forbidden, "\(name) has not invited you: ask one of its members to")
            }
            guard target.members.count + 1 <= maxSize else {
                throw ProtocolError(
                    .limitReached, "\(name) has \(maxSize) members: teams of \(record.id) have at most that")
            }
            try checkMergeFits(record, [caller, Entrant.team(target.id)], into: name, now: now)
            try store.addMember(team: target.id, challenge: record.id, principal: caller, at: now)
            try store.recordMerge(challenge: record.id, from: caller, into: target.id, at: now)
            leaderboards.forget(challenge: record.id)
            try store.dropTeamInvitation(team: target.id, invitee: caller)
            try store.audit("team.join", record.id, by: caller, detail: name, at: now)
            return try teamList(record, [target.id], message: "Joined \(name).")
        case .leave:
            let team = try myTeam(mine, record)
            if team.members.count == 1,
                try store.entrantCounts(challenge: record.id, entrant: Entrant.team(team.id), since: 0).total > 0
            {
                throw ProtocolError(
                    .conflict,
                    "you are the last member of \(team.name), which has submissions: they stay with it, and so must you"
                )
            }
            try store.removeMember(team: team.id, principal: caller, at: now)
            leaderboards.forget(challenge: record.id)
            try store.audit("team.leave", record.id, by: caller, detail: team.name, at: now)
            return try teamList(record, [team.id], message: "Left \(team.name); its submissions stay with it.")
        case .shares:
            let team = try myTeam(mine, record)
            guard let shares = request.shares else {
                throw ProtocolError(.badRequest, "give each member's share in percent (\"shares\")")
            }
            let members = Set(team.members.map(\.name))
            guard Set(shares.keys) == members else {
                throw ProtocolError(
                    .badRequest,
                    "shares must name exactly the members of \(team.name): \(members.sorted().joined(separator: ", "))")
            }
            guard shares.values.allSatisfy({ $0 >= 0 }), shares.values.reduce(0, +) == 100 else {
                throw ProtocolError(.badRequest, "shares must not be negative and must add up to 100")
            }
            try store.setShares(team: team.id, shares)
            try store.audit(
                "team.shares", record.id, by: caller,
                detail: "\(team.name): "
                    + shares.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
                at: now)
            return try teamList(record, [team.id], message: "Set the shares of \(team.name).")
        case .show:
            return try showTeams(request, record, sender: sender)
        }
    }

    private func myTeam(_ id: String?, _ record: ChallengeRecord) throws -> TeamRecord {
        guard let id, let team = try store.team(id: id) else {
            throw ProtocolError(.notFound, "you are in no team of \(record.id)")
        }
        return team
    }

    private static func teamName(_ name: String?) throws -> String {
        guard let name else { throw ProtocolError(.badRequest, "name the team (\"name\")") }
        try Validation.name(name, what: "team name")
        guard !name.contains(":") else { throw ProtocolError(.badRequest, "a team name has no ':'") }
        return name
    }

    /// Refuses a merge whose entrants together have made more submissions than one entrant may (Kaggle's rule): in
    /// all, and today.
    private func checkMergeFits(_ record: ChallengeRecord, _ entrants: [String], into name: String, now: Millis) throws
    {
        let rules = record.rules
        guard rules.perDay != nil || rules.total != nil else { return }
        let dayStart = now - now % 86_400_000
        var total = 0
        var today = 0
        for entrant in entrants {
            let counts = try store.entrantCounts(challenge: record.id, entrant: entrant, since: dayStart)
            total += counts.total
            today += counts.since
        }
        if let limit = rules.total, total > limit {
            throw ProtocolError(
                .limitReached, "together with \(name) that would be \(total) submissions, over the limit of \(limit)")
        }
        if let limit = rules.perDay, today > limit {
            throw ProtocolError(
                .limitReached,
                "together with \(name) that would be \(today) submissions today, over the limit of \(limit) a day")
        }
    }

    private func showTeams(_ request: TeamRequest, _ record: ChallengeRecord, sender: Sender?) throws -> TeamList {
        if let name = request.name {
            guard let team = try store.team(challenge: record.id, name: name) else {
                throw ProtocolError(.notFound, "\(record.id) has no team named \(name)")
            }
            return try teamList(record, [team.id], sender: sender)
        }
        if mayManage(record, sender) {
            return try teamList(record, try store.teams(challenge: record.id).map(\.id), sender: sender)
        }
        guard let caller = sender?.name ?? request.solver,
            let mine = try store.currentTeam(challenge: record.id, principal: caller)
        else { return TeamList(challenge: record.id, teams: [], message: "You are in no team of \(record.id).") }
        return try teamList(record, [mine], sender: sender)
    }

    /// Teams as their reader may see them: invitations only for their members and the seeker.
    private func teamList(_ record: ChallengeRecord, _ ids: [String], sender: Sender? = nil, message: String? = nil)
        throws -> TeamList
    {
        var teams: [TeamInfo] = []
        for id in ids {
            guard let team = try store.team(id: id) else { continue }
            let shares = Self.shares(team)
            let insider =
                sender == nil || mayManage(record, sender) || team.members.contains { $0.name == sender?.name }
                || message != nil
            teams.append(
                TeamInfo(
                    id: team.id, challenge: record.id, name: team.name,
                    members: team.members.map {
                        .init(name: $0.name, joinedAt: $0.joinedAt, share: shares[$0.name] ?? 0)
                    },
                    invited: insider ? try store.teamInvitations(team: team.id).map(invitedName) : [],
                    submissions: try store.entrantCounts(challenge: record.id, entrant: Entrant.team(team.id), since: 0)
                        .total,
                    createdAt: team.createdAt, mergedInto: team.mergedInto))
        }
        return TeamList(challenge: record.id, teams: teams, message: message)
    }

    /// An invitation as people name it: a solver, or `team:NAME` for a team (stored by its id).
    private func invitedName(_ invitee: String) throws -> String {
        guard let id = Entrant.teamId(invitee) else { return invitee }
        return try store.team(id: id).map { Entrant.teamPrefix + $0.name } ?? invitee
    }

    /// Each member's share in percent: as the team declared, or equal.
    static func shares(_ team: TeamRecord) -> [String: Decimal] {
        if let shares = team.shares, Set(shares.keys) == Set(team.members.map(\.name)) { return shares }
        guard !team.members.isEmpty else { return [:] }
        let equal = Decimal(100) / Decimal(team.members.count)
        return Dictionary(uniqueKeysWithValues: team.members.map { ($0.name, equal) })
    }

    // MARK: Awards to teams

    /// A payment to a team's submission, as one payment per member by the team's shares, adding up to the payment
    /// exactly: each share is rounded down to the currency's smallest unit here (a cent, or a ten-thousandth when the
    /// amount has more decimals), and the units left over go one each to the largest remainders (ties: by name).
    func splitForTeams(_ payments: [AwardInfo], _ record: ChallengeRecord) throws -> [AwardInfo] {
        guard record.spec?.teams != nil else { return payments }
        var result: [AwardInfo] = []
        for payment in payments {
            guard let entrant = try submissionEntrant(payment.submission, in: record),
                let teamId = Entrant.teamId(entrant), let team = try store.team(id: teamId), !team.members.isEmpty
            else {
                result.append(payment)
                continue
            }
            let shares = Self.shares(team)
            for (member, amount) in Self.split(payment.amount, by: team.members.map { ($0.name, shares[$0.name] ?? 0) })
            {
                var part = payment
                part.solver = member
                part.amount = amount
                part.team = team.name
                result.append(part)
            }
        }
        return result
    }

    /// `amount` split by percentages adding up to 100, exactly, by largest remainder at the amount's unit.
    static func split(_ amount: Decimal, by shares: [(String, Decimal)]) -> [(String, Decimal)] {
        let unit: Decimal = amount.exponent >= -2 ? Decimal(string: "0.01")! : Decimal(string: "0.0001")!
        var parts: [(name: String, amount: Decimal, remainder: Decimal)] = shares.map { name, percent in
            var exact = amount * percent / 100
            var units = exact / unit
            var floored = Decimal()
            NSDecimalRound(&floored, &units, 0, .down)
            exact = floored * unit
            return (name, exact, units - floored)
        }
        var left = amount - parts.reduce(Decimal(0)) { $0 + $1.amount }
        let order = parts.indices.sorted {
            parts[$0].remainder != parts[$1].remainder
                ? parts[$0].remainder > parts[$1].remainder : parts[$0].name < parts[$1].name
        }
        var index = 0
        while left >= unit, !order.isEmpty {
            parts[order[index % order.count]].amount += unit
            left -= unit
            index += 1
        }
        return parts.map { ($0.name, $0.amount) }
    }
}
