import Foundation
import PumasiShared

/// Files too large for a database row, on disk by SHA-256 (`objects/ab/abcd…`), and the uploads under way
/// (`uploads/<upload id>.part`). Every chunk is synced before it is acknowledged; a finished upload is synced, renamed
/// into place and its directory synced before its submission's row commits. By default beside the SQLite file
/// (`<data-dir>/blobs`); brokers that share a PostgreSQL store share this directory too (`--blob-dir`).
///
/// Thread rule: owned by the broker's loop thread. Files are read and written a chunk at a time: a file of any size
/// costs one chunk of memory.
final class BlobStore {
    let directory: String
    /// SHA-256 of each upload's bytes so far, while its chunks arrive in order; recomputed from the partial file when
    /// missing (after a restart).
    private var hashing: [String: (hasher: SHA256, bytes: Int)] = [:]

    init(directory: String) throws {
        self.directory = directory
        for sub in ["objects", "uploads"] {
            try FileManager.default.createDirectory(
                atPath: (directory as NSString).appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    /// Where a stored file lives.
    func path(_ sha256: String) -> String {
        "\(directory)/objects/\(sha256.prefix(2))/\(sha256)"
    }

    func contains(_ sha256: String) -> Bool { FileManager.default.fileExists(atPath: path(sha256)) }

    func partPath(_ upload: String) -> String { "\(directory)/uploads/\(upload).part" }

    /// Bytes of an upload on disk (0 when none).
    func received(_ upload: String) -> Int {
        var info = stat()
        return stat(partPath(upload), &info) == 0 ? Int(info.st_size) : 0
    }

    /// Writes a chunk at `offset` (where the upload stands), drops anything after it, and syncs it to disk.
    func append(_ upload: String, at offset: Int, _ bytes: Data) throws(BlobStoreError) {
        let path = partPath(upload)
        let created = offset == 0
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobStoreError("open", path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(offset)) == 0 else { throw BlobStoreError("ftruncate", path) }
        var written = 0
        let failed: Bool = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(offset + written))
                if n < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                written += n
            }
            return false
        }
        if failed { throw BlobStoreError("pwrite", path) }
        guard fsync(fd) == 0 else { throw BlobStoreError("fsync", path) }
        if created { try syncDirectory("\(directory)/uploads") }
        if offset == 0 {
            var hasher = SHA256()
            hasher.update(bytes)
            hashing[upload] = (hasher, bytes.count)
        } else if var state = hashing[upload], state.bytes == offset {
            state.hasher.update(bytes)
            state.bytes += bytes.count
            hashing[upload] = state
        } else {
            hashing[upload] = nil
        }
    }

    /// The SHA-256 of an upload's bytes: kept as they came, or read back from disk.
    func digest(_ upload: String) throws -> String {
        if var state = hashing[upload], state.bytes == received(upload) {
            return FileDigest.hex(state.hasher.finalize())
        }
        return try FileDigest.sha256(path: partPath(upload)).sha256
    }

    /// Moves a finished upload into place under its SHA-256, durably: the file was synced with its last chunk, the
    /// rename and its directory are synced here.
    func commit(_ upload: String, sha256: String) throws(BlobStoreError) {
        hashing[upload] = nil
        let target = path(sha256)
        let folder = (target as NSString).deletingLastPathComponent
        if mkdir(folder, 0o700) != 0, errno != EEXIST { throw BlobStoreError("mkdir", folder) }
        guard rename(partPath(upload), target) == 0 else { throw BlobStoreError("rename", partPath(upload)) }
        try syncDirectory(folder)
        try syncDirectory("\(directory)/uploads")
    }

    /// Throws an upload's bytes away (a hash that did not match).
    func discard(_ upload: String) {
        hashing[upload] = nil
        unlink(partPath(upload))
    }

    /// Up to `count` bytes of a stored file from `offset`.
    func read(_ sha256: String, offset: Int, count: Int) throws(BlobStoreError) -> Data {
        let path = path(sha256)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError("open", path) }
        defer { close(fd) }
        var data = Data(count: count)
        var got = 0
        let failed: Bool = data.withUnsafeMutableBytes { raw in
            while got < count {
                let n = pread(fd, raw.baseAddress! + got, count - got, off_t(offset + got))
                if n < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                if n == 0 { break }
                got += n
            }
            return false
        }
        if failed { throw BlobStoreError("pread", path) }
        data.count = got
        return data
    }

    private func syncDirectory(_ path: String) throws(BlobStoreError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BlobStoreError("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BlobStoreError("fsync", path) }
    }
}

/// A failed system call on the blob directory, read right after it: `fsync(/var/lib/pumasi/blobs/…): No space left
/// on device (errno 28)`.
struct BlobStoreError: Error, CustomStringConvertible {
    let operation: String
    let path: String
    let code: Int32

    init(_ operation: String, _ path: String) {
        self.operation = operation
        self.path = path
        code = errno
    }

    var description: String { "\(operation)(\(path)): \(String(cString: strerror(code))) (errno \(code))" }
}
