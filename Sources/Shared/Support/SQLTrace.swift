import Synchronization

/// Where a store's time goes, statement by statement: each SQLite statement's text, how often it ran and the time it
/// took (preparing, binding and stepping it; for `BEGIN` and `COMMIT`, `sqlite3_exec`, with the commit's sync). Off
/// unless `pumasi-bench` turns it on around a run (`PUMASI_BENCH_SQL=1`); while off, a statement costs one atomic load
/// and a branch more. Only SQLite's statements are timed: PostgreSQL's deferred writes return before the
/// server has run them.
public enum SQLTrace {
    public struct Statement: Sendable {
        public var text: String
        public var count: Int
        public var nanos: UInt64
    }

    private static let on = Atomic<Bool>(false)
    private static let statements = Mutex<[String: (count: Int, nanos: UInt64)]>([:])

    /// Starts recording, with nothing recorded yet.
    public static func start() {
        statements.withLock { $0 = [:] }
        on.store(true, ordering: .releasing)
    }

    /// Stops recording. - Returns: what was recorded since the start, the longest total time first.
    public static func stop() -> [Statement] {
        on.store(false, ordering: .releasing)
        return statements.withLock { recorded in
            defer { recorded = [:] }
            return recorded.map { Statement(text: $0.key, count: $0.value.count, nanos: $0.value.nanos) }
        }.sorted { ($0.nanos, $0.text) > ($1.nanos, $1.text) }
    }

    /// Runs `body`, which runs `sql`, and records its time while recording is on.
    @inline(__always)
    static func timed<T>(_ sql: String, _ body: () throws(DatabaseError) -> T) throws(DatabaseError) -> T {
        guard on.load(ordering: .relaxed) else { return try body() }
        let start = WallClock.monotonicNanos()
        defer {
            let elapsed = WallClock.monotonicNanos() - start
            statements.withLock { recorded in
                let before = recorded[sql] ?? (0, 0)
                recorded[sql] = (before.count + 1, before.nanos + elapsed)
            }
        }
        return try body()
    }
}
