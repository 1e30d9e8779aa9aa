import Foundation
import PumasiShared

/// The static site's `index.html`: every challenge the site's viewer may see, each linking to its page, with its
/// state, deadline, award and number of submissions.
struct SiteIndex {
    let challenges: [ChallengeInfo]
    let generatedAt: Millis

    var html: String {
        let rows = challenges.map { info in
            let link =
                "<a href=\"\(HTMLText.escape(ChallengePage.fileName(info.id)))\">\(HTMLText.escape(info.title))</a>"
            let cells = [
                info.state.rawValue, PageStyle.shownTime(info.deadline),
                ReportText.amount(info.award.amount, info.award.currency), String(info.submissions),
            ]
            return "<tr><td class=\"text\">\(link)</td>" + cells.map { "<td>\(HTMLText.escape($0))</td>" }.joined()
                + "</tr>"
        }
        let body =
            rows.isEmpty
            ? "<p class=\"empty\">No challenges.</p>"
            : PageStyle.table(
                ["Challenge", "State", "Deadline", "Award", "Submissions"], rows, id: "challenges-table")
        return """
            <!DOCTYPE html>
            <html lang="en">
            \(PageStyle.head(title: "Challenges", generator: "Pumasi site"))
            <body>
            <header>
            <h1>Challenges</h1>
            <p class="subtitle">As of \(PageStyle.text(PageStyle.shownTime(generatedAt)))</p>
            </header>
            <section id="challenges">
            \(body)
            </section>
            <footer>Published by Pumasi. Times are UTC.</footer>
            </body>
            </html>

            """
    }
}
