import Foundation
import PumasiShared

/// `pumasi submissions [CH]`: my submissions, newest first, with their state and score.
enum SubmissionsCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi submissions", abstract: "List my submissions (of one challenge, or of all), newest first.",
        arguments: [.init("challenge", help: "Only this challenge's.", optional: true)],
        options: CommandContext.clientOptions + [
            CommandContext.solverOption,
            .init("limit", value: "count", help: "At most this many. Default: 100, at most 1000."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        var limit: Int?
        if let text = context.arguments.value("limit") {
            guard let value = Int(text), (1...SubmissionsRequest.maxLimit).contains(value) else {
                throw UsageError("--limit must be 1-\(SubmissionsRequest.maxLimit)", usage: spec.usage)
            }
            limit = value
        }
        let request = SubmissionsRequest(
            challenge: try context.optionalChallenge(), solver: context.solverName, limit: limit)
        let (list, _) = try context.client().call(
            Service.submissions, context.namingSolver(request), as: [SubmissionInfo].self)
        if context.json {
            context.console.json(list)
            return 0
        }
        guard !list.isEmpty else {
            context.console.out("No submissions yet.")
            return 0
        }
        var table = Table(headers: ["SUBMISSION", "CHALLENGE", "STATE", "SCORE", "RECEIVED", "FILE", "COMMENT"])
        for info in list {
            table.rows.append([
                info.submission, info.challenge, info.state.rawValue, Format.score(info.score),
                WallClock.iso(info.receivedAt), info.filename, info.comment.map { String($0.prefix(40)) } ?? "",
            ])
        }
        context.console.out(table.rendered)
        return 0
    }
}
