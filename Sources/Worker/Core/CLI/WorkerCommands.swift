import Foundation
import PumasiShared

enum EvaluateCommand: Command {
    static let longRunning = true
    static let spec = CommandSpec(
        name: "pumasi evaluate", abstract: "Run an evaluator: score submissions with built-in scorers and plugins.",
        discussion: """
            A plugin is any executable: it is run as `<plugin> <submission-file> <reference-dir>` and prints one
            JSON object such as {"score": 0.93}. A plugin may also be a Codabench or CodaLab scoring program's
            directory (with metadata.yaml or metadata), run unmodified for challenges whose scorer has the option
            "format": "codabench". With --programs or --environment it also runs challenges' own Codabench programs
            (their ingestion of code submissions too): on this host, or in a pinned environment under runc. See
            docs/plugins.md. Stops gracefully on SIGTERM or SIGINT.
            """,
        options: [
            .init(
                "broker", short: "b", value: "endpoint",
                help:
                    "Broker ROUTER endpoint, or a comma-separated list of them (one per broker host). Default: $PUMASI_BROKER, the profile's, or \(CommandContext.defaultBroker)."
            ),
            CommandContext.keyOption, CommandContext.brokerKeyOption, CommandContext.profileOption,
            .init(
                "plugin", short: "p", value: "name=path",
                help: "Host a plugin scorer (an executable, or a Codabench program directory) under a name.",
                repeats: true),
            .init("no-builtins", help: "Do not serve the built-in scorers."),
            .init(
                "programs",
                help:
                    "Run challenges' own Codabench programs (scorer \"program\") on this host, under plugin containment."
            ),
            .init(
                "environment", short: "e", value: "image=rootfs",
                help:
                    "Run challenges' programs that name this environment (an OCI image name) in a container (runc) on this root filesystem.",
                repeats: true),
            .init("slots", value: "count", help: "Jobs scored at once per scorer. Default: 1."),
            .init("cache", value: "directory", help: "Reference data cache. Default: $TMPDIR/pumasi-cache."),
            .init("memory-mb", value: "megabytes", help: "Address-space limit for plugins. Default: 1024."),
            .init(
                "max-processes", value: "count", help: "Processes (and threads) a plugin run may have. Default: 256."),
            .init("heartbeat-ms", value: "ms", help: "MDP heartbeat interval. Default: 2500."),
            .init("log-level", value: "level", help: "trace, debug, info, notice, warning, error. Default: info."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let a = context.arguments
        var config = EvaluatorConfig(
            brokerEndpoint: try context.broker(),
            cacheDirectory: a.value("cache") ?? NSTemporaryDirectory() + "pumasi-cache")
        for entry in a.all("plugin") {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ScorerSpec(plugin: parts[0]).validate() == nil else {
                throw UsageError("--plugin takes name=path with a name of a-z, 0-9, '-' and '_'", usage: spec.usage)
            }
            let path = (parts[1] as NSString).expandingTildeInPath
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                let metadata = CodabenchMetadata.fileNames.map { path + "/" + $0 }
                guard metadata.contains(where: FileManager.default.fileExists(atPath:)) else {
                    throw CommandFailure(
                        "plugin \(parts[0]): \(path) is a directory without metadata.yaml or metadata, so not a "
                            + "Codabench or CodaLab scoring program")
                }
            } else if !FileManager.default.isExecutableFile(atPath: path) {
                throw CommandFailure("plugin \(parts[0]): \(path) is not an executable file")
            }
            config.plugins[parts[0]] =
                path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        config.builtins = !a.flag("no-builtins")
        config.hostPrograms = a.flag("programs")
        for entry in a.all("environment") {
            let environment: ContainerEnvironment
            do {
                environment = try ContainerEnvironment.parse(entry)
            } catch {
                throw UsageError("--environment: \(error.message)", usage: spec.usage)
            }
            guard ScorerSpec.isEnvironmentName(environment.name) else {
                throw UsageError(
                    "--environment \(environment.name): an image name is 1-200 characters of a-z, A-Z, 0-9 and ._/:-",
                    usage: spec.usage)
            }
            config.environments[environment.name] = environment.rootfs
        }
        if !config.environments.isEmpty {
            if let problem = ContainerRunner.runtimeProblem() {
                throw CommandFailure("--environment: containers cannot run here: \(problem)")
            }
            ContainerRunner(environment: ContainerEnvironment(name: "", rootfs: "/")).removeAbandoned()
        }
        config.curve = try context.curve()
        if let slots = a.value("slots") {
            guard let n = Int(slots), (1...64).contains(n) else {
                throw UsageError("--slots must be 1-64", usage: spec.usage)
            }
            config.slots = n
        }
        if let mb = a.value("memory-mb") {
            guard let n = Int(mb), n >= 16 else {
                throw UsageError("--memory-mb must be at least 16", usage: spec.usage)
            }
            config.limits.memoryBytes = n << 20
        }
        if let count = a.value("max-processes") {
            guard let n = Int(count), (1...100_000).contains(n) else {
                throw UsageError("--max-processes must be 1-100000", usage: spec.usage)
            }
            config.limits.processes = n
        }
        if let ms = a.value("heartbeat-ms") {
            guard let n = Millis(ms), n >= 10 else {
                throw UsageError("--heartbeat-ms must be at least 10", usage: spec.usage)
            }
            config.heartbeatInterval = n
        }
        guard !config.services.isEmpty else {
            throw UsageError(
                "nothing to serve: add --plugin, --programs or --environment, or drop --no-builtins", usage: spec.usage)
        }
        let logger = context.logger("evaluator")
        let evaluator = try Evaluator(config: config, logger: logger)
        context.signals.onTerminate { _ in evaluator.stop() }
        logger.info(
            "evaluator starting",
            [
                "broker": config.brokerEndpoint, "services": config.services.joined(separator: ","),
                "plugin.isolation": config.plugins.isEmpty && !config.hostPrograms
                    ? "no plugins" : PluginRunner.isolation.description,
                "environments": config.environments.isEmpty
                    ? "none" : config.environments.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ","),
            ])
        evaluator.run()
        return 0
    }
}

enum RelayCommand: Command {
    static let longRunning = true
    static let spec = CommandSpec(
        name: "pumasi relay", abstract: "Show announcements as they arrive and forward local requests to the broker.",
        discussion: """
            Point clients at the relay with --broker <listen endpoint>. The relay is its owner's: clients submit as
            the owner (--owner) and need no --solver. Submissions made through the relay are kept on disk in its
            outbox and delivered, exactly once, when the broker is reachable ('pumasi outbox' lists them); a broker
            that refuses the relay's key is named in the log and in every reply until it takes it. Missed announcements are recovered from the broker's log. Judges see a line for each
            submission that awaits judging (--topic judging. shows only those) and take it with 'pumasi judge
            next --broker <listen endpoint>'. With --site DIR it writes the static website of 'pumasi site' there
            and rewrites a challenge's page and the index when an announcement about it arrives (at most once a
            second per challenge). With --notify it also tells its owner when one of their submissions is scored or
            fails, or when a followed challenge opens, is extended, closes or awards: on this terminal (a 'Notice:'
            line), by email through sendmail, or by a webhook (a JSON POST). Notices are delivered off the relay's
            loop; failures are logged. Stops on SIGTERM or SIGINT.
            """,
        options: [
            .init(
                "broker", short: "b", value: "endpoint",
                help:
                    "Broker ROUTER endpoint, or a comma-separated list of them (one per broker host). Default: $PUMASI_BROKER, the profile's, or \(CommandContext.defaultBroker)."
            ),
            .init(
                "pub", value: "endpoint",
                help:
                    "Broker PUB endpoint, or a comma-separated list (one per broker host). Default: $PUMASI_PUB, the profile's, or \(CommandContext.defaultPublish)."
            ),
            CommandContext.keyOption, CommandContext.brokerKeyOption, CommandContext.profileOption,
            .init(
                "listen", value: "endpoint",
                help: "Where local clients reach this relay. Default: tcp://127.0.0.1:5557."),
            .init(
                "outbox", value: "path", help: "The outbox file. Default: $XDG_DATA_HOME/pumasi/relay-outbox.sqlite3."),
            .init("topic", value: "prefix", help: "Only announcements whose topic starts with this.", repeats: true),
            .init(
                "site", value: "dir",
                help: "Keep a 'pumasi site' in this directory: each announcement rewrites its challenge's page."),
            .init("json", help: "Print each announcement as one JSON line."),
            .init("log-level", value: "level", help: "trace, debug, info, notice, warning, error. Default: info."),
            .init(
                "notify", value: "target",
                help: "Deliver notices to terminal, email:ADDRESS or webhook:URL (http or https).", repeats: true),
            .init(
                "owner", value: "name",
                help:
                    "Whom this relay submits as, and whose submissions notices are about: the solver name the broker records. Clients need no --solver; one naming someone else is refused. Default: over CURVE the key's principal, else $PUMASI_SOLVER, the profile's solver or $USER."
            ),
            .init(
                "follow", value: "challenge",
                help: "Notices of this challenge's opening, extension, closing and awards ('all': every challenge).",
                repeats: true),
            .init(
                "sendmail", value: "path",
                help: "The sendmail program for email notices, run as PATH -t -i. Default: /usr/sbin/sendmail."),
            .init("mail-from", value: "address", help: "The From of email notices. Default: pumasi-relay@<host>."),
        ])

    static func run(_ context: CommandContext) throws -> Int32 {
        let a = context.arguments
        let dataHome =
            context.environment["XDG_DATA_HOME"]
            ?? ((context.environment["HOME"] ?? NSTemporaryDirectory()) as NSString).appendingPathComponent(
                ".local/share")
        var config = RelayConfig(
            brokerEndpoint: try context.broker(),
            publishEndpoint: a.value("pub") ?? context.environment["PUMASI_PUB"] ?? context.profile?.pub
                ?? CommandContext.defaultPublish,
            outboxPath: a.value("outbox")
                ?? (dataHome as NSString).appendingPathComponent("pumasi/relay-outbox.sqlite3"))
        if let listen = a.value("listen") { config.listenEndpoint = listen }
        try CommandContext.check(
            config.publishEndpoint, a.value("pub") != nil ? "--pub" : "$PUMASI_PUB", usage: spec.usage)
        try CommandContext.check(config.listenEndpoint, "--listen", usage: spec.usage)
        // The relay's own endpoint is not authenticated: it serves this machine only.
        guard Endpoint.isLocal(config.listenEndpoint) else {
            throw UsageError("--listen must be on this machine (tcp://127.0.0.1:…, ipc://…)", usage: spec.usage)
        }
        config.curve = try context.curve()
        // Whom it submits as: --owner, else the name the user chose, else (no CURVE) the login name. Over CURVE the
        // broker names the key's principal, which wins (Relay+Owner.swift).
        config.owner =
            a.value("owner") ?? context.namedSolver ?? (config.curve == nil ? context.environment["USER"] : nil)
        if !a.all("topic").isEmpty { config.topics = a.all("topic") }
        let console = context.console
        let json = context.json
        // The site is written on the keeper's own thread; the relay's loop only tells it which challenge changed.
        let site = a.value("site").map { directory in
            SiteKeeper(
                directory: directory, endpoint: config.brokerEndpoint, timeoutSeconds: config.timeoutSeconds,
                curve: config.curve, logger: context.logger("site"))
        }
        let notifier = try notifier(context)
        let relay = try Relay(config: config, logger: context.logger("relay"), notifier: notifier) {
            announcement, recovered in
            site?.announced(announcement.challenge)
            if json {
                console.out(String(decoding: Wire.encode(announcement), as: UTF8.self))
            } else {
                console.out(describe(announcement) + (recovered ? "  (recovered)" : ""))
            }
        }
        context.signals.onTerminate { _ in relay.stop() }
        site?.start()
        defer { site?.stop() }
        try relay.run()
        return 0
    }

    /// The notifier `--notify`, `--owner` and `--follow` ask for; nil without `--notify`.
    static func notifier(_ context: CommandContext) throws -> Notifier? {
        let a = context.arguments
        let targets = try a.all("notify").map { text in
            do {
                return try NoticeTarget(parsing: text)
            } catch {
                throw UsageError("--notify \(error)", usage: spec.usage)
            }
        }
        guard !targets.isEmpty else {
            for option in ["follow", "sendmail", "mail-from"] where !a.all(option).isEmpty {
                throw UsageError("--\(option) needs --notify", usage: spec.usage)
            }
            return nil
        }
        var config = NoticeConfig(
            rules: NoticeRules(owner: a.value("owner") ?? context.solverName, follow: a.all("follow")),
            targets: targets)
        if let path = a.value("sendmail") { config.sendmailPath = path }
        if let from = a.value("mail-from") { config.mailFrom = from }
        let console = context.console
        let json = context.json
        return Notifier(config: config, logger: context.logger("notices")) { notice in
            if json {
                console.out(
                    String(
                        decoding: Wire.encode(NoticeLine(notice: notice.text, announcement: notice.announcement)),
                        as: UTF8.self))
            } else {
                console.out("Notice: \(notice.text)")
            }
        }
    }

    /// A notice on the terminal with --json: one line, told apart from announcements by its `notice` key.
    struct NoticeLine: Encodable {
        var notice: String
        var announcement: Announcement
    }

    /// One line per announcement, for people.
    static func describe(_ a: Announcement) -> String {
        let head = "#\(a.seq) \(WallClock.iso(a.at)) \(a.topic.rawValue) \(a.challenge) \"\(a.title)\""
        switch a.topic {
        case .opened:
            return head
                + " award \(a.amount.map { "\($0)" } ?? "?") \(a.currency ?? "") deadline \(a.deadline.map(WallClock.iso) ?? "?")"
        case .closing:
            return head + " closes at \(a.deadline.map(WallClock.iso) ?? "?")"
        case .closed:
            return head + " (\(a.message ?? "closed"))"
        case .scored:
            return head + " \(a.submission ?? "")\(a.solver.map { " by \($0)" } ?? "") scored \(Format.score(a.score))"
        case .failed:
            return head + " \(a.submission ?? "") failed: \(a.message ?? "")"
        case .awarded:
            return head
                + " awarded \(a.amount.map { "\($0)" } ?? "?") \(a.currency ?? "") to \(a.solver ?? "?") for \(a.submission ?? "") (score \(Format.score(a.score)))"
                + (a.message.map { ": \($0)" } ?? "")
        case .unawarded:
            return head + " closed without award (\(a.message ?? ""))"
        case .extended:
            return head + " deadline extended to \(a.deadline.map(WallClock.iso) ?? "?")"
        case .cancelled:
            return head + " cancelled (\(a.message ?? ""))"
        case .disputed:
            return head + " \(a.submission ?? "") disputed: \(a.message ?? "")"
        case .misconfigured:
            return head + " misconfigured: \(a.message ?? "")"
        case .unserved:
            return head + " waiting for evaluators: \(a.message ?? "")"
        case .rescoring:
            return head + " rescoring every submission (\(a.message ?? ""))"
        case .disqualified:
            return head + " \(a.submission ?? "") by \(a.solver ?? "?") disqualified: \(a.message ?? "")"
        case .judgingRequested:
            return head
                + " a submission awaits judging (\(a.message ?? "")): pumasi judge next --challenge \(a.challenge)"
        case .judged:
            return head + " \(a.submission ?? "")\(a.solver.map { " by \($0)" } ?? "") judged \(Format.score(a.score))"
                + " (\(a.message ?? ""))"
        case .agreementChanged:
            return head + " new terms (\(a.message ?? "")): read them with pumasi show, accept with pumasi accept"
        case .clarified:
            return head + " a question was answered for everyone: pumasi clarifications \(a.challenge)"
        case .phase:
            return head + " \(a.message ?? "next phase") is open until \(a.deadline.map(WallClock.iso) ?? "?")"
        }
    }
}

enum OutboxCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi outbox", abstract: "List the submissions a relay holds: pending, delivered, or refused.",
        discussion: "Ask the relay itself: --broker <the relay's listen endpoint>.",
        options: CommandContext.clientOptions)

    static func run(_ context: CommandContext) throws -> Int32 {
        let (entries, _) = try context.client().call(Service.relayOutbox, Empty(), as: [OutboxEntry].self)
        if context.json {
            context.console.json(entries)
            return 0
        }
        guard !entries.isEmpty else {
            context.console.out("The outbox is empty.")
            return 0
        }
        var table = Table(headers: ["STATE", "CHALLENGE", "SOLVER", "FILE", "QUEUED", "SUBMISSION / REASON"])
        for e in entries {
            table.rows.append([
                e.state.rawValue, e.challenge, e.solver, e.filename, WallClock.iso(e.queuedAt),
                e.submission ?? e.error ?? "-",
            ])
        }
        context.console.out(table.rendered)
        return 0
    }
}

enum KeygenCommand: Command {
    static let spec = CommandSpec(
        name: "pumasi keygen", abstract: "Write a new CURVE keypair: FILE (secret, mode 0600) and FILE.pub.",
        discussion: "Give the public key to the broker's admin to register: pumasi-broker keys add.",
        arguments: [.init("file", help: "Where to write the secret key file.")],
        options: [.init("force", help: "Overwrite an existing file.")])

    static func run(_ context: CommandContext) throws -> Int32 {
        let path = context.arguments[argument: "file"] ?? ""
        if FileManager.default.fileExists(atPath: path), !context.arguments.flag("force") {
            throw CommandFailure("\(path) exists; use --force to replace it")
        }
        let keys = try CurveKeyPair.generate()
        try CurveKeyFile.write(keys, to: path)
        context.console.out("Wrote \(path) (secret, 0600) and \(path).pub\npublic key: \(keys.publicKey)")
        return 0
    }
}
