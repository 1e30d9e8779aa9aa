import Foundation
import PumasiShared

extension Store {
    /// Appends an announcement to the event log and returns it with its sequence number, which is the
    /// event's row id: rising by one, and never reused across restarts.
    /// - Returns: the numbered announcement and its JSON body, written once for the log and the PUB socket.
    func appendEvent(_ announcement: Announcement, principal: String?) throws -> (
        announcement: Announcement, json: Data
    ) {
        if nextSeq == 0 { try reloadSequence() }
        let next = nextSeq
        var numbered = announcement
        numbered.seq = next
        let json = numbered.json
        try db.runDeferred(
            "INSERT INTO events (seq, at, topic, challenge_id, principal, body_json) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .integer(next), .integer(numbered.at), .text(numbered.topic.rawValue), .text(numbered.challenge),
                principal.map(SQLValue.text) ?? .null, .text(String(decoding: json, as: UTF8.self)),
            ])
        nextSeq = next + 1
        return (numbered, json)
    }

    /// Re-reads the next sequence number from the log: on first use, and after a rollback undid events.
    func reloadSequence() throws {
        nextSeq = (try db.queryOne("SELECT COALESCE(MAX(seq), 0) + 1 FROM events")?.int(0)) ?? 1
    }

    /// The latest sequence number in the log (0 when empty).
    func lastSeq() throws -> Int64 { try db.queryOne("SELECT COALESCE(MAX(seq), 0) FROM events")?.int(0) ?? 0 }

    /// Events after `seq`, oldest first.
    func events(after seq: Int64, limit: Int) throws -> [Announcement] {
        try db.query(
            "SELECT body_json FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(seq), .integer(Int64(limit))]
        )
        .compactMap { $0.data(0).flatMap { try? JSONDecoder().decode(Announcement.self, from: $0) } }
    }
}
