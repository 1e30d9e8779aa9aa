import Foundation

/// The command of a Codabench or CodaLab program directory, from its `metadata.yaml` or `metadata` file, and how
/// Codabench's compute worker turns it into a process's arguments.
///
/// The file is read as YAML by `YAMLDocument` and only its top-level `command` is used, which must be a scalar (plain,
/// quoted or block); other keys (`description`, `image`, …) are ignored but must be valid YAML, as Codabench's worker
/// (PyYAML) requires.
struct CodabenchMetadata: Equatable {
    /// The metadata file's name: `metadata.yaml` or `metadata`.
    var file: String
    /// The `command` value, before substitution.
    var command: String

    /// The metadata files Codabench looks for, in its order.
    static let fileNames = ["metadata.yaml", "metadata"]
    /// The largest metadata file read.
    static let sizeLimit = 1 << 20

    /// The metadata of the program in `directory`.
    /// - Throws: `plugin_start` if there is no metadata file, it cannot be read, or it has no usable `command`.
    static func load(programDirectory directory: String) throws(ScoringFailure) -> CodabenchMetadata {
        guard let file = fileNames.first(where: { PluginRunner.fileType(directory + "/" + $0) == S_IFREG }) else {
            throw PluginRunner.startFailure(
                "the scoring program directory \(directory) has no metadata.yaml or metadata file")
        }
        let path = directory + "/" + file
        guard let data = FileManager.default.contents(atPath: path), data.count <= sizeLimit else {
            throw PluginRunner.startFailure("cannot read \(path), or it is larger than \(sizeLimit) bytes")
        }
        do {
            return CodabenchMetadata(file: file, command: try command(in: String(decoding: data, as: UTF8.self)))
        } catch {
            throw PluginRunner.startFailure("\(path): \(error.message)")
        }
    }

    /// A problem with the metadata text or the command's syntax.
    struct Problem: Error {
        var message: String
    }

    /// The `command` value in a metadata text, read as YAML (as Codabench's worker reads it, with PyYAML).
    static func command(in text: String) throws(Problem) -> String {
        let root: YAMLNode
        do {
            root = try YAMLDocument(parsing: text, limits: YAMLDocument.Limits(bytes: sizeLimit)).root
        } catch {
            throw Problem(message: message(for: error, in: text))
        }
        guard let command = root["command"] else { throw Problem(message: "there is no \"command\"") }
        guard let value = command.string else {
            throw Problem(message: "\"command\" must be one string, not a list or a mapping")
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Problem(message: "\"command\" is empty") }
        return trimmed
    }

    /// A YAML failure in words: an unclosed quote that opens on the `command` line is named as such, any other
    /// failure is libyaml's problem and where it was found.
    private static func message(for failure: YAMLDocument.Failure, in text: String) -> String {
        if failure.context == "while scanning a quoted scalar", let line = failure.contextLine {
            // "\r\n" is one Character, so lines are split on every kind of line end, not on "\n".
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            let opening = lines.indices.contains(line - 1) ? lines[line - 1] : ""
            if ["command:", "\"command\":", "'command':"].contains(where: opening.hasPrefix) {
                return "\"command\" has an unterminated quoted string"
            }
        }
        return "it is not valid YAML: \(failure)"
    }
}

extension CodabenchMetadata {
    /// The command's words, split as Codabench's container engine splits a command string (POSIX `shlex.split`:
    /// whitespace separates words, quotes group, a backslash escapes; no shell runs it), then with each variable
    /// replaced in turn, as Codabench replaces them. Splitting first keeps a replaced path one word.
    /// - Parameter variables: `("$input", path)` pairs, in the order they are replaced.
    static func words(_ command: String, variables: [(String, String)]) throws(Problem) -> [String] {
        try split(command).map { word in
            variables.reduce(word) { text, variable in text.replacingOccurrences(of: variable.0, with: variable.1) }
        }
    }

    /// POSIX shell-like splitting, as Python's `shlex.split(text)`.
    static func split(_ text: String) throws(Problem) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var characters = text.makeIterator()
        while let character = characters.next() {
            switch (quote, character) {
            case (nil, " "), (nil, "\t"), (nil, "\n"), (nil, "\r"):
                if inWord { words.append(word) }
                word = ""
                inWord = false
            case (nil, "'"), (nil, "\""):
                quote = character
                inWord = true
            case (nil, "\\"):
                guard let next = characters.next() else { throw Problem(message: "the command ends with a backslash") }
                word.append(next)
                inWord = true
            case (let open?, _) where character == open:
                quote = nil
            case ("\""?, "\\"):
                guard let next = characters.next() else { throw Problem(message: "the command has an unclosed quote") }
                if next != "\"" && next != "\\" { word.append("\\") }
                word.append(next)
            default:
                word.append(character)
                inWord = true
            }
        }
        guard quote == nil else { throw Problem(message: "the command has an unclosed quote") }
        if inWord { words.append(word) }
        return words
    }
}
