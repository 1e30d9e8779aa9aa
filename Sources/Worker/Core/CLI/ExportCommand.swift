import Foundation
import PumasiShared

/// `pumasi export`: a challenge's report (`pumasi.challenge.report`) written out locally by `ReportFormat`.
enum ExportCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi export",
        abstract: "Export a challenge's results (leaderboard, submissions, awards) as CSV, JSON or an HTML page.",
        discussion: """
            The broker decides what is in it: a challenge's seeker and admins get every submission, a solver only
            their own. Formats: json (the default: the whole report, readable back), html (a self-contained page
            with a chart), leaderboard-csv, submissions-csv. Without --format, an --output file ending in .html
            makes a page. The report goes to stdout unless --output names a file, which is replaced atomically.
            """,
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions.filter { $0.long != "json" } + [
            .init(
                "format", short: "f", value: "format",
                help: "\(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")). Default: json."),
            .init("output", short: "o", value: "file", help: "Write the report to this file and print its path."),
        ] + CommandContext.viewOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let output = context.arguments.value("output")
        let format = try format(context.arguments.value("format"), output: output)
        let request = ReportRequest(challenge: try context.challenge(), view: try context.view())
        let report = try context.client().report(request)
        let data = try format.render(report)
        guard let output else {
            FileHandle.standardOutput.write(data)
            return 0
        }
        do {
            try data.write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw CommandFailure("cannot write \(output): \((error as NSError).localizedFailureReason ?? "\(error)")")
        }
        context.console.out("\(output)  \(data.count) bytes")
        return 0
    }

    /// The format --format names; without it, html for an --output file named `*.html` or `*.htm`, else json.
    private static func format(_ name: String?, output: String?) throws(UsageError) -> ReportFormat {
        let names = ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")
        if let name {
            guard let format = ReportFormat(rawValue: name) else {
                throw UsageError("--format must be one of \(names), not \"\(name)\"", usage: spec.usage)
            }
            return format
        }
        switch output.map({ ($0 as NSString).pathExtension.lowercased() }) {
        case "html", "htm": return .html
        case "csv": throw UsageError("name the CSV: --format leaderboard-csv or submissions-csv", usage: spec.usage)
        default: return .json
        }
    }
}
