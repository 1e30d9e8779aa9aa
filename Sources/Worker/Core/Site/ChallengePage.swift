import Foundation
import PumasiShared

/// One challenge's page of the static site (`pumasi site`): its public description (or its summary, for a
/// confidential challenge whose agreement the viewer has not accepted), rules, award, deadline, leaderboard, the
/// best score over time and the awards once made. Built from the challenge's report as the site's viewer may see
/// it; plain HTML with inline CSS (`PageStyle`), no script, every text escaped.
struct ChallengePage {
    let report: ChallengeReport
    /// The broker refused the viewer the leaderboard (a confidential challenge whose agreement they have not
    /// accepted): the page says so instead of showing an empty one.
    var withheld = false

    /// The page's file name in the site's directory: `<challenge id>.html`, with anything but letters, digits,
    /// `-` and `_` replaced, so that no id can name a path.
    static func fileName(_ challenge: String) -> String {
        let safe = challenge.unicodeScalars.map { scalar -> String in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "-" || scalar == "_")
                ? String(scalar) : "-"
        }
        return safe.joined() + ".html"
    }

    var html: String {
        let info = report.challenge
        return """
            <!DOCTYPE html>
            <html lang="en">
            \(PageStyle.head(title: info.title, generator: "Pumasi site"))
            <body>
            <nav><a href="index.html">All challenges</a></nav>
            <header>
            <h1>\(HTMLText.escape(info.title))</h1>
            <p class="subtitle">Challenge <code>\(HTMLText.escape(info.id))</code> · \(info.state.rawValue) · as of \
            \(PageStyle.text(PageStyle.shownTime(report.generatedAt)))</p>
            </header>
            \(aboutSection)
            <section id="rules">
            <h2>Rules and award</h2>
            \(PageStyle.facts(facts))
            </section>
            \(resultsSection)
            \(report.awardsSection)
            <footer>Published by Pumasi. Times are UTC.</footer>
            </body>
            </html>

            """
    }

    /// The leaderboard and the chart, or why there are none.
    private var resultsSection: String {
        guard !withheld else {
            return "<section id=\"leaderboard\">\n<h2>Leaderboard</h2>\n<p class=\"empty\">The leaderboard is shown to "
                + "solvers who accept the challenge's agreement.</p>\n</section>"
        }
        return chartReport.leaderboardSection + "\n" + chartReport.progressSection
    }

    /// The description; for a confidential challenge the viewer has not accepted, the summary and a note.
    private var aboutSection: String {
        let info = report.challenge
        var body: String
        if !info.description.isEmpty {
            body = "<p class=\"prose\">\(HTMLText.escape(info.description))</p>"
        } else if let summary = info.summary, !summary.isEmpty {
            body = "<p class=\"prose\">\(HTMLText.escape(summary))</p>"
        } else {
            body = "<p class=\"empty\">No description.</p>"
        }
        if info.confidential == true && info.description.isEmpty {
            body +=
                "\n<p class=\"note\">Confidential: the full description and files are for solvers who accept "
                + "its agreement (pumasi accept).</p>"
        }
        return "<section id=\"about\">\n<h2>About</h2>\n\(body)\n</section>"
    }

    private var facts: [(String, String)] {
        let info = report.challenge
        var facts: [(String, String)] = [("State", info.state.rawValue)]
        if let startsAt = info.startsAt { facts.append(("Opens", PageStyle.shownTime(startsAt))) }
        facts.append(("Deadline", PageStyle.shownTime(info.deadline)))
        facts.append(("Award", ReportText.amount(info.award.amount, info.award.currency)))
        facts.append(("Award policy", Self.policy(info.award)))
        if let phases = report.phasesFact { facts.append(("Phases", phases)) }
        if let limits = Self.limits(info.rules) { facts.append(("Limits", limits)) }
        for (index, phase) in (info.phases ?? []).enumerated() {
            if let limits = Self.limits(phase.rules) { facts.append(("Phase \(index + 1) limits", limits)) }
        }
        facts.append(("Time limit", "\(ReportText.number(info.timeLimitSeconds, decimals: 0)) s per scoring"))
        facts.append(("Ranking", report.rankingFact))
        if let teams = info.teams {
            let size = teams.maxSize ?? TeamRules.defaultMaxSize
            let merge = PageStyle.shownTime(teams.mergeDeadline ?? info.deadline)
            facts.append(("Teams", "up to \(size) members; teams freeze at \(merge)"))
        }
        if info.invitationOnly == true { facts.append(("Entry", "by invitation")) }
        facts.append(("Submissions", String(info.submissions)))
        return facts
    }

    /// How the award is decided, in words.
    static func policy(_ award: AwardSpec) -> String {
        guard let policy = award.policy else { return "winner takes all" }
        let currency = award.currency
        switch policy.kind {
        case .winnerTakesAll: return "winner takes all"
        case .topN:
            let shares = (policy.shares ?? []).map { "\($0)%" }.joined(separator: ", ")
            return "split among the top \(policy.shares?.count ?? 0): \(shares)"
        case .thresholdTiers:
            let guaranteed = ReportText.amount(policy.guaranteed ?? 0, currency)
            return "\(guaranteed) when the best score reaches \(policy.minimum.map { "\($0)" } ?? "?"), "
                + "the whole award when it reaches \(policy.target.map { "\($0)" } ?? "?")"
        case .firstToThreshold:
            return "the first submission to reach \(policy.threshold.map { "\($0)" } ?? "?") wins the whole award"
        case .discretionary: return "decided by the seeker, with a recorded rationale"
        }
    }

    /// "5 a day, 50 in all, each replaces the last, 2 selected for the final ranking, files up to 10 MB", or nil.
    static func limits(_ rules: SubmissionRules?) -> String? {
        guard let rules else { return nil }
        var parts: [String] = []
        if let perDay = rules.perDay { parts.append("\(perDay) a day") }
        if let total = rules.total { parts.append("\(total) in all") }
        if rules.mode == .replace { parts.append("each replaces the last") }
        if let selection = rules.finalSelection { parts.append("\(selection) selected for the final ranking") }
        if let bytes = rules.maxBytes {
            parts.append("files up to \(ByteCountFormatter.string(fromByteCount: Int64(bytes), countStyle: .file))")
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// The report with each leaderboard entry's submission added to its submissions when the viewer's report
    /// lacks it (a solver's report holds their own submissions only), so that the chart's best-so-far line
    /// covers every entrant.
    var chartReport: ChallengeReport {
        var copy = report
        let known = Set(report.submissions.map(\.submission))
        for entry in report.leaderboard where !known.contains(entry.submission) {
            guard let score = entry.score else { continue }
            var item = SubmissionInfo(
                submission: entry.submission, challenge: report.challenge.id, solver: entry.solver, filename: "",
                sha256: "", size: 0, receivedAt: entry.submittedAt, state: .scored, attempts: 1, score: score)
            item.phase = report.challenge.phase
            copy.submissions.append(item)
        }
        return copy
    }
}
