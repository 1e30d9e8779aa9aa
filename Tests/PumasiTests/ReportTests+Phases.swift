import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// Reports of a challenge in phases with a team among its entrants: each phase's leaderboard, and the team's
/// members, in every format; the columns they add stay out of other challenges' CSV.
@Suite("Reports in phases")
struct PhaseReportTests {
    static let start = ReportTests.start
    static let minute = ReportTests.minute

    /// Phase 1 (dev, ended) where ada leads the team owls (bob and cy), phase 2 (final, open) where owls lead;
    /// the report's main leaderboard is phase 2's, and bob's award is his share of the team's.
    static func sample() -> ChallengeReport {
        var report = ReportTests.sample()
        report.challenge.state = .open
        report.challenge.phases = [
            PhaseSpec(name: "dev", endsAt: start + 60 * minute, reference: ["dev.csv"]),
            PhaseSpec(
                name: "final", endsAt: start + 24 * 60 * minute, reference: ["final.csv"], qualify: .init(top: 2),
                carryOver: true),
        ]
        report.challenge.phase = 2
        report.generatedAt = start + 120 * minute
        var owls = LeaderboardEntry(
            rank: 2, solver: "owls", submission: "sub_2", score: 0.7, submittedAt: start + 5 * minute, entries: 2)
        owls.team = "tm_owls"
        owls.members = ["bob", "cy"]
        let dev = [
            LeaderboardEntry(
                rank: 1, solver: "ada", submission: "sub_1", score: 0.8, submittedAt: start, entries: 1,
                metrics: ["rmse": 0.25]),
            owls,
        ]
        var finalOwls = owls
        finalOwls.rank = 1
        finalOwls.submission = "sub_8"
        finalOwls.score = 0.95
        let final = [
            finalOwls,
            LeaderboardEntry(
                rank: 2, solver: "ada", submission: "sub_7", score: 0.5, submittedAt: start + 61 * minute, entries: 1),
        ]
        report.phases = [
            .init(number: 1, name: "dev", endsAt: start + 60 * minute, leaderboard: dev),
            .init(number: 2, name: "final", endsAt: start + 24 * 60 * minute, leaderboard: final),
        ]
        report.leaderboard = final
        report.awards[0].solver = "bob"
        report.awards[0].team = "owls"
        return report
    }

    @Test func csvHasAPhaseAndAMembersColumnAndEveryPhasesRows() throws {
        let table = try CSVTable.parse(Self.sample().leaderboardCSV())
        #expect(
            table.header == [
                "phase", "rank", "solver", "members", "submission", "score", "submitted_at", "entries", "metric:rmse",
            ])
        #expect(
            table.rows.map(\.fields) == [
                ["1", "1", "ada", "", "sub_1", "0.8000", "2026-11-23T10:00:00.000Z", "1", "0.2500"],
                ["1", "2", "owls", "bob;cy", "sub_2", "0.7000", "2026-11-23T10:05:00.000Z", "2", ""],
                ["2", "1", "owls", "bob;cy", "sub_8", "0.9500", "2026-11-23T10:05:00.000Z", "2", ""],
                ["2", "2", "ada", "", "sub_7", "0.5000", "2026-11-23T11:01:00.000Z", "1", ""],
            ])
    }

    /// Each extra column appears on its own: teams without phases, phases without teams, neither.
    @Test func csvColumnsAppearOnlyWhenNeeded() throws {
        var teamsOnly = Self.sample()
        teamsOnly.phases = nil
        #expect(
            try CSVTable.parse(teamsOnly.leaderboardCSV()).header == [
                "rank", "solver", "members", "submission", "score", "submitted_at", "entries",
            ])
        var phasesOnly = Self.sample()
        for index in phasesOnly.phases!.indices {
            for entry in phasesOnly.phases![index].leaderboard.indices {
                phasesOnly.phases![index].leaderboard[entry].members = nil
            }
        }
        phasesOnly.leaderboard = phasesOnly.phases![1].leaderboard
        #expect(
            try CSVTable.parse(phasesOnly.leaderboardCSV()).header.prefix(4) == [
                "phase", "rank", "solver", "submission",
            ])
        let plain = ReportTests.sample()
        #expect(plain.leaderboardCSV().hasPrefix("rank,solver,submission,score,submitted_at,entries,"))
        #expect(!(try plain.jsonData()).contains(Data("\"phases\"".utf8)))
    }

    @Test func htmlHasASectionPerPhaseWithMembers() throws {
        let html = Self.sample().html()
        #expect(!html.contains("id=\"leaderboard-table\""))
        let dev = try #require(ReportTests.element("section id=\"phase-1\"", in: html), "\(html)")
        #expect(
            dev.contains(
                "<h2>Leaderboard: phase 1 (dev)</h2>\n<p class=\"phase\">Ended <span class=\"nowrap\">2026-11-23 11:00:00 UTC</span></p>"
            ))
        let devTable = try #require(ReportTests.element("table id=\"phase-1-table\"", in: dev))
        #expect(devTable.contains("<th scope=\"col\">Solver</th><th scope=\"col\">Members</th>"))
        #expect(devTable.contains("<td>1</td><td>ada</td><td class=\"text\"></td><td>0.8000</td>"))
        #expect(devTable.contains("<td>2</td><td>owls</td><td class=\"text\">bob, cy</td><td>0.7000</td>"))
        let final = try #require(ReportTests.element("section id=\"phase-2\"", in: html))
        #expect(final.contains("<p class=\"phase\">Ends <span class=\"nowrap\">2026-11-24 10:00:00 UTC</span></p>"))
        #expect(final.contains("<td>1</td><td>owls</td><td class=\"text\">bob, cy</td><td>0.9500</td>"))
        #expect(
            html.contains(
                "<tr><th scope=\"row\">Phases</th><td>1 dev, ends <span class=\"nowrap\">2026-11-23 11:00:00 UTC</span>; "
                    + "2 final, ends <span class=\"nowrap\">2026-11-24 10:00:00 UTC</span> (current)</td></tr>"))
        #expect(html.contains("<tr class=\"member\"><td>bob</td><td>owls</td><td>100%</td><td>5000.50 USD</td>"))
        // Without phases, one leaderboard, with a Members column only for teams.
        let plain = ReportTests.sample().html()
        #expect(plain.contains("id=\"leaderboard-table\"") && !plain.contains("Members") && !plain.contains("Phases"))
    }

    /// A team's award is one award per member: the awards table shows the team and each member's share of it.
    @Test func htmlShowsATeamsSplitPerMember() throws {
        var report = Self.sample()
        report.awards[0].amount = Decimal(string: "3000.30")!
        var cy = report.awards[0]
        cy.solver = "cy"
        cy.amount = Decimal(string: "2000.20")!
        report.awards.append(cy)
        let awards = try #require(ReportTests.element("table id=\"awards-table\"", in: report.html()))
        #expect(
            awards.contains(
                "<th scope=\"col\">Solver</th><th scope=\"col\">Team</th><th scope=\"col\">Share</th>"
                    + "<th scope=\"col\">Amount</th>"))
        #expect(awards.contains("<tr class=\"member\"><td>bob</td><td>owls</td><td>60%</td><td>3000.30 USD</td>"))
        #expect(awards.contains("<tr class=\"member\"><td>cy</td><td>owls</td><td>40%</td><td>2000.20 USD</td>"))
        // Without teams, neither column.
        let plain = try #require(ReportTests.element("table id=\"awards-table\"", in: ReportTests.sample().html()))
        #expect(!plain.contains("Team") && !plain.contains("Share"))
    }

    @Test func jsonCarriesThePhaseBoardsAndRoundTrips() throws {
        let report = Self.sample()
        let data = try report.jsonData()
        #expect(try ChallengeReport(json: data) == report)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\n  \"phases\" : [\n    {\n      \"endsAt\" : \(Self.start + 60 * Self.minute),"))
        #expect(text.contains("\"members\" : [\n            \"bob\",\n            \"cy\"\n          ]"))
        #expect(report.version == 1)
    }
}
