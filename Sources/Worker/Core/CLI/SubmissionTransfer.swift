import Foundation
import PumasiShared

/// Submissions too large for one message: uploaded in chunks, resumed after a broken connection, and downloaded
/// in chunks, with progress on stderr.
enum SubmissionTransfer {
    /// Uploads `path` and commits it as the submission `request`. The broker refuses a file over the challenge's
    /// limit when asked to begin, before any of its bytes leave.
    static func upload(_ path: String, _ request: SubmitRequest, client: BrokerClient) throws -> Receipt {
        let name = (path as NSString).lastPathComponent
        let total = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0
        // The challenge's limit first, before reading the file: the broker says it again at the upload's begin (and a
        // relay whose broker is away cannot say it now).
        if let shown = try? client.call(
            Service.show, ChallengeRequest(challenge: request.challenge), as: ChallengeInfo.self
        )
        .0, let limit = shown.rules?.maxBytes, total > limit {
            throw CommandFailure(
                "the file is \(total) bytes; \(request.challenge) takes submissions of at most \(limit) bytes")
        }
        var hashing = ProgressBar(label: "hashing")
        let (sha256, size) = try FileDigest.sha256(path: path) { hashing.update($0, of: total) }
        let uploader = try Uploader(client: client, path: path, request: request, sha256: sha256, size: size)
        var bar = ProgressBar(label: "uploading \(name)")
        do {
            return try uploader.run(maxResumes: 8) { bar.update($0, of: $1) }
        } catch ClientError.server(let error) where error.code == .unknownService {
            throw CommandFailure(
                "the broker takes files of at most one message (\(error.message)); this one is \(size) bytes")
        }
    }

    /// Uploads the files of a spec too large for the post's message, in chunks with progress.
    /// - Returns: `PostRequest.uploads` (nil when every file travels in the message).
    static func uploadFiles(_ file: SpecFile, client: BrokerClient) throws -> [String]? {
        guard file.largeFiles.contains(where: { $0 != nil }) else { return nil }
        return try zip(file.largeFiles, file.spec.files ?? []).map { path, entry in
            guard let path else { return "" }
            let uploader = try Uploader(
                client: client, path: path, file: entry.name, sha256: entry.sha256 ?? "", size: entry.size ?? 0)
            var bar = ProgressBar(label: "uploading \(entry.name)")
            return try uploader.runFile(maxResumes: 8) { bar.update($0, of: $1) }.upload
        }
    }

    /// `pumasi download sub_…`: the submission's file, to `-o` or under its name in the current directory.
    static func download(_ id: String, _ context: CommandContext) throws -> Int32 {
        let client = try context.client()
        let (status, _) = try client.call(Service.status, SubmissionRequest(submission: id), as: SubmissionInfo.self)
        let output = context.arguments.value("output")
        var path = output ?? status.filename
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            path = (path as NSString).appendingPathComponent(status.filename)
        }
        var bar = ProgressBar(label: "downloading \(id)")
        let info = try client.download(
            Service.submissionFile, to: path,
            request: {
                SubmissionFileRequest(submission: id, offset: $0)
            }
        ) { bar.update($0, of: $1) }
        if context.json {
            context.console.json(info)
        } else {
            context.console.out("\(path)  \(info.size) bytes  sha256 \(Format.short(info.sha256))")
        }
        return 0
    }
}
