import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// The static site (`pumasi site`): its pages as values, the debouncing rule, and the atomic file writes.
@Suite("Site")
struct SiteTests {
    /// Challenges for an index: the report's hostile one, one in phases with teams, and a confidential one.
    static func challenges() -> [ChallengeInfo] {
        var phased = PhaseReportTests.sample().challenge
        phased.id = "ch_phased"
        phased.title = "Forecasting regional electricity demand across seasons"
        var secret = ReportTests.challenge()
        secret.id = "ch_secret"
        secret.title = "Confidential materials screening"
        secret.description = ""
        secret.summary = "Screen candidate alloys; details after the NDA."
        secret.confidential = true
        secret.state = .open
        return [ReportTests.challenge(), phased, secret]
    }

    @Test func indexLinksEveryChallengeRelativelyAndEscapes() throws {
        let html = SiteIndex(challenges: Self.challenges(), generatedAt: ReportTests.start).html
        let table = try #require(ReportTests.element("table id=\"challenges-table\"", in: html))
        #expect(table.components(separatedBy: "<tr").count - 1 == 4)
        #expect(
            table.contains(
                "<td class=\"text\"><a href=\"ch_report.html\">&lt;script&gt;alert(1)&lt;/script&gt; Churn &amp; "
                    + "&quot;retention&quot;</a></td><td>awarded</td><td>2026-11-24 10:00:00 UTC</td>"
                    + "<td>5000.50 USD</td><td>6</td>"))
        #expect(table.contains("<a href=\"ch_phased.html\">") && table.contains("<a href=\"ch_secret.html\">"))
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("href=\"/"))
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\""))
        #expect(SiteIndex(challenges: [], generatedAt: 0).html.contains("No challenges."))
    }

    @Test func challengePageHasRulesAwardLeaderboardChartAndSplits() throws {
        var report = PhaseReportTests.sample()
        report.challenge.rules = SubmissionRules(perDay: 5, total: 50, mode: .replace, maxBytes: 10_000_000)
        report.challenge.award.policy = AwardPolicySpec(kind: .topN, shares: [60, 40])
        report.challenge.teams = TeamRules(maxSize: 3)
        var cy = report.awards[0]
        cy.solver = "cy"
        report.awards.append(cy)
        let html = ChallengePage(report: report).html
        #expect(html.contains("<nav><a href=\"index.html\">All challenges</a></nav>"))
        #expect(html.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt; Churn &amp; &quot;retention&quot;</h1>"))
        #expect(html.contains("<p class=\"prose\">Predict churn.\nSecond line with &lt;b&gt;tags&lt;/b&gt;"))
        let rules = try #require(ReportTests.element("section id=\"rules\"", in: html))
        for fact in [
            "<th scope=\"row\">Award</th><td>5000.50 USD</td>",
            "<th scope=\"row\">Award policy</th><td>split among the top 2: 60%, 40%</td>",
            "<th scope=\"row\">Limits</th><td>5 a day, 50 in all, each replaces the last, files up to 10 MB</td>",
            "<th scope=\"row\">Deadline</th><td><span class=\"nowrap\">2026-11-24 10:00:00 UTC</span></td>",
            "<th scope=\"row\">Teams</th><td>up to 3 members; teams freeze at <span class=\"nowrap\">",
        ] {
            #expect(rules.contains(fact), "\(fact)")
        }
        #expect(html.contains("<section id=\"phase-1\">") && html.contains("<section id=\"phase-2\">"))
        #expect(html.contains("<svg") && html.contains("class=\"best-so-far\""))
        let awards = try #require(ReportTests.element("table id=\"awards-table\"", in: html))
        #expect(awards.contains("<td>bob</td><td>owls</td><td>50%</td>"))
        #expect(awards.contains("<td>cy</td><td>owls</td><td>50%</td>"))
        // A page is a page, not a report: no submissions table.
        #expect(!html.contains("submissions-table"))
        for forbidden in ["<script", "<link", "<iframe", "<img", "src=", "url(", "@import"] {
            #expect(!html.contains(forbidden), "\(forbidden)")
        }
    }

    /// A confidential challenge whose agreement the viewer has not accepted shows its summary, and says why.
    @Test func confidentialChallengeShowsItsSummary() {
        var report = ReportTests.sample()
        report.challenge = Self.challenges()[2]
        let html = ChallengePage(report: report).html
        #expect(html.contains("<p class=\"prose\">Screen candidate alloys; details after the NDA.</p>"))
        #expect(html.contains("Confidential: the full description and files are for solvers who accept"))
        // When the broker refused the leaderboard too, the page says why there is none.
        let withheld = ChallengePage(report: report, withheld: true).html
        #expect(
            withheld.contains(
                "The leaderboard is shown to "
                    + "solvers who accept the challenge's agreement."))
        #expect(!withheld.contains("<svg") && !withheld.contains("leaderboard-table"))
    }

    /// A solver's report holds their own submissions only: the chart adds each leaderboard entry's.
    @Test func chartCoversEveryEntrantForASolversView() {
        var report = ReportTests.sample()
        report.submissions = report.submissions.filter { $0.solver == "bob" }
        let chart = ScoreChart(report: ChallengePage(report: report).chartReport)
        #expect(chart.submissions.map(\.solver) == ["bob", "ada"])
        #expect(chart.steps.last?.score == 0.9)
    }

    @Test(arguments: [
        ("ch_0123abcd", "ch_0123abcd.html"), ("../etc/passwd", "---etc-passwd.html"), ("ch é", "ch--.html"),
    ])
    func pageFileNamesAreSafe(id: String, name: String) {
        #expect(ChallengePage.fileName(id) == name)
    }

    @Suite("Schedule")
    struct Schedule {
        @Test func aChallengesPageIsWrittenAtMostOncePerInterval() {
            var schedule = SiteSchedule(interval: 1_000)
            schedule.announced("ch_a", now: 10_000)
            schedule.announced("ch_a", now: 10_100)
            schedule.announced("ch_b", now: 10_200)
            #expect(schedule.nextDue == 10_000)
            #expect(schedule.take(now: 10_000) == ["ch_a"])
            #expect(schedule.take(now: 10_300) == ["ch_b"])
            // Announced 100 ms after it was written: due a second after that write, not now.
            schedule.announced("ch_a", now: 10_100)
            #expect(schedule.nextDue == 11_000)
            #expect(schedule.take(now: 10_999).isEmpty)
            schedule.announced("ch_a", now: 10_999)
            #expect(schedule.take(now: 11_000) == ["ch_a"])
            #expect(schedule.nextDue == nil)
            // Long after the last write: due at once.
            schedule.announced("ch_b", now: 20_000)
            #expect(schedule.take(now: 20_000) == ["ch_b"])
        }

        @Test func aFailedWriteIsRetriedLater() {
            var schedule = SiteSchedule(interval: 1_000)
            schedule.announced("ch_a", now: 0)
            let taken = schedule.take(now: 0)
            schedule.failed(taken, now: 0)
            #expect(schedule.nextDue == schedule.retryAfter)
            #expect(schedule.take(now: schedule.retryAfter - 1).isEmpty)
            #expect(schedule.take(now: schedule.retryAfter) == ["ch_a"])
        }
    }

    /// The replacement is a rename: a reader holding the old file keeps reading the old contents, the new one is
    /// world-readable for the web server, and no temporary file is left.
    @Test func filesAreReplacedAtomicallyAndReadable() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let path = directory.file("index.html")
        try SiteWriter.replace(path, with: "old")
        let reader = try #require(FileHandle(forReadingAtPath: path))
        defer { try? reader.close() }
        try SiteWriter.replace(path, with: "new")
        #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == "old")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["index.html"])
    }
}
