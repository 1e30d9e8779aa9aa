import Foundation
import PumasiShared

/// An upload under way: who sends which file to which challenge. Its bytes are in the blob directory.
struct UploadRecord {
    var id: String
    var challenge: String
    var principal: String
    var sha256: String
    var size: Int
    var filename: String
}

/// Where a submission's file is, for reading it back in chunks.
struct SubmissionFile {
    var submission: String
    var challenge: String
    var solver: String
    var filename: String
    var sha256: String
    var size: Int
    /// In the blob directory rather than the row.
    var external: Bool
}

extension Store {
    func upload(_ id: String) throws -> UploadRecord? {
        try db.queryOne(
            "SELECT id, COALESCE(challenge_id, ''), principal, sha256, size, filename FROM uploads WHERE id = ?",
            [.text(id)]
        ).map {
            UploadRecord(
                id: $0.string(0) ?? "", challenge: $0.string(1) ?? "", principal: $0.string(2) ?? "",
                sha256: $0.string(3) ?? "", size: Int($0.int(4) ?? 0), filename: $0.string(5) ?? "")
        }
    }

    /// Records an upload, unless it is recorded already (a resumed one).
    func beginUpload(_ upload: UploadRecord, now: Millis) throws {
        try db.run(
            """
            INSERT INTO uploads (id, challenge_id, principal, sha256, size, filename, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING
            """,
            [
                .text(upload.id), upload.challenge.isEmpty ? .null : .text(upload.challenge), .text(upload.principal),
                .text(upload.sha256),
                .integer(Int64(upload.size)), .text(upload.filename), .integer(now),
            ])
    }

    /// Uploads begun before `cutoff` and not finished: abandoned.
    func staleUploads(before cutoff: Millis) throws -> [String] {
        try db.query("SELECT id FROM uploads WHERE created_at < ? ORDER BY id", [.integer(cutoff)]).compactMap {
            $0.string(0)
        }
    }

    /// An upload is over: its file is stored (or was thrown away).
    func endUpload(_ id: String) throws {
        try db.run("DELETE FROM uploads WHERE id = ?", [.text(id)])
    }

    /// Lists a file the blob directory now holds.
    func recordStoredFile(sha256: String, size: Int, now: Millis) throws {
        try db.run(
            "INSERT INTO stored_files (sha256, size, stored_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            [.text(sha256), .integer(Int64(size)), .integer(now)])
    }

    /// The size of a file the blob directory holds, by the store's list.
    func storedFileSize(_ sha256: String) throws -> Int? {
        try db.queryOne("SELECT size FROM stored_files WHERE sha256 = ?", [.text(sha256)])?.int(0).map(Int.init)
    }

    func submissionFile(_ id: String) throws -> SubmissionFile? {
        try db.queryOne(
            "SELECT id, challenge_id, solver, filename, sha256, size, external FROM submissions WHERE id = ?",
            [.text(id)]
        ).map {
            SubmissionFile(
                submission: $0.string(0) ?? "", challenge: $0.string(1) ?? "", solver: $0.string(2) ?? "",
                filename: $0.string(3) ?? "", sha256: $0.string(4) ?? "", size: Int($0.int(5) ?? 0),
                external: $0.int(6) == 1)
        }
    }

    /// Up to `length` bytes of a submission kept in its row, from `offset`.
    func submissionChunk(_ id: String, offset: Int, length: Int) throws -> Data {
        try db.queryOne(
            "SELECT substr(content, CAST(? AS INTEGER), CAST(? AS INTEGER)) FROM submissions WHERE id = ?",
            [.integer(Int64(offset) + 1), .integer(Int64(length)), .text(id)]
        )?.data(0) ?? Data()
    }

    /// Whether a challenge file's bytes are in the blob directory rather than the `blobs` row.
    func isExternalBlob(_ sha256: String) throws -> Bool {
        try db.queryOne("SELECT external FROM blobs WHERE sha256 = ?", [.text(sha256)])?.int(0) == 1
    }

    /// The SHA-256 and size of a submission whose bytes are in the blob directory; nil for one kept in its row.
    func externalFile(of submission: String) throws -> (sha256: String, size: Int)? {
        try db.queryOne(
            "SELECT sha256, size FROM submissions WHERE id = ? AND external = 1", [.text(submission)]
        ).map { ($0.string(0) ?? "", Int($0.int(1) ?? 0)) }
    }
}
