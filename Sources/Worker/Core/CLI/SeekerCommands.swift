import Foundation
import PumasiShared

enum PostCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi post", abstract: "Post a challenge from a JSON spec file, or from a Codabench bundle.",
        discussion: """
            The spec names the title, description, deadline, award, scorer and files; see docs/challenges.md and
            docs/protocol.md. With --bundle, a Codabench or CodaLab competition bundle (a zip with competition.yaml)
            is the challenge: its phases, programs, data, leaderboard, limits, terms, pages and image; see
            docs/plugins.md. Every command, profiles (pumasi login), JSON output and exit codes: docs/cli.md.
            """,
        arguments: [.init("spec", help: "Path to the challenge spec (JSON).", optional: true)],
        options: CommandContext.clientOptions + [
            .init("bundle", value: "zip", help: "Post this Codabench or CodaLab competition bundle."),
            .init("award", value: "amount currency", help: "With --bundle: the award, such as \"1000 USD\"."),
            .init(
                "deadline", value: "time",
                help: "With --bundle: the deadline (2026-12-31T23:59:00Z or +30d), if the bundle's has passed."),
            .init("phase-ends", value: "times", help: "With --bundle: each phase's end, comma-separated."),
            .init(
                "environment", value: "image",
                help: "With --bundle: run in this environment, not the bundle's image; `host`: on evaluators' hosts."),
            .init(
                "ingestion-log", value: "lines",
                help: "With --bundle: the last lines of the ingestion's output solvers see. Default: none."),
            .init(
                "terms-kind", value: "kind",
                help: "With --bundle: the agreement the terms are: licence (default), confidentiality or ip-transfer."),
            .init(
                "canary", value: "file=score[@phase]",
                help:
                    "With --bundle: a submission that must get this score (or =fail: must fail) before any is scored.",
                repeats: true),
            .init(
                "dry-run",
                help: "Check the spec and its files as a post would, here and then with the broker (offline only when "
                    + "no broker answers), and post nothing (with --bundle: print the challenge spec)."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let file: SpecFile
        let scratch = NSTemporaryDirectory() + "pumasi-bundle-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        if let bundle = context.arguments.value("bundle") {
            guard context.arguments[argument: "spec"] == nil else {
                throw UsageError("give a spec file or --bundle, not both", usage: spec.usage)
            }
            guard let posting = try BundlePosting.load(bundle, context: context, scratch: scratch) else { return 0 }
            file = posting
        } else {
            guard let path = context.arguments[argument: "spec"] else {
                throw UsageError("give a spec file, or --bundle", usage: spec.usage)
            }
            file = try SpecFile.load(path)
            if context.arguments.flag("dry-run") { return try check(file, path: path, context: context) }
        }
        let client = try context.client()
        let uploads = try SubmissionTransfer.uploadFiles(file, client: client)
        let (info, _) = try client.call(
            Service.post, PostRequest(spec: file.spec, uploads: uploads), files: file.fileBytes, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                """
                Posted \(info.id): \(info.title)\(info.state == .draft ? " (a draft until \(WallClock.iso(info.startsAt ?? 0)))" : "")
                  award     \(info.award.display) (\(info.award.policy?.kind.rawValue ?? "winner-takes-all"))
                  deadline  \(WallClock.iso(info.deadline))
                  scorer    \(info.scorer), \(info.direction.rawValue)
                  files     \(info.files.count) public
                """
                    + (info.agreement.map {
                        "\n  agreement \($0.kind.rawValue), version \($0.version), sha256 \(Format.short($0.sha256))"
                    } ?? "")
                    + (info.invitationOnly == true ? "\n  access    invitation only" : "")
                    + (file.spec.invite.map { "\n  invited   " + $0.joined(separator: ", ") } ?? "")
                    + (info.evaluators == .own ? "\n  evaluators the seeker's own" : "")
                    + (info.teams.map { "\n  teams     " + ShowCommand.teams($0, deadline: info.deadline) } ?? ""))
        }
        return 0
    }

    /// `--dry-run` with a spec file: first every check that needs no broker (the spec file's syntax and members, its
    /// dates, files and scorer's needs when it was read; then the broker's own rules on the spec, `Validation.spec`),
    /// then the broker checks the spec and its files whole and stores nothing. Files too large for the message are
    /// not uploaded: they go as stated (name, size, SHA-256), checked here. With no broker answering, the offline
    /// checks are the answer, and it says what they could not check.
    private static func check(_ file: SpecFile, path: String, context: CommandContext) throws -> Int32 {
        var spec = file.spec
        do {
            try Validation.spec(&spec, now: WallClock.now())
        } catch {
            throw CommandFailure("\(path): \(error.message)")
        }
        var check: PostCheck
        do {
            (check, _) = try context.client().call(
                Service.post, PostRequest(spec: file.spec, dryRun: true), files: file.fileBytes, as: PostCheck.self)
        } catch let error as ClientError where Self.noBroker(error) {
            check = PostCheck(
                direction: spec.direction ?? .maximize, scorer: spec.scorer.display,
                draft: (spec.startsAt ?? 0) > WallClock.now(), files: spec.files?.count ?? 0,
                phases: spec.phases?.count ?? 0)
            check.notChecked = Self.brokerChecks
            if !context.json { context.console.err("Warning: \(error); the spec was checked offline only") }
        }
        if context.json {
            context.console.json(check)
            return 0
        }
        let phases = check.phases > 0 ? ", \(check.phases) phases" : ""
        let summary =
            "\(spec.title), \(spec.award.display), scorer \(check.scorer) (\(check.direction.rawValue)), "
            + "\(check.files) files\(phases), "
            + (check.draft ? "a draft until \(WallClock.iso(spec.startsAt ?? 0))" : "open at once")
            + ", deadline \(WallClock.iso(spec.deadline)); nothing was posted"
        guard let notChecked = check.notChecked else {
            context.console.out("the spec is valid: " + summary)
            return 0
        }
        context.console.out(
            """
            the spec is valid offline: \(summary)
              checked offline: \(Self.offlineChecks.joined(separator: "; "))
              not checked (they need the broker): \(notChecked.joined(separator: "; "))
            """)
        return 0
    }

    /// Whether the dry run's request failed for want of a broker (none answers, or too late), not by its answer.
    private static func noBroker(_ error: ClientError) -> Bool {
        switch error {
        case .unreachable, .timeout: true
        default: false
        }
    }

    /// What `post --dry-run` checks without a broker (SpecFile.load, then Validation.spec).
    static let offlineChecks = [
        "JSON syntax and unknown members", "dates (deadline, start, phases, team merge)",
        "title, description, award, currency and award policy", "rules and ranking", "the handle's form",
        "the scorer, its options and its programs among the reference files",
        "the reference files against the scorer's needs (count, CSV columns)", "the files are readable",
        "phases, agreement, judging and redundancy",
    ]

    /// What only the broker can check.
    static let brokerChecks = [
        "whether the handle is taken", "whether your key may post (a seeker's or an admin's)",
        "settings that need a broker with keys (invitation-only, own evaluators)",
        "its limits on message and file sizes",
    ]
}

enum CloseCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi close",
        abstract: "Close a challenge before its deadline (admins only); its award is decided once scoring drains.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let request = ChallengeRequest(challenge: try context.challenge())
        let (info, _) = try context.client().call(Service.close, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("Closed \(info.id): \(info.title). The award is decided once scoring has drained.")
        }
        return 0
    }
}

enum ExtendCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi extend", abstract: "Move a challenge's deadline later (its seeker or an admin).",
        arguments: [
            .init("challenge", help: "The challenge id (ch_…)."),
            .init("deadline", help: "The new deadline: 2026-12-31T23:59:00Z, or +7d, +36h, +90m."),
        ],
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let text = context.arguments[argument: "deadline"] ?? ""
        guard let deadline = WallClock.parse(text) else {
            throw UsageError("deadline must be a time such as 2026-12-31T23:59:00Z or +7d", usage: spec.usage)
        }
        let request = ExtendRequest(challenge: try context.challenge(), deadline: deadline)
        let (info, _) = try context.client().call(Service.extend, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("Extended \(info.id): the deadline is now \(WallClock.iso(info.deadline)).")
        }
        return 0
    }
}

enum CancelCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi cancel", abstract: "Cancel a challenge: a draft by its seeker, a posted one by an admin only.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [.init("reason", value: "text", help: "Why (required; announced).")])

    static func run(_ context: CommandContext) throws -> Int32 {
        guard let reason = context.arguments.value("reason") else {
            throw UsageError("--reason is required", usage: spec.usage)
        }
        let request = CancelRequest(challenge: try context.challenge(), reason: reason)
        let (info, _) = try context.client().call(Service.cancel, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("Cancelled \(info.id): \(info.title).")
        }
        return 0
    }
}

enum DisqualifyCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi disqualify",
        abstract:
            "Disqualify a submission (its challenge's seeker or an admin): it no longer ranks, and an award passes to the next.",
        arguments: [.init("submission", help: "The submission id (sub_…).")],
        options: CommandContext.clientOptions + [.init("reason", value: "text", help: "Why (required; announced).")])

    static func run(_ context: CommandContext) throws -> Int32 {
        guard let reason = context.arguments.value("reason") else {
            throw UsageError("--reason is required", usage: spec.usage)
        }
        let request = DisqualifyRequest(submission: context.arguments[argument: "submission"] ?? "", reason: reason)
        let (info, _) = try context.client().call(Service.disqualify, request, as: SubmissionInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("Disqualified \(info.submission) by \(info.solver): \(reason)")
        }
        return 0
    }
}

enum AwardCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi award",
        abstract: "Decide a discretionary award once scoring has finished: amounts to submissions, with a rationale.",
        discussion: "Each --pay is SUBMISSION=AMOUNT (sub_…=2500); none closes the challenge without award.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            .init("pay", value: "sub_…=amount", help: "A payment; repeat it for several.", repeats: true),
            .init("rationale", value: "text", help: "Why (required; recorded in the ledger and announced)."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        guard let rationale = context.arguments.value("rationale") else {
            throw UsageError("--rationale is required", usage: spec.usage)
        }
        let payments = try context.arguments.all("pay").map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let amount = Decimal(string: parts[1], locale: Locale(identifier: "en_US_POSIX"))
            else {
                throw UsageError("--pay must be SUBMISSION=AMOUNT, such as sub_…=2500", usage: spec.usage)
            }
            return AwardRequest.Payment(submission: parts[0], amount: amount)
        }
        let request = AwardRequest(
            challenge: try context.challenge(), payments: payments, rationale: rationale)
        let (info, _) = try context.client().call(Service.award, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            let paid = (info.awards ?? []).map {
                "\($0.amount) \($0.currency) to \($0.shownSolver) for \($0.submission)"
            }
            context.console.out(
                "\(info.id) is \(info.state.rawValue)" + (paid.isEmpty ? "." : ": " + paid.joined(separator: "; ")))
        }
        return 0
    }
}

enum RescoreCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi rescore",
        abstract: "Score every submission again with a new version of the scorer; the old scores are kept and shown.",
        arguments: [.init("challenge", help: "The challenge id (ch_…).")],
        options: CommandContext.clientOptions + [
            .init("builtin", value: "name", help: "A built-in scorer (exact, numeric-tolerance, csv-accuracy, …)."),
            .init("plugin", value: "name", help: "A plugin hosted by evaluators under this name."),
            .init("option", value: "key=value", help: "A scorer option; repeat it for several.", repeats: true),
            .init("reason", value: "text", help: "Why (recorded and announced)."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        var options: [String: String] = [:]
        for text in context.arguments.all("option") {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw UsageError("--option must be key=value", usage: spec.usage) }
            options[parts[0]] = parts[1]
        }
        let scorer = ScorerSpec(
            builtin: context.arguments.value("builtin"), plugin: context.arguments.value("plugin"),
            options: options.isEmpty ? nil : options)
        if let problem = scorer.validate() { throw UsageError(problem, usage: spec.usage) }
        let request = RescoreRequest(
            challenge: try context.challenge(), scorer: scorer,
            reason: context.arguments.value("reason"))
        let (info, _) = try context.client().call(Service.rescore, request, as: ChallengeInfo.self)
        if context.json {
            context.console.json(info)
        } else {
            context.console.out(
                "Rescoring \(info.id) with scorer version \(info.scorerVersion ?? 0) (\(info.scorer)): every submission is queued again."
            )
        }
        return 0
    }
}
