import PumasiShared

/// The store's schema in PostgreSQL: the same tables, columns, keys and constraints as an SQLite store at
/// `Schema.currentVersion`, in PostgreSQL's types (64-bit integers, `double precision`, `bytea`, text compared byte
/// by byte as SQLite does), with the same rows kept immutable (`Schema.immutableTables`). `PostgresStoreTests.theSchemaIsSQLitesColumnForColumn` compares
/// the two catalogues column by column, so that neither can drift from the other.
///
/// It needs PostgreSQL 14 or later (`idle_session_timeout` ends a silent active broker's session).
/// PostgreSQL stores begin at schema version 11; a later version adds its migration here and to `Schema` alike.
/// Everything lives in the connection's current schema (`search_path`), so several Pumasi stores can share one
/// database under different schemas.
enum PostgresSchema {
    static let firstVersion = 11

    /// The migrations after `firstVersion`, by the version each brings a store to: the same changes as `Schema`'s
    /// migrations of those numbers, in PostgreSQL's words. Never edit a shipped one: add the next.
    static let migrations: [Int: String] = [
        // 12: one active key per name, not one key per name for ever.
        12: """
        ALTER TABLE principals DROP CONSTRAINT principals_name_key;
        CREATE UNIQUE INDEX principals_active_name ON principals (name) WHERE revoked_at IS NULL;
        """,
        // 13: confidential challenges: evaluator scopes, agreements and acceptances, invitations, clarifications,
        // scorecards, the agreement an award was made under.
        13: """
        ALTER TABLE principals ADD COLUMN scope \(text);
        ALTER TABLE judgements ADD COLUMN criteria_json \(text);
        ALTER TABLE awards ADD COLUMN agreement \(text);

        CREATE TABLE agreements (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            version BIGINT NOT NULL,
            sha256 \(text) NOT NULL,
            kind \(text) NOT NULL CHECK (kind IN ('confidentiality', 'licence', 'ip-transfer')),
            text \(text) NOT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (challenge_id, version)
        );

        CREATE TABLE acceptances (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            principal \(text) NOT NULL,
            version BIGINT NOT NULL,
            sha256 \(text) NOT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (challenge_id, principal, version)
        );

        CREATE TABLE invitations (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            principal \(text) NOT NULL,
            invited_at BIGINT NOT NULL,
            via \(text) NOT NULL,
            revoked_at BIGINT,
            PRIMARY KEY (challenge_id, principal)
        );

        CREATE TABLE invitation_tokens (
            id \(text) PRIMARY KEY,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            token_sha256 \(text) NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            redeemed_by \(text),
            redeemed_at BIGINT,
            revoked_at BIGINT
        );

        CREATE TABLE clarifications (
            id \(text) PRIMARY KEY,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            asker \(text),
            question \(text) NOT NULL,
            asked_at BIGINT NOT NULL,
            answer \(text),
            answered_by \(text),
            answered_at BIGINT,
            public BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX clarifications_by_challenge ON clarifications (challenge_id, asked_at);
        """ + immutabilityTriggers(since: 13),
        // 14: teams.
        14: """
        ALTER TABLE submissions ADD COLUMN team_id \(text);
        ALTER TABLE awards ADD COLUMN team \(text);

        CREATE TABLE teams (
            id \(text) PRIMARY KEY,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            name \(text) NOT NULL,
            created_by \(text) NOT NULL,
            created_at BIGINT NOT NULL,
            shares_json \(text),
            merged_into \(text),
            UNIQUE (challenge_id, name)
        );

        CREATE TABLE team_members (
            team_id \(text) NOT NULL REFERENCES teams (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            principal \(text) NOT NULL,
            joined_at BIGINT NOT NULL,
            left_at BIGINT,
            PRIMARY KEY (team_id, principal, joined_at)
        );
        CREATE UNIQUE INDEX team_members_active ON team_members (challenge_id, principal) WHERE left_at IS NULL;

        CREATE TABLE team_invitations (
            team_id \(text) NOT NULL REFERENCES teams (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            invitee \(text) NOT NULL,
            invited_by \(text) NOT NULL,
            at BIGINT NOT NULL,
            PRIMARY KEY (team_id, invitee)
        );

        CREATE TABLE entrant_merges (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            from_entrant \(text) NOT NULL,
            into_team \(text) NOT NULL REFERENCES teams (id) \(deferrable),
            at BIGINT NOT NULL,
            PRIMARY KEY (challenge_id, from_entrant, at)
        );
        """ + immutabilityTriggers(since: 14),
        // 15: phases.
        15: """
        ALTER TABLE submissions ADD COLUMN phase BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE submissions ADD COLUMN carried_from \(text);

        CREATE TABLE phase_openings (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            phase BIGINT NOT NULL,
            opened_at BIGINT NOT NULL,
            qualified_json \(text),
            PRIMARY KEY (challenge_id, phase)
        );
        """ + immutabilityTriggers(since: 15),
        // 16: files of any size.
        16: """
        ALTER TABLE submissions ADD COLUMN external BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE blobs ADD COLUMN external BIGINT NOT NULL DEFAULT 0;

        CREATE TABLE stored_files (
            sha256 \(text) PRIMARY KEY,
            size BIGINT NOT NULL,
            stored_at BIGINT NOT NULL
        );

        CREATE TABLE uploads (
            id \(text) PRIMARY KEY,
            challenge_id \(text) REFERENCES challenges (id) \(deferrable),
            principal \(text) NOT NULL,
            sha256 \(text) NOT NULL,
            size BIGINT NOT NULL,
            filename \(text) NOT NULL,
            created_at BIGINT NOT NULL
        );
        """ + immutabilityTriggers(since: 16),
        // 17: detailed results.
        17: "ALTER TABLE outcomes ADD COLUMN detailed_results \(text);",
        // 18: submission comments, challenge handles.
        18: """
        ALTER TABLE submissions ADD COLUMN comment \(text);
        ALTER TABLE challenges ADD COLUMN slug \(text);
        CREATE UNIQUE INDEX challenges_by_slug ON challenges (slug);
        """,
        // 19: the submissions still without an outcome under a scorer version.
        19: """
        CREATE TABLE unscored (
            submission_id \(text) NOT NULL,
            version BIGINT NOT NULL,
            PRIMARY KEY (submission_id, version)
        );
        """ + Store.unscoredFill,
    ]

    /// The whole schema at `firstVersion`. Foreign keys are deferrable, so that a restore may insert rows that
    /// refer to each other in any order and have them checked at its commit.
    static let initial = """
        CREATE TABLE pumasi_schema (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );

        CREATE FUNCTION pumasi_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation', MESSAGE = TG_ARGV[0];
        END $$;

        CREATE TABLE challenges (
            id \(text) PRIMARY KEY,
            title \(text) NOT NULL,
            description \(text) NOT NULL,
            state \(text) NOT NULL CHECK (state IN ('draft', 'open', 'closed', 'awarded', 'unawarded', 'cancelled')),
            deadline BIGINT NOT NULL,
            award_amount \(text) NOT NULL,
            award_currency \(text) NOT NULL,
            direction \(text) NOT NULL CHECK (direction IN ('maximize', 'minimize')),
            scorer_json \(text) NOT NULL,
            service \(text) NOT NULL,
            time_limit DOUBLE PRECISION NOT NULL,
            spec_json \(text) NOT NULL,
            closing_announced BIGINT NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            closed_at BIGINT,
            owner \(text),
            starts_at BIGINT NOT NULL,
            scorer_version BIGINT NOT NULL DEFAULT 1
        );
        CREATE INDEX challenges_by_state ON challenges (state, deadline);

        CREATE TABLE blobs (
            sha256 \(text) PRIMARY KEY,
            size BIGINT NOT NULL,
            content BYTEA NOT NULL
        );

        CREATE TABLE challenge_files (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            name \(text) NOT NULL,
            role \(text) NOT NULL CHECK (role IN ('public', 'reference')),
            sha256 \(text) NOT NULL REFERENCES blobs (sha256) \(deferrable),
            position BIGINT NOT NULL,
            PRIMARY KEY (challenge_id, role, name)
        );

        CREATE TABLE submissions (
            id \(text) PRIMARY KEY,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            solver \(text) NOT NULL,
            client_id \(text),
            filename \(text) NOT NULL,
            sha256 \(text) NOT NULL,
            size BIGINT NOT NULL,
            content BYTEA NOT NULL,
            received_at BIGINT NOT NULL,
            seq BIGINT NOT NULL DEFAULT 0,
            UNIQUE (solver, client_id)
        );
        CREATE INDEX submissions_by_challenge ON submissions (challenge_id, received_at);
        CREATE UNIQUE INDEX submissions_by_seq ON submissions (seq);

        CREATE TABLE principals (
            public_key \(text) PRIMARY KEY,
            name \(text) NOT NULL UNIQUE,
            role \(text) NOT NULL CHECK (role IN ('admin', 'seeker', 'solver', 'evaluator', 'judge')),
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        );
        CREATE FUNCTION pumasi_principals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('pumasi_principals', current_schema());
            RETURN NULL;
        END $$;
        CREATE TRIGGER principals_changed AFTER INSERT OR UPDATE OR DELETE ON principals
            FOR EACH STATEMENT EXECUTE FUNCTION pumasi_principals_changed();

        CREATE TABLE audit (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at BIGINT NOT NULL,
            principal \(text),
            action \(text) NOT NULL,
            object \(text) NOT NULL,
            detail \(text)
        );
        CREATE INDEX audit_by_principal ON audit (principal, id);

        CREATE TABLE outcomes (
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            version BIGINT NOT NULL,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            ok BIGINT NOT NULL CHECK (ok IN (0, 1)),
            score DOUBLE PRECISION,
            metrics_json \(text),
            message \(text),
            error \(text),
            log \(text),
            evaluator \(text),
            attempt BIGINT NOT NULL,
            at BIGINT NOT NULL,
            CHECK (ok = 0 OR score IS NOT NULL),
            PRIMARY KEY (submission_id, version)
        );
        CREATE INDEX outcomes_by_challenge ON outcomes (challenge_id, version);

        CREATE TABLE attempts (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            at BIGINT NOT NULL,
            evaluator \(text),
            reason \(text) NOT NULL,
            version BIGINT NOT NULL DEFAULT 1
        );
        CREATE INDEX attempts_by_submission ON attempts (submission_id);

        CREATE TABLE events (
            seq BIGINT PRIMARY KEY,
            at BIGINT NOT NULL,
            topic \(text) NOT NULL,
            challenge_id \(text),
            principal \(text),
            body_json \(text) NOT NULL
        );

        CREATE TABLE final_selections (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            solver \(text) NOT NULL,
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            at BIGINT NOT NULL,
            PRIMARY KEY (challenge_id, solver, submission_id)
        );

        CREATE TABLE disqualifications (
            submission_id \(text) PRIMARY KEY REFERENCES submissions (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            principal \(text),
            reason \(text) NOT NULL,
            at BIGINT NOT NULL
        );

        CREATE TABLE scorer_versions (
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            version BIGINT NOT NULL,
            scorer_json \(text) NOT NULL,
            service \(text) NOT NULL,
            at BIGINT NOT NULL,
            principal \(text),
            reason \(text),
            PRIMARY KEY (challenge_id, version)
        );

        CREATE TABLE replica_results (
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            version BIGINT NOT NULL,
            replica BIGINT NOT NULL,
            evaluator \(text) NOT NULL,
            ok BIGINT NOT NULL CHECK (ok IN (0, 1)),
            score DOUBLE PRECISION,
            metrics_json \(text),
            message \(text),
            error \(text),
            log \(text),
            at BIGINT NOT NULL,
            PRIMARY KEY (submission_id, version, replica)
        );

        CREATE TABLE awards (
            id BIGINT PRIMARY KEY,
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            solver \(text) NOT NULL,
            amount \(text) NOT NULL,
            currency \(text) NOT NULL,
            score DOUBLE PRECISION,
            policy \(text) NOT NULL,
            awarded_at BIGINT NOT NULL,
            rationale \(text),
            origin \(text),
            prev_hash \(text) NOT NULL,
            entry \(text) NOT NULL,
            hash \(text) NOT NULL UNIQUE
        );
        CREATE INDEX awards_by_challenge ON awards (challenge_id);

        CREATE TABLE judging_assignments (
            id \(text) PRIMARY KEY,
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            judge \(text) NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            UNIQUE (submission_id, judge)
        );
        CREATE INDEX judging_assignments_by_judge ON judging_assignments (judge, challenge_id);

        CREATE TABLE judgements (
            assignment_id \(text) PRIMARY KEY REFERENCES judging_assignments (id) \(deferrable),
            submission_id \(text) NOT NULL REFERENCES submissions (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            judge \(text) NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            comment \(text),
            at BIGINT NOT NULL,
            UNIQUE (submission_id, judge)
        );

        CREATE TABLE judged (
            submission_id \(text) PRIMARY KEY REFERENCES submissions (id) \(deferrable),
            challenge_id \(text) NOT NULL REFERENCES challenges (id) \(deferrable),
            score DOUBLE PRECISION NOT NULL,
            rule \(text) NOT NULL,
            judgements BIGINT NOT NULL,
            at BIGINT NOT NULL
        );
        CREATE INDEX judged_by_challenge ON judged (challenge_id);

        CREATE VIEW audit_trail (at, principal, action, object, detail, source, ord) AS
            SELECT at, principal, action, object, detail, 0, id FROM audit
            UNION ALL
            SELECT received_at, solver, 'submission.submit', id,
                'challenge=' || challenge_id || ' sha256=' || sha256, 1, seq FROM submissions
            UNION ALL
            SELECT at, evaluator, CASE ok WHEN 1 THEN 'submission.score' ELSE 'submission.fail' END, submission_id,
                CASE ok WHEN 1 THEN 'score=' || pumasi_real_text(score) ELSE error END
                    || CASE WHEN version > 1 THEN ' (scorer version ' || version || ')' ELSE '' END,
                2, version FROM outcomes;

        -- What lives beside an SQLite file lives here, where every broker host finds it.
        CREATE TABLE ledger_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq BIGINT NOT NULL,
            hash \(text) NOT NULL
        );
        -- Each time a broker became the active one: its session, host, process and endpoints. Append-only.
        CREATE TABLE broker_terms (
            term BIGINT PRIMARY KEY,
            backend_pid BIGINT NOT NULL,
            host \(text) NOT NULL,
            pid BIGINT NOT NULL,
            router \(text) NOT NULL,
            pub \(text) NOT NULL,
            started_at BIGINT NOT NULL
        );
        CREATE TRIGGER broker_terms_immutable BEFORE UPDATE OR DELETE ON broker_terms
            FOR EACH ROW EXECUTE FUNCTION pumasi_refuse('broker terms are append-only');
        CREATE FUNCTION pumasi_ledger_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
                RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                    MESSAGE = 'the ledger head only moves forward';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER ledger_head_forward BEFORE UPDATE OR DELETE ON ledger_head
            FOR EACH ROW EXECUTE FUNCTION pumasi_ledger_head_forward();
        CREATE TABLE broker_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            public_key \(text) NOT NULL,
            secret_key \(text) NOT NULL,
            created_at BIGINT NOT NULL
        );
        """

    /// The tables a PostgreSQL store has and an SQLite one does not: what lives beside an SQLite file (the ledger's
    /// head, the broker's key), and what only several brokers need (their terms as the active one).
    static let ownTables: Set<String> = ["pumasi_schema", "ledger_head", "broker_identity", "broker_terms"]

    /// Text compared byte by byte, as SQLite compares it, whatever the database's locale.
    private static let text = "TEXT COLLATE \"C\""
    private static let deferrable = "DEFERRABLE INITIALLY IMMEDIATE"

    /// SQLite prints a REAL with `%!.15g` (`1.0`, `0.25`, `1e-05` as `1.0e-05`): the audit trail's score details read
    /// the same on both backends.
    static let realText = """
        CREATE FUNCTION pumasi_real_text(value DOUBLE PRECISION) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE WHEN value = trunc(value) AND abs(value) < 1e15 THEN trunc(value)::BIGINT::TEXT || '.0'
                ELSE value::TEXT END
        $$;
        """

    /// The triggers that keep `Schema.immutableTables` so: those of the first schema, or those a migration adds.
    static func immutabilityTriggers(since: Int? = nil) -> String {
        Schema.immutableTables.filter { table in since.map { table.since == $0 } ?? (table.since <= firstVersion) }.map
        {
            table in
            let message = table.message.replacingOccurrences(of: "'", with: "''")
            return """
                CREATE TRIGGER \(table.name)_immutable BEFORE UPDATE OR DELETE ON \(table.name)
                    FOR EACH ROW EXECUTE FUNCTION pumasi_refuse('\(message)');
                """
        }.joined(separator: "\n")
    }

    /// The schema version of the store behind `db`; 0 when it holds none.
    static func version(_ db: any SQLDatabase) throws -> Int {
        guard try db.queryOne("SELECT to_regclass('pumasi_schema') IS NOT NULL")?.int(0) == 1 else { return 0 }
        return Int(try db.queryOne("SELECT version FROM pumasi_schema WHERE id = 1")?.int(0) ?? 0)
    }

    /// Brings the store to the current schema. Brokers starting together take turns (a transaction-scoped
    /// advisory lock), so only one creates the schema.
    /// - Parameter create: whether a schema without a store gets one; if not, it is refused.
    static func migrate(_ db: PostgresConnection, create: Bool = true) throws {
        try db.transaction {
            try db.run("SELECT pg_advisory_xact_lock(hashtext('pumasi-schema:' || current_schema()))")
            let version = try version(db)
            if version == 0 {
                if try db.queryOne("SELECT to_regclass('challenges') IS NOT NULL")?.int(0) == 1 {
                    throw DatabaseError(
                        .postgresql, kind: .schema, code: "", operation: "migrate",
                        message: "the database's schema has tables but no pumasi_schema: it is not a Pumasi store")
                }
                guard create else {
                    throw HostCommand.Failure("no broker store in \(db.displayName) (start a broker on it first)")
                }
                try db.execute(realText + initial + immutabilityTriggers())
                try db.run("INSERT INTO pumasi_schema (id, version) VALUES (1, ?)", [.integer(Int64(firstVersion))])
            }
            let current = max(version, firstVersion)
            guard current <= Schema.currentVersion else {
                throw DatabaseError(
                    .postgresql, kind: .schema, code: "", operation: "migrate",
                    message: "database schema version \(version) is newer than this broker's \(Schema.currentVersion)")
            }
            for next in (current + 1)...max(current + 1, Schema.currentVersion) where next <= Schema.currentVersion {
                guard let migration = migrations[next] else {
                    throw DatabaseError(
                        .postgresql, kind: .schema, code: "", operation: "migrate",
                        message: "no PostgreSQL migration to schema version \(next)")
                }
                try db.execute(migration)
                try db.run("UPDATE pumasi_schema SET version = ?", [.integer(Int64(next))])
            }
        }
    }

    /// "ok" when the schema is this broker's and no foreign key is broken (a restore defers them to its commit).
    static func check(_ db: any SQLDatabase) throws -> String {
        let version = try version(db)
        guard version == Schema.currentVersion else { return "schema version \(version), not \(Schema.currentVersion)" }
        return "ok"
    }
}
