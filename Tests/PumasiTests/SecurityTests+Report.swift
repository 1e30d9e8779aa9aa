import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

extension SecurityTests {
    /// `pumasi.challenge.report` over CURVE. The seeker and admins get every submission; a solver gets the
    /// leaderboard and their own submissions only, without the private split until the close; another seeker and
    /// an evaluator are refused; a draft does not exist for them. No submission carries its scorer's log.
    @Test func aReportShowsEachCallerOnlyWhatIsTheirs() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        // `echo` scores a submission with whatever score and metrics the submission states.
        let echo = try setup.dir.write("echo.sh", "#!/bin/sh\ncat \"$1\"\n", executable: true)
        let evaluator = try setup.evaluator(plugins: ["echo": echo])
        defer { evaluator.shutdown() }
        let (spec, files) = sampleSpec(scorer: ScorerSpec(plugin: "echo"))
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)

        // ada leads on the private split, bob on the public one; ada's second submission fails with a log.
        func submitted(_ solver: String, _ text: String) throws -> SubmissionInfo {
            let client = try setup.client(solver)
            return try settled(client, try submit(client, challenge.id, solver, text).submission)
        }
        func stating(_ public: Double, _ private: Double) -> String {
            let metrics = ["public.score": `public`, "private.score": `private`]
            return String(decoding: ChallengeRulesTests.Setup.body(`public`, metrics), as: UTF8.self)
        }
        let ada = try submitted("ada", stating(0.5, 0.9))
        let bob = try submitted("bob", stating(0.75, 0.25))
        let broken = try submitted("ada", "not a score")
        #expect([ada.state, bob.state, broken.state] == [.scored, .scored, .failed])
        #expect(try status(acme, broken.submission).log != nil, "the failure's log, which reports leave out")

        func report(_ name: String, view: String? = nil) throws -> ChallengeReport {
            let request = ReportRequest(challenge: challenge.id, view: view)
            return try setup.client(name).call(Service.report, request, as: ChallengeReport.self).0
        }
        func refusal(_ name: String, _ id: String = challenge.id, view: String? = nil) -> ProtocolError? {
            do {
                _ = try setup.client(name).call(
                    Service.report, ReportRequest(challenge: id, view: view), as: ChallengeReport.self)
            } catch ClientError.server(let error) {
                return error
            } catch {
                Issue.record("\(error)")
            }
            return nil
        }
        func hasPrivateSplit(_ metrics: [String: Double]?) -> Bool {
            metrics?.keys.contains { $0.hasPrefix("private.") } ?? false
        }

        // The seeker and an admin: everything, without logs; the view they ask for.
        for name in ["acme", "root"] {
            let full = try report(name)
            #expect(full.submissions.map(\.submission) == [ada, bob, broken].map(\.submission), "\(name)")
            #expect(full.submissions.allSatisfy { $0.log == nil }, "\(name)")
            #expect(hasPrivateSplit(full.submissions[0].metrics), "\(name)")
            #expect(full.leaderboard.map(\.solver) == ["bob", "ada"], "\(name): provisional while open")
            #expect(try report(name, view: "final").leaderboard.map(\.solver) == ["ada", "bob"], "\(name)")
        }

        // A solver: the whole leaderboard, their own submissions, the public split only.
        let own = try report("ada")
        #expect(own.submissions.map(\.submission) == [ada.submission, broken.submission])
        #expect(own.submissions.allSatisfy { $0.log == nil && !hasPrivateSplit($0.metrics) })
        #expect(own.submissions[0].score == 0.5)
        #expect(own.leaderboard.map(\.solver) == ["bob", "ada"])
        #expect(own.leaderboard.allSatisfy { !hasPrivateSplit($0.metrics) })
        #expect(try report("bob").submissions.map(\.submission) == [bob.submission])
        let early = refusal("ada", view: "final")
        #expect(early?.code == .forbidden && early?.message.contains("revealed when it closes") == true)

        // Another seeker and an evaluator are refused; a draft, or a wrong id, does not exist.
        for name in ["globex", "eve-eval"] {
            let refused = refusal(name)
            #expect(refused?.code == .forbidden, "\(name): \(String(describing: refused))")
        }
        var draftSpec = spec
        draftSpec.startsAt = WallClock.now() + 3_000_000
        let draft = try post(acme, draftSpec, files)
        for name in ["globex", "ada"] {
            #expect(refusal(name, draft.id)?.code == .notFound, "\(name)")
        }
        #expect(try report("acme").challenge.id == challenge.id)
        #expect(refusal("acme", "ch_0000000000000000")?.code == .notFound)

        // Once closed, the solver's report shows the final view and their private split.
        let close = ChallengeRequest(challenge: challenge.id)
        _ = try setup.client("root").call(Service.close, close, as: ChallengeInfo.self)
        var settledReport = try report("ada")
        _ = try eventually {
            settledReport = try report("ada")
            return settledReport.challenge.state == .awarded
        }
        #expect(settledReport.challenge.state == .awarded)
        #expect(settledReport.leaderboard.map(\.solver) == ["ada", "bob"])
        #expect(hasPrivateSplit(settledReport.submissions[0].metrics))
        #expect(settledReport.submissions.map(\.submission) == [ada.submission, broken.submission])
        #expect(settledReport.awards.map(\.solver) == ["ada"])
    }

    /// A report's submissions come a page at a time, with the report's own access: the seeker reads every page of
    /// all of them, a solver pages through their own, a cursor that is not the reader's is a wrong id, and anyone
    /// the report is refused to is refused its pages. `BrokerClient.report` puts the pages together.
    @Test func aReportsSubmissionsComeInPagesWithTheReportsAccess() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let (spec, files) = sampleSpec()
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)
        var sent: [(solver: String, id: String)] = []
        for (index, solver) in ["ada", "bob", "ada", "ada", "bob", "ada", "ada"].enumerated() {
            sent.append((solver, try submit(setup.client(solver), challenge.id, solver, "\(index)").submission))
        }
        let all = sent.map(\.id)
        let adas = sent.filter { $0.solver == "ada" }.map(\.id)

        // One page of them all without a limit; pages of two with one.
        let whole = try acme.call(Service.report, ReportRequest(challenge: challenge.id), as: ChallengeReport.self).0
        #expect(whole.submissions.map(\.submission) == all && whole.moreSubmissions == nil)
        let first = try acme.call(
            Service.report, ReportRequest(challenge: challenge.id, limit: 2), as: ChallengeReport.self
        ).0
        #expect(first.submissions.map(\.submission) == Array(all.prefix(2)) && first.moreSubmissions == true)
        let second = try acme.call(
            Service.reportSubmissions, ReportSubmissionsRequest(challenge: challenge.id, after: all[1], limit: 2),
            as: ReportSubmissions.self
        ).0
        #expect(second.submissions.map(\.submission) == Array(all[2..<4]) && second.more)
        let last = try acme.call(
            Service.reportSubmissions, ReportSubmissionsRequest(challenge: challenge.id, after: all[5], limit: 2),
            as: ReportSubmissions.self
        ).0
        #expect(last.submissions.map(\.submission) == [all[6]] && !last.more)
        let paged = try acme.report(ReportRequest(challenge: challenge.id, limit: 2))
        #expect(paged.submissions.map(\.submission) == all && paged.moreSubmissions == nil)
        #expect(paged.leaderboard == whole.leaderboard && paged.challenge.id == whole.challenge.id)
        // A limit out of range is brought into it: 0 gives a page of one.
        let tiny = try acme.call(
            Service.reportSubmissions, ReportSubmissionsRequest(challenge: challenge.id, after: all[0], limit: 0),
            as: ReportSubmissions.self
        ).0
        #expect(tiny.submissions.map(\.submission) == [all[1]] && tiny.more)

        // A solver pages through their own; another's submission is no cursor for them.
        let ada = try setup.client("ada")
        #expect(try ada.report(ReportRequest(challenge: challenge.id, limit: 2)).submissions.map(\.submission) == adas)
        func pageRefusal(_ client: BrokerClient, after: String) -> ProtocolError? {
            do {
                _ = try client.call(
                    Service.reportSubmissions, ReportSubmissionsRequest(challenge: challenge.id, after: after),
                    as: ReportSubmissions.self)
            } catch ClientError.server(let error) {
                return error
            } catch {
                Issue.record("\(error)")
            }
            return nil
        }
        let notHers = pageRefusal(ada, after: sent[1].id)
        let wrong = pageRefusal(ada, after: "sub_0000000000000000")
        #expect(notHers?.code == .notFound && wrong?.code == .notFound)
        #expect(notHers?.message.contains("no submission \(sent[1].id) in the report of \(challenge.id)") == true)
        // Another seeker is refused the pages as the report.
        #expect(pageRefusal(try setup.client("globex"), after: all[0])?.code == .forbidden)
    }
}
