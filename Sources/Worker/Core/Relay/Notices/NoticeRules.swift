import Foundation
import PumasiShared

/// One thing a relay's owner asked to hear about: an announcement, and what it means to them.
public struct Notice: Sendable, Equatable {
    public var announcement: Announcement
    /// One sentence for people, naming the challenge and the event.
    public var text: String
    /// Whether it is about the owner's own submission or award (rather than a followed challenge).
    public var mine: Bool

    /// An email subject: the challenge, its title and the event, on one line.
    public var subject: String {
        "[pumasi] \(announcement.challenge) \"\(announcement.title)\": \(announcement.topic.rawValue)"
    }
}

/// Which announcements become notices, and their text.
///
/// - A submission's outcome (`submission.scored`, `.failed`, `.judged`, `.disqualified`) is a notice when the
///   submission is the owner's: its solver is `owner`, or the relay forwarded it (the caller says which).
/// - `challenge.awarded` is a notice when the award goes to the owner, or when the challenge is followed.
/// - A followed challenge's life (`challenge.opened`, `.extended`, `.closing`, `.closed`, `.unawarded`,
///   `.cancelled`, `.phase`, `.misconfigured`, `.unserved`) is a notice. `followAll` follows every challenge.
/// - Nothing else is: other solvers' submissions, and unfollowed challenges, stay in the announcement feed.
public struct NoticeRules: Sendable, Equatable {
    /// Whose submissions count as "mine": the solver name the broker records for them.
    public var owner: String?
    /// Challenge ids followed.
    public var follows: Set<String> = []
    public var followAll = false

    public init(owner: String? = nil, follows: Set<String> = [], followAll: Bool = false) {
        self.owner = owner
        self.follows = follows
        self.followAll = followAll
    }

    /// `--follow` values: challenge ids, or `all`.
    public init(owner: String?, follow: [String]) {
        self.init(owner: owner, follows: Set(follow.filter { $0 != "all" }), followAll: follow.contains("all"))
    }

    public func follows(_ challenge: String) -> Bool { followAll || follows.contains(challenge) }

    /// The notice `a` makes, if any.
    /// - Parameter forwarded: whether this relay forwarded the announcement's submission (so it is the owner's).
    public func notice(for a: Announcement, forwarded: Bool = false) -> Notice? {
        let mine = forwarded || (owner != nil && a.solver == owner)
        let name = "\(a.challenge) \"\(a.title)\""
        let submission = a.submission ?? "?"
        let text: String
        switch a.topic {
        case .scored where mine:
            text = "Your submission \(submission) to \(name) scored \(Format.score(a.score))."
        case .failed where mine:
            text = "Your submission \(submission) to \(name) failed: \(a.message ?? "no reason given")."
        case .judged where mine:
            text = "Your submission \(submission) to \(name) was judged \(Format.score(a.score))."
        case .disqualified where mine:
            text = "Your submission \(submission) to \(name) was disqualified: \(a.message ?? "no reason given")."
        case .awarded where mine:
            text =
                "You were awarded \(money(a)) in \(name) for \(submission) (score \(Format.score(a.score)))"
                + (a.message.map { ": \($0)." } ?? ".")
        case .awarded where follows(a.challenge):
            text = "\(name) awarded \(money(a)) to \(a.solver ?? "?") for \(submission)."
        case .opened where follows(a.challenge):
            text = "\(name) is open: award \(money(a)), deadline \(a.deadline.map(WallClock.iso) ?? "?")."
        case .extended where follows(a.challenge):
            text = "\(name) was extended: the deadline is now \(a.deadline.map(WallClock.iso) ?? "?")."
        case .closing where follows(a.challenge):
            text = "\(name) closes at \(a.deadline.map(WallClock.iso) ?? "?")."
        case .closed where follows(a.challenge):
            text = "\(name) closed (\(a.message ?? "at its deadline"))."
        case .unawarded where follows(a.challenge):
            text = "\(name) closed without an award (\(a.message ?? "no reason given"))."
        case .cancelled where follows(a.challenge):
            text = "\(name) was cancelled (\(a.message ?? "no reason given"))."
        case .phase where follows(a.challenge):
            text = "\(name): \(a.message ?? "the next phase") is open until \(a.deadline.map(WallClock.iso) ?? "?")."
        case .misconfigured where follows(a.challenge):
            text = "\(name) is misconfigured: \(a.message ?? "an evaluator refused its scorer")."
        case .unserved where follows(a.challenge):
            text = "\(name) waits for evaluators: \(a.message ?? "none serves its scorer")."
        default:
            return nil
        }
        let personal: Set<Announcement.Topic> = [.scored, .failed, .judged, .disqualified, .awarded]
        return Notice(announcement: a, text: text, mine: mine && personal.contains(a.topic))
    }

    private func money(_ a: Announcement) -> String {
        "\(a.amount.map { "\($0)" } ?? "?") \(a.currency ?? "")".trimmingCharacters(in: .whitespaces)
    }
}
