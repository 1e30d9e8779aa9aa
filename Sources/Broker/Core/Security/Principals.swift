import Foundation
import PumasiShared

/// The principals the broker knows, mirrored from the store and refreshed when another process (for example
/// `pumasi-broker keys revoke`) changes them, so that a revocation takes effect on live connections.
///
/// Thread rule: the broker's loop thread.
final class Principals {
    private let store: Store
    private let openRegistration: Bool
    private var byKey: [String: Principal] = [:]
    private var version: Int64 = -1
    /// A key that was allowed has been revoked since the broker last cut its subscriptions (`takeRevocation`).
    private var revokedSinceCut = false

    /// The user-id prefix given to keys that joined through open solver registration.
    static let openPrefix = "solver-"
    /// The user-id prefix of a registered key's connections (the key follows).
    static let keyPrefix = "key:"

    init(store: Store, openRegistration: Bool) throws {
        self.store = store
        self.openRegistration = openRegistration
        try refresh()
    }

    /// Reloads if the store changed since the last look (whoever looks: the loop's pass, or the ZAP handler).
    func refresh() throws {
        let current = store.principalsVersion
        guard current != version else { return }
        version = current
        let all = try store.principals()
        let revokedBefore = Set(byKey.values.filter { $0.revokedAt != nil }.map(\.publicKey))
        if !byKey.isEmpty, all.contains(where: { $0.revokedAt != nil && !revokedBefore.contains($0.publicKey) }) {
            revokedSinceCut = true
        }
        byKey = Dictionary(all.map { ($0.publicKey, $0) }, uniquingKeysWith: { $1 })
    }

    /// Whether a key has been revoked since the last call: its live subscriptions must be cut.
    func takeRevocation() -> Bool {
        defer { revokedSinceCut = false }
        return revokedSinceCut
    }

    /// ZAP's question: may this key connect, and as whom?
    func decide(publicKey: String) -> ZAPHandler.Decision {
        try? refresh()
        // The connection's user id names the key, not only the principal: a name may get a new key after its
        // old one is revoked, and a connection opened with the old key must not speak for it.
        if let principal = byKey[publicKey] {
            return principal.revokedAt == nil
                ? .allow(userId: Self.keyPrefix + publicKey) : .deny(reason: "key revoked")
        }
        if openRegistration { return .allow(userId: Self.openPrefix + publicKey.prefix(12)) }
        return .deny(reason: "unknown key")
    }

    /// Who sent a message, from the user id ZAP gave its connection; nil when unknown or revoked since.
    func principal(userId: String) -> (name: String, role: Role, scope: EvaluatorScope?)? {
        if userId.hasPrefix(Self.keyPrefix) {
            guard let principal = byKey[String(userId.dropFirst(Self.keyPrefix.count))], principal.revokedAt == nil
            else { return nil }
            return (principal.name, principal.role, principal.scope)
        }
        if openRegistration, userId.hasPrefix(Self.openPrefix) { return (userId, .solver, nil) }
        return nil
    }
}
