import Foundation
import Glibc
import PumasiShared

/// A Codabench bundle as a Pumasi challenge (`pumasi post --bundle`): its phases, their programs and data, its
/// leaderboard's first column, limits, terms, pages and image.
///
/// | bundle | challenge |
/// |---|---|
/// | title, description, pages | title; the description followed by each page under its title |
/// | terms | the agreement solvers accept (`licence` unless the seeker says otherwise) |
/// | the image (`docker_image`, `competition_docker_image`) | each scorer's `environment` |
/// | a phase's scoring program, ingestion program, input and reference data | its scorer (`program`, `ingestion`), its reference files |
/// | public data, starting kit | public files |
/// | the first leaderboard column | the score (`score-key`) and the direction (`desc`: maximize) |
/// | `execution_time_limit`, `max_submissions`, `max_submissions_per_day` | the time limit (the largest), each phase's limits |
/// | phase ends | phase ends, when they are still to come; else the seeker's deadline and phase ends |
///
/// Program and data folders are packed as zip archives (`ZipWriter`), named after their path in the bundle.
/// A v1 (CodaLab) bundle's ingestion runs only submissions that hold a metadata file; others are results, as there.
extension CodabenchBundle {
    /// What the seeker adds to the bundle.
    struct PostOptions {
        var award: AwardSpec
        /// The deadline, when the bundle's own phase ends have passed or are missing.
        var deadline: Millis?
        /// Each phase's end, in order, instead of the bundle's (the last is the deadline).
        var phaseEnds: [Millis]?
        /// The environment to run in, instead of the bundle's image.
        var environment: String?
        /// Run on evaluators' own hosts (`evaluate --programs`), whatever image the bundle names.
        var onHost = false
        /// How many of the ingestion's last output lines solvers see.
        var ingestionLog: Int?
        var agreementKind: AgreementKind = .licence
        /// Canary submissions: a local file, what it must give, and the phase (1, 2, …) whose scorer checks it.
        var canaries: [(path: String, canary: CanarySpec, phase: Int)] = []
        var now: Millis
    }

    /// The spec and the file frames to post, with notes for the seeker on what was decided for them.
    struct Posting {
        var spec: ChallengeSpec
        var files: [Data]
        var notes: [String]
    }

    func posting(_ options: PostOptions) throws(Failure) -> Posting {
        guard !phases.isEmpty else { throw Failure(message: "the bundle has no phases") }
        guard phases.count <= PhaseSpec.maxPhases else {
            throw Failure(
                message: "the bundle has \(phases.count) phases; a challenge has at most \(PhaseSpec.maxPhases)")
        }
        var notes: [String] = []
        var entries: [FileEntry] = []
        var frames: [Data] = []
        var named: [String: String] = [:]
        /// The file holding a bundle path: the path itself, or its folder packed as a zip.
        func file(_ path: String, role: FileRole) throws(Failure) -> String {
            // One entry per path and role: a bundle may publish the very data its ingestion reads (CodaLab's
            // `public_data`).
            let key = role.rawValue + ":" + path
            if let name = named[key] { return name }
            let absolute = root + "/" + path
            let isDirectory = PluginRunner.fileType(absolute) == S_IFDIR
            var name = path.replacingOccurrences(of: "/", with: "_")
            if isDirectory { name += ".zip" }
            let data: Data
            if isDirectory {
                do {
                    data = try ZipWriter.archive(directory: absolute)
                } catch {
                    throw Failure(message: "could not pack \(path): \(error.message)")
                }
            } else {
                guard let bytes = FileManager.default.contents(atPath: absolute) else {
                    throw Failure(message: "could not read \(path) in the bundle")
                }
                data = bytes
            }
            named[key] = name
            entries.append(FileEntry(name: name, role: role))
            frames.append(data)
            return name
        }

        let primary = leaderboard.first
        if primary == nil { notes.append("the bundle has no leaderboard column: the scores file's first entry ranks") }
        let environment = options.onHost ? nil : options.environment ?? dockerImage
        if let environment, !ScorerSpec.isEnvironmentName(environment) {
            throw Failure(message: "the image \(environment) is not a name an evaluator can advertise")
        }
        var phaseSpecs: [PhaseSpec] = []
        var scorers: [ScorerSpec] = []
        for (index, phase) in phases.enumerated() {
            guard let program = phase.scoringProgram else {
                throw Failure(message: "phase \(index + 1) (\(phase.name)) has no scoring program")
            }
            var scorer = ScorerSpec()
            scorer.program = try file(program, role: .reference)
            scorer.environment = environment
            if let key = primary?.key { scorer.options = [ScorerFormat.scoreKeyOption: key] }
            if let ingestion = phase.ingestionProgram {
                var spec = IngestionSpec(
                    program: try file(ingestion, role: .reference), showLog: options.ingestionLog)
                if let input = phase.inputData { spec.input = [try file(input, role: .reference)] }
                if version == 1 { spec.acceptsResults = true }
                scorer.ingestion = spec
            }
            for (path, canary, number) in options.canaries where number == index + 1 {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw Failure(message: "could not read the canary \(path)")
                }
                var canary = canary
                canary.file = "canary_" + (path as NSString).lastPathComponent
                if named["canary:" + canary.file] == nil {
                    named["canary:" + canary.file] = canary.file
                    entries.append(FileEntry(name: canary.file, role: .reference))
                    frames.append(data)
                }
                scorer.canaries = (scorer.canaries ?? []) + [canary]
            }
            if let publicData = phase.publicData { _ = try file(publicData, role: .public) }
            if let kit = phase.startingKit { _ = try file(kit, role: .public) }
            var spec = PhaseSpec(name: phase.name, endsAt: 0)
            if phase.maxSubmissions != nil || phase.maxSubmissionsPerDay != nil {
                spec.rules = SubmissionRules(perDay: phase.maxSubmissionsPerDay, total: phase.maxSubmissions)
            }
            if let reference = phase.referenceData { spec.reference = [try file(reference, role: .reference)] }
            // A phase has its own scorer only where it differs from the first's (which is the challenge's, and the one
            // a rescore replaces).
            if let first = scorers.first, first != scorer { spec.scorer = scorer }
            phaseSpecs.append(spec)
            scorers.append(scorer)
        }
        for (number, _) in options.canaries.map({ ($0.phase, 0) }) where !(1...phases.count).contains(number) {
            throw Failure(message: "a canary names phase \(number); the bundle has phases 1 to \(phases.count)")
        }

        let ends = try self.ends(options, notes: &notes)
        for index in phaseSpecs.indices { phaseSpecs[index].endsAt = ends[index] }
        var spec = ChallengeSpec(
            title: title, description: describe(notes: &notes), deadline: ends[ends.count - 1],
            award: options.award, direction: primary?.sorting == .ascending ? .minimize : .maximize,
            scorer: scorers[0], files: entries)
        let limits = phases.compactMap(\.executionTimeLimitSeconds)
        if let limit = limits.max() {
            spec.timeLimitSeconds = min(limit, ChallengeSpec.maxTimeLimitSeconds)
            if limit > ChallengeSpec.maxTimeLimitSeconds {
                notes.append("the time limit \(Int(limit)) s is cut to \(Int(ChallengeSpec.maxTimeLimitSeconds)) s")
            }
        }
        if phaseSpecs.count > 1 {
            spec.phases = phaseSpecs
        } else {
            spec.rules = phaseSpecs[0].rules
        }
        if let terms, !terms.isEmpty {
            guard terms.utf8.count <= AgreementSpec.maxBytes else {
                throw Failure(message: "the terms are over \(AgreementSpec.maxBytes) bytes, an agreement's most")
            }
            spec.agreement = AgreementSpec(kind: options.agreementKind, text: terms)
        }
        return Posting(spec: spec, files: frames, notes: notes)
    }

    /// Each phase's end: the seeker's, or else the bundle's when all are still to come, or else spread evenly from
    /// now to the seeker's deadline.
    private func ends(_ options: PostOptions, notes: inout [String]) throws(Failure) -> [Millis] {
        if let given = options.phaseEnds {
            guard given.count == phases.count else {
                throw Failure(message: "give \(phases.count) phase ends, one per phase, not \(given.count)")
            }
            return given
        }
        let own = phases.compactMap { $0.end.map { Millis($0.timeIntervalSince1970 * 1000) } }
        if own.count == phases.count, let first = own.first, first > options.now, options.deadline == nil {
            return own
        }
        guard let deadline = options.deadline else {
            throw Failure(
                message:
                    "the bundle's phases end in the past or not at all: give the deadline (and the phase ends, if not "
                    + "evenly spread)")
        }
        guard deadline > options.now else { throw Failure(message: "the deadline is not in the future") }
        let span = deadline - options.now
        let ends = (1...phases.count).map { options.now + span * Millis($0) / Millis(phases.count) }
        if phases.count > 1 {
            notes.append(
                "phases end at " + ends.map(WallClock.iso).joined(separator: ", ")
                    + " (evenly spread to the deadline; --phase-ends sets them)")
        }
        return ends
    }

    /// The description, followed by the pages under their titles; cut to the broker's limit with a note.
    private func describe(notes: inout [String]) -> String {
        var text = description
        for page in pages { text += "\n\n## \(page.title)\n\n\(page.text)" }
        let limit = 100_000
        guard text.utf8.count > limit else { return text }
        notes.append("the description and pages are over \(limit) bytes: cut to fit")
        var cut = Substring(text)
        while cut.utf8.count > limit - 100 { cut = cut.dropLast(max(1, (cut.utf8.count - limit + 100) / 4)) }
        return cut + "\n\n(cut: the bundle's pages are longer than a description may be)"
    }
}
