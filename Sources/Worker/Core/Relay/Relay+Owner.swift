import Foundation
import PumasiShared

/// Whom a relay submits as. A relay is one person's: it forwards with its owner's key (or, without CURVE, under its
/// owner's name), so a local client needs no `--solver`, and one that names someone else is told so instead of
/// having the name silently replaced.
///
/// The owner is `--owner` (else `$PUMASI_SOLVER` or the profile's solver, else, without CURVE, `$USER`); over CURVE
/// the broker's `pumasi.whoami` names the key's principal when the broker first answers, and that name wins, since
/// it is the one the broker records.
extension Relay {
    /// The solver a local request speaks for. - Throws: `forbidden` when the client named someone other than the owner.
    func submitter(named solver: String?, defaulted: Bool?, _ state: State) throws(ProtocolError) -> String {
        let chosen = defaulted == true ? nil : solver.flatMap { $0.isEmpty ? nil : $0 }
        // A relay with a key whose name it has not learned yet: the broker names the solver after the key anyway.
        guard let owner = state.owner else { return chosen ?? solver ?? "" }
        if let chosen, chosen != owner {
            throw ProtocolError(
                .forbidden,
                "this relay submits as its owner, \(owner); --solver \(chosen) names someone else: leave --solver out "
                    + "(and $PUMASI_SOLVER, and the profile's solver), or submit through \(chosen)'s own relay")
        }
        return owner
    }

    /// The services besides submissions whose requests name a solver without CURVE (`solver?`): the relay puts its
    /// owner there by the same rule, so that `pumasi submissions`, `quota`, `select`, `accept` and `ask` through a
    /// relay need no `--solver` either. (Teams are left as they are: their shares are numbers a rewrite could round.)
    static let solverNamedServices: Set<String> = [
        Service.submissions, Service.quota, Service.select, Service.accept, Service.ask,
    ]

    /// A request of `solverNamedServices` with the owner as its solver (see `submitter`); others as they are.
    func ownerNamed(_ service: String, _ body: [Data], _ state: State) throws(ProtocolError) -> [Data] {
        guard Self.solverNamedServices.contains(service), let first = body.first,
            var object = (try? JSONSerialization.jsonObject(with: first)) as? [String: Any]
        else { return body }
        let named = object["solver"] as? String
        let defaulted = object["solverDefaulted"] as? Bool
        // Naming nobody at all: over CURVE the broker names the caller after the key.
        guard named != nil || defaulted == true else { return body }
        object["solver"] = try submitter(named: named, defaulted: defaulted, state)
        object["solverDefaulted"] = nil
        guard let rewritten = try? JSONSerialization.data(withJSONObject: object) else { return body }
        return [rewritten] + body.dropFirst()
    }

    /// Learns the owner's name from the broker, over CURVE, once the broker answers (`synchronise`).
    func learnOwner(_ state: inout State) {
        guard config.curve != nil, !state.ownerConfirmed,
            let identity = try? state.client.call(Service.whoami, Empty(), as: Identity.self).0,
            let name = identity.name
        else { return }
        state.ownerConfirmed = true
        if let given = config.owner, given != name {
            logger.warning(
                "--owner is not the name the broker has for this relay's key; submitting as the key's principal",
                ["owner": given, "principal": name])
        }
        if state.owner != name { logger.info("relay owner", ["owner": name, "role": identity.role?.rawValue ?? "-"]) }
        state.owner = name
    }

    /// `pumasi.whoami` through a relay: the broker's answer (the relay's key's principal, or nobody without CURVE),
    /// with the owner the relay submits as.
    func whoami(_ body: [Data], _ state: inout State) throws -> [Data] {
        var identity = try state.client.call(Service.whoami, Empty(), as: Identity.self).0
        identity.relayOwner = state.owner
        return [Wire.encode(Reply.success(identity))]
    }
}
