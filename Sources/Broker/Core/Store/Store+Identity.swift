import Foundation
import PumasiShared

extension Store {
    /// The broker's CURVE keypair as a PostgreSQL store keeps it (`broker_identity`), so that every broker host
    /// serves under the same key and clients need only one: made by the first broker to start, read by the rest.
    func sharedBrokerKeys(generate: () throws -> CurveKeyPair, now: Millis) throws -> CurveKeyPair {
        try transaction {
            let select = "SELECT public_key, secret_key FROM broker_identity WHERE id = 1"
            if try db.queryOne(select) == nil {
                // Two brokers starting at once may both get here: the first insert stands, the other changes nothing.
                let keys = try generate()
                try db.run(
                    """
                    INSERT INTO broker_identity (id, public_key, secret_key, created_at) VALUES (1, ?, ?, ?)
                    ON CONFLICT DO NOTHING
                    """, [.text(keys.publicKey), .text(keys.secretKey), .integer(now)])
            }
            guard let row = try db.queryOne(select), let publicKey = row.string(0), let secretKey = row.string(1) else {
                throw DatabaseError(.postgresql, kind: .schema, code: "", operation: "keys", message: "no broker key")
            }
            return CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
        }
    }
}
