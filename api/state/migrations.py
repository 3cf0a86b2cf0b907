"""Schema migrations, shared by SQLite and PostgreSQL: numbered steps applied once, in order, in one
transaction each; `schema_version` records how far a database is. Several replicas starting at once
are serialized (an advisory lock in PostgreSQL, BEGIN IMMEDIATE in SQLite)."""
from __future__ import annotations

import logging

from api.state.base import Database

log = logging.getLogger("api.state")

# Each step: a list of statements in the common SQL subset (BLOB / AUTOINCREMENT are translated).
MIGRATIONS: list[list[str]] = [
    # 1: keys and upload jobs (the schema of service.sqlite before versioning; IF NOT EXISTS adopts it)
    ["""CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        kb TEXT,                         -- NULL: every KB (admin keys)
        scope TEXT NOT NULL,             -- read | write | admin
        label TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        revoked_at TEXT)""",
     """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        kb TEXT NOT NULL,
        status TEXT NOT NULL,            -- queued | running | done | failed | cancelled
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '{}')""",
     "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at)",
     """CREATE TABLE IF NOT EXISTS job_files (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        filename TEXT NOT NULL,          -- the user's file name (metadata only; never a path)
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        status TEXT NOT NULL,            -- pending | indexed | updated | unchanged | failed
        doc_id TEXT NOT NULL DEFAULT '',
        chunks INTEGER NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (job_id, n))"""],
    # 2: uploaded bytes live in the database (every worker reads them; nothing on a replica's disk)
    ["""CREATE TABLE IF NOT EXISTS upload_chunks (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (job_id, n, seq))""",
     "CREATE INDEX IF NOT EXISTS jobs_kb ON jobs(kb, created_at)"],
    # 3: answers, feedback and experiments (api/feedback, api/experiments)
    ["CREATE TABLE IF NOT EXISTS schema_notes (version INTEGER PRIMARY KEY, note TEXT NOT NULL)",
     """CREATE TABLE IF NOT EXISTS answers (
        id TEXT PRIMARY KEY,
        kb TEXT NOT NULL,
        key_id TEXT NOT NULL DEFAULT '',
        user_id TEXT NOT NULL DEFAULT '',
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        citations TEXT NOT NULL DEFAULT '[]',   -- JSON: the answer's citations
        passages TEXT NOT NULL DEFAULT '[]',    -- JSON: the passages it was drawn from (text, ids)
        refused INTEGER NOT NULL DEFAULT 0,
        fallback TEXT NOT NULL DEFAULT '',
        dropped INTEGER NOT NULL DEFAULT 0,     -- answer sentences left without support
        cached INTEGER NOT NULL DEFAULT 0,
        settings_hash TEXT NOT NULL DEFAULT '',
        experiment TEXT NOT NULL DEFAULT '',
        arm TEXT NOT NULL DEFAULT '',
        latency_s REAL NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL)""",
     "CREATE INDEX IF NOT EXISTS answers_kb ON answers(kb, created_at)",
     "CREATE INDEX IF NOT EXISTS answers_experiment ON answers(experiment, arm)",
     """CREATE TABLE IF NOT EXISTS feedback (
        answer_id TEXT PRIMARY KEY REFERENCES answers(id) ON DELETE CASCADE,
        rating TEXT NOT NULL,                   -- up | down (the latest vote on the answer)
        comment TEXT NOT NULL DEFAULT '',
        correction TEXT NOT NULL DEFAULT '',
        key_id TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL)""",
     """CREATE TABLE IF NOT EXISTS experiments (
        name TEXT PRIMARY KEY,
        kb TEXT NOT NULL,
        arms TEXT NOT NULL,                     -- JSON: [{name, share, overrides}]
        status TEXT NOT NULL,                   -- active | stopped | promoted
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        ended_at TEXT,
        winner TEXT NOT NULL DEFAULT '')""",
     "CREATE INDEX IF NOT EXISTS experiments_kb ON experiments(kb, status)",
     """CREATE TABLE IF NOT EXISTS kb_settings (
        kb TEXT PRIMARY KEY,
        overrides TEXT NOT NULL DEFAULT '{}',   -- JSON: {section: {field: value}} over the global settings
        version INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL DEFAULT '')""",
     """CREATE TABLE IF NOT EXISTS kb_settings_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kb TEXT NOT NULL,
        action TEXT NOT NULL,                   -- promote | rollback
        overrides TEXT NOT NULL,                -- the KB settings after
        previous TEXT NOT NULL,                 -- the KB settings before
        experiment TEXT NOT NULL DEFAULT '',
        arm TEXT NOT NULL DEFAULT '',
        undone INTEGER NOT NULL DEFAULT 0,      -- a promote that a rollback reverted
        key_id TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL)"""],
    # 4: bot channels (api/channels)
    ["""CREATE TABLE IF NOT EXISTS channels (
        kb TEXT NOT NULL,
        platform TEXT NOT NULL,          -- dingtalk | wecom
        config TEXT NOT NULL,            -- JSON with the platform's secrets (never returned in full)
        created_at TEXT NOT NULL,
        PRIMARY KEY (kb, platform))""",
     """CREATE TABLE IF NOT EXISTS channel_seen (
        id TEXT PRIMARY KEY,             -- platform:kb:msgId or platform:kb:timestamp:nonce
        expires_at BIGINT NOT NULL)""",
     "CREATE INDEX IF NOT EXISTS channel_seen_expiry ON channel_seen(expires_at)",
     """CREATE TABLE IF NOT EXISTS channel_history (
        conversation TEXT PRIMARY KEY,   -- platform:kb:conversation id
        turns TEXT NOT NULL,             -- JSON: the last 6 question/answer turns
        updated_at BIGINT NOT NULL)"""],
    # 5: the audit trail (api/audit): append-only, each record chained to the one before by its hash
    ["""CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,                -- UTC, ISO 8601
        actor TEXT NOT NULL,             -- key id, 'admin' (RAG_ADMIN_KEY), 'cli:<os user>', 'service', 'anonymous'
        actor_name TEXT NOT NULL DEFAULT '',   -- the key's label
        actor_role TEXT NOT NULL DEFAULT '',   -- the key's scope, '@kb' when bound to one KB
        action TEXT NOT NULL,            -- kb.create, documents.upload, key.revoke, ... (docs/service.md)
        kb TEXT NOT NULL DEFAULT '',
        target TEXT NOT NULL DEFAULT '', -- document id, key id, platform, experiment, user
        detail TEXT NOT NULL DEFAULT '{}',     -- JSON: file names, job id, counts (never questions or answers)
        outcome TEXT NOT NULL,           -- ok | refused | failed
        status INTEGER NOT NULL DEFAULT 0,     -- the HTTP status (CLI: 0 ok, 1 failed)
        request_id TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',       -- the client's address (CLI: the host name)
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
     "CREATE INDEX IF NOT EXISTS audit_kb ON audit(kb, id)",
     "CREATE INDEX IF NOT EXISTS audit_at ON audit(at)"],
    # 6: secrets the service makes for itself (api/audit/pseudonym: the key of end users' pseudonyms)
    ["""CREATE TABLE IF NOT EXISTS state_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL)"""],
    # 7: KB imports run as jobs (api/jobs/importing): the kind of job, its options, progress and result
    ["ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'upload'",   # upload | import
     "ALTER TABLE jobs ADD COLUMN options TEXT NOT NULL DEFAULT '{}'",    # JSON: an import's name and replace
     "ALTER TABLE jobs ADD COLUMN progress TEXT NOT NULL DEFAULT ''",     # JSON: stage, done, total
     "ALTER TABLE jobs ADD COLUMN result TEXT NOT NULL DEFAULT ''"],      # JSON: the import's report or failure
    # 8: how many times each end user was forgotten (api/state/forgotten). Databases of earlier releases made
    # it on the first forget or checked write, with these columns: IF NOT EXISTS adopts it and its rows
    ["""CREATE TABLE IF NOT EXISTS forgotten_users (
        pseudonym TEXT PRIMARY KEY,      -- api.audit.pseudonym of the user, never their id
        epoch INTEGER NOT NULL,          -- times forgotten
        forgotten_at TEXT NOT NULL)"""],
    # 9: uploads kept to be read again after a parser upgrade, in cluster mode (api/state/kept_uploads)
    ["""CREATE TABLE IF NOT EXISTS kept_uploads (
        kb TEXT NOT NULL,
        name TEXT NOT NULL,              -- <sha256 of the bytes><extension> (indexer.originals.original_name)
        size BIGINT NOT NULL,
        kept_at TEXT NOT NULL,
        PRIMARY KEY (kb, name))""",
     """CREATE TABLE IF NOT EXISTS kept_upload_chunks (
        kb TEXT NOT NULL,
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (kb, name, seq),
        FOREIGN KEY (kb, name) REFERENCES kept_uploads(kb, name) ON DELETE CASCADE)"""],
    # 10: the import job that kept an upload under its KB's name before the KB took the name (api/state/kept_uploads:
    # a failed import removes its own, never a KB's); a row only while the job holds it
    ["""CREATE TABLE IF NOT EXISTS kept_upload_jobs (
        kb TEXT NOT NULL,
        name TEXT NOT NULL,
        job TEXT NOT NULL,
        PRIMARY KEY (kb, name),
        FOREIGN KEY (kb, name) REFERENCES kept_uploads(kb, name) ON DELETE CASCADE)""",
     "CREATE INDEX IF NOT EXISTS kept_upload_jobs_job ON kept_upload_jobs(job)"],
    # 11: what OCR read from each scanned page, shared by every worker and replica in cluster mode
    # (indexer/parse/ocr_cache_pg: the SQLite cache's entries and owners, per KB)
    ["""CREATE TABLE IF NOT EXISTS ocr_cache_pages (
        kb TEXT NOT NULL,
        key TEXT NOT NULL,               -- the page's image and what decides what OCR reads (SHA-256)
        lines TEXT NOT NULL,             -- JSON: [text, left, right, size] a line
        checksum TEXT NOT NULL,
        bytes BIGINT NOT NULL,
        used DOUBLE PRECISION NOT NULL,  -- epoch seconds: the entries used longest ago go first
        PRIMARY KEY (kb, key))""",
     "CREATE INDEX IF NOT EXISTS ocr_cache_pages_used ON ocr_cache_pages(kb, used)",
     """CREATE TABLE IF NOT EXISTS ocr_cache_owners (
        kb TEXT NOT NULL,
        file TEXT NOT NULL,              -- the SHA-256 of a file the page was found in
        key TEXT NOT NULL,
        PRIMARY KEY (kb, file, key))""",
     "CREATE INDEX IF NOT EXISTS ocr_cache_owners_key ON ocr_cache_owners(kb, key)"],
    # 12: each KB's OCR cache bytes as a running total (indexer/parse/ocr_cache_pg), so that a put checks the cap
    # by one row, not by summing the KB's entries; counted again from the entries when the step runs
    ["CREATE TABLE IF NOT EXISTS ocr_cache_sizes (kb TEXT PRIMARY KEY, bytes BIGINT NOT NULL)",
     "DELETE FROM ocr_cache_sizes",
     "INSERT INTO ocr_cache_sizes (kb, bytes) SELECT kb, SUM(bytes) FROM ocr_cache_pages GROUP BY kb"],
]


def migrate(db: Database) -> int:
    """Bring `db` to the newest schema; returns the version it is at."""
    with db.tx() as t:
        if db.dialect == "postgresql":
            t.execute("SELECT pg_advisory_xact_lock(7244771)")
        t.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = t.query("SELECT version FROM schema_version")
        current = int(rows[0]["version"]) if rows else 0
        if not rows:
            t.execute("INSERT INTO schema_version(version) VALUES (0)")
        for version, steps in enumerate(MIGRATIONS[current:], start=current + 1):
            for sql in steps:
                t.execute(sql)
            t.execute("UPDATE schema_version SET version = ?", (version,))
            log.info("service database migrated to schema %d", version, extra={"event": "migrate"})
            current = version
    return current
