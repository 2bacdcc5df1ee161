"""The import history's records (SPEC F2.2): one row per import, synchronize or upload, opened
when it starts and closed with its counts and errors. Below store/imports.py and store/jobs.py,
which both write them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from .core import Store
from .events import now, record_event

MAX_ERRORS_KEPT = 200


@dataclass
class ImportRecord:
    id: int
    job_id: int | None
    dataset_id: int | None
    started_at: datetime
    finished_at: datetime | None
    mode: str
    format: str | None
    path: str | None
    found: int = 0
    imported: int = 0
    labeled: int = 0
    status: str = "running"
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "job_id": self.job_id, "started_at": str(self.started_at),
                "finished_at": str(self.finished_at) if self.finished_at else None, "mode": self.mode,
                "format": self.format, "path": self.path, "found": self.found, "imported": self.imported,
                "labeled": self.labeled, "status": self.status, "errors": self.errors}


def start_import(store: Store, job_id: int | None, dataset_id: int | None, mode: str, fmt: str | None,
                 path: str | None, actor: str | None) -> ImportRecord:
    with store.db.transaction() as cur:
        rid = store.db.next_id(cur, "seq_import")
        t = now()
        cur.execute("INSERT INTO imports VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 0, 0, 0, 'running', '[]', ?)",
                    [rid, job_id, dataset_id, t, mode, fmt, path, actor])
    return ImportRecord(rid, job_id, dataset_id, t, None, mode, fmt, path)


def finish_import(store: Store, record: ImportRecord, found: int = 0, imported: int = 0, labeled: int = 0,
                  errors: list[str] | None = None, failed: bool = False) -> ImportRecord:
    errors = errors or []
    record.found, record.imported, record.labeled = found, imported, labeled
    record.errors = errors[:MAX_ERRORS_KEPT] + ([f"... and {len(errors) - MAX_ERRORS_KEPT} more"]
                                                if len(errors) > MAX_ERRORS_KEPT else [])
    # nothing got in and something was refused: failed; some got in: partial
    record.status = "failed" if failed or (errors and not imported) else ("partial" if errors else "succeeded")
    record.finished_at = now()
    with store.db.transaction() as cur:
        cur.execute("UPDATE imports SET finished_at = ?, found = ?, imported = ?, labeled = ?, status = ?, errors = ? "
                    "WHERE id = ?", [record.finished_at, found, imported, labeled, record.status,
                                     json.dumps(record.errors, ensure_ascii=False), record.id])
        record_event(cur, None, "import", record.job_id, import_id=record.id, status=record.status,
                     imported=imported, labeled=labeled)
    return record
