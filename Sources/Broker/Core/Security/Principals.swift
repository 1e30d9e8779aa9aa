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
    private var byName: [String: Principal] = [:]
    private var version: Int64 = -1

    /// The user-id prefix given to keys that joined through open solver registration.
    static let openPrefix = "solver-"

    init(store: Store, openRegistration: Bool) throws {
        self.store = store
        self.openRegistration = openRegistration
        try refresh()
    }

    /// Reloads if the file changed since the last look.
    func refresh() throws {
        let current = store.principalsVersion
        guard current != version else { return }
        version = current
        let all = try store.principals()
        byKey = Dictionary(all.map { ($0.publicKey, $0) }, uniquingKeysWith: { $1 })
        byName = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
    }

    /// ZAP's question: may this key connect, and as whom?
    func decide(publicKey: String) -> ZAPHandler.Decision {
        try? refresh()
        if let principal = byKey[publicKey] {
            return principal.revokedAt == nil ? .allow(userId: principal.name) : .deny(reason: "key revoked")
        }
        if openRegistration { return .allow(userId: Self.openPrefix + publicKey.prefix(12)) }
        return .deny(reason: "unknown key")
    }

    /// Who sent a message, from the user id ZAP gave its connection; nil when unknown or revoked since.
    func principal(userId: String) -> (name: String, role: Role)? {
        if let principal = byName[userId] {
            return principal.revokedAt == nil ? (principal.name, principal.role) : nil
        }
        if openRegistration, userId.hasPrefix(Self.openPrefix) { return (userId, .solver) }
        return nil
    }
}
