import Foundation
import PumasiShared
import Testing

/// A bounded differential fuzz of the pull reader (`JSONReader`, through the `FastJSONDecodable` bodies) against
/// `JSONDecoder` and an independent strict RFC 8259 checker. For every input, and each of the three bodies the broker
/// reads per job (SubmitRequest, ScoringResult, ScoringJob):
/// - the reader must not crash;
/// - if it returns a value, the bytes must be strict JSON (UTF-8 checked in every string and name, read or skipped;
///   no lone surrogates, control characters, leading zeros, NaN or Infinity; nested at most 64 levels);
/// - and `JSONDecoder` must decode the same value from the same bytes (doubles compared bit for bit, so -0 ≠ 0).
/// A nil is always allowed: the callers then fall back to `JSONDecoder`.
/// Deterministic: a fixed seed and about 8,000 cases (about a second in a debug build); PUMASI_FUZZ_SEED and
/// PUMASI_FUZZ_CASES (rounds of each kind) change them for a longer hunt.
@Suite("JSONReader differential fuzz")
struct JSONReaderFuzzTests {
    // MARK: The checks

    /// What is wrong with the reader's answer for `bytes`, if anything.
    static func problems(_ bytes: [UInt8]) -> [String] {
        let data = Data(bytes)
        var found: [String] = []
        var strict: Bool?
        func isStrict() -> Bool {
            if let strict { return strict }
            let value = StrictJSON.isValid(bytes)
            strict = value
            return value
        }

        if let fast = SubmitRequest.fastDecode(data) {
            if !isStrict() { found.append("SubmitRequest read from text that is not strict JSON") }
            switch Result(catching: { try JSONDecoder().decode(SubmitRequest.self, from: data) }) {
            case .failure(let error): found.append("SubmitRequest read, JSONDecoder throws \(brief(error))")
            case .success(let slow):
                if fast.v != slow.v || fast.challenge != slow.challenge || fast.solver != slow.solver
                    || fast.filename != slow.filename || fast.clientId != slow.clientId
                    || fast.solverDefaulted != slow.solverDefaulted
                {
                    found.append("SubmitRequest differs: reader \(fast), JSONDecoder \(slow)")
                }
            }
        }
        if let fast = ScoringResult.fastDecode(data) {
            if !isStrict() { found.append("ScoringResult read from text that is not strict JSON") }
            switch Result(catching: { try JSONDecoder().decode(ScoringResult.self, from: data) }) {
            case .failure(let error): found.append("ScoringResult read, JSONDecoder throws \(brief(error))")
            case .success(let slow):
                if fast != slow || fast.score?.bitPattern != slow.score?.bitPattern
                    || fast.metrics?.mapValues(\.bitPattern) != slow.metrics?.mapValues(\.bitPattern)
                {
                    found.append("ScoringResult differs: reader \(fast), JSONDecoder \(slow)")
                }
            }
        }
        if let fast = ScoringJob.fastDecode(data) {
            if !isStrict() { found.append("ScoringJob read from text that is not strict JSON") }
            switch Result(catching: { try JSONDecoder().decode(ScoringJob.self, from: data) }) {
            case .failure(let error): found.append("ScoringJob read, JSONDecoder throws \(brief(error))")
            case .success(let slow):
                if fast != slow || fast.timeLimitSeconds.bitPattern != slow.timeLimitSeconds.bitPattern {
                    found.append("ScoringJob differs: reader \(fast), JSONDecoder \(slow)")
                }
            }
        }
        return found
    }

    private static func brief(_ error: any Error) -> String { String(String(describing: error).prefix(120)) }

    /// The input, printable: ASCII as is, other bytes as \xNN.
    static func show(_ bytes: [UInt8]) -> String {
        bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "\\x" + String(format: "%02X", $0) }.joined()
    }

    // MARK: Tests

    /// Minimal inputs for each class of discrepancy: the reader must give nil or exactly what JSONDecoder gives.
    @Test(arguments: Self.regressions)
    func regression(_ input: Regression) {
        let problems = Self.problems(input.bytes)
        #expect(problems.isEmpty, "\(input.name): \(Self.show(input.bytes)) — \(problems)")
    }

    @Test func differentialFuzz() {
        let seed = ProcessInfo.processInfo.environment["PUMASI_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0F15_0E00
        var random = SplitMix64(seed: seed)
        let rounds = ProcessInfo.processInfo.environment["PUMASI_FUZZ_CASES"].flatMap { Int($0) } ?? 4_000
        let seeds = Self.seedBodies()
        let started = ContinuousClock.now
        var failures: [(String, [String])] = []
        var cases = 0
        var accepted = 0

        func check(_ bytes: [UInt8]) {
            cases += 1
            if SubmitRequest.fastDecode(Data(bytes)) != nil || ScoringResult.fastDecode(Data(bytes)) != nil
                || ScoringJob.fastDecode(Data(bytes)) != nil
            {
                accepted += 1
            }
            let found = Self.problems(bytes)
            if !found.isEmpty, failures.count < 20 { failures.append((Self.show(bytes), found)) }
        }

        // Every seed as it is, then mutated.
        for body in seeds { check(body) }
        for _ in 0..<rounds {
            var bytes = seeds[random.below(seeds.count)]
            for _ in 0..<(1 + random.below(3)) { Self.mutate(&bytes, &random) }
            check(bytes)
        }
        // Bodies built member by member: right and wrong kinds, repeats, unknown members, escaped names.
        for _ in 0..<rounds { check(Self.generate(&random)) }

        let elapsed = ContinuousClock.now - started
        print("JSONReader fuzz: seed \(seed), \(cases) cases, \(accepted) read, \(elapsed)")
        for (input, found) in failures {
            Issue.record("seed \(seed): \(input)\n  \(found.joined(separator: "\n  "))")
        }
        // The fuzz is only worth something if many cases get past the reader to the comparison.
        #expect(accepted > cases / 10, "only \(accepted) of \(cases) inputs were read at all")
    }

    // MARK: Inputs

    struct Regression: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }
    }

    private static let submitHead = #"{"v":1,"challenge":"c","solver":"s","filename":"f""#
    private static let resultHead = #"{"v":1,"ok":true"#

    static let regressions: [Regression] = [
        // Repeated members: JSONDecoder keeps the first, the reader the last.
        Regression(name: "repeated member", bytes: Array(#"{"v":1,"ok":true,"message":"a","message":"b"}"#.utf8)),
        Regression(name: "repeated version", bytes: Array(#"{"v":2,"v":1,"ok":true}"#.utf8)),
        Regression(name: "repeated member, null first", bytes: Array(#"{"v":1,"ok":null,"ok":true}"#.utf8)),
        Regression(name: "repeated metric", bytes: Array(#"{"v":1,"ok":true,"metrics":{"a":1,"a":2}}"#.utf8)),
        Regression(
            name: "canonically equivalent metric names",
            bytes: Array("{\"v\":1,\"ok\":true,\"metrics\":{\"\u{E9}\":1,\"e\u{301}\":2}}".utf8)),
        // A nonzero number that rounds to zero: JSONDecoder refuses it.
        Regression(name: "underflow to zero", bytes: Array(#"{"v":1,"ok":true,"score":1e-400}"#.utf8)),
        Regression(name: "underflow to -0", bytes: Array(#"{"v":1,"ok":true,"score":-2e-324}"#.utf8)),
        // A true zero with an exponent that JSONDecoder refuses all the same (its `isTrueZero` reads the last 1-3
        // bytes of the literal backwards, and so sees the exponent's digit before the "e").
        Regression(name: "zero with an exponent", bytes: Array(#"{"v":1,"ok":true,"score":0e1}"#.utf8)),
        Regression(name: "zero with an exponent, longer", bytes: Array(#"{"v":1,"ok":true,"score":0.00e32}"#.utf8)),
        // Invalid UTF-8 in a member name, or in a skipped string: not JSON.
        Regression(
            name: "invalid UTF-8 in a name", bytes: Array(#"{"v":1,"ok":true,""#.utf8) + [0xFF] + Array(#"":1}"#.utf8)),
        Regression(
            name: "invalid UTF-8 in a skipped string",
            bytes: Array(#"{"v":1,"ok":true,"x":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)),
        Regression(
            name: "UTF-8 surrogate in a skipped string",
            bytes: Array(#"{"v":1,"ok":true,"x":["#.utf8) + [0x22, 0xED, 0xA0, 0x80, 0x22] + Array("]}".utf8)),
        Regression(
            name: "invalid UTF-8 in a skipped nested name",
            bytes: Array(submitHead.utf8) + Array(#","x":{""#.utf8) + [0xC0, 0xAF] + Array(#"":0}}"#.utf8)),
        // Limits that both sides agree on today; kept as guards.
        Regression(name: "-0 score", bytes: Array(#"{"v":1,"ok":true,"score":-0}"#.utf8)),
        Regression(name: "2^53+1 score", bytes: Array(#"{"v":1,"ok":true,"score":9007199254740993}"#.utf8)),
        Regression(name: "1e308 score", bytes: Array(#"{"v":1,"ok":true,"score":1e308}"#.utf8)),
        Regression(
            name: "smallest subnormal", bytes: Array(#"{"v":1,"ok":true,"score":2.4703282292062328e-324}"#.utf8)),
        Regression(
            name: "zero with huge exponent", bytes: Array(#"{"v":1,"ok":true,"score":0e-99999999999999999999}"#.utf8)),
        Regression(name: "version 1.0", bytes: Array(#"{"v":1.0,"ok":true}"#.utf8)),
        Regression(
            name: "deep but allowed",
            bytes: Array(
                (resultHead + #","x":"# + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}")
                    .utf8)),
        Regression(
            name: "too deep",
            bytes: Array(
                (resultHead + #","x":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}")
                    .utf8)),
    ]

    /// Valid bodies as the wire writes them.
    static func seedBodies() -> [[UInt8]] {
        let tricky = "q\"b\\s/\n\t\r\u{0}\u{1F}\u{7F} é€😀\u{2028}\u{FEFF}K\u{212A}"
        let scorer = ScorerSpec(builtin: "exact", options: ["mode": "strict", tricky: tricky, "": ""])
        let bodies: [Data] = [
            Wire.encode(SubmitRequest(challenge: "ch_01jdz8k3q5m9x7v3", solver: "alice", filename: "main.py")),
            Wire.encode(SubmitRequest(challenge: tricky, solver: "", filename: "a b.txt", clientId: "cid-1")),
            Wire.encode(
                {
                    var request = SubmitRequest(challenge: "ch_01jdz8k3q5m9x7v3", solver: "ada", filename: "f.csv")
                    request.solverDefaulted = true
                    return request
                }()),
            Wire.encode(ScoringResult(ok: true, score: 0.875)),
            Wire.encode(
                ScoringResult(
                    ok: true, score: -0.0,
                    metrics: ["acc": 0.9, "rmse": 1e308, "tiny": .leastNonzeroMagnitude, tricky: -12.5],
                    message: "fine", log: "line 1\nline 2\r\n")),
            Wire.encode(ScoringResult(ok: false, error: .init(code: "bad_job", message: tricky))),
            Wire.encode(
                ScoringJob(
                    job: 8_999_999_999_999_999, attempt: 3, challenge: "ch_1", submission: "sub_1", filename: "x.csv",
                    sha256: String(repeating: "ab", count: 32), scorer: scorer,
                    reference: [
                        FileEntry(name: "truth.csv", role: .reference, sha256: "00ff", size: 123_456),
                        FileEntry(name: tricky, role: .public),
                    ], timeLimitSeconds: 2.5)),
            Wire.encode(
                ScoringJob(
                    job: -1, attempt: 0, challenge: "", submission: "", filename: "", sha256: "",
                    scorer: ScorerSpec(plugin: "my-plugin", judge: false), reference: [], timeLimitSeconds: 1e-300)),
            Wire.encode(
                ScoringJob(
                    job: 0, attempt: 1, challenge: "c", submission: "s", filename: "f", sha256: "h",
                    scorer: ScorerSpec(judge: true), reference: [], timeLimitSeconds: 9_007_199_254_740_992)),
        ]
        return bodies.map { Array($0) }
    }

    private static let interestingBytes: [UInt8] =
        Array(#""\{}[],:019-+.eEntfu/ "#.utf8) + [
            0x09, 0x0A, 0x0D, 0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5,
            0xFF,
        ]

    private static let numbers = [
        "0", "-0", "-0.0", "1", "1.0", "1e0", "1E+2", "-1e-2", "2", "9007199254740993", "9007199254740992",
        "8999999999999999", "9000000000000000", "999999999999999", "-999999999999999", "1e308",
        "1.7976931348623157e308", "1.7976931348623159e308", "-1e308", "5e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "1e-400", "-1e-400", "0e99999", "0.0e-400", "1e99999",
        "123456789012345678901234567890", "0.1", "1.5", "00", "01", "-01", "-", "1.", "1.e5", ".5", "+1", "1e", "1e+",
        "0x10", "NaN", "Infinity", "-Infinity", "1_000", "1e-99999999999999999999", "0.000000000000000000001",
    ]
    private static let strings: [[UInt8]] =
        [
            #""""#, #""a""#, #""\u00e9""#, #""\ud83d\ude00""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#,
            #""\ud800\ud800""#, #""\u0000""#, #""\/""#, #""\x""#, #""\u12""#, #""\U0041""#, #""\uD83D\uDE00""#,
            "\"\u{7F}\"", "\"é€😀\"", #""public""#, #""reference""#, #""exact""#,
        ].map { Array($0.utf8) }
        + [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x28, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22], [0x22, 0xE2, 0x82, 0xAC, 0x22],
            [0x22, 0x01, 0x22], [0x22, 0x09, 0x22], [0x22, 0x5C, 0xC3, 0xA9, 0x22], [0x22, 0x5C, 0x6E, 0xFF, 0x22],
        ]
    private static let others = [
        "true", "false", "null", "tru", "nul", "True", "nulll", "{}", "[]", "[1,2]", "[1,]", "[,1]", #"{"a":1}"#,
        #"{"a":1,}"#, #"{"a"}"#, "[[[]]]", #"{"code":"c","message":"m"}"#, #"{"code":null,"message":"m"}"#,
        #"[{"name":"n","role":"public"}]"#, #"[{"name":"n","role":"other"}]"#,
        #"[{"name":"n","role":"public","size":1.0}]"#,
        #"{"builtin":"exact"}"#, #"{"options":{"a":"b","a":"c"}}"#, #"{"\u00e9":1}"#, #"{"a":1,"a":2}"#,
        "{\"K\":1,\"\u{212A}\":2}", "{\"\u{E9}\":1,\"e\u{301}\":2}", #"{"a":"x","a":"y"}"#, #"{"a":null}"#,
    ]
    private static let names = [
        "v", "challenge", "solver", "filename", "clientId", "ok", "score", "metrics", "message", "error", "log", "job",
        "attempt", "submission", "sha256", "scorer", "reference", "timeLimitSeconds", "x", "", "\\u0063hallenge",
        "o\\u006b", "\\u0076", "V", "ok ", "\u{212A}",
    ]

    static func randomValue(_ random: inout SplitMix64, depth: Int = 0) -> [UInt8] {
        switch random.below(depth > 2 ? 3 : 5) {
        case 0: return Array(numbers[random.below(numbers.count)].utf8)
        case 1: return strings[random.below(strings.count)]
        case 2: return Array(others[random.below(others.count)].utf8)
        case 3:
            var out = Array("[".utf8)
            for index in 0..<random.below(3) {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += randomValue(&random, depth: depth + 1)
            }
            return out + Array("]".utf8)
        default:
            var out = Array("{".utf8)
            for index in 0..<random.below(3) {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out += Array("\"\(names[random.below(names.count)])\":".utf8) + randomValue(&random, depth: depth + 1)
            }
            return out + Array("}".utf8)
        }
    }

    /// A number literal: up to 13 integer and 13 fraction digits, and an exponent anywhere from underflow to overflow.
    static func randomNumber(_ random: inout SplitMix64) -> String {
        var text = random.below(3) == 0 ? "-" : ""
        if random.below(4) == 0 {
            text += "0"
        } else {
            text += String(1 + random.below(9))
            for _ in 0..<random.below(13) { text += String(random.below(10)) }
        }
        if random.below(2) == 0 {
            text += "."
            for _ in 0...random.below(13) { text += String(random.below(10)) }
        }
        switch random.below(4) {
        case 0: break
        case 1: text += "e" + String(random.below(660) - 340)
        case 2: text += "E+" + String(random.below(20))
        default: text += "e-" + String(300 + random.below(40))
        }
        return text
    }

    /// An integer literal of 1 to 20 digits.
    static func randomInteger(_ random: inout SplitMix64) -> String {
        var text = random.below(4) == 0 ? "-" : ""
        text += String(1 + random.below(9))
        for _ in 0..<random.below(20) { text += String(random.below(10)) }
        return text
    }

    static func mutate(_ bytes: inout [UInt8], _ random: inout SplitMix64) {
        let position = random.below(bytes.count + 1)
        switch random.below(11) {
        case 0:  // flip a bit
            guard !bytes.isEmpty else { return }
            bytes[random.below(bytes.count)] ^= 1 << UInt8(random.below(8))
        case 1:  // replace a byte
            guard !bytes.isEmpty else { return }
            bytes[random.below(bytes.count)] = interestingBytes[random.below(interestingBytes.count)]
        case 2:  // insert a byte
            bytes.insert(interestingBytes[random.below(interestingBytes.count)], at: position)
        case 3:  // delete a byte or a run
            guard !bytes.isEmpty else { return }
            let start = random.below(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.below(8)))
        case 4:  // copy a run elsewhere
            guard !bytes.isEmpty else { return }
            let start = random.below(bytes.count)
            let run = Array(bytes[start..<min(bytes.count, start + 1 + random.below(16))])
            bytes.insert(contentsOf: run, at: random.below(bytes.count + 1))
        case 5:  // insert a token anywhere
            bytes.insert(contentsOf: randomValue(&random, depth: 3), at: position)
        case 6, 7:  // replace a member's value
            let colons = bytes.indices.filter { bytes[$0] == UInt8(ascii: ":") }
            guard let colon = colons.isEmpty ? nil : colons[random.below(colons.count)] else { return }
            var end = colon + 1
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                end += 1
                while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                    end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
                }
                end = min(bytes.count, end + 1)
            } else {
                while end < bytes.count,
                    ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[end])
                {
                    end += 1
                }
            }
            bytes.replaceSubrange((colon + 1)..<end, with: randomValue(&random))
        case 8:  // a member first, maybe repeating one that follows
            guard let brace = bytes.firstIndex(of: UInt8(ascii: "{")) else { return }
            let member =
                Array("\"\(names[random.below(names.count)])\":".utf8) + randomValue(&random) + [UInt8(ascii: ",")]
            bytes.insert(contentsOf: member, at: brace + 1)
        case 9:  // a member last, repeating one that went before
            guard let brace = bytes.lastIndex(of: UInt8(ascii: "}")) else { return }
            let member =
                [UInt8(ascii: ",")] + Array("\"\(names[random.below(names.count)])\":".utf8) + randomValue(&random)
            bytes.insert(contentsOf: member, at: brace)
        default:  // nesting around the limit
            guard let brace = bytes.firstIndex(of: UInt8(ascii: "{")) else { return }
            let depth = 60 + random.below(8)
            let open = random.below(2) == 0 ? "[" : #"{"a":"#
            let close = open == "[" ? "]" : "}"
            let member =
                "\"deep\":" + String(repeating: open, count: depth) + "0" + String(repeating: close, count: depth) + ","
            bytes.insert(contentsOf: Array(member.utf8), at: brace + 1)
        }
    }

    /// A body built member by member for one of the three kinds.
    static func generate(_ random: inout SplitMix64) -> [UInt8] {
        // Each list starts with the values of the right kind (`validCount` of them), then the wrong ones.
        let text = [
            #""""#, #""a""#, #""\u00e9\n""#, #""\ud83d\ude00""#, "\"é\"", #""\/\"\\""#, "null", "1", #""\ud800""#,
        ]
        let number =
            ["0", "-0", "-0.0", "1.5", "1e308", "5e-324", "9007199254740993", "0.1"] + numbers + [
                "null", #""1""#, "true",
            ]
        let integer = [
            "0", "1", "-1", "-0", "3", "8999999999999999", "1.0", "1e2", "9007199254740993", "9223372036854775808",
            "null", #""1""#,
        ]
        let version = ["1", "1", "1", "2", "1.0", "-0", #""1""#, "null", "01"]
        let validCount = [
            "v": 1, "challenge": 6, "solver": 6, "filename": 6, "clientId": 7, "ok": 2, "score": 9, "metrics": 3,
            "message": 7, "error": 1, "log": 7, "job": 6, "attempt": 6, "submission": 6, "sha256": 6, "scorer": 3,
            "reference": 4, "timeLimitSeconds": 8,
        ]
        let fields: [(String, [String])]
        switch random.below(3) {
        case 0:
            fields = [("v", version), ("challenge", text), ("solver", text), ("filename", text), ("clientId", text)]
        case 1:
            fields = [
                ("v", version), ("ok", ["true", "false", "null", "1", #""true""#]), ("score", number),
                (
                    "metrics",
                    [
                        "{}", #"{"a":1,"b":-0}"#, #"{"a":1,"a":2}"#, "{\"K\":1,\"\u{212A}\":2}", #"{"a":null}"#,
                        #"{"a":1e-400}"#, "null", "[]",
                    ]
                ),
                ("message", text),
                (
                    "error",
                    [
                        #"{"code":"c","message":"m"}"#, #"{"code":"c"}"#, #"{"code":"c","message":"m","code":"d"}"#,
                        "null",
                    ]
                ),
                ("log", text),
            ]
        default:
            fields = [
                ("v", version), ("job", integer), ("attempt", integer), ("challenge", text), ("submission", text),
                ("filename", text), ("sha256", text),
                (
                    "scorer",
                    [
                        "{}", #"{"builtin":"exact"}"#, #"{"plugin":"p","options":{"a":"b"},"judge":false}"#,
                        #"{"options":{"a":"b","a":"c"}}"#, #"{"judge":1}"#, "null",
                    ]
                ),
                (
                    "reference",
                    [
                        "[]", #"[{"name":"n","role":"public"}]"#,
                        #"[{"name":"n","role":"reference","sha256":"h","size":12}]"#,
                        #"[{"name":"n","role":"public","size":-0}]"#, #"[{"name":"n","role":"nope"}]"#, "null",
                    ]
                ),
                ("timeLimitSeconds", number),
            ]
        }
        // Half the bodies are well formed: every member present, of its kind, once.
        let clean = random.below(2) == 0
        var members: [String] = []
        for (name, values) in fields where clean || random.below(10) > 0 {
            func value(_ random: inout SplitMix64) -> String {
                let valid = validCount[name] ?? values.count
                if name == "score" || name == "timeLimitSeconds", random.below(2) == 0 { return randomNumber(&random) }
                if name == "job" || name == "attempt", random.below(2) == 0 { return randomInteger(&random) }
                return values[random.below(clean || random.below(4) > 0 ? valid : values.count)]
            }
            members.append("\"\(name)\":\(value(&random))")
            if !clean, random.below(12) == 0 { members.append("\"\(name)\":\(value(&random))") }  // repeated
        }
        for _ in 0..<random.below(clean ? 2 : 3) {
            let member =
                "\"\(names[random.below(names.count)])\":" + String(decoding: randomValue(&random), as: UTF8.self)
            members.insert(member, at: random.below(members.count + 1))
        }
        if members.count > 1, random.below(2) == 0 { members.shuffle(using: &random) }
        let spaces = ["", " ", "\n\t", "\r\n "]
        let space = spaces[random.below(spaces.count)]
        return Array(("{" + space + members.joined(separator: "," + space) + space + "}").utf8)
    }
}

extension SplitMix64 {
    /// A uniform-enough index below `bound` (0 when `bound` is 0 or 1).
    fileprivate mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }
}

/// An independent strict RFC 8259 checker: one value with optional surrounding whitespace; every string (names and
/// skipped values alike) must be valid UTF-8 after its escapes, with no lone surrogates and no raw control
/// characters; numbers follow the grammar (no leading zeros, NaN or Infinity); nested at most 64 levels.
enum StrictJSON {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        var checker = Checker(bytes: bytes)
        checker.whitespace()
        guard checker.value(depth: 0) else { return false }
        checker.whitespace()
        return checker.index == bytes.count
    }

    private struct Checker {
        let bytes: [UInt8]
        var index = 0

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func whitespace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func eat(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            index += 1
            return true
        }

        mutating func value(depth: Int) -> Bool {
            switch peek() {
            case UInt8(ascii: "{")?:
                guard depth < 64 else { return false }
                index += 1
                whitespace()
                if eat(UInt8(ascii: "}")) { return true }
                while true {
                    whitespace()
                    guard string() else { return false }
                    whitespace()
                    guard eat(UInt8(ascii: ":")) else { return false }
                    whitespace()
                    guard value(depth: depth + 1) else { return false }
                    whitespace()
                    if eat(UInt8(ascii: ",")) { continue }
                    return eat(UInt8(ascii: "}"))
                }
            case UInt8(ascii: "[")?:
                guard depth < 64 else { return false }
                index += 1
                whitespace()
                if eat(UInt8(ascii: "]")) { return true }
                while true {
                    whitespace()
                    guard value(depth: depth + 1) else { return false }
                    whitespace()
                    if eat(UInt8(ascii: ",")) { continue }
                    return eat(UInt8(ascii: "]"))
                }
            case UInt8(ascii: "\"")?: return string()
            case UInt8(ascii: "t")?: return word("true")
            case UInt8(ascii: "f")?: return word("false")
            case UInt8(ascii: "n")?: return word("null")
            default: return number()
            }
        }

        mutating func word(_ text: String) -> Bool {
            guard bytes[index...].starts(with: text.utf8) else { return false }
            index += text.utf8.count
            return true
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = peek(), (0x30...0x39).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() -> Bool {
            _ = eat(UInt8(ascii: "-"))
            if eat(UInt8(ascii: "0")) {
                if let byte = peek(), (0x30...0x39).contains(byte) { return false }
            } else if digits() == 0 {
                return false
            }
            if eat(UInt8(ascii: ".")), digits() == 0 { return false }
            if eat(UInt8(ascii: "e")) || eat(UInt8(ascii: "E")) {
                if !eat(UInt8(ascii: "+")) { _ = eat(UInt8(ascii: "-")) }
                if digits() == 0 { return false }
            }
            return true
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count,
                let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16),
                bytes[index..<(index + 4)].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") })
            else { return nil }
            index += 4
            return value
        }

        mutating func string() -> Bool {
            guard eat(UInt8(ascii: "\"")) else { return false }
            var text: [UInt8] = []
            while let byte = peek() {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return String(validating: text, as: UTF8.self) != nil
                case 0x00..<0x20: return false
                case UInt8(ascii: "\\"):
                    guard let escape = peek() else { return false }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        text.append(UInt8(ascii: "x"))
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return false }
                        if (0xDC00..<0xE000).contains(scalar) { return false }
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard eat(UInt8(ascii: "\\")), eat(UInt8(ascii: "u")), let low = hex4(),
                                (0xDC00..<0xE000).contains(low)
                            else { return false }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { return false }
                        text += Array(String(Character(unicode)).utf8)
                    default: return false
                    }
                default: text.append(byte)
                }
            }
            return false
        }
    }
}
