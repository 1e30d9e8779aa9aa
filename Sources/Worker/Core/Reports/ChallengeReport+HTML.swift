import Foundation
import PumasiShared

extension ChallengeReport {
    /// A self-contained HTML page for the seeker: the challenge, the leaderboard (one per phase, for a challenge in
    /// phases; teams with their members), the awards and a chart of the
    /// best score over time. One file that loads nothing: inline CSS, an inline SVG, no script, and a Content
    /// Security Policy that forbids anything else, so a title or name that slipped through escaping still could
    /// not run. All text is escaped.
    public func html() -> String {
        let title = HTMLText.escape(challenge.title)
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="Pumasi report v\(version)">
            <title>\(title) — results</title>
            <style>\(Self.stylesheet)</style>
            </head>
            <body>
            <header>
            <h1>\(title)</h1>
            <p class="subtitle">Challenge <code>\(HTMLText.escape(challenge.id))</code> · results as of \
            \(Self.shownTime(generatedAt))</p>
            </header>
            \(summarySection)
            \(leaderboardSection)
            \(awardsSection)
            <section id="progress">
            <h2>Best score over time</h2>
            \(ScoreChart(report: self).svg)
            </section>
            <footer>Pumasi challenge report, format \(version). Times are UTC.</footer>
            </body>
            </html>

            """
    }

    private var summarySection: String {
        let scored = submissions.filter { $0.state == .scored }.count
        let failed = submissions.filter { $0.state == .failed }.count
        let waiting = submissions.count - scored - failed
        let better = challenge.direction == .maximize ? "higher" : "lower"
        var facts = [
            ("State", challenge.state.rawValue),
            ("Deadline", Self.shownTime(challenge.deadline)),
            ("Award", ReportText.amount(challenge.award.amount, challenge.award.currency)),
            ("Ranking", "\(metricName), \(better) is better, shown to \(decimals) decimals"),
            ("Submissions", "\(submissions.count): \(scored) scored, \(failed) failed, \(waiting) waiting"),
        ]
        if let phasesFact { facts.insert(("Phases", phasesFact), at: 2) }
        var rows = facts.map { "<tr><th scope=\"row\">\($0.0)</th><td>\(HTMLText.escape($0.1))</td></tr>" }
        if !challenge.description.isEmpty {
            let about = HTMLText.escape(challenge.description)
            rows.append("<tr><th scope=\"row\">About</th><td class=\"about\">\(about)</td></tr>")
        }
        return "<section id=\"summary\">\n<table class=\"facts\">\n" + rows.joined(separator: "\n")
            + "\n</table>\n</section>"
    }

    /// The leaderboard; for a challenge in phases, one section per opened phase instead (`phase-1`, …), the
    /// last of which is the report's main leaderboard.
    private var leaderboardSection: String {
        guard let phases else {
            return "<section id=\"leaderboard\">\n<h2>Leaderboard</h2>\n"
                + leaderboardBody(standings, id: "leaderboard-table") + "\n</section>"
        }
        return phases.map { phase in
            let ended = phase.endsAt <= generatedAt ? "Ended" : "Ends"
            return "<section id=\"phase-\(phase.number)\">\n"
                + "<h2>Leaderboard: phase \(phase.number) (\(HTMLText.escape(phase.name)))</h2>\n"
                + "<p class=\"phase\">\(ended) \(Self.shownTime(phase.endsAt))</p>\n"
                + leaderboardBody(phase.standings, id: "phase-\(phase.number)-table") + "\n</section>"
        }.joined(separator: "\n")
    }

    /// A leaderboard's table, with a Members column when some entrant of the report is a team.
    private func leaderboardBody(_ entries: [LeaderboardEntry], id: String) -> String {
        let metrics = leaderboardMetricNames
        let teams = hasTeams
        var header = ["Rank", "Solver"] + (teams ? ["Members"] : [])
        header += [metricName, "Submitted", "Entries", "Submission"] + metrics
        let rows = entries.map { entry in
            var cells = [entry.score == nil ? "–" : String(entry.rank), entry.solver]
            if teams { cells.append(entry.members?.joined(separator: ", ") ?? "") }
            cells.append(entry.score.map { ReportText.number($0, decimals: decimals) } ?? "no score")
            cells += [Self.shownTime(entry.submittedAt), String(entry.entries), entry.submission]
            cells += metrics.map { name in entry.metrics?[name].map { ReportText.number($0, decimals: decimals) } ?? ""
            }
            return Self.row(cells, class: entry.score == nil ? "unscored" : nil)
        }
        return rows.isEmpty
            ? "<p class=\"empty\">No scored submissions yet.</p>" : Self.table(header, rows, id: id)
    }

    /// "1 dev, ends 2026-11-23 11:00:00 UTC; 2 final, ends … (current)": every phase of the challenge.
    private var phasesFact: String? {
        guard let phases = challenge.phases, !phases.isEmpty else { return nil }
        let current = challenge.state == .open ? challenge.phase : nil
        return phases.enumerated().map { index, phase in
            "\(index + 1) \(phase.name), ends \(Self.shownTime(phase.endsAt))"
                + (current == index + 1 ? " (current)" : "")
        }.joined(separator: "; ")
    }

    private var awardsSection: String {
        let rows = awards.map { award in
            Self.row([
                award.solver + (award.team.map { " (team \($0))" } ?? ""),
                ReportText.amount(award.amount, award.currency),
                ReportText.number(award.score, decimals: decimals), award.policy, award.submission,
                Self.shownTime(award.awardedAt),
            ])
        }
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No award recorded.</p>"
            : Self.table(["Solver", "Amount", metricName, "Policy", "Submission", "Awarded"], rows, id: "awards-table")
        return "<section id=\"awards\">\n<h2>Awards</h2>\n\(body)\n</section>"
    }

    private var metricName: String { metric.isEmpty ? "Score" : metric }

    private static func table(_ header: [String], _ rows: [String], id: String) -> String {
        let head = header.map { "<th scope=\"col\">\(HTMLText.escape($0))</th>" }.joined()
        return "<table id=\"\(id)\">\n<thead><tr>\(head)</tr></thead>\n<tbody>\n" + rows.joined(separator: "\n")
            + "\n</tbody>\n</table>"
    }

    private static func row(_ cells: [String], class name: String? = nil) -> String {
        let attribute = name.map { " class=\"\($0)\"" } ?? ""
        return "<tr\(attribute)>" + cells.map { "<td>\(HTMLText.escape($0))</td>" }.joined() + "</tr>"
    }

    /// `2026-11-23 10:00:00 UTC`.
    private static func shownTime(_ millis: Millis) -> String {
        WallClock.iso(millis).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    private static let stylesheet = """
        body { font-family: "DejaVu Sans", Verdana, sans-serif; color: #111827; background: #f9fafb; \
        margin: 0 auto; max-width: 960px; padding: 24px; line-height: 1.4; }
        h1 { margin: 0 0 4px; font-size: 26px; overflow-wrap: anywhere; }
        h2 { margin: 28px 0 8px; font-size: 19px; }
        .subtitle, footer, .empty, p.phase { color: #6b7280; }
        footer { margin-top: 32px; font-size: 12px; }
        table { border-collapse: collapse; background: #ffffff; font-size: 14px; }
        th, td { border-bottom: 1px solid #e5e7eb; padding: 6px 10px; text-align: left; vertical-align: top; \
        overflow-wrap: anywhere; }
        thead th { background: #f3f4f6; }
        td { font-variant-numeric: tabular-nums; }
        table.facts th { color: #4b5563; font-weight: normal; }
        td.about { white-space: pre-wrap; }
        tr.unscored td { color: #9ca3af; }
        svg.chart { max-width: 100%; height: auto; background: #ffffff; border: 1px solid #e5e7eb; }
        """
}
