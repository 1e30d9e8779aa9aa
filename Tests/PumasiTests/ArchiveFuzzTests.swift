import CZlib
import Foundation
import Testing

@testable import PumasiShared
@testable import PumasiWorker

/// The zip reader against zlib (issue 13, item 6): archives whose entries zlib's own deflate made, at every level
/// and strategy, unpack to exactly what went in; thousands of mutated and truncated archives are refused or
/// unpacked within their limits, never crash; and bombs by ratio, by entry count, by path and by symlink are held.
@Suite("Zip archives against zlib", .timeLimit(.minutes(2)))
struct ArchiveFuzzTests {
    /// A small deterministic generator, so that a failure can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Raw DEFLATE of `bytes` by zlib.
    static func deflateRaw(_ bytes: [UInt8], level: Int32, strategy: Int32) -> [UInt8] {
        var stream = z_stream()
        let ok = deflateInit2_(
            &stream, level, Z_DEFLATED, -MAX_WBITS, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(ok == Z_OK)
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = UInt32(target.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return target.count - Int(stream.avail_out)
            }
        }
        return Array(output.prefix(produced))
    }

    /// A zip archive of `entries` (name, content, deflated?), with a Unix mode when given.
    static func zip(_ entries: [(name: String, content: [UInt8], deflated: Bool, mode: UInt32?)]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
        var body: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let name = Array(entry.name.utf8)
            let data =
                entry.deflated ? deflateRaw(entry.content, level: 6, strategy: Z_DEFAULT_STRATEGY) : entry.content
            let crc = CRC32.checksum(entry.content)
            let offset = UInt32(body.count)
            let method = entry.deflated ? 8 : 0
            body +=
                u32(0x0403_4B50) + u16(20) + u16(0) + u16(method) + u16(0) + u16(0) + u32(crc)
                + u32(UInt32(data.count)) + u32(UInt32(entry.content.count)) + u16(name.count) + u16(0) + name + data
            let madeBy = entry.mode == nil ? 20 : (3 << 8) | 20
            central +=
                u32(0x0201_4B50) + u16(madeBy) + u16(20) + u16(0) + u16(method) + u16(0) + u16(0) + u32(crc)
                + u32(UInt32(data.count)) + u32(UInt32(entry.content.count)) + u16(name.count) + u16(0) + u16(0)
                + u16(0) + u16(0) + u32((entry.mode ?? 0) << 16) + u32(offset) + name
        }
        let end =
            u32(0x0605_4B50) + u16(0) + u16(0) + u16(entries.count) + u16(entries.count) + u32(UInt32(central.count))
            + u32(UInt32(body.count)) + u16(0)
        return body + central + end
    }

    static func unpack(_ bytes: [UInt8], limits: ZipArchive.Limits = ZipArchive.Limits()) throws -> (
        files: [String: Data], failure: ZipArchive.Failure?
    ) {
        let dir = try TempDirectory()
        defer { dir.remove() }
        do {
            _ = try ZipArchive.unpack(Data(bytes), into: dir.path, limits: limits)
        } catch {
            return ([:], error)
        }
        return (ArchiveTests.files(dir.path), nil)
    }

    @Test func whatZlibDeflatesUnpacksExactly() throws {
        var random = Generator(state: 11)
        let strategies = [Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED]
        for round in 0..<150 {
            // From incompressible noise to long runs: every kind of block zlib writes.
            let size = Int.random(in: 0...40_000, using: &random)
            let alphabet = UInt8.random(in: 1...255, using: &random)
            let content = (0..<size).map { _ in UInt8.random(in: 0...alphabet, using: &random) }
            let level = Int32.random(in: 0...9, using: &random)
            let strategy = strategies[Int.random(in: 0..<strategies.count, using: &random)]
            let raw = Self.deflateRaw(content, level: level, strategy: strategy)
            #expect(
                try Inflate.decompress(raw[...], limit: content.count) == content,
                "round \(round): level \(level) strategy \(strategy)")
            let archive = Self.zip([("d/file\(round).bin", content, true, nil), ("plain.txt", [65, 66], false, nil)])
            let (files, failure) = try Self.unpack(archive)
            #expect(failure == nil, "round \(round): \(String(describing: failure))")
            #expect(files["d/file\(round).bin"] == Data(content) && files["plain.txt"] == Data("AB".utf8))
        }
    }

    @Test func mutatedAndTruncatedArchivesAreRefusedOrHeldToTheirLimits() throws {
        var random = Generator(state: 29)
        let text = Array(String(repeating: "pump p07 failed on bearings; ", count: 400).utf8)
        let base = Self.zip([("a.txt", text, true, nil), ("b/c.csv", Array("x,y\n1,2\n".utf8), true, nil)])
        let limits = ZipArchive.Limits(entries: 10, bytes: 64 << 10)
        var refused = 0
        for _ in 0..<1_500 {
            var bytes = base
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            case 1:
                bytes.removeLast(Int.random(in: 1..<bytes.count, using: &random))
            default:
                let at = Int.random(in: 0..<bytes.count, using: &random)
                bytes.insert(
                    contentsOf: (0..<Int.random(in: 1...16, using: &random)).map { _ in
                        UInt8.random(in: 0...255, using: &random)
                    }, at: at)
            }
            let (files, failure) = try Self.unpack(bytes, limits: limits)
            if failure != nil {
                refused += 1
                continue
            }
            // What unpacks is within its limits, and every file passed its size and CRC-32 checks.
            #expect(files.count <= limits.entries && files.values.reduce(0) { $0 + $1.count } <= limits.bytes)
        }
        #expect(refused > 1_000, "only \(refused) of 1500 mutations were refused")
    }

    @Test func bombsByRatioCountPathAndLinkAreHeld() throws {
        // Ratio: 100 MiB of zeros in about 100 KB, against a 1 MiB limit, refused without inflating it all.
        let zeros = [UInt8](repeating: 0, count: 100 << 20)
        let bomb = Self.zip([("zeros.bin", zeros, true, nil)])
        #expect(bomb.count < 200 << 10)
        let started = WallClock.monotonicNanos()
        let ratio = try Self.unpack(bomb, limits: ZipArchive.Limits(entries: 10, bytes: 1 << 20)).failure
        #expect(ratio?.description.contains("more than") == true, "\(String(describing: ratio))")
        #expect(WallClock.monotonicNanos() - started < 10_000_000_000)
        // Count: more entries than allowed, refused before any is unpacked.
        let many = Self.zip((0..<50).map { ("f\($0)", [UInt8($0)], false, nil) })
        #expect(try Self.unpack(many, limits: ZipArchive.Limits(entries: 20, bytes: 1 << 20)).failure != nil)
        // Paths: out of the directory, absolute, or through a parent.
        for name in ["../escape.txt", "a/../../escape.txt", "/etc/escape.txt"] {
            let (files, failure) = try Self.unpack(Self.zip([(name, [1], false, nil)]))
            #expect(
                files["escape.txt"] == nil && (failure != nil || files.keys.allSatisfy { !$0.contains("..") }),
                "\(name)")
        }
        // A symlink entry is a plain file holding its target's text, never a link followed.
        let link = Self.zip([("link", Array("/etc/passwd".utf8), false, UInt32(S_IFLNK) | 0o777)])
        let dir = try TempDirectory()
        defer { dir.remove() }
        _ = try ZipArchive.unpack(Data(link), into: dir.path)
        var info = stat()
        #expect(lstat(dir.file("link"), &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
        #expect(FileManager.default.contents(atPath: dir.file("link")) == Data("/etc/passwd".utf8))
    }
}
