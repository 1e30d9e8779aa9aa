import Foundation

/// Whether a challenge takes teams, and its rules for them (`"teams": {…}` in a spec). Without it, every solver
/// competes alone, as before.
public struct TeamRules: Codable, Sendable, Equatable {
    /// The most members a team may have. Default 5.
    public var maxSize: Int?
    /// After it, membership is frozen: no one joins, leaves or merges. Default: the challenge's deadline.
    public var mergeDeadline: Millis?

    public init(maxSize: Int? = nil, mergeDeadline: Millis? = nil) {
        self.maxSize = maxSize
        self.mergeDeadline = mergeDeadline
    }

    public static let defaultMaxSize = 5
    public static let maxMaxSize = 100
}

/// `pumasi.team`: one request for every team action on a challenge.
///
/// - `create` (`name`): a new team, its creator its first member; their earlier submissions go with them.
/// - `invite` (`invitee`: a solver's name, or `team:NAME` to invite a whole team to merge in): by a member.
/// - `join` (`name`): the caller joins the team that invited them; a member of a team that was invited merges
///   their whole team in. The merged team's submissions must fit the challenge's limits.
/// - `leave`: the caller leaves their team; its submissions stay with it.
/// - `shares` (`shares`: member → percent, adding up to 100): how the team splits an award. Default: equal.
/// - `show` (`name`, or the caller's own team; seekers and admins: every team when no name is given).
public struct TeamRequest: Codable, Sendable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        case create, invite, join, leave, shares, show
    }

    public var v = wireVersion
    public var challenge: String
    public var action: Action
    public var name: String?
    public var invitee: String?
    public var shares: [String: Decimal]?
    /// Without authentication, who acts; with it, the key's holder.
    public var solver: String?

    public init(
        challenge: String, action: Action, name: String? = nil, invitee: String? = nil,
        shares: [String: Decimal]? = nil, solver: String? = nil
    ) {
        self.challenge = challenge
        self.action = action
        self.name = name
        self.invitee = invitee
        self.shares = shares
        self.solver = solver
    }
}

/// A team as its members and the challenge's seeker see it.
public struct TeamInfo: Codable, Sendable, Equatable {
    public struct Member: Codable, Sendable, Equatable {
        public var name: String
        public var joinedAt: Millis
        /// Their share of an award, in percent.
        public var share: Decimal

        public init(name: String, joinedAt: Millis, share: Decimal) {
            self.name = name
            self.joinedAt = joinedAt
            self.share = share
        }
    }

    public var id: String
    public var challenge: String
    public var name: String
    public var members: [Member]
    /// Who has been invited and not yet joined: solvers, or `team:NAME`.
    public var invited: [String]
    /// Submissions counted as the team's (its own, and those its members and merged teams brought).
    public var submissions: Int
    public var createdAt: Millis
    /// Set when the team merged into another.
    public var mergedInto: String?

    public init(
        id: String, challenge: String, name: String, members: [Member], invited: [String], submissions: Int,
        createdAt: Millis, mergedInto: String? = nil
    ) {
        self.id = id
        self.challenge = challenge
        self.name = name
        self.members = members
        self.invited = invited
        self.submissions = submissions
        self.createdAt = createdAt
        self.mergedInto = mergedInto
    }
}

/// `pumasi.team`'s reply: the teams the request concerns (one, or all of a challenge's for its seeker).
public struct TeamList: Codable, Sendable, Equatable {
    public var challenge: String
    public var teams: [TeamInfo]
    public var message: String?

    public init(challenge: String, teams: [TeamInfo], message: String? = nil) {
        self.challenge = challenge
        self.teams = teams
        self.message = message
    }
}

/// One stage of a challenge (`"phases": […]` in a spec): development then final, as Codabench and EvalAI run them,
/// or InnoCentive's staged challenges. Phases follow each other: the first opens with the challenge, each next one
/// once the one before has ended and its scoring has drained; the challenge's deadline is the last one's end.
/// Every phase has its own submissions, limits, reference data and leaderboard (public and private splits as
/// usual), and uses the challenge's scorer.
public struct PhaseSpec: Codable, Sendable, Equatable {
    public var name: String
    /// When it may open, at the earliest (a gap after the phase before); as soon as the phase before is done when
    /// absent. Not for the first phase: the challenge's `startsAt` opens it.
    public var startsAt: Millis?
    /// When it stops taking submissions.
    public var endsAt: Millis
    /// Its limits; the challenge's `rules` when absent.
    public var rules: SubmissionRules?
    /// The names of the reference files its submissions are scored on; every reference file when absent.
    public var reference: [String]?
    /// Its own scorer (a built-in or a plugin, not judges); the challenge's when absent. Rescoring replaces the
    /// challenge's scorer, and so scores again the phases that use it.
    public var scorer: ScorerSpec?
    /// Who may enter it, from the phase before's final standings: its top `top` entrants, or those whose score
    /// meets `bar`. Everyone when absent.
    public var qualify: Qualification?
    /// Each qualified entrant's submissions that counted on the phase before's final leaderboard (their final
    /// selection, or their best) come over, to be scored on this phase's data.
    public var carryOver: Bool?

    public struct Qualification: Codable, Sendable, Equatable {
        public var top: Int?
        public var bar: Double?
        public init(top: Int? = nil, bar: Double? = nil) {
            self.top = top
            self.bar = bar
        }
    }

    public init(
        name: String, endsAt: Millis, rules: SubmissionRules? = nil, reference: [String]? = nil,
        qualify: Qualification? = nil, carryOver: Bool? = nil
    ) {
        self.name = name
        self.endsAt = endsAt
        self.rules = rules
        self.reference = reference
        self.qualify = qualify
        self.carryOver = carryOver
    }

    public static let maxPhases = 10
}
