/// `pumasi.whoami`'s answer: who the broker takes the caller to be, so that `pumasi login` and `pumasi whoami` can
/// name the principal instead of a key file.
///
/// Over CURVE the key names the caller: `name` and `role` are the registered principal's, and `scope` an evaluator's
/// binding. A broker without keys (started with `--insecure`) knows nobody: `authenticated` is false and the name is
/// whatever each request carries. A relay answers with its owner (`relayOwner`), the name it submits as.
public struct Identity: Codable, Sendable, Equatable {
    public var v = wireVersion
    public var authenticated: Bool
    public var name: String?
    public var role: Role?
    public var scope: EvaluatorScope?
    /// Set by a relay: whom the relay submits as (its `--owner`, or the principal its key names).
    public var relayOwner: String?

    public init(
        authenticated: Bool, name: String? = nil, role: Role? = nil, scope: EvaluatorScope? = nil,
        relayOwner: String? = nil
    ) {
        self.authenticated = authenticated
        self.name = name
        self.role = role
        self.scope = scope
        self.relayOwner = relayOwner
    }
}
