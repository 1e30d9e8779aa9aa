import Foundation

/// The SHA-256 and size of a file on disk, read in chunks so that a file of any size costs a bounded amount of memory.
public enum FileDigest {
    /// - Parameter progress: called after each chunk with the bytes read so far.
    public static func sha256(path: String, progress: (Int) -> Void = { _ in }) throws -> (sha256: String, size: Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size = 0
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hasher.update(chunk)
            size += chunk.count
            progress(size)
        }
        return (hex(hasher.finalize()), size)
    }

    /// Lowercase hex of a digest.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
