import Foundation
import PumasiShared

/// Which broker of those sharing a PostgreSQL store is the active one, and since when.
public struct BrokerTerm: Codable, Sendable, Equatable {
    /// 1 for the first broker ever active on the store, then one more at each takeover.
    public var term: Int64
    public var host: String
    public var pid: Int64
    public var router: String
    public var pub: String
    public var startedAt: Millis
}

/// What `pumasi-broker status` reports: the active broker (if any) and the brokers waiting as standbys.
public struct BrokerStatus: Codable, Sendable {
    public var active: BrokerTerm?
    /// Other brokers connected to the store, waiting for the lock: `application_name`, client address, since when.
    public var standbys: [String]
}

/// Leadership among brokers on one PostgreSQL store. The active broker holds a session-level advisory lock on the
/// very connection it writes through: a broker that lost that connection has lost the lock and the means to write
/// with it, so two brokers can never both commit. The server drops a silent session's lock on its own: the active
/// broker's session sets `idle_session_timeout` and `idle_in_transaction_session_timeout`, and its passes (at least
/// one per heartbeat interval) keep it from ever being idle that long while it works.
extension Store {
    /// The lock's key: one per schema, so that stores in different schemas of one database lead separately.
    fileprivate static let lockKey = "hashtextextended('pumasi-broker:' || current_schema(), 0)"

    /// Tries once to become the active broker. - Returns: whether this connection now holds the lock.
    func tryToLead() throws -> Bool {
        guard postgres != nil else { return true }
        return try db.queryOne("SELECT pg_try_advisory_lock(\(Self.lockKey))")?.int(0) == 1
    }

    /// Makes the server end this session if it falls silent for `silence` (a broker cut off or hung), releasing the
    /// lock for a standby; `silence` must be several times the longest gap between two passes.
    func expireWhenSilent(after silence: Millis) throws {
        guard postgres != nil else { return }
        try db.execute(
            """
            SET idle_session_timeout = \(silence); SET idle_in_transaction_session_timeout = \(silence);
            SET tcp_keepalives_idle = \(max(1, silence / 2000)); SET tcp_keepalives_interval = 1;
            SET tcp_keepalives_count = 2
            """)
    }

    /// Records the start of this broker's term, after it took the lock and bound its endpoints.
    /// - Returns: the term.
    @discardableResult
    func beginTerm(host: String, pid: Int32, router: String, pub: String, now: Millis) throws -> BrokerTerm? {
        guard let postgres else { return nil }
        return try transaction {
            let term = try db.queryOne("SELECT COALESCE(MAX(term), 0) + 1 FROM broker_terms")?.int(0) ?? 1
            try db.run(
                """
                INSERT INTO broker_terms (term, backend_pid, host, pid, router, pub, started_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .integer(term), .integer(Int64(postgres.backendPID)), .text(host), .integer(Int64(pid)),
                    .text(router), .text(pub), .integer(now),
                ])
            return BrokerTerm(term: term, host: host, pid: Int64(pid), router: router, pub: pub, startedAt: now)
        }
    }

    /// Who is active on this store now: the session that holds the lock, with its term once it has recorded one (a
    /// broker takes the lock, rebuilds its memory, binds, and only then records its term), and the other brokers.
    public func brokerStatus() throws -> BrokerStatus {
        guard postgres != nil else { return BrokerStatus(active: nil, standbys: []) }
        let holder = try db.queryOne(
            """
            SELECT l.pid, a.application_name, a.backend_start FROM pg_locks l
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database
                WHERE datname = current_database())
            AND ((l.classid::BIGINT << 32) | l.objid::BIGINT) = \(Self.lockKey)
            """)
        var active: BrokerTerm?
        if let holder, let backend = holder.int(0) {
            active =
                try db.queryOne(
                    """
                    SELECT term, host, pid, router, pub, started_at FROM broker_terms
                    WHERE backend_pid = ? ORDER BY term DESC LIMIT 1
                    """, [.integer(backend)]
                ).map {
                    BrokerTerm(
                        term: $0.int(0) ?? 0, host: $0.string(1) ?? "", pid: $0.int(2) ?? 0,
                        router: $0.string(3) ?? "", pub: $0.string(4) ?? "", startedAt: $0.int(5) ?? 0)
                }
                // Holding the lock, not yet serving: starting (or a host command at work on the store).
                ?? BrokerTerm(
                    term: 0, host: holder.string(1) ?? "session \(backend)", pid: 0, router: "", pub: "",
                    startedAt: 0)
        }
        // Standbys: the other brokers' sessions on this database (brokers name theirs "pumasi-broker HOST pid N").
        // A role sees others' application names only with pg_read_all_stats, or when it is theirs.
        let waiting = try db.query(
            """
            SELECT a.application_name || COALESCE(' from ' || host(a.client_addr), '') || ', connected since '
                || to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.application_name LIKE 'pumasi-broker % pid %'
            AND a.pid <> pg_backend_pid() AND a.pid <> COALESCE(?, 0)
            ORDER BY a.backend_start
            """, [holder?.int(0).map(SQLValue.integer) ?? .null])
        return BrokerStatus(active: active, standbys: waiting.compactMap { $0.string(0) })
    }

    /// For a host command that writes (restore, migrate): holds the brokers' lock on this connection until the
    /// command ends, so that no broker is active meanwhile and none becomes active before it is done.
    /// - Throws: when a broker (or another such command) holds it.
    func excludeBrokers() throws {
        guard postgres != nil else { return }
        guard try tryToLead() else {
            let holder = try brokerStatus().active
            throw HostCommand.Failure(
                "a broker (\(holder.map { $0.pid > 0 ? "\($0.host) pid \($0.pid)" : $0.host } ?? "?")) is active on "
                    + "\(path): stop every broker on the store first")
        }
    }
}

extension Store {
    /// Waits to become the active broker, trying for the lock every `interval` (a try that fails leaves nothing in
    /// the server's log, as a blocked wait cancelled by a timeout would).
    /// - Returns: true once this connection holds the lock; false if asked to stop first.
    /// - Throws: when the connection fails (PostgreSQL down or out of reach): the caller starts over.
    /// - Parameter stalled: a holder whose session has done nothing for this long is ended (see `endStalledHolder`);
    ///   nil never ends one.
    func waitToLead(
        every interval: Millis = 200, endingHolderStalledFor stalled: Millis? = nil,
        onEnded: (Int64) -> Void = { _ in },
        shouldStop: () -> Bool
    ) throws -> Bool {
        var tries = 0
        while !shouldStop() {
            if try tryToLead() { return true }
            tries += 1
            if let stalled, tries % 5 == 0, let ended = try endStalledHolder(after: stalled) { onEnded(ended) }
            usleep(useconds_t(interval * 1_000))
        }
        return false
    }

    /// Ends the session that holds the brokers' lock if it has not changed state (begun or ended a statement or a
    /// transaction) for `after`: an active broker runs a pass at least every heartbeat interval, so one that stays
    /// still that long is hung (stopped, stuck mid-pipeline) while its host still answers keepalives, which no
    /// server timeout catches. The server's own clock decides, so the hosts' clocks do not matter.
    /// - Returns: the ended session's server process id; nil when the holder is alive (or there is none).
    func endStalledHolder(after: Millis) throws -> Int64? {
        guard postgres != nil,
            let holder = try db.queryOne(
                """
                SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database
                    WHERE datname = current_database())
                AND ((l.classid::BIGINT << 32) | l.objid::BIGINT) = \(Self.lockKey)
                AND a.state_change < clock_timestamp() - make_interval(secs => ?)
                """, [.real(Double(after) / 1000)]
            )?.int(0)
        else { return nil }
        // Only that session, by its process id.
        let ended = try db.queryOne("SELECT pg_terminate_backend(CAST(? AS INTEGER))", [.integer(holder)])?.int(0)
        return ended == 1 ? holder : nil
    }
}
