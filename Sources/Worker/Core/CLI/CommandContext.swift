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
    /// The profile in use (`--profile`, `$PUMASI_PROFILE` or the default one): fills what flags and variables leave.
    var profile: Profile? = nil

    static let defaultBroker = "tcp://127.0.0.1:5555"
    static let defaultPublish = "tcp://127.0.0.1:5556"
    /// How long a read-only command keeps trying a broker that is away (`BrokerClient.restartPatienceSeconds`).
    static let restartPatienceSeconds = 3.0

    static let solverOption = CommandSpec.Option(
        "solver", short: "s", value: "name",
        help: "Your solver name, without CURVE. Default: $PUMASI_SOLVER, the profile's, or $USER.")

    /// The solver's name for brokers without CURVE (over CURVE the broker names the solver after the key).
    var solverName: String? { namedSolver ?? environment["USER"] }

    /// `request` with `solverDefaulted: true` beside its members when the user named no solver (`namedSolver`): a relay
    /// then puts its owner in place of the login name the request carries. For requests with a `solver?` member.
    func namingSolver<Request: Encodable>(_ request: Request) -> SolverNamed<Request> {
        SolverNamed(request: request, defaulted: namedSolver == nil ? true : nil)
    }

    /// The solver's name if the user chose one (--solver, $PUMASI_SOLVER or the profile's), not only a login name: a
    /// relay submits as its owner unless this names someone.
    var namedSolver: String? {
        arguments.value("solver") ?? environment["PUMASI_SOLVER"].flatMap { $0.isEmpty ? nil : $0 } ?? profile?.solver
    }

    static let clientOptions: [CommandSpec.Option] = [
        .init(
            "broker", short: "b", value: "endpoint",
            help:
                "Broker (or relay) endpoint, or a comma-separated list of brokers. Default: $PUMASI_BROKER, the profile's, or \(defaultBroker)."
        ),
        .init("timeout", value: "seconds", help: "How long to wait for the broker. Default: 10."),
        keyOption, brokerKeyOption, profileOption,
        .init("json", help: "Print JSON for scripts instead of text for people."),
    ]

    static let keyOption = CommandSpec.Option(
        "key", short: "k", value: "file",
        help: "Your secret key file (pumasi keygen). Default: $PUMASI_KEY or the profile's.")
    static let brokerKeyOption = CommandSpec.Option(
        "broker-key", value: "key|file",
        help:
            "The broker's public key (its broker.key.pub). Default: $PUMASI_BROKER_KEY or the profile's. 'none': no CURVE."
    )

    /// CURVE credentials from --key and --broker-key (or the environment). Nil, to connect without CURVE (which
    /// only a broker started with --insecure, or a relay, accepts), when neither key is given, or when the broker
    /// key is given as `none` or empty: never because one of the two keys was left out.
    func curve() throws -> CurveClient? {
        let keyPath =
            arguments.value("key") ?? environment["PUMASI_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? profile?.key
        let brokerKey = arguments.value("broker-key") ?? environment["PUMASI_BROKER_KEY"] ?? profile?.brokerKey
        guard let serverKey = brokerKey else {
            guard let keyPath else { return nil }
            throw UsageError(
                "\(arguments.value("key") != nil ? "--key" : "$PUMASI_KEY") (\(keyPath)) was given but not the "
                    + "broker's public key: give --broker-key (or $PUMASI_BROKER_KEY), the broker's broker.key.pub, "
                    + "or --broker-key none to talk to a broker without CURVE (started with --insecure) or a relay",
                usage: usage)
        }
        guard !serverKey.isEmpty, serverKey != "none" else { return nil }
        guard let keyPath else {
            throw UsageError("a broker key was given but no --key (or $PUMASI_KEY) to identify you", usage: usage)
        }
        let source =
            arguments.value("broker-key") != nil
            ? "--broker-key"
            : environment["PUMASI_BROKER_KEY"] != nil ? "$PUMASI_BROKER_KEY" : "the profile's broker key"
        guard CurveKeyFile.isZ85Key(serverKey) || FileManager.default.fileExists(atPath: serverKey) else {
            throw CommandFailure(
                "\(source): the broker's key file \(serverKey) does not exist (it is the broker's "
                    + "<data-dir>/broker.key.pub, or its 40-character Z85 text)")
        }
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw CommandFailure("your key file \(keyPath) does not exist (make one with pumasi keygen)")
        }
        return CurveClient(serverKey: try CurveKeyFile.publicKey(serverKey), keys: try CurveKeyFile.readPair(keyPath))
    }

    /// --final and --provisional: which leaderboard (`LeaderboardRequest.view`).
    static let viewOptions: [CommandSpec.Option] = [
        .init("final", help: "The final leaderboard (private split): after the close, or for the challenge's seeker."),
        .init("provisional", help: "The provisional leaderboard (public split), also after the close."),
    ]

    /// The view --final or --provisional names; nil (the broker's default) for neither.
    func view() throws(UsageError) -> String? {
        switch (arguments.flag("final"), arguments.flag("provisional")) {
        case (true, true): throw UsageError("--final and --provisional exclude each other", usage: usage)
        case (true, false): "final"
        case (false, true): "provisional"
        case (false, false): nil
        }
    }

    var json: Bool { arguments.flag("json") }
    /// The broker endpoint (or list) from --broker, $PUMASI_BROKER, the profile or the default, checked.
    func broker() throws(UsageError) -> String {
        let given = arguments.value("broker")
        let variable = environment["PUMASI_BROKER"]
        let endpoint = given ?? variable ?? profile?.broker ?? Self.defaultBroker
        let source = given != nil ? "--broker" : variable != nil ? "$PUMASI_BROKER" : "the profile's broker"
        try Self.check(endpoint, source, usage: usage)
        return endpoint
    }

    /// Refuses an endpoint (or a comma-separated list) that libzmq would not take, naming where it came from.
    static func check(_ endpoints: String, _ source: String, usage: String) throws(UsageError) {
        if let problem = Endpoint.listProblem(endpoints) { throw UsageError("\(source): \(problem)", usage: usage) }
    }

    func timeout() throws(UsageError) -> Double {
        guard let text = arguments.value("timeout") else { return 10 }
        guard let value = Double(text), value > 0, value <= 3600 else {
            throw UsageError("--timeout must be a number of seconds between 0 and 3600", usage: usage)
        }
        return value
    }

    /// A client of the broker that waits out busy replies (`BrokerClient.busyPatienceSeconds`), saying so on stderr
    /// the first time, so that a command slowed by the broker's admission does not look stuck.
    func client() throws -> BrokerClient {
        let client = try BrokerClient(endpoint: try broker(), timeoutSeconds: try timeout(), curve: try curve())
        let told = Flag()
        client.onBusy = { [console] error, wait in
            guard !told.isSet else { return }
            told.isSet = true
            console.err("\(error.message); sending again in \(wait) ms")
        }
        // A read run while the broker restarts (about 1.5 s) gets its answer once it is back; a broker that is not
        // running, or a wrong --broker, still fails within seconds, and the first failure is told at once.
        client.restartPatienceSeconds = min(client.timeoutSeconds, Self.restartPatienceSeconds)
        let toldAway = Flag()
        client.onRetry = { [console] error in
            guard !toldAway.isSet else { return }
            toldAway.isSet = true
            console.err("\(error); trying again for up to \(Int(Self.restartPatienceSeconds)) s")
        }
        return client
    }

    /// Set once a busy reply has been told of.
    private final class Flag {
        var isSet = false
    }

    /// The `challenge` argument as an id: a handle (the seeker's slug) is looked up on the broker first.
    func challenge() throws -> String {
        try optionalChallenge() ?? ""
    }

    /// The `challenge` argument as an id, if given.
    func optionalChallenge() throws -> String? {
        guard let text = arguments[argument: "challenge"] else { return nil }
        // Ids hold an underscore (`ch_…`, `sub_…`), handles never do: only a handle is looked up.
        guard !text.isEmpty, !text.contains("_") else { return text }
        return try client().call(Service.show, ChallengeRequest(challenge: text), as: ChallengeInfo.self).0.id
    }

    func logger(_ label: String) -> Logger {
        let level = arguments.value("log-level").flatMap(LogLevel.init(name:)) ?? .info
        return Logger(label: label, level: level)
    }
}

/// A request with `solverDefaulted` beside its own members (`CommandContext.namingSolver`), as `SubmitRequest` has it.
struct SolverNamed<Request: Encodable>: Encodable {
    var request: Request
    var defaulted: Bool?

    private enum Key: String, CodingKey { case solverDefaulted }

    func encode(to encoder: any Encoder) throws {
        try request.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(defaulted, forKey: .solverDefaulted)
    }
}
