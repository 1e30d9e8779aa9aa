import Foundation
import PumasiShared

enum PostCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi post", abstract: "Post a challenge from a JSON spec file.",
        discussion: "The spec names the title, description, deadline, award, scorer and files; see docs/cli.md.",
        arguments: [.init("spec", help: "Path to the challenge spec (JSON).")],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let file = try SpecFile.load(context.arguments[argument: "spec"] ?? "")
        let (info, _) = try context.client().call(
            Service.post, PostRequest(spec: file.spec), files: file.fileBytes, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                """
                Posted \(info.id): \(info.title)
                  award     \(info.award.display) (winner takes all)
                  deadline  \(WallClock.iso(info.deadline))
                  scorer    \(info.scorer), \(info.direction.rawValue)
                  files     \(info.files.count) public
                """)
        }
        return 0
    }
}

enum CloseCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi close", abstract: "Close a challenge now; its award is decided once scoring drains.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = ChallengeRequest(challenge: context.arguments[argument: "challenge"] ?? "")
        let (info, _) = try context.client().call(Service.close, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("Closed \(info.id): \(info.title). The award is decided once scoring has drained.")
        }
        return 0
    }
}
