import Foundation
import PumasiShared

/// Scores one job: fetches reference data through the cache, runs a built-in scorer or a plugin (a Pumasi plugin or
/// a Codabench/CodaLab scoring program, by the scorer's `format` option) in a private working directory, and turns
/// the outcome into the REPLY body.
///
/// Thread rule: one runner per slot thread.
final class JobRunner {
    private let config: EvaluatorConfig
    private let cache: ReferenceCache
    private let fetcher: SubmissionFetcher
    private let logger: Logger
    /// The canaries' verdict per challenge and what scores it (scorer, files, where programs run): nil when they
    /// all came out as expected, or why not.
    private var canaryVerdicts: [String: String?] = [:]

    init(config: EvaluatorConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        cache = try ReferenceCache(
            directory: config.cacheDirectory,
            client: BrokerClient(endpoint: config.brokerEndpoint, timeoutSeconds: 10, curve: config.curve))
        fetcher = SubmissionFetcher(
            client: try BrokerClient(endpoint: config.brokerEndpoint, timeoutSeconds: 30, curve: config.curve))
    }

    /// Whether every reference file of the job is already on disk (so scoring it needs no fetch).
    func hasReferenceCached(_ job: ScoringJob) -> Bool {
        job.reference.allSatisfy { $0.sha256.map(cache.isCached) ?? false }
    }

    func run(jobFrame: Data, submission: Data) -> ScoringResult {
        guard let job = ScoringJob.decode(jobFrame) else {
            return failure(ScoringFailure(code: "bad_job", message: "job body is not a Pumasi scoring job", log: ""))
        }
        return run(job, submission: submission)
    }

    func run(_ job: ScoringJob, submission: Data) -> ScoringResult {
        do {
            try checkCanaries(job)
            let outcome = try score(job, submission: submission)
            var result = ScoringResult(
                ok: true, score: outcome.score, metrics: outcome.metrics.isEmpty ? nil : outcome.metrics,
                message: outcome.message, log: outcome.log.isEmpty ? nil : outcome.log)
            result.detailedResults = outcome.detailedResults
            return result
        } catch {
            logger.info("job failed", ["job.id": "\(job.job)", "code": error.code, "reason": error.message])
            return failure(error)
        }
    }

    private func failure(_ error: ScoringFailure) -> ScoringResult {
        ScoringResult(
            ok: false, error: ScoringResult.Failure(code: error.code, message: error.message),
            log: error.log.isEmpty ? nil : error.log)
    }

    private func score(_ job: ScoringJob, submission: Data) throws(ScoringFailure) -> ScoreOutcome {
        if let name = job.scorer.builtin {
            let reference = try cache.contents(Self.scoringReference(job), challenge: job.challenge)
            let bytes = job.fetch == nil ? submission : try fetcher.contents(job, in: Self.workRoot(config))
            return try BuiltinScorer.score(
                name: name, options: job.scorer.options ?? [:], submission: bytes, reference: reference)
        }
        let work = (Self.workRoot(config) as NSString).appendingPathComponent("job-\(job.job)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let submissionDirectory = (work as NSString).appendingPathComponent("submission")
        let submissionFile = (submissionDirectory as NSString).appendingPathComponent(safeName(job.filename))
        do {
            try FileManager.default.createDirectory(atPath: submissionDirectory, withIntermediateDirectories: true)
            if job.fetch == nil { try submission.write(to: URL(fileURLWithPath: submissionFile)) }
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not prepare the working directory", log: "")
        }
        // A large submission comes from the broker in chunks, straight to its file.
        if job.fetch != nil { try fetcher.fetch(job, to: submissionFile) }
        return try score(job, submissionFile: submissionFile, work: work)
    }

    /// Scores the submission in `submissionFile` with a plugin or the challenge's programs, in `work` (an existing
    /// directory the caller removes).
    private func score(_ job: ScoringJob, submissionFile: String, work: String) throws(ScoringFailure)
        -> ScoreOutcome
    {
        if let name = job.scorer.builtin {
            // A canary of a built-in scorer: read whole, as a submission of one is.
            guard let bytes = FileManager.default.contents(atPath: submissionFile) else {
                throw ScoringFailure(code: "evaluator_error", message: "could not read \(job.filename)")
            }
            let reference = try cache.contents(Self.scoringReference(job), challenge: job.challenge)
            return try BuiltinScorer.score(
                name: name, options: job.scorer.options ?? [:], submission: bytes, reference: reference)
        }
        let referenceDirectory = (work as NSString).appendingPathComponent("reference")
        let workDirectory = (work as NSString).appendingPathComponent("work")
        do {
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not prepare the working directory", log: "")
        }
        var limits = config.limits
        limits.wallSeconds = job.timeLimitSeconds
        limits.cpuSeconds = max(1, Int(job.timeLimitSeconds.rounded(.up)))
        let environment = ["PUMASI_CHALLENGE": job.challenge, "PUMASI_SUBMISSION": job.submission]
        if job.scorer.program != nil {
            let executor = try programExecutor(for: job.scorer)
            try cache.ensure(job.reference, challenge: job.challenge)
            var files: [String: String] = [:]
            for entry in job.reference {
                guard let sha = entry.sha256 else { continue }
                files[entry.name] = cache.path(sha)
            }
            let run = ProgramRun(
                scorer: job.scorer, limits: limits, executor: executor,
                placement: CodabenchPlacement(archiveLimits: ZipArchive.Limits()))
            return try run.run(
                submissionFile: submissionFile, files: files, work: workDirectory, environment: environment)
        }
        guard let name = job.scorer.plugin, let path = config.plugins[name] else {
            throw ScoringFailure(
                code: "plugin_missing", message: "this evaluator does not host scorer \(job.scorer.display)", log: "")
        }
        guard let format = job.scorer.format else {
            throw .badOptions(job.scorer.validate() ?? "unknown plugin format")
        }
        try cache.materialize(Self.scoringReference(job), challenge: job.challenge, in: referenceDirectory)
        switch format {
        case .pumasi:
            return try PluginRunner(executable: path, limits: limits).run(
                submissionFile: submissionFile, referenceDirectory: referenceDirectory, workDirectory: workDirectory,
                extraEnvironment: environment)
        case .codabench:
            return try CodabenchRunner(programDirectory: path, limits: limits, scoreKey: job.scorer.scoreKey).run(
                submissionFile: submissionFile, referenceDirectory: referenceDirectory, workDirectory: workDirectory,
                extraEnvironment: environment)
        }
    }

    /// Where the job's programs run: in its environment, which this evaluator must have, or on this host if it
    /// runs programs there.
    private func programExecutor(for scorer: ScorerSpec) throws(ScoringFailure) -> ProgramExecutor {
        guard let environment = scorer.environment else {
            guard config.hostPrograms else {
                throw ScoringFailure(
                    code: "plugin_missing", message: "this evaluator does not run challenges' programs on its host")
            }
            return HostExecutor(sandbox: PluginRunner.isolation)
        }
        guard let root = config.environments[environment] else {
            throw ScoringFailure(
                code: "plugin_missing", message: "this evaluator does not have environment \(environment)")
        }
        return EnvironmentExecutor(environment: ContainerEnvironment(name: environment, rootfs: root))
    }

    /// Scores the job's canaries before its first real job, and again whenever the scorer, its files or where its
    /// programs run change; throws `challenge_misconfigured` if one did not come out as the seeker said.
    private func checkCanaries(_ job: ScoringJob) throws(ScoringFailure) {
        guard let canaries = job.scorer.canaries, !canaries.isEmpty else { return }
        let runs =
            job.scorer.program == nil
            ? (job.scorer.plugin.flatMap { config.plugins[$0] } ?? "")
            : (job.scorer.environment.map { "\($0)=\(config.environments[$0] ?? "")" } ?? "host")
        let key =
            [
                job.challenge, String(decoding: (try? JSONEncoder().encode(job.scorer)) ?? Data(), as: UTF8.self), runs,
            ].joined(separator: "|") + job.reference.map { "|\($0.name)=\($0.sha256 ?? "")" }.joined()
        if let verdict = canaryVerdicts[key] {
            if let reason = verdict { throw ScoringFailure(code: "challenge_misconfigured", message: reason) }
            return
        }
        var problem: String?
        for canary in canaries {
            guard let entry = job.reference.first(where: { $0.name == canary.file }), let sha = entry.sha256 else {
                problem = "canary \(canary.file) did not come with the job"
                break
            }
            try cache.ensure([entry], challenge: job.challenge)
            let work = (Self.workRoot(config) as NSString).appendingPathComponent("canary-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: work) }
            let file = (work as NSString).appendingPathComponent("submission/" + safeName(canary.file))
            do {
                try FileManager.default.createDirectory(
                    atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: cache.path(sha), toPath: file)
            } catch {
                throw ScoringFailure(code: "evaluator_error", message: "could not lay out canary \(canary.file)")
            }
            var canaryJob = job
            canaryJob.filename = canary.file
            canaryJob.submission = "canary"
            let got: String
            do {
                let outcome = try score(canaryJob, submissionFile: file, work: work)
                if canary.fails != true, canary.matches(outcome.score) { continue }
                got = "the score \(outcome.score)"
            } catch {
                if ScoringResult.Failure.infrastructureCodes.contains(error.code) { throw error }
                if canary.fails == true { continue }
                got = "a failure (\(error.code): \(error.message))"
            }
            problem = "canary \(canary.file) was expected to get \(canary.expectation) but got \(got)"
            break
        }
        canaryVerdicts[key] = .some(problem)
        logger.info(
            problem == nil ? "canaries passed" : "canaries failed: challenge refused",
            ["challenge.id": job.challenge, "reason": problem ?? ""])
        if let problem { throw ScoringFailure(code: "challenge_misconfigured", message: problem) }
    }

    /// The job's reference data for a built-in scorer or a plugin: its files less its canaries.
    static func scoringReference(_ job: ScoringJob) -> [FileEntry] {
        guard let canaries = job.scorer.canaries, !canaries.isEmpty else { return job.reference }
        let excluded = Set(canaries.map(\.file))
        return job.reference.filter { !excluded.contains($0.name) }
    }

    /// This process's job directories live under `<cache>/work-<pid>/`, so that one left by a killed evaluator
    /// can be found and removed by the next (`removeAbandonedWork`).
    static func workRoot(_ config: EvaluatorConfig) -> String {
        (config.cacheDirectory as NSString).appendingPathComponent("work-\(getpid())")
    }

    /// Removes the job directories of evaluators that are no longer running.
    static func removeAbandonedWork(in cacheDirectory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory) else { return }
        for name in names where name.hasPrefix("work-") {
            guard let pid = pid_t(name.dropFirst(5)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else {
                continue
            }
            try? FileManager.default.removeItem(atPath: (cacheDirectory as NSString).appendingPathComponent(name))
        }
    }

    /// The broker already refuses unsafe names; this keeps a hostile job from escaping the directory anyway.
    private func safeName(_ name: String) -> String {
        let cleaned = name.replacingOccurrences(of: "/", with: "_")
        return cleaned.isEmpty || cleaned == "." || cleaned == ".." ? "submission" : cleaned
    }
}
