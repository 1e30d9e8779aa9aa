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
