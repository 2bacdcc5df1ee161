"""Presence (issue 20): opening a sample in a labeling view says who else opened it lately, so
two people editing the same sample see each other before a save meets a newer version. A
notice, not a lock: saving is guarded by the sample's version (store/history.py). Kept in memory
on the Store (store.caches.presence)."""
from __future__ import annotations

import time

from .core import Store


def note_open(store: Store, job_id, sample_id, actor: str | None = None) -> list[str]:
    """The actor has this sample of the job open now (None: no sample); returns the other users
    who opened the same sample within the last ~2 minutes. Needs the right to label the job."""
    from .access import parse_id, require_job

    job_id = parse_id(job_id, "job id")
    require_job(store, actor, job_id, "label")
    sid = parse_id(sample_id, "sample id") if sample_id is not None else None
    if actor is None:  # code, not a person: nobody to show
        return []
    return store.caches.presence.note(actor, job_id, sid, time.monotonic())
