import Foundation
import PumasiShared

/// A challenge spec as a seeker writes it: JSON with a readable deadline and file paths relative to the spec.
///
/// ```json
/// {"title": "…", "description": "…", "deadline": "2026-12-31T00:00:00Z" or "+2h",
///  "award": {"amount": 5000, "currency": "USD"}, "direction": "maximize",
///  "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}} or {"plugin": "name"}
///            or {"plugin": "name", "options": {"format": "codabench", "score-key": "accuracy"}} or {"judge": true},
///  "timeLimitSeconds": 30,
///  "files": [{"path": "data/train.csv", "role": "public"}, {"path": "truth.csv", "name": "truth.csv", "role": "reference"}],
///  "startsAt": "+1h" (optional: a draft until then),
///  "rules": {"perDay": 5, "total": 50, "mode": "keep-all" or "replace", "finalSelection": 2},
///  "ranking": {"metric": "accuracy", "precision": 4},
///  "redundancy": {"replicas": 2, "tolerance": 0.0001, "maxReplicas": 4},
///  "award": {…, "policy": {"kind": "threshold-tiers", "minimum": 0.8, "target": 0.95, "guaranteed": 1000}},
///  "judging": {"perSubmission": 2, "combine": "median", "scale": {"min": 0, "max": 10}, "weight": 0.5},
///  "summary": "what everyone may read", "agreement": {"kind": "licence", "file": "terms.md"} or {…, "text": "…"},
///  "invitationOnly": true, "invite": ["ada", "bob"], "evaluators": "own",
///  "teams": {"maxSize": 3, "mergeDeadline": "+30m"} (optional: solvers may form teams; the merge deadline is a
///           time like the deadline, and defaults to it),
///  "phases": [{"name": "dev", "endsAt": "+1h", "reference": ["dev.csv"]},
///             {"name": "final", "endsAt": "+2h", "reference": ["final.csv"], "qualify": {"top": 10},
///              "carryOver": true, "rules": {"total": 5}}] (optional: stages, each ending at a time like the
///             deadline; the deadline may then be left out, and is the last phase's end)}
/// ```
struct SpecFile {
    var spec: ChallengeSpec
    var fileBytes: [Data]
    /// Beside `fileBytes`: the path of each file too large to travel in the post's message (its bytes are then
    /// empty, and `pumasi post` uploads it first), else nil.
    var largeFiles: [String?] = []

    private struct Raw: Decodable {
        struct File: Decodable {
            var path: String
            var name: String?
            var role: FileRole
        }

        var title: String
        var description: String
        /// Optional with phases: the last phase's end.
        var deadline: String?
        var award: AwardSpec
        var direction: Direction?
        var scorer: ScorerSpec
        var timeLimitSeconds: Double?
        var files: [File]?
        var startsAt: String?
        var rules: SubmissionRules?
        var ranking: RankingSpec?
        var judging: JudgingSpec?
        var redundancy: RedundancySpec?
        var summary: String?
        var agreement: AgreementSpec?
        var invitationOnly: Bool?
        var invite: [String]?
        var evaluators: EvaluatorPolicy?
        var teams: Teams?
        var phases: [Phase]?
        var scoreRange: ScoreRange?
        var slug: String?
    }

    /// `TeamRules` with a readable merge deadline.
    private struct Teams: Decodable {
        var maxSize: Int?
        var mergeDeadline: String?
    }

    /// `PhaseSpec` with a readable end.
    private struct Phase: Decodable {
        var name: String
        var startsAt: String?
        var endsAt: String
        var scorer: ScorerSpec?
        var rules: SubmissionRules?
        var reference: [String]?
        var qualify: PhaseSpec.Qualification?
        var carryOver: Bool?
    }

    static func load(_ path: String, now: Millis = WallClock.now()) throws -> SpecFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read spec file \(path)")
        }
        let tree: JSONValue
        do {
            tree = try JSONValue.parse([UInt8](data))
        } catch {
            throw CommandFailure("\(path):\(error.line):\(error.column): \(error.problem)")
        }
        let raw: Raw
        do {
            raw = try JSONDecoder().decode(Raw.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            if let typo = UnknownMember.misspelling(of: key, at: context.codingPath, in: tree) {
                throw CommandFailure("\(path): \(typo)")
            }
            throw CommandFailure("\(path): missing field \"\(dotted(context.codingPath + [key]))\"")
        } catch let DecodingError.typeMismatch(_, context) {
            throw CommandFailure("\(path): field \"\(dotted(context.codingPath))\" has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = dotted(context.codingPath)
            throw CommandFailure("\(path): \(field.isEmpty ? "not valid JSON" : "field \"\(field)\" is invalid")")
        } catch {
            throw CommandFailure("\(path): \(error)")
        }
        let unknown = UnknownMember.find(Raw.self, in: tree)
        if !unknown.isEmpty {
            throw CommandFailure("\(path): " + unknown.map(\.description).joined(separator: "; "))
        }
        let phases = try raw.phases.map { try phaseSpecs($0, path: path, now: now) }
        let deadline = try deadline(raw.deadline, phases: phases, path: path, now: now)
        var startsAt: Millis?
        if let text = raw.startsAt {
            guard let value = WallClock.parse(text, now: now) else {
                throw CommandFailure(
                    "\(path): startsAt \"\(text)\" is not ISO 8601 (2026-12-31T00:00:00Z) or relative (+2h)")
            }
            startsAt = value
        }
        var teams: TeamRules?
        if let raw = raw.teams {
            teams = TeamRules(maxSize: raw.maxSize)
            if let text = raw.mergeDeadline {
                guard let value = WallClock.parse(text, now: now) else {
                    throw CommandFailure(
                        "\(path): teams.mergeDeadline \"\(text)\" is not ISO 8601 (2026-12-31T00:00:00Z) or relative (+2h)"
                    )
                }
                teams?.mergeDeadline = value
            }
        }
        if let policy = raw.award.policy, let problem = policy.problem(amount: raw.award.amount) {
            throw CommandFailure("\(path): award.policy: \(problem)")
        }
        if let problem = raw.scorer.validate() {
            throw CommandFailure("\(path): scorer: \(problem)")
        }
        if let problem = raw.redundancy?.problem { throw CommandFailure("\(path): \(problem)") }
        if let problem = raw.judging?.problem(scorer: raw.scorer) {
            throw CommandFailure("\(path): judging: \(problem)")
        }
        if let builtin = raw.scorer.builtin,
            let problem = BuiltinScorer.validate(name: builtin, options: raw.scorer.options ?? [:])
        {
            throw CommandFailure("\(path): scorer: \(problem)")
        }
        let base = (path as NSString).deletingLastPathComponent
        var entries: [FileEntry] = []
        var bytes: [Data] = []
        var large: [String?] = []
        var references: [String: Data?] = [:]
        for file in raw.files ?? [] {
            let full = file.path.hasPrefix("/") ? file.path : (base as NSString).appendingPathComponent(file.path)
            let name = file.name ?? (file.path as NSString).lastPathComponent
            if let size = (try? FileManager.default.attributesOfItem(atPath: full))?[.size] as? Int,
                size > Uploader.inlineLimit
            {
                guard let (sha256, size) = try? FileDigest.sha256(path: full) else {
                    throw CommandFailure("\(path): cannot read file \(file.path)")
                }
                entries.append(FileEntry(name: name, role: file.role, sha256: sha256, size: size))
                bytes.append(Data())
                large.append(full)
                // Only a reference file's beginning is read to check it: a CSV file's header.
                if file.role == .reference {
                    references[name] = .some(FileHandle(forReadingAtPath: full)?.readData(ofLength: 64 << 10))
                }
                continue
            }
            guard let content = FileManager.default.contents(atPath: full) else {
                throw CommandFailure("\(path): cannot read file \(file.path)")
            }
            entries.append(FileEntry(name: name, role: file.role, sha256: SHA256.hex(content), size: content.count))
            bytes.append(content)
            large.append(nil)
            if file.role == .reference { references[name] = content }
        }
        var spec = ChallengeSpec(
            title: raw.title, description: raw.description, deadline: deadline, award: raw.award,
            direction: raw.direction, scorer: raw.scorer, timeLimitSeconds: raw.timeLimitSeconds, files: entries,
            startsAt: startsAt, rules: raw.rules, ranking: raw.ranking, redundancy: raw.redundancy, judging: raw.judging
        )
        spec.summary = raw.summary
        spec.agreement = try raw.agreement.map { try agreement($0, base: base, path: path) }
        spec.invitationOnly = raw.invitationOnly
        spec.invite = raw.invite
        spec.evaluators = raw.evaluators
        spec.teams = teams
        spec.phases = phases
        spec.scoreRange = raw.scoreRange
        spec.slug = raw.slug
        if let problem = spec.scorerProblem(referenceFiles: references, prefix: "") {
            throw CommandFailure("\(path): \(problem)")
        }
        return SpecFile(spec: spec, fileBytes: bytes, largeFiles: large)
    }

    /// `rules.perDay`, `phases[1].endsAt`: a coding path as the spec file's author would write it.
    private static func dotted(_ path: [any CodingKey]) -> String {
        path.reduce("") { text, key in
            key.intValue.map { text + "[\($0)]" } ?? (text.isEmpty ? key.stringValue : text + "." + key.stringValue)
        }
    }

    /// The phases with their ends read like the deadline: ISO 8601 or relative to `now`.
    private static func phaseSpecs(_ phases: [Phase], path: String, now: Millis) throws -> [PhaseSpec] {
        try phases.enumerated().map { index, phase in
            guard let endsAt = WallClock.parse(phase.endsAt, now: now) else {
                throw CommandFailure(
                    "\(path): phases[\(index)].endsAt \"\(phase.endsAt)\" is not ISO 8601 (2026-12-31T00:00:00Z) or "
                        + "relative (+2h)")
            }
            var startsAt: Millis?
            if let text = phase.startsAt {
                guard let parsed = WallClock.parse(text, now: now) else {
                    throw CommandFailure(
                        "\(path): phases[\(index)].startsAt \"\(text)\" is not ISO 8601 (2026-12-31T00:00:00Z) or "
                            + "relative (+2h)")
                }
                startsAt = parsed
            }
            var spec = PhaseSpec(
                name: phase.name, endsAt: endsAt, rules: phase.rules, reference: phase.reference,
                qualify: phase.qualify, carryOver: phase.carryOver)
            spec.startsAt = startsAt
            spec.scorer = phase.scorer
            return spec
        }
    }

    /// The spec's deadline: as given, or the last phase's end when it gives phases and no deadline. The broker
    /// requires the two to be equal, so a spec that gives both differently is refused here, naming both.
    private static func deadline(_ text: String?, phases: [PhaseSpec]?, path: String, now: Millis) throws -> Millis {
        let last = phases?.last?.endsAt
        guard let text else {
            guard let last else { throw CommandFailure("\(path): missing field \"deadline\"") }
            return last
        }
        guard let deadline = WallClock.parse(text, now: now) else {
            throw CommandFailure(
                "\(path): deadline \"\(text)\" is not ISO 8601 (2026-12-31T00:00:00Z) or relative (+2h)")
        }
        if let last, last != deadline {
            throw CommandFailure(
                "\(path): deadline \(WallClock.iso(deadline)) is not the last phase's end, \(WallClock.iso(last)): "
                    + "give them equal, or leave the deadline out")
        }
        return deadline
    }

    /// The agreement as sent: its text given inline, or read from `file` (relative to the spec), never both.
    private static func agreement(_ agreement: AgreementSpec, base: String, path: String) throws -> AgreementSpec {
        switch (agreement.text, agreement.file) {
        case (.some, .some):
            throw CommandFailure("\(path): agreement: give \"text\" or \"file\", not both")
        case (nil, nil):
            throw CommandFailure("\(path): agreement: give its \"text\", or a \"file\" holding it")
        case (.some, nil):
            return agreement
        case (nil, .some(let file)):
            let full = file.hasPrefix("/") ? file : (base as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8)
            else { throw CommandFailure("\(path): cannot read agreement file \(file) as UTF-8 text") }
            return AgreementSpec(kind: agreement.kind, text: text)
        }
    }
}
