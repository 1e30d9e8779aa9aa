import Foundation

/// What each built-in scorer needs of a challenge, checked when it is posted rather than at its first submission:
/// its options, one reference file (or the option `reference` naming which), and, for the CSV scorers, the
/// columns its options name in that file's header.
extension BuiltinScorers {
    /// The options a built-in scorer accepts besides `reference`; nil for an unknown name.
    public static func optionNames(of name: String) -> [String]? {
        switch name {
        case "exact": ["case-sensitive"]
        case "numeric-tolerance": ["absolute", "relative"]
        case "csv-accuracy", "csv-rmse", "csv-mae": ["id", "target", "split"]
        default: nil
        }
    }

    /// Why a built-in scorer cannot score with the reference files it will be given, or nil.
    /// - Parameters:
    ///   - name: a built-in scorer's name.
    ///   - references: the reference files it is given, by name: their bytes, or their first bytes (only a CSV
    ///     file's header is read), or nil when they are not at hand (then only their names are checked).
    public static func problem(name: String, options: [String: String], references: [String: Data?]) -> String? {
        guard let accepted = optionNames(of: name) else { return nil }
        let allowed = ["reference"] + accepted
        if let unknown = options.keys.sorted().first(where: { !allowed.contains($0) }) {
            return "unknown option \"\(unknown)\" for \(name)"
                + (UnknownMember.nearest(to: unknown, among: allowed).map { ": did you mean \"\($0)\"?" }
                    ?? "; it accepts \(allowed.joined(separator: ", "))")
        }
        let names = references.keys.sorted()
        let listed = names.joined(separator: ", ")
        let chosen: String
        if let wanted = options["reference"] {
            guard references.keys.contains(wanted) else {
                return "option reference=\"\(wanted)\" names no reference file "
                    + (names.isEmpty ? "(it has none)" : "(they are \(listed))")
            }
            chosen = wanted
        } else {
            guard let only = names.first else {
                return "\(name) compares submissions with a reference file, and the challenge has none "
                    + "(list one in files with \"role\": \"reference\")"
            }
            guard names.count == 1 else {
                return "\(name) compares submissions with one reference file, and there are \(names.count) "
                    + "(\(listed)): set option \"reference\" to the one it uses"
            }
            chosen = only
        }
        guard let optionalBytes = references[chosen], let bytes = optionalBytes else { return nil }
        if name == "exact" || name == "numeric-tolerance" {
            let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
            if text.allSatisfy(\.isWhitespace) { return "the reference file \(chosen) is empty" }
            return nil
        }
        let header = csvHeader(bytes)
        guard !header.isEmpty, header != [""] else { return "the reference file \(chosen) has no CSV header" }
        for option in ["id", "target", "split"] {
            guard let column = options[option]?.trimmingCharacters(in: .whitespaces) else { continue }
            guard header.contains(column) else {
                return "option \(option)=\"\(column)\" names no column of the reference file \(chosen) "
                    + "(its columns are \(header.joined(separator: ", ")))"
            }
        }
        if options["target"] == nil, header.count < 2 {
            return "the reference file \(chosen) has a single column \"\(header[0])\": it needs an id column and "
                + "a target column"
        }
        return nil
    }

    /// The trimmed column names of a CSV file's first record (RFC 4180 quoting; a UTF-8 byte order mark is skipped).
    static func csvHeader(_ bytes: Data) -> [String] {
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var start = bytes.startIndex
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        var index = start
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): quoted = true
            case UInt8(ascii: ","):
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                if fields.isEmpty, field.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
                    field = []
                    continue  // a blank line before the header
                }
                index = bytes.endIndex
            default: field.append(byte)
            }
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

extension ChallengeSpec {
    /// Why a built-in scorer of this challenge (its own, or a phase's) cannot score with the reference data it is
    /// given, or nil. Each phase is checked with its own reference files; canaries are never part of the data.
    /// - Parameters:
    ///   - files: the challenge's files by role and name, with their bytes (or first bytes), or nil when not at
    ///     hand; only reference files are read.
    ///   - prefix: where the spec sits in messages (`spec.` on the wire, empty in a spec file).
    public func scorerProblem(referenceFiles files: [String: Data?], prefix: String) -> String? {
        let cases: [(scorer: ScorerSpec, names: [String]?, what: String)] =
            phases.map { phases in
                phases.enumerated().map { index, phase in
                    (
                        phase.scorer ?? scorer, phase.reference,
                        phase.scorer == nil
                            ? "\(prefix)scorer (phase \(phase.name))" : "\(prefix)phases[\(index)].scorer"
                    )
                }
            } ?? [(scorer, nil, "\(prefix)scorer")]
        for (scorer, names, what) in cases {
            guard let builtin = scorer.builtin else { continue }
            let canaries = Set((scorer.canaries ?? []).map(\.file))
            let wanted = Set(names ?? Array(files.keys)).subtracting(canaries)
            let given = files.filter { wanted.contains($0.key) }
            if let problem = BuiltinScorers.problem(name: builtin, options: scorer.options ?? [:], references: given) {
                return "\(what): \(problem)"
            }
        }
        return nil
    }
}
