import Foundation
import PumasiShared

/// One entry of the audit trail.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var at: Millis
    /// Who made the change: a principal's name, `operator` for the broker host's own commands, or nil for
    /// the broker itself (deadlines, awards) and for brokers running without authentication.
    public var principal: String?
    public var action: String
    public var object: String
    public var detail: String?
}

extension Store {
    /// Appends to the audit trail (inside the caller's transaction).
    func audit(_ action: String, _ object: String, by principal: String?, detail: String? = nil, at: Millis) throws {
        try db.runDeferred(
            "INSERT INTO audit (at, principal, action, object, detail) VALUES (?, ?, ?, ?, ?)",
            [
                .integer(at), principal.map(SQLValue.text) ?? .null, .text(action), .text(object),
                detail.map(SQLValue.text) ?? .null,
            ])
    }

    /// Audit entries, oldest first, optionally only one principal's, one action's, or since a time. Submitting
    /// and scoring are read from the immutable submission and outcome rows themselves (the `audit_trail` view).
    public func auditTrail(principal: String? = nil, action: String? = nil, since: Millis? = nil, limit: Int = 10_000)
        throws -> [AuditEntry]
    {
        try db.query(
            """
            SELECT at, principal, action, object, detail FROM audit_trail
            WHERE (principal = ?1 OR ?1 IS NULL) AND (action = ?2 OR ?2 IS NULL) AND (at >= ?3 OR ?3 IS NULL)
            ORDER BY at, source, ord, object LIMIT ?4
            """,
            [
                principal.map(SQLValue.text) ?? .null, action.map(SQLValue.text) ?? .null,
                since.map(SQLValue.integer) ?? .null, .integer(Int64(limit)),
            ]
        ).map {
            AuditEntry(
                at: $0.int(0) ?? 0, principal: $0.string(1), action: $0.string(2) ?? "", object: $0.string(3) ?? "",
                detail: $0.string(4))
        }
    }
}
