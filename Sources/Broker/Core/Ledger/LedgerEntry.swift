import Foundation
import PumasiShared

/// One entry of the award ledger: one payment, of `amount` to `solver` for `submission`, chained to the entry
/// before it.
///
/// An award that pays several winners (a split among the top N, partial awards at the seeker's discretion) is
/// several entries, one per payment, each naming its submission, solver, score and share, decided at the same time
/// under the same policy; a discretionary payment says why in `rationale`. One payment per entry keeps each entry's
/// amount unambiguous and lets the `awards` table stay one row per payment.
///
/// The entry's canonical text is one line of JSON with its fields in a fixed order, every field present (null when
/// absent), the amount as decimal text, and no whitespace:
///
///     {"ledger":1,"seq":2,"at":1795428000123,"challenge":"ch_…","submission":"sub_…","solver":"ada","score":0.75,
///      "policy":"winner-takes-all","amount":"500","currency":"USD","rationale":null,"origin":null,"prev":"…"}
///
/// with `"agreement":"<sha256>"` before `prev` when the challenge had an agreement.
///
/// and its hash is SHA-256 of the previous entry's hash (64 lowercase hex digits) followed by that text, in hex:
/// `printf '%s%s' "$prev" "$entry" | sha256sum` recomputes it. The first entry chains from `genesis`.
struct LedgerEntry: Codable, Equatable {
    /// Position in the ledger: 1, 2, 3, … without gaps (the `awards` row id).
    var seq: Int64
    /// When the award was decided (for a restored entry: on the broker that decided it).
    var at: Millis
    var challenge: String
    var submission: String
    var solver: String
    var score: Double?
    var policy: String
    /// The amount as decimal text, exactly as stored.
    var amount: String
    var currency: String
    /// Why, for a discretionary payment.
    var rationale: String?
    /// Where the entry came from when the broker did not decide it itself: a JSON object (see `LedgerOrigin`).
    var origin: String?
    /// The SHA-256 of the challenge agreement the winner accepted, for a challenge that has one. In the canonical
    /// text only when present (before `prev`), so the entries written before agreements existed keep their text.
    var agreement: String?
    /// The team whose award this is a member's share of (in the canonical text only when present, after
    /// `agreement`).
    var team: String?
    /// The previous entry's hash, or `genesis`.
    var prevHash: String
    /// The canonical text as recorded (and hashed) when the entry was appended.
    var text: String
    var hash: String

    /// What the first entry chains from.
    static let genesis = String(repeating: "0", count: 64)

    /// The canonical text of the entry's fields as they are now.
    var canonical: String {
        var w = JSONWriter()
        w.int("ledger", 1)
        w.int("seq", seq)
        w.int("at", at)
        w.string("challenge", challenge)
        w.string("submission", submission)
        w.string("solver", solver)
        // -0.0 as 0.0: SQLite stores a whole REAL as an integer, so a -0.0 reads back as 0.0.
        if let score, score.isFinite { w.double("score", score == 0 ? 0 : score) } else { w.raw("score", Self.null) }
        w.string("policy", policy)
        w.string("amount", amount)
        w.string("currency", currency)
        if let rationale { w.string("rationale", rationale) } else { w.raw("rationale", Self.null) }
        w.raw("origin", origin.map { Data($0.utf8) } ?? Self.null)
        if let agreement { w.string("agreement", agreement) }
        if let team { w.string("team", team) }
        w.string("prev", prevHash)
        return String(decoding: w.data, as: UTF8.self)
    }

    /// SHA-256 of `prev` (hex) followed by `text`, in hex.
    static func chainHash(prev: String, text: String) -> String { SHA256.hex(Data((prev + text).utf8)) }

    /// Fills in `text` and `hash` from the fields and `prevHash`.
    mutating func seal() {
        text = canonical
        hash = Self.chainHash(prev: prevHash, text: text)
    }

    var anchor: LedgerAnchor { LedgerAnchor(seq: seq, hash: hash) }

    /// Whether the entry's fields are the ones its text records, and its hash that of its text.
    /// Compares bytes: `String`'s `==` holds canonically equivalent texts (two spellings of "José") equal.
    var isSealed: Bool {
        canonical.utf8.elementsEqual(text.utf8) && Self.chainHash(prev: prevHash, text: text) == hash
    }

    private enum CodingKeys: String, CodingKey {
        case seq, at, challenge, submission, solver, score, policy, amount, currency, rationale, origin, agreement, team
        case prevHash
        case text = "entry"
        case hash
    }

    private static let null = Data("null".utf8)

    /// The `awards` columns an entry is read from, in `init(row:)`'s order.
    static let columns = """
        id, awarded_at, challenge_id, submission_id, solver, score, policy, amount, currency, rationale, origin,
        prev_hash, entry, hash, agreement, team
        """

    init(row: SQLRow) {
        self.init(
            seq: row.int(0) ?? 0, at: row.int(1) ?? 0, challenge: row.string(2) ?? "", submission: row.string(3) ?? "",
            solver: row.string(4) ?? "", score: row.double(5), policy: row.string(6) ?? "", amount: row.string(7) ?? "",
            currency: row.string(8) ?? "", rationale: row.string(9), origin: row.string(10),
            agreement: row.string(14), team: row.string(15), prevHash: row.string(11) ?? "", text: row.string(12) ?? "",
            hash: row.string(13) ?? "")
    }

    init(
        seq: Int64, at: Millis, challenge: String, submission: String, solver: String, score: Double?, policy: String,
        amount: String, currency: String, rationale: String? = nil, origin: String? = nil, agreement: String? = nil,
        team: String? = nil, prevHash: String,
        text: String = "", hash: String = ""
    ) {
        self.seq = seq
        self.at = at
        self.challenge = challenge
        self.submission = submission
        self.solver = solver
        self.score = score
        self.policy = policy
        self.amount = amount
        self.currency = currency
        self.rationale = rationale
        self.origin = origin
        self.agreement = agreement
        self.team = team
        self.prevHash = prevHash
        self.text = text
        self.hash = hash
    }

    /// The award this entry pays, as clients see it.
    var award: AwardInfo {
        AwardInfo(
            challenge: challenge, submission: submission, solver: solver, amount: Decimal(string: amount) ?? 0,
            currency: currency, score: score ?? 0, policy: policy, awardedAt: at, rationale: rationale,
            agreement: agreement, team: team)
    }
}

/// Where a ledger entry came from when this broker did not decide it: the `origin` field, a JSON object in a fixed
/// field order.
enum LedgerOrigin {
    /// An `awards` row written before the ledger was chained (schema migration "ledger"): its hash proves the row
    /// unchanged since the migration, not before.
    static func migrated(row: Int64, at: Millis) -> String {
        var w = JSONWriter()
        w.string("kind", "migrated")
        w.int("row", row)
        w.int("at", at)
        return String(decoding: w.data, as: UTF8.self)
    }

    /// An entry of another broker's ledger, brought over by `pumasi-broker restore`: that broker, the entry's
    /// sequence number and hash there, and the origin it had there (null when that broker decided it).
    static func restored(broker: String, entry: LedgerAnchor, from previous: String?, at: Millis) -> String {
        var w = JSONWriter()
        w.string("kind", "restored")
        w.string("broker", broker)
        w.int("seq", entry.seq)
        w.string("hash", entry.hash)
        w.raw("from", Data((previous ?? "null").utf8))
        w.int("at", at)
        return String(decoding: w.data, as: UTF8.self)
    }
}
