"""Exporting a job's labels in a registered format (SPEC F7, CLI `export`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .core import Store
from .events import record_event
from .jobs import get_job


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: str
    samples: int


def export_job(store: Store, job_id: int, fmt: str, out: str | Path, actor: str | None = None) -> ExportResult:
    from .formats import get_format

    job = get_job(store, job_id)
    writer = get_format(fmt).writer_for(job.type)
    n = writer(store, job, Path(out))
    with store.db.transaction() as cur:
        record_event(cur, actor, "export", job_id, format=fmt, path=str(out), samples=n)
    return ExportResult(fmt, str(Path(out).absolute()), n)
