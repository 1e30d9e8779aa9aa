import Dispatch
import Foundation
import Glibc
import Testing

@testable import PumasiWorker

/// The evaluator's scoring engine: the builtin scorers on good and malformed input, and the plugin runner with
/// real subprocesses.
@Suite("Scoring")
struct ScoringTests {
    /// Scores `submission` with a builtin against a single reference file.
    static func builtin(
        _ name: String, _ submission: String, reference: String, options: [String: String] = [:]
    ) throws(ScoringFailure) -> ScoreOutcome {
        try BuiltinScorer.score(
            name: name, options: options, submission: Data(submission.utf8), reference: ["ref": Data(reference.utf8)])
    }

    /// The failure a builtin reports for `submission`, or nil if it scored it.
    static func builtinFailure(
        _ name: String, _ submission: Data, reference: String, options: [String: String] = [:]
    ) -> ScoringFailure? {
        do {
            _ = try BuiltinScorer.score(
                name: name, options: options, submission: submission, reference: ["ref": Data(reference.utf8)])
            return nil
        } catch {
            return error
        }
    }

    static func builtinFailure(
        _ name: String, _ submission: String, reference: String, options: [String: String] = [:]
    ) -> ScoringFailure? {
        builtinFailure(name, Data(submission.utf8), reference: reference, options: options)
    }
}

// MARK: - Builtin scorers

extension ScoringTests {
    @Suite("Builtin scorers")
    struct Builtins {
        /// The exact scorer's byte-level normalisation of ASCII answers gives what Foundation's CRLF replacement
        /// and trimming give, on every mix of the characters that matter.
        @Test func exactNormalisationMatchesFoundation() {
            let pieces = [
                " ", "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "a", "B", "42", "\n\r", "\u{00A0}", "é", "\u{2003}",
            ]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<2_000 {
                let text = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                    pieces.randomElement(using: &generator)!
                }
                .joined()
                let foundation = text.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(
                    in: .whitespacesAndNewlines)
                #expect(BuiltinScorer.normalised(text) == foundation, "\(Array(text.utf8))")
            }
        }

        @Test func catalogue() {
            #expect(BuiltinScorer.names == ["exact", "numeric-tolerance", "csv-accuracy", "csv-rmse", "csv-mae"])
            #expect(BuiltinScorer.higherIsBetter("exact") == true)
            #expect(BuiltinScorer.higherIsBetter("numeric-tolerance") == true)
            #expect(BuiltinScorer.higherIsBetter("csv-accuracy") == true)
            #expect(BuiltinScorer.higherIsBetter("csv-rmse") == false)
            #expect(BuiltinScorer.higherIsBetter("csv-mae") == false)
            #expect(BuiltinScorer.higherIsBetter("nope") == nil)
        }

        @Test func validation() throws {
            #expect(BuiltinScorer.validate(name: "exact", options: [:]) == nil)
            #expect(
                BuiltinScorer.validate(name: "csv-rmse", options: ["id": "k", "target": "y", "reference": "a"]) == nil)
            let unknown = try #require(BuiltinScorer.validate(name: "fuzzy", options: [:]))
            #expect(unknown.contains("\"fuzzy\""))
            let option = try #require(BuiltinScorer.validate(name: "exact", options: ["tolerance": "1"]))
            #expect(option.contains("\"tolerance\""))
            let value = try #require(BuiltinScorer.validate(name: "exact", options: ["case-sensitive": "yes"]))
            #expect(value.contains("case-sensitive"))
            let negative = try #require(BuiltinScorer.validate(name: "numeric-tolerance", options: ["relative": "-1"]))
            #expect(negative.contains("relative"))
            let text = try #require(BuiltinScorer.validate(name: "numeric-tolerance", options: ["absolute": "abc"]))
            #expect(text.contains("absolute"))
            let same = try #require(BuiltinScorer.validate(name: "csv-mae", options: ["id": "a", "target": "a"]))
            #expect(same.contains("\"a\""))
        }

        @Test func badOptionsAreReportedWhenScoring() {
            let failure = ScoringTests.builtinFailure("exact", "1", reference: "1", options: ["bogus": "x"])
            #expect(failure?.code == "bad_options")
            #expect(failure?.message.contains("bogus") == true)
            let unknown = ScoringTests.builtinFailure("nope", "1", reference: "1")
            #expect(unknown?.code == "bad_options")
            #expect(unknown?.message.contains("nope") == true)
        }

        @Test func referenceFileSelection() throws {
            let files = ["a.txt": Data("1".utf8), "b.txt": Data("2".utf8)]
            do {
                _ = try BuiltinScorer.score(name: "exact", options: [:], submission: Data("2".utf8), reference: files)
                Issue.record("expected bad_options")
            } catch {
                #expect(error.code == "bad_options")
                #expect(error.message.contains("a.txt") && error.message.contains("b.txt"))
            }
            let chosen = try BuiltinScorer.score(
                name: "exact", options: ["reference": "b.txt"], submission: Data("2".utf8), reference: files)
            #expect(chosen.score == 1)
            do {
                _ = try BuiltinScorer.score(
                    name: "exact", options: ["reference": "c.txt"], submission: Data("2".utf8), reference: files)
                Issue.record("expected bad_options")
            } catch {
                #expect(error.code == "bad_options")
                #expect(error.message.contains("c.txt"))
            }
            do {
                _ = try BuiltinScorer.score(name: "exact", options: [:], submission: Data("2".utf8), reference: [:])
                Issue.record("expected bad_reference")
            } catch {
                #expect(error.code == "bad_reference")
            }
        }

        // MARK: exact

        @Test func exactMatchesAfterTrimmingAndCRLF() throws {
            let outcome = try ScoringTests.builtin(
                "exact", "  line one\r\nline two \r\n\r\n", reference: "line one\nline two\n")
            #expect(outcome == ScoreOutcome(score: 1, metrics: ["exact": 1], message: "the answer matches", log: ""))
            let wrong = try ScoringTests.builtin("exact", "line one\nline 2", reference: "line one\nline two")
            #expect(wrong.score == 0)
            #expect(wrong.metrics == ["exact": 0])
        }

        @Test func exactCaseSensitivity() throws {
            func score(_ options: [String: String]) throws -> Double {
                try ScoringTests.builtin("exact", "PARIS", reference: "Paris", options: options).score
            }
            #expect(try score([:]) == 0)
            #expect(try score(["case-sensitive": "true"]) == 0)
            #expect(try score(["case-sensitive": "false"]) == 1)
        }

        @Test func exactRejectsEmptyBinaryAndInvalidUTF8() throws {
            let empty = try #require(ScoringTests.builtinFailure("exact", " \n\t", reference: "42"))
            #expect(empty.code == "bad_submission")
            #expect(empty.message.contains("empty"))
            let binary = try #require(ScoringTests.builtinFailure("exact", Data([0x34, 0x00, 0x32]), reference: "42"))
            #expect(binary.code == "bad_submission")
            #expect(binary.message.contains("NUL byte at offset 1"))
            let invalid = try #require(
                ScoringTests.builtinFailure("exact", Data([0x34, 0x32, 0xFF, 0xFE]), reference: "42"))
            #expect(invalid.code == "bad_submission")
            #expect(invalid.message.contains("UTF-8") && invalid.message.contains("0xFF at offset 2"))
            let noReference = try #require(ScoringTests.builtinFailure("exact", "42", reference: "  "))
            #expect(noReference.code == "bad_reference")
        }

        @Test func exactIgnoresByteOrderMark() throws {
            let submission = Data([0xEF, 0xBB, 0xBF]) + Data("42".utf8)
            let outcome = try BuiltinScorer.score(
                name: "exact", options: [:], submission: submission, reference: ["r": Data("42".utf8)])
            #expect(outcome.score == 1)
        }

        // MARK: numeric-tolerance

        @Test func numericToleranceDefaults() throws {
            let outcome = try ScoringTests.builtin(
                "numeric-tolerance", "1.0\n2.0000000001  3.5\n-4e0\n", reference: "1 2 3 -4")
            #expect(outcome.score == 0.75)
            #expect(outcome.metrics == ["within_tolerance": 0.75])
            #expect(outcome.message == "3 of 4 values within tolerance")
        }

        @Test func numericToleranceAcceptsDecimalForms() throws {
            let outcome = try ScoringTests.builtin(
                "numeric-tolerance", "+1 .5 3. -2e1 1E+2", reference: "1 0.5 3 -20 100")
            #expect(outcome.score == 1)
        }

        @Test func numericToleranceOptions() throws {
            let absolute = try ScoringTests.builtin(
                "numeric-tolerance", "1.4 2.6 10", reference: "1 2 10", options: ["absolute": "0.5"])
            #expect(absolute.score == 2.0 / 3.0)
            let relative = try ScoringTests.builtin(
                "numeric-tolerance", "105 0.5", reference: "100 1", options: ["relative": "0.05"])
            #expect(relative.score == 0.5)
            let both = try ScoringTests.builtin(
                "numeric-tolerance", "105 0.5", reference: "100 1", options: ["relative": "0.05", "absolute": "0.5"])
            #expect(both.score == 1)
        }

        @Test func numericToleranceCountMismatch() throws {
            let failure = try #require(ScoringTests.builtinFailure("numeric-tolerance", "1 2 3", reference: "1 2 3 4"))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("expected 4 values, got 3"))
            let empty = try #require(ScoringTests.builtinFailure("numeric-tolerance", "", reference: "1 2"))
            #expect(empty.code == "bad_submission")
            #expect(empty.message.contains("expected 2 values, got 0"))
        }

        @Test(arguments: ["abc", "nan", "inf", "0x10", "1e999", "1,5", "--1"])
        func numericToleranceRejectsNonNumbers(_ token: String) throws {
            let failure = try #require(
                ScoringTests.builtinFailure("numeric-tolerance", "1\n\(token) 3", reference: "1 2 3"))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("value 2 (line 2)"))
            #expect(failure.message.contains(token))
        }

        @Test func numericToleranceBadReference() throws {
            let failure = try #require(ScoringTests.builtinFailure("numeric-tolerance", "1 2", reference: "1 two"))
            #expect(failure.code == "bad_reference")
            #expect(failure.message.contains("two"))
            let empty = try #require(ScoringTests.builtinFailure("numeric-tolerance", "1", reference: "\n"))
            #expect(empty.code == "bad_reference")
        }

        // MARK: CSV

        static let labels = "id,label\n1,cat\n2,dog\n3,\"bird, small\"\n4,\"say \"\"hi\"\"\"\n"

        @Test func csvAccuracyWithQuotingCRLFAndReorderedColumns() throws {
            let submission = "label,id\r\n\"cat\",1\r\n\"say \"\"hi\"\"\",4\r\nfish,2\r\n\"bird, small\",3\r\n"
            let outcome = try ScoringTests.builtin("csv-accuracy", submission, reference: Self.labels)
            #expect(outcome.score == 0.75)
            #expect(outcome.metrics == ["accuracy": 0.75])
            #expect(outcome.message == "3 of 4 rows correct")
        }

        @Test func csvQuotedFieldsMaySpanLines() throws {
            let reference = "id,text\n1,\"two\nlines\"\n2,plain\n"
            let submission = "id,text\r\n1,\"two\nlines\"\r\n2,plain"
            #expect(try ScoringTests.builtin("csv-accuracy", submission, reference: reference).score == 1)
        }

        @Test func csvRMSEAndMAE() throws {
            let reference = "id,y\n1,1.0\n2,2.0\n3,3.0\n4,4.0\n"
            let submission = "id,y\n1,1\n2,3\n3,3\n4,2\n"
            let rmse = try ScoringTests.builtin("csv-rmse", submission, reference: reference)
            #expect(rmse.score == (5.0 / 4.0).squareRoot())
            #expect(rmse.metrics == ["rmse": (5.0 / 4.0).squareRoot()])
            let mae = try ScoringTests.builtin("csv-mae", submission, reference: reference)
            #expect(mae.score == 0.75)
            #expect(mae.metrics == ["mae": 0.75])
        }

        /// Kaggle's public and private splits: a reference column names each row's split; the score is the
        /// public split's, and both splits are metrics (`public.accuracy`, `private.accuracy`).
        @Test func csvSplitsMeasurePublicAndPrivateRowsApart() throws {
            let reference = "id,label,Usage\n1,a,Public\n2,b,Public\n3,c,Private\n4,d,Private\n5,e,Private\n"
            let submission = "id,label\n1,a\n2,x\n3,c\n4,d\n5,x\n"
            let outcome = try ScoringTests.builtin(
                "csv-accuracy", submission, reference: reference, options: ["split": "Usage"])
            #expect(outcome.score == 0.5)
            #expect(outcome.metrics == ["public.accuracy": 0.5, "private.accuracy": 2.0 / 3.0])
            #expect(outcome.message == "public split: 1 of 2 rows correct")
            let noPrivate = "id,label,Usage\n1,a,Public\n"
            #expect(throws: ScoringFailure.self) {
                try ScoringTests.builtin(
                    "csv-accuracy", "id,label\n1,a\n", reference: noPrivate, options: ["split": "Usage"])
            }
            #expect(throws: ScoringFailure.self) {
                try ScoringTests.builtin("csv-accuracy", submission, reference: reference, options: ["split": "Nope"])
            }
        }

        @Test func csvCustomColumns() throws {
            let reference = "row,truth,weight\na,1,9\nb,2,9\n"
            let submission = "weight,row,truth\n0,b,2\n0,a,3\n"
            let outcome = try ScoringTests.builtin(
                "csv-mae", submission, reference: reference, options: ["id": "row", "target": "truth"])
            #expect(outcome.score == 1)
            let byWeight = try ScoringTests.builtin(
                "csv-mae", submission, reference: reference, options: ["id": "row", "target": "weight"])
            #expect(byWeight.score == 9)
        }

        @Test func csvDuplicateID() throws {
            let failure = try #require(
                ScoringTests.builtinFailure(
                    "csv-accuracy", "id,label\n1,cat\n2,dog\n2,cow\n3,x\n4,y\n", reference: Self.labels))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("\"2\""))
            #expect(failure.message.contains("lines 3 and 4"))
        }

        @Test func csvMissingIDs() throws {
            let failure = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,label\n1,cat\n4,dog\n", reference: Self.labels))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("missing 2 of 4 ids"))
            #expect(failure.message.contains("\"2\"") && failure.message.contains("\"3\""))
        }

        @Test func csvExtraIDs() throws {
            let failure = try #require(
                ScoringTests.builtinFailure(
                    "csv-accuracy", "id,label\n1,cat\n2,dog\n3,x\n4,y\n99,z\n", reference: Self.labels))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("\"99\""))
            #expect(failure.message.contains("line 6"))
        }

        @Test func csvMissingColumns() throws {
            let submission = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,prediction\n1,cat\n", reference: Self.labels))
            #expect(submission.code == "bad_submission")
            #expect(submission.message.contains("no column \"label\""))
            let reference = try #require(
                ScoringTests.builtinFailure(
                    "csv-accuracy", "id,label\n1,cat\n", reference: Self.labels, options: ["target": "species"]))
            #expect(reference.code == "bad_reference")
            #expect(reference.message.contains("no column \"species\""))
            let single = try #require(ScoringTests.builtinFailure("csv-accuracy", "id\n1\n", reference: "id\n1\n"))
            #expect(single.code == "bad_reference")
        }

        @Test func csvNonNumericValues() throws {
            let failure = try #require(
                ScoringTests.builtinFailure("csv-rmse", "id,y\n1,1\n2,two\n", reference: "id,y\n1,1\n2,2\n"))
            #expect(failure.code == "bad_submission")
            #expect(failure.message.contains("id \"2\"") && failure.message.contains("\"two\""))
            let reference = try #require(
                ScoringTests.builtinFailure("csv-mae", "id,y\n1,1\n2,2\n", reference: "id,y\n1,1\n2,NaN\n"))
            #expect(reference.code == "bad_reference")
            #expect(reference.message.contains("id \"2\""))
        }

        @Test func csvEmptyReference() throws {
            let headerOnly = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,label\n", reference: "id,label\n"))
            #expect(headerOnly.code == "bad_reference")
            let empty = try #require(ScoringTests.builtinFailure("csv-accuracy", "id,label\n", reference: ""))
            #expect(empty.code == "bad_reference")
            #expect(empty.message.contains("empty"))
        }

        @Test func csvMalformedSubmissions() throws {
            let unterminated = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,label\n1,cat\n2,\"dog\n", reference: Self.labels))
            #expect(unterminated.code == "bad_submission")
            #expect(unterminated.message.contains("line 3, column 3"))
            #expect(unterminated.message.contains("never closed"))
            let afterQuote = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,label\n1,\"cat\"s\n", reference: Self.labels))
            #expect(afterQuote.code == "bad_submission")
            #expect(afterQuote.message.contains("line 2, column 8"))
            let fields = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,label\n1,cat\n2,dog,extra\n", reference: Self.labels))
            #expect(fields.code == "bad_submission")
            #expect(fields.message.contains("line 3") && fields.message.contains("3 fields"))
            let empty = try #require(ScoringTests.builtinFailure("csv-accuracy", "", reference: Self.labels))
            #expect(empty.code == "bad_submission")
            let binary = try #require(
                ScoringTests.builtinFailure("csv-rmse", Data([0xC3, 0x28]), reference: Self.labels))
            #expect(binary.code == "bad_submission")
        }

        @Test func csvDuplicateReferenceID() throws {
            let failure = try #require(
                ScoringTests.builtinFailure("csv-accuracy", "id,y\n1,a\n", reference: "id,y\n1,a\n1,b\n"))
            #expect(failure.code == "bad_reference")
            #expect(failure.message.contains("\"1\""))
        }

        /// Arbitrary bytes never crash a scorer: each either scores or reports a failure.
        @Test func arbitraryBytesNeverCrash() {
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func next() -> UInt64 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return state >> 33
            }
            let alphabet = Array("0123456789.,-e\"\n\r id,label ".utf8) + [0x00, 0xFF, 0xC3]
            for scorer in BuiltinScorer.names {
                for _ in 0..<150 {
                    let length = Int(next() % 40)
                    let bytes = (0..<length).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
                    let reference = scorer.hasPrefix("csv") ? Self.labels : "1 2 3"
                    _ = ScoringTests.builtinFailure(scorer, Data(bytes), reference: reference)
                    _ = ScoringTests.builtinFailure(
                        scorer, Data(reference.utf8), reference: String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }
}

// MARK: - Plugins

extension ScoringTests {
    /// A fresh temporary directory holding plugin scripts, a submission file, a reference directory and a working
    /// directory. Remove it with `remove()`.
    struct Sandbox {
        let root: String
        var submission: String { root + "/submission.txt" }
        var reference: String { root + "/reference" }
        var work: String { root + "/work" }

        init(submission contents: String = "1.5\n2.25\n") throws {
            root = NSTemporaryDirectory() + "pumasi-scoring-" + UUID().uuidString
            let manager = FileManager.default
            try manager.createDirectory(atPath: root + "/reference", withIntermediateDirectories: true)
            try manager.createDirectory(atPath: root + "/work", withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: URL(fileURLWithPath: root + "/submission.txt"))
            try Data("2\n".utf8).write(to: URL(fileURLWithPath: root + "/reference/factor.txt"))
        }

        /// Writes an executable script and returns its path.
        func script(_ name: String, _ text: String) throws -> String {
            let path = root + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            return path
        }

        func run(_ executable: String, limits: PluginLimits = PluginLimits(), environment: [String: String] = [:])
            throws(ScoringFailure) -> ScoreOutcome
        {
            try PluginRunner(executable: executable, limits: limits).run(
                submissionFile: submission, referenceDirectory: reference, workDirectory: work,
                extraEnvironment: environment)
        }

        /// The failure a run reports, or nil if it succeeded.
        func failure(
            _ executable: String, limits: PluginLimits = PluginLimits(), environment: [String: String] = [:]
        ) -> ScoringFailure? {
            do {
                _ = try run(executable, limits: limits, environment: environment)
                return nil
            } catch {
                return error
            }
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// The python3 on the plugins' search path, if there is one.
    static let python3 = ["/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Whether a python3 is on the plugins' search path.
    static let hasPython = python3 != nil

    /// Seconds since `start` on the monotonic clock.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// A fresh value for `PUMASI_TEST_MARK`, which every process of a run inherits: it finds what is left of the
    /// run whatever PID namespace the plugin's own process ids refer to.
    static func newMark() -> String {
        "mark-" + UUID().uuidString
    }

    /// Live processes (not zombies, whose environment is gone) with `PUMASI_TEST_MARK=<mark>` in their environment.
    static func marked(_ mark: String) -> [pid_t] {
        let needle = Array("PUMASI_TEST_MARK=\(mark)".utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { pid_t($0) }.filter { pid in
            let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes += chunk[..<count]
            }
            return bytes.split(separator: 0).contains { Array($0) == needle }
        }
    }

    /// Waits up to `timeout` seconds until no live process carries `mark`; returns those that still do.
    static func waitUntilNoneMarked(_ mark: String, timeout: Double = 5) -> [pid_t] {
        let start = ContinuousClock.now
        while seconds(since: start) < timeout {
            if marked(mark).isEmpty { return [] }
            _ = poll(nil, 0, 20)
        }
        return marked(mark)
    }

    @Suite("Plugin runner")
    struct Plugins {
        @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
        func goodPluginScoresFromItsArguments() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "score.py",
                """
                #!/usr/bin/env python3
                import json, os, sys
                values = [float(line) for line in open(sys.argv[1]) if line.strip()]
                factor = float(open(os.path.join(sys.argv[2], "factor.txt")).read())
                print("scoring", len(values), "values", file=sys.stderr)
                print(json.dumps({"score": sum(values) * factor, "metrics": {"count": len(values)}, "message": "ok"}))
                """)
            let outcome = try sandbox.run(plugin)
            #expect(outcome.score == 7.5)
            #expect(outcome.metrics == ["count": 2])
            #expect(outcome.message == "ok")
            #expect(outcome.log.contains("scoring 2 values"))
            #expect(outcome.log.contains("\"score\": 7.5"))
        }

        @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
        func environmentDirectoryStdinAndDescriptors() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "env.py",
                """
                #!/usr/bin/env python3
                import json, os, sys
                report = {
                    "env": {k: v for k, v in os.environ.items() if k != "LC_CTYPE"},
                    "cwd": os.getcwd(),
                    "stdin": sys.stdin.read(),
                    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                    "argv": sys.argv[1:],
                }
                json.dump(report, open("report.json", "w"))
                print('{"score": 1}')
                """)
            let outcome = try sandbox.run(plugin, environment: ["PUMASI_CHALLENGE": "c1"])
            #expect(outcome.score == 1)
            let data = try Data(contentsOf: URL(fileURLWithPath: sandbox.work + "/report.json"))
            let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let environment = try #require(report["env"] as? [String: String])
            #expect(
                environment == [
                    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": sandbox.work, "TMPDIR": sandbox.work,
                    "LANG": "C.UTF-8", "PUMASI_CHALLENGE": "c1",
                ])
            #expect(report["cwd"] as? String == sandbox.work)
            #expect(report["stdin"] as? String == "")
            #expect(report["argv"] as? [String] == [sandbox.submission, sandbox.reference])
            // 0, 1, 2 and the descriptor listdir itself opened: nothing leaked from the worker.
            #expect((report["fds"] as? [Int])?.count == 4)
        }

        @Test(.timeLimit(.minutes(1)))
        func nonZeroExitReportsStatusAndStderr() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "fail.sh", "#!/bin/sh\necho 'some progress'\necho 'reference mismatch in row 7' >&2\nexit 3\n")
            let failure = try #require(sandbox.failure(plugin))
            #expect(failure.code == "plugin_exit")
            #expect(failure.message.contains("status 3"))
            #expect(failure.message.contains("reference mismatch in row 7"))
            #expect(failure.log.contains("reference mismatch in row 7"))
            #expect(failure.log.contains("some progress"))
        }

        @Test(.timeLimit(.minutes(1)))
        func garbageOutput() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("garbage.sh", "#!/bin/sh\necho 'the score is high'\n")
            let failure = try #require(sandbox.failure(plugin))
            #expect(failure.code == "plugin_output")
            #expect(failure.message.contains("not JSON"))
            #expect(failure.message.contains("the score is high"))
            #expect(failure.log.contains("the score is high"))
        }

        @Test(.timeLimit(.minutes(1)))
        func nonNumericScore() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("string.sh", "#!/bin/sh\necho '{\"score\":\"x\"}'\n")
            let failure = try #require(sandbox.failure(plugin))
            #expect(failure.code == "plugin_output")
            #expect(failure.message.contains("no numeric \"score\""))
        }

        @Test(.timeLimit(.minutes(1)))
        func invalidScoreDocuments() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let cases: [(output: String, expected: String)] = [
                ("", "stdout is empty"),
                ("{\"score\": NaN}", "score is NaN"),
                ("{\"points\": 3}", "no numeric \"score\" field"),
                ("[1, 2]", "not an object"),
                ("{\"score\": 1, \"metrics\": {\"f1\": \"high\"}}", "metric \"f1\""),
                ("{\"score\": 1, \"metrics\": [1]}", "\"metrics\""),
                ("{\"score\": 1, \"message\": 5}", "\"message\""),
                ("{\"score\": 1", "not JSON"),
            ]
            for (index, item) in cases.enumerated() {
                let plugin = try sandbox.script("case\(index).sh", "#!/bin/sh\nprintf '%s\\n' '\(item.output)'\n")
                let failure = try #require(sandbox.failure(plugin), "\(item.output)")
                #expect(failure.code == "plugin_output", "\(item.output)")
                #expect(failure.message.contains(item.expected), "\(item.output): \(failure.message)")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func lastLineMayHoldTheScore() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "chatty.sh", "#!/bin/sh\necho 'loading model'\necho '{\"score\": 0.25, \"message\": \"fine\"}'\n\n")
            let outcome = try sandbox.run(plugin)
            #expect(outcome.score == 0.25)
            #expect(outcome.message == "fine")
        }

        @Test(.timeLimit(.minutes(1)))
        func hangingPluginTimesOutAndIsKilled() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("hang.sh", "#!/bin/sh\necho 'about to hang' >&2\nexec sleep 30\n")
            let mark = ScoringTests.newMark()
            let start = ContinuousClock.now
            let failure = try #require(
                sandbox.failure(plugin, limits: PluginLimits(wallSeconds: 1), environment: ["PUMASI_TEST_MARK": mark]))
            #expect(ScoringTests.seconds(since: start) < 10)
            #expect(failure.code == "plugin_timeout")
            #expect(failure.message.contains("timed out after 1.0 s"))
            #expect(failure.log.contains("about to hang"))
            #expect(ScoringTests.waitUntilNoneMarked(mark) == [])
        }

        @Test(.timeLimit(.minutes(1)))
        func backgroundChildrenAreKilledWithTheGroup() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("fork.sh", "#!/bin/sh\nsleep 30 &\nsleep 31 &\nwait\n")
            let mark = ScoringTests.newMark()
            let start = ContinuousClock.now
            let failure = try #require(
                sandbox.failure(plugin, limits: PluginLimits(wallSeconds: 1), environment: ["PUMASI_TEST_MARK": mark]))
            #expect(ScoringTests.seconds(since: start) < 10)
            #expect(failure.code == "plugin_timeout")
            #expect(ScoringTests.waitUntilNoneMarked(mark) == [])
        }

        @Test(.timeLimit(.minutes(1)))
        func orphanHoldingStdoutDoesNotDelayAScore() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("orphan.sh", "#!/bin/sh\nsleep 30 &\necho '{\"score\": 4}'\n")
            let mark = ScoringTests.newMark()
            let start = ContinuousClock.now
            let outcome = try sandbox.run(
                plugin, limits: PluginLimits(wallSeconds: 20), environment: ["PUMASI_TEST_MARK": mark])
            #expect(ScoringTests.seconds(since: start) < 5)
            #expect(outcome.score == 4)
            #expect(ScoringTests.waitUntilNoneMarked(mark) == [])
        }

        @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
        func memoryLimitStopsAHugeAllocation() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "hog.py",
                "#!/usr/bin/env python3\nblock = bytearray(2 * 1024**3)\nprint('{\"score\": %d}' % len(block))\n")
            let failure = try #require(sandbox.failure(plugin, limits: PluginLimits(memoryBytes: 256 << 20)))
            #expect(["plugin_exit", "plugin_crashed"].contains(failure.code))
            if failure.code == "plugin_exit" {
                #expect(failure.message.contains("MemoryError"))
                #expect(failure.message.contains("256 MiB"))
            }
        }

        @Test(.timeLimit(.minutes(1)), .enabled(if: ScoringTests.hasPython))
        func cpuLimitIsNamed() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("spin.py", "#!/usr/bin/env python3\nwhile True:\n    pass\n")
            let failure = try #require(sandbox.failure(plugin, limits: PluginLimits(wallSeconds: 20, cpuSeconds: 1)))
            #expect(failure.code == "plugin_crashed")
            #expect(failure.message.contains("CPU time limit of 1 s"))
        }

        @Test(.timeLimit(.minutes(1)))
        func fileSizeLimitIsNamed() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("big.sh", "#!/bin/sh\nexec head -c 3000000 /dev/zero > big.bin\n")
            let failure = try #require(sandbox.failure(plugin, limits: PluginLimits(fileSizeBytes: 1 << 20)))
            #expect(failure.code == "plugin_crashed")
            #expect(failure.message.contains("SIGXFSZ"))
        }

        @Test(.timeLimit(.minutes(1)))
        func crashNamesTheSignal() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("segv.sh", "#!/bin/sh\necho 'oops' >&2\nkill -SEGV $$\n")
            let failure = try #require(sandbox.failure(plugin))
            #expect(failure.code == "plugin_crashed")
            #expect(failure.message.contains("SIGSEGV (11)"))
            #expect(failure.message.contains("oops"))
        }

        @Test(.timeLimit(.minutes(1)))
        func floodedStdoutIsTruncated() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "flood.sh", "#!/bin/sh\nhead -c 10000000 /dev/zero | tr '\\0' x\necho 'done' >&2\n")
            let start = ContinuousClock.now
            let failure = try #require(sandbox.failure(plugin))
            #expect(ScoringTests.seconds(since: start) < 10)
            #expect(failure.code == "plugin_output")
            #expect(failure.message.contains("10000000 bytes"))
            #expect(failure.log.contains("[… 9934464 bytes truncated]"))
            #expect(failure.log.contains("done"))
            #expect(failure.log.utf8.count < 2 * 65_536 + 500)
        }

        @Test(.timeLimit(.minutes(1)))
        func scoreAfterFloodIsRead() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script(
                "flood.sh", "#!/bin/sh\nhead -c 10000000 /dev/zero | tr '\\0' x\necho\necho '{\"score\": 2}'\n")
            let outcome = try sandbox.run(plugin, limits: PluginLimits(outputBytes: 1000))
            #expect(outcome.score == 2)
            #expect(outcome.log.contains("bytes truncated"))
            #expect(outcome.log.utf8.count < 1500)
        }

        @Test(.timeLimit(.minutes(1)))
        func missingExecutable() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let path = sandbox.root + "/no-such-plugin"
            let failure = try #require(sandbox.failure(path))
            #expect(failure.code == "plugin_start")
            #expect(failure.message.contains(path))
            #expect(failure.message.contains("does not exist"))
            let bare = try #require(sandbox.failure("no-such-plugin-\(UUID().uuidString)"))
            #expect(bare.code == "plugin_start")
            #expect(bare.message.contains("not found"))
        }

        @Test(.timeLimit(.minutes(1)))
        func nonExecutableFile() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let path = try sandbox.script("plain.sh", "#!/bin/sh\necho '{\"score\": 1}'\n")
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
            let failure = try #require(sandbox.failure(path))
            #expect(failure.code == "plugin_start")
            #expect(failure.message.contains("not executable"))
        }

        @Test(.timeLimit(.minutes(1)))
        func missingWorkDirectory() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("ok.sh", "#!/bin/sh\necho '{\"score\": 1}'\n")
            do {
                _ = try PluginRunner(executable: plugin).run(
                    submissionFile: sandbox.submission, referenceDirectory: sandbox.reference,
                    workDirectory: sandbox.root + "/absent")
                Issue.record("expected plugin_start")
            } catch {
                #expect(error.code == "plugin_start")
                #expect(error.message.contains("absent"))
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func concurrentRunsAreIndependent() throws {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            let plugin = try sandbox.script("echo.sh", "#!/bin/sh\necho \"{\\\"score\\\": $PUMASI_N}\"\n")
            let results = NSLock()
            nonisolated(unsafe) var scores: [Int: Double] = [:]
            DispatchQueue.concurrentPerform(iterations: 8) { index in
                let score = try? sandbox.run(plugin, environment: ["PUMASI_N": "\(index)"]).score
                results.withLock { scores[index] = score }
            }
            #expect(scores == Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, Double($0)) }))
        }
    }
}
