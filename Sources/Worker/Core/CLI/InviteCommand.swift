import Foundation
import PumasiShared

enum InviteCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi invite",
        abstract: "Invite solvers to an invitation-only challenge (its seeker), make tokens, revoke; or list them.",
        discussion: """
            With no names and no options, lists who is invited and the tokens. Names are principals of the broker
            (their key's name). A token admits whoever redeems it (pumasi join CH TOKEN), once; it is shown only in
            the reply that made it, so hand it out of band. Revoking a name hides the challenge from them again.
            """,
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."),
            .init("names", help: "Principals to invite by name (any number).", optional: true),
        ],
        options: CommandContext.clientOptions + [
            .init("tokens", value: "n", help: "Make this many invitation tokens (up to 100)."),
            .init("revoke", value: "name", help: "Revoke a principal's invitation.", repeats: true),
            .init("revoke-token", value: "inv_…", help: "Revoke an unredeemed token by its id.", repeats: true),
        ])

    static func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        try spec.parseList(arguments)
    }

    static func run(_ context: CommandContext) throws -> Int32 {
        var tokens: Int?
        if let text = context.arguments.value("tokens") {
            guard let count = Int(text), (1...InvitationsRequest.maxTokens).contains(count) else {
                throw UsageError(
                    "--tokens must be a whole number from 1 to \(InvitationsRequest.maxTokens)", usage: spec.usage)
            }
            tokens = count
        }
        func list(_ name: String) -> [String]? {
            let values = context.arguments.all(name)
            return values.isEmpty ? nil : values
        }
        let request = InvitationsRequest(
            challenge: try context.challenge(), invite: list("names"), revoke: list("revoke"),
            tokens: tokens, revokeTokens: list("revoke-token"))
        let (invitations, _) = try context.client().call(Service.invitations, request, as: InvitationList.self)
        if context.json {
            context.console.json(invitations)
        } else {
            context.console.out(rendered(invitations))
        }
        return 0
    }

    /// The invitees (how each came in, and whether revoked), the tokens and their state, and any new tokens.
    static func rendered(_ list: InvitationList) -> String {
        var text: String
        if list.invitees.isEmpty {
            text = "No one is invited to \(list.challenge) yet."
        } else {
            text = "Invited to \(list.challenge):\n"
            var table = Table(headers: ["NAME", "HOW", "INVITED", "STATE"])
            for invitee in list.invitees {
                table.rows.append([
                    invitee.name, invitee.via == "list" ? "by name" : "token \(invitee.via)",
                    WallClock.iso(invitee.invitedAt),
                    invitee.revokedAt.map { "revoked \(WallClock.iso($0))" } ?? "active",
                ])
            }
            text += table.rendered.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        }
        if !list.tokens.isEmpty {
            var table = Table(headers: ["TOKEN", "MADE", "STATE"])
            for token in list.tokens {
                let state =
                    if let by = token.redeemedBy {
                        "redeemed by \(by)" + (token.redeemedAt.map { " \(WallClock.iso($0))" } ?? "")
                    } else if let revoked = token.revokedAt {
                        "revoked \(WallClock.iso(revoked))"
                    } else {
                        "unused"
                    }
                table.rows.append([token.id, WallClock.iso(token.createdAt), state])
            }
            text += "\nTokens:\n" + table.rendered.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        }
        let made = list.tokens.compactMap { token in token.token.map { (token.id, $0) } }
        if !made.isEmpty {
            text +=
                "\nNew tokens, shown this once: hand each to one invitee out of band; they run "
                + "`pumasi join \(list.challenge) TOKEN`."
            for (id, token) in made { text += "\n  \(id)  \(token)" }
        }
        return text
    }
}
