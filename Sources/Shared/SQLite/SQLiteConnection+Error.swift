internal import CSQLite

extension DatabaseError {
    /// An SQLite result code as a `DatabaseError`: constraint violations (which include the triggers' RAISE)
    /// are told apart by the primary code.
    static func sqlite(code: Int32, operation: String, message: String) -> DatabaseError {
        let kind: Kind = code & 0xff == SQLITE_CONSTRAINT ? .constraint : .other
        return DatabaseError(.sqlite, kind: kind, code: String(code), operation: operation, message: message)
    }
}
