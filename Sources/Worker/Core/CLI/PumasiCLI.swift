import Foundation
import PumasiShared

/// A failure a command reports to its user: `Error: <message>` on stderr, exit 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

protocol Command {
    static var spec: CommandSpec { get }
    /// Long-running commands stop gracefully on SIGTERM/SIGINT; one-shot commands just exit.
    static var longRunning: Bool { get }
    static func run(_ context: CommandContext) throws -> Int32
    /// Parses the words after the command's name; `spec.parse` unless the command takes a list of arguments.
    static func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments
    /// Whether the command connects with a profile's settings (`CommandContext.profile`); `pumasi login` writes one.
    static var readsProfile: Bool { get }
}

extension Command {
    static var longRunning: Bool { false }
    static var readsProfile: Bool { spec.options.contains { $0.long == "profile" } }
    static func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments { try spec.parse(arguments) }
}

/// The `pumasi` command: argument parsing, dispatch, and exit codes (0 ok, 1 failure, 64 usage).
public enum PumasiCLI {
    public static let version = "0.1.0"

    static var commands: [any Command.Type] {
        [
            PostCommand.self, CloseCommand.self, ExtendCommand.self, CancelCommand.self, DisqualifyCommand.self,
            AwardCommand.self, RescoreCommand.self, ListCommand.self, ShowCommand.self, DownloadCommand.self,
            SubmitCommand.self, SubmissionsCommand.self, StatusCommand.self, QuotaCommand.self, SelectCommand.self,
            LeaderboardCommand.self,
            ExportCommand.self, JudgeCommand.self, JudgeNextCommand.self, JudgeScoreCommand.self, EvaluateCommand.self,
            AcceptCommand.self, TermsCommand.self, InviteCommand.self, JoinCommand.self, AskCommand.self,
            AnswerCommand.self, ClarificationsCommand.self, TeamCommand.self, TeamCreateCommand.self,
            TeamInviteCommand.self, TeamJoinCommand.self, TeamLeaveCommand.self, TeamSharesCommand.self,
            TeamShowCommand.self, SiteCommand.self, RelayCommand.self, OutboxCommand.self, KeygenCommand.self,
            LoginCommand.self, WhoamiCommand.self, ConfigCommand.self, ConfigSetCommand.self, ConfigShowCommand.self,
            ConfigListCommand.self,
            ConfigUseCommand.self, ConfigRemoveCommand.self, CompletionCommand.self,
        ]
    }

    static var spec: CommandSpec {
        CommandSpec(
            name: "pumasi",
            abstract: "Post challenges, submit solutions, and run evaluators and relays for a Pumasi broker.",
            discussion: """
                Seekers: post, extend, cancel (a draft), rescore, disqualify, award, export, terms, invite, answer.
                Admins: close, cancel.  Judges: judge.
                Solvers: list, show, accept, join, team, download, submit, submissions, status, quota, select,
                leaderboard, export, ask.
                Everyone who may see a challenge: clarifications.
                Long-running workers: evaluate (scores submissions), relay (shows announcements, forwards requests).
                Setting up: keygen, then login once (a profile: the broker, its key, yours); config for more profiles;
                whoami to see who the broker takes you to be.
                Every command, profiles, --json and exit codes: docs/cli.md.
                """,
            options: [.init("version", help: "Show the version.")],
            subcommands: commands.compactMap { command -> (name: String, abstract: String)? in
                // `judge next`, `team create` and the like are listed by `pumasi judge --help`, `pumasi team --help`.
                let name = String(command.spec.name.dropFirst("pumasi ".count))
                return name.contains(" ") ? nil : (name, command.spec.abstract)
            } + [("help", "Show help for a subcommand.")])
    }

    /// Runs the command line (without the program name) and returns the exit code.
    public static func main(
        _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        signals: TerminationSignals
    ) -> Int32 {
        let console = Console()
        guard let first = arguments.first else {
            console.out(spec.help)
            return 0
        }
        switch first {
        case "-h", "--help":
            console.out(spec.help)
            return 0
        case "--version", "version":
            console.out(version)
            return 0
        case "help":
            guard arguments.count > 1 else {
                console.out(spec.help)
                return 0
            }
            guard let (command, _) = command(for: Array(arguments.dropFirst())) else {
                return usageError(UsageError("unknown subcommand '\(arguments[1])'", usage: spec.usage), console)
            }
            console.out(command.spec.help)
            return 0
        default:
            break
        }
        guard let (command, words) = command(for: arguments) else {
            return usageError(UsageError("unknown subcommand '\(first)'", usage: spec.usage), console)
        }
        // `pumasi judge help next`, as `pumasi judge --help` suggests: help for `judge next`.
        if words == 1, !command.spec.subcommands.isEmpty, arguments.count > 1, arguments[1] == "help" {
            let rest = [first] + arguments.dropFirst(2)
            guard rest.count > 1 else {
                console.out(command.spec.help)
                return 0
            }
            guard let (sub, _) = self.command(for: Array(rest)), sub != command else {
                return usageError(UsageError("unknown subcommand '\(rest[1])'", usage: command.spec.usage), console)
            }
            console.out(sub.spec.help)
            return 0
        }
        do {
            if !command.spec.subcommands.isEmpty, let word = arguments.dropFirst().first, !word.hasPrefix("-") {
                throw UsageError("unknown subcommand '\(word)'", usage: command.spec.usage)
            }
            let parsed = try command.parse(Array(arguments.dropFirst(words)))
            if parsed.helpRequested {
                console.out(command.spec.help)
                return 0
            }
            if !command.longRunning { signals.onTerminate { exit(128 + $0) } }
            var context = CommandContext(
                arguments: parsed, console: console, environment: environment, usage: command.spec.usage,
                signals: signals)
            if command.readsProfile {
                context.profile = try ProfileStore.selected(parsed, environment: environment, usage: command.spec.usage)
            }
            return try command.run(context)
        } catch let error as UsageError {
            return usageError(error, console)
        } catch {
            console.err("Error: \(error)")
            return 1
        }
    }

    /// The command the first words name (`judge next` before `judge`), and how many words that took.
    private static func command(for arguments: [String]) -> (any Command.Type, Int)? {
        for count in [2, 1] where arguments.count >= count {
            let name = "pumasi " + arguments.prefix(count).joined(separator: " ")
            if let command = commands.first(where: { $0.spec.name == name }) { return (command, count) }
        }
        return nil
    }

    private static func usageError(_ error: UsageError, _ console: Console) -> Int32 {
        console.err(error.description)
        return 64
    }
}
