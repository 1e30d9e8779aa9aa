internal import CSQLite
import Foundation

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
/// SQLite reads the bytes where they are, and does not keep them past the statement's next reset or binding.
private let SQLITE_STATIC = unsafeBitCast(0, to: sqlite3_destructor_type.self)

/// A prepared statement, owned by one connection's cache and finalized in `deinit`.
public final class SQLiteStatement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection

    init(connection: SQLiteConnection, sql: String) throws(DatabaseError) {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw connection.error(rc, "prepare") }
        self.handle = statement
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` and runs `body` (the statement's steps) while they are bound, then resets the statement and
    /// clears its bindings.
    ///
    /// Texts and blobs are bound where they lie (`SQLITE_STATIC`), each within its own `withUTF8` or
    /// `withUnsafeBytes`, and `body` runs inside all of them: so every pointer SQLite holds is valid for as long as
    /// it can read it, and none is left behind once this returns, nor a row that may point into them (a body that
    /// stops before the last row). Copying each into SQLite (`SQLITE_TRANSIENT`), and freeing the copy at the next
    /// reset, was most of what binding cost.
    func withBound<R>(_ values: [SQLValue], _ body: () throws(DatabaseError) -> R) throws(DatabaseError) -> R {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        return try bind(values, from: 0, lent: 0, then: body)
    }

    /// How many texts and blobs one statement's run binds in place, each one closure deeper on the stack; any after
    /// them are copied. A job's statements bind 15 values at most; a chunk of `unscored` rows, up to 512.
    private static let mostLent = 64

    /// Binds `values[start...]`: the scalars in a loop, each text or blob by calling itself inside the closure
    /// that lends its bytes (`lent` of them so far), or copied once `mostLent` are.
    private func bind<R>(
        _ values: [SQLValue], from start: Int, lent: Int, then body: () throws(DatabaseError) -> R
    ) throws(DatabaseError) -> R {
        var offset = start
        while offset < values.count {
            let index = Int32(offset + 1)
            let rc: Int32
            switch values[offset] {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(var text) where lent == Self.mostLent:
                rc = text.withUTF8 { bindBytes(UnsafeRawBufferPointer($0), text: true, at: index, SQLITE_TRANSIENT) }
            case .blob(let data) where lent == Self.mostLent:
                rc = data.withUnsafeBytes { bindBytes($0, text: false, at: index, SQLITE_TRANSIENT) }
            case .text(var text):
                return try text.withUTF8 {
                    lend(UnsafeRawBufferPointer($0), text: true, of: values, at: offset, lent: lent, then: body)
                }.get()
            case .blob(let data):
                return try data.withUnsafeBytes {
                    lend($0, text: false, of: values, at: offset, lent: lent, then: body)
                }.get()
            }
            guard rc == SQLITE_OK else { throw connection.error(rc, "bind") }
            offset += 1
        }
        return try body()
    }

    /// Binds `values[offset]`'s `bytes` in place, then the values after it and `body`, while they are lent.
    private func lend<R>(
        _ bytes: UnsafeRawBufferPointer, text: Bool, of values: [SQLValue], at offset: Int, lent: Int,
        then body: () throws(DatabaseError) -> R
    ) -> Result<R, DatabaseError> {
        let rc = bindBytes(bytes, text: text, at: Int32(offset + 1), SQLITE_STATIC)
        return Result { () throws(DatabaseError) in
            guard rc == SQLITE_OK else { throw connection.error(rc, "bind") }
            return try bind(values, from: offset + 1, lent: lent + 1, then: body)
        }
    }

    /// Binds a text's or a blob's `bytes` at `index`, read in place (`SQLITE_STATIC`) or copied (`SQLITE_TRANSIENT`).
    private func bindBytes(
        _ bytes: UnsafeRawBufferPointer, text: Bool, at index: Int32, _ destructor: sqlite3_destructor_type
    ) -> Int32 {
        guard text else {
            // A zero-length blob still needs a non-null pointer to be stored as a blob, not NULL.
            if bytes.count == 0 { return sqlite3_bind_zeroblob(handle, index, 0) }
            return sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), destructor)
        }
        // The byte length, not -1: text may hold NUL, and must not be cut short at it.
        guard let base = bytes.baseAddress else { return sqlite3_bind_text(handle, index, "", 0, nil) }
        return sqlite3_bind_text(
            handle, index, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), destructor)
    }

    /// Advances one row, until the last (the run's end resets the statement: `withBound`).
    /// - Returns: true while a row is available.
    func step() throws(DatabaseError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(rc, "step")
        }
    }

    func row() -> SQLRow {
        let count = sqlite3_column_count(handle)
        var values: [SQLValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count {
            switch sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(handle, column)))
            case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(handle, column)))
            case SQLITE_TEXT:
                let size = Int(sqlite3_column_bytes(handle, column))
                if size > 0, let text = sqlite3_column_text(handle, column) {
                    values.append(.text(String(decoding: UnsafeBufferPointer(start: text, count: size), as: UTF8.self)))
                } else {
                    values.append(.text(""))
                }
            case SQLITE_BLOB:
                let size = Int(sqlite3_column_bytes(handle, column))
                if size > 0, let bytes = sqlite3_column_blob(handle, column) {
                    values.append(.blob(Data(bytes: bytes, count: size)))
                } else {
                    values.append(.blob(Data()))
                }
            default: values.append(.null)
            }
        }
        return SQLRow(values: values)
    }
}
