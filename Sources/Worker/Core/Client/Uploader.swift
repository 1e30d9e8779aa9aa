import Foundation
import PumasiShared

/// Sends a file of any size as a submission: `pumasi.upload.begin` (which says how much the broker already
/// holds), chunks read from disk one at a time from there, then `pumasi.submit` naming the upload. A timeout or a
/// broken connection costs nothing sent before it: the next step asks where the upload stands and goes on.
///
/// Thread rule: one uploader per thread, with that thread's client.
public final class Uploader {
    /// Files larger than this are uploaded in chunks; smaller ones travel in the submission's one frame.
    public static let inlineLimit = 1 << 20

    public let path: String
    public let sha256: String
    public let size: Int
    private var request: SubmitRequest
    /// A challenge's file (`UploadBeginRequest.file`) rather than a submission: it ends once the bytes are in.
    private let purpose: String?
    private let client: BrokerClient
    private let handle: FileHandle
    /// Where the upload stands; nil until (again) asked.
    public private(set) var info: UploadInfo?
    /// The receipt, once the submission is stored.
    public private(set) var receipt: Receipt?
    /// How many times the upload started again after a failure.
    public private(set) var resumes = 0

    /// - Parameters:
    ///   - request: the submission; its `clientId` makes the final commit safe to repeat.
    ///   - sha256/size: the file's, when known (else read once here).
    public init(
        client: BrokerClient, path: String, request: SubmitRequest, sha256: String? = nil, size: Int? = nil
    ) throws {
        self.client = client
        self.path = path
        self.request = request
        purpose = nil
        if self.request.clientId == nil { self.request.clientId = UUID().uuidString.lowercased() }
        if let sha256, let size {
            (self.sha256, self.size) = (sha256, size)
        } else {
            (self.sha256, self.size) = try FileDigest.sha256(path: path)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
    }

    /// An uploader of a challenge's file, named `file`, for `PostRequest.uploads`.
    public init(client: BrokerClient, path: String, file: String, sha256: String, size: Int) throws {
        self.client = client
        self.path = path
        request = SubmitRequest(challenge: "", solver: "", filename: file)
        purpose = UploadBeginRequest.file
        (self.sha256, self.size) = (sha256, size)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Runs a challenge file's upload until the broker holds it whole, resuming as `run` does.
    /// - Returns: where it stands: all of it, under its upload id.
    public func runFile(maxResumes: Int = 5, progress: (Int, Int) -> Void = { _, _ in }) throws -> UploadInfo {
        var failures = 0
        while true {
            do {
                try step()
                progress(sent, size)
                if let info, info.received == size { return info }
            } catch let error as ClientError {
                if case .server(let problem) = error, problem.code == .conflict {
                } else if !error.isTransient {
                    throw error
                }
                failures += 1
                if failures > maxResumes { throw error }
            }
        }
    }

    /// Bytes the broker holds, as last heard.
    public var sent: Int { receipt != nil ? size : info?.received ?? 0 }

    /// One request: begin (or resume), one chunk, or the commit. A broker's refusal is thrown as it is (the
    /// upload cannot go on); a timeout or transport error is thrown too, after which the next step resumes.
    /// - Returns: the receipt once the submission is stored.
    @discardableResult
    public func step() throws -> Receipt? {
        if let receipt { return receipt }
        do {
            guard let info else {
                var begin = UploadBeginRequest(
                    challenge: request.challenge, sha256: sha256, size: size, filename: request.filename,
                    solver: purpose == nil ? request.solver : nil, purpose: purpose)
                if purpose == nil {
                    begin.solverDefaulted = request.solverDefaulted
                    begin.repeatWindowSeconds = request.repeatWindowSeconds
                }
                let answer = try client.call(Service.uploadBegin, begin, as: UploadInfo.self).0
                info = answer
                // The same file submitted moments ago (the command run twice): that submission, with nothing to send.
                if let repeated = answer.repeated {
                    receipt = repeated
                    return repeated
                }
                return nil
            }
            if info.received < size {
                try handle.seek(toOffset: UInt64(info.received))
                let chunk = try handle.read(upToCount: min(info.chunkBytes, size - info.received)) ?? Data()
                guard !chunk.isEmpty else { throw CocoaError(.fileReadUnknown) }
                self.info = try client.call(
                    Service.uploadChunk, UploadChunkRequest(upload: info.upload, offset: info.received), files: [chunk],
                    as: UploadInfo.self
                ).0
                return nil
            }
            // A challenge's file is done here: the post names its upload.
            guard purpose == nil else { return nil }
            var commit = request
            commit.upload = info.upload
            receipt = try client.call(Service.submit, commit, as: Receipt.self).0
            return receipt
        } catch ClientError.server(let error) where error.code == .conflict && info != nil {
            // The broker holds another amount than we thought (a chunk whose reply was lost): ask again.
            info = nil
            throw ClientError.server(error)
        } catch let error as ClientError {
            if case .server = error { throw error }
            info = nil
            resumes += 1
            throw error
        }
    }

    /// Runs the upload to its receipt, resuming after up to `maxResumes` timeouts or broken connections.
    /// - Parameter progress: called after each step with the bytes the broker holds and the file's size.
    public func run(maxResumes: Int = 5, progress: (Int, Int) -> Void = { _, _ in }) throws -> Receipt {
        var failures = 0
        var conflicts = 0
        while true {
            do {
                if let receipt = try step() { return receipt }
                progress(sent, size)
            } catch ClientError.server(let error) where error.code == .conflict && conflicts < 3 {
                conflicts += 1
            } catch let error as ClientError {
                guard error.isTransient else { throw error }
                failures += 1
                if failures > maxResumes { throw error }
            }
        }
    }
}
