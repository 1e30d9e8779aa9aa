internal import CSQLite

/// An error reported by SQLite: the result code, the operation, and SQLite's message.
/// Bound values are never part of the message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let operation: String
    public let message: String

    public init(code: Int32, operation: String, message: String) {
        self.code = code
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message) (SQLite code \(code))" }

    /// A UNIQUE or PRIMARY KEY constraint refused the write.
    public var isConstraintViolation: Bool { code & 0xff == SQLITE_CONSTRAINT }
}
