import Foundation
import PumasiBroker
import PumasiShared

/// A key for every simulated client, registered in the store before the broker starts (so every CURVE handshake
/// is one the broker's ZAP handler accepts): relays and solvers as solvers, evaluators as evaluators, one seeker,
/// and `extraKeys` solvers that never connect.
struct CrowdKeys {
    let server: CurveKeyPair
    let relays: [CurveKeyPair]
    let evaluators: [CurveKeyPair]
    let solvers: [CurveKeyPair]
    let seeker: CurveKeyPair
    let registered: Int

    /// Makes the keys and writes them into a new store at `directory`, with `broker.key` beside it. The store is
    /// opened with `synchronous=NORMAL` for this alone: one commit per key, 16,000 fsyncs otherwise.
    init(directory: String, config: CrowdConfig) throws {
        server = try CurveKeyPair.generate()
        try CurveKeyFile.write(server, to: (directory as NSString).appendingPathComponent("broker.key"))
        relays = try (0..<config.relays).map { _ in try CurveKeyPair.generate() }
        evaluators = try (0..<config.evaluators).map { _ in try CurveKeyPair.generate() }
        solvers = try (0..<config.solvers).map { _ in try CurveKeyPair.generate() }
        seeker = try CurveKeyPair.generate()
        let store = try Store(directory: directory, synchronousFull: false)
        let now = WallClock.now()
        var principals = [Principal(name: "crowd-seeker", role: .seeker, publicKey: seeker.publicKey, createdAt: now)]
        for (index, pair) in relays.enumerated() {
            principals.append(
                Principal(name: "relay-\(index)", role: .solver, publicKey: pair.publicKey, createdAt: now))
        }
        for (index, pair) in evaluators.enumerated() {
            principals.append(
                Principal(name: "evaluator-\(index)", role: .evaluator, publicKey: pair.publicKey, createdAt: now))
        }
        for (index, pair) in solvers.enumerated() {
            principals.append(
                Principal(name: "solver-\(index)", role: .solver, publicKey: pair.publicKey, createdAt: now))
        }
        for index in 0..<config.extraKeys {
            let pair = try CurveKeyPair.generate()
            principals.append(
                Principal(name: "idle-\(index)", role: .solver, publicKey: pair.publicKey, createdAt: now))
        }
        for principal in principals { try store.addPrincipal(principal) }
        registered = principals.count
    }

    func client(_ pair: CurveKeyPair) -> CurveClient { CurveClient(serverKey: server.publicKey, keys: pair) }
}
