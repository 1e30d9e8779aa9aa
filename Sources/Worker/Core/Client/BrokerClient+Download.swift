import Foundation
import PumasiShared

extension BrokerClient {
    /// Fetches a file chunk by chunk (`pumasi.submission.file`, or any service that answers a `FileInfo` and a
    /// chunk) straight to `path`, checking its SHA-256 as it comes: a file of any size costs one chunk of memory.
    /// The file appears at `path` only once whole and checked (written beside it, then renamed).
    /// - Parameters:
    ///   - request: the request for the chunk at an offset; asked again on a timeout, up to `attempts` times a chunk.
    ///   - progress: called after each chunk with the bytes written and the file's size.
    public func download<Request: Encodable>(
        _ service: String, to path: String, attempts: Int = 3, request: (Int) -> Request,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> FileInfo {
        let partial = path + ".part"
        guard FileManager.default.createFile(atPath: partial, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial])
        }
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(atPath: partial) } }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
        defer { try? handle.close() }
        var hasher = SHA256()
        var offset = 0
        var info: FileInfo?
        repeat {
            let (chunkInfo, frames) = try call(service, request(offset), as: FileInfo.self, attempts: attempts)
            guard let chunk = frames.first, chunkInfo.offset ?? 0 == offset else {
                throw ClientError.invalidReply("file chunk missing or out of order")
            }
            guard info == nil || info?.size == chunkInfo.size, chunkInfo.size >= offset + chunk.count,
                !chunk.isEmpty || chunkInfo.size == offset
            else { throw ClientError.invalidReply("file changed size or sent an empty chunk") }
            info = chunkInfo
            try handle.write(contentsOf: chunk)
            hasher.update(chunk)
            offset += chunk.count
            progress(offset, chunkInfo.size)
        } while offset < (info?.size ?? 0)
        guard let info else { throw ClientError.invalidReply("no file") }
        let digest = FileDigest.hex(hasher.finalize())
        guard digest == info.sha256 else {
            throw ClientError.invalidReply("file arrived damaged: SHA-256 \(digest), not \(info.sha256)")
        }
        try handle.synchronize()
        guard rename(partial, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        finished = true
        return info
    }
}
