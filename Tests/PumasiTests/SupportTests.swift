import Foundation
import PumasiShared
import Testing

@Suite("SHA-256, identifiers, clock, arguments")
struct SupportTests {
    @Test func sha256MatchesFIPSVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func aDigestIsSixtyFourLowercaseHexDigits() {
        let digest = SHA256.hex(Data("abc".utf8))
        #expect(SHA256.isHex(digest))
        #expect(!SHA256.isHex(digest.uppercased()))
        #expect(!SHA256.isHex(String(digest.dropLast())))
        #expect(!SHA256.isHex(digest + "0"))
        #expect(!SHA256.isHex(String(digest.dropLast()) + "g"))
        // 64 characters, but not 64 bytes: a digit written in another script is not a hex digit.
        #expect(!SHA256.isHex(String(digest.dropLast()) + "\u{0663}"))
        #expect(!SHA256.isHex(""))
    }

    @Test func sha256GivesTheSameDigestHoweverTheInputIsSplit() {
        let data = Data((0..<1_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var hasher = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 37) {
            hasher.update(data[chunk..<min(chunk + 37, data.count)])
        }
        let split = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        #expect(split == SHA256.hex(data))
    }

    @Test func identifiersAreRandomAndWellFormed() {
        let ids = (0..<1_000).map { _ in Identifier.make(prefix: "sub") }
        #expect(Set(ids).count == ids.count)
        // Time first: the characters after the prefix start with the milliseconds, so a later one sorts later.
        #expect(Identifier.make(prefix: "sub", now: 1_000) < Identifier.make(prefix: "sub", now: 1_001))
        #expect(Identifier.make(prefix: "sub", now: 0).hasPrefix("sub_000000000"))
        #expect(Identifier.make(prefix: "sub", now: 31).hasPrefix("sub_00000000z"))
        #expect(ids.allSatisfy { Identifier.isWellFormed($0, prefix: "sub") })
        #expect(!Identifier.isWellFormed("sub_1", prefix: "sub"))
        #expect(!Identifier.isWellFormed(ids[0], prefix: "ch"))
        #expect(!Identifier.isWellFormed("sub_' OR 1=1 --xxxxx", prefix: "sub"))
    }

    @Test func deadlinesParseAbsoluteAndRelative() {
        #expect(WallClock.parse("2026-11-23T10:00:00Z") == 1_795_428_000_000)
        #expect(WallClock.parse("+90s", now: 1_000) == 91_000)
        #expect(WallClock.parse("+2h", now: 0) == 7_200_000)
        #expect(WallClock.parse("tomorrow") == nil)
        #expect(WallClock.parse("+99999999999999d") == nil)
        #expect(WallClock.iso(1_795_428_000_000) == "2026-11-23T10:00:00Z")
    }

    @Test func argumentsParseOptionsFlagsAndPositionals() throws {
        let spec = CommandSpec(
            name: "tool run", abstract: "Runs.", arguments: [.init("target", help: "What.")],
            options: [
                .init("count", short: "c", value: "n", help: "How many."), .init("json", help: "JSON."),
                .init("tag", value: "t", help: "Tags.", repeats: true),
            ])
        let parsed = try spec.parse(["-c", "3", "x", "--json", "--tag=a", "--tag", "b"])
        #expect(parsed.value("count") == "3")
        #expect(parsed.flag("json"))
        #expect(parsed.all("tag") == ["a", "b"])
        #expect(parsed[argument: "target"] == "x")
        #expect(try spec.parse(["--help"]).helpRequested)
        #expect(throws: UsageError.self) { try spec.parse([]) }
        #expect(throws: UsageError.self) { try spec.parse(["x", "--bogus"]) }
        #expect(throws: UsageError.self) { try spec.parse(["x", "--count"]) }
        #expect(throws: UsageError.self) { try spec.parse(["x", "y"]) }
        #expect(spec.help.contains("USAGE: tool run [<options>] <target>"))
        #expect(spec.help.contains("-c, --count <n>"))
    }
}
