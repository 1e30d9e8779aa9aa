import Foundation
import PumasiShared

/// How an evaluator connects and what it can score.
public struct EvaluatorConfig: Sendable {
    public var brokerEndpoint: String
    /// Plugin scorers this evaluator hosts: name → executable path.
    public var plugins: [String: String] = [:]
    /// Whether to serve the built-in scorers.
    public var builtins = true
    /// Whether to run challenges' own Codabench programs (`ScorerSpec.program`) on this host, under plugin
    /// containment, for challenges that name no environment.
    public var hostPrograms = false
    /// The environments this evaluator can run challenges' programs in: image name → root filesystem.
    public var environments: [String: String] = [:]
    /// Jobs run at once per scorer service (each slot is one MDP worker connection).
    public var slots = 1
    /// Where reference data is cached by content address.
    public var cacheDirectory: String
    public var heartbeatInterval: Millis = 2_500
    public var heartbeatLiveness = 3
    /// Reconnect back-off after losing the broker: doubles from `reconnectInitial` up to `reconnectMax`.
    public var reconnectInitial: Millis = 1_000
    public var reconnectMax: Millis = 32_000
    /// Resource limits for plugins; the wall-clock and CPU limits come from each challenge's time limit.
    public var limits = PluginLimits()
    public var clock: @Sendable () -> Millis = { WallClock.now() }
    /// CURVE credentials (the evaluator's key must be registered with the broker as an evaluator).
    public var curve: CurveClient?

    public init(brokerEndpoint: String, cacheDirectory: String) {
        self.brokerEndpoint = brokerEndpoint
        self.cacheDirectory = cacheDirectory
    }

    /// The MDP services this evaluator registers for.
    public var services: [String] {
        (builtins ? [Service.builtinScorers] : []) + plugins.keys.sorted().map(Service.plugin)
            + (hostPrograms ? [Service.program(environment: nil)] : [])
            + environments.keys.sorted().map { Service.program(environment: $0) }
    }
}
