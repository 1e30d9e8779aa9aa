internal import CLibPQ
import Foundation

/// One PostgreSQL connection through libpq. It owns the `PGconn` and closes it in `deinit`.
///
/// Statements are prepared once per text and parameter types and kept for the life of the connection;
/// parameters go and results come back in binary, so numbers and bytes cross without text conversion.
///
/// Thread rule: a connection belongs to one thread; create it on the thread that uses it.
public final class PostgresConnection: SQLDatabase {
    private let handle: OpaquePointer
    /// Prepared statements by SQL text and parameter types.
    private var prepared: [String: String] = [:]
    public private(set) var changes = 0
    /// Deferred writes sent in pipeline mode whose results are not read yet.
    private var pending = 0
    /// Notifications seen on channels this connection listens to, in all.
    public private(set) var notificationCount = 0
    public var backend: DatabaseError.Backend { .postgresql }
    /// The connection string with any password left out, for logs and messages.
    public let displayName: String

    /// Connects with `conninfo`: a `postgresql://` URI or `key=value` pairs; empty takes everything from the
    /// environment's `PG*` variables, as `psql` does.
    /// - Parameter applicationName: shown in `pg_stat_activity` unless the connection string names one.
    public init(_ conninfo: String, applicationName: String = "pumasi", connectTimeout: Int = 5) throws(DatabaseError) {
        displayName = Self.redacted(conninfo)
        if let problem = Self.parseProblem(conninfo) {
            throw DatabaseError(
                .postgresql, kind: .other, code: "", operation: "connect",
                message: "the connection string is malformed: \(problem)")
        }
        // Earlier keywords are defaults that the connection string, expanded from `dbname`, overrides.
        let keys = [
            "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "tcp_user_timeout", "dbname", "fallback_application_name",
        ]
        // Keepalives and a TCP user timeout: a server cut off without a word is given up on in about 10 s, so a
        // broker's pass fails (and it stops) instead of waiting on the socket for the kernel's default quarter hour.
        let values = ["\(connectTimeout)", "1", "5", "2", "3", "10000", conninfo, applicationName]
        let connection = Self.withCStrings(keys) { keyPointers in
            Self.withCStrings(values) { valuePointers in PQconnectdbParams(keyPointers, valuePointers, 1) }
        }
        guard let connection else {
            throw DatabaseError(
                .postgresql, kind: .connection, code: "", operation: "connect", message: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(String(cString: PQerrorMessage(connection)))
            PQfinish(connection)
            throw DatabaseError(
                .postgresql, kind: Self.connectFailureKind(message), code: "08001",
                operation: "connect(\(displayName))", message: message)
        }
        handle = connection
        // The server's notices ("schema … already exists, skipping") are not errors, and a library does not print.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    public var isInTransaction: Bool {
        if pending > 0 { return true }  // deferred writes are sent inside a transaction only
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    public var isTransactionUsable: Bool {
        if pending > 0 { return true }
        return PQtransactionStatus(handle) == PQTRANS_INTRANS
    }

    /// The server's process id for this session (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(handle) }

    public func beginWrite() throws(DatabaseError) { try execute("BEGIN") }

    public func beginRead() throws(DatabaseError) { try execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") }

    /// `PQcancel`, which libpq allows from any thread: the server cancels the running statement, which fails.
    public func makeInterrupter() -> SQLInterrupter {
        let cancel = PostgresCancel(PQgetCancel(handle))
        return SQLInterrupter { cancel.send() }
    }

    public func execute(_ sql: String) throws(DatabaseError) {
        try sync()
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, "execute")
        // PostgreSQL answers COMMIT on a failed transaction with a ROLLBACK, and no error: it is one.
        if sql == "COMMIT", let tag = result.map({ String(cString: PQcmdStatus($0)) }), tag != "COMMIT" {
            throw DatabaseError(
                .postgresql, kind: .other, code: "25P02", operation: "commit",
                message: "the transaction had failed, and the server rolled it back (\(tag))")
        }
    }

    public func run(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) {
        try sync()
        let result = try exec(sql, values)
        defer { PQclear(result) }
        changes = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public func query(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> [SQLRow] {
        try sync()
        let result = try exec(sql, values)
        defer { PQclear(result) }
        return (0..<PQntuples(result)).map { Self.row(result, $0) }
    }

    public func queryOne(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> SQLRow? {
        try sync()
        let result = try exec(sql, values)
        defer { PQclear(result) }
        return PQntuples(result) > 0 ? Self.row(result, 0) : nil
    }

    /// Reads what the server sent meanwhile and counts the notifications among it (LISTEN/NOTIFY), without waiting.
    /// - Returns: the count in all, which changes whenever a notification arrived.
    @discardableResult
    public func pollNotifications() -> Int {
        guard PQconsumeInput(handle) == 1 else { return notificationCount }
        while let notification = PQnotifies(handle) {
            notificationCount += 1
            PQfreemem(notification)
        }
        return notificationCount
    }

    // MARK: - Pipeline

    public func runDeferred(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) {
        try Self.checkSizes(values)
        let name = try statement(sql, values)
        if PQpipelineStatus(handle) == PQ_PIPELINE_OFF {
            guard PQenterPipelineMode(handle) == 1 else { throw connectionError("pipeline") }
        }
        let sent = Self.withParameters(values) { pointers, lengths, formats in
            PQsendQueryPrepared(handle, name, Int32(values.count), pointers, lengths, formats, 1)
        }
        guard sent == 1 else { throw connectionError("send") }
        pending += 1
    }

    /// Ends the pipeline: a sync point, each deferred write's result in order (the first error is kept; the writes
    /// after a failed one come back aborted), the sync's own result, and back to one statement at a time.
    public func sync() throws(DatabaseError) {
        guard PQpipelineStatus(handle) != PQ_PIPELINE_OFF else { return }
        guard PQpipelineSync(handle) == 1 else { throw connectionError("sync") }
        var failure: DatabaseError?
        for _ in 0..<pending {
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK {
                    changes = Int(String(cString: PQcmdTuples(result))) ?? 0
                } else if status != PGRES_PIPELINE_ABORTED, failure == nil {
                    do { try check(result, "step") } catch { failure = error }
                }
            }
        }
        pending = 0
        // The sync point's own result, then out of pipeline mode (which needs every result read).
        for _ in 0..<4 {
            if let result = PQgetResult(handle) { PQclear(result) }
            if PQexitPipelineMode(handle) == 1 { break }
        }
        if PQstatus(handle) != CONNECTION_OK, failure == nil { failure = connectionError("sync") }
        if let failure { throw failure }
    }

    private func connectionError(_ operation: String) -> DatabaseError {
        let connected = PQstatus(handle) == CONNECTION_OK
        return DatabaseError(
            .postgresql, kind: connected ? .other : .connection, code: connected ? "" : "08006", operation: operation,
            message: Self.trimmed(String(cString: PQerrorMessage(handle))))
    }

    // MARK: - Statements

    /// The prepared statement for `sql` with these values' types, prepared on first use (outside a pipeline).
    private func statement(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> String {
        let types = values.map(Self.typeOID)
        let key = types.map(String.init).joined(separator: ",") + "|" + sql
        if let known = prepared[key] { return known }
        try sync()
        let name = "p\(prepared.count + 1)"
        let text = SQLPlaceholders.numbered(sql)
        let result = types.withUnsafeBufferPointer {
            PQprepare(handle, name, text, Int32(types.count), $0.baseAddress)
        }
        defer { PQclear(result) }
        try check(result, "prepare")
        prepared[key] = name
        return name
    }

    private static func withParameters<R>(
        _ values: [SQLValue],
        _ body: ([UnsafePointer<CChar>?], UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        let buffers = values.map(Self.binary)
        let lengths = buffers.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: values.count)
        return withBuffers(buffers) { pointers in
            lengths.withUnsafeBufferPointer { lengths in
                formats.withUnsafeBufferPointer { formats in body(pointers, lengths.baseAddress, formats.baseAddress) }
            }
        }
    }

    /// PostgreSQL takes no value over 1 GiB (and libpq's lengths are 32-bit): refused with a clear error, not cut.
    private static func checkSizes(_ values: [SQLValue]) throws(DatabaseError) {
        for value in values {
            let size: Int
            switch value {
            case .text(let text): size = text.utf8.count
            case .blob(let data): size = data.count
            default: continue
            }
            guard size < 1 << 30 else {
                throw DatabaseError(
                    .postgresql, kind: .other, code: "54000", operation: "bind",
                    message: "a value of \(size) bytes is over PostgreSQL's limit of 1 GiB")
            }
        }
    }

    private func exec(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> OpaquePointer {
        try Self.checkSizes(values)
        let name = try statement(sql, values)
        let result = Self.withParameters(values) { pointers, lengths, formats in
            PQexecPrepared(handle, name, Int32(values.count), pointers, lengths, formats, 1)
        }
        do {
            try check(result, "step")
        } catch {
            PQclear(result)
            throw error
        }
        return result!
    }

    private func check(_ result: OpaquePointer?, _ operation: String) throws(DatabaseError) {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        let primary = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "M"))) }.map { String(cString: $0) }
        let message = primary ?? Self.trimmed(String(cString: PQerrorMessage(handle)))
        let code = state ?? (PQstatus(handle) == CONNECTION_OK ? "" : "08006")
        throw DatabaseError(
            .postgresql, kind: Self.kind(code, connected: PQstatus(handle) == CONNECTION_OK), code: code,
            operation: operation, message: message)
    }

    /// A server that could not be reached, or that is starting, stopping or full, may take the next try: `.connection`.
    /// A server that answered with a FATAL refusal (no such role or database, a wrong password, no pg_hba entry)
    /// will refuse the next one too: `.other`, for the caller to report rather than retry.
    /// A connection string libpq itself finds wrong (an invalid `sslmode`, say), and a server that wants what the
    /// connection does not offer (SSL, a password), are `.other` too: only network failures are retried.
    private static func connectFailureKind(_ message: String) -> DatabaseError.Kind {
        if message.contains("FATAL:") {
            let transient = [
                "starting up", "shutting down", "in recovery", "too many", "terminating connection",
                "not yet accepting connections", "not accepting connections", "remaining connection slots",
            ]
            return transient.contains(where: message.contains) ? .connection : .other
        }
        let unreachable = [
            "Connection refused", "timeout expired", "No route to host", "Network is unreachable",
            "could not translate host name", "Temporary failure in name resolution",
            "server closed the connection unexpectedly", "Connection reset by peer", "could not receive data",
            "could not send data", "Connection timed out",
        ]
        return unreachable.contains(where: message.contains) ? .connection : .other
    }

    private static func kind(_ code: String, connected: Bool) -> DatabaseError.Kind {
        if !connected || code.hasPrefix("08") || code.hasPrefix("57P") { return .connection }
        if code.hasPrefix("23") { return .constraint }
        return .other
    }

    // MARK: - Values

    private static let boolOID: UInt32 = 16
    private static let byteaOID: UInt32 = 17
    private static let int8OID: UInt32 = 20
    private static let int2OID: UInt32 = 21
    private static let int4OID: UInt32 = 23
    private static let textOID: UInt32 = 25
    private static let oidOID: UInt32 = 26
    private static let float4OID: UInt32 = 700
    private static let float8OID: UInt32 = 701
    private static let numericOID: UInt32 = 1700

    /// A NULL's type is left for the server to infer from where it stands.
    private static func typeOID(_ value: SQLValue) -> UInt32 {
        switch value {
        case .null: 0
        case .integer: int8OID
        case .real: float8OID
        case .text: textOID
        case .blob: byteaOID
        }
    }

    private static func binary(_ value: SQLValue) -> Data? {
        switch value {
        case .null: nil
        case .integer(let v): withUnsafeBytes(of: v.bigEndian) { Data($0) }
        case .real(let v): withUnsafeBytes(of: v.bitPattern.bigEndian) { Data($0) }
        case .text(let v): Data(v.utf8)
        case .blob(let v): v
        }
    }

    private static func row(_ result: OpaquePointer, _ index: Int32) -> SQLRow {
        let count = PQnfields(result)
        var values: [SQLValue] = []
        values.reserveCapacity(Int(count))
        for column in 0..<count {
            if PQgetisnull(result, index, column) == 1 {
                values.append(.null)
                continue
            }
            let length = Int(PQgetlength(result, index, column))
            let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, index, column), count: length)
            values.append(value(bytes, type: PQftype(result, column)))
        }
        return SQLRow(values: values)
    }

    private static func value(_ bytes: UnsafeRawBufferPointer, type: UInt32) -> SQLValue {
        func integer<T: FixedWidthInteger>(_: T.Type) -> T {
            guard bytes.count == MemoryLayout<T>.size else { return 0 }
            return T(bigEndian: bytes.loadUnaligned(as: T.self))
        }
        switch type {
        case boolOID: return .integer(bytes.first == 0 ? 0 : 1)
        case int2OID: return .integer(Int64(integer(Int16.self)))
        case int4OID: return .integer(Int64(integer(Int32.self)))
        case int8OID: return .integer(integer(Int64.self))
        case oidOID: return .integer(Int64(integer(UInt32.self)))
        case float4OID: return .real(Double(Float(bitPattern: integer(UInt32.self))))
        case float8OID: return .real(Double(bitPattern: integer(UInt64.self)))
        case numericOID: return PostgresNumeric.decode(bytes)
        case byteaOID: return .blob(Data(bytes))
        default: return .text(String(decoding: bytes, as: UTF8.self))
        }
    }

    // MARK: - Helpers

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) } + [nil])
    }

    private static func withBuffers<R>(_ buffers: [Data?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        // Each buffer is copied into memory that stays put until the call returns; a zero-length value still
        // needs a non-null pointer, or the server reads it as NULL.
        let copies: [UnsafeMutableRawPointer?] = buffers.map { buffer in
            guard let buffer else { return nil }
            let memory = UnsafeMutableRawPointer.allocate(byteCount: max(buffer.count, 1), alignment: 1)
            buffer.withUnsafeBytes {
                if let base = $0.baseAddress { memory.copyMemory(from: base, byteCount: $0.count) }
            }
            return memory
        }
        defer { copies.forEach { $0?.deallocate() } }
        return body(copies.map { $0.map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } })
    }

    private static func trimmed(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "; ")
    }

    /// What libpq finds wrong with a connection string; nil when it parses.
    private static func parseProblem(_ conninfo: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            defer { if let error { PQfreemem(error) } }
            return error.map { trimmed(String(cString: $0)) } ?? "out of memory"
        }
        PQconninfoFree(options)
        return nil
    }

    /// `conninfo` with its password replaced by `***`, in either form.
    public static func redacted(_ conninfo: String) -> String {
        var text = conninfo
        if let scheme = text.range(of: "://"), let at = text.range(of: "@", range: scheme.upperBound..<text.endIndex),
            let colon = text.range(of: ":", range: scheme.upperBound..<at.lowerBound)
        {
            text.replaceSubrange(colon.upperBound..<at.lowerBound, with: "***")
        }
        if let regex = try? NSRegularExpression(pattern: "password\\s*=\\s*('[^']*'|\\S+)") {
            text = regex.stringByReplacingMatches(
                in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "password=***")
        }
        return text.isEmpty ? "(from the PG* environment)" : text
    }
}

@available(*, unavailable)
extension PostgresConnection: Sendable {}

/// A connection's `PGcancel`, freed with it.
private final class PostgresCancel: @unchecked Sendable {
    // @unchecked Sendable: libpq reads a PGcancel only, and allows PQcancel from any thread.
    private let cancel: OpaquePointer?

    init(_ cancel: OpaquePointer?) { self.cancel = cancel }

    func send() {
        guard let cancel else { return }
        var reason = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &reason, Int32(reason.count))
    }

    deinit { if let cancel { PQfreeCancel(cancel) } }
}
