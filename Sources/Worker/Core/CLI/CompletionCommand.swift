import Foundation
import PumasiShared

/// `pumasi completion bash|zsh|fish`: a completion script for the shell, made from the commands' own specs, so that it
/// names every subcommand and option this `pumasi` has.
enum CompletionCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi completion", abstract: "Print a shell completion script (bash, zsh or fish).",
        discussion: """
            bash: source <(pumasi completion bash)      (or save it in /etc/bash_completion.d/pumasi)
            zsh:  source <(pumasi completion zsh)       (uses zsh's bash completion support)
            fish: pumasi completion fish > ~/.config/fish/completions/pumasi.fish
            """,
        arguments: [.init("shell", help: "bash, zsh or fish.")])

    static func run(_ context: CommandContext) throws -> Int32 {
        switch context.arguments[argument: "shell"] ?? "" {
        case "bash": context.console.out(bash)
        case "zsh": context.console.out("autoload -U +X bashcompinit && bashcompinit\n" + bash)
        case "fish": context.console.out(fish)
        case let other: throw UsageError("no completion for '\(other)': bash, zsh or fish", usage: spec.usage)
        }
        return 0
    }

    /// Each command's words after `pumasi` (`submit`, `judge next`) and its options' spellings.
    static var table: [(words: [String], options: [String], abstract: String)] {
        PumasiCLI.commands.map { command in
            let words = command.spec.name.split(separator: " ").dropFirst().map(String.init)
            let options = command.spec.options.flatMap { option in
                ["--" + option.long] + (option.short.map { ["-\($0)"] } ?? [])
            }
            var seen = Set<String>()
            return (words, (options + ["--help"]).filter { seen.insert($0).inserted }, command.spec.abstract)
        }
    }

    static var bash: String {
        let top = table.filter { $0.words.count == 1 }.map { $0.words[0] } + ["help"]
        var cases = ""
        for entry in table {
            let key = entry.words.joined(separator: " ")
            let subcommands = table.filter { $0.words.count == 2 && $0.words[0] == key }.map { $0.words[1] }
            let words = (entry.options + subcommands + (subcommands.isEmpty ? [] : ["help"])).joined(separator: " ")
            cases += "        \"\(key)\") words=\"\(words)\" ;;\n"
        }
        let pairs = table.filter { $0.words.count == 2 }.map { "\"\($0.words.joined(separator: " "))\"" }
        return """
            # pumasi completion for bash (made by `pumasi completion bash`)
            _pumasi() {
                local current=${COMP_WORDS[COMP_CWORD]} command="" words=""
                if ((COMP_CWORD >= 3)); then
                    case "${COMP_WORDS[1]} ${COMP_WORDS[2]}" in
                        \(pairs.joined(separator: "|"))) command="${COMP_WORDS[1]} ${COMP_WORDS[2]}" ;;
                    esac
                fi
                if [[ -z $command ]] && ((COMP_CWORD >= 2)); then
                    command="${COMP_WORDS[1]}"
                fi
                case "$command" in
                    "") words="\(top.joined(separator: " ")) --help --version" ;;
            \(cases)        help) words="\(top.joined(separator: " "))" ;;
                esac
                if [[ $current == -* || -n $words ]]; then
                    COMPREPLY=($(compgen -W "$words" -- "$current"))
                fi
                if ((${#COMPREPLY[@]} == 0)) && [[ $current != -* ]]; then
                    COMPREPLY=($(compgen -f -- "$current"))
                fi
            }
            complete -F _pumasi pumasi
            """
    }

    static var fish: String {
        var lines = ["# pumasi completion for fish (made by `pumasi completion fish`)", "complete -c pumasi -f"]
        func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "\\'") + "'" }
        for entry in table where entry.words.count == 1 {
            lines.append(
                "complete -c pumasi -n '__fish_use_subcommand' -a \(entry.words[0]) -d \(quoted(entry.abstract))")
        }
        for entry in table {
            let condition: String
            if entry.words.count == 1 {
                condition = "__fish_seen_subcommand_from \(entry.words[0])"
            } else {
                condition =
                    "__fish_seen_subcommand_from \(entry.words[0]); and __fish_seen_subcommand_from \(entry.words[1])"
                lines.append(
                    "complete -c pumasi -n '__fish_seen_subcommand_from \(entry.words[0])' -a \(entry.words[1]) -d "
                        + quoted(entry.abstract))
            }
            for option in entry.options where option.hasPrefix("--") {
                lines.append("complete -c pumasi -n '\(condition)' -l \(option.dropFirst(2)) -r -F")
            }
        }
        return lines.joined(separator: "\n")
    }
}
