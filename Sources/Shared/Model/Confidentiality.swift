import Foundation

// Confidential challenges: agreements solvers accept before they see more than a challenge's public summary,
// invitation-only challenges, evaluators bound to a seeker or a challenge, and clarifications.

/// What a challenge's agreement binds a solver to, besides keeping its confidential details confidential.
public enum AgreementKind: String, Codable, Sendable, CaseIterable {
    /// Confidentiality only: the solver keeps the description, files and clarifications to themselves.
    case confidentiality
    /// The seeker may use a winning solution under a licence; the solver keeps its ownership.
    case licence
    /// A winning solution's intellectual property passes to the seeker on award.
    case ipTransfer = "ip-transfer"

    public var display: String {
        switch self {
        case .confidentiality: "confidentiality"
        case .licence: "confidentiality, and a licence to the seeker for the winning solution"
        case .ipTransfer: "confidentiality, and the winning solution's IP passes to the seeker on award"
        }
    }
}

/// A challenge's agreement as a seeker gives it: its kind and its text. A spec file may name a `file` instead of
/// giving the text; the CLI reads it. The broker versions agreements by the SHA-256 of their text.
public struct AgreementSpec: Codable, Sendable, Equatable {
    public var kind: AgreementKind
    public var text: String?
    /// CLI only: a file beside the spec holding the text.
    public var file: String?

    public init(kind: AgreementKind, text: String? = nil, file: String? = nil) {
        self.kind = kind
        self.text = text
        self.file = file
    }

    /// The most bytes an agreement's text may have.
    public static let maxBytes = 64 << 10
}

/// A challenge's current agreement as a reader sees it.
public struct AgreementInfo: Codable, Sendable, Equatable {
    /// 1 for the agreement posted with the challenge, one more for each replacement.
    public var version: Int
    public var kind: AgreementKind
    /// SHA-256 of `text`'s UTF-8 bytes: what a solver accepts.
    public var sha256: String
    public var text: String
    /// For a solver: whether they accepted this version.
    public var accepted: Bool?
    /// For a solver: the latest version they accepted, when it is not this one.
    public var acceptedVersion: Int?

    public init(version: Int, kind: AgreementKind, sha256: String, text: String) {
        self.version = version
        self.kind = kind
        self.sha256 = sha256
        self.text = text
    }
}

/// Which evaluators score a challenge's submissions: any evaluator the broker knows that is bound to no one, or only
/// those bound to the challenge's seeker or to the challenge itself (a seeker bringing its own compute).
public enum EvaluatorPolicy: String, Codable, Sendable, CaseIterable {
    case any, own
}

/// What an evaluator key is bound to (`pumasi-broker keys add --role evaluator --for seeker:acme`): it takes the
/// jobs and reference data of that seeker's, or that challenge's, challenges that ask for their own evaluators, and
/// of no other.
public enum EvaluatorScope: Codable, Sendable, Hashable, CustomStringConvertible {
    case seeker(String)
    case challenge(String)

    /// Reads `seeker:NAME` or `challenge:ID`.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let value = String(text[text.index(after: colon)...])
        guard !value.isEmpty else { return nil }
        switch text[..<colon] {
        case "seeker": self = .seeker(value)
        case "challenge": self = .challenge(value)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .seeker(let name): "seeker:\(name)"
        case .challenge(let id): "challenge:\(id)"
        }
    }

    /// Whether a challenge with this id and seeker is within the scope.
    public func covers(challenge: String, owner: String?) -> Bool {
        switch self {
        case .seeker(let name): owner == name
        case .challenge(let id): challenge == id
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let scope = EvaluatorScope(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not seeker:NAME or challenge:ID: \(text)"))
        }
        self = scope
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `pumasi.challenge.accept`: a solver accepts the agreement whose text has this SHA-256 (the current version, as
/// `show` gave it). Accepting an older version is refused: the terms changed.
public struct AcceptRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var sha256: String
    /// Without authentication, who accepts; with it, the key's holder.
    public var solver: String?
    public init(challenge: String, sha256: String, solver: String? = nil) {
        self.challenge = challenge
        self.sha256 = sha256
        self.solver = solver
    }
}

/// `pumasi.challenge.agreement`: the seeker replaces a challenge's agreement (or gives one to a challenge that had
/// none). Every solver accepts the new version before they see details or submit again.
public struct AgreementRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var agreement: AgreementSpec
    public init(challenge: String, agreement: AgreementSpec) {
        self.challenge = challenge
        self.agreement = agreement
    }
}

/// `pumasi.challenge.invitations`: the seeker of an invitation-only challenge invites principals by name, revokes
/// invitations, makes invitation tokens to hand out of band, or revokes unredeemed tokens; with nothing to change, it
/// only lists them.
public struct InvitationsRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var invite: [String]?
    public var revoke: [String]?
    /// How many new tokens to make (at most `maxTokens` at once).
    public var tokens: Int?
    /// Token ids (`inv_…`) to revoke.
    public var revokeTokens: [String]?
    public init(
        challenge: String, invite: [String]? = nil, revoke: [String]? = nil, tokens: Int? = nil,
        revokeTokens: [String]? = nil
    ) {
        self.challenge = challenge
        self.invite = invite
        self.revoke = revoke
        self.tokens = tokens
        self.revokeTokens = revokeTokens
    }

    public static let maxTokens = 100
}

/// Who may see an invitation-only challenge, for its seeker.
public struct InvitationList: Codable, Sendable, Equatable {
    public struct Invitee: Codable, Sendable, Equatable {
        public var name: String
        /// `list` (invited by name) or the id of the token they redeemed.
        public var via: String
        public var invitedAt: Millis
        public var revokedAt: Millis?

        public init(name: String, via: String, invitedAt: Millis, revokedAt: Millis?) {
            self.name = name
            self.via = via
            self.invitedAt = invitedAt
            self.revokedAt = revokedAt
        }
    }

    public struct Token: Codable, Sendable, Equatable {
        public var id: String
        public var createdAt: Millis
        /// The token itself: only in the reply that made it (the broker keeps its hash).
        public var token: String?
        public var redeemedBy: String?
        public var redeemedAt: Millis?
        public var revokedAt: Millis?

        public init(
            id: String, createdAt: Millis, token: String?, redeemedBy: String?, redeemedAt: Millis?, revokedAt: Millis?
        ) {
            self.id = id
            self.createdAt = createdAt
            self.token = token
            self.redeemedBy = redeemedBy
            self.redeemedAt = redeemedAt
            self.revokedAt = revokedAt
        }
    }

    public var challenge: String
    public var invitees: [Invitee]
    public var tokens: [Token]

    public init(challenge: String, invitees: [Invitee], tokens: [Token]) {
        self.challenge = challenge
        self.invitees = invitees
        self.tokens = tokens
    }
}

/// `pumasi.challenge.join`: a solver redeems an invitation token. A wrong token is answered as a wrong challenge id.
public struct JoinRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var token: String
    public init(challenge: String, token: String) {
        self.challenge = challenge
        self.token = token
    }
}

/// `pumasi.clarification.ask`: a solver's question about a challenge, seen by its seeker (and admins) only.
public struct AskRequest: Codable, Sendable {
    public var v = wireVersion
    public var challenge: String
    public var question: String
    /// Without authentication, who asks; with it, the key's holder.
    public var solver: String?
    public init(challenge: String, question: String, solver: String? = nil) {
        self.challenge = challenge
        self.question = question
        self.solver = solver
    }

    public static let maxBytes = 8 << 10
}

/// `pumasi.clarification.answer`: the seeker answers a question, to its asker alone or to everyone who may see the
/// challenge (`public`). An answer is final.
public struct AnswerRequest: Codable, Sendable {
    public var v = wireVersion
    public var clarification: String
    public var answer: String
    public var `public`: Bool
    public init(clarification: String, answer: String, public: Bool) {
        self.clarification = clarification
        self.answer = answer
        self.public = `public`
    }
}

/// One question and its answer. The asker is named to the seeker and admins only.
public struct ClarificationInfo: Codable, Sendable, Equatable {
    public var id: String
    public var challenge: String
    public var question: String
    public var asker: String?
    public var askedAt: Millis
    public var answer: String?
    public var answeredAt: Millis?
    public var `public`: Bool

    public init(
        id: String, challenge: String, question: String, asker: String?, askedAt: Millis, answer: String?,
        answeredAt: Millis?, public: Bool
    ) {
        self.id = id
        self.challenge = challenge
        self.question = question
        self.asker = asker
        self.askedAt = askedAt
        self.answer = answer
        self.answeredAt = answeredAt
        self.public = `public`
    }
}

/// `pumasi.clarification.list`'s reply: for a solver, the public answers and their own questions; for the seeker
/// and admins, every question.
public struct ClarificationList: Codable, Sendable, Equatable {
    public var challenge: String
    public var clarifications: [ClarificationInfo]
    public init(challenge: String, clarifications: [ClarificationInfo]) {
        self.challenge = challenge
        self.clarifications = clarifications
    }
}
