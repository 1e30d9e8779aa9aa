import Foundation

// The bodies that cross the broker once per job, read by a `JSONReader` without `JSONDecoder` (which cost about a
// fifth of the broker's time) and without building a tree (which cost another fifth). Each reads exactly what its
// `Codable` conformance reads, ignoring unknown members as `JSONDecoder` does; anything else gives nil, and the
// caller falls back to `JSONDecoder` to name the problem.
//
// A member named twice is a nil too: `JSONDecoder` keeps the first and a pull reader would keep the last, so the
// fallback decides (each reader marks the members it has read in a `JSONMembers`).

/// The members of one object read so far, one bit each.
struct JSONMembers {
    private var seen: UInt32 = 0

    /// Marks `member` read; false if it was read before.
    mutating func first(_ member: UInt32) -> Bool {
        let bit: UInt32 = 1 << member
        defer { seen |= bit }
        return seen & bit == 0
    }
}

extension SubmitRequest: FastJSONDecodable {
    public static func read(_ reader: inout JSONReader) -> SubmitRequest? {
        var challenge: String?
        var solver: String?
        var filename: String?
        var clientId: String?
        var upload: String?
        var comment: String?
        var window: Int64?
        var defaulted: Bool?
        var seen = JSONMembers()
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "challenge": seen.first(0) && r.assign(&challenge) { $0.string() }
                case "solver": seen.first(1) && r.assign(&solver) { $0.string() }
                case "filename": seen.first(2) && r.assign(&filename) { $0.string() }
                case "clientId": seen.first(3) && r.assign(&clientId) { $0.string() }
                case "upload": seen.first(4) && r.assign(&upload) { $0.string() }
                case "comment": seen.first(5) && r.assign(&comment) { $0.string() }
                case "repeatWindowSeconds": seen.first(6) && r.assign(&window) { $0.integer() }
                case "solverDefaulted": seen.first(7) && r.assign(&defaulted) { $0.bool() }
                default: r.skip()
                }
            }), let challenge, let solver, let filename
        else { return nil }
        var request = SubmitRequest(
            challenge: challenge, solver: solver, filename: filename, clientId: clientId, upload: upload,
            comment: comment)
        request.repeatWindowSeconds = window.map { Int(clamping: $0) }
        request.solverDefaulted = defaulted
        return request
    }
}

extension ScoringResult: FastJSONDecodable {
    public static func read(_ reader: inout JSONReader) -> ScoringResult? {
        var ok: Bool?
        var result = ScoringResult(ok: false)
        var seen = JSONMembers()
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "ok": seen.first(0) && r.assign(&ok) { $0.bool() }
                case "score": seen.first(1) && r.assign(&result.score) { $0.number() }
                case "metrics": seen.first(2) && r.assign(&result.metrics, metrics)
                case "message": seen.first(3) && r.assign(&result.message) { $0.string() }
                case "error": seen.first(4) && r.assign(&result.error, Failure.read)
                case "log": seen.first(5) && r.assign(&result.log) { $0.string() }
                case "detailedResults": seen.first(6) && r.assign(&result.detailedResults) { $0.string() }
                default: r.skip()
                }
            }), let ok
        else { return nil }
        result.ok = ok
        return result
    }

    private static func metrics(_ reader: inout JSONReader) -> [String: Double]? { reader.numbers() }
}

extension ScoringResult.Failure {
    static func read(_ reader: inout JSONReader) -> ScoringResult.Failure? {
        var code: String?
        var message: String?
        var seen = JSONMembers()
        guard
            reader.members({ r, key in
                switch key {
                case "code": seen.first(0) && r.assign(&code) { $0.string() }
                case "message": seen.first(1) && r.assign(&message) { $0.string() }
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
        var seen = JSONMembers()
        guard
            reader.members({ r, key in
                switch key {
                case "name": seen.first(0) && r.assign(&name) { $0.string() }
                case "role": seen.first(1) && r.assign(&role) { $0.string().flatMap(FileRole.init(rawValue:)) }
                case "sha256": seen.first(2) && r.assign(&entry.sha256) { $0.string() }
                case "size": seen.first(3) && r.assign(&entry.size) { $0.integer().map { Int($0) } }
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
        var seen = JSONMembers()
        guard
            reader.members({ r, key in
                switch key {
                case "builtin": seen.first(0) && r.assign(&spec.builtin) { $0.string() }
                case "plugin": seen.first(1) && r.assign(&spec.plugin) { $0.string() }
                case "options": seen.first(2) && r.assign(&spec.options, options)
                case "judge": seen.first(3) && r.assign(&spec.judge) { $0.bool() }
                // A program scorer's members: left to the decoder (the caller's slow path).
                case "program", "environment", "ingestion", "canaries": false
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
                guard let name = key.string, options[name] == nil, let value = r.string() else { return false }
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
        var fetch: Int64?
        var seen = JSONMembers()
        guard
            reader.versionedMembers({ r, key in
                switch key {
                case "job": seen.first(0) && r.assign(&job) { $0.integer() }
                case "attempt": seen.first(1) && r.assign(&attempt) { $0.integer() }
                case "challenge": seen.first(2) && r.assign(&challenge) { $0.string() }
                case "submission": seen.first(3) && r.assign(&submission) { $0.string() }
                case "filename": seen.first(4) && r.assign(&filename) { $0.string() }
                case "sha256": seen.first(5) && r.assign(&sha256) { $0.string() }
                case "scorer": seen.first(6) && r.assign(&scorer, ScorerSpec.read)
                case "reference": seen.first(7) && r.assign(&reference, fileEntries)
                case "timeLimitSeconds": seen.first(8) && r.assign(&timeLimit) { $0.number() }
                case "fetch": seen.first(9) && r.assign(&fetch) { $0.integer() }
                default: r.skip()
                }
            }), let job, let attempt, let challenge, let submission, let filename, let sha256, let scorer,
            let reference, let timeLimit
        else { return nil }
        var decoded = ScoringJob(
            job: job, attempt: Int(attempt), challenge: challenge, submission: submission, filename: filename,
            sha256: sha256, scorer: scorer, reference: reference, timeLimitSeconds: timeLimit)
        decoded.fetch = fetch.map(Int.init)
        return decoded
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
