import Foundation
import PumasiShared

/// `pumasi team`: the group; `pumasi team create|invite|join|leave|shares|show` do the work, each one
/// `pumasi.team` request.
enum TeamCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team",
        abstract: "Form teams for a challenge that takes them: create, invite, join, leave, shares.",
        discussion: """
            A solver is in at most one team per challenge. A team shares the challenge's submission limits, ranks
            as one entrant, and splits an award by its members' shares (equal unless set). A member of a team that
            another team invited (team:NAME) merges their whole team in with 'join', if the merged team's
            submissions fit the limits. After the merge deadline ('pumasi show') membership is frozen.
            """,
        subcommands: [
            ("create", TeamCreateCommand.spec.abstract), ("invite", TeamInviteCommand.spec.abstract),
            ("join", TeamJoinCommand.spec.abstract), ("leave", TeamLeaveCommand.spec.abstract),
            ("shares", TeamSharesCommand.spec.abstract), ("show", TeamShowCommand.spec.abstract),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        context.console.out(spec.help)
        return 0
    }

    static let options = CommandContext.clientOptions + [CommandContext.solverOption]
    static let challengeArgument = CommandSpec.Argument("challenge", help: "The challenge id (ch_…).")

    /// Sends one team request as the caller and prints the reply: `--json` the `TeamList`, else `rendered`.
    static func send(
        _ context: CommandContext, _ action: TeamRequest.Action, name: String? = nil, invitee: String? = nil,
        shares: [String: Decimal]? = nil
    ) throws -> Int32 {
        // Over CURVE the broker names the solver after the key; the name here matters only without it.
        let solver = context.solverName
        if action != .show, solver == nil, try context.curve() == nil {
            throw UsageError("name yourself with --solver <name> or $PUMASI_SOLVER", usage: context.usage)
        }
        let request = TeamRequest(
            challenge: try context.challenge(), action: action, name: name, invitee: invitee,
            shares: shares, solver: solver)
        let (list, _) = try context.client().call(Service.team, request, as: TeamList.self)
        if context.json {
            context.console.json(list)
        } else {
            context.console.out(rendered(list))
        }
        return 0
    }

    /// The broker's message, then each team: its name and id, members with join time and share, invitations
    /// (when the reader may see them), submissions, and what it merged into.
    static func rendered(_ list: TeamList) -> String {
        var blocks: [String] = []
        if let message = list.message { blocks.append(message) }
        if list.teams.isEmpty, list.message == nil { blocks.append("No teams in \(list.challenge) yet.") }
        /// `  members       ada …`: labels in a column, as `pumasi show` has them.
        func line(_ label: String, _ value: String) -> String {
            "\n  " + label + String(repeating: " ", count: max(1, 14 - label.count)) + value
        }
        for team in list.teams {
            var text = "Team \(team.name)  [\(team.id)]"
            let width = team.members.map(\.name.count).max() ?? 0
            for (index, member) in team.members.enumerated() {
                let name = member.name + String(repeating: " ", count: width - member.name.count)
                text += line(
                    index == 0 ? "members" : "",
                    "\(name)  joined \(WallClock.iso(member.joinedAt))  share \(percent(member.share))")
            }
            if team.members.isEmpty { text += line("members", "none") }
            if !team.invited.isEmpty {
                text += line("invited", team.invited.map { invitedName($0, list) }.joined(separator: ", "))
            }
            text += line("submissions", String(team.submissions))
            if let into = team.mergedInto {
                text += line("merged into", list.teams.first { $0.id == into }?.name ?? into)
            }
            blocks.append(text)
        }
        return blocks.joined(separator: "\n\n")
    }

    /// An invited team by its name (`team:bats`) when the list holds it; the broker may name it by its id.
    private static func invitedName(_ invitee: String, _ list: TeamList) -> String {
        guard invitee.hasPrefix("team:"), let team = list.teams.first(where: { "team:\($0.id)" == invitee }) else {
            return invitee
        }
        return "team:\(team.name)"
    }

    /// `60%`, `33.33%`: a share rounded to a hundredth of a percent.
    static func percent(_ share: Decimal) -> String {
        var exact = share
        var rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 2, .plain)
        return "\(rounded)%"
    }
}

enum TeamCreateCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team create", abstract: "Create a team, with you its first member.",
        discussion: "What you submitted alone to the challenge becomes the team's.",
        arguments: [TeamCommand.challengeArgument, .init("name", help: "The team's name (no ':').")],
        options: TeamCommand.options)

    static func run(_ context: CommandContext) throws -> Int32 {
        try TeamCommand.send(context, .create, name: context.arguments[argument: "name"])
    }
}

enum TeamInviteCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team invite", abstract: "Invite a solver, or a whole team (team:NAME) to merge in.",
        discussion: "Any member may invite. The invitee accepts with 'pumasi team join CHALLENGE YOUR-TEAM'.",
        arguments: [
            TeamCommand.challengeArgument,
            .init("invitee", help: "A solver's name, or team:NAME for another team of the challenge."),
        ],
        options: TeamCommand.options)

    static func run(_ context: CommandContext) throws -> Int32 {
        try TeamCommand.send(context, .invite, invitee: context.arguments[argument: "invitee"])
    }
}

enum TeamJoinCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team join",
        abstract: "Join a team that invited you, or merge your team into one that invited it.",
        discussion: """
            A merge moves every member and submission of your team into the other; together they must fit the
            challenge's submission limits and the most members a team may have.
            """,
        arguments: [TeamCommand.challengeArgument, .init("name", help: "The team to join.")],
        options: TeamCommand.options)

    static func run(_ context: CommandContext) throws -> Int32 {
        try TeamCommand.send(context, .join, name: context.arguments[argument: "name"])
    }
}

enum TeamLeaveCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team leave", abstract: "Leave your team; its submissions, and any award for them, stay with it.",
        discussion: "The last member of a team that has submissions cannot leave it.",
        arguments: [TeamCommand.challengeArgument], options: TeamCommand.options)

    static func run(_ context: CommandContext) throws -> Int32 { try TeamCommand.send(context, .leave) }
}

enum TeamSharesCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team shares", abstract: "Set how your team splits an award: each member's percent.",
        discussion: """
            Name every member once, with percents that add up to 100 (ada=60 bob=40). Without shares a team
            splits equally; amounts are split to the cent, the cents left over going to the largest remainders.
            """,
        arguments: [
            TeamCommand.challengeArgument, .init("shares", help: "MEMBER=PERCENT for every member (ada=60 bob=40)."),
        ],
        options: TeamCommand.options)

    static func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments { try spec.parseList(arguments) }

    static func run(_ context: CommandContext) throws -> Int32 {
        try TeamCommand.send(context, .shares, shares: try shares(context.arguments.all("shares")))
    }

    /// `ada=60 bob=40` (a trailing `%` allowed) as member → percent, each member once.
    static func shares(_ words: [String]) throws(UsageError) -> [String: Decimal] {
        var shares: [String: Decimal] = [:]
        for word in words {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let number = parts.count == 2 && parts[1].hasSuffix("%") ? String(parts[1].dropLast()) : parts.last ?? ""
            guard parts.count == 2, !parts[0].isEmpty, !number.isEmpty,
                number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let percent = Decimal(string: number, locale: Locale(identifier: "en_US_POSIX"))
            else {
                throw UsageError("a share must be MEMBER=PERCENT, such as ada=60, not '\(word)'", usage: spec.usage)
            }
            guard shares.updateValue(percent, forKey: parts[0]) == nil else {
                throw UsageError("\(parts[0])'s share is given more than once", usage: spec.usage)
            }
        }
        return shares
    }
}

enum TeamShowCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi team show",
        abstract: "Show a team: your own, one by name, or (the challenge's seeker) every team.",
        discussion: "Invitations are shown to the team's members and the challenge's seeker only.",
        arguments: [TeamCommand.challengeArgument, .init("name", help: "The team. Default: yours.", optional: true)],
        options: TeamCommand.options)

    static func run(_ context: CommandContext) throws -> Int32 {
        try TeamCommand.send(context, .show, name: context.arguments[argument: "name"])
    }
}
