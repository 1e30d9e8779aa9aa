import Foundation
import PumasiShared

enum ListCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi list", abstract: "List challenges (open ones unless --state says otherwise).",
        options: CommandContext.clientOptions + [
            .init("state", value: "state", help: "open, closed, awarded, unawarded, or all. Default: open.")
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let stateText = context.arguments.value("state") ?? "open"
        var state: ChallengeState?
        if stateText != "all" {
            guard let parsed = ChallengeState(rawValue: stateText) else {
                throw UsageError("--state must be open, closed, awarded, unawarded or all", usage: spec.usage)
            }
            state = parsed
        }
        let challenges = try context.client().challenges(state: state)
        if context.json {
            context.console.json(challenges)
            return 0
        }
        guard !challenges.isEmpty else {
            context.console.out("No \(stateText == "all" ? "" : stateText + " ")challenges.")
            return 0
        }
        // An ACCESS column only when some challenge has an agreement or is invitation-only.
        let access = challenges.map(Self.access)
        let marked = access.contains { !$0.isEmpty }
        var table = Table(
            headers: ["ID", "TITLE", "STATE", "DEADLINE", "AWARD", "SUBMISSIONS"] + (marked ? ["ACCESS"] : []))
        for (c, access) in zip(challenges, access) {
            table.rows.append(
                [
                    c.id + (c.slug.map { " (\($0))" } ?? ""), String(c.title.prefix(40)), c.state.rawValue,
                    WallClock.iso(c.deadline), c.award.display,
                    String(c.submissions),
                ] + (marked ? [access.isEmpty ? "-" : access] : []))
        }
        context.console.out(table.rendered)
        return 0
    }
}

extension ListCommand {
    /// "agreement", "invitation only", "agreement (withheld)": what `list` marks a challenge with; empty for none.
    static func access(_ c: ChallengeInfo) -> String {
        var parts: [String] = []
        if c.invitationOnly == true { parts.append("invitation only") }
        if c.agreement != nil { parts.append(c.confidential == true ? "agreement (not accepted)" : "agreement") }
        return parts.joined(separator: ", ")
    }
}

enum ShowCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi show", abstract: "Show a challenge: description, rules, award, public files.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = ChallengeRequest(challenge: try context.challenge())
        let (c, _) = try context.client().call(Service.show, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(c)
            return 0
        }
        var text = "\(c.title)  [\(c.id)\(c.slug.map { ", " + $0 } ?? ""), \(c.state.rawValue)]\n\n"
        if let summary = c.summary { text += summary.trimmingCharacters(in: .newlines) + "\n\n" }
        if c.confidential == true, let agreement = c.agreement {
            text += """
                The description and files are withheld until you accept the agreement (\(agreement.kind.rawValue), \
                version \(agreement.version)): accept with: pumasi accept \(c.id)
                """
        } else if c.confidential == true {
            text += "The description and files are withheld until you accept the challenge's agreement."
        } else {
            text += c.description
        }
        text += """


              award         \(c.award.display) (\(Self.policy(c.award.policy)))
              deadline      \(WallClock.iso(c.deadline))
              scorer        \(c.scorer) (\(c.direction == .maximize ? "higher is better" : "lower is better"))
              time limit    \(Format.score(c.timeLimitSeconds)) s per submission
              submissions   \(c.submissions)
            """
        if let judging = c.judging {
            text +=
                "\n  judging       \(judging.required) judge\(judging.required == 1 ? "" : "s") per submission, "
                + "\(judging.rule.rawValue), scale \(Format.score(judging.range.min)) to \(Format.score(judging.range.max))"
                + (judging.weight.map {
                    ", total = \(Format.score(1 - $0)) score + \(Format.score($0)) \(judging.metricName)"
                } ?? "")
            for (index, criterion) in (judging.criteria ?? []).enumerated() {
                text += "\n  \(index == 0 ? "criteria     " : "             ") \(criterion.shown)"
            }
        }
        if let agreement = c.agreement { text += "\n  agreement     " + Self.agreement(agreement) }
        if c.invitationOnly == true { text += "\n  access        invitation only" }
        if c.evaluators == .own { text += "\n  evaluators    scored by the seeker's own evaluators" }
        if c.state == .draft, let startsAt = c.startsAt { text += "\n  opens         \(WallClock.iso(startsAt))" }
        if let teams = c.teams { text += "\n  teams         " + Self.teams(teams, deadline: c.deadline) }
        if let rules = c.rules, let limits = Self.limits(rules) { text += "\n  limits        " + limits }
        for (index, line) in Self.phases(c).enumerated() {
            text += (index == 0 ? "\n  phases        " : "\n                ") + line
        }
        if let ranking = c.ranking, ranking.metric != nil || ranking.precision != nil {
            text +=
                "\n  ranked by     \(ranking.metric ?? "score")"
                + (ranking.precision.map { " at \($0) decimal places" } ?? "")
        }
        if let version = c.scorerVersion, version > 1 { text += "\n  scorer        version \(version)" }
        if let redundancy = c.redundancy {
            text +=
                "\n  replicas      \(redundancy.replicas) evaluators must agree within "
                + "\(Format.score(redundancy.effectiveTolerance)) (up to \(redundancy.effectiveMaxReplicas) tries)"
        }
        for award in c.awards ?? [] {
            text +=
                "\n  awarded       \(award.amount) \(award.currency) to \(award.shownSolver) (\(award.submission))"
                + (award.rationale.map { ": \($0)" } ?? "")
        }
        if !c.files.isEmpty {
            text += "\n\nPublic files (pumasi download \(c.id)):"
            for file in c.files {
                text += "\n  \(file.name)  \(file.size ?? 0) bytes  sha256 \(Format.short(file.sha256 ?? ""))"
            }
        }
        if let agreement = c.agreement, c.confidential == true || agreement.accepted == false {
            text += "\n\nAgreement, version \(agreement.version) (sha256 \(agreement.sha256)):\n"
            text += agreement.text.trimmingCharacters(in: .newlines)
        }
        context.console.out(text)
        return 0
    }
}

extension ShowCommand {
    /// "version 2: confidentiality, and a licence …; sha256 1a2b…; not accepted": the acceptance part for a solver.
    static func agreement(_ agreement: AgreementInfo) -> String {
        var text = "version \(agreement.version): \(agreement.kind.display); sha256 \(Format.short(agreement.sha256))"
        if let old = agreement.acceptedVersion {
            text += "; you accepted version \(old); the terms changed"
        } else if let accepted = agreement.accepted {
            text += accepted ? "; accepted" : "; not accepted"
        }
        return text
    }

    /// "5 a day, 50 in all, …", or nil for rules that limit nothing.
    static func limits(_ rules: SubmissionRules) -> String? {
        var parts: [String] = []
        if let perDay = rules.perDay { parts.append("\(perDay) a day") }
        if let total = rules.total { parts.append("\(total) in all") }
        if rules.mode == .replace { parts.append("each replaces the last") }
        if let n = rules.finalSelection { parts.append("select \(n) for the final ranking") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// One line per phase: `2 final  ends 2026-…  (open now)  reference final.csv, top 2 of phase 1, …`; empty
    /// for a challenge without phases. A phase before the current one is closed, the current one open while the
    /// challenge is (or ended, while its scoring drains), a later one upcoming.
    static func phases(_ c: ChallengeInfo) -> [String] {
        guard let phases = c.phases, !phases.isEmpty else { return [] }
        let current = (c.phase ?? 1) - 1
        let width = phases.map(\.name.count).max() ?? 0
        let now = WallClock.now()
        return phases.enumerated().map { index, phase in
            let status: String
            switch c.state {
            case .draft: status = "upcoming"
            case .open:
                if index < current {
                    status = "closed"
                } else if index > current {
                    status = "upcoming"
                } else {
                    status = phase.endsAt <= now && index + 1 < phases.count ? "ended, scoring" : "open now"
                }
            default: status = "closed"
            }
            var parts: [String] = []
            if let start = phase.startsAt { parts.append("opens at " + WallClock.iso(start) + " at the earliest") }
            if let scorer = phase.scorer { parts.append("scored by " + scorer.display) }
            if let reference = phase.reference { parts.append("reference " + reference.joined(separator: ", ")) }
            if let rules = phase.rules, let limits = limits(rules) { parts.append(limits) }
            if let qualify = phase.qualify, let rule = qualification(qualify, before: index, direction: c.direction) {
                parts.append(rule)
            }
            if phase.carryOver == true {
                parts.append(
                    c.rules?.finalSelection == nil
                        ? "carries the best submission over" : "carries the final selection over")
            }
            let name = phase.name.padding(toLength: width, withPad: " ", startingAt: 0)
            return "\(index + 1) \(name)  ends \(WallClock.iso(phase.endsAt))  (\(status))"
                + (parts.isEmpty ? "" : "  " + parts.joined(separator: ", "))
        }
    }

    /// "top 10 of phase 1", "score at least 0.8 in phase 1", or both: who may enter a phase, from the final
    /// standings of the phase before it, numbered `before` (1, 2, …).
    static func qualification(_ rule: PhaseSpec.Qualification, before: Int, direction: Direction) -> String? {
        let bar = rule.bar.map { "score \(direction == .maximize ? "at least" : "at most") \(Format.score($0))" }
        switch (rule.top, bar) {
        case (let top?, let bar?): return "top \(top) of phase \(before) among those who \(bar)"
        case (let top?, nil): return "top \(top) of phase \(before)"
        case (nil, let bar?): return "\(bar) in phase \(before)"
        case (nil, nil): return nil
        }
    }

    /// "up to 3 members, merge deadline 2026-12-31T00:00:00Z": the spec's, or the broker's defaults.
    static func teams(_ teams: TeamRules, deadline: Millis) -> String {
        "up to \(teams.maxSize ?? TeamRules.defaultMaxSize) members, merge deadline "
            + WallClock.iso(min(teams.mergeDeadline ?? deadline, deadline))
    }

    /// "winner-takes-all", "top-n 70/30", "threshold-tiers: 1000 at 30, all at 20", …
    static func policy(_ policy: AwardPolicySpec?) -> String {
        guard let policy else { return "winner takes all" }
        switch policy.kind {
        case .topN:
            return "top \(policy.shares?.count ?? 0): "
                + (policy.shares ?? []).map { "\($0)%" }.joined(separator: " / ")
        case .thresholdTiers:
            return
                "\(policy.guaranteed.map { "\($0)" } ?? "?") at \(Format.score(policy.minimum)), all at \(Format.score(policy.target))"
        case .firstToThreshold: return "bounty: the first to reach \(Format.score(policy.threshold))"
        case .discretionary: return "at the seeker's discretion"
        case .winnerTakesAll: return "winner takes all"
        }
    }
}

extension AwardInfo {
    /// "ada", or "ada of team owls" for a member's share of a team's award.
    var shownSolver: String { solver + (team.map { " of team \($0)" } ?? "") }
}

enum DownloadCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi download", abstract: "Download a challenge's public files, or a submission's file.",
        discussion: """
            A submission's file (yours, or any to your own challenge as its seeker) comes in chunks, checked against
            its SHA-256, with progress on stderr.
            """,
        arguments: [.init("challenge", help: "The challenge id (ch_…), or a submission id (sub_…).")],
        options: CommandContext.clientOptions + [
            .init(
                "output", short: "o", value: "path",
                help: "Where to write the files (a directory), or a submission's file. Default: the current "
                    + "directory, under the file's name."),
            .init("file", value: "name", help: "Only this file.", repeats: true),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let id = try context.challenge()
        if id.hasPrefix("sub_") { return try SubmissionTransfer.download(id, context) }
        let client = try context.client()
        let (challenge, _) = try client.call(Service.show, ChallengeRequest(challenge: id), as: ChallengeInfo.self)
        if challenge.confidential == true {
            throw CommandFailure(
                "the files of \(challenge.id) are withheld until you accept its agreement: read it and accept it with "
                    + "`pumasi accept \(challenge.id)`")
        }
        let wanted = context.arguments.all("file")
        let names = wanted.isEmpty ? challenge.files.map(\.name) : wanted
        let directory = context.arguments.value("output") ?? FileManager.default.currentDirectoryPath
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [FileInfo] = []
        for name in names {
            // In chunks, straight to the file: a challenge's file may be large.
            let path = (directory as NSString).appendingPathComponent(name)
            var bar = ProgressBar(label: "downloading \(name)")
            let info = try client.download(Service.file, to: path) {
                FileRequest(challenge: id, name: name, offset: $0)
            } progress: {
                if $1 > Uploader.inlineLimit { bar.update($0, of: $1) }
            }
            written.append(info)
            if !context.json { context.console.out("\(path)  \(info.size) bytes  sha256 \(Format.short(info.sha256))") }
        }
        if context.json { context.console.json(written) }
        return 0
    }
}

enum SubmitCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi submit", abstract: "Submit a solution file to a challenge.",
        discussion: """
            The broker acknowledges only after the submission is durably stored. Each submission carries a
            client id, so a retry after a lost reply returns the first receipt instead of submitting twice.
            A file over 1 MiB is uploaded in chunks, with progress on stderr, and resumes where the broker stands
            after a broken connection; one over the challenge's maxBytes is refused before it is sent.
            """,
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."), .init("file", help: "The solution file."),
        ],
        options: CommandContext.clientOptions + [
            CommandContext.solverOption,
            .init("client-id", value: "id", help: "Idempotency key. Default: a new random id."),
            .init(
                "message", short: "m", value: "text",
                help: "A comment on the submission (what you tried), shown to you and the seeker."),
            .init(
                "again",
                help:
                    "Submit anew a file this solver submitted to this challenge in the last 10 minutes (otherwise that is the same submission)."
            ),
            .init("wait", short: "w", help: "Wait until the submission is scored and show the result."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let challenge = try context.challenge()
        let path = context.arguments[argument: "file"] ?? ""
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
            FileManager.default.isReadableFile(atPath: path)
        else { throw CommandFailure("cannot read \(path)") }
        // Over CURVE the broker names the solver after the key; the name here matters only without it. Named by
        // nobody, the request carries the login name marked as such: a relay submits as its owner instead.
        let curve = try context.curve()
        let named = context.namedSolver
        var request = SubmitRequest(
            challenge: challenge,
            solver: named ?? (curve != nil ? "key-holder" : context.environment["USER"] ?? ""),
            filename: (path as NSString).lastPathComponent,
            clientId: context.arguments.value("client-id") ?? UUID().uuidString.lowercased(),
            comment: context.arguments.value("message"))
        if named == nil { request.solverDefaulted = true }
        request.repeatWindowSeconds = context.arguments.flag("again") ? nil : SubmitRequest.defaultRepeatWindowSeconds
        let client = try context.client()
        let receipt: Receipt
        if size > Uploader.inlineLimit {
            receipt = try SubmissionTransfer.upload(path, request, client: client)
        } else {
            guard let bytes = FileManager.default.contents(atPath: path) else {
                throw CommandFailure("cannot read \(path)")
            }
            (receipt, _) = try client.call(Service.submit, request, files: [bytes], as: Receipt.self, attempts: 3)
        }
        if receipt.queued == true {
            if context.json {
                context.console.json(receipt)
            } else {
                context.console.out(
                    """
                    Queued in the relay's outbox: the broker is unreachable right now.
                      It is kept on disk and delivered, once, when the broker is back (pumasi outbox lists it).
                      \(receipt.size) bytes, sha256 \(receipt.sha256), client id \(request.clientId ?? "")
                    """)
                if let warning = receipt.warning { context.console.err("Warning: \(warning)") }
            }
            return 0
        }
        if context.arguments.flag("wait") {
            let info = try StatusCommand.waitForResult(receipt.submission, client: client, seconds: 600)
            if context.json { context.console.json(info) } else { StatusCommand.print(info, context.console) }
            return info.state == .failed ? 1 : 0
        }
        // A duplicate is the earlier submission: of this client id when one was given, else of this file lately.
        let again =
            context.arguments.value("client-id") != nil
            ? "the submission of client id \(request.clientId ?? ""); a new one needs a new client id"
            : "the same submission; --again submits the file anew"
        if context.json {
            context.console.json(receipt)
        } else {
            context.console.out(
                """
                Submitted \(receipt.submission) to \(receipt.challenge)\(receipt.duplicate ? " (already received at \(WallClock.iso(receipt.receivedAt)): \(again))" : "")
                  \(receipt.size) bytes, sha256 \(receipt.sha256)
                  Follow it with: pumasi status \(receipt.submission)
                """ + (receipt.quota?.summary.map { "\n  Quota: \($0)" } ?? ""))
        }
        return 0
    }
}

enum StatusCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi status",
        abstract:
            "Show where a submission is: queued, scoring, judging, scored or failed (and why), with any judgements.",
        arguments: [.init("submission", help: "The submission id (sub_…).")],
        options: CommandContext.clientOptions + [
            .init("wait", short: "w", help: "Wait until it is scored or failed (or waits for its judges)."),
            .init(
                "details", value: "file",
                help: "Save the detailed results page its scoring program wrote (HTML) to this file."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let id = context.arguments[argument: "submission"] ?? ""
        let client = try context.client()
        let info: SubmissionInfo
        let details = context.arguments.value("details")
        if context.arguments.flag("wait") {
            _ = try waitForResult(id, client: client, seconds: 600)
        }
        (info, _) = try client.call(
            Service.status, SubmissionRequest(submission: id, details: details != nil ? true : nil),
            as: SubmissionInfo.self)
        if let details {
            guard let page = info.detailedResults else {
                throw CommandFailure("\(id) has no detailed results (its scoring program wrote no HTML page)")
            }
            try Data(page.utf8).write(to: URL(fileURLWithPath: details))
        }
        if context.json { context.console.json(info) } else { print(info, context.console) }
        return 0
    }

    /// Waits for a submission's automated outcome; one that waits for human judges is returned as it is.
    static func waitForResult(_ id: String, client: BrokerClient, seconds: Double) throws -> SubmissionInfo {
        let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        var pause: UInt32 = 20_000
        while true {
            let (info, _) = try client.call(Service.status, SubmissionRequest(submission: id), as: SubmissionInfo.self)
            if [.scored, .failed, .judging].contains(info.state) || WallClock.monotonicNanos() > deadline {
                return info
            }
            usleep(pause)
            pause = min(pause * 2, 500_000)
        }
    }

    static func print(_ info: SubmissionInfo, _ console: Console) {
        var text = """
            \(info.submission)  \(info.state.rawValue)
              challenge   \(info.challenge)
              solver      \(info.solver)
              file        \(info.filename) (\(info.size) bytes, sha256 \(Format.short(info.sha256)))
              received    \(WallClock.iso(info.receivedAt))
            """
        if let score = info.score { text += "\n  score       \(Format.score(score))" }
        if let metrics = info.metrics, !metrics.isEmpty {
            text +=
                "\n  metrics     "
                + metrics.keys.sorted().map { "\($0)=\(Format.score(metrics[$0]))" }.joined(separator: " ")
        }
        if let message = info.message { text += "\n  message     \(message)" }
        if let error = info.error { text += "\n  error       \(error)" }
        if info.attempts > 1 { text += "\n  attempts    \(info.attempts)" }
        if let comment = info.comment { text += "\n  comment     \(comment)" }
        if let note = info.note { text += "\n  note        \(note)" }
        if let length = info.detailedResultsLength {
            text += "\n  details     a page of \(length) characters (--details FILE saves it)"
        }
        if let version = info.version, version > 1 { text += "\n  scorer      version \(version)" }
        for old in info.history ?? [] where old.version != info.version {
            text += "\n  version \(old.version)   " + (old.ok ? Format.score(old.score) : "failed: \(old.error ?? "")")
        }
        for judgement in info.judgements ?? [] {
            text +=
                "\n  judgement   \(Format.score(judgement.score))" + (judgement.judge.map { " by \($0)" } ?? "")
                + (judgement.comment.map { ": \($0)" } ?? "")
            for criterion in judgement.criteria ?? [] {
                text +=
                    "\n    \(criterion.name) \(Format.score(criterion.score))"
                    + (criterion.comment.map { ": \($0)" } ?? "")
            }
        }
        console.out(text)
    }
}

enum LeaderboardCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi leaderboard",
        abstract: "Show a challenge's leaderboard: each solver's (or team's, with its members) best score.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            .init("limit", short: "n", value: "count", help: "Show the top N only."),
            .init(
                "phase", value: "number",
                help: "For a challenge in phases, this one (1, 2, …). Default: the one open now, or the last."),
        ] + CommandContext.viewOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        var limit: Int?
        if let text = context.arguments.value("limit") {
            guard let value = Int(text), value > 0 else {
                throw UsageError("--limit must be a positive number", usage: spec.usage)
            }
            limit = value
        }
        var phase: Int?
        if let text = context.arguments.value("phase") {
            guard let value = Int(text), value > 0 else {
                throw UsageError("--phase must be a phase's number: 1, 2, …", usage: spec.usage)
            }
            phase = value
        }
        let request = LeaderboardRequest(
            challenge: try context.challenge(), limit: limit, view: try context.view(),
            phase: phase)
        let (board, _) = try context.client().call(Service.leaderboard, request, as: Leaderboard.self)
        if context.json {
            context.console.json(board)
            return 0
        }
        var text =
            "\(board.title)  [\(board.challenge), \(board.state.rawValue)]  \(board.view ?? "") by \(board.metric ?? "score"), "
        text += board.direction == .maximize ? "higher is better" : "lower is better"
        if let number = board.phase { text += ", phase \(number)" + (board.phaseName.map { " (\($0))" } ?? "") }
        text += "\n"
        if board.entries.isEmpty {
            text += "No scored submissions yet."
        } else {
            // A MEMBERS column only when some entrant is a team.
            let teams = board.entries.contains { $0.members != nil }
            var table = Table(
                headers: ["RANK", "SOLVER", "SCORE", "ENTRIES", "SUBMISSION", "SUBMITTED"] + (teams ? ["MEMBERS"] : []))
            for e in board.entries {
                table.rows.append(
                    [
                        e.score == nil ? "-" : e.rank.map(String.init) ?? "-", e.solver,
                        Format.score(e.score, decimals: board.precision), String(e.entries), e.submission,
                        WallClock.iso(e.submittedAt),
                    ] + (teams ? [e.members.map { $0.joined(separator: ", ") } ?? "-"] : []))
            }
            text += table.rendered
        }
        if board.pending > 0 || board.failed > 0 {
            text += "\n\(board.pending) pending, \(board.failed) failed to score"
        }
        // A board is given again for ten times as long as it took to make: a large challenge's may be seconds old.
        if let asOf = board.asOf, WallClock.now() - asOf >= 1_000 { text += "\nas of \(WallClock.iso(asOf))" }
        context.console.out(text)
        return 0
    }
}

enum QuotaCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi quota",
        abstract: "Show how many submissions you may still make to a challenge, and when the count resets.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            CommandContext.solverOption
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = QuotaRequest(
            challenge: try context.challenge(), solver: context.solverName)
        let (quota, _) = try context.client().call(Service.quota, context.namingSolver(request), as: Quota.self)
        if context.json {
            context.console.json(quota)
        } else {
            context.console.out(quota.summary ?? "No limits: submit as often as you like.")
        }
        return 0
    }
}

enum SelectCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi select",
        abstract: "Choose the submissions that count for the final ranking (replaces your earlier choice).",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            .init(
                "submission", value: "sub_…", help: "A submission to count; repeat it, up to the challenge's limit.",
                repeats: true),
            CommandContext.solverOption,
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = SelectRequest(
            challenge: try context.challenge(), submissions: context.arguments.all("submission"),
            solver: context.solverName)
        let (chosen, _) = try context.client().call(Service.select, context.namingSolver(request), as: [String].self)
        if context.json {
            context.console.json(chosen)
        } else {
            context.console.out(
                chosen.isEmpty
                    ? "No submissions selected: your best ones on the public split will count."
                    : "Selected for the final ranking: \(chosen.joined(separator: ", "))")
        }
        return 0
    }
}
