import Foundation
import Glibc

/// Writes a directory tree the CLI packs itself (a bundle's program or data folder) as a zip archive of stored
/// entries, which `ZipArchive` and Python's `zipfile` unpack: regular files and directories only (symbolic links and
/// other special files are left out), names in UTF-8, CRC-32 by zlib.
enum ZipWriter {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The most bytes one archive holds (no ZIP64).
    static let sizeLimit = Int(UInt32.max) - (1 << 20)

    /// The archive of everything below `directory`, with paths relative to it, in name order.
    static func archive(directory: String) throws(Failure) -> Data {
        var entries: [(name: String, path: String?)] = []
        func walk(_ relative: String) throws(Failure) {
            let absolute = relative.isEmpty ? directory : directory + "/" + relative
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: absolute).sorted()
            } catch {
                throw Failure(message: "could not list \(absolute): \(error)")
            }
            for name in names where name != "__MACOSX" && name != ".DS_Store" {
                let child = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard lstat(directory + "/" + child, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    entries.append((child + "/", nil))
                    try walk(child)
                case S_IFREG: entries.append((child, directory + "/" + child))
                default: continue
                }
            }
        }
        try walk("")
        var archive = Data()
        var central = Data()
        for (name, path) in entries {
            let content: Data
            if let path {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw Failure(message: "could not read \(path)")
                }
                content = data
            } else {
                content = Data()
            }
            guard archive.count + content.count < sizeLimit else {
                throw Failure(message: "\(directory) holds more than a zip archive without ZIP64 can (4 GiB)")
            }
            let crc = CRC32.checksum([UInt8](content))
            let nameBytes = Data(name.utf8)
            let offset = UInt32(archive.count)
            // Local file header: version 2.0, UTF-8 names (bit 11), stored.
            var local = Data()
            local.append(le32: 0x0403_4b50)
            local.append(le16: 20)
            local.append(le16: 0x0800)
            local.append(le16: 0)
            local.append(le16: 0)
            local.append(le16: 0x21)
            local.append(le32: crc)
            local.append(le32: UInt32(content.count))
            local.append(le32: UInt32(content.count))
            local.append(le16: UInt16(nameBytes.count))
            local.append(le16: 0)
            archive.append(local)
            archive.append(nameBytes)
            archive.append(content)
            // Central directory record: made by Unix (3), regular file or directory permissions.
            let mode: UInt32 = path == nil ? 0o040755 : 0o100644
            central.append(le32: 0x0201_4b50)
            central.append(le16: 0x0314)
            central.append(le16: 20)
            central.append(le16: 0x0800)
            central.append(le16: 0)
            central.append(le16: 0)
            central.append(le16: 0x21)
            central.append(le32: crc)
            central.append(le32: UInt32(content.count))
            central.append(le32: UInt32(content.count))
            central.append(le16: UInt16(nameBytes.count))
            central.append(le16: 0)
            central.append(le16: 0)
            central.append(le16: 0)
            central.append(le16: 0)
            central.append(le32: mode << 16)
            central.append(le32: offset)
            central.append(nameBytes)
        }
        guard entries.count < 0xFFFF else { throw Failure(message: "\(directory) holds more than 65,534 entries") }
        let centralOffset = UInt32(archive.count)
        archive.append(central)
        archive.append(le32: 0x0605_4b50)
        archive.append(le16: 0)
        archive.append(le16: 0)
        archive.append(le16: UInt16(entries.count))
        archive.append(le16: UInt16(entries.count))
        archive.append(le32: UInt32(central.count))
        archive.append(le32: centralOffset)
        archive.append(le16: 0)
        return archive
    }
}

extension Data {
    fileprivate mutating func append(le16 value: UInt16) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func append(le32 value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
