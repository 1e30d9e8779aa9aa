import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A CLI broker with CURVE on, and a key file for each principal registered before it started.
struct CLIKeyedBroker {
    let broker: CLIBroker
    let dir: TempDirectory
    /// The broker's public key file, written to its data directory.
    let brokerKeyFile: String

    /// Registers each `name: role` with `pumasi-broker keys add`, then starts the broker without --insecure (and
    /// with `extra` options).
    init(in dir: TempDirectory, principals: KeyValuePairs<String, String>, extra: [String] = []) throws {
        let data = dir.file("broker")
        for (name, role) in principals {
            let keys = try CurveKeyPair.generate()
            try CurveKeyFile.write(keys, to: dir.file("\(name).key"))
            // The .pub file, not the key itself: a Z85 key may begin with '-', which reads as an option.
            let added = try CLIProcess(
                "pumasi-broker",
                ["keys", "add", "--data-dir", data, "--role", role, "--name", name, dir.file("\(name).key.pub")]
            ).finish(within: 30)
            guard added.termination == .exit(0) else { throw CLITestFailure("keys add \(name): \(added)") }
        }
        broker = try CLIBroker(dataDirectory: data, insecure: false, extra: extra)
        brokerKeyFile = (data as NSString).appendingPathComponent("broker.key.pub")
        self.dir = dir
    }

    /// The options that make `pumasi` speak to the broker as `name`; the broker's key by its file, never as Z85
    /// text (which may begin with '-').
    func `as`(_ name: String) -> [String] {
        ["--broker", broker.router, "--broker-key", brokerKeyFile, "--key", dir.file("\(name).key")]
    }
}

extension CLITests {
    /// Writes a challenge with a licence agreement read from `terms.md` beside the spec.
    func confidentialSpec(in dir: TempDirectory) throws -> String {
        try dir.write("train.csv", CLIChallengeFiles.publicText)
        try dir.write("truth.csv", CLIChallengeFiles.truth)
        try dir.write("terms.md", "Keep the recordings to yourself.\nThe seeker may use the winning solution.\n")
        return try dir.write(
            "secret.json",
            """
            {"title": "Secret sounds", "summary": "Classify a partner's animal sounds.",
             "description": "The recordings are in train.csv.", "deadline": "+2h",
             "award": {"amount": 500, "currency": "USD"},
             "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
             "agreement": {"kind": "licence", "file": "terms.md"},
             "files": [{"path": "train.csv", "role": "public"}, {"path": "truth.csv", "role": "reference"}]}
            """)
    }

    /// A solver sees a confidential challenge's summary and terms only; once they accept (by the SHA-256 shown),
    /// they see its description, download its files and submit; new terms lock them out until they accept again.
    @Test func aConfidentialChallengeIsWithheldUntilItsAgreementIsAccepted() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["acme": "seeker", "ada": "solver", "bob": "solver"])
        defer { keyed.broker.spawned.stopGracefully() }
        let posted = try run("pumasi", ["post", try confidentialSpec(in: dir)] + keyed.as("acme"))
        let id = try #require(word(after: "Posted ", in: posted.stdout)?.dropLast().description, "\(posted)")
        let info = try decode(ChallengeInfo.self, try run("pumasi", ["show", id, "--json"] + keyed.as("acme")))
        let agreement = try #require(info.agreement)
        #expect(
            agreement.sha256 == SHA256.hex(try #require(FileManager.default.contents(atPath: dir.file("terms.md")))))
        #expect(
            posted.stdout.hasSuffix(
                "\n  agreement licence, version 1, sha256 \(String(agreement.sha256.prefix(12)))\n"),
            "\(posted)")

        let withheld = try run("pumasi", ["show", id] + keyed.as("ada"))
        #expect(
            withheld.stdout.hasPrefix(
                """
                Secret sounds  [\(id), open]

                Classify a partner's animal sounds.

                The description and files are withheld until you accept the agreement (licence, version 1): \
                accept with: pumasi accept \(id)

                """), "\(withheld)")
        #expect(!withheld.stdout.contains("The recordings are in train.csv."), "\(withheld)")
        #expect(
            withheld.stdout.contains(
                "  agreement     version 1: \(AgreementKind.licence.display); sha256 \(String(agreement.sha256.prefix(12))); "
                    + "not accepted\n"), "\(withheld)")
        #expect(withheld.stdout.hasSuffix("The seeker may use the winning solution.\n"), "\(withheld)")

        let download = try run("pumasi", ["download", id, "-o", dir.file("out")] + keyed.as("ada"))
        #expect(download.termination == .exit(1), "\(download)")
        #expect(
            download.stderr
                == "Error: the files of \(id) are withheld until you accept its agreement: read it and accept it "
                + "with `pumasi accept \(id)`\n", "\(download)")

        let unasked = try run("pumasi", ["accept", id] + keyed.as("ada"))
        #expect(unasked.termination == .exit(1), "\(unasked)")
        #expect(unasked.stderr == "Error: stdin is not a terminal: use --yes to accept without a prompt\n")
        #expect(unasked.stdout.contains("  sha256   \(agreement.sha256)\n"), "\(unasked)")
        #expect(try run("pumasi", ["show", id] + keyed.as("ada")).stdout.contains("not accepted"))

        let accepted = try run("pumasi", ["accept", id, "--yes"] + keyed.as("ada"))
        #expect(accepted.termination == .exit(0), "\(accepted)")
        #expect(
            accepted.stdout.hasSuffix(
                "\nAccepted the agreement of \(id) (version 1, sha256 \(String(agreement.sha256.prefix(12)))). "
                    + "You may now download its files and submit.\n"), "\(accepted)")
        let shown = try run("pumasi", ["show", id] + keyed.as("ada"))
        #expect(shown.stdout.contains("\n\nThe recordings are in train.csv.\n\n"), "\(shown)")
        #expect(shown.stdout.contains("sha256 \(String(agreement.sha256.prefix(12))); accepted\n"), "\(shown)")
        let downloaded = try run("pumasi", ["download", id, "-o", dir.file("out")] + keyed.as("ada"))
        #expect(downloaded.termination == .exit(0), "\(downloaded)")
        #expect(try String(contentsOfFile: dir.file("out/train.csv"), encoding: .utf8) == CLIChallengeFiles.publicText)
        try dir.write("ada.csv", CLIChallengeFiles.good)
        let submitted = try run("pumasi", ["submit", id, dir.file("ada.csv")] + keyed.as("ada"))
        #expect(submitted.stdout.hasPrefix("Submitted sub_"), "\(submitted)")

        try dir.write("terms-2.md", "Everything you make for this challenge is the seeker's on award.\n")
        let replaced = try run(
            "pumasi", ["terms", id, dir.file("terms-2.md"), "--kind", "ip-transfer"] + keyed.as("acme"))
        let newHash = SHA256.hex(Data("Everything you make for this challenge is the seeker's on award.\n".utf8))
        #expect(
            replaced.stdout == """
                The agreement of \(id) is now version 2 (ip-transfer), sha256 \(newHash).
                  Solvers accept it again before they see the details or submit.

                """, "\(replaced)")
        let locked = try run("pumasi", ["submit", id, dir.file("ada.csv")] + keyed.as("ada"))
        #expect(locked.termination == .exit(1), "\(locked)")
        #expect(
            locked.stderr.hasPrefix(
                "Error: you may not submit to \(id) yet: the agreement of \(id) changed (version 2; you accepted "
                    + "version 1)"), "\(locked)")
        #expect(
            try run("pumasi", ["show", id] + keyed.as("ada")).stdout.contains(
                "; you accepted version 1; the terms changed\n"))
        #expect(try run("pumasi", ["accept", id, "--yes"] + keyed.as("ada")).termination == .exit(0))
        let again = try run("pumasi", ["submit", id, dir.file("ada.csv")] + keyed.as("ada"))
        #expect(again.stdout.hasPrefix("Submitted sub_"), "\(again)")

        // Clarifications: asked by ada, answered publicly, read by bob once he accepted the terms.
        let asked = try decode(
            ClarificationInfo.self, try run("pumasi", ["ask", id, "Is row 4 a bird?", "--json"] + keyed.as("ada")))
        let pending = try run("pumasi", ["clarifications", id] + keyed.as("acme"))
        #expect(
            pending.stdout == """
                \(asked.id)  asked \(WallClock.iso(asked.askedAt)) by ada  private
                  Q: Is row 4 a bird?
                  A: unanswered

                """, "\(pending)")
        let answered = try run("pumasi", ["answer", asked.id, "Yes: it has wings.", "--public"] + keyed.as("acme"))
        #expect(
            answered.stdout == "Answered \(asked.id) publicly: everyone who may see \(id) reads it.\n", "\(answered)")
        let beforeAccepting = try run("pumasi", ["clarifications", id] + keyed.as("bob"))
        #expect(beforeAccepting.stdout == "No clarifications for \(id).\n", "\(beforeAccepting)")
        #expect(try run("pumasi", ["accept", id, "--yes"] + keyed.as("bob")).termination == .exit(0))
        let bob = try run("pumasi", ["clarifications", id] + keyed.as("bob"))
        #expect(
            bob.stdout == """
                \(asked.id)  asked \(WallClock.iso(asked.askedAt))  public
                  Q: Is row 4 a bird?
                  A: Yes: it has wings.

                """, "\(bob)")
    }

    /// An invitation-only challenge is hidden from the uninvited; a token admits one solver once; a revoked
    /// invitation hides it again.
    @Test func anInvitationOnlyChallengeIsJoinedWithATokenFromInvite() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(
            in: dir, principals: ["acme": "seeker", "ada": "solver", "bob": "solver", "cy": "solver"])
        defer { keyed.broker.spawned.stopGracefully() }
        try dir.write("answer.txt", "42")
        let spec = try dir.write(
            "invited.json",
            """
            {"title": "By invitation", "description": "Only for friends.", "deadline": "+2h",
             "invitationOnly": true, "invite": ["ada"], "award": {"amount": 50, "currency": "USD"},
             "scorer": {"builtin": "exact"}, "files": [{"path": "answer.txt", "role": "reference"}]}
            """)
        let posted = try run("pumasi", ["post", spec] + keyed.as("acme"))
        #expect(posted.stdout.hasSuffix("\n  access    invitation only\n  invited   ada\n"), "\(posted)")
        let id = try #require(word(after: "Posted ", in: posted.stdout)?.dropLast().description, "\(posted)")
        let hidden = try run("pumasi", ["show", id] + keyed.as("bob"))
        #expect(hidden.termination == .exit(1) && hidden.stderr == "Error: no challenge \(id)\n", "\(hidden)")
        #expect(try run("pumasi", ["show", id] + keyed.as("ada")).stdout.contains("\n  access        invitation only"))

        let made = try run("pumasi", ["invite", id, "--tokens", "1"] + keyed.as("acme"))
        let list = try decode(InvitationList.self, try run("pumasi", ["invite", id, "--json"] + keyed.as("acme")))
        let tokenID = try #require(list.tokens.first?.id)
        #expect(list.tokens.count == 1 && list.tokens[0].token == nil, "a token is shown only once: \(list)")
        #expect(made.stdout.contains("\(tokenID)  \(WallClock.iso(list.tokens[0].createdAt))  unused"), "\(made)")
        #expect(
            made.stdout.contains(
                "\nNew tokens, shown this once: hand each to one invitee out of band; they run "
                    + "`pumasi join \(id) TOKEN`.\n  \(tokenID)  pmi_"), "\(made)")
        let token = try #require(word(after: "\(tokenID)  pmi_", in: made.stdout).map { "pmi_" + $0 })

        let joined = try run("pumasi", ["join", id, token] + keyed.as("bob"))
        #expect(joined.stdout == "Joined \(id): By invitation.\n", "\(joined)")
        #expect(try run("pumasi", ["show", id] + keyed.as("bob")).termination == .exit(0))
        let reused = try run("pumasi", ["join", id, token] + keyed.as("cy"))
        #expect(reused.termination == .exit(1) && reused.stderr == "Error: no challenge \(id)\n", "\(reused)")

        let changed = try run("pumasi", ["invite", id, "cy", "dee", "--revoke", "bob"] + keyed.as("acme"))
        #expect(changed.termination == .exit(0), "\(changed)")
        let lines = changed.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.first == "Invited to \(id):", "\(changed)")
        #expect(lines.contains { $0.hasPrefix("ada by name ") && $0.hasSuffix(" active") }, "\(changed)")
        #expect(lines.contains { $0.hasPrefix("bob token \(tokenID) ") && $0.contains(" revoked ") }, "\(changed)")
        #expect(lines.contains { $0.hasPrefix("cy by name ") && $0.hasSuffix(" active") }, "\(changed)")
        #expect(lines.contains { $0.hasPrefix("dee by name ") && $0.hasSuffix(" active") }, "\(changed)")
        #expect(lines.contains { $0.hasPrefix("\(tokenID) ") && $0.contains(" redeemed by bob ") }, "\(changed)")
        #expect(try run("pumasi", ["show", id] + keyed.as("bob")).stderr == "Error: no challenge \(id)\n")
        #expect(try run("pumasi", ["show", id] + keyed.as("cy")).termination == .exit(0))
    }

    /// Without keys the agreement binds the name a solver gives (`--solver`), as `submit --solver` does.
    @Test func withoutKeysTheAgreementBindsTheSolversName() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let broker = try CLIBroker(dataDirectory: dir.file("broker"))
        defer { broker.spawned.stopGracefully() }
        let b = ["--broker", broker.router]
        let id = try decode(
            ChallengeInfo.self, try run("pumasi", ["post", try confidentialSpec(in: dir), "--json"] + b)
        ).id
        try dir.write("ada.csv", CLIChallengeFiles.good)
        let refused = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada"] + b)
        #expect(refused.termination == .exit(1), "\(refused)")
        #expect(
            refused.stderr
                == "Error: ada may not submit to \(id) yet: accept its agreement (version 1) with `pumasi accept \(id)`\n",
            "\(refused)")
        let accepted = try decode(
            ChallengeInfo.self, try run("pumasi", ["accept", id, "--yes", "--solver", "ada", "--json"] + b))
        #expect(accepted.id == id && accepted.agreement?.version == 1)
        let submitted = try run("pumasi", ["submit", id, dir.file("ada.csv"), "--solver", "ada"] + b)
        #expect(submitted.stdout.hasPrefix("Submitted sub_"), "\(submitted)")
        let asked = try run("pumasi", ["ask", id, "--file", dir.file("terms.md"), "--solver", "ada"] + b)
        #expect(
            asked.stdout.hasPrefix("Asked clr_")
                && asked.stdout.hasSuffix(" about \(id). Its answer will be in: pumasi clarifications \(id)\n"),
            "\(asked)")

        let noAgreement = try decode(
            ChallengeInfo.self, try run("pumasi", ["post", CLIChallengeFiles(in: dir).spec, "--json"] + b))
        let none = try run("pumasi", ["accept", noAgreement.id, "--yes", "--solver", "ada"] + b)
        #expect(
            none.termination == .exit(1) && none.stderr == "Error: \(noAgreement.id) has no agreement to accept\n",
            "\(none)")
        let jsonWithoutYes = try run("pumasi", ["accept", id, "--json", "--solver", "ada"] + b)
        #expect(jsonWithoutYes.termination == .exit(64), "\(jsonWithoutYes)")
    }

    /// A spec's agreement gives its text or a file, not both, and the file must exist.
    @Test func aSpecFilesAgreementNeedsTextOrAReadableFile() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let nowhere = ["--broker", "tcp://127.0.0.1:1", "--timeout", "0.5"]
        for (agreement, message) in [
            (
                #"{"kind": "licence", "text": "t", "file": "terms.md"}"#,
                "agreement: give \"text\" or \"file\", not both"
            ),
            (#"{"kind": "licence"}"#, "agreement: give its \"text\", or a \"file\" holding it"),
            (#"{"kind": "licence", "file": "missing.md"}"#, "cannot read agreement file missing.md as UTF-8 text"),
            (#"{"kind": "nda", "text": "t"}"#, "field \"agreement.kind\" is invalid"),
        ] {
            try dir.write(
                "spec.json",
                """
                {"title": "t", "description": "d", "deadline": "+1h", "award": {"amount": 1, "currency": "USD"},
                 "scorer": {"builtin": "exact"}, "agreement": \(agreement)}
                """)
            let result = try run("pumasi", ["post", "spec.json"] + nowhere, in: dir.path)
            #expect(result.termination == .exit(1), "\(agreement): \(result)")
            #expect(result.stderr == "Error: spec.json: \(message)\n", "\(agreement): \(result)")
        }
    }

    /// `invite` takes any number of names after the challenge; option values stay with their options.
    @Test(arguments: [
        (["ch_x"], [String]()), (["ch_x", "ada"], ["ada"]), (["ch_x", "ada", "--tokens", "2", "bob"], ["ada", "bob"]),
        (["ch_x", "--revoke", "cy", "ada", "--revoke-token=inv_1", "--", "--dee"], ["ada", "--dee"]),
    ])
    func inviteTakesAnyNumberOfNames(arguments: [String], names: [String]) throws {
        let parsed = try InviteCommand.parse(arguments)
        #expect(parsed[argument: "challenge"] == "ch_x")
        #expect(parsed.all("names") == names, "\(arguments)")
        #expect(parsed.all("revoke") == (arguments.contains("cy") ? ["cy"] : []))
        #expect(throws: UsageError.self) { try InviteCommand.parse([]) }
    }

    @Test func theConfidentialCommandsHaveHelp() throws {
        let top = try pumasi("--help")
        for name in ["accept", "terms", "invite", "join", "ask", "answer", "clarifications"] {
            #expect(top.stdout.contains("\n  \(name) "), "subcommand \(name) missing from --help")
        }
        let invite = try pumasi("help", "invite")
        #expect(invite.stdout.contains("USAGE: pumasi invite [<options>] <challenge> [<names>]\n"), "\(invite)")
        #expect(invite.stdout.contains("--revoke-token <inv_…>"), "\(invite)")
        let accept = try pumasi("accept", "--help")
        #expect(accept.stdout.contains("USAGE: pumasi accept [<options>] <challenge>\n"), "\(accept)")
        #expect(accept.stdout.contains("-y, --yes "), "\(accept)")
    }
}
