import Foundation

/// Checks on what clients send, each failing with a message that names the field and the rule. The broker makes them
/// on every request; `pumasi post --dry-run` makes the spec's without a broker too, so both say the same.
public enum Validation {
    /// The latest time a deadline may name: the last millisecond of the year 9999, as far as ISO 8601 and
    /// PostgreSQL's `timestamptz` need no special cases, and far from `Int64`'s end, so that arithmetic on a deadline
    /// cannot overflow.
    public static let latestTime: Millis = 253_402_300_799_999

    /// A deadline (`what` names it) no later than `latestTime`.
    public static func notPastLatest(_ time: Millis, what: String) throws(ProtocolError) {
        guard time <= latestTime else {
            throw bad("\(what) \(time) is past \(WallClock.iso(latestTime)), the latest allowed")
        }
    }

    public static func spec(_ spec: inout ChallengeSpec, now: Millis) throws(ProtocolError) {
        let title = spec.title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(title.count),
            title.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
        else { throw bad("spec.title must be 1-200 characters, none of them control characters") }
        guard !spec.description.unicodeScalars.contains("\u{0}") else { throw bad("spec.description contains NUL") }
        spec.title = title
        guard spec.description.utf8.count <= 100_000 else { throw bad("spec.description is over 100,000 bytes") }
        guard spec.deadline > now else {
            throw bad("spec.deadline \(WallClock.iso(spec.deadline)) is not in the future")
        }
        try notPastLatest(spec.deadline, what: "spec.deadline")
        guard spec.award.amount >= 0 else { throw bad("spec.award.amount must not be negative") }
        guard spec.award.amount <= 1_000_000_000_000, spec.award.amount.exponent >= -4 else {
            throw bad("spec.award.amount must be at most 1000000000000 with at most 4 decimal places")
        }
        let currency = spec.award.currency
        guard (3...10).contains(currency.count), currency.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) })
        else { throw bad("spec.award.currency must be an uppercase code such as USD or EUR") }
        if let startsAt = spec.startsAt, startsAt >= spec.deadline {
            throw bad("spec.startsAt \(WallClock.iso(startsAt)) must come before the deadline")
        }
        if let rules = spec.rules {
            for (name, value) in [
                ("perDay", rules.perDay), ("total", rules.total), ("finalSelection", rules.finalSelection),
            ] {
                if let value, !(1...1_000_000).contains(value) {
                    throw bad("spec.rules.\(name) must be from 1 to 1000000")
                }
            }
            if let maxBytes = rules.maxBytes, maxBytes < 1 { throw bad("spec.rules.maxBytes must be at least 1") }
        }
        if let ranking = spec.ranking {
            if let metric = ranking.metric, !(1...64).contains(metric.count) || metric.contains(where: \.isWhitespace) {
                throw bad("spec.ranking.metric must be a metric name of 1-64 characters without spaces")
            }
            if let precision = ranking.precision, !(0...12).contains(precision) {
                throw bad("spec.ranking.precision must be from 0 to 12 decimal places")
            }
        }
        if let problem = spec.redundancy?.problem { throw bad("spec.\(problem)") }
        if let slug = spec.slug, !isSlug(slug) {
            throw bad(
                "spec.slug must be 3-64 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")
        }

        if spec.scorer.judge == true { spec.judging = spec.judging ?? JudgingSpec() }
        if let problem = spec.judging?.problem(scorer: spec.scorer) { throw bad("spec.judging: \(problem)") }
        if let direction = try scorer(spec.scorer, what: "spec.scorer") { spec.direction = spec.direction ?? direction }
        let referenceNames = Set((spec.files ?? []).filter { $0.role == .reference }.map(\.name))
        try programFiles(of: spec.scorer, in: referenceNames, what: "spec.scorer")
        for (index, phase) in (spec.phases ?? []).enumerated() {
            if let scorer = phase.scorer {
                try programFiles(of: scorer, in: referenceNames, what: "spec.phases[\(index)].scorer")
            }
        }
        spec.direction = spec.direction ?? .maximize
        if let policy = spec.award.policy, let problem = policy.problem(amount: spec.award.amount) {
            throw bad("spec.award.policy: \(problem)")
        }
        if let policy = spec.award.policy, policy.kind == .thresholdTiers, let minimum = policy.minimum,
            let target = policy.target, spec.direction?.isBetter(target, than: minimum) == false
        {
            throw bad(
                "spec.award.policy: the target bar \(target) must be a better score than the minimum bar \(minimum) "
                    + "(\(spec.direction == .minimize ? "lower" : "higher") is better here)")
        }
        let limit = spec.timeLimitSeconds ?? ChallengeSpec.defaultTimeLimitSeconds
        guard limit >= ChallengeSpec.minTimeLimitSeconds, limit <= ChallengeSpec.maxTimeLimitSeconds else {
            throw bad(
                "spec.timeLimitSeconds must be at least \(ChallengeSpec.minTimeLimitSeconds) and at most "
                    + "\(Int(ChallengeSpec.maxTimeLimitSeconds))")
        }
        spec.timeLimitSeconds = limit
        if let summary = spec.summary {
            guard summary.utf8.count <= 10_000, !summary.unicodeScalars.contains("\u{0}") else {
                throw bad("spec.summary must be at most 10,000 bytes of text")
            }
        }
        if let agreement = spec.agreement {
            spec.agreement?.text = try self.agreement(agreement, what: "spec.agreement")
            spec.agreement?.file = nil
        }
        for name in spec.invite ?? [] { try self.name(name, what: "spec.invite name") }
        if let phases = spec.phases {
            guard (1...PhaseSpec.maxPhases).contains(phases.count) else {
                throw bad("spec.phases lists 1 to \(PhaseSpec.maxPhases) phases")
            }
            let references = Set((spec.files ?? []).filter { $0.role == .reference }.map(\.name))
            var names = Set<String>()
            var previous = max(now, spec.startsAt ?? now)
            for (index, phase) in phases.enumerated() {
                let what = "spec.phases[\(index)]"
                try name(phase.name, what: "\(what).name")
                guard names.insert(phase.name).inserted else { throw bad("\(what).name \(phase.name) is used twice") }
                if let start = phase.startsAt {
                    guard index > 0 else { throw bad("\(what).startsAt: the first phase opens with the challenge") }
                    guard start >= previous, start < phase.endsAt else {
                        throw bad("\(what).startsAt must come after the phase before ends, and before its own end")
                    }
                }
                guard phase.endsAt > previous else {
                    throw bad("\(what).endsAt must come after the phase before ends (or the challenge starts)")
                }
                previous = phase.endsAt
                for file in phase.reference ?? [] where !references.contains(file) {
                    throw bad("\(what).reference names \(file), which is not one of the spec's reference files")
                }
                if index == 0, phase.qualify != nil || phase.carryOver == true {
                    throw bad("\(what): the first phase has no phase before it to qualify from or carry over")
                }
                if let top = phase.qualify?.top, top < 1 { throw bad("\(what).qualify.top must be at least 1") }
                if let own = phase.scorer {
                    guard own.judge != true, spec.scorer.judge != true else {
                        throw bad("\(what).scorer: judges score the whole challenge, not a phase")
                    }
                    if let natural = try scorer(own, what: "\(what).scorer"), natural != spec.direction {
                        throw bad(
                            "\(what).scorer ranks \(natural.rawValue)d, but the challenge is \(spec.direction?.rawValue ?? "?")d"
                        )
                    }
                }
                if let bar = phase.qualify?.bar, !bar.isFinite { throw bad("\(what).qualify.bar must be a number") }
                if let problem = phase.rules.flatMap({ rules -> String? in
                    [rules.perDay, rules.total, rules.finalSelection].contains {
                        $0.map { !(1...1_000_000).contains($0) } ?? false
                    }
                        ? "limits must be from 1 to 1000000" : nil
                }) {
                    throw bad("\(what).rules: \(problem)")
                }
            }
            if let phase = spec.award.phase, !(1...phases.count).contains(phase) {
                throw bad("spec.award.phase must be one of the phases, 1 to \(phases.count)")
            }
            guard phases.last?.endsAt == spec.deadline else {
                throw bad("spec.deadline must be the last phase's end, \(WallClock.iso(phases.last?.endsAt ?? 0))")
            }
        }
        if let range = spec.scoreRange, !(range.min.isFinite && range.max.isFinite && range.min < range.max) {
            throw bad("spec.scoreRange must have finite min and max, min below max")
        }
        if spec.award.phase != nil, spec.phases == nil {
            throw bad("spec.award.phase names a phase, but the challenge has no phases")
        }
        if let teams = spec.teams {
            if let size = teams.maxSize, !(2...TeamRules.maxMaxSize).contains(size) {
                throw bad("spec.teams.maxSize must be from 2 to \(TeamRules.maxMaxSize)")
            }
            if let merge = teams.mergeDeadline, merge <= now || merge > spec.deadline {
                throw bad("spec.teams.mergeDeadline must be in the future and no later than the deadline")
            }
        }
        if spec.invite?.isEmpty == false, spec.invitationOnly != true {
            throw bad("spec.invite lists invitees, but spec.invitationOnly is not true")
        }
        var seen = Set<String>()
        for file in spec.files ?? [] {
            try fileName(file.name, what: "spec.files name")
            guard seen.insert("\(file.role.rawValue)/\(file.name)").inserted else {
                throw bad("spec.files lists \(file.role.rawValue) file \"\(file.name)\" twice")
            }
        }
    }

    /// An agreement's text: 1 to `AgreementSpec.maxBytes` bytes, no NUL.
    public static func agreement(_ agreement: AgreementSpec, what: String) throws(ProtocolError) -> String {
        guard let text = agreement.text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw bad("\(what) has no text (a spec file may name a \"file\" holding it)")
        }
        guard text.utf8.count <= AgreementSpec.maxBytes, !text.unicodeScalars.contains("\u{0}") else {
            throw bad("\(what).text must be at most \(AgreementSpec.maxBytes) bytes of text")
        }
        return text
    }

    /// Whether `text` is a challenge handle: 3-64 characters of a-z, 0-9 and '-', with a letter or digit at each end.
    public static func isSlug(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func plain(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
        guard (3...64).contains(bytes.count), let first = bytes.first, let last = bytes.last, plain(first), plain(last)
        else { return false }
        return bytes.allSatisfy { plain($0) || $0 == 0x2d }
    }

    /// Checks that the files a scorer's programs and canaries are made of are among the challenge's reference files.
    public static func programFiles(of scorer: ScorerSpec, in references: Set<String>, what: String)
        throws(ProtocolError)
    {
        for name in scorer.programFiles where !references.contains(name) {
            throw bad("\(what) names \(name), which is not one of the challenge's reference files")
        }
    }

    /// Checks a scorer; a built-in one's natural direction.
    public static func scorer(_ scorer: ScorerSpec, what: String) throws(ProtocolError) -> Direction? {
        if let problem = scorer.validate() { throw bad("\(what): \(problem)") }
        guard let builtin = scorer.builtin else { return nil }
        guard let direction = BuiltinScorers.direction(of: builtin) else {
            throw bad(
                "\(what).builtin \"\(builtin)\" is not a built-in scorer; known: "
                    + BuiltinScorers.names.joined(separator: ", "))
        }
        return direction
    }

    public static func solver(_ name: String) throws(ProtocolError) { try self.name(name, what: "solver") }

    /// A solver's or judge's name, where no key names them: 1-64 printable characters.
    public static func name(_ name: String, what: String) throws(ProtocolError) {
        if isPrintableASCII(name, bytes: 1...64) { return }
        guard (1...64).contains(name.count), name.allSatisfy({ !$0.isWhitespace || $0 == " " }),
            name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
        else { throw bad("\(what) must be 1-64 printable characters") }
    }

    /// A judge's comment, trimmed; nil when empty. `what` names it in the error.
    public static func comment(_ text: String?, what: String = "comment") throws(ProtocolError) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        guard text.count <= 4_000, !text.unicodeScalars.contains("\u{0}") else {
            throw bad("\(what) must be at most 4000 characters, without NUL")
        }
        return text
    }

    /// A judge's comments per criterion, each trimmed (an empty one stays empty: its name is still checked).
    public static func comments(_ comments: [String: String]?) throws(ProtocolError) -> [String: String]? {
        guard let comments else { return nil }
        var kept: [String: String] = [:]
        for name in comments.keys.sorted() {
            kept[name] = try comment(comments[name], what: "the comment for \"\(name.prefix(64))\"") ?? ""
        }
        return kept
    }

    /// A plain file name: no path separators, not `.` or `..`, no control characters, at most 255 bytes.
    public static func fileName(_ name: String, what: String) throws(ProtocolError) {
        if isPrintableASCII(name, bytes: 1...255), name != ".", name != "..", !name.utf8.contains(UInt8(ascii: "/")) {
            return
        }
        guard (1...255).contains(name.utf8.count), name != ".", name != "..", !name.contains("/"),
            name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
        else { throw bad("\(what) \"\(name.prefix(64))\" must be a plain file name (no '/', not '.' or '..')") }
    }

    public static func clientId(_ id: String) throws(ProtocolError) {
        guard (1...128).contains(id.utf8.count), id.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 }) else {
            throw bad("clientId must be 1-128 printable ASCII characters")
        }
    }

    public static func offset(_ offset: Int?) throws(ProtocolError) -> Int {
        guard let offset else { return 0 }
        // Files of any size: offsets past 2 GiB are real (a challenge's file uploaded in chunks).
        guard offset >= 0, offset <= 1 << 48 else { throw bad("offset must be from 0 to \(1 << 48)") }
        return offset
    }

    /// The common case, checked byte by byte: `text` is printable ASCII (space to tilde) of a length in `bytes`.
    /// Anything else takes the full Unicode checks.
    private static func isPrintableASCII(_ text: String, bytes: ClosedRange<Int>) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { utf8 in
            bytes.contains(utf8.count) && !utf8.contains { $0 < 0x20 || $0 > 0x7E }
        } ?? false
    }

    private static func bad(_ message: String) -> ProtocolError { ProtocolError(.badRequest, message) }
}
