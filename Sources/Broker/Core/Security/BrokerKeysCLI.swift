import Foundation
import PumasiShared

/// `pumasi-broker keys add|list|rotate|revoke`: manages the principals in a broker's store. It works on the data
/// directory directly, with the broker running or not; a running broker notices the change before its next
/// pass, and a revocation refuses the key's next request on a live connection.
enum BrokerKeysCLI {
    static let spec = CommandSpec(
        name: "pumasi-broker keys", abstract: "Register, list and revoke the keys that may use this broker.",
        discussion: """
            pumasi-broker keys add --role <role> --name <name> [--for seeker:<name>|challenge:<id>] <public key or .pub file>
            pumasi-broker keys list
            pumasi-broker keys rotate --name <name> <new public key or .pub file>   (revoke and replace in one step)
            pumasi-broker keys revoke --name <name>
            A name belongs to one active key at a time: once its key is revoked, add may give it a new one, and its
            history (submissions, quotas, awards) stays its own.
            Roles: admin, seeker, solver, evaluator, judge.
            --for binds an evaluator to a seeker or a challenge: it then takes the jobs and reference data of that
            seeker's (or that) challenges that ask for their own evaluators ("evaluators": "own"), and of no other.
            """,
        arguments: [
            .init("action", help: "add, list, rotate or revoke."),
            .init("key", help: "The public key (add, rotate).", optional: true),
        ],
        options: [
            HostCommand.dataDirectoryOption, HostCommand.storeOption,
            .init("role", value: "role", help: "The role for add."),
            .init("name", value: "name", help: "The principal's name (add, revoke)."),
            .init("for", value: "seeker:NAME|challenge:ID", help: "Bind an evaluator (add)."),
            .init("json", help: "Print JSON (list)."),
        ])

    static func main(_ arguments: [String], environment: [String: String]) -> Int32 {
        HostCommand.run(spec, arguments, environment: environment) { a, place in
            // Only `add` may make a new store (keys registered before the broker's first start); the others look at
            // one that must be there, and a mistyped --data-dir must not leave an empty store behind.
            let store =
                a[argument: "action"] == "add"
                ? try Store(location: place.location, applicationName: "pumasi-broker keys") : try place.existingStore()
            switch a[argument: "action"] {
            case "add":
                guard let key = a[argument: "key"], let name = a.value("name"), let roleText = a.value("role") else {
                    throw UsageError("add needs --role, --name and a public key", usage: spec.usage)
                }
                guard let role = Role(rawValue: roleText) else {
                    throw UsageError("--role must be admin, seeker, solver, evaluator or judge", usage: spec.usage)
                }
                guard (1...64).contains(name.count), !name.hasPrefix(Principals.openPrefix),
                    name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.@".contains($0) })
                else {
                    throw UsageError(
                        "--name must be 1-64 letters, digits, - _ . @, not starting with \(Principals.openPrefix)",
                        usage: spec.usage)
                }
                var scope: EvaluatorScope?
                if let binding = a.value("for") {
                    guard role == .evaluator else {
                        throw UsageError("--for binds evaluators only, not a \(role.rawValue)", usage: spec.usage)
                    }
                    guard let parsed = EvaluatorScope(binding) else {
                        throw UsageError(
                            "--for must be seeker:<name> or challenge:<id>, not \(binding)", usage: spec.usage)
                    }
                    scope = parsed
                }
                let publicKey = try CurveKeyFile.publicKey(key)
                try store.addPrincipal(
                    Principal(name: name, role: role, publicKey: publicKey, createdAt: WallClock.now(), scope: scope))
                print("Registered \(name) as \(role.rawValue)\(scope.map { " for \($0)" } ?? ""): \(publicKey)")
            case "list":
                let all = try store.principals()
                if a.flag("json") {
                    print(String(decoding: Wire.encode(all), as: UTF8.self))
                } else {
                    for p in all {
                        print(
                            "\(p.name)  \(p.role.rawValue)\(p.scope.map { " for \($0)" } ?? "")  \(p.publicKey)  \(p.revokedAt.map { "revoked \(WallClock.iso($0))" } ?? "active")"
                        )
                    }
                }
            case "rotate":
                guard let key = a[argument: "key"], let name = a.value("name") else {
                    throw UsageError("rotate needs --name and the new public key", usage: spec.usage)
                }
                let publicKey = try CurveKeyFile.publicKey(key)
                guard let principal = try store.rotatePrincipal(name: name, newKey: publicKey, now: WallClock.now())
                else { throw HostCommand.Failure("no active key named \(name)") }
                print("Rotated \(name) (\(principal.role.rawValue)): \(publicKey) replaces the revoked key")
            case "revoke":
                guard let name = a.value("name") else { throw UsageError("revoke needs --name", usage: spec.usage) }
                guard try store.revokePrincipal(name: name, now: WallClock.now()) else {
                    throw HostCommand.Failure("no active key named \(name)")
                }
                print("Revoked \(name)")
            default:
                throw UsageError(
                    "unknown action '\(a[argument: "action"] ?? "")': add, list, rotate or revoke", usage: spec.usage)
            }
        }
    }
}
