import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A relay is its owner's: clients need no `--solver`, one naming someone else is refused, a broker that refuses the
/// relay's key is said so, and the same large `submit` run twice is one submission.
extension CLITests {
    /// A keyless relay (to a broker without keys) submits as its `--owner`: the client names nobody, and the broker
    /// records the owner; a `--solver` naming someone else is an error, not silently replaced; `whoami` through the
    /// relay names the owner, and directly (no keys) says the broker knows names only.
    @Test func aKeylessRelaySubmitsAsItsOwnerWithNoSolverToGetWrong() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let files = try CLIChallengeFiles(in: dir)
        let id = try decode(ChallengeInfo.self, try pumasi("post", files.spec, "--json", "--broker", broker.router)).id
        let relay = try startWorker(
            [
                "relay", "--broker", broker.router, "--pub", broker.pub, "--listen", "tcp://127.0.0.1:*", "--outbox",
                dir.file("outbox.sqlite3"), "--owner", "ada",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        #expect(relay.stderr.contains("owner=ada"), "\(relay.stderr)")
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")
        try dir.write("ada.csv", CLIChallengeFiles.good)

        // No --solver, whatever the login name is ($USER is someone else here).
        let submitted = try run(
            "pumasi", ["submit", id, dir.file("ada.csv"), "--broker", listen], environment: ["USER": "someone-else"])
        #expect(submitted.termination == .exit(0), "\(submitted)")
        let submission = try #require(word(after: "Submitted ", in: submitted.stdout), "\(submitted)")
        let info = try decode(
            SubmissionInfo.self, try pumasi("status", submission, "--json", "--broker", broker.router))
        #expect(info.solver == "ada")

        // A name that disagrees with the owner, by flag or by variable, is refused with the reason.
        try dir.write("bob.csv", CLIChallengeFiles.worse)
        for (arguments, environment) in [
            (["--solver", "bob"], [String: String]()), ([], ["PUMASI_SOLVER": "bob"]),
        ] {
            let refused = try run(
                "pumasi", ["submit", id, dir.file("bob.csv"), "--broker", listen] + arguments,
                environment: environment)
            #expect(refused.termination == .exit(1), "\(refused)")
            #expect(
                refused.stderr.hasPrefix(
                    "Error: this relay submits as its owner, ada; --solver bob names someone else: leave --solver out"),
                "\(refused)")
        }
        // Naming the owner is fine.
        let named = try pumasi("submit", id, dir.file("bob.csv"), "--broker", listen, "--solver", "ada")
        #expect(named.termination == .exit(0), "\(named)")
        let mine = try decode(
            [SubmissionInfo].self,
            try pumasi("submissions", id, "--json", "--broker", broker.router, "--solver", "ada"))
        #expect(mine.count == 2 && mine.allSatisfy { $0.solver == "ada" }, "\(mine)")

        // The other requests that name a solver go as the owner's too: my submissions, through the relay, are ada's.
        let listed = try decode(
            [SubmissionInfo].self,
            try run(
                "pumasi", ["submissions", id, "--json", "--broker", listen], environment: ["USER": "someone-else"]))
        #expect(listed.map(\.submission) == mine.map(\.submission), "\(listed)")
        let quota = try pumasi("quota", id, "--broker", listen, "--solver", "bob")
        #expect(quota.termination == .exit(1), "\(quota)")
        #expect(quota.stderr.hasPrefix("Error: this relay submits as its owner, ada; --solver bob"), "\(quota)")

        // Who am I: the relay's owner through it; by name only from a broker without keys.
        let viaRelay = try pumasi("whoami", "--broker", listen)
        #expect(viaRelay.stdout == "ada, through the relay at \(listen)\n", "\(viaRelay)")
        let direct = try pumasi("whoami", "--broker", broker.router, "--solver", "cy")
        #expect(
            direct.stdout.hasPrefix("cy, by name only: the broker at \(broker.router) has no keys"), "\(direct)")
        let identity = try decode(Identity.self, try pumasi("whoami", "--json", "--broker", listen))
        #expect(identity == Identity(authenticated: false, relayOwner: "ada"))
    }

    /// A broker without keys takes no submission that names nobody, and says how to name the solver.
    @Test func aBrokerWithoutKeysRefusesASubmissionThatNamesNobody() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let files = try CLIChallengeFiles(in: dir)
        let id = try decode(ChallengeInfo.self, try pumasi("post", files.spec, "--json", "--broker", broker.router)).id
        try dir.write("ada.csv", CLIChallengeFiles.good)
        let unnamed = try run(
            "pumasi", ["submit", id, dir.file("ada.csv"), "--broker", broker.router], environment: ["USER": ""])
        #expect(unnamed.termination == .exit(1), "\(unnamed)")
        #expect(
            unnamed.stderr.hasPrefix("Error: no solver named: a broker without keys takes the solver's name"),
            "\(unnamed)")
    }

    /// A relay whose key the broker does not know logs it once, at error level, in a line of its own; a submission
    /// through it is still kept (queued) with the reason as a warning, and other requests get the reason.
    @Test func aRelayWhoseKeyTheBrokerRefusesSaysSoInItsLogAndToItsClients() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["acme": "seeker"])
        defer { keyed.broker.spawned.stopGracefully() }
        let id = try decode(
            ChallengeInfo.self,
            try run("pumasi", ["post", try CLIChallengeFiles(in: dir).spec, "--json"] + keyed.as("acme"))
        ).id
        // eve's key is not registered at the broker.
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("eve.key"))
        let relay = try startWorker(
            [
                "relay", "--broker", keyed.broker.router, "--pub", keyed.broker.pub, "--broker-key",
                keyed.brokerKeyFile, "--key", dir.file("eve.key"), "--listen", "tcp://127.0.0.1:*", "--outbox",
                dir.file("outbox.sqlite3"), "--owner", "eve",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")
        let logged = "the broker refuses this relay's key; submissions are kept in the outbox until it takes it"
        #expect(relay.wait { _, stderr in stderr.contains(logged) }, "\(relay.stderr)")

        try dir.write("eve.csv", CLIChallengeFiles.good)
        let submitted = try pumasi("submit", id, dir.file("eve.csv"), "--broker", listen)
        #expect(submitted.termination == .exit(0), "\(submitted)")
        #expect(submitted.stdout.hasPrefix("Queued in the relay's outbox"), "\(submitted)")
        #expect(
            submitted.stderr.hasPrefix(
                "Warning: the broker refuses this relay's key (the broker at \(keyed.broker.router) refused your key "
                    + "(not registered, or revoked"), "\(submitted)")
        let queued = try decode(
            Receipt.self, try pumasi("submit", id, dir.file("eve.csv"), "--broker", listen, "--json"))
        #expect(queued.queued == true && queued.warning?.contains("registers the relay's key") == true, "\(queued)")

        let listed = try pumasi("list", "--broker", listen)
        #expect(listed.termination == .exit(1), "\(listed)")
        #expect(listed.stderr.hasPrefix("Error: the broker refuses this relay's key ("), "\(listed)")
        let outbox = try pumasi("outbox", "--broker", listen)
        #expect(outbox.stdout.contains("pending"), "\(outbox)")
        // One line in the log, however many requests met the refusal.
        #expect(relay.stderr.components(separatedBy: logged).count == 2, "\(relay.stderr)")
    }

    /// `pumasi whoami` and `pumasi login` over CURVE name the principal and role the key is registered as.
    @Test func whoamiAndLoginNameThePrincipalOverCurve() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(
            in: dir, principals: ["acme": "seeker", "ada": "solver", "ed": "admin", "ev": "evaluator"])
        defer { keyed.broker.spawned.stopGracefully() }
        let ada = try run("pumasi", ["whoami"] + keyed.as("ada"))
        #expect(ada.stdout == "ada, a solver, at \(keyed.broker.router)\n", "\(ada)")
        let acme = try decode(Identity.self, try run("pumasi", ["whoami", "--json"] + keyed.as("acme")))
        #expect(acme == Identity(authenticated: true, name: "acme", role: .seeker))
        let ed = try run("pumasi", ["whoami"] + keyed.as("ed"))
        #expect(ed.stdout == "ed, an admin, at \(keyed.broker.router)\n", "\(ed)")

        let home = CLIProfileHome(in: dir)
        let login = try run(
            "pumasi",
            [
                "login", "--broker", keyed.broker.router, "--broker-key", keyed.brokerKeyFile, "--key",
                dir.file("ada.key"),
            ],
            environment: home.environment)
        #expect(
            login.stdout.hasPrefix(
                "Connected to \(keyed.broker.router) with CURVE as ada, a solver (key \(dir.file("ada.key")), "),
            "\(login)")
        let fromProfile = try run("pumasi", ["whoami"], environment: home.environment)
        #expect(fromProfile.stdout == "ada, a solver, at \(keyed.broker.router)\n", "\(fromProfile)")
        // An evaluator may not list challenges: the broker naming its key is its login's check.
        let evaluator = try run(
            "pumasi",
            [
                "login", "--profile", "ev", "--broker", keyed.broker.router, "--broker-key", keyed.brokerKeyFile,
                "--key", dir.file("ev.key"),
            ],
            environment: home.environment)
        #expect(evaluator.termination == .exit(0), "\(evaluator)")
        #expect(
            evaluator.stdout.hasPrefix("Connected to \(keyed.broker.router) with CURVE as ev, an evaluator (key "),
            "\(evaluator)")
        #expect(evaluator.stdout.contains("…): evaluators list no challenges.\n"), "\(evaluator)")

        // An unregistered key is refused, with the reason.
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("eve.key"))
        let eve = try run(
            "pumasi",
            [
                "whoami", "--broker", keyed.broker.router, "--broker-key", keyed.brokerKeyFile, "--key",
                dir.file("eve.key"),
            ])
        #expect(eve.termination == .exit(1), "\(eve)")
        #expect(eve.stderr.contains("refused your key (not registered, or revoked"), "\(eve)")
    }
}

extension CLITests {
    /// The repeat window holds for files over 1 MiB (chunked uploads) too: re-running the same large `submit` is the
    /// same submission, answered when the upload begins with nothing sent again; `--again` submits it anew. Through a
    /// relay, the second run is the outbox's entry, delivered once.
    @Test func reRunningTheSameLargeSubmitIsTheSameSubmission() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let files = try CLIChallengeFiles(in: dir)
        let id = try decode(ChallengeInfo.self, try pumasi("post", files.spec, "--json", "--broker", broker.router)).id
        let line = "id,label\n" + String(repeating: "1,cat\n", count: 1)
        let big = try dir.write("big.csv", line + String(repeating: "2,dog\n", count: 300_000))
        #expect(((try FileManager.default.attributesOfItem(atPath: big))[.size] as? Int ?? 0) > Uploader.inlineLimit)

        func submit(_ extra: String..., broker endpoint: String) throws -> Receipt {
            let result = try run(
                "pumasi", ["submit", id, big, "--json", "--broker", endpoint, "--solver", "ada"] + extra)
            #expect(result.termination == .exit(0), "\(result)")
            return try decode(Receipt.self, result)
        }
        let first = try submit(broker: broker.router)
        let second = try submit(broker: broker.router)
        #expect(first.submission.hasPrefix("sub_") && !first.duplicate, "\(first)")
        #expect(second.submission == first.submission && second.duplicate, "\(second)")
        let text = try pumasi("submit", id, big, "--broker", broker.router, "--solver", "ada")
        #expect(text.stdout.hasPrefix("Submitted \(first.submission) to \(id) (already received at "), "\(text)")
        let again = try submit("--again", broker: broker.router)
        #expect(again.submission.hasPrefix("sub_") && again.submission != first.submission, "\(again)")

        // Through a relay: another large file, kept in the outbox, delivered, then submitted again.
        let relay = try startWorker(
            [
                "relay", "--broker", broker.router, "--pub", broker.pub, "--listen", "tcp://127.0.0.1:*", "--outbox",
                dir.file("outbox.sqlite3"), "--owner", "ada",
            ],
            ready: "relay started")
        defer { relay.stopGracefully() }
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")
        try Data((line + String(repeating: "3,bird\n", count: 300_000)).utf8).write(to: URL(fileURLWithPath: big))
        let queued = try submit(broker: listen)
        #expect(queued.queued == true, "\(queued)")
        var delivered: OutboxEntry?
        let deadline = WallClock.monotonicNanos() + 20_000_000_000
        for _ in 0..<200 where delivered == nil && WallClock.monotonicNanos() < deadline {
            let outbox = try decode([OutboxEntry].self, try pumasi("outbox", "--json", "--broker", listen))
            delivered = outbox.first { $0.state == .delivered }
            if delivered == nil { usleep(100_000) }
        }
        let entry = try #require(delivered, "the relay delivered nothing within 20 s: \(relay.stderr)")
        let repeated = try submit(broker: listen)
        #expect(repeated.submission == entry.submission && repeated.duplicate, "\(repeated)")
        #expect(try decode([OutboxEntry].self, try pumasi("outbox", "--json", "--broker", listen)).count == 1)
        let all = try decode(
            [SubmissionInfo].self, try pumasi("submissions", id, "--json", "--broker", broker.router, "--solver", "ada")
        )
        #expect(all.count == 3, "\(all.map(\.submission))")
    }
}
