import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// The report writers: CSV, JSON, HTML and the chart, each checked by reading its output back.
@Suite("Reports")
struct ReportTests {
    /// 2026-11-23T10:00:00Z.
    static let start: Millis = 1_795_428_000_000
    static let minute: Millis = 60_000

    /// A challenge whose text is hostile in every way a person could make it.
    static func challenge(direction: Direction = .maximize) -> ChallengeInfo {
        ChallengeInfo(
            id: "ch_report", title: "<script>alert(1)</script> Churn & \"retention\"",
            description: "Predict churn.\nSecond line with <b>tags</b> & 'quotes'.", state: .awarded,
            deadline: start + 24 * 60 * minute, award: AwardSpec(amount: Decimal(string: "5000.50")!, currency: "USD"),
            direction: direction, scorer: "builtin csv-accuracy", timeLimitSeconds: 60, files: [], submissions: 6,
            createdAt: start - 60 * minute)
    }

    static func submission(
        _ id: String, _ solver: String, at minutes: Int64, score: Double?, state: SubmissionState = .scored,
        metrics: [String: Double]? = nil, error: String? = nil
    ) -> SubmissionInfo {
        SubmissionInfo(
            submission: id, challenge: "ch_report", solver: solver, filename: "answer.csv", sha256: "ab12", size: 42,
            receivedAt: start + minutes * minute, state: state, attempts: 1, score: score, metrics: metrics,
            error: error, scoredAt: score == nil ? nil : start + minutes * minute + 1_500)
    }

    /// Six submissions from three solvers (one named like a spreadsheet formula): scores 0.5, 0.7, a failure,
    /// 0.65, 0.9 and one still queued; one leaderboard entry without a score; one award.
    static func sample(precision: Int = 4, direction: Direction = .maximize) -> ChallengeReport {
        let evil = "=HYPERLINK(\"http://x\",\"a,b\")"
        let submissions = [
            submission("sub_1", "ada", at: 0, score: 0.5, metrics: ["rmse": 0.25]),
            submission("sub_2", "bob", at: 5, score: 0.7, metrics: ["rmse": 0.125, "mae": -0.5]),
            submission("sub_3", evil, at: 9, score: nil, state: .failed, error: "line 3: bad value\n\"x\", y"),
            submission("sub_4", "ada", at: 12, score: 0.65),
            submission("sub_5", "ada", at: 30, score: 0.9, metrics: ["rmse": 0.0625]),
            submission("sub_6", "cy", at: 31, score: nil, state: .queued),
        ]
        let leaderboard = [
            LeaderboardEntry(
                rank: 1, solver: "ada", submission: "sub_5", score: 0.9, submittedAt: start + 30 * minute, entries: 3,
                metrics: ["rmse": 0.0625]),
            LeaderboardEntry(
                rank: 3, solver: evil, submission: "sub_3", score: nil, submittedAt: start + 9 * minute, entries: 1),
            LeaderboardEntry(
                rank: 2, solver: "bob", submission: "sub_2", score: 0.7, submittedAt: start + 5 * minute, entries: 1,
                metrics: ["rmse": 0.125, "mae": -0.5]),
        ]
        let award = AwardInfo(
            challenge: "ch_report", submission: "sub_5", solver: "ada", amount: Decimal(string: "5000.50")!,
            currency: "USD", score: 0.9, policy: "winner-takes-all", awardedAt: start + 25 * 60 * minute)
        return ChallengeReport(
            challenge: challenge(direction: direction), metric: "accuracy", precision: precision,
            leaderboard: leaderboard, submissions: submissions, awards: [award], generatedAt: start + 26 * 60 * minute)
    }

    @Suite("CSV")
    struct CSV {
        @Test func leaderboardColumnsOrderAndPrecision() throws {
            let text = ReportTests.sample().leaderboardCSV()
            #expect(text.hasSuffix("\r\n"))
            let table = try CSVTable.parse(text)
            #expect(
                table.header == [
                    "rank", "solver", "submission", "score", "submitted_at", "entries", "metric:mae", "metric:rmse",
                ])
            #expect(
                table.rows.map(\.fields) == [
                    ["1", "ada", "sub_5", "0.9000", "2026-11-23T10:30:00.000Z", "3", "", "0.0625"],
                    ["2", "bob", "sub_2", "0.7000", "2026-11-23T10:05:00.000Z", "1", "-0.5000", "0.1250"],
                    ["", "'=HYPERLINK(\"http://x\",\"a,b\")", "sub_3", "", "2026-11-23T10:09:00.000Z", "1", "", ""],
                ])
        }

        @Test func submissionsKeepEveryFieldThroughQuoting() throws {
            let report = ReportTests.sample(precision: 2)
            let table = try CSVTable.parse(report.submissionsCSV())
            #expect(
                table.header == [
                    "submission", "solver", "received_at", "state", "score", "error", "filename", "size", "sha256",
                    "scored_at", "metric:mae", "metric:rmse",
                ])
            #expect(table.rows.count == report.submissions.count)
            let failed = try #require(table.rows.first { $0.fields[0] == "sub_3" }).fields
            #expect(failed[3] == "failed")
            #expect(failed[4] == "")
            #expect(failed[5] == "line 3: bad value\n\"x\", y")
            #expect(failed[9] == "")
            let bob = try #require(table.rows.first { $0.fields[0] == "sub_2" }).fields
            #expect(
                Array(bob[4...]) == [
                    "0.70", "", "answer.csv", "42", "ab12", "2026-11-23T10:05:01.500Z", "-0.50", "0.12",
                ])
        }

        @Test func rfc4180QuotingRoundTrips() throws {
            let awkward = ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\rlf\r\n", "", " spaced ", "ünï😀"]
            var writer = CSVWriter(header: ["value", "n"])
            for (index, text) in awkward.enumerated() { writer.row([text, String(index)]) }
            #expect(writer.text.hasPrefix("value,n\r\n"))
            #expect(writer.text.contains("\"say \"\"hi\"\"\""))
            #expect(writer.text.contains("\r\nplain,0\r\n"))
            let table = try CSVTable.parse(writer.text)
            #expect(table.rows.map { $0.fields[0] } == awkward)
        }

        @Test func formulaInjectionGuardRoundTrips() throws {
            let hostile = [
                "=1+1", "+SUM(A1)", "-2", "@cmd", "\tTAB", "\rCR", "=HYPERLINK(\"http://evil\",\"click\")",
                "'=already quoted", "''@twice", "'plain apostrophe", "'", "plain", "", "a=b", "1-2",
            ]
            var writer = CSVWriter(header: ["solver", "n"])
            for (index, name) in hostile.enumerated() { writer.row([CSVWriter.guarded(name), String(index)]) }
            let cells = try CSVTable.parse(writer.text).rows.map { $0.fields[0] }
            #expect(cells.count == hostile.count)
            for (cell, original) in zip(cells, hostile) {
                let first = cell.utf8.first.map { CSVWriter.formulaTriggers.contains($0) } ?? false
                #expect(!first, "cell \(cell.debugDescription) would start a formula")
                #expect(CSVWriter.unguarded(cell) == original)
            }
            #expect(cells[0] == "'=1+1")
            #expect(cells[7] == "''=already quoted")
            #expect(cells[9] == "'plain apostrophe")
            #expect(cells[13] == "a=b")
        }

        @Test func numbersAndTimes() {
            #expect(ReportText.number(0.123456, decimals: 3) == "0.123")
            #expect(ReportText.number(2.5, decimals: 0) == "2")
            #expect(ReportText.number(-0.00001, decimals: 4) == "0.0000")
            #expect(ReportText.number(-1.25, decimals: 1) == "-1.2")
            #expect(ReportText.number(.infinity, decimals: 2) == "inf")
            #expect(ReportText.amount(Decimal(string: "5000.50")!, "USD") == "5000.50 USD")
            #expect(ReportText.amount(Decimal(string: "5000")!, "USD") == "5000 USD")
            #expect(ReportText.amount(Decimal(string: "0.125")!, "BTC") == "0.125 BTC")
            var report = ReportTests.sample(precision: -3)
            #expect(report.decimals == 0)
            report.precision = 99
            #expect(report.decimals == ChallengeReport.maxPrecision)
            #expect(WallClock.isoMillis(1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
            #expect(WallClock.isoMillis(-1) == "1969-12-31T23:59:59.999Z")
            #expect(WallClock.isoMillis(0) == "1970-01-01T00:00:00.000Z")
        }

        @Test func nonFiniteMetricsAreGuardedNegativeNumbersAreNot() throws {
            var report = ReportTests.sample()
            report.leaderboard = [
                LeaderboardEntry(
                    rank: 1, solver: "ada", submission: "sub_1", score: -3, submittedAt: 0, entries: 1,
                    metrics: ["loss": -.infinity])
            ]
            let row = try CSVTable.parse(report.leaderboardCSV()).rows[0].fields
            #expect(row[3] == "-3.0000")
            #expect(row[6] == "'-inf")
        }
    }

    @Suite("JSON")
    struct JSON {
        @Test func roundTripsExactly() throws {
            var report = ReportTests.sample()
            report.submissions[0].metrics = ["overflow": .infinity, "underflow": -.infinity]
            let data = try report.jsonData()
            let decoded = try ChallengeReport(json: data)
            #expect(decoded == report)
            #expect(decoded.awards[0].amount == Decimal(string: "5000.50")!)
            #expect(decoded.leaderboard[1].score == nil)
        }

        @Test func layoutIsStable() throws {
            let report = ReportTests.sample()
            let first = try report.jsonData()
            let second = try ChallengeReport(json: first).jsonData()
            #expect(first == second)
            let text = String(decoding: first, as: UTF8.self)
            let keys = [
                "\"awards\"", "\"challenge\"", "\"generatedAt\"", "\"leaderboard\"", "\"metric\"", "\"precision\"",
            ]
            let positions = try keys.map { try #require(text.range(of: "\n  " + $0)?.lowerBound, "\($0)") }
            #expect(positions == positions.sorted())
            #expect(text.contains("\"metrics\" : {\n        \"mae\" : -0.5,\n        \"rmse\" : 0.125\n      }"))
            #expect(text.hasSuffix("}\n"))
        }

        @Test func everyFormatRenders() throws {
            let report = ReportTests.sample()
            for format in ReportFormat.allCases {
                let data = try format.render(report)
                #expect(!data.isEmpty, "\(format)")
                #expect(format.fileName(challenge: "ch_report").hasPrefix("ch_report-"))
            }
            #expect(ReportFormat(rawValue: "leaderboard-csv") == .leaderboardCSV)
        }
    }

    @Suite("HTML")
    struct HTML {
        @Test func escapesEveryText() {
            var report = ReportTests.sample()
            report.awards[0].solver = "\"><img src=x onerror=alert(2)>"
            report.metric = "acc</th><script>alert(3)</script>"
            let html = report.html()
            let title = "&lt;script&gt;alert(1)&lt;/script&gt; Churn &amp; &quot;retention&quot;"
            #expect(html.contains("<title>\(title) — results</title>"))
            #expect(html.contains("<h1>\(title)</h1>"))
            #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"))
            #expect(html.contains("acc&lt;/th&gt;&lt;script&gt;alert(3)&lt;/script&gt;"))
            #expect(html.contains("=HYPERLINK(&quot;http://x&quot;,&quot;a,b&quot;)"))
            #expect(html.contains("with &lt;b&gt;tags&lt;/b&gt; &amp; &#39;quotes&#39;."))
            #expect(!html.contains("<script"))
            #expect(!html.contains("<img"))
            #expect(!html.contains("<b>"))
        }

        @Test func selfContained() {
            let html = ReportTests.sample().html()
            for forbidden in ["<script", "<link", "<iframe", "<img", "src=", "href=", "url(", "@import"] {
                #expect(!html.contains(forbidden), "\(forbidden)")
            }
            let external = html.components(separatedBy: "http").count - 1
            let allowed =
                html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
                + html.components(separatedBy: "http-equiv").count - 1
                + html.components(separatedBy: "http://x").count - 1
            #expect(external == allowed, "only the SVG namespace, the CSP tag and escaped solver text mention http")
            #expect(
                html.contains("Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\""))
            #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        }

        @Test func leaderboardAwardsAndSummary() throws {
            let html = ReportTests.sample().html()
            let table = try #require(ReportTests.element("table id=\"leaderboard-table\"", in: html))
            let rows = table.components(separatedBy: "<tr").dropFirst(2)
            #expect(rows.count == 3)
            #expect(rows.first?.contains("<td>1</td><td>ada</td><td>0.9000</td>") == true)
            #expect(rows.last?.hasPrefix(" class=\"unscored\"><td>–</td>") == true)
            #expect(html.contains("<td>ada</td><td>5000.50 USD</td><td>0.9000</td><td>winner-takes-all</td>"))
            #expect(html.contains("<td>6: 4 scored, 1 failed, 1 waiting</td>"))
            #expect(html.contains("<td><span class=\"nowrap\">2026-11-24 10:00:00 UTC</span></td>"))
            // Every submission, in the broker's order, with its state and its score or error.
            let submissions = try #require(ReportTests.element("table id=\"submissions-table\"", in: html))
            let lines = submissions.components(separatedBy: "<tr").dropFirst(2)
            #expect(lines.count == 6)
            #expect(
                lines.first?.contains(
                    "<td>sub_1</td><td>ada</td><td>2026-11-23 10:00:00 UTC</td><td>scored</td><td>0.5000</td><td class=\"text\"></td>"
                )
                    == true)
            #expect(
                submissions.contains(
                    "<td>failed</td><td></td><td class=\"text\">line 3: bad value\n&quot;x&quot;, y</td>"))
            #expect(lines.last?.contains("<td>sub_6</td><td>cy</td>") == true)
        }

        @Test func emptyChallenge() {
            var report = ReportTests.sample()
            report.leaderboard = []
            report.submissions = []
            report.awards = []
            let html = report.html()
            #expect(html.contains("No scored submissions yet."))
            #expect(html.contains("No award recorded."))
            #expect(html.contains("No submissions."))
            #expect(!html.contains("<path"))
        }
    }

    /// The text of the first element whose start tag begins with `start`, up to its end tag.
    static func element(_ start: String, in html: String) -> String? {
        guard let open = html.range(of: "<" + start) else { return nil }
        let name = String(start.prefix { $0 != " " })
        guard let close = html.range(of: "</\(name)>", range: open.upperBound..<html.endIndex) else { return nil }
        return String(html[open.lowerBound..<close.upperBound])
    }
}
