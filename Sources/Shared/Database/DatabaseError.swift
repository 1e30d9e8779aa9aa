/// An error reported by the database: which backend, what kind, its own code (SQLite's result code or
/// PostgreSQL's SQLSTATE), the operation, and the database's message. Bound values are never part of it.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public enum Backend: String, Sendable {
        case sqlite = "SQLite"
        case postgresql = "PostgreSQL"
    }

    public enum Kind: Sendable, Equatable {
        /// A UNIQUE, PRIMARY KEY, CHECK or foreign key constraint refused the write, or a trigger that keeps
        /// rows immutable or append-only did.
        case constraint
        /// The server is unreachable, or the connection to it was lost: nothing more can be done on it.
        case connection
        /// The database holds another schema than this program's.
        case schema
        case other
    }

    public let backend: Backend
    public let kind: Kind
    public let code: String
    public let operation: String
    public let message: String

    public init(_ backend: Backend, kind: Kind, code: String, operation: String, message: String) {
        self.backend = backend
        self.kind = kind
        self.code = code
        self.operation = operation
        self.message = message
    }

    public var description: String {
        switch backend {
        case .sqlite: "\(operation): \(message) (SQLite code \(code))"
        case .postgresql: "\(operation): \(message) (PostgreSQL SQLSTATE \(code))"
        }
    }

    public var isConstraintViolation: Bool { kind == .constraint }
    public var isConnectionLost: Bool { kind == .connection }
}
