import Foundation
import PumasiShared

/// Where a broker's state lives: an embedded SQLite file in a data directory (the default, one machine), or a
/// PostgreSQL database that brokers on several hosts share (one of them active at a time).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(directory: String)
    /// A libpq connection string: a `postgresql://` URI or `key=value` pairs; empty uses the `PG*` variables.
    case postgresql(String)

    /// `postgresql://…` or `postgres://…` is PostgreSQL; `postgresql:` alone takes the connection from the
    /// environment's `PG*` variables. Anything else is a data directory.
    public init(_ text: String) {
        if text == "postgresql:" || text == "postgres:" {
            self = .postgresql("")
        } else if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            self = .postgresql(text)
        } else {
            self = .sqlite(directory: text)
        }
    }

    /// For logs and messages: a directory, or the connection string without its password.
    public var description: String {
        switch self {
        case .sqlite(let directory): (directory as NSString).appendingPathComponent(Store.sqliteFileName)
        case .postgresql(let conninfo): PostgresConnection.redacted(conninfo)
        }
    }

    public var isPostgreSQL: Bool {
        if case .postgresql = self { return true }
        return false
    }
}
