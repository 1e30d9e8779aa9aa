import Foundation
import PumasiShared

/// One challenge and everything the store knows of it, as one self-contained JSON document: written by
/// `pumasi-broker dump`, loaded into another broker's store by `pumasi-broker restore`.
///
/// Table rows are kept whole, column by column (`DumpRow`), so that a column or a table (with a `challenge_id` or a
/// `submission_id`) added by a later schema travels without this type changing; a dump restores only into a store
/// of the same schema version. File and submission bytes are base64. The award ledger's entries keep their text and
/// hashes, so that the restoring broker can check each and refer to it.
struct ChallengeDump: Codable {
    static let formatName = "pumasi-challenge-dump"
    static let currentVersion = 1

    /// The broker a dump came from.
    struct Source: Codable, Equatable {
        /// Its CURVE public key (`broker.key.pub`), or `host:data-dir` without one.
        var broker: String
        var host: String
        var dataDirectory: String
        /// Its ledger's head when the dump was taken.
        var ledgerHead: LedgerAnchor?
    }

    var format = formatName
    var version = currentVersion
    var schemaVersion: Int
    var dumpedAt: Millis
    var source: Source
    /// The `challenges` row, with its spec.
    var challenge: DumpRow
    /// Its `challenge_files` rows (public and reference), and the `blobs` rows holding their bytes.
    var files: [DumpRow]
    var blobs: [DumpRow]
    /// Every submission with its bytes, in the order received.
    var submissions: [DumpRow]
    /// Scores and failures, and the failed attempts before them.
    var outcomes: [DumpRow]
    var attempts: [DumpRow]
    /// Its announcements, in order.
    var events: [DumpRow]
    /// The audit entries about the challenge itself (posting, closing, awarding); submitting and scoring are the
    /// submission and outcome rows.
    var audit: [DumpRow]
    /// Its award ledger entries, as recorded on the source broker.
    var ledger: [LedgerEntry]
    /// Its rows in every other table with a `challenge_id` column, or a `submission_id` one (rows of its
    /// submissions), by table: final selections, disqualifications, scorer versions, replica results, and whatever
    /// later schemas add, so that those travel without this type changing.
    var tables: [String: [DumpRow]]

    var challengeId: String { challenge["id"]?.value.text ?? "" }
}

/// A table row by column name.
typealias DumpRow = [String: DumpValue]

/// One column's value: JSON null, number or string, and `{"base64": "…"}` for bytes.
struct DumpValue: Codable, Equatable {
    var value: SQLValue

    init(_ value: SQLValue) { self.value = value }

    private enum Key: String, CodingKey { case base64 }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            let text = try object.decode(String.self, forKey: .base64)
            guard let bytes = Data(base64Encoded: text) else {
                throw DecodingError.dataCorruptedError(forKey: .base64, in: object, debugDescription: "not base64")
            }
            value = .blob(bytes)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            value = .null
        } else if let text = try? single.decode(String.self) {
            value = .text(text)
        } else if let integer = try? single.decode(Int64.self) {
            value = .integer(integer)
        } else {
            value = .real(try single.decode(Double.self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        if case .blob(let bytes) = value {
            var object = encoder.container(keyedBy: Key.self)
            try object.encode(bytes.base64EncodedString(), forKey: .base64)
            return
        }
        var single = encoder.singleValueContainer()
        switch value {
        case .null: try single.encodeNil()
        case .integer(let integer): try single.encode(integer)
        case .real(let real): try single.encode(real)
        case .text(let text): try single.encode(text)
        case .blob: break
        }
    }
}

extension SQLValue {
    var text: String? { if case .text(let text) = self { text } else { nil } }
    var bytes: Data? { if case .blob(let bytes) = self { bytes } else { nil } }
    var integer: Int64? { if case .integer(let integer) = self { integer } else { nil } }
}
