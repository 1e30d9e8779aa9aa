import PumasiShared

/// The versioned schema. Each migration runs once, in order, inside a transaction; `PRAGMA user_version`
/// records how far a file has come. Never edit a shipped migration: add the next one.
enum Schema {
    static let migrations: [String] = [
        // 1: the first complete loop.
        """
        CREATE TABLE challenges (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'awarded', 'unawarded')),
            deadline INTEGER NOT NULL,
            award_amount TEXT NOT NULL,
            award_currency TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('maximize', 'minimize')),
            scorer_json TEXT NOT NULL,
            service TEXT NOT NULL,
            time_limit REAL NOT NULL,
            spec_json TEXT NOT NULL,
            closing_announced INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            closed_at INTEGER
        );
        CREATE INDEX challenges_by_state ON challenges (state, deadline);

        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            content BLOB NOT NULL
        );

        CREATE TABLE challenge_files (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('public', 'reference')),
            sha256 TEXT NOT NULL REFERENCES blobs (sha256),
            position INTEGER NOT NULL,
            PRIMARY KEY (challenge_id, role, name)
        );

        CREATE TABLE submissions (
            id TEXT PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            solver TEXT NOT NULL,
            client_id TEXT,
            filename TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            received_at INTEGER NOT NULL,
            UNIQUE (solver, client_id)
        );
        CREATE INDEX submissions_by_challenge ON submissions (challenge_id, received_at);

        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            submission_id TEXT NOT NULL UNIQUE REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            service TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT,
            lease_expires INTEGER,
            error TEXT,
            log TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX jobs_pending ON jobs (state, challenge_id);

        CREATE TABLE scores (
            submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            job_id INTEGER NOT NULL REFERENCES jobs (id),
            score REAL NOT NULL,
            metrics_json TEXT,
            message TEXT,
            log TEXT,
            scored_at INTEGER NOT NULL
        );
        CREATE INDEX scores_by_challenge ON scores (challenge_id, score);

        CREATE TABLE awards (
            id INTEGER PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            solver TEXT NOT NULL,
            amount TEXT NOT NULL,
            currency TEXT NOT NULL,
            score REAL NOT NULL,
            policy TEXT NOT NULL,
            awarded_at INTEGER NOT NULL
        );
        CREATE TRIGGER awards_append_only_update BEFORE UPDATE ON awards
            BEGIN SELECT RAISE(ABORT, 'the award ledger is append-only'); END;
        CREATE TRIGGER awards_append_only_delete BEFORE DELETE ON awards
            BEGIN SELECT RAISE(ABORT, 'the award ledger is append-only'); END;

        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            topic TEXT NOT NULL,
            challenge_id TEXT,
            principal TEXT,
            body_json TEXT NOT NULL
        );
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        """,
        // 2: leases voided by a broker restart are not the evaluators' fault and do not use up a job's attempts.
        """
        ALTER TABLE jobs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
        """,
        // 3: principals: who may connect (CURVE public key) and in which role.
        """
        CREATE TABLE principals (
            public_key TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'seeker', 'solver', 'evaluator', 'judge')),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        """,
        // 4: the principal who posted a challenge: only they (or an admin) close it.
        """
        ALTER TABLE challenges ADD COLUMN owner TEXT;
        """,
        // 5: the audit trail: every state change with the principal who made it. Append-only. Kept apart from
        // the announcement log so that relays see neither gaps nor other people's submissions.
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            principal TEXT,
            action TEXT NOT NULL,
            object TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX audit_by_principal ON audit (principal, id);
        CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
        """,
    ]

    static var currentVersion: Int { migrations.count }

    static func migrate(_ db: SQLiteConnection) throws {
        let version = try db.userVersion
        guard version <= currentVersion else {
            throw SQLiteError(
                code: 0, operation: "migrate",
                message: "database schema version \(version) is newer than this broker's \(currentVersion)")
        }
        for index in version..<currentVersion {
            try db.transaction {
                try db.execute(migrations[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
