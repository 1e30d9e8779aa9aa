import PumasiShared

/// The versioned schema of an SQLite store (`PostgresSchema` is the same schema in PostgreSQL). Each migration runs once, in order, inside a transaction; `PRAGMA user_version`
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
        // 6: a leaner write path. A job is its submission (the submission's rowid numbers it); its end is one
        // `outcomes` row (a score or a failure, with who reported it); its failed attempts are `attempts` rows,
        // written only when an attempt fails; leases live in the broker's memory. Submissions, outcomes and
        // attempts are immutable, so they are the audit trail of submitting and scoring: the `audit_trail`
        // view joins them to the `audit` table, and the audit rows that duplicated them are folded in here.
        """
        CREATE TABLE outcomes (
            submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
            score REAL,
            metrics_json TEXT,
            message TEXT,
            error TEXT,
            log TEXT,
            evaluator TEXT,
            attempt INTEGER NOT NULL,
            at INTEGER NOT NULL,
            CHECK (ok = 0 OR score IS NOT NULL)
        ) WITHOUT ROWID;
        CREATE INDEX outcomes_by_challenge ON outcomes (challenge_id);

        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            at INTEGER NOT NULL,
            evaluator TEXT,
            reason TEXT NOT NULL
        );
        CREATE INDEX attempts_by_submission ON attempts (submission_id);

        INSERT INTO outcomes (submission_id, challenge_id, ok, score, metrics_json, message, error, log, evaluator,
            attempt, at)
        SELECT sc.submission_id, sc.challenge_id, 1, sc.score, sc.metrics_json, sc.message, NULL, sc.log,
            (SELECT a.principal FROM audit a WHERE a.action = 'submission.score' AND a.object = sc.submission_id
             ORDER BY a.id LIMIT 1),
            MAX(1, j.attempts - j.restarts), sc.scored_at
        FROM scores sc JOIN jobs j ON j.id = sc.job_id;
        INSERT INTO outcomes (submission_id, challenge_id, ok, error, log, evaluator, attempt, at)
        SELECT j.submission_id, j.challenge_id, 0, COALESCE(j.error, 'failed'), j.log,
            (SELECT a.principal FROM audit a WHERE a.action = 'submission.fail' AND a.object = j.submission_id
             ORDER BY a.id LIMIT 1),
            MAX(1, j.attempts - j.restarts), j.updated_at
        FROM jobs j WHERE j.state = 'failed';
        WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
        INSERT INTO attempts (submission_id, at, evaluator, reason)
        SELECT j.submission_id, j.updated_at, NULL, 'an attempt that failed before schema 6'
        FROM jobs j JOIN n ON n.i <= j.attempts - j.restarts - (j.state != 'queued');

        DROP TABLE scores;
        DROP TABLE jobs;

        DROP TRIGGER audit_append_only_delete;
        DELETE FROM audit WHERE action IN ('submission.submit', 'submission.score', 'submission.fail');
        CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

        CREATE TRIGGER submissions_immutable_update BEFORE UPDATE ON submissions
            BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END;
        CREATE TRIGGER submissions_immutable_delete BEFORE DELETE ON submissions
            BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END;
        CREATE TRIGGER outcomes_immutable_update BEFORE UPDATE ON outcomes
            BEGIN SELECT RAISE(ABORT, 'a recorded outcome is never changed'); END;
        CREATE TRIGGER outcomes_immutable_delete BEFORE DELETE ON outcomes
            BEGIN SELECT RAISE(ABORT, 'a recorded outcome is never changed'); END;
        CREATE TRIGGER attempts_append_only_update BEFORE UPDATE ON attempts
            BEGIN SELECT RAISE(ABORT, 'attempts are append-only'); END;
        CREATE TRIGGER attempts_append_only_delete BEFORE DELETE ON attempts
            BEGIN SELECT RAISE(ABORT, 'attempts are append-only'); END;

        CREATE VIEW audit_trail (at, principal, action, object, detail, source, ord) AS
            SELECT at, principal, action, object, detail, 0, id FROM audit
            UNION ALL
            SELECT received_at, solver, 'submission.submit', id,
                'challenge=' || challenge_id || ' sha256=' || sha256, 1, rowid FROM submissions
            UNION ALL
            SELECT at, evaluator, CASE ok WHEN 1 THEN 'submission.score' ELSE 'submission.fail' END, submission_id,
                CASE ok WHEN 1 THEN 'score=' || score ELSE error END, 2, 0 FROM outcomes;

        -- The event log without AUTOINCREMENT (whose counter row cost a page per commit): rows are never
        -- deleted, so the next sequence number is the largest plus one either way.
        CREATE TABLE events_v6 (
            seq INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            topic TEXT NOT NULL,
            challenge_id TEXT,
            principal TEXT,
            body_json TEXT NOT NULL
        );
        INSERT INTO events_v6 (seq, at, topic, challenge_id, principal, body_json)
            SELECT seq, at, topic, challenge_id, principal, body_json FROM events;
        DROP TABLE events;
        ALTER TABLE events_v6 RENAME TO events;
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        """,
        // 7: the challenge lifecycle of issue 5: drafts that open at their start time, and cancellation. SQLite
        // cannot change a CHECK constraint in place, so the table is rebuilt (with foreign keys off, as SQLite's
        // documentation prescribes; `migrate` checks them afterwards). Final selections and disqualifications.
        """
        CREATE TABLE challenges_v7 (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('draft', 'open', 'closed', 'awarded', 'unawarded', 'cancelled')),
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
            closed_at INTEGER,
            owner TEXT,
            starts_at INTEGER NOT NULL
        );
        INSERT INTO challenges_v7 (id, title, description, state, deadline, award_amount, award_currency, direction,
            scorer_json, service, time_limit, spec_json, closing_announced, created_at, closed_at, owner, starts_at)
        SELECT id, title, description, state, deadline, award_amount, award_currency, direction, scorer_json, service,
            time_limit, spec_json, closing_announced, created_at, closed_at, owner, created_at FROM challenges;
        DROP TABLE challenges;
        ALTER TABLE challenges_v7 RENAME TO challenges;
        CREATE INDEX challenges_by_state ON challenges (state, deadline);

        CREATE TABLE final_selections (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            solver TEXT NOT NULL,
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            at INTEGER NOT NULL,
            PRIMARY KEY (challenge_id, solver, submission_id)
        ) WITHOUT ROWID;

        CREATE TABLE disqualifications (
            submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            principal TEXT,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        CREATE TRIGGER disqualifications_final_update BEFORE UPDATE ON disqualifications
            BEGIN SELECT RAISE(ABORT, 'a disqualification is final'); END;
        CREATE TRIGGER disqualifications_final_delete BEFORE DELETE ON disqualifications
            BEGIN SELECT RAISE(ABORT, 'a disqualification is final'); END;

        ALTER TABLE awards ADD COLUMN rationale TEXT;
        """,
        // 8: rescoring and redundant scoring. A challenge's scorer has versions (`scorer_versions`; the current
        // one is `challenges.scorer_version`); an outcome belongs to a submission and a scorer version, so a
        // rescore keeps the old scores. With redundancy, each replica's result is kept in `replica_results`
        // until enough of them agree.
        """
        ALTER TABLE challenges ADD COLUMN scorer_version INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE scorer_versions (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            version INTEGER NOT NULL,
            scorer_json TEXT NOT NULL,
            service TEXT NOT NULL,
            at INTEGER NOT NULL,
            principal TEXT,
            reason TEXT,
            PRIMARY KEY (challenge_id, version)
        ) WITHOUT ROWID;
        INSERT INTO scorer_versions (challenge_id, version, scorer_json, service, at, principal)
            SELECT id, 1, scorer_json, service, created_at, owner FROM challenges;
        CREATE TRIGGER scorer_versions_append_only_update BEFORE UPDATE ON scorer_versions
            BEGIN SELECT RAISE(ABORT, 'scorer versions are append-only'); END;
        CREATE TRIGGER scorer_versions_append_only_delete BEFORE DELETE ON scorer_versions
            BEGIN SELECT RAISE(ABORT, 'scorer versions are append-only'); END;

        DROP VIEW audit_trail;
        CREATE TABLE outcomes_v8 (
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            version INTEGER NOT NULL,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
            score REAL,
            metrics_json TEXT,
            message TEXT,
            error TEXT,
            log TEXT,
            evaluator TEXT,
            attempt INTEGER NOT NULL,
            at INTEGER NOT NULL,
            CHECK (ok = 0 OR score IS NOT NULL),
            PRIMARY KEY (submission_id, version)
        ) WITHOUT ROWID;
        INSERT INTO outcomes_v8 (submission_id, version, challenge_id, ok, score, metrics_json, message, error, log,
            evaluator, attempt, at)
        SELECT submission_id, 1, challenge_id, ok, score, metrics_json, message, error, log, evaluator, attempt, at
        FROM outcomes;
        DROP TABLE outcomes;
        ALTER TABLE outcomes_v8 RENAME TO outcomes;
        CREATE INDEX outcomes_by_challenge ON outcomes (challenge_id, version);
        CREATE TRIGGER outcomes_immutable_update BEFORE UPDATE ON outcomes
            BEGIN SELECT RAISE(ABORT, 'a recorded outcome is never changed'); END;
        CREATE TRIGGER outcomes_immutable_delete BEFORE DELETE ON outcomes
            BEGIN SELECT RAISE(ABORT, 'a recorded outcome is never changed'); END;

        ALTER TABLE attempts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

        CREATE TABLE replica_results (
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            version INTEGER NOT NULL,
            replica INTEGER NOT NULL,
            evaluator TEXT NOT NULL,
            ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
            score REAL,
            metrics_json TEXT,
            message TEXT,
            error TEXT,
            log TEXT,
            at INTEGER NOT NULL,
            PRIMARY KEY (submission_id, version, replica)
        ) WITHOUT ROWID;
        CREATE TRIGGER replica_results_append_only_update BEFORE UPDATE ON replica_results
            BEGIN SELECT RAISE(ABORT, 'replica results are append-only'); END;
        CREATE TRIGGER replica_results_append_only_delete BEFORE DELETE ON replica_results
            BEGIN SELECT RAISE(ABORT, 'replica results are append-only'); END;

        CREATE VIEW audit_trail (at, principal, action, object, detail, source, ord) AS
            SELECT at, principal, action, object, detail, 0, id FROM audit
            UNION ALL
            SELECT received_at, solver, 'submission.submit', id,
                'challenge=' || challenge_id || ' sha256=' || sha256, 1, rowid FROM submissions
            UNION ALL
            SELECT at, evaluator, CASE ok WHEN 1 THEN 'submission.score' ELSE 'submission.fail' END, submission_id,
                CASE ok WHEN 1 THEN 'score=' || score ELSE error END
                    || CASE WHEN version > 1 THEN ' (scorer version ' || version || ')' ELSE '' END,
                2, version FROM outcomes;
        """,
        // 9 (ledger): the award ledger is hash-chained (see `LedgerEntry`).
        ledgerMigration,
        // 10: human judging. An assignment gives one judge one submission, blind, once (the UNIQUE pair);
        // a judgement is a judge's score and comment for an assignment; a `judged` row is the combined score,
        // written when the last judgement a submission needs is in. All three are append-only: an assignment
        // lapses by its time, not by an update.
        """
        CREATE TABLE judging_assignments (
            id TEXT PRIMARY KEY,
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            judge TEXT NOT NULL,
            issued_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            UNIQUE (submission_id, judge)
        );
        CREATE INDEX judging_assignments_by_judge ON judging_assignments (judge, challenge_id);

        CREATE TABLE judgements (
            assignment_id TEXT PRIMARY KEY REFERENCES judging_assignments (id),
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            judge TEXT NOT NULL,
            score REAL NOT NULL,
            comment TEXT,
            at INTEGER NOT NULL,
            UNIQUE (submission_id, judge)
        );

        CREATE TABLE judged (
            submission_id TEXT PRIMARY KEY REFERENCES submissions (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            score REAL NOT NULL,
            rule TEXT NOT NULL,
            judgements INTEGER NOT NULL,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX judged_by_challenge ON judged (challenge_id);

        CREATE TRIGGER judging_assignments_append_only_update BEFORE UPDATE ON judging_assignments
            BEGIN SELECT RAISE(ABORT, 'judging assignments are append-only'); END;
        CREATE TRIGGER judging_assignments_append_only_delete BEFORE DELETE ON judging_assignments
            BEGIN SELECT RAISE(ABORT, 'judging assignments are append-only'); END;
        CREATE TRIGGER judgements_append_only_update BEFORE UPDATE ON judgements
            BEGIN SELECT RAISE(ABORT, 'judgements are append-only'); END;
        CREATE TRIGGER judgements_append_only_delete BEFORE DELETE ON judgements
            BEGIN SELECT RAISE(ABORT, 'judgements are append-only'); END;
        CREATE TRIGGER judged_immutable_update BEFORE UPDATE ON judged
            BEGIN SELECT RAISE(ABORT, 'a judged score is never changed'); END;
        CREATE TRIGGER judged_immutable_delete BEFORE DELETE ON judged
            BEGIN SELECT RAISE(ABORT, 'a judged score is never changed'); END;
        """,
        // 11: jobs are numbered by an explicit sequence, not SQLite's rowid: `submissions.seq` (1, 2, 3 … in arrival
        // order), which PostgreSQL stores the same way. The existing rows keep their rowid as their number.
        """
        DROP TRIGGER submissions_immutable_update;
        ALTER TABLE submissions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE submissions SET seq = rowid;
        CREATE UNIQUE INDEX submissions_by_seq ON submissions (seq);
        CREATE TRIGGER submissions_immutable_update BEFORE UPDATE ON submissions
            BEGIN SELECT RAISE(ABORT, 'submissions are immutable'); END;

        DROP VIEW audit_trail;
        CREATE VIEW audit_trail (at, principal, action, object, detail, source, ord) AS
            SELECT at, principal, action, object, detail, 0, id FROM audit
            UNION ALL
            SELECT received_at, solver, 'submission.submit', id,
                'challenge=' || challenge_id || ' sha256=' || sha256, 1, seq FROM submissions
            UNION ALL
            SELECT at, evaluator, CASE ok WHEN 1 THEN 'submission.score' ELSE 'submission.fail' END, submission_id,
                CASE ok WHEN 1 THEN 'score=' || score ELSE error END
                    || CASE WHEN version > 1 THEN ' (scorer version ' || version || ')' ELSE '' END,
                2, version FROM outcomes;
        """,
        // 12: a name belongs to one active key at a time, not for ever: a principal whose key was revoked may be given
        // a new one under the same name (`keys add`, `keys rotate`), keeping the history that names them. SQLite
        // cannot drop a UNIQUE constraint in place, so the table is rebuilt.
        """
        CREATE TABLE principals_v12 (
            public_key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('admin', 'seeker', 'solver', 'evaluator', 'judge')),
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        INSERT INTO principals_v12 (public_key, name, role, created_at, revoked_at)
            SELECT public_key, name, role, created_at, revoked_at FROM principals;
        DROP TABLE principals;
        ALTER TABLE principals_v12 RENAME TO principals;
        CREATE UNIQUE INDEX principals_active_name ON principals (name) WHERE revoked_at IS NULL;
        """,
        // 13: confidential challenges (issue 11). An evaluator key may be bound to a seeker or a challenge
        // (`principals.scope`). A challenge's agreement has versions, each kept whole; a solver's acceptance names
        // the version and its hash; an award names the agreement it was made under. Invitations (by name, or by a
        // token handed out of band, kept as its hash) say who may see an invitation-only challenge. Clarifications
        // are a solver's question and the seeker's answer. A judgement may score a scorecard's criteria.
        schema13,
        // 14: teams (issue 12). A submission records the team its solver was in (`submissions.team_id`); a merge
        // (a solver joining a team, or one team into another) moves what the merged entrant had submitted until
        // then (`entrant_merges`, append-only), so the counts and rankings follow it and nothing is rewritten.
        schema14,
        // 15: phases (issue 12). A submission belongs to a phase (0 for every submission before: a challenge
        // without phases is one phase); one carried over from the phase before names its original. A phase's
        // opening is recorded once (append-only), with who qualified for it.
        """
        ALTER TABLE submissions ADD COLUMN phase INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE submissions ADD COLUMN carried_from TEXT;

        CREATE TABLE phase_openings (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            phase INTEGER NOT NULL,
            opened_at INTEGER NOT NULL,
            qualified_json TEXT,
            PRIMARY KEY (challenge_id, phase)
        );
        CREATE TRIGGER phase_openings_append_only_update BEFORE UPDATE ON phase_openings
            BEGIN SELECT RAISE(ABORT, 'phase openings are append-only'); END;
        CREATE TRIGGER phase_openings_append_only_delete BEFORE DELETE ON phase_openings
            BEGIN SELECT RAISE(ABORT, 'phase openings are append-only'); END;
        """,
        // 16: files of any size (issue 13). A submission's or a challenge file's bytes may live in the blob directory,
        // by SHA-256, instead of its row (`submissions.external`, `blobs.external`); `stored_files` lists what the
        // directory holds (append-only), and `uploads` the uploads under way (a challenge file's before its challenge
        // exists: no `challenge_id`), whose bytes are partial files in the same directory.
        schema16,
        // 17: a Codabench scoring program's detailed results page, kept with the outcome it came with (issue 13).
        "ALTER TABLE outcomes ADD COLUMN detailed_results TEXT;",
        // 18: a solver's comment on a submission (`submit -m`), and a challenge's handle (`slug`: unique, chosen by its
        // seeker, usable wherever its id is) (issue 14).
        """
        ALTER TABLE submissions ADD COLUMN comment TEXT;
        ALTER TABLE challenges ADD COLUMN slug TEXT;
        CREATE UNIQUE INDEX challenges_by_slug ON challenges (slug);
        """,
        // 19: the submissions still without an outcome under a scorer version (issue 15), so that a broker starting on
        // a store of a million submissions finds the few it must queue again without reading every one of them. A
        // row is written with its submission (or by a rescore, for each of the challenge's) and deleted with the
        // outcome; the broker's start reads these rows only, and deletes any left behind by a challenge that ended.
        // No foreign key: a hint, read through a join with `submissions`, whose check would cost every job a lookup.
        """
        CREATE TABLE unscored (
            submission_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (submission_id, version)
        ) WITHOUT ROWID;
        """ + Store.unscoredFill,
    ]

    static let schema16 = """
        ALTER TABLE submissions ADD COLUMN external INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE blobs ADD COLUMN external INTEGER NOT NULL DEFAULT 0;

        CREATE TABLE stored_files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            stored_at INTEGER NOT NULL
        );
        CREATE TRIGGER stored_files_append_only_update BEFORE UPDATE ON stored_files
            BEGIN SELECT RAISE(ABORT, 'stored files are append-only'); END;
        CREATE TRIGGER stored_files_append_only_delete BEFORE DELETE ON stored_files
            BEGIN SELECT RAISE(ABORT, 'stored files are append-only'); END;

        CREATE TABLE uploads (
            id TEXT PRIMARY KEY,
            challenge_id TEXT REFERENCES challenges (id),
            principal TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            filename TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        """

    static let schema14 = """
        ALTER TABLE submissions ADD COLUMN team_id TEXT;
        ALTER TABLE awards ADD COLUMN team TEXT;

        CREATE TABLE teams (
            id TEXT PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            name TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            shares_json TEXT,
            merged_into TEXT,
            UNIQUE (challenge_id, name)
        );

        CREATE TABLE team_members (
            team_id TEXT NOT NULL REFERENCES teams (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            principal TEXT NOT NULL,
            joined_at INTEGER NOT NULL,
            left_at INTEGER,
            PRIMARY KEY (team_id, principal, joined_at)
        );
        CREATE UNIQUE INDEX team_members_active ON team_members (challenge_id, principal) WHERE left_at IS NULL;

        CREATE TABLE team_invitations (
            team_id TEXT NOT NULL REFERENCES teams (id),
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            invitee TEXT NOT NULL,
            invited_by TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (team_id, invitee)
        );

        CREATE TABLE entrant_merges (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            from_entrant TEXT NOT NULL,
            into_team TEXT NOT NULL REFERENCES teams (id),
            at INTEGER NOT NULL,
            PRIMARY KEY (challenge_id, from_entrant, at)
        );
        CREATE TRIGGER entrant_merges_append_only_update BEFORE UPDATE ON entrant_merges
            BEGIN SELECT RAISE(ABORT, 'team merges are append-only'); END;
        CREATE TRIGGER entrant_merges_append_only_delete BEFORE DELETE ON entrant_merges
            BEGIN SELECT RAISE(ABORT, 'team merges are append-only'); END;
        """

    static let schema13 = """
        ALTER TABLE principals ADD COLUMN scope TEXT;
        ALTER TABLE judgements ADD COLUMN criteria_json TEXT;
        ALTER TABLE awards ADD COLUMN agreement TEXT;

        CREATE TABLE agreements (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            version INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('confidentiality', 'licence', 'ip-transfer')),
            text TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (challenge_id, version)
        );

        CREATE TABLE acceptances (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            principal TEXT NOT NULL,
            version INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (challenge_id, principal, version)
        );

        CREATE TABLE invitations (
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            principal TEXT NOT NULL,
            invited_at INTEGER NOT NULL,
            via TEXT NOT NULL,
            revoked_at INTEGER,
            PRIMARY KEY (challenge_id, principal)
        );

        CREATE TABLE invitation_tokens (
            id TEXT PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            redeemed_by TEXT,
            redeemed_at INTEGER,
            revoked_at INTEGER
        );

        CREATE TABLE clarifications (
            id TEXT PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            asker TEXT,
            question TEXT NOT NULL,
            asked_at INTEGER NOT NULL,
            answer TEXT,
            answered_by TEXT,
            answered_at INTEGER,
            public INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX clarifications_by_challenge ON clarifications (challenge_id, asked_at);

        CREATE TRIGGER agreements_append_only_update BEFORE UPDATE ON agreements
            BEGIN SELECT RAISE(ABORT, 'agreements are append-only'); END;
        CREATE TRIGGER agreements_append_only_delete BEFORE DELETE ON agreements
            BEGIN SELECT RAISE(ABORT, 'agreements are append-only'); END;
        CREATE TRIGGER acceptances_append_only_update BEFORE UPDATE ON acceptances
            BEGIN SELECT RAISE(ABORT, 'acceptances are append-only'); END;
        CREATE TRIGGER acceptances_append_only_delete BEFORE DELETE ON acceptances
            BEGIN SELECT RAISE(ABORT, 'acceptances are append-only'); END;
        """

    /// The hash-chained award ledger. Each `awards` row is a ledger entry: its id is the entry's sequence number
    /// (1, 2, 3, … without gaps), and it holds its canonical text, the previous entry's hash and its own. A row may
    /// name no score (a discretionary payment), and carry a rationale and an origin (migrated, restored). The rows
    /// written before are set aside here and chained, in order, by `Ledger.chainUnchained` in the same transaction:
    /// SQL cannot compute SHA-256.
    static let ledgerMigration = """
        DROP TRIGGER awards_append_only_update;
        DROP TRIGGER awards_append_only_delete;
        ALTER TABLE awards RENAME TO awards_unchained;
        CREATE TABLE awards (
            id INTEGER PRIMARY KEY,
            challenge_id TEXT NOT NULL REFERENCES challenges (id),
            submission_id TEXT NOT NULL REFERENCES submissions (id),
            solver TEXT NOT NULL,
            amount TEXT NOT NULL,
            currency TEXT NOT NULL,
            score REAL,
            policy TEXT NOT NULL,
            awarded_at INTEGER NOT NULL,
            rationale TEXT,
            origin TEXT,
            prev_hash TEXT NOT NULL,
            entry TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE
        );
        CREATE INDEX awards_by_challenge ON awards (challenge_id);
        CREATE TRIGGER awards_append_only_update BEFORE UPDATE ON awards
            BEGIN SELECT RAISE(ABORT, 'the award ledger is append-only'); END;
        CREATE TRIGGER awards_append_only_delete BEFORE DELETE ON awards
            BEGIN SELECT RAISE(ABORT, 'the award ledger is append-only'); END;
        """

    static var currentVersion: Int { migrations.count }

    /// The tables whose rows are never changed or deleted once written, and what a refusal says: the store's
    /// invariants, which triggers keep on both backends (here in the migrations, in `PostgresSchema` from this list).
    /// `since`: a schema version by which the table exists (PostgreSQL's first schema makes the triggers of those up to
    /// its own version; later ones come with the migration that makes their table).
    static let immutableTables: [(name: String, message: String, since: Int)] = [
        ("submissions", "submissions are immutable", 1),
        ("outcomes", "a recorded outcome is never changed", 1),
        ("attempts", "attempts are append-only", 1),
        ("events", "the event log is append-only", 1),
        ("audit", "the audit trail is append-only", 1),
        ("awards", "the award ledger is append-only", 1),
        ("disqualifications", "a disqualification is final", 7),
        ("scorer_versions", "scorer versions are append-only", 8),
        ("replica_results", "replica results are append-only", 8),
        ("judging_assignments", "judging assignments are append-only", 10),
        ("judgements", "judgements are append-only", 10),
        ("judged", "a judged score is never changed", 10),
        ("agreements", "agreements are append-only", 13),
        ("acceptances", "acceptances are append-only", 13),
        ("entrant_merges", "team merges are append-only", 14),
        ("phase_openings", "phase openings are append-only", 15),
        ("stored_files", "stored files are append-only", 16),
    ]

    /// Brings `db` to the current schema.
    /// - Returns: whether a migration appended entries to the award ledger (its head file is then behind).
    @discardableResult
    /// - Parameter target: the version to stop at (tests make stores of earlier schemas); the current one by default.
    static func migrate(_ db: SQLiteConnection, to target: Int = currentVersion) throws -> Bool {
        let currentVersion = min(target, Self.currentVersion)
        let version = try db.userVersion
        guard version <= Self.currentVersion else {
            throw DatabaseError(
                .sqlite, kind: .schema, code: "0", operation: "migrate",
                message: "database schema version \(version) is newer than this broker's \(Self.currentVersion)")
        }
        guard version < currentVersion else { return false }
        // Some migrations rebuild a table that others refer to: foreign keys are off while they run (it cannot
        // change inside a transaction), and checked before the last commit.
        try db.execute("PRAGMA foreign_keys=OFF")
        defer { try? db.execute("PRAGMA foreign_keys=ON") }
        var chained = 0
        for index in version..<currentVersion {
            try db.transaction {
                try db.execute(migrations[index])
                if migrations[index] == ledgerMigration { chained = try Ledger.chainUnchained(db) }
                try db.execute("PRAGMA user_version = \(index + 1)")
                if index == currentVersion - 1, let broken = try db.queryOne("PRAGMA foreign_key_check") {
                    throw DatabaseError(
                        .sqlite, kind: .schema, code: "0", operation: "migrate",
                        message: "migration left a broken reference in \(broken.string(0) ?? "?")")
                }
            }
        }
        return chained > 0
    }
}
