import Foundation
import PumasiShared

/// `pumasi site`: the static website of every challenge the caller may see (`SiteWriter`).
enum SiteCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi site",
        abstract: "Write a static website of the challenges: an index and a page per challenge.",
        discussion: """
            Each page shows a challenge's description (its summary while it is confidential to you), rules, award,
            deadline, leaderboard, a chart of the best score over time and the awards once made: plain HTML and
            CSS, no script, for any web server (deploy/site/nginx.conf). The broker shows what your credentials
            may see, so publish with a key that may see only what should be public. Files are replaced atomically.
            'pumasi relay --site DIR' keeps the site up to date as announcements arrive.
            """,
        options: CommandContext.clientOptions + [
            .init("out", short: "o", value: "dir", help: "The directory to write the site into (created if missing).")
        ] + CommandContext.viewOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        guard let directory = context.arguments.value("out"), !directory.isEmpty else {
            throw UsageError("name the site's directory: --out <dir>", usage: spec.usage)
        }
        let writer = SiteWriter(directory: directory, client: try context.client(), view: try context.view())
        let written: [String]
        do {
            written = try writer.writeAll()
        } catch let error as SiteError {
            throw CommandFailure(error.description)
        } catch let error as CocoaError {
            throw CommandFailure("cannot write the site into \(directory): \(error.localizedDescription)")
        }
        if context.json {
            context.console.json(written)
        } else {
            context.console.out("\(directory)  \(written.count) page\(written.count == 1 ? "" : "s")")
        }
        return 0
    }
}
