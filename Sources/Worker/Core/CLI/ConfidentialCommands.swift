import Foundation
import PumasiShared

enum AcceptCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi accept",
        abstract: "Read a challenge's agreement and accept it, to see its description and files and to submit.",
        discussion: """
            Prints the agreement (its kind, version, SHA-256 and text) and asks before accepting. What is accepted
            is the text shown, by its SHA-256: if the seeker changed the terms in between, the broker refuses and
            you read them again. Without a terminal on stdin, --yes is needed.
            """,
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            .init("yes", short: "y", help: "Accept without asking."), CommandContext.solverOption,
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let id = try context.challenge()
        let yes = context.arguments.flag("yes")
        if context.json, !yes { throw UsageError("--json needs --yes: there is no prompt in JSON", usage: spec.usage) }
        let curve = try context.curve()
        let solver = context.solverName
        guard solver != nil || curve != nil else {
            throw UsageError("name yourself with --solver <name> or $PUMASI_SOLVER", usage: spec.usage)
        }
        let client = try context.client()
        let (challenge, _) = try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self)
        guard let agreement = challenge.agreement else {
            throw CommandFailure("\(challenge.id) has no agreement to accept")
        }
        if !context.json { context.console.out(terms(challenge, agreement)) }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CommandFailure("stdin is not a terminal: use --yes to accept without a prompt")
            }
            FileHandle.standardOutput.write(Data("Accept these terms? [y/N] ".utf8))
            let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            guard answer == "y" || answer == "yes" else {
                throw CommandFailure("not accepted: \(challenge.id)'s description and files stay withheld")
            }
        }
        let request = AcceptRequest(challenge: challenge.id, sha256: agreement.sha256, solver: solver)
        let (info, _) = try client.call(Service.accept, context.namingSolver(request), as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                "Accepted the agreement of \(info.id) (version \(agreement.version), sha256 "
                    + "\(Format.short(agreement.sha256))). You may now download its files and submit.")
        }
        return 0
    }

    /// The agreement as a solver reads it before accepting: kind in words, version, full SHA-256, then the text.
    static func terms(_ challenge: ChallengeInfo, _ agreement: AgreementInfo) -> String {
        """
        Agreement of \(challenge.id): \(challenge.title)
          kind     \(agreement.kind.display)
          version  \(agreement.version)
          sha256   \(agreement.sha256)

        \(agreement.text.trimmingCharacters(in: .newlines))

        """
    }
}

enum TermsCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi terms",
        abstract: "Replace a challenge's agreement with the text of a file (its seeker); solvers accept it again.",
        discussion: """
            Kinds: confidentiality (keep the description, files and clarifications confidential); licence (also a
            licence to the seeker for the winning solution); ip-transfer (also the winning solution's IP passes to
            the seeker on award). The new version is announced, and every solver accepts it before they see the
            details or submit again.
            """,
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."),
            .init("file", help: "The agreement's text (UTF-8)."),
        ],
        options: CommandContext.clientOptions + [
            .init("kind", value: "kind", help: "confidentiality, licence or ip-transfer (required).")
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        guard let kindText = context.arguments.value("kind") else {
            throw UsageError("--kind is required: confidentiality, licence or ip-transfer", usage: spec.usage)
        }
        guard let kind = AgreementKind(rawValue: kindText) else {
            throw UsageError("--kind must be confidentiality, licence or ip-transfer", usage: spec.usage)
        }
        let path = context.arguments[argument: "file"] ?? ""
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("\(path) is not UTF-8 text") }
        let request = AgreementRequest(
            challenge: try context.challenge(), agreement: AgreementSpec(kind: kind, text: text))
        let (info, _) = try context.client().call(Service.agreement, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            guard let agreement = info.agreement else { throw CommandFailure("\(info.id) has no agreement") }
            context.console.out(
                """
                The agreement of \(info.id) is now version \(agreement.version) (\(agreement.kind.rawValue)), sha256 \(agreement.sha256).
                  Solvers accept it again before they see the details or submit.
                """)
        }
        return 0
    }
}

enum JoinCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi join", abstract: "Redeem an invitation token to an invitation-only challenge.",
        discussion: "A token works once; a wrong, used or revoked one is answered as a wrong challenge id.",
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."),
            .init("token", help: "The invitation token the seeker gave you (pmi_…)."),
        ],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = JoinRequest(
            challenge: try context.challenge(), token: context.arguments[argument: "token"] ?? ""
        )
        let (info, _) = try context.client().call(Service.join, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            var text = "Joined \(info.id): \(info.title)."
            if let agreement = info.agreement, agreement.accepted != true {
                text += "\n  It has an agreement (version \(agreement.version)): pumasi accept \(info.id)"
            }
            context.console.out(text)
        }
        return 0
    }
}
