import Foundation
import Glibc

/// Runs a Codabench or CodaLab scoring program, unmodified, on one submission, and reads its scores.
///
/// The program is a directory installed on the evaluator host, with a `metadata.yaml` or `metadata` file whose
/// `command` runs it (`python3 $program/score.py $input $output`). Each run gets a working directory laid out as
/// Codabench lays out its scoring container, with the command's variables replaced by these paths:
///
/// | path | what | variables |
/// |---|---|---|
/// | `program/` | a fresh copy of the program directory; the run's current directory | `$program` |
/// | `input/` | | `$input` |
/// | `input/ref/` | the reference files; a `.zip` is unpacked in their place | `$hidden` |
/// | `input/res/` | the submission: a `.zip` is unpacked, any other file kept under its name | `$predictions` |
/// | `output/` | where the program writes `scores.json` or `scores.txt` | `$output`, `$tmp` |
/// | `shared/` | an empty directory | `$shared` |
/// | `home/` | `HOME` and `TMPDIR` | |
///
/// The command is split into words as Codabench's container engine splits it and run directly, without a shell,
/// through `PluginRunner`: the same limits, isolation, clean environment (plus `PYTHONUNBUFFERED=1`, as
/// Codabench sets) and failures as any plugin. A command starting with `python` runs `python3` where this host has
/// no `python`. After a clean exit the scores are read by `CodabenchScores`.
///
/// Thread rule: a runner holds only immutable values; any number of threads may call `run` at once.
public struct CodabenchRunner: Sendable {
    /// The installed program directory.
    public let programDirectory: String
    public let limits: PluginLimits
    /// The scores-file entry that is the score (the `score-key` option), if the challenge names one.
    public let scoreKey: String?
    /// Caps on unpacking a zip submission or reference file.
    let archiveLimits: ZipArchive.Limits
    /// The containment runs get: `PluginRunner.isolation` unless a test asks for another.
    let sandbox: PluginIsolation

    /// Creates a runner.
    /// - Parameters:
    ///   - programDirectory: the program's directory (relative paths are resolved against the current directory).
    ///   - limits: resource limits for each run.
    ///   - scoreKey: the scores-file entry that is the score; nil for `score`, or else the first entry.
    public init(programDirectory: String, limits: PluginLimits = PluginLimits(), scoreKey: String? = nil) {
        self.init(
            programDirectory: programDirectory, limits: limits, scoreKey: scoreKey, archiveLimits: ZipArchive.Limits(),
            isolation: PluginIsolation.current)
    }

    init(
        programDirectory: String, limits: PluginLimits, scoreKey: String?, archiveLimits: ZipArchive.Limits,
        isolation: PluginIsolation
    ) {
        self.programDirectory = PluginRunner.absolute(programDirectory)
        self.limits = limits
        self.scoreKey = scoreKey
        self.archiveLimits = archiveLimits
        self.sandbox = isolation
    }

    /// Lays out `workDirectory`, runs the program once, and reads its scores.
    /// - Parameters:
    ///   - submissionFile: the solver's file, under its submitted name.
    ///   - referenceDirectory: the challenge's reference files by name.
    ///   - workDirectory: an existing, empty directory the caller created (and removes).
    ///   - extraEnvironment: further environment variables.
    /// - Throws: `plugin_start` (no metadata, no command, a program that cannot be found), `bad_submission` or
    ///   `bad_reference` (a `.zip` that cannot be unpacked), `evaluator_error` (the layout could not be written),
    ///   or any failure of `PluginRunner` and `CodabenchScores`.
    public func run(
        submissionFile: String, referenceDirectory: String, workDirectory: String,
        extraEnvironment: [String: String] = [:]
    ) throws(ScoringFailure) -> ScoreOutcome {
        guard PluginRunner.fileType(programDirectory) == S_IFDIR else {
            throw PluginRunner.startFailure(
                "the scoring program \(programDirectory) is not a directory (a Codabench or CodaLab program is a "
                    + "directory with a metadata.yaml or metadata file)")
        }
        let metadata = try CodabenchMetadata.load(programDirectory: programDirectory)
        let work = PluginRunner.absolute(workDirectory)
        guard PluginRunner.fileType(work) == S_IFDIR else {
            throw PluginRunner.startFailure("the working directory \(work) does not exist or is not a directory")
        }
        let layout = Layout(root: work)
        try layout.create(program: programDirectory)
        let placement = CodabenchPlacement(archiveLimits: archiveLimits)
        try placement.placeFiles(
            of: PluginRunner.absolute(referenceDirectory), into: layout.reference, role: .reference)
        try placement.place(PluginRunner.absolute(submissionFile), into: layout.predictions, role: .submission)

        let words: [String]
        do {
            words = try CodabenchMetadata.words(metadata.command, variables: layout.variables)
        } catch {
            throw PluginRunner.startFailure("\(programDirectory)/\(metadata.file): \(error.message)")
        }
        guard let first = words.first else {
            throw PluginRunner.startFailure("\(programDirectory)/\(metadata.file): the command has no words")
        }
        let program = try resolve(first, in: layout.program, metadata: metadata)
        return try PluginRunner(executable: program, limits: limits, isolation: sandbox).execute(
            program: program, arguments: Array(words.dropFirst()), directory: layout.program, home: layout.home,
            extraEnvironment: ["PYTHONUNBUFFERED": "1"].merging(extraEnvironment) { _, extra in extra }
        ) { _, log throws(ScoringFailure) in
            var outcome = try CodabenchScores.outcome(outputDirectory: layout.output, scoreKey: scoreKey, log: log)
            outcome.detailedResults = ProgramRun.detailedResults(in: layout.output)
            return outcome
        }
    }

    /// The absolute path of the command's program, found as `PluginRunner` finds a plugin (a relative path is
    /// taken from the program's directory), with `python3` standing in for a missing `python`.
    private func resolve(_ name: String, in directory: String, metadata: CodabenchMetadata) throws(ScoringFailure)
        -> String
    {
        func runner(_ executable: String) -> PluginRunner {
            PluginRunner(executable: executable, limits: limits, isolation: sandbox)
        }
        do {
            return try runner(name).resolvedExecutable(relativeTo: directory)
        } catch {
            if name == "python", let python3 = try? runner("python3").resolvedExecutable() {
                return python3
            }
            throw ScoringFailure(
                code: error.code, message: "the command of \(programDirectory)/\(metadata.file): \(error.message)")
        }
    }

    /// The directories of one run, below its working directory.
    struct Layout {
        var root: String
        var program: String { root + "/program" }
        var input: String { root + "/input" }
        var reference: String { root + "/input/ref" }
        var predictions: String { root + "/input/res" }
        var output: String { root + "/output" }
        var shared: String { root + "/shared" }
        var home: String { root + "/home" }

        /// The command's variables, in the order Codabench replaces them (`$input` before the rest).
        var variables: [(String, String)] {
            [
                ("$input", input), ("$output", output), ("$program", program), ("$hidden", reference),
                ("$shared", shared), ("$tmp", output), ("$predictions", predictions),
            ]
        }

        /// Copies the program and makes the empty directories.
        func create(program source: String) throws(ScoringFailure) {
            do {
                try FileManager.default.copyItem(atPath: source, toPath: program)
                for directory in [reference, predictions, output, shared, home] {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
            } catch {
                throw ScoringFailure(
                    code: "evaluator_error",
                    message: "could not lay out the scoring program's working directory: \(error)")
            }
        }
    }
}
