import Foundation
import Glibc
import PumasiShared

/// Runs a challenge's own Codabench or CodaLab programs on one submission, as Codabench's compute worker does: an
/// ingestion program first, if the challenge has one, which runs the submission's code on the input data; then the
/// scoring program on its predictions (or on the submission itself, a result submission) and the reference data.
///
/// The programs and data are reference files of the challenge (`ScorerSpec.program`, `ingestion`), fetched with
/// the job. Each run sees its directories at Codabench's `/app` paths, and its command's variables are replaced as
/// Codabench replaces them:
///
/// | run | `/app/program` | reads | writes (`/app/output`) | variables |
/// |---|---|---|---|---|
/// | ingestion | the ingestion program | `/app/input_data`, `/app/ingested_program` (the submission) | predictions | `$input`, `$output`, `$ingestion_program`, `$submission_program`, `$shared` |
/// | scoring | the scoring program | `/app/input/ref` (reference data), `/app/input/res` (predictions) | scores | `$input`, `$output`, `$program`, `$hidden`, `$predictions`, `$shared` |
///
/// The ingestion never sees the reference data: on a host it is not laid out until the ingestion has ended, and in
/// an environment it is never mounted. After the ingestion, `input/res/metadata` holds `elapsedTime` (seconds), as
/// Codabench's worker writes it. The solver sees the ingestion's outcome and the last `showLog` lines of its
/// output, never more. A `detailed_results.html` (or else the first HTML file) the scoring program writes is kept.
///
/// Thread rule: an immutable value; any thread may call `run`.
struct ProgramRun: Sendable {
    let scorer: ScorerSpec
    /// The scoring program's limits (the job's time limit); the ingestion's follow from them and its spec.
    let limits: PluginLimits
    let executor: ProgramExecutor
    let placement: CodabenchPlacement

    /// The most bytes of detailed results kept.
    static let detailedResultsLimit = 1 << 20

    /// Lays out `work` (an existing, empty directory), runs the programs, and reads the scores.
    /// - Parameters:
    ///   - submissionFile: the solver's file (or a canary), under its submitted name.
    ///   - files: the job's reference files by name, at their places on disk.
    ///   - environment: further environment variables for both runs.
    func run(
        submissionFile: String, files: [String: String], work: String, environment: [String: String] = [:]
    ) throws(ScoringFailure) -> ScoreOutcome {
        guard let programName = scorer.program else { throw .badOptions("the scorer names no program") }
        let layout = Layout(root: work)
        try layout.create()
        try unpackProgram(programName, files: files, into: layout.scoringProgram, what: "scoring program")
        let variables = ["PYTHONUNBUFFERED": "1"].merging(environment) { _, extra in extra }

        var ingestionLog = ""
        if let ingestion = scorer.ingestion, try isCode(submissionFile, under: ingestion, layout: layout) {
            ingestionLog = try ingest(
                ingestion, submissionFile: submissionFile, files: files, layout: layout, environment: variables)
        } else {
            try placement.place(submissionFile, into: layout.predictions, role: .submission)
        }
        let programFiles = Set(scorer.programFiles)
        for (name, path) in files.sorted(by: { $0.key < $1.key }) where !programFiles.contains(name) {
            try placement.place(path, named: name, into: layout.reference, role: .reference)
        }

        let metadata = try Self.metadata(of: layout.scoringProgram, what: "scoring program")
        let words = try Self.words(metadata, variables: Self.scoringVariables, what: "scoring program")
        let mounts = [
            ProgramMount(name: "program", source: layout.scoringProgram, writable: true),
            ProgramMount(name: "input", source: layout.input, writable: false),
            ProgramMount(name: "output", source: layout.output, writable: true),
            ProgramMount(name: "shared", source: layout.shared, writable: true),
        ]
        let log: String
        do {
            log = try executor.run(
                words, mounts: mounts, directory: "program", home: layout.home, limits: limits, environment: variables)
        } catch {
            throw ScoringFailure(code: error.code, message: error.message, log: Self.joined(ingestionLog, error.log))
        }
        let combined = Self.joined(ingestionLog, log)
        var outcome = try CodabenchScores.outcome(
            outputDirectory: layout.output, scoreKey: scorer.scoreKey, log: combined)
        outcome.detailedResults = Self.detailedResults(in: layout.output)
        return outcome
    }

    /// Runs the ingestion program on the submission's code; returns the part of its output the solver may see.
    private func ingest(
        _ ingestion: IngestionSpec, submissionFile: String, files: [String: String], layout: Layout,
        environment: [String: String]
    ) throws(ScoringFailure) -> String {
        try unpackProgram(ingestion.program, files: files, into: layout.ingestionProgram, what: "ingestion program")
        for name in ingestion.input ?? [] {
            guard let path = files[name] else {
                throw .badReference("the input data \(name) did not come with the job")
            }
            try placement.place(path, named: name, into: layout.inputData, role: .reference)
        }
        let metadata = try Self.metadata(of: layout.ingestionProgram, what: "ingestion program")
        let words = try Self.words(metadata, variables: Self.ingestionVariables, what: "ingestion program")
        var ingestionLimits = limits
        if let seconds = ingestion.timeLimitSeconds {
            ingestionLimits.wallSeconds = seconds
            ingestionLimits.cpuSeconds = max(1, Int(seconds.rounded(.up)))
        }
        if let memory = ingestion.memoryMiB { ingestionLimits.memoryBytes = memory << 20 }
        let mounts = [
            ProgramMount(name: "program", source: layout.ingestionProgram, writable: true),
            ProgramMount(name: "ingested_program", source: layout.ingestedProgram, writable: true),
            ProgramMount(name: "input_data", source: layout.inputData, writable: false),
            ProgramMount(name: "output", source: layout.predictions, writable: true),
            ProgramMount(name: "shared", source: layout.shared, writable: true),
        ]
        let started = Date()
        let shown = ingestion.showLog ?? 0
        do {
            let log = try executor.run(
                words, mounts: mounts, directory: "program", home: layout.home, limits: ingestionLimits,
                environment: environment)
            let elapsed = Date().timeIntervalSince(started)
            try Self.writeElapsedTime(elapsed, into: layout.predictions)
            return Self.shown(log, lines: shown, heading: "ingestion: finished in \(Self.seconds(elapsed)) s")
        } catch {
            // The submission's code failed, ran out of time or memory: the solver's fault, told as the ingestion's.
            guard error.code != ScoringFailure.pluginStart else {
                throw ScoringFailure(
                    code: error.code, message: "ingestion program: \(error.message)",
                    log: Self.shown(error.log, lines: shown, heading: "ingestion: could not start"))
            }
            throw ScoringFailure(
                code: ScoringFailure.badSubmission,
                message: "the ingestion program failed on this submission: \(error.message)",
                log: Self.shown(error.log, lines: shown, heading: "ingestion: failed"))
        }
    }

    /// Unpacks the submission as code for the ingestion, and says whether it is code: always, unless the ingestion
    /// accepts results and the submission holds no metadata file, in which case it goes to the predictions instead.
    private func isCode(_ submissionFile: String, under ingestion: IngestionSpec, layout: Layout) throws(ScoringFailure)
        -> Bool
    {
        try placement.place(submissionFile, into: layout.ingestedProgram, role: .submission)
        guard ingestion.acceptsResults == true,
            !CodabenchMetadata.fileNames.contains(where: {
                PluginRunner.fileType(layout.ingestedProgram + "/" + $0) == S_IFREG
            })
        else { return true }
        do {
            try FileManager.default.removeItem(atPath: layout.predictions)
            try FileManager.default.moveItem(atPath: layout.ingestedProgram, toPath: layout.predictions)
            try FileManager.default.createDirectory(atPath: layout.ingestedProgram, withIntermediateDirectories: true)
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not lay out a result submission: \(error)")
        }
        return false
    }

    /// Unpacks a program's reference file into `directory`; a zip whose files sit in one top-level folder is
    /// taken from that folder.
    private func unpackProgram(_ name: String, files: [String: String], into directory: String, what: String)
        throws(ScoringFailure)
    {
        guard let path = files[name] else { throw .badReference("the \(what) \(name) did not come with the job") }
        try placement.place(path, named: name, into: directory, role: .reference)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let visible = entries.filter { !$0.hasPrefix(".") && $0 != "__MACOSX" }
        guard !CodabenchMetadata.fileNames.contains(where: { entries.contains($0) }), visible.count == 1,
            PluginRunner.fileType(directory + "/" + visible[0]) == S_IFDIR
        else { return }
        // One folder: its contents become the program's directory.
        let inner = directory + "/" + visible[0]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: inner)) ?? [] {
            _ = rename(inner + "/" + entry, directory + "/" + entry)
        }
    }

    private static func metadata(of directory: String, what: String) throws(ScoringFailure) -> CodabenchMetadata {
        do {
            return try CodabenchMetadata.load(programDirectory: directory)
        } catch {
            throw ScoringFailure(code: error.code, message: "\(what): \(error.message)", log: error.log)
        }
    }

    private static func words(_ metadata: CodabenchMetadata, variables: [(String, String)], what: String)
        throws(ScoringFailure) -> [String]
    {
        let words: [String]
        do {
            words = try CodabenchMetadata.words(metadata.command, variables: variables)
        } catch {
            throw PluginRunner.startFailure("the \(what)'s \(metadata.file): \(error.message)")
        }
        guard !words.isEmpty else { throw PluginRunner.startFailure("the \(what)'s \(metadata.file): no command") }
        return words
    }

    /// Codabench's variables for an ingestion run, in its order.
    static let ingestionVariables: [(String, String)] = [
        ("$input", "/app/input_data"), ("$output", "/app/output"), ("$program", "/app/program"),
        ("$ingestion_program", "/app/program"), ("$hidden", "/app/input/ref"), ("$shared", "/app/shared"),
        ("$submission_program", "/app/ingested_program"), ("$tmp", "/app/output"), ("$predictions", "/app/output"),
    ]

    /// Codabench's variables for a scoring run, in its order.
    static let scoringVariables: [(String, String)] = [
        ("$input", "/app/input"), ("$output", "/app/output"), ("$program", "/app/program"),
        ("$ingestion_program", "/app/program"), ("$hidden", "/app/input/ref"), ("$shared", "/app/shared"),
        ("$submission_program", "/app/ingested_program"), ("$tmp", "/app/output"), ("$predictions", "/app/input/res"),
    ]

    /// `metadata` in the predictions, with `elapsedTime` as Codabench's worker writes it (unless the ingestion
    /// wrote a `metadata` file of its own, which is left as it is).
    static func writeElapsedTime(_ seconds: Double, into directory: String) throws(ScoringFailure) {
        let path = directory + "/metadata"
        guard PluginRunner.fileType(path) == nil else { return }
        do {
            try Data("elapsedTime: \(seconds)\n".utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ScoringFailure(code: "evaluator_error", message: "could not write \(path): \(error)")
        }
    }

    /// The heading and the last `lines` lines of `log`.
    static func shown(_ log: String, lines: Int, heading: String) -> String {
        guard lines > 0 else { return heading + " (its output is not shown)" }
        let all = log.split(separator: "\n", omittingEmptySubsequences: false)
        let tail = all.suffix(lines).joined(separator: "\n")
        let cut = all.count > lines ? " (its last \(lines) lines)" : ""
        return heading + cut + "\n" + tail
    }

    static func joined(_ ingestion: String, _ scoring: String) -> String {
        ingestion.isEmpty ? scoring : ingestion + "\n== scoring program ==\n" + scoring
    }

    static func seconds(_ value: Double) -> String { String(format: "%.2f", value) }

    /// The scoring program's detailed results: `detailed_results.html`, or the first HTML file by name.
    static func detailedResults(in directory: String) -> String? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let html = names.filter { $0.lowercased().hasSuffix(".html") || $0.lowercased().hasSuffix(".htm") }
        guard let name = html.contains("detailed_results.html") ? "detailed_results.html" : html.first,
            let handle = FileHandle(forReadingAtPath: directory + "/" + name)
        else { return nil }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: detailedResultsLimit)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The directories of one job, below its working directory.
    struct Layout {
        var root: String
        var scoringProgram: String { root + "/scoring_program" }
        var ingestionProgram: String { root + "/ingestion_program" }
        var inputData: String { root + "/input_data" }
        var ingestedProgram: String { root + "/ingested_program" }
        var input: String { root + "/input" }
        var reference: String { root + "/input/ref" }
        var predictions: String { root + "/input/res" }
        var output: String { root + "/output" }
        var shared: String { root + "/shared" }
        var home: String { root + "/home" }

        func create() throws(ScoringFailure) {
            do {
                for directory in [
                    scoringProgram, ingestionProgram, inputData, ingestedProgram, reference, predictions, output,
                    shared, home,
                ] {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
            } catch {
                throw ScoringFailure(
                    code: "evaluator_error", message: "could not lay out the programs' working directory: \(error)")
            }
        }
    }
}
