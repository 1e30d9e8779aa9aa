import Foundation
import PumasiShared

/// Fetches a submission too large to travel in its job (`ScoringJob.fetch`) from the broker, in chunks, straight to
/// a file in the job's working directory, and checks it against the job's SHA-256 and size. The broker gives it
/// only to the evaluator that holds the job's lease.
///
/// Thread rule: one fetcher per slot thread (it holds that thread's broker client).
final class SubmissionFetcher {
    private let client: BrokerClient

    init(client: BrokerClient) { self.client = client }

    /// Writes the job's submission to `path`.
    func fetch(_ job: ScoringJob, to path: String) throws(ScoringFailure) {
        let info: FileInfo
        do {
            info = try client.download(Service.submissionFile, to: path) {
                SubmissionFileRequest(submission: job.submission, offset: $0)
            }
        } catch {
            throw ScoringFailure(
                code: "evaluator_error", message: "could not fetch submission \(job.submission): \(error)", log: "")
        }
        guard info.sha256 == job.sha256, info.size == job.fetch else {
            throw ScoringFailure(
                code: "evaluator_error",
                message: "submission \(job.submission) arrived as \(info.size) bytes with SHA-256 \(info.sha256), "
                    + "not the job's \(job.fetch ?? 0) bytes with \(job.sha256)", log: "")
        }
    }

    /// The job's submission in memory, for a built-in scorer (which reads it whole anyway).
    func contents(_ job: ScoringJob, in directory: String) throws(ScoringFailure) -> Data {
        let path = (directory as NSString).appendingPathComponent("fetch-\(job.job)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not make \(directory)", log: "")
        }
        try fetch(job, to: path)
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw ScoringFailure(code: "evaluator_error", message: "could not read the fetched submission", log: "")
        }
        return bytes
    }
}
