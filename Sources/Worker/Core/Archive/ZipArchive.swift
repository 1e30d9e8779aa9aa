internal import CZlib
import Foundation
import Glibc

/// Unpacks zip archives into a directory, the way Python's `ZipFile.extractall` (which Codabench uses) lays them
/// out, but strictly: an entry naming `..` fails the archive instead of being rewritten, every entry's CRC-32 is
/// checked, and the unpacked size and entry count are capped whatever the archive declares.
///
/// Supported: stored and deflated entries, directories, UTF-8 names. Not supported (each a clear failure):
/// encryption, ZIP64, archives split over several files, other compression methods. Symbolic links are unpacked as
/// regular files holding the link's target, as `extractall` does; no file mode is kept.
///
/// Stateless; any thread may call it.
enum ZipArchive {
    /// Why an archive could not be unpacked.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        /// Whether the archive is at fault (malformed, unsupported or too large) rather than the disk.
        var isArchiveFault: Bool

        var description: String { message }
    }

    /// Caps on what one archive may unpack to.
    struct Limits: Sendable, Equatable {
        /// Most entries, directories included. Default 100,000.
        var entries = 100_000
        /// Most bytes, all files together. Default 2 GiB.
        var bytes = 2 << 30
    }

    /// Unpacks `data` into `directory`, which must exist.
    /// - Returns: how many files were unpacked (directories not counted).
    /// - Throws: `Failure` naming the entry concerned.
    @discardableResult
    static func unpack(_ data: Data, into directory: String, limits: Limits = Limits()) throws(Failure) -> Int {
        let bytes = [UInt8](data)
        let entries = try centralDirectory(bytes)
        guard entries.count <= limits.entries else {
            throw malformed("it has \(entries.count) entries, more than the limit of \(limits.entries)")
        }
        var budget = limits.bytes
        var files = 0
        for entry in entries {
            guard let components = try pathComponents(entry.name) else { continue }
            if entry.isDirectory {
                try makeDirectories(components[...], under: directory, entry: entry.name)
                continue
            }
            try makeDirectories(components.dropLast(), under: directory, entry: entry.name)
            guard entry.size <= budget else {
                throw malformed("it unpacks to more than the limit of \(limits.bytes) bytes (at entry \(entry.name))")
            }
            let content = try contents(of: entry, in: bytes, limit: budget)
            budget -= content.count
            try write(content, to: directory + "/" + components.joined(separator: "/"), entry: entry.name)
            files += 1
        }
        return files
    }

    /// One central directory record.
    private struct Entry {
        var name: String
        var flags: Int
        var method: Int
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeader: Int
        var isDirectory: Bool
    }

    /// The entries listed by the archive's central directory.
    private static func centralDirectory(_ bytes: [UInt8]) throws(Failure) -> [Entry] {
        guard let end = endRecord(bytes) else {
            throw malformed("it is not a zip archive (no end of central directory record)")
        }
        guard bytes.uint16(end + 4) == 0, bytes.uint16(end + 6) == 0 else {
            throw malformed("it is split over several files, which is not supported")
        }
        let count = bytes.uint16(end + 10)
        let size = bytes.uint32(end + 12)
        let offset = bytes.uint32(end + 16)
        guard count != 0xFFFF, size != 0xFFFF_FFFF, offset != 0xFFFF_FFFF else {
            throw malformed("it is a ZIP64 archive, which is not supported")
        }
        var entries: [Entry] = []
        var position = offset
        for _ in 0..<count {
            guard position + 46 <= bytes.count, bytes.uint32(position) == 0x0201_4B50 else {
                throw malformed("its central directory is corrupt")
            }
            let nameLength = bytes.uint16(position + 28)
            let next = position + 46 + nameLength + bytes.uint16(position + 30) + bytes.uint16(position + 32)
            guard next <= bytes.count else { throw malformed("its central directory is corrupt") }
            let nameBytes = bytes[position + 46..<position + 46 + nameLength]
            let name = String(decoding: nameBytes, as: UTF8.self)
            let madeByUnix = bytes[position + 5] == 3
            let mode = bytes.uint32(position + 38) >> 16
            let entry = Entry(
                name: name, flags: bytes.uint16(position + 8), method: bytes.uint16(position + 10),
                crc: UInt32(bytes.uint32(position + 16)), compressedSize: bytes.uint32(position + 20),
                size: bytes.uint32(position + 24), localHeader: bytes.uint32(position + 42),
                isDirectory: name.hasSuffix("/") || (madeByUnix && mode & Int(S_IFMT) == Int(S_IFDIR)))
            guard !nameBytes.contains(0) else { throw malformed("entry \(ScoringText.quoted(name)) has a NUL byte") }
            guard entry.compressedSize != 0xFFFF_FFFF, entry.size != 0xFFFF_FFFF, entry.localHeader != 0xFFFF_FFFF
            else { throw malformed("entry \(name) is ZIP64, which is not supported") }
            entries.append(entry)
            position = next
        }
        return entries
    }

    /// The offset of the end of central directory record: the last one in the final 64 KiB + 22 bytes.
    private static func endRecord(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 22 else { return nil }
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        return stride(from: bytes.count - 22, through: lowest, by: -1).first { bytes.uint32($0) == 0x0605_4B50 }
    }

    /// The path of `name` as components below the target directory, nil for the directory itself.
    /// - Throws: if a component is `..`, which would reach outside it.
    private static func pathComponents(_ name: String) throws(Failure) -> [String]? {
        let components = name.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !components.contains("..") else {
            throw malformed("entry \(ScoringText.quoted(name)) would be unpacked outside the directory")
        }
        return components.isEmpty ? nil : components
    }

    /// The unpacked bytes of `entry`, checked against its size and CRC-32.
    private static func contents(of entry: Entry, in bytes: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        let name = entry.name
        guard entry.flags & 1 == 0 else { throw malformed("entry \(name) is encrypted, which is not supported") }
        let header = entry.localHeader
        guard header + 30 <= bytes.count, bytes.uint32(header) == 0x0403_4B50 else {
            throw malformed("entry \(name) has no valid local header")
        }
        let start = header + 30 + bytes.uint16(header + 26) + bytes.uint16(header + 28)
        guard start + entry.compressedSize <= bytes.count else { throw malformed("entry \(name) is truncated") }
        let raw = bytes[start..<start + entry.compressedSize]
        let content: [UInt8]
        switch entry.method {
        case 0:
            content = Array(raw)
        case 8:
            do {
                content = try Inflate.decompress(raw, limit: limit)
            } catch {
                throw malformed("entry \(name) is corrupt: \(error)")
            }
        default:
            throw malformed(
                "entry \(name) uses compression method \(entry.method); only stored (0) and deflated (8) are supported")
        }
        guard content.count == entry.size else {
            throw malformed("entry \(name) unpacks to \(content.count) bytes, not the \(entry.size) it declares")
        }
        guard CRC32.checksum(content) == entry.crc else {
            throw malformed("entry \(name) is corrupt (CRC-32 mismatch)")
        }
        return content
    }

    /// Makes each directory of `components` below `root` that does not exist yet.
    private static func makeDirectories(_ components: ArraySlice<String>, under root: String, entry: String)
        throws(Failure)
    {
        var path = root
        for component in components {
            path += "/" + component
            if mkdir(path, 0o755) != 0, errno != EEXIST {
                throw Failure(
                    message: "could not create \(path) for entry \(entry): \(errorText())", isArchiveFault: false)
            }
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw malformed("entry \(entry) needs a directory where the archive has a file")
            }
        }
    }

    /// Writes one file, replacing a file already there (a later entry of the same name replaces an earlier one).
    /// The old file is unlinked rather than truncated, so a hard link to it elsewhere keeps its content.
    private static func write(_ content: [UInt8], to path: String, entry: String) throws(Failure) {
        _ = unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST || errno == EISDIR {
                throw malformed("entry \(entry) is a file where the archive has a directory")
            }
            throw Failure(message: "could not create \(path): \(errorText())", isArchiveFault: false)
        }
        defer { close(fd) }
        var written = 0
        while written < content.count {
            let count = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw Failure(message: "could not write \(path): \(errorText())", isArchiveFault: false)
            }
            written += count
        }
    }

    private static func malformed(_ message: String) -> Failure {
        Failure(message: message, isArchiveFault: true)
    }

    private static func errorText() -> String {
        "\(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The CRC-32 of zip and gzip (reflected polynomial 0xEDB88320).
/// CRC-32 (ISO 3309, as zip uses it), by the system's zlib.
enum CRC32 {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            var crc = crc32(0, nil, 0)
            var offset = 0
            // zlib takes a 32-bit length: in pieces of at most 1 GiB.
            while offset < buffer.count {
                let count = min(buffer.count - offset, 1 << 30)
                crc = crc32(crc, buffer.baseAddress! + offset, uInt(count))
                offset += count
            }
            return UInt32(crc)
        }
    }
}

extension [UInt8] {
    /// The little-endian 16-bit value at `offset` (0 past the end).
    fileprivate func uint16(_ offset: Int) -> Int {
        guard offset >= 0, offset + 2 <= count else { return 0 }
        return Int(self[offset]) | Int(self[offset + 1]) << 8
    }

    /// The little-endian 32-bit value at `offset` (0 past the end).
    fileprivate func uint32(_ offset: Int) -> Int {
        guard offset >= 0, offset + 4 <= count else { return 0 }
        return uint16(offset) | uint16(offset + 2) << 16
    }
}
