import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

/// A home of its own for `pumasi` child processes: `HOME` and `XDG_CONFIG_HOME` in a test's directory.
struct CLIProfileHome {
    let environment: [String: String]
    /// The profile file `pumasi login` writes there.
    let file: String

    init(in dir: TempDirectory) {
        environment = ["HOME": dir.file("home"), "XDG_CONFIG_HOME": dir.file("config")]
        file = dir.file("config/pumasi/config.json")
    }

    func store() throws -> ProfileStore {
        try JSONDecoder().decode(ProfileStore.self, from: try #require(FileManager.default.contents(atPath: file)))
    }
}

extension CLITests {
    /// `pumasi login` checks the broker (one request over CURVE) and saves a 0600 profile with the broker's key copied
    /// in; later commands need no flags or variables; --profile and $PUMASI_PROFILE pick another profile; flags and
    /// variables override a profile's settings, flags over variables.
    @Test func loginSavesAProfileThatCommandsUseAndFlagsAndVariablesOverride() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["acme": "seeker", "ada": "solver"])
        defer { keyed.broker.spawned.stopGracefully() }
        let home = CLIProfileHome(in: dir)
        let router = keyed.broker.router
        func pumasi(_ arguments: [String], _ extra: [String: String] = [:]) throws -> CLIResult {
            try run("pumasi", arguments, environment: home.environment.merging(extra) { _, new in new })
        }

        let login = try pumasi([
            "login", "--broker", router, "--broker-key", keyed.brokerKeyFile, "--key", dir.file("ada.key"),
        ])
        #expect(login.termination == .exit(0), "\(login)")
        #expect(
            login.stdout.hasPrefix("Connected to \(router) with CURVE as ada, a solver (key \(dir.file("ada.key")), "),
            "\(login)")
        #expect(login.stdout.contains(": 0 open challenges.\n"), "\(login)")
        #expect(login.stdout.hasSuffix("Saved profile 'default' (the default) in \(home.file).\n"), "\(login)")
        let mode = try FileManager.default.attributesOfItem(atPath: home.file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let saved = try home.store()
        #expect(saved.defaultProfile == "default")
        #expect(
            saved.profiles["default"]
                == Profile(broker: router, brokerKey: keyed.broker.publicKey, key: dir.file("ada.key")))

        // A second profile is not the default unless it says so.
        let acme = try pumasi(
            [
                "login", "--profile", "acme", "--broker", router, "--broker-key", keyed.brokerKeyFile, "--key",
                dir.file("acme.key"),
            ])
        #expect(acme.termination == .exit(0), "\(acme)")
        #expect(acme.stdout.hasSuffix("Saved profile 'acme' in \(home.file).\n"), "\(acme)")
        #expect(try home.store().defaultProfile == "default")

        // No flags, no variables: the default profile (ada, a solver, who may not post).
        let spec = try CLIChallengeFiles(in: dir).spec
        let asAda = try pumasi(["post", spec])
        #expect(asAda.termination == .exit(1), "\(asAda)")
        #expect(asAda.stderr.hasPrefix("Error: "), "\(asAda)")
        let posted = try pumasi(["post", spec, "--json", "--profile", "acme"])
        #expect(posted.termination == .exit(0), "\(posted)")
        let id = try decode(ChallengeInfo.self, posted).id
        let listed = try decode([ChallengeInfo].self, try pumasi(["list", "--json"]))
        #expect(listed.map(\.id) == [id])
        #expect(try pumasi(["post", spec], ["PUMASI_PROFILE": "acme"]).termination == .exit(0))

        // Variables override the profile's settings, and flags override variables.
        #expect(try pumasi(["post", spec], ["PUMASI_KEY": dir.file("acme.key")]).termination == .exit(0))
        #expect(try pumasi(["post", spec, "--key", dir.file("acme.key")]).termination == .exit(0))
        let flagOverVariable = try pumasi(
            ["post", spec, "--key", dir.file("acme.key")], ["PUMASI_KEY": dir.file("ada.key")])
        #expect(flagOverVariable.termination == .exit(0), "\(flagOverVariable)")
        let variableOverProfile = try pumasi(
            ["post", spec], ["PUMASI_KEY": dir.file("ada.key"), "PUMASI_PROFILE": "acme"])
        #expect(variableOverProfile.termination == .exit(1), "\(variableOverProfile)")
        let nowhere = try pumasi(["list", "--timeout", "0.5"], ["PUMASI_BROKER": "tcp://127.0.0.1:1"])
        #expect(nowhere.stderr.hasPrefix("Error: no broker answers at tcp://127.0.0.1:1"), "\(nowhere)")
        let flagBroker = try pumasi(
            ["list", "--broker", "tcp://127.0.0.1:1", "--timeout", "0.5"], ["PUMASI_BROKER": router])
        #expect(flagBroker.stderr.hasPrefix("Error: no broker answers at tcp://127.0.0.1:1"), "\(flagBroker)")

        // A profile that does not exist is a usage error naming the ones that do.
        let unknown = try pumasi(["list", "--profile", "work"])
        #expect(unknown.termination == .exit(64), "\(unknown)")
        #expect(
            unknown.stderr.hasPrefix("Error: no profile 'work' (--profile) in \(home.file); profiles: acme, default;"),
            "\(unknown)")

        // pumasi config: list, use, show, remove.
        let list = try pumasi(["config", "list"])
        #expect(list.stdout.contains("*  default  \(router)  CURVE, key \(dir.file("ada.key"))\n"), "\(list)")
        #expect(try pumasi(["config", "use", "acme"]).stdout == "Profile 'acme' is the default.\n")
        #expect(try decode([ChallengeInfo].self, try pumasi(["list", "--json"])).count == 5)
        let shown = try pumasi(["config", "show"])
        #expect(shown.stdout.hasPrefix("Profile acme (the default)  [\(home.file)]\n"), "\(shown)")
        #expect(shown.stdout.contains("  key             \(dir.file("acme.key"))\n"), "\(shown)")
        #expect(try pumasi(["config", "remove", "default"]).termination == .exit(0))
        #expect(try home.store().profiles.keys.sorted() == ["acme"])
    }

    /// A relay is a profile without CURVE, on purpose (--insecure): a solver submits through it with --profile relay,
    /// and the relay forwards with its owner's key, from the default profile. The relay submits as its owner (the
    /// broker names the key's principal): the profile needs no solver, and a --solver naming someone else is refused.
    @Test func aRelayProfileSubmitsThroughARealRelay() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(in: dir, principals: ["acme": "seeker", "ada": "solver"])
        defer { keyed.broker.spawned.stopGracefully() }
        let home = CLIProfileHome(in: dir)
        let login = try run(
            "pumasi",
            [
                "login", "--broker", keyed.broker.router, "--broker-key", keyed.brokerKeyFile, "--key",
                dir.file("ada.key"),
            ],
            environment: home.environment)
        #expect(login.termination == .exit(0), "\(login)")
        let posted = try run("pumasi", ["post", try CLIChallengeFiles(in: dir).spec, "--json"] + keyed.as("acme"))
        let id = try decode(ChallengeInfo.self, posted).id

        // The relay itself connects with the default profile: the broker, its key, ada's key.
        let relay = try startWorker(
            [
                "relay", "--pub", keyed.broker.pub, "--listen", "tcp://127.0.0.1:*", "--outbox",
                dir.file("outbox.sqlite3"),
            ],
            ready: "relay started", environment: home.environment)
        defer { relay.stopGracefully() }
        let listen = try #require(word(after: "listen=", in: relay.stderr), "\(relay.stderr)")

        // Without --insecure (and without keys), a profile is refused: no CURVE must be said on purpose.
        let implicit = try run(
            "pumasi", ["login", "--profile", "relay", "--broker", listen], environment: home.environment)
        #expect(implicit.termination == .exit(64), "\(implicit)")
        #expect(implicit.stderr.contains("or --insecure for a broker or relay on this machine"), "\(implicit)")

        let relayLogin = try run(
            "pumasi", ["login", "--profile", "relay", "--broker", listen, "--insecure"], environment: home.environment)
        #expect(relayLogin.termination == .exit(0), "\(relayLogin)")
        #expect(
            relayLogin.stdout == """
                Connected to \(listen) without CURVE, a relay that submits as ada: 1 open challenge.
                Saved profile 'relay' in \(home.file).

                """, "\(relayLogin)")
        #expect(try home.store().profiles["relay"] == Profile(broker: listen, insecure: true))

        try dir.write("ada.csv", CLIChallengeFiles.good)
        let submitted = try run(
            "pumasi", ["submit", id, dir.file("ada.csv"), "--profile", "relay"], environment: home.environment)
        #expect(submitted.termination == .exit(0), "\(submitted)")
        let submission = try #require(word(after: "Submitted ", in: submitted.stdout), "\(submitted)")
        // Read back over CURVE with the default profile: the broker named the solver after the relay's key.
        let info = try decode(
            SubmissionInfo.self, try run("pumasi", ["status", submission, "--json"], environment: home.environment))
        #expect(info.solver == "ada" && info.challenge == id)
        let bob = try run(
            "pumasi", ["submit", id, dir.file("ada.csv"), "--profile", "relay", "--solver", "bob"],
            environment: home.environment)
        #expect(bob.termination == .exit(1), "\(bob)")
        #expect(bob.stderr.hasPrefix("Error: this relay submits as its owner, ada; --solver bob"), "\(bob)")
        let whoami = try run("pumasi", ["whoami", "--profile", "relay"], environment: home.environment)
        #expect(
            whoami.stdout == "ada, through the relay at \(listen) (its key is ada, a solver at the broker)\n",
            "\(whoami)")
    }

    /// `pumasi login` refuses what cannot work, with the reason, and saves nothing.
    @Test(arguments: [
        (
            ["--broker", "host:5555", "--insecure"], 64,
            "Error: --broker: 'host:5555' is not an endpoint such as tcp://host:5555"
        ),
        (["--broker", "tcp://host:port", "--insecure"], 64, "Error: --broker: 'tcp://host:port' is not an endpoint"),
        (
            ["--broker", "tcp://10.0.0.1:5555", "--insecure"], 64,
            "Error: --insecure is only for a broker or relay on this machine"
        ),
        (
            ["--broker", "tcp://10.0.0.1:5555", "--broker-key", "BROKER", "--key", "MISSING"], 1,
            "Error: your key (--key): cannot read key file MISSING"
        ),
        (
            ["--broker", "tcp://10.0.0.1:5555", "--broker-key", "BROKER", "--key", "BROKER"], 1,
            "Error: your key (--key): BROKER is not a secret key file"
        ),
        (
            ["--broker", "tcp://10.0.0.1:5555", "--broker-key", "MISSING", "--key", "KEY"], 1,
            "Error: the broker key: cannot read key file MISSING"
        ),
        (
            ["--broker", "tcp://10.0.0.1:5555", "--key", "KEY"], 64,
            "Error: give the broker's public key (--broker-key)"
        ),
        (
            ["--broker", "tcp://127.0.0.1:1", "--broker-key", "BROKER", "--key", "KEY", "--timeout", "0.3"], 1,
            "Error: no broker answers at tcp://127.0.0.1:1"
        ),
        (["--profile", "no/slash", "--broker", "tcp://127.0.0.1:1", "--insecure"], 64, "Error: a profile name is"),
    ])
    func loginRefusesWhatCannotWork(arguments: [String], code: Int32, message: String) throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("me.key"))
        let names = ["BROKER": dir.file("me.key.pub"), "KEY": dir.file("me.key"), "MISSING": dir.file("missing.key")]
        func resolved(_ text: String) -> String {
            names.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }
        let home = CLIProfileHome(in: dir)
        let result = try run("pumasi", ["login"] + arguments.map(resolved), environment: home.environment)
        #expect(result.termination == .exit(code), "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.hasPrefix(resolved(message)), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: home.file), "\(result)")
    }
}

extension CLITests {
    /// `pumasi config set` changes only what it is given, with the checks `login` makes, and asks no broker.
    @Test func configSetChangesAProfileWithLoginsChecks() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try CurveKeyFile.write(try CurveKeyPair.generate(), to: dir.file("me.key"))
        let home = CLIProfileHome(in: dir)
        func config(_ arguments: String...) throws -> CLIResult {
            try run("pumasi", ["config"] + arguments, environment: home.environment)
        }
        let empty = try config("list")
        #expect(empty.stdout == "No profiles in \(home.file). Save one with: pumasi login --broker <endpoint> …\n")

        let added = try config("set", "local", "--broker", "tcp://127.0.0.1:5560", "--insecure", "--solver", "ada")
        #expect(added.stdout == "Added profile 'local' (the default) in \(home.file).\n", "\(added)")
        // Back to CURVE needs both keys.
        let half = try config("set", "local", "--curve", "--key", dir.file("me.key"))
        #expect(half.termination == .exit(64), "\(half)")
        #expect(half.stderr.hasPrefix("Error: give the broker's public key (--broker-key)"), "\(half)")
        let curve = try config(
            "set", "local", "--curve", "--key", dir.file("me.key"), "--broker-key", dir.file("me.key.pub"),
            "--solver", "")
        #expect(curve.stdout == "Changed profile 'local' (the default) in \(home.file).\n", "\(curve)")
        let pair = try CurveKeyFile.readPair(dir.file("me.key"))
        #expect(
            try home.store().profiles["local"]
                == Profile(broker: "tcp://127.0.0.1:5560", brokerKey: pair.publicKey, key: dir.file("me.key")))
        let remote = try config("set", "local", "--broker", "tcp://10.0.0.1:5555", "--insecure")
        #expect(remote.termination == .exit(64), "\(remote)")
        #expect(try home.store().profiles["local"]?.broker == "tcp://127.0.0.1:5560")

        let unknown = try config("use", "work")
        #expect(unknown.termination == .exit(1), "\(unknown)")
        #expect(unknown.stderr.hasPrefix("Error: no profile 'work' in \(home.file); profiles: local;"), "\(unknown)")
    }
}
