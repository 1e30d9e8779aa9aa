import Foundation
import PumasiShared

/// `pumasi whoami`: who the broker takes you to be, by the name and role its operator registered your key under, so
/// that a profile can be checked against a person rather than a key file.
enum WhoamiCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi whoami",
        abstract: "Show who the broker takes you to be: your principal's name and role (or a relay's owner).",
        discussion: """
            Over CURVE the broker names the principal your key is registered as, with its role (and an evaluator's
            scope). A broker without keys knows nobody: each request carries the solver's name. Through a relay, the
            answer is the relay's owner, whom it submits as.
            """,
        options: CommandContext.clientOptions + [CommandContext.solverOption])

    static func run(_ context: CommandContext) throws -> Int32 {
        let client = try context.client()
        let (identity, _) = try client.call(Service.whoami, Empty(), as: Identity.self)
        if context.json {
            context.console.json(identity)
        } else {
            context.console.out(describe(identity, at: client.endpoint, solver: context.solverName))
        }
        return 0
    }

    /// One line for people: `ada, a solver, at tcp://…`; through a relay, whom it submits as.
    static func describe(_ identity: Identity, at endpoint: String, solver: String?) -> String {
        if let owner = identity.relayOwner {
            return "\(owner), through the relay at \(endpoint)"
                + (identity.principal.map { " (its key is \($0) at the broker)" } ?? "")
        }
        if let principal = identity.principal { return "\(principal), at \(endpoint)" }
        return "\(solver ?? "nobody"), by name only: the broker at \(endpoint) has no keys (started with --insecure) "
            + "and takes the name each request gives (--solver, $PUMASI_SOLVER or the profile's)"
    }
}

extension Identity {
    /// The principal for people: `ada, a solver`, `ev1, an evaluator for seeker:acme`; nil when the broker knows nobody.
    var principal: String? {
        guard let name else { return nil }
        guard let role else { return name }
        let article = [.admin, .evaluator].contains(role) ? "an" : "a"
        return "\(name), \(article) \(role.rawValue)" + (scope.map { " for \($0)" } ?? "")
    }
}
