"""The trash (issue 20): deleting a job or samples moves them here, with their labels, history,
runs, assignments and reviews, for ``Settings.trash_days`` (default 30); restoring puts them back
as they were. Only deleting source files is final.

Each deletion is one trash item (``trash``: kind "job" or "samples", the job, counts, who, when,
when it expires); its rows wait in ``trash_<table>`` copies of their tables (schema migration 8),
tagged with the item's id. Annotation history rows stay where they are (keyed by job and
sample): nothing lists them while their sample is in the trash, and emptying the trash drops them.
Who may list, restore or empty: store/access.py ``may_handle_trash`` (and admins for emptying).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import iso, now, record_event

# The tables a deleted job's rows move out of, children first (acceptance_items name acceptances).
JOB_TABLES = (("acceptance_items", "acceptance_id IN (SELECT id FROM acceptances WHERE job_id = ?)"),
              ("acceptances", "job_id = ?"), ("assignments", "job_id = ?"), ("job_members", "job_id = ?"),
              ("team_jobs", "job_id = ?"), ("runs", "job_id = ?"), ("job_samples", "job_id = ?"),
              ("jobs", "id = ?"))
_IN = "sample_id IN (SELECT unnest(?::BIGINT[]))"
SAMPLE_TABLES = (("acceptance_items", f"acceptance_id IN (SELECT id FROM acceptances WHERE job_id = ?) AND {_IN}"),
                 ("assignments", f"job_id = ? AND {_IN}"), ("job_samples", f"job_id = ? AND {_IN}"))
TRASH_TABLES = tuple(t for t, _ in JOB_TABLES)


@dataclass(frozen=True)
class TrashItem:
    id: int
    kind: str  # "job" | "samples"
    job_id: int
    job_name: str
    job_owner: str | None
    samples: int
    labeled: int
    deleted_by: str | None
    deleted_at: datetime
    expires_at: datetime

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "job_id": self.job_id, "job_name": self.job_name,
                "job_owner": self.job_owner, "samples": self.samples, "labeled": self.labeled,
                "deleted_by": self.deleted_by, "deleted_at": iso(self.deleted_at),
                "expires_at": iso(self.expires_at)}


_COLUMNS = "id, kind, job_id, job_name, job_owner, samples, labeled, deleted_by, deleted_at, expires_at"


def _move(cur, trash_id: int, table: str, where: str, params: list) -> int:
    cur.execute(f"INSERT INTO trash_{table} BY NAME SELECT ?::BIGINT AS trash_id, * FROM {table} WHERE {where}",
                [trash_id, *params])
    return cur.execute(f"DELETE FROM {table} WHERE {where}", params).fetchall()[0][0]


def _new_item(store: Store, cur, kind: str, job_id: int, job_name: str, job_owner: str | None,
              actor: str | None, samples: int, labeled: int) -> int:
    trash_id = store.db.next_id(cur, "seq_trash")
    t = now()
    cur.execute(f"INSERT INTO trash ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [trash_id, kind, job_id, job_name, job_owner, samples, labeled, actor, t,
                 t + timedelta(days=store.settings.trash_days)])
    return trash_id


def trash_job(store: Store, cur, job, actor: str | None) -> int:
    """Inside delete_job's transaction: the job and everything of it into the trash."""
    samples, labeled = cur.execute("SELECT count(*), count(*) FILTER (WHERE status = 'labeled') FROM job_samples "
                                   "WHERE job_id = ?", [job.id]).fetchall()[0]
    trash_id = _new_item(store, cur, "job", job.id, job.name, job.created_by, actor, samples, labeled)
    for table, where in JOB_TABLES:
        _move(cur, trash_id, table, where, [job.id])
    return trash_id


def trash_samples(store: Store, cur, job, sample_ids: list[int], actor: str | None) -> int:
    """Inside a deletion's transaction: these samples of the job (their labels, assignments and
    reviews) into the trash. Returns how many left the job."""
    if not sample_ids:
        return 0
    labeled = cur.execute(f"SELECT count(*) FILTER (WHERE status = 'labeled') FROM job_samples WHERE job_id = ? "
                          f"AND {_IN}", [job.id, sample_ids]).fetchall()[0][0]
    trash_id = _new_item(store, cur, "samples", job.id, job.name, job.created_by, actor, len(sample_ids), labeled)
    moved = 0
    for table, where in SAMPLE_TABLES:
        moved = _move(cur, trash_id, table, where, [job.id, sample_ids])
    cur.execute("UPDATE trash SET samples = ? WHERE id = ?", [moved, trash_id])
    return moved


def _item(row) -> TrashItem:
    return TrashItem(*row)


def purge_expired(store: Store) -> int:
    """Items past their time leave the trash for good (with their history). Returns how many."""
    with store.db.transaction() as cur:
        ids = [r[0] for r in cur.execute("SELECT id FROM trash WHERE expires_at < ?", [now()]).fetchall()]
        _purge(cur, ids)
    return len(ids)


def _purge(cur, ids: list[int]) -> None:
    if not ids:
        return
    # the history of what is purged: whole jobs, or the samples of a "samples" item
    cur.execute("DELETE FROM annotation_history WHERE job_id IN (SELECT job_id FROM trash WHERE kind = 'job' "
                "AND id IN (SELECT unnest(?::BIGINT[])))", [ids])
    cur.execute("DELETE FROM annotation_history h USING trash_job_samples t WHERE t.trash_id IN "
                "(SELECT unnest(?::BIGINT[])) AND h.job_id = t.job_id AND h.sample_id = t.sample_id "
                "AND NOT EXISTS (SELECT 1 FROM job_samples js WHERE js.job_id = t.job_id AND js.sample_id = t.sample_id)",
                [ids])
    for table in TRASH_TABLES:
        cur.execute(f"DELETE FROM trash_{table} WHERE trash_id IN (SELECT unnest(?::BIGINT[]))", [ids])
    cur.execute("DELETE FROM trash WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids])


def forget(store: Store, trash_id: int) -> None:
    """Store code undoing its own step (a job created for uploads that all failed): the item
    goes at once, as if it never was."""
    with store.db.transaction() as cur:
        _purge(cur, [int(trash_id)])


def list_trash(store: Store, actor: str | None = None) -> list[TrashItem]:
    """What the actor may restore, newest first (expired items are purged first)."""
    from .access import may_handle_trash

    purge_expired(store)
    rows = store.db.fetchall(f"SELECT {_COLUMNS} FROM trash ORDER BY deleted_at DESC, id DESC")
    return [it for it in map(_item, rows) if may_handle_trash(store, actor, it.kind, it.job_id, it.job_owner)]


def get_item(store: Store, trash_id, actor: str | None = None) -> TrashItem:
    from .access import may_handle_trash, parse_id

    trash_id = parse_id(trash_id, "trash item id")
    row = store.db.fetchone(f"SELECT {_COLUMNS} FROM trash WHERE id = ?", [trash_id])
    if row is None or not may_handle_trash(store, actor, row[1], row[2], row[4]):
        raise NotFound(f"trash item {trash_id} not found (restored, emptied or expired?)")
    return _item(row)


def restore_job(store: Store, job_id, actor: str | None = None, name: str | None = None) -> int:
    """Put a deleted job back with everything it had. Its name, when another job took it
    meanwhile, becomes "<name> (restored)" (or `name`). Returns the job id."""
    from .access import parse_id
    from .jobs import MAX_JOB_NAME, _check_name

    job_id = parse_id(job_id, "job id")
    row = store.db.fetchone("SELECT id FROM trash WHERE kind = 'job' AND job_id = ?", [job_id])
    if row is None:
        raise NotFound(f"job {job_id} is not in the trash (restored, emptied or expired?)")
    item = get_item(store, row[0], actor)
    wanted = name or item.job_name
    if store.db.scalar("SELECT count(*) FROM jobs WHERE name = ?", [wanted]):
        if name:
            raise Conflict(f"a job named {name[:80]!r} exists: choose another name")
        wanted = _check_name(store, f"{item.job_name[:MAX_JOB_NAME - 40]} (restored {now():%Y-%m-%d %H:%M:%S})")
    with store.db.transaction() as cur:
        cur.execute("INSERT INTO jobs BY NAME SELECT * EXCLUDE (trash_id, name), ?::VARCHAR AS name FROM trash_jobs "
                    "WHERE trash_id = ?", [wanted, item.id])
        for table in reversed(TRASH_TABLES[:-1]):
            extra = ""
            if table == "job_samples":  # a sample whose file was deleted meanwhile (final) stays out
                extra = " AND sample_id IN (SELECT id FROM samples)"
            cur.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (trash_id) FROM trash_{table} "
                        f"WHERE trash_id = ?{extra}", [item.id])
        _purge_rows_only(cur, item.id)
        record_event(cur, actor, "restore_job", job_id, name=wanted, samples=item.samples)
    return job_id


def _purge_rows_only(cur, trash_id: int) -> None:
    for table in TRASH_TABLES:
        cur.execute(f"DELETE FROM trash_{table} WHERE trash_id = ?", [trash_id])
    cur.execute("DELETE FROM trash WHERE id = ?", [trash_id])


def restore_samples(store: Store, job_id, sample_ids: list, actor: str | None = None) -> int:
    """Put samples deleted from a job back into it, with their labels, assignments and reviews.
    Samples already back in the job (added again) keep what they have now. Returns how many."""
    from .access import parse_id, parse_ids, require_job

    job_id = parse_id(job_id, "job id")
    require_job(store, actor, job_id, "manage")
    ids = list(dict.fromkeys(parse_ids(sample_ids, "sample id")))
    if not ids:
        raise ValidationError("give the ids of the samples to restore")
    with store.db.transaction() as cur:
        items = [r[0] for r in cur.execute(
            f"SELECT DISTINCT t.trash_id FROM trash_job_samples t JOIN trash i ON i.id = t.trash_id "
            f"WHERE i.kind = 'samples' AND t.job_id = ? AND t.{_IN}", [job_id, ids]).fetchall()]
        if not items:
            raise NotFound("none of these samples is in this job's trash (restored, emptied or expired?)")
        back = [r[0] for r in cur.execute(
            f"SELECT DISTINCT sample_id FROM trash_job_samples WHERE trash_id IN (SELECT unnest(?::BIGINT[])) "
            f"AND {_IN} AND sample_id IN (SELECT id FROM samples) AND sample_id NOT IN "
            f"(SELECT sample_id FROM job_samples WHERE job_id = ?)", [items, ids, job_id]).fetchall()]
        for table, _ in reversed(SAMPLE_TABLES):
            cur.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (trash_id) FROM trash_{table} "
                        f"WHERE trash_id IN (SELECT unnest(?::BIGINT[])) AND {_IN}", [items, back])
            cur.execute(f"DELETE FROM trash_{table} WHERE trash_id IN (SELECT unnest(?::BIGINT[])) AND {_IN}",
                        [items, ids])
        for trash_id in items:  # an item with nothing left goes; the others count what they still hold
            left = cur.execute("SELECT count(*) FROM trash_job_samples WHERE trash_id = ?", [trash_id]).fetchall()[0][0]
            if left:
                cur.execute("UPDATE trash SET samples = ? WHERE id = ?", [left, trash_id])
            else:
                _purge_rows_only(cur, trash_id)
        record_event(cur, actor, "restore_samples", job_id, samples=len(back))
    return len(back)


def restore_item(store: Store, trash_id, actor: str | None = None) -> dict:
    """Restore one trash item whole (the Trash page's Restore): a deleted job with everything it
    had, or every sample of a deletion back into its job. Returns {"kind", "job_id", "job_name",
    "samples"}: the job's name as restored, how many samples came back."""
    from .jobs import get_job

    item = get_item(store, trash_id, actor)
    if item.kind == "job":
        job_id = restore_job(store, item.job_id, actor=actor)
        return {"kind": "job", "job_id": job_id, "job_name": get_job(store, job_id).name, "samples": item.samples}
    if not store.db.scalar("SELECT count(*) FROM jobs WHERE id = ?", [item.job_id]):
        raise Conflict(f"the job {item.job_name[:80]!r} of these samples is in the trash too (or gone): "
                       "restore the job first")
    ids = [r[0] for r in store.db.fetchall("SELECT sample_id FROM trash_job_samples WHERE trash_id = ?", [item.id])]
    n = restore_samples(store, item.job_id, ids, actor=actor) if ids else 0
    if not ids:
        forget(store, item.id)
    return {"kind": "samples", "job_id": item.job_id, "job_name": item.job_name, "samples": n}


def empty_trash(store: Store, actor: str | None = None, item_ids: list | None = None) -> int:
    """An admin's: delete trash items for good (all of them, or these). Returns how many."""
    from .access import parse_ids, require_admin

    require_admin(store, actor, "emptying the trash")
    with store.db.transaction() as cur:
        if item_ids is None:
            ids = [r[0] for r in cur.execute("SELECT id FROM trash").fetchall()]
        else:
            wanted = parse_ids(item_ids, "trash item id")
            ids = [r[0] for r in cur.execute("SELECT id FROM trash WHERE id IN (SELECT unnest(?::BIGINT[]))",
                                             [wanted]).fetchall()]
        _purge(cur, ids)
        record_event(cur, actor, "empty_trash", None, items=len(ids))
    return len(ids)
