import Foundation
import PumasiShared

/// `pumasi judge`: the group; `pumasi judge next` and `pumasi judge score` do the work.
enum JudgeCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi judge", abstract: "Judge submissions, blind: take the next one, then score it.",
        discussion: """
            For challenges scored by human judges. A judge sees a submission's file and its challenge, never its
            solver or its id, and is never given the same submission twice. Works against the broker or a relay
            (--broker <the relay's listen endpoint>), which forwards with its owner's key.
            """,
        subcommands: [
            ("next", JudgeNextCommand.spec.abstract), ("score", JudgeScoreCommand.spec.abstract),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        context.console.out(spec.help)
        return 0
    }

    static let judgeOption = CommandSpec.Option(
        "judge", short: "j", value: "name", help: "Your judge name, without CURVE. Default: $PUMASI_JUDGE or $USER.")

    /// The judge's name for the request: over CURVE the broker names the judge after the key instead.
    static func judgeName(_ context: CommandContext) throws -> String? {
        let name =
            context.arguments.value("judge") ?? context.environment["PUMASI_JUDGE"] ?? context.environment["USER"]
        let curve = try context.curve()
        guard name != nil || curve != nil else {
            throw UsageError("name yourself with --judge <name> or $PUMASI_JUDGE", usage: context.usage)
        }
        return name
    }
}

enum JudgeNextCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi judge next",
        abstract: "Take the next submission to judge and save its file (its solver and id stay hidden).",
        discussion: """
            Asking again before scoring gives the same assignment back. An assignment unscored past its time
            ('held until') may go to another judge. Prints nothing-to-judge, exit 0, when there is no work.
            """,
        options: CommandContext.clientOptions + [
            .init("challenge", short: "c", value: "ch_…", help: "Only this challenge's submissions."),
            JudgeCommand.judgeOption,
            .init(
                "output", short: "o", value: "directory",
                help: "Where to save the file. Default: the current directory."),
        ])

    /// What `--json` prints.
    struct Output: Codable {
        var assignment: JudgeAssignment?
        var path: String?
        var note: String?
    }

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = JudgeNextRequest(
            challenge: context.arguments.value("challenge"), judge: try JudgeCommand.judgeName(context))
        let (reply, frames) = try context.client().call(Service.judgeNext, request, as: JudgeNextReply.self)
        guard let assignment = reply.assignment else {
            let note = reply.note ?? "nothing to judge right now"
            if context.json {
                context.console.json(Output(note: note))
            } else {
                context.console.out("No assignment: \(note).")
            }
            return 0
        }
        guard let content = frames.first, SHA256.hex(content) == assignment.sha256 else {
            throw CommandFailure("the submission for \(assignment.assignment) arrived damaged (SHA-256 mismatch)")
        }
        let directory = context.arguments.value("output") ?? FileManager.default.currentDirectoryPath
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("\(assignment.assignment)-\(assignment.filename)")
        try content.write(to: URL(fileURLWithPath: path))
        if context.json {
            context.console.json(Output(assignment: assignment, path: path))
            return 0
        }
        let scale = "\(Format.score(assignment.scale.min)) to \(Format.score(assignment.scale.max))"
        var text = """
            Assignment \(assignment.assignment) for \(assignment.challenge) "\(assignment.title)"
              file        \(path) (\(assignment.size) bytes, sha256 \(Format.short(assignment.sha256)))
              scale       \(scale)
              held until  \(WallClock.iso(assignment.expiresAt))
            """
        let criteria = assignment.criteria ?? []
        for (index, criterion) in criteria.enumerated() {
            text += "\n  \(index == 0 ? "criteria   " : "           ") \(criterion.shown)"
        }
        let how =
            criteria.isEmpty
            ? "--score <\(scale)>"
            : criteria.map { JudgeScoreCommand.quoted("\($0.name)=<\(scale)>") }.map { "--criterion \($0)" }
                .joined(separator: " ")
        text += "\nScore it with: pumasi judge score \(assignment.assignment) \(how) --comment \"…\""
        context.console.out(text)
        return 0
    }
}

extension JudgingSpec.Criterion {
    /// `novelty (weight 2): How new is the idea?`
    var shown: String {
        "\(name) (weight \(Format.score(effectiveWeight)))" + (description.map { ": \($0)" } ?? "")
    }
}

enum JudgeScoreCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi judge score", abstract: "Score an assignment, with a comment; a judgement is final.",
        discussion: """
            A challenge with a scorecard ('criteria' in 'pumasi show') takes a --criterion for every criterion
            instead of --score: your score is their weighted mean, computed by the broker. Sending the same
            judgement again is harmless: the first is returned.
            """,
        arguments: [.init("assignment", help: "The assignment id (asg_…) from 'pumasi judge next'.")],
        options: CommandContext.clientOptions + [
            .init(
                "score", short: "s", value: "number",
                help: "Your score, on the challenge's scale (required without a scorecard)."),
            .init(
                "criterion", value: "name=number",
                help: "A criterion's score, on the challenge's scale; one for every criterion.", repeats: true),
            .init(
                "comment", short: "m", value: "text", help: "What you make of it: the seeker and the solver read it."),
            .init("comment-for", value: "name=text", help: "A comment on one criterion.", repeats: true),
            JudgeCommand.judgeOption,
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        var score: Double?
        if let text = context.arguments.value("score") {
            guard let value = Double(text), value.isFinite else {
                throw UsageError("--score must be a number, not '\(text)'", usage: spec.usage)
            }
            score = value
        }
        var criteria: [String: Double] = [:]
        for (name, text) in try pairs("criterion", context) {
            guard let value = Double(text), value.isFinite else {
                throw UsageError(
                    "--criterion \(quoted(name)) must be scored with a number, not '\(text)'", usage: spec.usage)
            }
            criteria[name] = value
        }
        guard score != nil || !criteria.isEmpty else {
            throw UsageError("--score (or, with a scorecard, --criterion) is required", usage: spec.usage)
        }
        let comments = Dictionary(try pairs("comment-for", context), uniquingKeysWith: { a, _ in a })
        let request = JudgeScoreRequest(
            assignment: context.arguments[argument: "assignment"] ?? "", score: score,
            criteria: criteria.isEmpty ? nil : criteria, comments: comments.isEmpty ? nil : comments,
            comment: context.arguments.value("comment"), judge: try JudgeCommand.judgeName(context))
        // Safe to retry: the broker answers a repeat from its record.
        let (receipt, _) = try context.client().call(
            Service.judgeScore, request, as: JudgementReceipt.self, attempts: 3)
        if context.json {
            context.console.json(receipt)
            return 0
        }
        let remaining =
            receipt.remaining == 0
            ? "The submission's judging is complete."
            : "It needs \(receipt.remaining) more judgement\(receipt.remaining == 1 ? "" : "s")."
        let parts = (receipt.criteria ?? []).map { "\($0.name) \(Format.score($0.score))" }
        let scored =
            Format.score(receipt.score) + (parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))")
            + (receipt.duplicate ? " (recorded earlier)" : "")
        context.console.out("Scored \(receipt.assignment): \(scored). " + remaining)
        return 0
    }

    /// The `name=value` pairs of a repeatable option, each name once.
    private static func pairs(_ option: String, _ context: CommandContext) throws -> [(String, String)] {
        var seen: Set<String> = []
        return try context.arguments.all(option).map { text in
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw UsageError("--\(option) must be NAME=VALUE, not '\(text)'", usage: spec.usage)
            }
            let name = String(text[..<equals])
            guard seen.insert(name).inserted else {
                throw UsageError("--\(option) \(quoted(name)) is given more than once", usage: spec.usage)
            }
            return (name, String(text[text.index(after: equals)...]))
        }
    }

    /// `text`, in double quotes when it holds a space (a criterion name may).
    static func quoted(_ text: String) -> String { text.contains(" ") ? "\"\(text)\"" : text }
}
