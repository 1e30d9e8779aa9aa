import Foundation
import PumasiShared

extension Store {
    /// The broker's CURVE keypair as a PostgreSQL store keeps it (`broker_identity`), so that every broker host
    /// serves under the same key and clients need only one: made by the first broker to start, read by the rest.
    func sharedBrokerKeys(generate: () throws -> CurveKeyPair, now: Millis) throws -> CurveKeyPair {
        try transaction {
            try db.run(
                """
                INSERT INTO broker_identity (id, public_key, secret_key, created_at) VALUES (1, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """,
                try {
                    let keys = try generate()
                    return [.text(keys.publicKey), .text(keys.secretKey), .integer(now)]
                }())
            guard let row = try db.queryOne("SELECT public_key, secret_key FROM broker_identity WHERE id = 1"),
                let publicKey = row.string(0), let secretKey = row.string(1)
            else {
                throw DatabaseError(.postgresql, kind: .schema, code: "", operation: "keys", message: "no broker key")
            }
            return CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
        }
    }
}
