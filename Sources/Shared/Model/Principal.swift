/// A role a key is registered with.
public enum Role: String, Codable, Sendable, CaseIterable {
    case admin, seeker, solver, evaluator, judge
}

/// Someone the broker knows by a CURVE public key.
public struct Principal: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    public var publicKey: String
    public var createdAt: Int64
    public var revokedAt: Int64?
    /// An evaluator's binding to a seeker or a challenge; nil: bound to no one.
    public var scope: EvaluatorScope?

    public init(
        name: String, role: Role, publicKey: String, createdAt: Int64, revokedAt: Int64? = nil,
        scope: EvaluatorScope? = nil
    ) {
        self.scope = scope
        self.name = name
        self.role = role
        self.publicKey = publicKey
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}
