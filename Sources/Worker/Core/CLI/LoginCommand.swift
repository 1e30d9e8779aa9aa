import Foundation
import PumasiShared

/// `pumasi login`: checks a broker's endpoint and keys, asks the broker once, and saves them as a profile.
enum LoginCommand: Command {
    /// `--profile` names the profile to write, which need not exist yet.
    static let readsProfile = false
    static let spec = CommandSpec(
        name: "pumasi login", abstract: "Save a profile (broker, its key, yours), checked with the broker.",
        discussion: """
            Later commands use the profile, so they need no flags or $PUMASI_* variables: the one --profile or
            $PUMASI_PROFILE names, else the default one. Flags and variables still override its settings. The file is
            $XDG_CONFIG_HOME/pumasi/config.json (else ~/.config/pumasi/config.json), mode 0600. The broker's public
            key is copied in; your secret key stays in its file, which the profile names. What no option gives comes
            from $PUMASI_BROKER, $PUMASI_BROKER_KEY, $PUMASI_KEY and $PUMASI_SOLVER. Before saving, one request (the
            list of open challenges) checks that the broker answers and takes your key, and the broker names you (your
            principal and role; a relay, its owner); --no-check skips it. A relay,
            or a keyless broker on this machine, is a profile with --insecure: no CURVE, on purpose. The first
            profile saved becomes the default; see pumasi config, and docs/cli.md.
            """,
        options: [
            .init(
                "profile", value: "name",
                help: "The profile to save. Default: $PUMASI_PROFILE, the default one, or \"default\"."),
            .init(
                "broker", short: "b", value: "endpoint",
                help:
                    "Broker (or relay) endpoint, or a comma-separated list of brokers. Default: $PUMASI_BROKER or \(CommandContext.defaultBroker)."
            ),
            .init(
                "broker-key", value: "key|file",
                help: "The broker's public key, or its .pub file (the key is copied in). Default: $PUMASI_BROKER_KEY."),
            .init(
                "key", short: "k", value: "file", help: "Your secret key file (pumasi keygen). Default: $PUMASI_KEY."),
            .init(
                "insecure", help: "No CURVE, on purpose: a relay, or a broker started with --insecure, on this machine."
            ),
            .init(
                "solver", short: "s", value: "name",
                help: "Your name for brokers without CURVE. Default: $PUMASI_SOLVER."),
            .init(
                "pub", value: "endpoint", help: "The broker's PUB endpoint(s), for pumasi relay. Default: $PUMASI_PUB."),
            .init("default", help: "Make it the default profile."),
            .init("no-check", help: "Save without asking the broker."),
            .init("timeout", value: "seconds", help: "How long the check waits for the broker. Default: 5."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let a = context.arguments
        let path = ProfileStore.path(context.environment)
        var store = try ProfileStore.load(path)
        let name = try profileName(context, store: store)
        let profile = try profile(context)
        var checked: String?
        if !a.flag("no-check") { checked = try check(profile, context) }
        store.profiles[name] = profile
        if a.flag("default") || store.defaultProfile.map({ store.profiles[$0] == nil }) ?? true {
            store.defaultProfile = name
        }
        try store.save(path)
        if let checked { context.console.out(checked) }
        let role = store.defaultProfile == name ? " (the default)" : ""
        context.console.out(
            "Saved profile '\(name)'\(role) in \(path)"
                + (checked == nil ? " without checking it with the broker." : "."))
        return 0
    }

    /// --profile, else $PUMASI_PROFILE, else the default profile's name, else `default`.
    static func profileName(_ context: CommandContext, store: ProfileStore) throws(UsageError) -> String {
        let name =
            context.arguments.value("profile") ?? nonEmpty(context.environment["PUMASI_PROFILE"]) ?? store
            .defaultProfile
            ?? "default"
        guard ProfileStore.isValidName(name) else {
            throw UsageError(
                "a profile name is 1 to 64 letters, digits, '.', '_' and '-', not '\(name)'", usage: context.usage)
        }
        return name
    }

    /// The profile the options (else the variables) describe, checked: endpoints, key files, their keys.
    static func profile(_ context: CommandContext) throws -> Profile {
        let a = context.arguments
        let environment = context.environment
        let insecure = a.flag("insecure")
        var profile = Profile(
            broker: a.value("broker") ?? nonEmpty(environment["PUMASI_BROKER"]) ?? CommandContext.defaultBroker,
            solver: a.value("solver") ?? nonEmpty(environment["PUMASI_SOLVER"]),
            pub: a.value("pub") ?? nonEmpty(environment["PUMASI_PUB"]), insecure: insecure ? true : nil)
        // --insecure stands for itself: it takes no key from the variables (a key given as an option is an error).
        let brokerKey = a.value("broker-key") ?? (insecure ? nil : nonEmpty(environment["PUMASI_BROKER_KEY"]))
        let key = a.value("key") ?? (insecure ? nil : nonEmpty(environment["PUMASI_KEY"]))
        if let brokerKey {
            do {
                profile.brokerKey = try CurveKeyFile.publicKey(brokerKey)
            } catch {
                throw CommandFailure("the broker key: \(error)")
            }
        }
        if let key {
            profile.key = URL(fileURLWithPath: (key as NSString).expandingTildeInPath).standardizedFileURL.path
        }
        try profile.validate(usage: context.usage)
        return profile
    }

    /// Asks the broker for its open challenges with the profile's settings; what to tell the user on success.
    static func check(_ profile: Profile, _ context: CommandContext) throws -> String {
        var timeout = 5.0
        if let text = context.arguments.value("timeout") {
            guard let value = Double(text), value > 0, value <= 3600 else {
                throw UsageError("--timeout must be a number of seconds between 0 and 3600", usage: context.usage)
            }
            timeout = value
        }
        var curve: CurveClient?
        if let brokerKey = profile.brokerKey, let key = profile.key {
            curve = CurveClient(serverKey: brokerKey, keys: try CurveKeyFile.readPair(key))
        }
        let client = try BrokerClient(endpoint: profile.broker, timeoutSeconds: timeout, curve: curve)
        let why =
            curve == nil
            ? "is a broker (started with --insecure) or a relay listening there?"
            : "is it running there, is --broker-key its key, and has its operator added yours (pumasi-broker keys add)?"
        let reply = Result { () throws(ClientError) -> [ChallengeInfo] in
            try client.call(Service.list, ListRequest(state: .open, limit: 1), as: [ChallengeInfo].self).0
        }
        switch reply {
        case .failure(.timeout):
            throw CommandFailure(
                "no reply from \(profile.broker) within \(Format.score(timeout)) s: \(why) "
                    + "Nothing was saved; --no-check saves the profile without asking the broker.")
        case .failure(.server): break
        case .failure(let error):
            throw CommandFailure("\(error). Nothing was saved; --no-check saves the profile without asking the broker.")
        case .success: break
        }
        // Who the broker takes the user to be (a broker without pumasi.whoami names nobody: the key file says).
        let identity = try? client.call(Service.whoami, Empty(), as: Identity.self).0
        // An evaluator may not list challenges: the broker naming its key is the check.
        let open: [ChallengeInfo]?
        switch reply {
        case .success(let list): open = list
        case .failure(.server(let error)) where error.code == .forbidden && identity?.name != nil: open = nil
        case .failure(let error): throw error
        }
        var who = "without CURVE as \(profile.solver ?? context.environment["USER"] ?? "nobody (give --solver)")"
        if let owner = identity?.relayOwner {
            who = "without CURVE, a relay that submits as \(owner)"
        } else if let curve, let key = profile.key {
            let publicKey = "public key \(curve.keys.publicKey.prefix(8))…"
            who =
                identity?.principal.map { "with CURVE as \($0) (key \(key), \(publicKey))" }
                ?? "with CURVE as the holder of \(key) (\(publicKey))"
        }
        let count =
            open.map { "\($0.count) open challenge\($0.count == 1 ? "" : "s")" }
            ?? "\(identity?.role?.rawValue ?? "its role")s list no challenges"
        return "Connected to \(profile.broker) \(who): \(count)."
    }

    private static func nonEmpty(_ text: String?) -> String? { text?.isEmpty == false ? text : nil }
}
