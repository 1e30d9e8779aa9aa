import Foundation
import PumasiShared

extension ChallengeReport {
    /// A self-contained HTML page for the seeker: the challenge, the leaderboard (one per phase, for a challenge in
    /// phases; teams with their members), every submission, the awards (a team's split per member) and a chart of
    /// the best score over time. One file that loads nothing: inline CSS, an inline SVG, no script, and a Content
    /// Security Policy that forbids anything else, so a title or name that slipped through escaping still could
    /// not run. All text is escaped. The layout is `PageStyle`'s: it reads at phone and desktop widths.
    public func html() -> String {
        let title = HTMLText.escape(challenge.title)
        return """
            <!DOCTYPE html>
            <html lang="en">
            \(PageStyle.head(title: "\(challenge.title) — results", generator: "Pumasi report v\(version)"))
            <body>
            <header>
            <h1>\(title)</h1>
            <p class="subtitle">Challenge <code>\(HTMLText.escape(challenge.id))</code> · results as of \
            \(PageStyle.text(PageStyle.shownTime(generatedAt)))</p>
            </header>
            \(summarySection)
            \(leaderboardSection)
            \(awardsSection)
            \(progressSection)
            \(submissionsSection)
            <footer>Pumasi challenge report, format \(version). Times are UTC.</footer>
            </body>
            </html>

            """
    }

    private var summarySection: String {
        let scored = submissions.filter { $0.state == .scored }.count
        let failed = submissions.filter { $0.state == .failed }.count
        let waiting = submissions.count - scored - failed
        var facts = [
            ("State", challenge.state.rawValue),
            ("Deadline", PageStyle.shownTime(challenge.deadline)),
            ("Award", ReportText.amount(challenge.award.amount, challenge.award.currency)),
            ("Ranking", rankingFact),
            ("Submissions", "\(submissions.count): \(scored) scored, \(failed) failed, \(waiting) waiting"),
        ]
        if let phasesFact { facts.insert(("Phases", phasesFact), at: 2) }
        let about = challenge.description.isEmpty ? [] : [("About", challenge.description)]
        return "<section id=\"summary\">\n" + PageStyle.facts(facts, prose: about) + "\n</section>"
    }

    /// "accuracy, higher is better, shown to 4 decimals".
    var rankingFact: String {
        "\(metricName), \(challenge.direction == .maximize ? "higher" : "lower") is better, shown to \(decimals) decimals"
    }

    /// The leaderboard; for a challenge in phases, one section per opened phase instead (`phase-1`, …), the
    /// last of which is the report's main leaderboard.
    var leaderboardSection: String {
        guard let phases else {
            return "<section id=\"leaderboard\">\n<h2>Leaderboard</h2>\n"
                + leaderboardBody(standings, id: "leaderboard-table") + "\n</section>"
        }
        return phases.map { phase in
            let ended = phase.endsAt <= generatedAt ? "Ended" : "Ends"
            return "<section id=\"phase-\(phase.number)\">\n"
                + "<h2>Leaderboard: phase \(phase.number) (\(HTMLText.escape(phase.name)))</h2>\n"
                + "<p class=\"phase\">\(ended) \(PageStyle.text(PageStyle.shownTime(phase.endsAt)))</p>\n"
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
            var cells = [entry.score == nil ? "–" : entry.rank.map(String.init) ?? "–", entry.solver]
            if teams { cells.append(entry.members?.joined(separator: ", ") ?? "") }
            cells.append(entry.score.map { ReportText.number($0, decimals: decimals) } ?? "no score")
            cells += [PageStyle.shownTime(entry.submittedAt), String(entry.entries), entry.submission]
            cells += metrics.map { name in entry.metrics?[name].map { ReportText.number($0, decimals: decimals) } ?? ""
            }
            return PageStyle.row(cells, class: entry.score == nil ? "unscored" : nil, wrap: teams ? [2] : [])
        }
        return rows.isEmpty
            ? "<p class=\"empty\">No scored submissions yet.</p>" : PageStyle.table(header, rows, id: id)
    }

    /// "1 dev, ends 2026-11-23 11:00:00 UTC; 2 final, ends … (current)": every phase of the challenge.
    var phasesFact: String? {
        guard let phases = challenge.phases, !phases.isEmpty else { return nil }
        let current = challenge.state == .open ? challenge.phase : nil
        return phases.enumerated().map { index, phase in
            "\(index + 1) \(phase.name), ends \(PageStyle.shownTime(phase.endsAt))"
                + (current == index + 1 ? " (current)" : "")
        }.joined(separator: "; ")
    }

    /// The awards in the order they were decided. A team's award is recorded as one award per member (`team` set):
    /// those rows show the team and each member's share of the team's amount.
    var awardsSection: String {
        let teams = awards.contains { $0.team != nil }
        var totals: [String: Decimal] = [:]
        for award in awards {
            if let team = award.team { totals["\(team)\u{0}\(award.submission)", default: 0] += award.amount }
        }
        let rows = awards.map { award in
            var cells = [award.solver]
            if teams {
                let total = award.team.flatMap { totals["\($0)\u{0}\(award.submission)"] }
                cells += [award.team ?? "", total.map { Self.percent(award.amount, of: $0) } ?? ""]
            }
            cells += [
                ReportText.amount(award.amount, award.currency),
                ReportText.number(award.score, decimals: decimals), award.policy, award.submission,
                PageStyle.shownTime(award.awardedAt),
            ]
            return PageStyle.row(cells, class: award.team == nil ? nil : "member")
        }
        let header =
            ["Solver"] + (teams ? ["Team", "Share"] : []) + ["Amount", metricName, "Policy", "Submission", "Awarded"]
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No award recorded.</p>" : PageStyle.table(header, rows, id: "awards-table")
        return "<section id=\"awards\">\n<h2>Awards</h2>\n\(body)\n</section>"
    }

    /// The best-score chart.
    var progressSection: String {
        "<section id=\"progress\">\n<h2>Best score over time</h2>\n\(ScoreChart(report: self).svg)\n</section>"
    }

    /// Every submission the report holds, in the broker's order, with its state and score or error.
    private var submissionsSection: String {
        let phased = phases != nil
        let rows = submissions.map { item in
            var cells = [item.submission, item.solver, PageStyle.shownTime(item.receivedAt)]
            if phased { cells.append(item.phase.map(String.init) ?? "") }
            cells += [
                item.state.rawValue, item.score.map { ReportText.number($0, decimals: decimals) } ?? "",
                item.error ?? item.comment ?? "",
            ]
            return PageStyle.row(cells, class: item.score == nil ? "unscored" : nil, wrap: [cells.count - 1])
        }
        let header =
            ["Submission", "Solver", "Received"] + (phased ? ["Phase"] : []) + ["State", metricName, "Note"]
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No submissions.</p>" : PageStyle.table(header, rows, id: "submissions-table")
        return "<section id=\"submissions\">\n<h2>Submissions</h2>\n\(body)\n</section>"
    }

    var metricName: String { metric.isEmpty ? "Score" : metric }

    /// `amount` as a percentage of `total`, to at most two decimals: `50%`, `33.33%`.
    static func percent(_ amount: Decimal, of total: Decimal) -> String {
        guard total > 0 else { return "" }
        var share = amount * 100 / total
        var rounded = Decimal()
        NSDecimalRound(&rounded, &share, 2, .plain)
        return "\(rounded)%"
    }
}
