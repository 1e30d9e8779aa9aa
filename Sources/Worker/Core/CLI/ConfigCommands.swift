import Foundation
import PumasiShared

/// `pumasi config`: the group; its subcommands read and edit the profile file (`ProfileStore`) that `pumasi login`
/// writes.
enum ConfigCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config", abstract: "List, show, edit, choose and remove the profiles pumasi login saves.",
        discussion: """
            The profiles are in $XDG_CONFIG_HOME/pumasi/config.json (else ~/.config/pumasi/config.json). Commands
            use the one --profile or $PUMASI_PROFILE names, else the default one; flags and $PUMASI_* variables
            override its settings. See docs/cli.md.
            """,
        subcommands: [
            ("list", ConfigListCommand.spec.abstract), ("show", ConfigShowCommand.spec.abstract),
            ("set", ConfigSetCommand.spec.abstract), ("use", ConfigUseCommand.spec.abstract),
            ("remove", ConfigRemoveCommand.spec.abstract),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        context.console.out(spec.help)
        return 0
    }

    static let jsonOption = CommandSpec.Option("json", help: "Print JSON for scripts instead of text for people.")

    /// The store, its path, and the named profile (the argument, else $PUMASI_PROFILE, else the default one).
    static func named(_ context: CommandContext) throws -> (ProfileStore, String, String) {
        let path = ProfileStore.path(context.environment)
        let store = try ProfileStore.load(path)
        let environment = context.environment["PUMASI_PROFILE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let name = context.arguments[argument: "profile"] ?? environment ?? store.defaultProfile else {
            throw CommandFailure("no profile is chosen and none is the default in \(path)\(store.known)")
        }
        guard store.profiles[name] != nil else {
            throw CommandFailure(
                "no profile '\(name)' in \(path)\(store.known); create it with: pumasi login --profile \(name) …")
        }
        return (store, path, name)
    }
}

enum ConfigListCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config list", abstract: "List the profiles; * marks the default.",
        options: [ConfigCommand.jsonOption])

    static func run(_ context: CommandContext) throws -> Int32 {
        let path = ProfileStore.path(context.environment)
        let store = try ProfileStore.load(path)
        if context.json {
            context.console.json(store)
            return 0
        }
        guard !store.profiles.isEmpty else {
            context.console.out("No profiles in \(path). Save one with: pumasi login --broker <endpoint> …")
            return 0
        }
        var table = Table(headers: ["", "PROFILE", "BROKER", "AUTHENTICATION"])
        for (name, profile) in store.profiles.sorted(by: { $0.key < $1.key }) {
            table.rows.append([store.defaultProfile == name ? "*" : " ", name, profile.broker, profile.authentication])
        }
        context.console.out(table.rendered)
        return 0
    }
}

enum ConfigShowCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config show", abstract: "Show a profile's settings.",
        arguments: [
            .init("profile", help: "The profile. Default: $PUMASI_PROFILE or the default one.", optional: true)
        ],
        options: [ConfigCommand.jsonOption])

    static func run(_ context: CommandContext) throws -> Int32 {
        let (store, path, name) = try ConfigCommand.named(context)
        let profile = store.profiles[name]!
        if context.json {
            context.console.json(profile)
            return 0
        }
        var text = "Profile \(name)\(store.defaultProfile == name ? " (the default)" : "")  [\(path)]\n"
        text += "  broker          \(profile.broker)\n"
        if profile.insecure == true {
            text += "  CURVE           none, on purpose (insecure)\n"
        } else {
            text += "  broker key      \(profile.brokerKey ?? "-")\n"
            text += "  key             \(profile.key ?? "-")\n"
        }
        if let solver = profile.solver { text += "  solver          \(solver)\n" }
        if let pub = profile.pub { text += "  pub             \(pub)\n" }
        context.console.out(text)
        return 0
    }
}

enum ConfigSetCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config set", abstract: "Change a profile's settings (or add one) without asking the broker.",
        discussion: """
            Only the options given change; the profile must still have a broker key and a key, or be --insecure.
            --curve undoes --insecure (give --broker-key and --key with it). An empty value (--solver '') removes a
            setting. Checks endpoints and key files as pumasi login does; pumasi login also asks the broker.
            """,
        arguments: [.init("profile", help: "The profile to change or add.")],
        options: [
            .init("broker", short: "b", value: "endpoint", help: "Broker (or relay) endpoint(s)."),
            .init("broker-key", value: "key|file", help: "The broker's public key, or its .pub file (copied in)."),
            .init("key", short: "k", value: "file", help: "Your secret key file."),
            .init("insecure", help: "No CURVE, on purpose (removes the broker key and key)."),
            .init("curve", help: "CURVE again, after --insecure."),
            .init("solver", short: "s", value: "name", help: "Your name for brokers without CURVE."),
            .init("pub", value: "endpoint", help: "The broker's PUB endpoint(s), for pumasi relay."),
            .init("default", help: "Make it the default profile."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let a = context.arguments
        let name = a[argument: "profile"] ?? ""
        guard ProfileStore.isValidName(name) else {
            throw UsageError(
                "a profile name is 1 to 64 letters, digits, '.', '_' and '-', not '\(name)'", usage: spec.usage)
        }
        guard !(a.flag("insecure") && a.flag("curve")) else {
            throw UsageError("--insecure and --curve exclude each other", usage: spec.usage)
        }
        let path = ProfileStore.path(context.environment)
        var store = try ProfileStore.load(path)
        let existed = store.profiles[name] != nil
        var profile = store.profiles[name] ?? Profile(broker: CommandContext.defaultBroker)
        func given(_ option: String) -> String?? { a.value(option).map { $0.isEmpty ? nil : $0 } }
        if let broker = a.value("broker") { profile.broker = broker }
        if let solver = given("solver") { profile.solver = solver }
        if let pub = given("pub") { profile.pub = pub }
        if a.flag("insecure") {
            profile.insecure = true
            profile.brokerKey = nil
            profile.key = nil
        }
        if a.flag("curve") { profile.insecure = nil }
        if let brokerKey = given("broker-key") {
            do {
                profile.brokerKey = try brokerKey.map(CurveKeyFile.publicKey)
            } catch {
                throw CommandFailure("the broker key: \(error)")
            }
        }
        if let key = given("key") {
            profile.key = key.map {
                URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath).standardizedFileURL.path
            }
        }
        try profile.validate(usage: spec.usage)
        store.profiles[name] = profile
        if a.flag("default") || store.defaultProfile.map({ store.profiles[$0] == nil }) ?? true {
            store.defaultProfile = name
        }
        try store.save(path)
        let role = store.defaultProfile == name ? " (the default)" : ""
        context.console.out("\(existed ? "Changed" : "Added") profile '\(name)'\(role) in \(path).")
        return 0
    }
}

enum ConfigUseCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config use", abstract: "Make a profile the default.",
        arguments: [.init("profile", help: "The profile.")])

    static func run(_ context: CommandContext) throws -> Int32 {
        var (store, path, name) = try ConfigCommand.named(context)
        store.defaultProfile = name
        try store.save(path)
        context.console.out("Profile '\(name)' is the default.")
        return 0
    }
}

enum ConfigRemoveCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi config remove", abstract: "Remove a profile (its key files stay where they are).",
        arguments: [.init("profile", help: "The profile.")])

    static func run(_ context: CommandContext) throws -> Int32 {
        var (store, path, name) = try ConfigCommand.named(context)
        store.profiles[name] = nil
        let wasDefault = store.defaultProfile == name
        if wasDefault { store.defaultProfile = nil }
        try store.save(path)
        context.console.out(
            "Removed profile '\(name)'."
                + (wasDefault ? " There is no default profile now: choose one with pumasi config use <profile>." : ""))
        return 0
    }
}
