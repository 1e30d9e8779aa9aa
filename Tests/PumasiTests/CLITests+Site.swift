import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// `pumasi site` against a real broker and evaluator, then `pumasi relay --site` keeping a site up to date as a
    /// submission is scored.
    @Test(.timeLimit(.minutes(3)))
    func aSiteIsWrittenAndARelayKeepsItUpToDate() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let setup = try scoringSetup(in: dir)
        defer { setup.stop() }
        let b = setup.b
        let id = try decode(ChallengeInfo.self, try run("pumasi", ["post", setup.spec, "--json"] + b)).id
        let ada = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada", "--wait", "--json"] + b)
        #expect(try decode(SubmissionInfo.self, ada).state == .scored)

        // The one-shot: an index and a page per challenge, named in --json.
        let out = dir.file("site")
        let site = try run("pumasi", ["site", "--out", out, "--json"] + b)
        #expect(site.termination == .exit(0), "\(site)")
        let page = (out as NSString).appendingPathComponent("\(id).html")
        let index = (out as NSString).appendingPathComponent("index.html")
        #expect(try decode([String].self, site) == [page, index])
        let indexText = try String(contentsOfFile: index, encoding: .utf8)
        #expect(indexText.contains("<a href=\"\(id).html\">Pet sounds</a>"), "\(indexText)")
        let pageText = try String(contentsOfFile: page, encoding: .utf8)
        #expect(pageText.contains("<td>1</td><td>ada</td><td>0.750000</td>"), "\(pageText)")
        #expect(pageText.contains("<nav><a href=\"index.html\">All challenges</a></nav>"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["\(id).html", "index.html"])
        let people = try run("pumasi", ["site", "-o", out] + b)
        #expect(people.stdout == "\(out)  2 pages\n", "\(people)")
        let missing = try run("pumasi", ["site"] + b)
        #expect(missing.termination == .exit(64) && missing.stderr.hasPrefix("Error: name the site's directory"))

        // The relay writes the whole site when it starts, then the page of each challenge an announcement is about.
        let kept = dir.file("kept")
        let relay = try startWorker(
            [
                "relay", "--broker", setup.broker.router, "--pub", setup.broker.pub, "--listen", "tcp://127.0.0.1:*",
                "--outbox", dir.file("outbox.sqlite3"), "--site", kept, "--log-level", "debug",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        let keptPage = (kept as NSString).appendingPathComponent("\(id).html")
        #expect(relay.wait(seconds: 15) { _, stderr in stderr.contains("site written") }, "\(relay.stderr)")
        #expect(try String(contentsOfFile: keptPage, encoding: .utf8).contains("<td>ada</td>"))
        #expect(!(try String(contentsOfFile: keptPage, encoding: .utf8)).contains("<td>bob</td>"))
        // PUB/SUB may drop what is published before the subscription lands; the relay's log recovery catches up.
        let bob = try run("pumasi", ["submit", id, dir.file("bob.csv"), "--solver", "bob", "--wait", "--json"] + b)
        #expect(try decode(SubmissionInfo.self, bob).state == .scored)
        let updated = eventually(seconds: 15) {
            ((try? String(contentsOfFile: keptPage, encoding: .utf8)) ?? "").contains("<td>2</td><td>bob</td>")
        }
        #expect(updated, "the relay did not rewrite \(keptPage): \(relay.stderr)")
        // The keeper logs after the page is in place: the line may follow the file by a moment.
        #expect(relay.wait(seconds: 5) { _, stderr in stderr.contains("site updated") }, "\(relay.stderr)")
        // No temp file of a rewrite is left behind (one may be half-way through a rewrite at any moment).
        #expect(
            eventually(seconds: 5) {
                ((try? FileManager.default.contentsOfDirectory(atPath: kept)) ?? [".none"]).allSatisfy {
                    !$0.hasPrefix(".")
                }
            })
    }
}

extension CLITests {
    /// `pumasi site` over CURVE shows each key what it may see: the seeker its confidential challenge's description
    /// and an invitation-only challenge; a solver who has not accepted the agreement only the summary and a note,
    /// with no leaderboard, and no trace of an invitation-only challenge they are not invited to, which an invited
    /// solver sees; an unregistered key gets no site, with the reason.
    @Test func aSiteOverCurveShowsEachRoleWhatItsKeyMaySee() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["acme": "seeker", "ada": "solver", "bob": "solver"])
        defer { keyed.broker.spawned.stopGracefully() }
        func post(_ spec: String) throws -> String {
            try decode(ChallengeInfo.self, try run("pumasi", ["post", spec, "--json"] + keyed.as("acme"))).id
        }
        let open = try post(try CLIChallengeFiles(in: dir).spec)
        let secret = try post(try confidentialSpec(in: dir))
        let invited = try post(
            try dir.write(
                "invited.json",
                """
                {"title": "Invited sounds", "description": "For bob only.", "deadline": "+2h",
                 "award": {"amount": 100, "currency": "USD"}, "invitationOnly": true, "invite": ["bob"],
                 "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
                 "files": [{"path": "truth.csv", "role": "reference"}]}
                """))
        func site(as name: String) throws -> (files: [String], page: (String) throws -> String) {
            let out = dir.file("site-\(name)")
            let result = try run("pumasi", ["site", "--out", out] + keyed.as(name))
            #expect(result.termination == .exit(0), "\(result)")
            let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
            return (
                files,
                { try String(contentsOfFile: (out as NSString).appendingPathComponent($0), encoding: .utf8) }
            )
        }

        let acme = try site(as: "acme")
        #expect(acme.files == ["\(invited).html", "\(open).html", "\(secret).html", "index.html"].sorted())
        let acmeIndex = try acme.page("index.html")
        #expect(acmeIndex.contains("Invited sounds") && acmeIndex.contains("Secret sounds"), "\(acmeIndex)")
        let acmeSecret = try acme.page("\(secret).html")
        #expect(acmeSecret.contains("The recordings are in train.csv."), "\(acmeSecret)")
        #expect(!acmeSecret.contains("The leaderboard is shown to solvers who accept"), "\(acmeSecret)")

        let ada = try site(as: "ada")
        #expect(ada.files == ["\(open).html", "\(secret).html", "index.html"].sorted())
        #expect(!(try ada.page("index.html")).contains("Invited sounds"))
        let adaSecret = try ada.page("\(secret).html")
        #expect(adaSecret.contains("Classify a partner"), "the summary: \(adaSecret)")
        #expect(!adaSecret.contains("The recordings are in train.csv."), "\(adaSecret)")
        #expect(adaSecret.contains("Confidential: the full description and files are for solvers who accept"))
        #expect(adaSecret.contains("The leaderboard is shown to solvers who accept the challenge's agreement."))
        #expect(try ada.page("\(open).html").contains("Which animal makes each sound?"))

        let bob = try site(as: "bob")
        #expect(bob.files.contains("\(invited).html"))
        #expect(try bob.page("\(invited).html").contains("For bob only."))

        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("eve.key"))
        let eve = try run("pumasi", ["site", "--out", dir.file("site-eve")] + keyed.as("eve"))
        #expect(eve.termination == .exit(1), "\(eve)")
        #expect(eve.stderr.contains("refused your key (not registered, or revoked"), "\(eve)")
    }
}
