"""The audit trail: who did what, when (SPEC F6.1)."""
from __future__ import annotations

import json
from datetime import datetime

from .core import Store


def record_event(cur, actor: str | None, action: str, job_id: int | None = None, **detail) -> None:
    """Write one event inside the caller's transaction."""
    cur.execute(
        "INSERT INTO events VALUES (nextval('seq_event'), ?, ?, ?, ?, ?)",
        [now(), actor, action, job_id, json.dumps(detail, ensure_ascii=False, default=str)])


def list_events(store: Store, job_id: int | None = None, limit: int = 100) -> list[dict]:
    sql = 'SELECT "at", actor, action, job_id, detail FROM events'
    params: list = []
    if job_id is not None:
        sql += " WHERE job_id = ?"
        params.append(job_id)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [{"at": r[0], "actor": r[1], "action": r[2], "job_id": r[3], "detail": json.loads(r[4] or "{}")}
            for r in store.db.fetchall(sql, params)]


def now() -> datetime:
    return datetime.now()
