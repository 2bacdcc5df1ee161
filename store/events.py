"""The audit trail: who did what, when (SPEC F6.1)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from .core import Store


def record_event(cur, actor: str | None, action: str, job_id: int | None = None, **detail) -> None:
    """Write one event inside the caller's transaction."""
    cur.execute(
        "INSERT INTO events VALUES (nextval('seq_event'), ?, ?, ?, ?, ?)",
        [now(), actor, action, job_id, json.dumps(detail, ensure_ascii=False, default=str)])


def list_events(store: Store, job_id: int | None = None, limit: int = 100, saves: bool = True) -> list[dict]:
    """The audit trail, newest first: the events, and (``saves``) every version of an annotation a
    change made (action "save_annotation": who, when, which sample and version, its labels, where
    it came from). A save of one sample writes no event of its own: its history row is its record
    (store/annotations.py _audit)."""
    where, params = ("", []) if job_id is None else (" WHERE job_id = ?", [job_id])
    out = [{"at": r[0], "actor": r[1], "action": r[2], "job_id": r[3], "detail": json.loads(r[4] or "{}")}
           for r in store.db.fetchall(f'SELECT "at", actor, action, job_id, detail FROM events{where} '
                                      "ORDER BY id DESC LIMIT ?", [*params, limit])]
    if saves:
        keep = "source <> 'before history'" + ("" if job_id is None else " AND job_id = ?")
        rows = store.db.fetchall("SELECT saved_at, saved_by, job_id, sample_id, version, labels, source "
                                 f"FROM annotation_history WHERE {keep} ORDER BY saved_at DESC LIMIT ?",
                                 [*params, limit])
        out += [{"at": r[0], "actor": r[1], "action": "save_annotation", "job_id": r[2],
                 "detail": {"sample_id": r[3], "version": r[4], "labels": list(r[5]), "source": r[6]}} for r in rows]
        out.sort(key=lambda e: e["at"], reverse=True)  # stable: an action's event stays before its saves
    return out[:limit]


def now() -> datetime:
    return datetime.now()


def iso(t: datetime | None) -> str | None:
    """A stored time as the API writes it: RFC 3339 in UTC, "2026-12-05T05:08:06.611743Z"."""
    return None if t is None else t.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
