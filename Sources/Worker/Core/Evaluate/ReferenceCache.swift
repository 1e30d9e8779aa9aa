import Foundation
import PumasiShared

/// Reference data on disk, by SHA-256, fetched from the broker once and verified. Files are written to a
/// temporary name and renamed, so a reader never sees a partial file; several slots may share the directory.
///
/// Thread rule: one cache per slot thread (it holds that thread's broker client).
final class ReferenceCache {
    let directory: String
    private let client: BrokerClient
    /// Recently used files in memory, for built-in scorers that read them whole on every job.
    private var memory: [String: Data] = [:]
    private var memoryBytes = 0
    private let memoryLimit = 256 << 20

    init(directory: String, client: BrokerClient) throws {
        self.directory = directory
        self.client = client
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ sha256: String) -> String { (directory as NSString).appendingPathComponent(sha256) }

    /// Makes sure every file is on disk, fetching what is missing: the broker gives a challenge's reference files
    /// only to evaluators allowed to score that challenge, so the request names it.
    func ensure(_ files: [FileEntry], challenge: String) throws(ScoringFailure) {
        for file in files {
            guard let sha = file.sha256, SHA256.isHex(sha) else {
                throw ScoringFailure(
                    code: "bad_job", message: "reference file \(file.name) has no valid SHA-256", log: "")
            }
            if isCached(sha) { continue }
            // Fetched in chunks straight to a file beside the cache (a reference file may be large), checked, then
            // renamed into place.
            let temporary = path(sha) + ".part-\(UUID().uuidString)"
            let info: FileInfo
            do {
                info = try client.download(Service.reference, to: temporary, attempts: 3) {
                    ReferenceRequest(challenge: challenge, sha256: sha, offset: $0)
                }
            } catch {
                throw ScoringFailure(
                    code: "reference_unavailable", message: "could not fetch reference \(file.name): \(error)", log: "")
            }
            guard info.sha256 == sha else {
                try? FileManager.default.removeItem(atPath: temporary)
                throw ScoringFailure(
                    code: "reference_unavailable", message: "reference \(file.name) arrived with the wrong SHA-256",
                    log: "")
            }
            if rename(temporary, path(sha)) != 0 {
                try? FileManager.default.removeItem(atPath: temporary)
                throw ScoringFailure(
                    code: "evaluator_error", message: "could not write the reference cache in \(directory)", log: "")
            }
        }
    }

    /// Whether a file is at hand: in memory (no system call) or on disk.
    func isCached(_ sha256: String) -> Bool {
        memory[sha256] != nil || FileManager.default.fileExists(atPath: path(sha256))
    }

    /// The bytes of every file, by name.
    func contents(_ files: [FileEntry], challenge: String) throws(ScoringFailure) -> [String: Data] {
        try ensure(files, challenge: challenge)
        var result: [String: Data] = [:]
        for file in files {
            guard let sha = file.sha256 else { continue }
            if let bytes = memory[sha] {
                result[file.name] = bytes
                continue
            }
            guard let bytes = FileManager.default.contents(atPath: path(sha)) else {
                throw ScoringFailure(code: "evaluator_error", message: "reference cache lost \(file.name)", log: "")
            }
            if bytes.count < memoryLimit / 4 {
                if memoryBytes + bytes.count > memoryLimit {
                    memory.removeAll()
                    memoryBytes = 0
                }
                memory[sha] = bytes
                memoryBytes += bytes.count
            }
            result[file.name] = bytes
        }
        return result
    }

    /// Lays the files out under `directory` by their names (hard links to the cache where possible).
    func materialize(_ files: [FileEntry], challenge: String, in target: String) throws(ScoringFailure) {
        try ensure(files, challenge: challenge)
        do {
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            for file in files {
                guard let sha = file.sha256 else { continue }
                let destination = (target as NSString).appendingPathComponent(file.name)
                if link(path(sha), destination) != 0 {
                    try FileManager.default.copyItem(atPath: path(sha), toPath: destination)
                }
            }
        } catch {
            throw ScoringFailure(
                code: "evaluator_error", message: "could not lay out reference data: \(error)", log: "")
        }
    }
}
