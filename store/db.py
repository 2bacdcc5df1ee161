"""The DuckDB file: connection, one cursor per thread, one writer at a time, schema migrations.

DuckDB allows a single writing process; inside it we serialise writes with a lock (as Datasette
does with its write thread) and read on per-thread cursors, as DuckDB's Python docs advise.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb

log = logging.getLogger(__name__)

# Each migration is a list of statements; the schema version is its index + 1.
MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "CREATE SEQUENCE IF NOT EXISTS seq_dataset START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_sample START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_job START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_import START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_event START 1",
        """CREATE TABLE datasets (
            id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, media VARCHAR NOT NULL,
            source VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR)""",
        # A sample is a file (uri) or a text record. uri: absolute local path, s3://bucket/key,
        # or store://key in the configured object store. path: shown and filtered by.
        """CREATE TABLE samples (
            id BIGINT PRIMARY KEY, dataset_id BIGINT NOT NULL, uri VARCHAR NOT NULL,
            path VARCHAR NOT NULL, size BIGINT, text VARCHAR, meta JSON,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE jobs (
            id BIGINT PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, description VARCHAR NOT NULL,
            type VARCHAR NOT NULL, dataset_id BIGINT NOT NULL, instructions VARCHAR NOT NULL,
            team_labeling BOOLEAN NOT NULL, label_set JSON NOT NULL,
            created_at TIMESTAMP NOT NULL, created_by VARCHAR, updated_at TIMESTAMP NOT NULL)""",
        # One row per sample of a job: its state and its annotation. `labels` repeats the label
        # names used in `annotation` so that filters and counts never parse JSON.
        """CREATE TABLE job_samples (
            job_id BIGINT NOT NULL, sample_id BIGINT NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'unlabeled',
            labels VARCHAR[] NOT NULL DEFAULT [], annotation JSON,
            labeled_by VARCHAR, labeled_at TIMESTAMP,
            hard BOOLEAN NOT NULL DEFAULT false, hard_coefficient DOUBLE, hard_reason VARCHAR,
            cluster VARCHAR, from_inference BOOLEAN NOT NULL DEFAULT false,
            confidence DOUBLE, model VARCHAR, accepted BOOLEAN NOT NULL DEFAULT false,
            PRIMARY KEY (job_id, sample_id))""",
        """CREATE TABLE imports (
            id BIGINT PRIMARY KEY, job_id BIGINT, dataset_id BIGINT, started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP, mode VARCHAR NOT NULL, format VARCHAR, path VARCHAR,
            found INTEGER NOT NULL DEFAULT 0, imported INTEGER NOT NULL DEFAULT 0,
            labeled INTEGER NOT NULL DEFAULT 0, status VARCHAR NOT NULL, errors JSON,
            created_by VARCHAR)""",
        """CREATE TABLE events (
            id BIGINT PRIMARY KEY, "at" TIMESTAMP NOT NULL, actor VARCHAR, action VARCHAR NOT NULL,
            job_id BIGINT, detail JSON)""",
        "CREATE INDEX samples_dataset ON samples (dataset_id)",
        "CREATE INDEX events_job ON events (job_id)",
    ],
    # Scale (benchmarks/store_scale.py). path_lower = lower(path), written with the sample, for the
    # file-name filter: kept uncompressed, a substring scan of a million paths is ~2.5x faster.
    # job_samples_sample: DuckDB uses an ART index only for a filter on its single column, so the
    # (job_id, sample_id) key never serves a lookup; this one finds a sample's rows in a few µs.
    [
        "ALTER TABLE samples ADD COLUMN path_lower VARCHAR USING COMPRESSION uncompressed",
        "UPDATE samples SET path_lower = lower(path)",
        "CREATE INDEX job_samples_sample ON job_samples (sample_id)",
    ],
    # Auto labeling (F4): registered models and background runs with their progress and history.
    [
        "CREATE SEQUENCE IF NOT EXISTS seq_model START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_run START 1",
        """CREATE TABLE models (
            id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, source VARCHAR NOT NULL, version VARCHAR NOT NULL,
            task VARCHAR NOT NULL, labels JSON, created_at TIMESTAMP NOT NULL, created_by VARCHAR,
            UNIQUE (name, version))""",
        """CREATE TABLE runs (
            id BIGINT PRIMARY KEY, job_id BIGINT NOT NULL, kind VARCHAR NOT NULL, mode VARCHAR,
            model VARCHAR, device VARCHAR NOT NULL DEFAULT 'cpu', batch_size INTEGER NOT NULL DEFAULT 16,
            status VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
            total INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
            labeled INTEGER NOT NULL DEFAULT 0, hard INTEGER NOT NULL DEFAULT 0,
            cancel_requested BOOLEAN NOT NULL DEFAULT false, message VARCHAR, created_by VARCHAR)""",
        "CREATE INDEX runs_job ON runs (job_id)",
    ],
    # Users, teams and team labeling (F5, F6.1).
    [
        "CREATE SEQUENCE IF NOT EXISTS seq_team START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_acceptance START 1",
        "CREATE SEQUENCE IF NOT EXISTS seq_outbox START 1",
        """CREATE TABLE users (
            username VARCHAR PRIMARY KEY, email VARCHAR, password_hash VARCHAR, is_admin BOOLEAN NOT NULL DEFAULT false,
            source VARCHAR NOT NULL DEFAULT 'local', created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE sessions (
            token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE teams (
            id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, description VARCHAR NOT NULL, owner VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL, UNIQUE (owner, name))""",
        """CREATE TABLE team_members (
            team_id BIGINT NOT NULL, email VARCHAR NOT NULL, description VARCHAR NOT NULL, role VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL, PRIMARY KEY (team_id, email))""",
        """CREATE TABLE team_jobs (
            job_id BIGINT PRIMARY KEY, team_id BIGINT NOT NULL, mode VARCHAR NOT NULL, manager VARCHAR,
            auto_assign_new BOOLEAN NOT NULL, load_prelabels BOOLEAN NOT NULL, overlap INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE job_members (
            job_id BIGINT NOT NULL, email VARCHAR NOT NULL, role VARCHAR NOT NULL, PRIMARY KEY (job_id, email))""",
        # One row per (sample, labeler): the labeler's own work, separate from the job's labels
        # until an acceptance lets it through.
        """CREATE TABLE assignments (
            job_id BIGINT NOT NULL, sample_id BIGINT NOT NULL, email VARCHAR NOT NULL, state VARCHAR NOT NULL,
            labels VARCHAR[] NOT NULL DEFAULT [], annotation JSON, labeled_at TIMESTAMP, reason VARCHAR,
            rating VARCHAR, reviewer VARCHAR, reviewed_at TIMESTAMP, assigned_at TIMESTAMP NOT NULL,
            PRIMARY KEY (job_id, sample_id, email))""",
        "CREATE INDEX assignments_email ON assignments (email)",
        """CREATE TABLE acceptances (
            id BIGINT PRIMARY KEY, job_id BIGINT NOT NULL, status VARCHAR NOT NULL, sample_by VARCHAR NOT NULL,
            amount DOUBLE NOT NULL, created_by VARCHAR, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP,
            overwrite BOOLEAN, scope VARCHAR, accepted INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE acceptance_items (
            acceptance_id BIGINT NOT NULL, sample_id BIGINT NOT NULL, email VARCHAR NOT NULL,
            decision VARCHAR NOT NULL DEFAULT 'pending', rating VARCHAR, reason VARCHAR, decided_by VARCHAR,
            decided_at TIMESTAMP, PRIMARY KEY (acceptance_id, sample_id, email))""",
        """CREATE TABLE outbox (
            id BIGINT PRIMARY KEY, to_email VARCHAR NOT NULL, subject VARCHAR NOT NULL, body VARCHAR NOT NULL,
            job_id BIGINT, created_at TIMESTAMP NOT NULL, sent_at TIMESTAMP, error VARCHAR)""",
    ],
    # Published versions (F1.6): immutable, numbered per job, written to object storage.
    [
        """CREATE TABLE versions (
            job_id BIGINT NOT NULL, number INTEGER NOT NULL, location VARCHAR NOT NULL, samples INTEGER NOT NULL,
            labeled INTEGER NOT NULL, label_counts JSON NOT NULL, bytes BIGINT NOT NULL, description VARCHAR,
            created_at TIMESTAMP NOT NULL, created_by VARCHAR, PRIMARY KEY (job_id, number))""",
    ],
    # Accounts managed in the app (F6.4): disabled accounts, Hugging Face accounts matched by the
    # provider's `sub` and waiting for an admin's approval, one-time invitation links.
    [
        "ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE users ADD COLUMN pending BOOLEAN NOT NULL DEFAULT false",
        "ALTER TABLE users ADD COLUMN hf_sub VARCHAR",
        "ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false",
        """CREATE TABLE invitations (
            token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, created_by VARCHAR,
            created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, used_at TIMESTAMP)""",
    ],
    # Honest thresholds (issue 18): what a run measured about confirming its predictions
    # (autolabel/learn.py calibrate), and what was confirmed at which threshold.
    [
        "ALTER TABLE runs ADD COLUMN calibration JSON",
    ],
    # Auto labeling on a Ray cluster (issue 19): the engine a run used, local threads or Ray.
    [
        "ALTER TABLE runs ADD COLUMN engine VARCHAR DEFAULT 'local'",  # no NOT NULL: DuckDB refuses it beside an index
    ],
    # Nothing a person does loses labels (issue 20): a version on every sample's annotation (each
    # save adds 1; If-Match on the API), every version kept as a compact row (store/history.py),
    # and a trash (store/trash.py): deleted jobs and samples move into trash_<table> copies of
    # their tables, restorable until they expire. A later migration that adds a column to one of
    # the trashed tables adds it to its trash_ copy too (restore inserts BY NAME).
    [
        # (no NOT NULL: DuckDB refuses it on a table with an index; the default fills every row)
        "ALTER TABLE job_samples ADD COLUMN version INTEGER DEFAULT 0",
        """CREATE TABLE annotation_history (
            job_id BIGINT NOT NULL, sample_id BIGINT NOT NULL, version INTEGER NOT NULL,
            status VARCHAR NOT NULL, labels VARCHAR[] NOT NULL, annotation JSON,
            saved_by VARCHAR, saved_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL,
            PRIMARY KEY (job_id, sample_id, version))""",
        "CREATE INDEX annotation_history_sample ON annotation_history (sample_id)",
        # what samples held before history began is their version 0
        """INSERT INTO annotation_history SELECT job_id, sample_id, 0, status, labels, annotation, labeled_by,
            coalesce(labeled_at, now()::TIMESTAMP), 'before history' FROM job_samples
            WHERE annotation IS NOT NULL OR len(labels) > 0""",
        "CREATE SEQUENCE IF NOT EXISTS seq_trash START 1",
        """CREATE TABLE trash (
            id BIGINT PRIMARY KEY, kind VARCHAR NOT NULL, job_id BIGINT NOT NULL, job_name VARCHAR NOT NULL,
            job_owner VARCHAR, samples INTEGER NOT NULL, labeled INTEGER NOT NULL,
            deleted_by VARCHAR, deleted_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)""",
        *[f"CREATE TABLE trash_{t} AS SELECT 0::BIGINT AS trash_id, * FROM {t} WHERE false"
          for t in ("jobs", "job_samples", "runs", "acceptances", "acceptance_items", "assignments",
                    "job_members", "team_jobs")],
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A DuckDB file shared by the threads of one process."""

    on_commit = None  # called after each committed write transaction (store/mirror.py's scheduler)

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as e:
            from .errors import StoreError

            if "lock" in str(e).lower():
                raise StoreError(f"the store {path} is in use by another process (is the app running? "
                                 "DuckDB allows one writing process: stop it, or use another --data-dir)") from None
            raise StoreError(f"cannot open the store {path}: {e}") from None
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.migrate()

    # -- cursors -------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def fetchall(self, sql: str, params: Any = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def fetchone(self, sql: str, params: Any = None) -> tuple | None:
        # fetchall, not fetchone: DuckDB 2 refuses new work on a cursor with an unfinished result
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.fetchone(sql, params)
        return row[0] if row else None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One writer at a time; everything inside commits together or not at all."""
        with self._write_lock:
            cur = self.cursor()
            if getattr(self._local, "depth", 0):
                self._local.depth += 1
                try:
                    yield cur
                finally:
                    self._local.depth -= 1
                return
            cur.begin()
            self._local.depth = 1
            try:
                yield cur
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            finally:
                self._local.depth = 0
            if self.on_commit is not None:
                try:
                    self.on_commit()
                except Exception:  # noqa: BLE001 - a listener never fails a saved write
                    log.exception("on_commit listener failed")

    def next_id(self, cur: duckdb.DuckDBPyConnection, sequence: str) -> int:
        return cur.execute(f"SELECT nextval('{sequence}')").fetchall()[0][0]

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        cur = self.cursor()
        exists = cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'").fetchall()[0][0]
        if not exists:
            return 0
        row = next(iter(cur.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()), None)
        return int(row[0]) if row else 0

    def migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {current}, newer than this code ({SCHEMA_VERSION}); "
                "upgrade the application")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating %s to schema version %d", self.path, version)
            with self.transaction() as cur:
                for statement in MIGRATIONS[version - 1]:
                    cur.execute(statement)
                cur.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])

    def get_meta(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key = ?", [key])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def close(self) -> None:
        """Checkpoint and close; safe to call twice."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self._con.execute("CHECKPOINT")
        except duckdb.Error:
            pass
        self._con.close()
