import Foundation
import PumasiShared

enum AskCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi ask", abstract: "Ask a challenge's seeker a question; they answer you alone or everyone.",
        discussion: "The question is the argument, or the text of --file. The seeker (and admins) see who asked.",
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."),
            .init("question", help: "The question (or use --file).", optional: true),
        ],
        options: CommandContext.clientOptions + [
            .init("file", short: "f", value: "file", help: "Read the question from a file."),
            CommandContext.solverOption,
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let question: String
        switch (context.arguments[argument: "question"], context.arguments.value("file")) {
        case (.some(let text), nil): question = text
        case (nil, .some(let path)):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else { throw CommandFailure("cannot read \(path) as UTF-8 text") }
            question = text
        case (.some, .some): throw UsageError("give the question or --file, not both", usage: spec.usage)
        case (nil, nil): throw UsageError("give the question, or --file with it", usage: spec.usage)
        }
        let request = AskRequest(
            challenge: try context.challenge(), question: question, solver: context.solverName)
        let (info, _) = try context.client().call(
            Service.ask, context.namingSolver(request), as: ClarificationInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                "Asked \(info.id) about \(info.challenge). Its answer will be in: pumasi clarifications \(info.challenge)"
            )
        }
        return 0
    }
}

enum AnswerCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi answer",
        abstract: "Answer a question about your challenge: to its asker alone, or with --public to everyone.",
        discussion: "An answer is final. A public one is announced (without its text) and listed for every solver "
            + "who accepted the challenge's agreement.",
        arguments: [
            .init("clarification", help: "The question's id (clr_…)."), .init("answer", help: "The answer."),
        ],
        options: CommandContext.clientOptions + [
            .init("public", help: "Answer everyone who may see the challenge, not only the asker.")
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = AnswerRequest(
            clarification: context.arguments[argument: "clarification"] ?? "",
            answer: context.arguments[argument: "answer"] ?? "", public: context.arguments.flag("public"))
        let (info, _) = try context.client().call(Service.answer, request, as: ClarificationInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                "Answered \(info.id) "
                    + (info.public
                        ? "publicly: everyone who may see \(info.challenge) reads it."
                        : "privately: only its asker reads it."))
        }
        return 0
    }
}

enum ClarificationsCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi clarifications",
        abstract: "List a challenge's questions and answers that you may read.",
        discussion: "A solver sees their own questions and the public answers (once they accepted the agreement); "
            + "the seeker and admins see every question and who asked it.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = ChallengeRequest(challenge: try context.challenge())
        let (list, _) = try context.client().call(Service.clarifications, request, as: ClarificationList.self)
        if context.json {
            context.console.json(list)
        } else {
            context.console.out(rendered(list))
        }
        return 0
    }

    static func rendered(_ list: ClarificationList) -> String {
        guard !list.clarifications.isEmpty else { return "No clarifications for \(list.challenge)." }
        return list.clarifications.map { item in
            var text =
                "\(item.id)  asked \(WallClock.iso(item.askedAt))" + (item.asker.map { " by \($0)" } ?? "")
                + "  \(item.public ? "public" : "private")"
            text += "\n  Q: " + indented(item.question)
            if let answer = item.answer {
                text += "\n  A: " + indented(answer)
            } else {
                text += "\n  A: unanswered"
            }
            return text
        }.joined(separator: "\n\n")
    }

    /// Continuation lines under the text's first line, aligned after "  Q: ".
    private static func indented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n     ")
    }
}
