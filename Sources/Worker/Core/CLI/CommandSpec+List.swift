import PumasiShared

extension CommandSpec {
    /// Parses like `parse(_:)`, except that the last declared argument takes every remaining positional word
    /// (`pumasi invite ch_… ada bob`): `values[name]` holds them all, and `[argument: name]` the first.
    func parseList(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        guard let last = self.arguments.last else { return try parse(arguments) }
        var kept: [String] = []
        var list: [String] = []
        var positionals = 0
        var optionsEnded = false
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                positionals += 1
                if positionals >= self.arguments.count { list.append(word) }
                if positionals <= self.arguments.count { kept.append(word) }
                continue
            }
            kept.append(word)
            if word == "--" {
                optionsEnded = true
                continue
            }
            // A value given as the next word stays with its option.
            let option =
                word.hasPrefix("--")
                ? options.first { "--\($0.long)" == word } : options.first { word.count == 2 && $0.short == word.last }
            if option?.valueName != nil, index < arguments.count {
                kept.append(arguments[index])
                index += 1
            }
        }
        var parsed = try parse(kept)
        if !list.isEmpty { parsed.values[last.name] = list }
        return parsed
    }
}
