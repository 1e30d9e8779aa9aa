import Foundation

/// What `pumasi-bench crowd key=value …` simulates: the sizes of the crowd, the surge and its deadline. Every
/// number has a default at the goal's scale (issue 15), so `pumasi-bench crowd` alone runs the full scenario.
struct CrowdConfig: Equatable {
    /// SUB sockets following announcements, each with its own registered key.
    var relays = 10_000
    /// DEALERs speaking MDP worker for `pumasi.builtin`, answering every job at once with a fixed result.
    var evaluators = 1_000
    /// DEALER clients submitting during the surge, each with its own registered key.
    var solvers = 5_000
    /// Submissions in one surge, spread over `window` seconds.
    var submissions = 50_000
    var window = 60.0
    /// Where in the window the challenge's deadline falls, as a fraction of it: submissions keep coming after it.
    var deadlineAt = 0.8
    /// Keys registered beyond the clients' own (principals that never connect), so the store holds more keys.
    var extraKeys = 0
    /// Announcements timed for the fan-out figures.
    var announcements = 5
    /// Whether to run the surge again with one solver sending `floodFactor` times everyone else's rate.
    var flood = true
    var floodFactor = 10
    /// Solvers that also poll the surge challenge's leaderboard (its top ten) every `pollMs` in a run of their own,
    /// as a crowd refreshing the board at a deadline does (default: a fifth of the solvers); 0 leaves the run out.
    var pollers: Int?
    var pollMs = 1_000
    var pollerCount: Int { pollers ?? solvers / 5 }
    /// Whether to restart the broker and time how long until every client is served again.
    var restart = true
    /// The most relays simulated in this process; the rest run in shards (`CrowdShard`). Nil: as many as this
    /// process's open files hold.
    var localRelays: Int?
    /// libzmq I/O threads of the simulated clients' context.
    var ioThreads = 2
    /// The broker's MDP heartbeat (`--heartbeat-ms`); the simulated evaluators heartbeat at the same interval.
    var heartbeatMs = 1_000
    /// The broker's libzmq I/O threads (`--io-threads`).
    var brokerIOThreads = 1
    /// The prefix relays subscribe to. Challenge announcements only: a relay following `submission.` too would
    /// receive two announcements per submission of the surge, times 10,000 relays.
    var topic = "challenge."

    static let usage =
        "pumasi-bench crowd [relays=N] [evaluators=N] [solvers=N] [submissions=N] [window=S] [deadline-at=F] "
        + "[extra-keys=N] [announcements=N] [flood=0|1] [flood-factor=N] [pollers=N] [poll-ms=N] [restart=0|1] "
        + "[io-threads=N] "
        + "[heartbeat-ms=N] [topic=PREFIX] [local-relays=N] [broker-io-threads=N]"

    /// Reads `key=value` arguments; an unknown key or a bad value is named in the error.
    init(arguments: some Collection<String>) throws(CrowdError) {
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CrowdError.usage("expected key=value, got \"\(argument)\"") }
            let (key, value) = (parts[0], parts[1])
            func count(minimum: Int = 0) throws(CrowdError) -> Int {
                guard let number = Int(value), number >= minimum else {
                    throw CrowdError.usage("\(key) must be a whole number of at least \(minimum), not \"\(value)\"")
                }
                return number
            }
            func flag() throws(CrowdError) -> Bool {
                guard value == "0" || value == "1" else { throw CrowdError.usage("\(key) must be 0 or 1") }
                return value == "1"
            }
            switch key {
            case "relays": relays = try count()
            case "evaluators": evaluators = try count(minimum: 1)
            case "solvers": solvers = try count(minimum: 2)
            case "submissions": submissions = try count(minimum: 1)
            case "window":
                guard let seconds = Double(value), seconds > 0, seconds <= 3_600 else {
                    throw CrowdError.usage("window must be seconds in (0, 3600], not \"\(value)\"")
                }
                window = seconds
            case "deadline-at":
                guard let fraction = Double(value), fraction > 0, fraction < 1 else {
                    throw CrowdError.usage("deadline-at must be a fraction of the window in (0, 1), not \"\(value)\"")
                }
                deadlineAt = fraction
            case "extra-keys": extraKeys = try count()
            case "announcements": announcements = try count(minimum: 1)
            case "flood": flood = try flag()
            case "flood-factor": floodFactor = try count(minimum: 2)
            case "pollers": pollers = try count()
            case "poll-ms": pollMs = try count(minimum: 10)
            case "restart": restart = try flag()
            case "io-threads": ioThreads = try count(minimum: 1)
            case "heartbeat-ms": heartbeatMs = try count(minimum: 100)
            case "broker-io-threads": brokerIOThreads = try count(minimum: 1)
            case "topic": topic = value
            case "local-relays": localRelays = try count()
            default: throw CrowdError.usage("unknown setting \"\(key)\"")
            }
        }
        guard submissions >= solvers else {
            throw CrowdError.usage("submissions (\(submissions)) must be at least solvers (\(solvers))")
        }
        if let pollers, pollers > solvers {
            throw CrowdError.usage("pollers (\(pollers)) must be at most solvers (\(solvers))")
        }
    }

    /// Every simulated client: relays, evaluators, solvers and the one seeker.
    var clients: Int { relays + evaluators + solvers + 1 }
}

/// Why the crowd scenario could not run, or stopped.
enum CrowdError: Error, CustomStringConvertible {
    case usage(String)
    case failed(String)

    var description: String {
        switch self {
        case .usage(let message): "\(message)\nUsage: \(CrowdConfig.usage)"
        case .failed(let message): message
        }
    }
}
