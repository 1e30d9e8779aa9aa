import Foundation
import PumasiShared

/// What every client command shares: where the broker is, how long to wait, and the output mode.
struct CommandContext {
    let arguments: ParsedArguments
    let console: Console
    let environment: [String: String]
    /// The command's usage line, for usage errors found after parsing.
    let usage: String
    /// SIGTERM and SIGINT, blocked since the start of `main`; long-running commands set a handler.
    let signals: TerminationSignals

    static let defaultBroker = "tcp://127.0.0.1:5555"
    static let defaultPublish = "tcp://127.0.0.1:5556"

    static let clientOptions: [CommandSpec.Option] = [
        .init("broker", short: "b", value: "endpoint", help: "Broker (or relay) endpoint. Default: $PUMASI_BROKER or \(defaultBroker)."),
        .init("timeout", value: "seconds", help: "How long to wait for the broker. Default: 10."),
        .init("json", help: "Print JSON for scripts instead of text for people."),
    ]

    var json: Bool { arguments.flag("json") }
    var broker: String { arguments.value("broker") ?? environment["PUMASI_BROKER"] ?? Self.defaultBroker }

    func timeout() throws(UsageError) -> Double {
        guard let text = arguments.value("timeout") else { return 10 }
        guard let value = Double(text), value > 0, value <= 3600 else {
            throw UsageError("--timeout must be a number of seconds between 0 and 3600", usage: usage)
        }
        return value
    }

    func client() throws -> BrokerClient { try BrokerClient(endpoint: broker, timeoutSeconds: try timeout()) }

    func logger(_ label: String) -> Logger {
        let level = arguments.value("log-level").flatMap(LogLevel.init(name:)) ?? .info
        return Logger(label: label, level: level)
    }
}
