import Foundation
import Testing

@testable import PumasiWorker

extension YAMLTests {
    /// Whether python3 can import PyYAML.
    static let hasPyYAML: Bool = {
        guard let python3 = ScoringTests.python3 else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python3)
        process.arguments = ["-c", "import yaml"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}

/// PyYAML's composer (what Codabench reads bundles with) as an oracle outside the code: for the fixtures'
/// `competition.yaml` files, hand-written edge cases and seeded mutations of them, every text both read must give the
/// same tree (scalars as their text, plain nulls as "", aliases expanded).
@Suite("YAML documents against PyYAML", .enabled(if: YAMLTests.hasPyYAML), .timeLimit(.minutes(2)))
struct YAMLOracleTests {
    /// Composes each text of `texts.json` with PyYAML's pure Python loader (Codabench's) and, when PyYAML was built
    /// with it, its libyaml loader; writes `trees.json`: null where a loader refuses the text.
    static let oracle = """
        import json, yaml
        from yaml.nodes import ScalarNode, SequenceNode, MappingNode
        def tree(node, depth=0):
            if isinstance(node, ScalarNode):
                return {"s": "" if node.tag == "tag:yaml.org,2002:null" else node.value}
            if isinstance(node, SequenceNode):
                return {"q": [tree(item, depth + 1) for item in node.value]}
            entries = []
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    raise ValueError("complex key")
                entries.append([tree(key)["s"], tree(value, depth + 1)])
            return {"m": entries}
        def read(text, loader):
            try:
                node = next(iter(yaml.compose_all(text, Loader=loader)), None)
                return {"s": ""} if node is None else tree(node)
            except Exception:
                return None
        texts = json.load(open("texts.json"))
        json.dump({
            "pure": [read(t, yaml.SafeLoader) for t in texts],
            "libyaml": [read(t, yaml.CSafeLoader) for t in texts] if yaml.__with_libyaml__ else None,
        }, open("trees.json", "w"))
        """

    static func node(_ json: Any) -> YAMLNode? {
        guard let object = json as? [String: Any] else { return nil }
        if let text = object["s"] as? String { return .scalar(text) }
        if let items = object["q"] as? [Any] { return .sequence(items.compactMap(node)) }
        guard let entries = object["m"] as? [[Any]] else { return nil }
        return .mapping(
            entries.compactMap { pair in
                guard pair.count == 2, let key = pair[0] as? String, let value = node(pair[1]) else { return nil }
                return (key, value)
            })
    }

    static let edgeCases = [
        "a: &x 1\nb: *x\n", "? a\n: b\n", "a: !!str ~\nb: ~\nc: 'null'\nd:\n", "- |\n  x\n   y\n- >-\n  z\n\n  w\n",
        "{a: [1, {b: c}], d: e}\n", "a: \"\\u00e9\\t\\x41\"\n", "1: one\n2.5: two\ntrue: three\n", "a:\n- 1\n- 2\n",
        "---\nx\n...\n", "%YAML 1.1\n---\na: b\n", "a: b # c\n# d\ne: 'f ''g'''\n", "&a [*a]\n",
        "a: &b\n  c: d\ne: *b\n",
        "key with spaces: value with:colon?\n", "a: 'multi\n  line'\n", "- - - x\n", "a: !custom {b: c}\n",
    ]

    @Test func treesMatchPyYAMLsComposer() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        var texts = Self.edgeCases
        for fixture in ["competition.zip", "competition_15_iris.zip"] {
            let unpacked = try TempDirectory()
            defer { unpacked.remove() }
            let bundle = try CodabenchBundleTests.fixture(fixture, into: unpacked)
            texts.append(try String(contentsOfFile: bundle.root + "/competition.yaml", encoding: .utf8))
        }
        var generator = SplitMix64(seed: 0x59A3_11)
        let punctuation = Array(": -[]{},&*!|>'\"#?\n  \t~".utf8)
        let seeds = texts
        for _ in 0..<1_500 {
            var bytes = Array(seeds.randomElement(using: &generator)!.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(punctuation.randomElement(using: &generator)!, at: at)
                default: bytes[at] = punctuation.randomElement(using: &generator)!
                }
            }
            texts.append(String(decoding: bytes, as: UTF8.self))
        }
        try JSONSerialization.data(withJSONObject: texts).write(to: URL(fileURLWithPath: dir.file("texts.json")))
        _ = try python(Self.oracle, in: dir.path)
        let trees = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("trees.json"))))
                as? [String: Any])
        let pure = try #require(trees["pure"] as? [Any])
        try #require(pure.count == texts.count)
        let ours = texts.map { try? YAMLDocument(parsing: $0).root }
        var (compared, refusedByBoth, refusedByOne) = ([Int](), 0, [String]())
        for (index, (text, expected)) in zip(texts, pure).enumerated() {
            switch (ours[index], Self.node(expected)) {
            case (let ours?, let theirs?):
                compared.append(index)
                #expect(ours == theirs, "\(text.debugDescription)")
            case (nil, nil): refusedByBoth += 1
            default: refusedByOne.append(text)
            }
        }
        // The fixtures and every edge case but the recursive alias (refused by both) are read by both.
        let recursive = try #require(Self.edgeCases.firstIndex(of: "&a [*a]\n"))
        #expect(compared.prefix(seeds.count - 1) == ArraySlice((0..<seeds.count).filter { $0 != recursive }))
        // The pure Python scanner refuses tabs that libyaml allows (`a\t: b`), libyaml refuses unknown directives
        // and some tag characters that it allows: a few mutated texts, no more.
        #expect(refusedByOne.count * 20 <= texts.count, "\(refusedByOne.prefix(5).map(\.debugDescription))")
        #expect(
            compared.count > 300 && refusedByBoth > 300, "\(compared.count) compared, \(refusedByBoth) refused by both")
        // PyYAML's libyaml loader runs the same scanner and parser: it reads exactly the texts read here, to the
        // same trees.
        if let libyaml = trees["libyaml"] as? [Any] {
            for (index, expected) in libyaml.enumerated() {
                #expect(ours[index] == Self.node(expected), "\(texts[index].debugDescription)")
            }
        }
    }
}
