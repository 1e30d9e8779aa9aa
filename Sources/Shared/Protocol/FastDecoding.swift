import Foundation

// The bodies that cross the broker once per job, read by a `JSONReader` without `JSONDecoder` (which cost about a
// fifth of the broker's time) and without building a tree (which cost another fifth). Each reads exactly what its
// `Codable` conformance reads, ignoring unknown members as `JSONDecoder` does; anything else gives nil, and the
// caller falls back to `JSONDecoder` to name the problem.

extension SubmitRequest: FastJSONDecodable {
    public static func read(_ reader: inout JSONReader) -> SubmitRequest? {
        var challenge: String?
        var solver: String?
        var filename: String?
        var clientId: String?
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "challenge": r.assign(&challenge) { $0.string() }
                case "solver": r.assign(&solver) { $0.string() }
                case "filename": r.assign(&filename) { $0.string() }
                case "clientId": r.assign(&clientId) { $0.string() }
                default: r.skip()
                }
            }), let challenge, let solver, let filename
        else { return nil }
        return SubmitRequest(challenge: challenge, solver: solver, filename: filename, clientId: clientId)
    }
}

extension ScoringResult: FastJSONDecodable {
    public static func read(_ reader: inout JSONReader) -> ScoringResult? {
        var ok: Bool?
        var result = ScoringResult(ok: false)
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "ok": r.assign(&ok) { $0.bool() }
                case "score": r.assign(&result.score) { $0.number() }
                case "metrics": r.assign(&result.metrics, metrics)
                case "message": r.assign(&result.message) { $0.string() }
                case "error": r.assign(&result.error, Failure.read)
                case "log": r.assign(&result.log) { $0.string() }
                default: r.skip()
                }
            }), let ok
        else { return nil }
        result.ok = ok
        return result
    }

    private static func metrics(_ reader: inout JSONReader) -> [String: Double]? {
        var metrics: [String: Double] = [:]
        guard
            reader.members({ r, key in
                guard let name = key.string, let value = r.number() else { return false }
                metrics[name] = value
                return true
            })
        else { return nil }
        return metrics
    }
}

extension ScoringResult.Failure {
    static func read(_ reader: inout JSONReader) -> ScoringResult.Failure? {
        var code: String?
        var message: String?
        guard
            reader.members({ r, key in
                switch key {
                case "code": r.assign(&code) { $0.string() }
                case "message": r.assign(&message) { $0.string() }
                default: r.skip()
                }
            }), let code, let message
        else { return nil }
        return ScoringResult.Failure(code: code, message: message)
    }
}

extension FileEntry {
    static func read(_ reader: inout JSONReader) -> FileEntry? {
        var name: String?
        var role: FileRole?
        var entry = FileEntry(name: "", role: .reference)
        guard
            reader.members({ r, key in
                switch key {
                case "name": r.assign(&name) { $0.string() }
                case "role": r.assign(&role) { $0.string().flatMap(FileRole.init(rawValue:)) }
                case "sha256": r.assign(&entry.sha256) { $0.string() }
                case "size": r.assign(&entry.size) { $0.integer().map { Int($0) } }
                default: r.skip()
                }
            }), let name, let role
        else { return nil }
        entry.name = name
        entry.role = role
        return entry
    }
}

extension ScorerSpec {
    static func read(_ reader: inout JSONReader) -> ScorerSpec? {
        var spec = ScorerSpec()
        guard
            reader.members({ r, key in
                switch key {
                case "builtin": r.assign(&spec.builtin) { $0.string() }
                case "plugin": r.assign(&spec.plugin) { $0.string() }
                case "options": r.assign(&spec.options, options)
                case "judge": r.assign(&spec.judge) { $0.bool() }
                default: r.skip()
                }
            })
        else { return nil }
        return spec
    }

    private static func options(_ reader: inout JSONReader) -> [String: String]? {
        var options: [String: String] = [:]
        guard
            reader.members({ r, key in
                guard let name = key.string, let value = r.string() else { return false }
                options[name] = value
                return true
            })
        else { return nil }
        return options
    }
}

extension ScoringJob: FastJSONDecodable {
    public static func read(_ reader: inout JSONReader) -> ScoringJob? {
        var job: Int64?
        var attempt: Int64?
        var challenge: String?
        var submission: String?
        var filename: String?
        var sha256: String?
        var scorer: ScorerSpec?
        var reference: [FileEntry]?
        var timeLimit: Double?
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "job": r.assign(&job) { $0.integer() }
                case "attempt": r.assign(&attempt) { $0.integer() }
                case "challenge": r.assign(&challenge) { $0.string() }
                case "submission": r.assign(&submission) { $0.string() }
                case "filename": r.assign(&filename) { $0.string() }
                case "sha256": r.assign(&sha256) { $0.string() }
                case "scorer": r.assign(&scorer, ScorerSpec.read)
                case "reference": r.assign(&reference, fileEntries)
                case "timeLimitSeconds": r.assign(&timeLimit) { $0.number() }
                default: r.skip()
                }
            }), let job, let attempt, let challenge, let submission, let filename, let sha256, let scorer,
            let reference, let timeLimit
        else { return nil }
        return ScoringJob(
            job: job, attempt: Int(attempt), challenge: challenge, submission: submission, filename: filename,
            sha256: sha256, scorer: scorer, reference: reference, timeLimitSeconds: timeLimit)
    }

    private static func fileEntries(_ reader: inout JSONReader) -> [FileEntry]? {
        var entries: [FileEntry] = []
        guard
            reader.elements({ r in
                guard let entry = FileEntry.read(&r) else { return false }
                entries.append(entry)
                return true
            })
        else { return nil }
        return entries
    }
}
