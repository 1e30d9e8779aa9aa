import Foundation
import Testing

@testable import PumasiWorker

/// YAML read by libyaml into `YAMLNode` trees: the shapes competition bundles and metadata files use, and the texts
/// a hostile bundle could hold.
@Suite("YAML documents")
struct YAMLTests {
    static func parse(_ text: String, limits: YAMLDocument.Limits = YAMLDocument.Limits()) throws -> YAMLNode {
        try YAMLDocument(parsing: text, limits: limits).root
    }

    /// The failure reading `text`, or nil if it was read.
    static func failure(_ text: String, limits: YAMLDocument.Limits = YAMLDocument.Limits()) -> YAMLDocument.Failure? {
        do {
            _ = try YAMLDocument(parsing: text, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    @Test func mappingsKeepTheirOrderAndKeysAreText() throws {
        let root = try Self.parse(
            """
            # a comment
            zeta: 1
            alpha: [a, 'b', "c"]
            1:
              phasenumber: 1
            2: {label: Final}
            nested:
              - x: y
              -
                - deep
            """)
        #expect(root.mapping?.map(\.key) == ["zeta", "alpha", "1", "2", "nested"])
        #expect(root["zeta"]?.int == 1)
        #expect(root["alpha"] == .sequence([.scalar("a"), .scalar("b"), .scalar("c")]))
        #expect(root["1"]?["phasenumber"]?.int == 1)
        #expect(root["2"]?["label"]?.string == "Final")
        #expect(root["nested"]?[0]?["x"]?.string == "y")
        #expect(root["nested"]?[1]?[0]?.string == "deep")
        #expect(root["missing"] == nil)
        #expect(root["nested"]?[2] == nil)
        #expect(root["zeta"]?["x"] == nil)
    }

    @Test func scalarsInEveryStyle() throws {
        let root = try Self.parse(
            """
            plain: a b   # comment
            single: 'it''s # not a comment'
            double: "tab\\tand \\u00e9 and \\"quotes\\""
            literal: |
              line one
                indented
              line three
            folded: >
              folded
              into one

              paragraph
            stripped: |-
              no newline
            multiline plain: first
              second
            empty:
            tilde: ~
            null word: null
            quoted null: 'null'
            """)
        #expect(root["plain"]?.string == "a b")
        #expect(root["single"]?.string == "it's # not a comment")
        #expect(root["double"]?.string == "tab\tand é and \"quotes\"")
        #expect(root["literal"]?.string == "line one\n  indented\nline three\n")
        #expect(root["folded"]?.string == "folded into one\nparagraph\n")
        #expect(root["stripped"]?.string == "no newline")
        #expect(root["multiline plain"]?.string == "first second")
        for key in ["empty", "tilde", "null word"] {
            #expect(root[key]?.isNull == true, "\(key)")
        }
        #expect(root["quoted null"]?.string == "null")
    }

    @Test func typedAccessorsReadYAML11Forms() throws {
        let values: [(String, Int?, Double?, Bool?)] = [
            ("42", 42, 42, nil), ("-7", -7, -7, nil), ("+3", 3, 3, nil), ("1_000", 1000, 1000, nil),
            ("0x1F", 31, 31, nil), ("0o17", 15, 15, nil), ("2.5", nil, 2.5, nil), ("1e3", nil, 1000, nil),
            ("-.inf", nil, -.infinity, nil), ("yes", nil, nil, true), ("No", nil, nil, false),
            ("TRUE", nil, nil, true), ("off", nil, nil, false), ("tRUE", nil, nil, nil), ("inf", nil, nil, nil),
            ("nan", nil, nil, nil), ("12abc", nil, nil, nil), ("99999999999999999999", nil, 1e20, nil),
        ]
        for (text, int, double, bool) in values {
            let node = YAMLNode.scalar(text)
            #expect(node.int == int, "\(text)")
            #expect(node.double == double, "\(text)")
            #expect(node.bool == bool, "\(text)")
        }
        #expect(YAMLNode.scalar(".NaN").double?.isNaN == true)
        #expect(YAMLNode.sequence([]).string == nil)
        #expect(YAMLNode.sequence([]).int == nil)
    }

    @Test func anchorsAndAliasesAreCopied() throws {
        let root = try Self.parse(
            """
            leaderboards:
              Results: &RESULTS
                label: Results
                rank: 1
            columns:
              a: {leaderboard: *RESULTS}
              b: {leaderboard: *RESULTS}
            list: &L [1, 2]
            again: *L
            name: &N key
            *N : a key from an alias
            """)
        let results = try #require(root["leaderboards"]?["Results"])
        #expect(root["columns"]?["a"]?["leaderboard"] == results)
        #expect(root["columns"]?["b"]?["leaderboard"]?["label"]?.string == "Results")
        #expect(root["again"] == .sequence([.scalar("1"), .scalar("2")]))
        #expect(root["key"]?.string == "a key from an alias")
        #expect(Self.failure("l: &L [1]\n*L : x\n")?.problem.contains("keys must be scalars") == true)
    }

    @Test func aliasBombsAreRefusedBeforeTheyExpand() throws {
        var levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1..<9 {
            let previous = "*l\(level - 1)".replacingOccurrences(of: "*l0", with: "*a")
            levels.append(
                "l\(level): &l\(level) [" + Array(repeating: previous, count: 9).joined(separator: ", ") + "]")
        }
        let failure = try #require(Self.failure(levels.joined(separator: "\n")))
        #expect(failure.problem.contains("more than the limit of 100000 nodes"), "\(failure)")
        #expect(failure.line != nil)
        // A few levels stay within the limit.
        let small = try Self.parse(levels.prefix(3).joined(separator: "\n"))
        #expect(small["l2"]?[8]?[8]?[8]?.string == "lol")
    }

    @Test func aRecursiveOrUnknownAliasIsAnError() {
        #expect(Self.failure("a: &x [1, *x]\n")?.problem.contains("unknown alias *x") == true)
        #expect(
            Self.failure("a: *nowhere\n")?.description
                == "found unknown alias *nowhere (an anchor not defined before it) at line 1, column 4")
    }

    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let failure = try #require(Self.failure(deep))
        #expect(failure.problem == "the text nests deeper than the limit of 64 levels")
        #expect(failure.line == 1 && failure.column == 65)
        let limit = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try Self.parse(limit) }
        let block = (0..<70).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n")
        #expect(Self.failure(block)?.problem.contains("deeper") == true)
    }

    @Test func textOverTheSizeLimitIsRefusedUnread() {
        let limits = YAMLDocument.Limits(bytes: 10)
        #expect(
            Self.failure("a: 12345678\n", limits: limits)?.problem == "the text is 12 bytes, more than the limit of 10")
        #expect(Self.failure("a: 123\n", limits: limits) == nil)
    }

    @Test func invalidYAMLNamesLibyamlsProblemAndWhere() throws {
        let unclosed = try #require(Self.failure("title: x\ndescription: \"open\n"))
        #expect(unclosed.problem == "found unexpected end of stream")
        #expect(unclosed.context == "while scanning a quoted scalar")
        #expect(unclosed.contextLine == 2 && unclosed.contextColumn == 14)
        #expect(unclosed.line == 3)
        let badIndent = try #require(Self.failure("a:\n  b: 1\n c: 2\n"))
        #expect(badIndent.line == 3, "\(badIndent)")
        #expect(badIndent.description.contains("at line 3, column"))
        let colon = try #require(Self.failure("description: a: b\n"))
        #expect(colon.problem == "mapping values are not allowed in this context")
        #expect(colon.line == 1 && colon.column == 15)
        let complexKey = try #require(Self.failure("? [a, b]\n: c\n"))
        #expect(complexKey.problem.contains("keys must be scalars"))
        let invalidUTF8 = String(decoding: [0x61, 0x3A, 0x20, 0x00, 0x0A], as: UTF8.self)
        #expect(Self.failure(invalidUTF8)?.problem.contains("control characters") == true)
    }

    @Test func emptyTextsAndOtherTopLevelsAreNodesToo() throws {
        #expect(try Self.parse("") == .scalar(""))
        #expect(try Self.parse("# only a comment\n") == .scalar(""))
        #expect(try Self.parse("just text") == .scalar("just text"))
        #expect(try Self.parse("- a\n- b\n") == .sequence([.scalar("a"), .scalar("b")]))
        #expect(try Self.parse("---\na: 1\n...\n---\nb: [unclosed\n")["a"]?.int == 1)
        #expect(try Self.parse("\u{FEFF}a: 1\r\nb: 2\r\n")["b"]?.int == 2)
        #expect(try Self.parse("a: 1\na: 2\n")["a"]?.int == 2)
    }

    @Test func noTextCrashesTheReader() {
        // Fragments of every construct, cut at every byte: each is read or refused, never a crash.
        let text = """
            %YAML 1.1
            --- !tag &a
            k: &b {x: [1, *a, 'q''s', "e\\x41"], ? y : |+
              z
            }
            l: >-2
                m
            n: !!str ~
            <<: *b
            """
        for length in 0...text.utf8.count {
            let prefix = String(decoding: Array(text.utf8.prefix(length)), as: UTF8.self)
            _ = Self.failure(prefix)
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ab:-[]{},&*!|>'\"#?%\n \t\\~.0".utf8)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in
                alphabet.randomElement(using: &generator)!
            }
            _ = Self.failure(String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// Metadata files read as YAML: what the line-based reader accepted but PyYAML (so Codabench) refuses is refused
/// with libyaml's reason.
@Suite("Codabench metadata read as YAML")
struct CodabenchMetadataYAMLTests {
    @Test func metadataThatIsNotYAMLIsRefusedWithWhere() {
        let loose = "command: python3 score.py $input $output\ndescription: Scores: accuracy\n"
        #expect(
            CodabenchFileTests.command(loose)
                == "problem: it is not valid YAML: mapping values are not allowed in this context at line 2, column 20")
        #expect(
            CodabenchFileTests.command("description: \"open\ncommand: x\n").hasPrefix(
                "problem: it is not valid YAML: found unexpected end of stream"))
        #expect(CodabenchFileTests.command("- command: x\n") == "problem: there is no \"command\"")
        #expect(CodabenchFileTests.command("command: {a: b}\n").contains("not a list or a mapping"))
        #expect(CodabenchFileTests.command("command: &c python3 a.py\nother: *c\n") == "python3 a.py")
        #expect(CodabenchFileTests.command("command: \"\"\n") == "problem: \"command\" is empty")
    }
}
