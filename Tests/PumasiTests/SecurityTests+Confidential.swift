import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Confidential challenges as attacks over real CURVE sockets (issue 11): a solver who has not accepted the
/// agreement, an uninvited solver, a revoked invitation, an agreement replaced mid-challenge, and an evaluator bound
/// to one seeker reaching for another's jobs, reference data and plugin name. Each is refused, and the refusal is in
/// the audit trail.
@Suite("Confidential challenges over CURVE", .timeLimit(.minutes(2)))
struct ConfidentialTests {
    static let terms = "You keep what you read here to yourself. The winning solution's IP passes to acme on award."

    /// A challenge with a summary and an IP-transfer agreement, scored by the built-in `exact` scorer.
    static func confidentialSpec(
        invitationOnly: Bool = false, invite: [String]? = nil, evaluators: EvaluatorPolicy? = nil
    ) -> (ChallengeSpec, [Data]) {
        var (spec, files) = sampleSpec()
        spec.description = "Confidential: the answer is a product of two small primes."
        spec.summary = "A number puzzle from a well-known company."
        spec.agreement = AgreementSpec(kind: .ipTransfer, text: terms)
        if invitationOnly {
            spec.invitationOnly = true
            spec.invite = invite
        }
        spec.evaluators = evaluators
        return (spec, files)
    }

    static func show(_ client: BrokerClient, _ id: String) throws -> ChallengeInfo {
        try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self).0
    }

    static func accept(_ client: BrokerClient, _ id: String, _ sha256: String) throws -> ChallengeInfo {
        try client.call(Service.accept, AcceptRequest(challenge: id, sha256: sha256), as: ChallengeInfo.self).0
    }

    static func download(_ client: BrokerClient, _ id: String) throws -> Data {
        try client.fetchFile(Service.file) { FileRequest(challenge: id, name: "question.txt", offset: $0) }.1
    }

    static func refusals(_ setup: SecureSetup, by principal: String, on object: String) throws -> [String] {
        try TestBackend.store(setup.dir.file("broker")).auditTrail(principal: principal, action: "access.refused")
            .filter { $0.object == object }.map { $0.detail ?? "" }
    }

    @Test func aSolverWhoHasNotAcceptedSeesTheSummaryAndIsRefusedTheRest() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        let (spec, files) = Self.confidentialSpec()
        let challenge = try post(try setup.client("acme"), spec, files)
        let ada = try setup.client("ada")

        let before = try Self.show(ada, challenge.id)
        #expect(before.confidential == true)
        #expect(before.description == "" && before.files.isEmpty)
        #expect(before.summary == "A number puzzle from a well-known company.")
        let agreement = try #require(before.agreement)
        #expect(agreement.text == Self.terms && agreement.kind == .ipTransfer && agreement.version == 1)
        #expect(agreement.sha256 == SHA256.hex(Data(Self.terms.utf8)))
        #expect(agreement.accepted == false)
        // Only the summary appears in the list too.
        let listed = try ada.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0
        #expect(listed.map(\.description) == [""])

        let hint = "accept it with `pumasi accept \(challenge.id)`"
        let download = refusal { _ = try Self.download(ada, challenge.id) }
        #expect(
            download?.code == .forbidden && download?.message.contains(hint) == true, "\(String(describing: download))")
        let submitted = refusal { _ = try submit(ada, challenge.id, "ada", "42") }
        #expect(submitted?.code == .forbidden && submitted?.message.contains(hint) == true)
        let board = refusal {
            _ = try ada.call(Service.leaderboard, LeaderboardRequest(challenge: challenge.id), as: Leaderboard.self)
        }
        #expect(board?.code == .forbidden)
        #expect(
            try Self.refusals(setup, by: "ada", on: challenge.id) == [
                "download its files without accepting the agreement",
                "submit to \(challenge.id) without accepting the agreement",
                "see its leaderboard without accepting the agreement",
            ])

        // Accepting what was not shown (another text's hash) is refused; accepting what was shown opens the rest.
        #expect(refusal { _ = try Self.accept(ada, challenge.id, SHA256.hex(Data("other".utf8))) }?.code == .conflict)
        let after = try Self.accept(ada, challenge.id, agreement.sha256)
        #expect(after.confidential == nil && after.description == spec.description)
        #expect(after.agreement?.accepted == true)
        #expect(try Self.download(ada, challenge.id) == files[0])
        let receipt = try submit(ada, challenge.id, "ada", "42")
        #expect(try settled(ada, receipt.submission).state == .scored)
        let accepted = try TestBackend.store(setup.dir.file("broker")).auditTrail(action: "agreement.accept")
        #expect(accepted.map { "\($0.principal ?? "-") \($0.object)" } == ["ada \(challenge.id)"])
        #expect(accepted.first?.detail == "version 1 (ip-transfer) sha256=\(agreement.sha256)")
        // The seeker never needs to accept its own terms.
        #expect(try Self.show(try setup.client("acme"), challenge.id).confidential == nil)
    }

    @Test func aReplacedAgreementIsAcceptedAgainAndTheAwardNamesIt() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        let (spec, files) = Self.confidentialSpec()
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)
        let ada = try setup.client("ada")
        let first = try #require(try Self.show(ada, challenge.id).agreement)
        _ = try Self.accept(ada, challenge.id, first.sha256)
        _ = try settled(ada, try submit(ada, challenge.id, "ada", "41").submission)

        // Another seeker may not change acme's terms; acme may.
        let text = Self.terms + " Revised: a licence, not a transfer."
        let change = AgreementRequest(challenge: challenge.id, agreement: AgreementSpec(kind: .licence, text: text))
        #expect(
            refusal { _ = try setup.client("globex").call(Service.agreement, change, as: ChallengeInfo.self) }?.code
                == .forbidden)
        let second = try #require(try acme.call(Service.agreement, change, as: ChallengeInfo.self).0.agreement)
        #expect(second.version == 2 && second.kind == .licence && second.sha256 == SHA256.hex(Data(text.utf8)))

        let seen = try Self.show(ada, challenge.id)
        #expect(seen.confidential == true && seen.agreement?.acceptedVersion == 1)
        let refused = refusal { _ = try submit(ada, challenge.id, "ada", "42") }
        #expect(refused?.code == .forbidden)
        #expect(
            refused?.message.contains("changed (version 2; you accepted version 1)") == true,
            "\(String(describing: refused))")
        #expect(refusal { _ = try Self.accept(ada, challenge.id, first.sha256) }?.code == .conflict)
        _ = try Self.accept(ada, challenge.id, second.sha256)
        let winning = try submit(ada, challenge.id, "ada", "42")
        #expect(try settled(ada, winning.submission).score == 1)
        let events = try ada.call(Service.events, EventsRequest(after: 0, limit: 100), as: EventLog.self).0.events
        #expect(events.contains { $0.topic == .agreementChanged && $0.challenge == challenge.id })

        _ = try setup.client("root").call(
            Service.close, ChallengeRequest(challenge: challenge.id), as: ChallengeInfo.self)
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(eventually { (try? store.award(challenge: challenge.id)) != nil })
        let award = try #require(try store.award(challenge: challenge.id))
        #expect(award.submission == winning.submission && award.agreement == second.sha256)
        let entry = try #require(try Ledger.entries(store.db, challenge: challenge.id).first)
        #expect(entry.agreement == second.sha256 && entry.isSealed)
        #expect(entry.text.contains("\"agreement\":\"\(second.sha256)\",\"prev\":"))
        #expect(try store.auditTrail(action: "agreement.replace").map(\.object) == [challenge.id])
        #expect(try Self.refusals(setup, by: "ada", on: challenge.id).count == 2)
    }

    /// Every read service, and every write a solver can make, answers an uninvited solver about an invitation-only
    /// challenge exactly as about an id that does not exist.
    @Test func anUninvitedSolverLearnsNothingNotEvenThatItExists() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        let (spec, files) = Self.confidentialSpec(invitationOnly: true, invite: ["ada"])
        let acme = try setup.client("acme")
        let secret = try post(acme, spec, files)
        let ada = try setup.client("ada")
        _ = try Self.accept(ada, secret.id, try #require(try Self.show(ada, secret.id).agreement).sha256)
        let adas = try submit(ada, secret.id, "ada", "42")
        _ = try settled(ada, adas.submission)
        let (open, openFiles) = sampleSpec(title: "Open to all")
        let public_ = try post(acme, open, openFiles)

        let bob = try setup.client("bob")
        let ghost = Identifier.make(prefix: "ch")
        func probes(_ id: String) -> [(String, () throws -> Void)] {
            [
                ("show", { _ = try Self.show(bob, id) }),
                ("file", { _ = try Self.download(bob, id) }),
                (
                    "leaderboard",
                    { _ = try bob.call(Service.leaderboard, LeaderboardRequest(challenge: id), as: Leaderboard.self) }
                ),
                (
                    "report",
                    { _ = try bob.call(Service.report, ReportRequest(challenge: id), as: ChallengeReport.self) }
                ),
                ("quota", { _ = try bob.call(Service.quota, QuotaRequest(challenge: id), as: Quota.self) }),
                (
                    "select",
                    {
                        _ = try bob.call(
                            Service.select, SelectRequest(challenge: id, submissions: []), as: [String].self)
                    }
                ),
                (
                    "clarifications",
                    {
                        _ = try bob.call(
                            Service.clarifications, ChallengeRequest(challenge: id), as: ClarificationList.self)
                    }
                ),
                (
                    "ask",
                    {
                        _ = try bob.call(
                            Service.ask, AskRequest(challenge: id, question: "Is it prime?"), as: ClarificationInfo.self
                        )
                    }
                ),
                ("accept", { _ = try Self.accept(bob, id, SHA256.hex(Data(Self.terms.utf8))) }),
                (
                    "join",
                    {
                        _ = try bob.call(
                            Service.join, JoinRequest(challenge: id, token: "pmi_guess"), as: ChallengeInfo.self)
                    }
                ),
                ("submit", { _ = try submit(bob, id, "bob", "42") }),
            ]
        }
        for ((name, real), (_, fake)) in zip(probes(secret.id), probes(ghost)) {
            let refused = refusal(real)
            let nonexistent = refusal(fake)
            #expect(refused?.code == .notFound, "\(name): \(String(describing: refused))")
            #expect(
                refused?.message.replacingOccurrences(of: secret.id, with: ghost) == nonexistent?.message,
                "\(name): \(String(describing: refused)) vs \(String(describing: nonexistent))")
        }
        // Nor through a submission, the list, or the log.
        let theirs = refusal { _ = try status(bob, adas.submission) }
        #expect(theirs?.code == .notFound && theirs?.message == "no submission \(adas.submission)")
        #expect(try bob.call(Service.list, ListRequest(), as: [ChallengeInfo].self).0.map(\.id) == [public_.id])
        let log = try bob.call(Service.events, EventsRequest(after: 0, limit: 100), as: EventLog.self).0
        #expect(!log.events.isEmpty && !log.events.contains { $0.challenge == secret.id })
        #expect(log.through == log.last)
        let adasLog = try ada.call(Service.events, EventsRequest(after: 0, limit: 100), as: EventLog.self).0
        #expect(adasLog.events.contains { $0.challenge == secret.id && $0.topic == .opened })
        #expect(adasLog.through == nil)
        // The operator sees every attempt.
        #expect(try Self.refusals(setup, by: "bob", on: secret.id).count >= 8)
    }

    @Test func aRevokedInvitationEndsAccessAndATokenWorksOnce() throws {
        let setup = try SecureSetup(extra: [("cy", .solver, nil)])
        defer { setup.stop() }
        let (spec, files) = Self.confidentialSpec(invitationOnly: true)
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)
        let made = try acme.call(
            Service.invitations, InvitationsRequest(challenge: challenge.id, tokens: 2), as: InvitationList.self
        ).0
        #expect(made.tokens.count == 2 && made.tokens.allSatisfy { $0.token?.hasPrefix("pmi_") == true })
        let (first, second) = (made.tokens[0], made.tokens[1])
        // The broker keeps hashes: a listing shows no token again.
        let listed = try acme.call(
            Service.invitations, InvitationsRequest(challenge: challenge.id), as: InvitationList.self
        ).0
        #expect(listed.tokens.allSatisfy { $0.token == nil })

        let bob = try setup.client("bob")
        let cy = try setup.client("cy")
        #expect(refusal { _ = try Self.show(bob, challenge.id) }?.code == .notFound)
        let joined = try bob.call(
            Service.join, JoinRequest(challenge: challenge.id, token: first.token!), as: ChallengeInfo.self
        ).0
        #expect(joined.id == challenge.id && joined.title == spec.title)
        #expect(try Self.show(bob, challenge.id).invitationOnly == true)
        // A token works once; a revoked one never.
        let reused = refusal {
            _ = try cy.call(
                Service.join, JoinRequest(challenge: challenge.id, token: first.token!), as: ChallengeInfo.self)
        }
        #expect(reused?.code == .notFound && reused?.message == "no challenge \(challenge.id)")
        _ = try acme.call(
            Service.invitations, InvitationsRequest(challenge: challenge.id, revokeTokens: [second.id]),
            as: InvitationList.self)
        #expect(
            refusal {
                _ = try cy.call(
                    Service.join, JoinRequest(challenge: challenge.id, token: second.token!), as: ChallengeInfo.self)
            }?.code == .notFound)

        // Revoking bob's invitation hides the challenge from him at once; only its seeker may revoke.
        #expect(
            refusal {
                _ = try setup.client("globex").call(
                    Service.invitations, InvitationsRequest(challenge: challenge.id, revoke: ["bob"]),
                    as: InvitationList.self)
            }?.code == .notFound)
        let after = try acme.call(
            Service.invitations, InvitationsRequest(challenge: challenge.id, revoke: ["bob"]), as: InvitationList.self
        ).0
        #expect(after.invitees.map { "\($0.name) \($0.via) \($0.revokedAt != nil)" } == ["bob \(first.id) true"])
        let gone = refusal { _ = try Self.show(bob, challenge.id) }
        #expect(gone?.code == .notFound && gone?.message == "no challenge \(challenge.id)")
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(
            try store.auditTrail().filter { $0.object == challenge.id && $0.action.hasPrefix("invitation") }.map {
                "\($0.principal ?? "-") \($0.action)"
            } == [
                "acme invitation.token", "acme invitation.token", "bob invitation.join", "acme invitation.token.revoke",
                "acme invitation.revoke",
            ])
        #expect(try Self.refusals(setup, by: "bob", on: challenge.id).count == 2)
        #expect(try Self.refusals(setup, by: "cy", on: challenge.id).count == 2)
        #expect(try Self.refusals(setup, by: "globex", on: challenge.id).count == 1)
    }

    @Test func anEvaluatorBoundToOneSeekerGetsNothingOfAnothers() throws {
        let setup = try SecureSetup(extra: [
            ("acme-eval", .evaluator, .seeker("acme")), ("globex-eval", .evaluator, .seeker("globex")),
        ])
        defer { setup.stop() }
        var (spec, files) = sampleSpec(reference: "secret-answer")
        spec.evaluators = .own
        let globex = try setup.client("globex")
        let challenge = try post(globex, spec, files)
        let reference = SHA256.hex(files[1])

        // Reference data: never by hash alone, and never to an evaluator not allowed for the challenge.
        for name in ["acme-eval", "eve-eval"] {
            let refused = refusal {
                _ = try setup.client(name).fetchFile(Service.reference) {
                    ReferenceRequest(challenge: challenge.id, sha256: reference, offset: $0)
                }
            }
            #expect(refused?.code == .notFound, "\(name): \(String(describing: refused))")
        }
        let byHash = refusal {
            _ = try setup.client("acme-eval").fetchFile(Service.reference) {
                ReferenceRequest(challenge: nil, sha256: reference, offset: $0)
            }
        }
        #expect(byHash?.code == .badRequest)
        let fetched = try setup.client("globex-eval").fetchFile(Service.reference) {
            ReferenceRequest(challenge: challenge.id, sha256: reference, offset: $0)
        }
        #expect(fetched.1 == files[1])

        // Jobs: acme's evaluator and an unbound one are connected, yet globex's submission waits for globex's own.
        let acmeEvaluator = try setup.evaluator("acme-eval")
        defer { acmeEvaluator.shutdown() }
        let anyEvaluator = try setup.evaluator("eve-eval")
        defer { anyEvaluator.shutdown() }
        let ada = try setup.client("ada")
        let receipt = try submit(ada, challenge.id, "ada", "secret-answer")
        usleep(500_000)
        let waiting = try status(ada, receipt.submission)
        #expect(waiting.state == .queued)
        #expect(waiting.note == "waiting: none of the seeker's own evaluators serving pumasi.builtin is connected")
        let ownEvaluator = try setup.evaluator("globex-eval")
        defer { ownEvaluator.shutdown() }
        #expect(try settled(ada, receipt.submission).score == 1)
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(
            try store.auditTrail(action: "submission.score").filter { $0.object == receipt.submission }.map(\.principal)
                == ["globex-eval"])

        // A plugin name that globex's own evaluators serve is not acme's evaluator's to take.
        var (pluginSpec, pluginFiles) = sampleSpec(scorer: ScorerSpec(plugin: "secret-metric"))
        pluginSpec.evaluators = .own
        let pluginChallenge = try post(globex, pluginSpec, pluginFiles)
        let context = try ZMQContext()
        let impostor = try ZMQSocket(context, .dealer)
        try impostor.useCurve(setup.curve("acme-eval"))
        try impostor.connect(setup.broker.router)
        try impostor.send(MDP.worker(.ready, [Data(Service.plugin("secret-metric").utf8)]))
        var poller = ZMQPoller([impostor])
        #expect(try poller.poll(timeoutMilliseconds: 5_000) == [true])
        #expect(try impostor.receiveFrames() == MDP.worker(.disconnect))

        let refused = try store.auditTrail().filter {
            ["reference.refused", "evaluator.refused"].contains($0.action)
        }.map { "\($0.principal ?? "-") \($0.action) \($0.object)" }
        #expect(
            refused == [
                "acme-eval reference.refused \(challenge.id)", "eve-eval reference.refused \(challenge.id)",
                "acme-eval evaluator.refused \(pluginChallenge.id)",
            ])
    }

    @Test func clarificationsArePrivateUntilAnsweredForEveryone() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let (spec, files) = Self.confidentialSpec()
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)
        let ada = try setup.client("ada")
        let bob = try setup.client("bob")
        for solver in [ada, bob] {
            _ = try Self.accept(
                solver, challenge.id, try #require(try Self.show(solver, challenge.id).agreement).sha256)
        }
        func ask(_ client: BrokerClient, _ question: String) throws -> ClarificationInfo {
            try client.call(
                Service.ask, AskRequest(challenge: challenge.id, question: question), as: ClarificationInfo.self
            ).0
        }
        func answer(_ id: String, _ text: String, public: Bool) throws -> ClarificationInfo {
            try acme.call(
                Service.answer, AnswerRequest(clarification: id, answer: text, public: `public`),
                as: ClarificationInfo.self
            ).0
        }
        func listed(_ client: BrokerClient) throws -> [String] {
            try client.call(
                Service.clarifications, ChallengeRequest(challenge: challenge.id), as: ClarificationList.self
            ).0
                .clarifications.map { "\($0.asker ?? "-"): \($0.question) -> \($0.answer ?? "?")" }
        }
        let adas = try ask(ada, "May I use a calculator?")
        usleep(2_000)  // listed by the time asked, then by id: the same millisecond would leave their order to chance
        let bobs = try ask(bob, "Is the answer an integer?")
        #expect(refusal { _ = try ask(ada, "  ") }?.code == .badRequest)
        _ = try answer(adas.id, "Yes.", public: false)
        _ = try answer(bobs.id, "It is.", public: true)
        #expect(refusal { _ = try answer(bobs.id, "It is not.", public: true) }?.code == .conflict)
        #expect(
            refusal {
                _ = try bob.call(
                    Service.answer, AnswerRequest(clarification: adas.id, answer: "No", public: true),
                    as: ClarificationInfo.self)
            }?.code == .forbidden)
        #expect(try listed(ada) == ["ada: May I use a calculator? -> Yes.", "-: Is the answer an integer? -> It is."])
        #expect(try listed(bob) == ["bob: Is the answer an integer? -> It is."])
        #expect(
            try listed(acme) == ["ada: May I use a calculator? -> Yes.", "bob: Is the answer an integer? -> It is."])
        // Announced without its text: the text is for those who accepted the terms.
        let events = try ada.call(Service.events, EventsRequest(after: 0, limit: 100), as: EventLog.self).0.events
        let clarified = try #require(events.first { $0.topic == .clarified })
        #expect(clarified.challenge == challenge.id && clarified.message == bobs.id)
        let trail = try TestBackend.store(setup.dir.file("broker")).auditTrail().filter {
            $0.action.hasPrefix("clarification.")
        }.map { "\($0.principal ?? "-") \($0.action) \($0.detail ?? "")" }
        #expect(
            trail == [
                "ada clarification.ask challenge=\(challenge.id)", "bob clarification.ask challenge=\(challenge.id)",
                "acme clarification.answer private challenge=\(challenge.id)",
                "acme clarification.answer public challenge=\(challenge.id)",
            ])
    }

    /// Item 7's last part: refused handshakes are logged, rate-limited: an unknown key with its fingerprint (ZAP), and
    /// a client holding the wrong server key (the router's socket monitor: it never sends a key).
    @Test func refusedHandshakesAreLoggedEvenWithTheWrongServerKey() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIProcess(
            "pumasi-broker",
            [
                "--data-dir", dir.file("broker"), "--router", "tcp://127.0.0.1:*", "--pub", "tcp://127.0.0.1:*",
                "--log-level", "warning",
            ])
        var endpoints: [String: String] = [:]
        #expect(
            eventually {
                endpoints =
                    (try? JSONDecoder().decode(
                        [String: String].self,
                        from: FileManager.default.contents(atPath: dir.file("broker/broker.json")) ?? Data())) ?? [:]
                return endpoints["router"] != nil
            })
        let router = try #require(endpoints["router"])
        let serverKey = try CurveKeyFile.publicKey(dir.file("broker/broker.key.pub"))
        let stranger = try CurveKeyPair.generate()
        let wrongServer = try CurveKeyPair.generate().publicKey
        for (server, count) in [(serverKey, 3), (wrongServer, 3)] {
            for _ in 0..<count {
                let client = try BrokerClient(
                    endpoint: router, timeoutSeconds: 0.3, curve: CurveClient(serverKey: server, keys: stranger))
                #expect(throws: ClientError.self) {
                    _ = try client.call(Service.list, ListRequest(), as: [ChallengeInfo].self)
                }
            }
        }
        let result = broker.terminate()
        let lines = result.stderr.split(separator: "\n")
        let unknown = lines.filter { $0.contains("handshake refused") && $0.contains("unknown key") }
        #expect(unknown.count == 1, "\(result.stderr)")
        #expect(unknown.first?.contains(RefusalLog.fingerprint(stranger.publicKey)) == true)
        let wrong = lines.filter {
            $0.contains("handshake failed before any key was sent") && $0.contains("wrong server key")
        }
        // One line for the three, however many times libzmq's client retried: the rest are counted, not logged.
        #expect(wrong.count == 1, "\(result.stderr)")
        #expect(!result.stderr.contains(stranger.publicKey))
    }

    /// An invitation-only challenge's announcements never go on the PUB stream: an invited solver's relay reads them
    /// from the log (at the next gap, or its periodic check), an uninvited one's never shows them.
    @Test func anInvitationOnlyChallengeIsAnnouncedToTheInvitedAlone() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        var relays: [String: RelayHarness] = [:]
        for name in ["ada", "bob"] {
            relays[name] = try RelayHarness(
                broker: setup.broker.router, pub: setup.broker.pub, outbox: setup.dir.file("\(name)-outbox.sqlite3"),
                syncInterval: 100, curve: setup.curve(name))
        }
        defer { for relay in relays.values { relay.shutdown() } }
        let acme = try setup.client("acme")
        let (spec, files) = Self.confidentialSpec(invitationOnly: true, invite: ["ada"])
        let secret = try post(acme, spec, files)
        let (open, openFiles) = sampleSpec(title: "Open to all")
        let everyone = try post(acme, open, openFiles)
        func opened(_ name: String) -> [String] {
            relays[name]!.shown.filter { $0.topic == .opened }.map(\.challenge)
        }
        #expect(eventually { Set(opened("ada")) == [secret.id, everyone.id] }, "\(opened("ada"))")
        #expect(eventually { opened("bob") == [everyone.id] }, "\(opened("bob"))")
        // ada's came from the log; nothing about the secret challenge ever reached bob.
        #expect(relays["ada"]!.seen.contains { $0.recovered })
        usleep(300_000)
        #expect(!relays["bob"]!.shown.contains { $0.challenge == secret.id })
    }

    @Test func theKeysCommandBindsAnEvaluatorAndARotationKeepsTheBinding() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        _ = try TestBackend.store(dir.file("broker"))
        func keys(_ arguments: [String]) throws -> CLIResult {
            try CLIProcess("pumasi-broker", ["keys"] + arguments + ["--data-dir", dir.file("broker")]).finish(
                within: 30)
        }
        let pairs = try (0..<3).map { index -> String in
            let file = dir.file("k\(index).key")
            try CurveKeyFile.write(try CurveKeyPair.generate(), to: file)
            return file + ".pub"
        }
        let added = try keys(["add", "--role", "evaluator", "--name", "acme-eval", "--for", "seeker:acme", pairs[0]])
        #expect(added.termination == .exit(0), "\(added)")
        #expect(added.stdout.hasPrefix("Registered acme-eval as evaluator for seeker:acme: "), "\(added)")
        let solver = try keys(["add", "--role", "solver", "--name", "ada", "--for", "seeker:acme", pairs[1]])
        #expect(solver.termination == .exit(64) && solver.stderr.contains("--for binds evaluators only"), "\(solver)")
        let wrong = try keys(["add", "--role", "evaluator", "--name", "x-eval", "--for", "acme", pairs[1]])
        #expect(wrong.termination == .exit(64) && wrong.stderr.contains("seeker:<name> or challenge:<id>"), "\(wrong)")
        #expect(try keys(["list"]).stdout.contains("acme-eval  evaluator for seeker:acme  "))
        let rotated = try keys(["rotate", "--name", "acme-eval", pairs[2]])
        #expect(rotated.termination == .exit(0), "\(rotated)")
        let active = try TestBackend.store(dir.file("broker")).principals().filter { $0.revokedAt == nil }
        #expect(
            active.map { "\($0.name) \($0.scope.map(String.init(describing:)) ?? "-")" } == ["acme-eval seeker:acme"])
        #expect(
            try TestBackend.store(dir.file("broker")).auditTrail(action: "key.add").first?.detail?.hasSuffix(
                " for seeker:acme") == true)
    }
}
