import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A real HTTP server on 127.0.0.1 (Python's http.server, run as a subprocess): each POST body is written to a file
/// of its own, in order; the answers' statuses are taken from a list, then 200.
final class WebhookReceiver {
    let process = Process()
    let directory: String
    private(set) var url: URL

    static let script = """
        import http.server, os, sys
        directory, statuses = sys.argv[1], [int(s) for s in sys.argv[2].split(",") if s]
        class Handler(http.server.BaseHTTPRequestHandler):
            count = 0
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                Handler.count += 1
                name = os.path.join(directory, "post-%04d" % Handler.count)
                with open(name + ".tmp", "wb") as f:
                    f.write(body)
                os.rename(name + ".tmp", name + ".json")
                status = statuses.pop(0) if statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        with open(os.path.join(directory, "port.tmp"), "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
        server.serve_forever()
        """

    /// - Parameter statuses: the statuses of the first answers, in order; 200 after them.
    init(in dir: TempDirectory, statuses: [Int] = []) throws {
        directory = dir.file("webhook")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = try dir.write("webhook.py", Self.script)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, directory, statuses.map(String.init).joined(separator: ",")]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let portFile = (directory as NSString).appendingPathComponent("port")
        var port = ""
        let server = process
        _ = eventually {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? ""
            return !port.isEmpty || !server.isRunning
        }
        url = try #require(URL(string: "http://127.0.0.1:\(port)/hook"), "the webhook receiver wrote no port")
    }

    /// The POST bodies received so far, in order.
    var bodies: [Data] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("post-") && $0.hasSuffix(".json") }.sorted()
        return names.compactMap {
            FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent($0))
        }
    }

    /// Stops the server by its pid, with SIGKILL: a child of the test process starts with SIGTERM blocked.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A sendmail-compatible program (a shell script): it insists on `-t -i`, as /usr/sbin/sendmail is called, and
/// writes each message from stdin to a file of its own. No MTA is installed for the tests: this stands in for the
/// host's sendmail interface, and exercises the relay's side of it (the program, its arguments, the message).
struct SendmailReceiver {
    let path: String
    let directory: String

    init(in dir: TempDirectory, name: String = "sendmail", extra: String = "") throws {
        directory = dir.file("mail")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = try dir.write(
            name,
            """
            #!/bin/sh
            [ "$1" = "-t" ] && [ "$2" = "-i" ] && [ $# -eq 2 ] || { echo "usage: sendmail -t -i (got: $*)" >&2; exit 64; }
            \(extra)
            cat > "\(directory)/.mail-$$" && mv "\(directory)/.mail-$$" "\(directory)/mail-$(date +%s%N).eml"
            """, executable: true)
    }

    var messages: [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".eml") }.sorted()
        return names.compactMap {
            try? String(contentsOfFile: (directory as NSString).appendingPathComponent($0), encoding: .utf8)
        }
    }
}

/// A broker and an evaluator scoring `exact` against "42", on loopback.
private struct ScoringSetup {
    let dir: TempDirectory
    let broker: BrokerHarness
    let evaluator: EvaluatorHarness

    init() throws {
        dir = try TempDirectory()
        broker = try BrokerHarness(directory: dir.file("broker"))
        evaluator = try EvaluatorHarness(broker: broker.router, cache: dir.file("cache"))
    }

    func client() throws -> BrokerClient { try PumasiTests.client(broker) }

    func post(_ title: String) throws -> ChallengeInfo {
        let (spec, files) = sampleSpec(title: title)
        return try PumasiTests.post(client(), spec, files)
    }

    func extend(_ challenge: ChallengeInfo) throws {
        _ = try client().call(
            Service.extend, ExtendRequest(challenge: challenge.id, deadline: challenge.deadline + 3_600_000),
            as: ChallengeInfo.self)
    }

    func stop() {
        evaluator.shutdown()
        broker.shutdown()
        dir.remove()
    }
}

@Suite("Notices: a relay tells its owner what they follow", .timeLimit(.minutes(2)))
struct NoticeTests {
    // MARK: Which announcements are notices

    static func announcement(_ topic: Announcement.Topic, challenge: String = "ch_a", solver: String? = nil)
        -> Announcement
    {
        var a = Announcement(topic: topic, seq: 7, at: 0, challenge: challenge, title: "Pumps")
        a.solver = solver
        a.submission = solver.map { _ in "sub_1" }
        a.score = solver.map { _ in 0.75 }
        return a
    }

    @Test func theOwnersSubmissionsAndFollowedChallengesMakeNotices() {
        let rules = NoticeRules(owner: "ada", follow: ["ch_a"])
        #expect(
            rules.notice(for: Self.announcement(.scored, solver: "ada"))?.text
                == "Your submission sub_1 to ch_a \"Pumps\" scored 0.75.")
        #expect(rules.notice(for: Self.announcement(.scored, solver: "bob")) == nil)
        #expect(rules.notice(for: Self.announcement(.scored, solver: "bob"), forwarded: true)?.mine == true)
        #expect(rules.notice(for: Self.announcement(.failed, challenge: "ch_b", solver: "ada")) != nil)
        #expect(rules.notice(for: Self.announcement(.opened)) != nil)
        #expect(rules.notice(for: Self.announcement(.opened, challenge: "ch_b")) == nil)
        #expect(rules.notice(for: Self.announcement(.extended, challenge: "ch_b")) == nil)
        // An award: to the owner anywhere; to anyone in a followed challenge.
        #expect(rules.notice(for: Self.announcement(.awarded, challenge: "ch_b", solver: "ada"))?.mine == true)
        #expect(rules.notice(for: Self.announcement(.awarded, challenge: "ch_b", solver: "bob")) == nil)
        #expect(rules.notice(for: Self.announcement(.awarded, solver: "bob"))?.mine == false)
        // Other topics stay in the feed.
        #expect(rules.notice(for: Self.announcement(.judgingRequested)) == nil)
        #expect(rules.notice(for: Self.announcement(.clarified)) == nil)
        let all = NoticeRules(owner: nil, follow: ["all"])
        #expect(
            Announcement.Topic.allCases.filter { all.notice(for: Self.announcement($0, challenge: "ch_z")) != nil }
                == [
                    .opened, .extended, .closing, .closed, .awarded, .unawarded, .cancelled, .phase, .misconfigured,
                    .unserved,
                ])
    }

    @Test(arguments: [
        ("terminal", NoticeTarget.terminal), ("email:ada@example.org", .email("ada@example.org")),
        ("webhook:http://127.0.0.1:8080/x", .webhook(URL(string: "http://127.0.0.1:8080/x")!)),
    ])
    func targetsAreRead(text: String, target: NoticeTarget) throws {
        #expect(try NoticeTarget(parsing: text) == target)
    }

    @Test(arguments: [
        "email:", "email:ada", "email:ada@x.org\nBcc: eve@x.org", "email:<ada@x.org>", "webhook:ftp://x/y",
        "webhook:nope", "sms:123",
    ])
    func badTargetsAreRefused(text: String) {
        #expect(throws: NoticeTargetError.self) { try NoticeTarget(parsing: text) }
    }

    @Test func anEmailIsOneMessageWhateverTheTitleHolds() throws {
        var a = Self.announcement(.scored, solver: "ada")
        a.title = "Pumps\r\nBcc: eve@example.org"
        let notice = try #require(NoticeRules(owner: "ada").notice(for: a))
        let message = NoticeEmail(notice, to: "ada@example.org", from: "relay@host").message
        let headers = message.components(separatedBy: "\n\n")[0].components(separatedBy: "\n")
        #expect(!headers.contains { $0.hasPrefix("Bcc:") })
        #expect(headers.contains("To: ada@example.org"))
        #expect(
            headers.contains {
                $0.hasPrefix("Subject: [pumasi] ch_a \"Pumps  Bcc: eve@example.org\": submission.scored")
            })
        let unicode = NoticeEmail.header("Prédire les pannes 🛠")
        #expect(unicode.hasPrefix("=?UTF-8?B?") && !unicode.contains("é"))
    }

    // MARK: Delivery

    @Test func aFullQueueDropsNoticesAndTheRelayGoesOn() throws {
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        var config = NoticeConfig(rules: NoticeRules(owner: "ada"), targets: [.terminal])
        config.capacity = 1
        let notifier = Notifier(config: config, logger: Logger(label: "test-notices", level: .critical)) { _ in
            entered.signal()
            gate.wait()
        }
        notifier.start()
        let notice = try #require(NoticeRules(owner: "ada").notice(for: Self.announcement(.scored, solver: "ada")))
        #expect(notifier.post(notice))
        entered.wait()  // the first is being delivered, held at the gate
        #expect(notifier.post(notice))  // waits in the queue
        #expect(!notifier.post(notice))  // dropped: the queue is full
        gate.signal()
        entered.wait()
        gate.signal()
        notifier.stop()
    }

    @Test func aSendmailThatFailsOrHangsIsReportedNotFatal() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let failing = try dir.write(
            "failing", "#!/bin/sh\necho 'no route to mail host' >&2\nexit 75\n", executable: true)
        let error = #expect(throws: Sendmail.Failure.self) {
            try Sendmail(path: failing, timeoutSeconds: 5).send("To: a@b\n\nhi\n")
        }
        #expect(error?.description == "\(failing) exited with status 75: no route to mail host")
        let hanging = try dir.write("hanging", "#!/bin/sh\nexec sleep 60\n", executable: true)
        let started = WallClock.monotonicNanos()
        #expect(throws: Sendmail.Failure.self) {
            try Sendmail(path: hanging, timeoutSeconds: 0.5).send("To: a@b\n\nhi\n")
        }
        #expect(WallClock.monotonicNanos() - started < 10_000_000_000)
        #expect(throws: Sendmail.Failure.self) {
            try Sendmail(path: dir.file("missing"), timeoutSeconds: 1).send("To: a@b\n\nhi\n")
        }
    }

    @Test func aWebhookIsRetriedAfterAServerErrorButNotAfterARefusal() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let receiver = try WebhookReceiver(in: dir, statuses: [503, 200, 400])
        defer { receiver.stop() }
        let hook = Webhook(url: receiver.url, timeoutSeconds: 5, attempts: 3, retryDelaySeconds: 0.05)
        try hook.post(Data(#"{"text": "one"}"#.utf8))
        #expect(receiver.bodies.count == 2)
        let error = #expect(throws: Webhook.Failure.self) { try hook.post(Data(#"{"text": "two"}"#.utf8)) }
        #expect(error?.description == "HTTP 400 (try 1 of 3)")
        #expect(receiver.bodies.count == 3)
    }

    // MARK: End to end: a real broker, evaluator and relay

    /// ada's relay posts to a webhook: her scored submission and her followed challenge's extension arrive as JSON;
    /// bob's submission, and the unfollowed challenge's extension, do not. (The notifier delivers in order: once
    /// the last notice is in, anything that would have preceded it has been.)
    @Test func aWebhookReceivesTheOwnersNoticesOnly() throws {
        let setup = try ScoringSetup()
        defer { setup.stop() }
        let receiver = try WebhookReceiver(in: setup.dir)
        defer { receiver.stop() }
        let followed = try setup.post("Followed")
        let other = try setup.post("Not followed")
        var config = NoticeConfig(
            rules: NoticeRules(owner: "ada", follow: [followed.id]), targets: [.webhook(receiver.url)])
        config.retryDelaySeconds = 0.05
        let notifier = Notifier(config: config, logger: Logger(label: "test-notices", level: .error)) { _ in }
        let relay = try RelayHarness(
            broker: setup.broker.router, pub: setup.broker.pub, outbox: setup.dir.file("outbox.sqlite3"),
            syncInterval: 200, notifier: notifier)
        defer { relay.shutdown() }
        let client = try setup.client()

        let bobs = try submit(client, followed.id, "bob", "42")
        #expect(try settled(client, bobs.submission).state == .scored)
        try setup.extend(other)
        #expect(eventually { relay.shown.contains { $0.topic == .extended && $0.challenge == other.id } })
        let adas = try submit(client, followed.id, "ada", "42")
        #expect(try settled(client, adas.submission).state == .scored)
        try setup.extend(followed)

        #expect(eventually { receiver.bodies.count >= 2 }, "\(receiver.bodies.count) posts")
        let posts = try receiver.bodies.map {
            try #require(try JSONSerialization.jsonObject(with: $0) as? [String: Any])
        }
        #expect(posts.count == 2)
        #expect(posts.map { $0["event"] as? String } == ["submission.scored", "challenge.extended"])
        #expect(
            posts.first?["text"] as? String
                == "Your submission \(adas.submission) to \(followed.id) \"Followed\" scored 1.")
        let announcement = try #require(posts.first?["announcement"] as? [String: Any])
        #expect(announcement["submission"] as? String == adas.submission)
        #expect(announcement["solver"] as? String == "ada")
        #expect(
            (posts.last?["text"] as? String)?.hasPrefix(
                "\(followed.id) \"Followed\" was extended: the deadline is now ") == true)
    }

    /// A relay without an owner name: what it forwarded is its owner's. grace's direct submission makes no email;
    /// the one through the relay does, through the sendmail interface.
    @Test func anEmailGoesThroughSendmailForASubmissionTheRelayForwarded() throws {
        let setup = try ScoringSetup()
        defer { setup.stop() }
        let mail = try SendmailReceiver(in: setup.dir)
        let challenge = try setup.post("Mailed")
        var config = NoticeConfig(rules: NoticeRules(owner: nil), targets: [.email("grace@example.org")])
        config.sendmailPath = mail.path
        config.mailFrom = "relay@pumasi.test"
        let notifier = Notifier(config: config, logger: Logger(label: "test-notices", level: .error)) { _ in }
        let relay = try RelayHarness(
            broker: setup.broker.router, pub: setup.broker.pub, outbox: setup.dir.file("outbox.sqlite3"),
            syncInterval: 200, notifier: notifier)
        defer { relay.shutdown() }
        let client = try setup.client()
        let direct = try submit(client, challenge.id, "grace", "41")
        #expect(try settled(client, direct.submission).state == .scored)
        #expect(eventually { relay.shown.contains { $0.topic == .scored && $0.submission == direct.submission } })

        let viaRelay = try BrokerClient(endpoint: relay.listen, timeoutSeconds: 10)
        let forwarded = try submit(viaRelay, challenge.id, "grace", "42")
        #expect(try settled(client, forwarded.submission).state == .scored)
        #expect(eventually { !mail.messages.isEmpty })
        let messages = mail.messages
        #expect(messages.count == 1)
        let message = try #require(messages.first)
        let parts = message.components(separatedBy: "\n\n")
        let headers = parts[0].components(separatedBy: "\n")
        #expect(headers.contains("To: grace@example.org"))
        #expect(headers.contains("From: relay@pumasi.test"))
        #expect(headers.contains("Subject: [pumasi] \(challenge.id) \"Mailed\": submission.scored"))
        #expect(
            parts.count > 1
                && parts[1] == "Your submission \(forwarded.submission) to \(challenge.id) \"Mailed\" scored 1.",
            "\(message)")
        #expect(message.contains("submission  \(forwarded.submission)"))
    }

    /// The built `pumasi relay`, with --notify terminal: a Notice: line on its stdout beside the announcement feed.
    @Test func theRelayPrintsANoticeOnItsTerminal() throws {
        let setup = try ScoringSetup()
        defer { setup.stop() }
        let challenge = try setup.post("On the terminal")
        let relay = try CLIProcess(
            "pumasi",
            [
                "relay", "--broker", setup.broker.router, "--pub", setup.broker.pub, "--listen", "tcp://127.0.0.1:*",
                "--outbox", setup.dir.file("outbox.sqlite3"), "--notify", "terminal", "--owner", "ada",
                "--follow", challenge.id,
            ])
        #expect(relay.wait(until: { _, stderr in stderr.contains("relay started") }), "\(relay.stderr)")
        #expect(relay.stderr.contains("notices on"), "\(relay.stderr)")
        let client = try setup.client()
        let bobs = try submit(client, challenge.id, "bob", "42")
        #expect(try settled(client, bobs.submission).state == .scored)
        let adas = try submit(client, challenge.id, "ada", "42")
        #expect(try settled(client, adas.submission).state == .scored)
        let notice = "Notice: Your submission \(adas.submission) to \(challenge.id) \"On the terminal\" scored 1.\n"
        #expect(relay.wait(until: { stdout, _ in stdout.contains(notice) }), "\(relay.stdout)")
        let result = relay.terminate()
        #expect(result.termination == .exit(0), "\(result)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("Notice: ") }.count == 1, "\(result.stdout)")
        #expect(
            lines.contains {
                $0.contains("submission.scored \(challenge.id)") && $0.contains("\(bobs.submission) by bob")
            })
    }

    @Test func notifyOptionsAreChecked() throws {
        let bad = try CLIProcess("pumasi", ["relay", "--notify", "email:nobody"]).finish(within: 10)
        #expect(bad.termination == .exit(64), "\(bad)")
        #expect(
            bad.stderr.hasPrefix("Error: --notify email:nobody is not an address such as email:ada@example.org"),
            "\(bad)")
        let lonely = try CLIProcess("pumasi", ["relay", "--follow", "all"]).finish(within: 10)
        #expect(
            lonely.termination == .exit(64) && lonely.stderr.hasPrefix("Error: --follow needs --notify"), "\(lonely)")
    }
}
