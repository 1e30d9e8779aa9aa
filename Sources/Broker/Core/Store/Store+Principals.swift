import Foundation
import PumasiShared

extension Store {
    /// Registers a key under a name and role.
    public func addPrincipal(_ principal: Principal) throws {
        try transaction {
            try db.run(
                "INSERT INTO principals (public_key, name, role, created_at, scope) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(principal.publicKey), .text(principal.name), .text(principal.role.rawValue),
                    .integer(principal.createdAt), principal.scope.map { .text($0.description) } ?? .null,
                ])
            try audit(
                "key.add", principal.name, by: "operator",
                detail: "\(principal.role.rawValue) \(principal.publicKey)"
                    + (principal.scope.map { " for \($0)" } ?? ""),
                at: principal.createdAt)
        }
    }

    /// Replaces a principal's active key with `newKey` in one step: the old key is revoked, the new one registered
    /// under the same name and role, so their history, quotas and awards stay theirs.
    /// - Returns: the principal as now registered; nil when no active key has that name.
    public func rotatePrincipal(name: String, newKey: String, now: Millis) throws -> Principal? {
        try transaction {
            // Revoking and reading the role are one statement: a revocation committed meanwhile leaves nothing to
            // rotate, rather than a name made active again.
            // The new key keeps the old one's binding (an evaluator's seeker or challenge).
            guard
                let row = try db.queryOne(
                    "UPDATE principals SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING role, scope",
                    [.integer(now), .text(name)]),
                let role = row.string(0).flatMap(Role.init(rawValue:))
            else { return nil }
            try db.run(
                "INSERT INTO principals (public_key, name, role, created_at, scope) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(newKey), .text(name), .text(role.rawValue), .integer(now),
                    row.string(1).map(SQLValue.text) ?? .null,
                ])
            try audit("key.rotate", name, by: "operator", detail: "\(role.rawValue) \(newKey)", at: now)
            return Principal(
                name: name, role: role, publicKey: newKey, createdAt: now,
                scope: row.string(1).flatMap(EvaluatorScope.init))
        }
    }

    /// Revokes a principal by name. - Returns: whether one was revoked.
    @discardableResult
    public func revokePrincipal(name: String, now: Millis) throws -> Bool {
        try transaction {
            try db.run(
                "UPDATE principals SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                [.integer(now), .text(name)])
            guard db.changes == 1 else { return false }
            try audit("key.revoke", name, by: "operator", at: now)
            return true
        }
    }

    public func principals() throws -> [Principal] {
        try db.query(
            "SELECT public_key, name, role, created_at, revoked_at, scope FROM principals ORDER BY created_at, name"
        ).map {
            Principal(
                name: $0.string(1) ?? "", role: Role(rawValue: $0.string(2) ?? "") ?? .solver,
                publicKey: $0.string(0) ?? "", createdAt: $0.int(3) ?? 0, revokedAt: $0.int(4),
                scope: $0.string(5).flatMap(EvaluatorScope.init))
        }
    }

}
