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
            let outcome = try score(job, submission: submission)
            return ScoringResult(
                ok: true, score: outcome.score, metrics: outcome.metrics.isEmpty ? nil : outcome.metrics,
                message: outcome.message, log: outcome.log.isEmpty ? nil : outcome.log)
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
            let reference = try cache.contents(job.reference, challenge: job.challenge)
            let bytes = job.fetch == nil ? submission : try fetcher.contents(job, in: Self.workRoot(config))
            return try BuiltinScorer.score(
                name: name, options: job.scorer.options ?? [:], submission: bytes, reference: reference)
        }
        guard let name = job.scorer.plugin, let path = config.plugins[name] else {
            throw ScoringFailure(
                code: "plugin_missing", message: "this evaluator does not host scorer \(job.scorer.display)", log: "")
        }
        guard let format = job.scorer.format else {
            throw .badOptions(job.scorer.validate() ?? "unknown plugin format")
        }
        let work = (Self.workRoot(config) as NSString).appendingPathComponent("job-\(job.job)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let referenceDirectory = (work as NSString).appendingPathComponent("reference")
        let submissionDirectory = (work as NSString).appendingPathComponent("submission")
        let workDirectory = (work as NSString).appendingPathComponent("work")
        try cache.materialize(job.reference, challenge: job.challenge, in: referenceDirectory)
        let submissionFile = (submissionDirectory as NSString).appendingPathComponent(safeName(job.filename))
        do {
            try FileManager.default.createDirectory(atPath: submissionDirectory, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
            if job.fetch == nil { try submission.write(to: URL(fileURLWithPath: submissionFile)) }
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not prepare the working directory", log: "")
        }
        // A large submission comes from the broker in chunks, straight to its file.
        if job.fetch != nil { try fetcher.fetch(job, to: submissionFile) }
        var limits = config.limits
        limits.wallSeconds = job.timeLimitSeconds
        limits.cpuSeconds = max(1, Int(job.timeLimitSeconds.rounded(.up)))
        let environment = ["PUMASI_CHALLENGE": job.challenge, "PUMASI_SUBMISSION": job.submission]
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
