"""Versions and history of annotations (issue 20): nothing a person does loses labels.

Every change of a sample's annotation in a job, whoever makes it (a person, a model run, an
import, an acceptance, a label renamed everywhere, a restore), adds 1 to the sample's
``job_samples.version`` and keeps what the sample holds then as one compact row of
``annotation_history`` (status, labels, annotation, who, when, source), in the same transaction as
the change. So the history of a sample is every version it had, newest first, the current one
included; an old one is made current again by ``restore_version`` (a new version, source
"restore"). Annotations from before history existed are kept as version 0 (schema migration 8).

``record`` is the one function every write path calls after its UPDATE; a save that carries the
version it read (``check_version``; If-Match on the API) is refused with ``VersionConflict``, which
says who saved the newer version and when, and holds it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from media.recent import RecentlyUsed

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import iso, now, record_event

# Where a version came from (annotation_history.source)
SOURCES = ("human", "overwrite", "model", "import", "acceptance", "restore", "label_management", "confirmation",
           "discard", "before history")
MAX_LIST = 500


@dataclass(frozen=True)
class Version:
    version: int
    status: str
    labels: list[str]
    annotation: dict | None
    saved_by: str | None
    saved_at: datetime
    source: str
    current: bool = False
    # a listing's outline, read instead of the annotation (sample_history(full=False)):
    # {"shapes": n, "spans": n, ...} for each list the annotation holds, "content": its text's start
    outline: dict | None = None

    def as_dict(self) -> dict:
        return {"version": self.version, "status": self.status, "labels": self.labels,
                "annotation": self.annotation, "saved_by": self.saved_by,
                "saved_at": iso(self.saved_at),
                "source": self.source, "current": self.current}


class VersionConflict(Conflict):
    """A save carried a version older than the sample's: someone saved in between. ``current`` is
    the newer version (annotation, who, when), for the person to reload, keep theirs or compare."""

    def __init__(self, sample_id: int, expected: int, current: Version):
        who = current.saved_by or "someone"
        when = current.saved_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"sample {sample_id} was changed by {who} at {when} (version {current.version}; "
                         f"yours was based on version {expected}): reload it, or save yours over it")
        self.sample_id = sample_id
        self.expected = expected
        self.current = current


def record(cur, job_id: int, sample_ids: list[int], actor: str | None, source: str) -> int:
    """After the rows of these samples changed in this transaction: each gets its next version
    and a history row of what it holds now (saved by `actor`; None: whoever the row says labeled
    it, e.g. the labeler whose work an acceptance took). Returns how many."""
    if source not in SOURCES:
        raise ValueError(f"unknown history source {source!r}")
    ids = [int(s) for s in dict.fromkeys(sample_ids)]
    if not ids:
        return 0
    params = [ids, job_id]
    cur.execute("UPDATE job_samples SET version = version + 1 "
                "WHERE sample_id IN (SELECT unnest(?::BIGINT[])) AND job_id = ?", params)
    return cur.execute(
        "INSERT INTO annotation_history SELECT job_id, sample_id, version, status, labels, annotation, "
        "coalesce(?, labeled_by), ?, ? "
        "FROM job_samples WHERE sample_id IN (SELECT unnest(?::BIGINT[])) AND job_id = ?",
        [actor, now(), source, *params]).fetchall()[0][0]


def current_version(cur, job_id: int, sample_id: int) -> int:
    row = cur.execute("SELECT version, job_id FROM job_samples WHERE sample_id = ?", [sample_id]).fetchall()
    mine = [r[0] for r in row if r[1] == job_id]
    if not mine:
        raise NotFound(f"sample {sample_id} is not in this job (deleted?)")
    return int(mine[0])


def parse_version(raw) -> int | None:
    """A version as a client sends it: 3, "3", an ETag '"3"' or 'W/"3"'; None and "*" for any."""
    if raw is None:
        return None
    text = str(raw).strip()
    if text in ("", "*"):
        return None
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit() or len(text) > 9:
        raise ValidationError(f"a version is a whole number (the ETag of the sample), not {str(raw)[:40]!r}")
    return int(text)


def etag(version: int) -> str:
    return f'"{int(version)}"'


def check_version(cur, job_id: int, sample_id: int, expected: int | None, have: int | None = None) -> None:
    """Inside the saving transaction: refuse when the sample moved past the version the client read
    (``have``: the version already read in this transaction, if the caller has it)."""
    if expected is None:
        return
    if have is None:
        have = current_version(cur, job_id, sample_id)
    if have != expected:
        raise VersionConflict(sample_id, expected, _versions(cur, job_id, sample_id, have, limit=1)[0]
                              if have else _unsaved(cur, job_id, sample_id))


def check_versions(cur, job_id: int, versions: dict | None) -> None:
    """A bulk change that carries the versions it read ({sample id: version}): refused, changing
    nothing, when any of those samples was saved since."""
    if not versions:
        return
    try:
        wanted = {int(k): int(v) for k, v in versions.items()}
    except (TypeError, ValueError):
        raise ValidationError("versions: give {sample id: version} with whole numbers") from None
    rows = cur.execute("SELECT sample_id, version, labeled_by, job_id FROM job_samples "
                       "WHERE sample_id IN (SELECT unnest(?::BIGINT[]))", [list(wanted)]).fetchall()
    have = {r[0]: (r[1], r[2]) for r in rows if r[3] == job_id}
    moved = sorted(sid for sid, v in wanted.items() if sid in have and have[sid][0] != v)
    if moved:
        who = sorted({have[sid][1] or "someone" for sid in moved})
        raise Conflict(f"{len(moved)} of the selected samples were changed since you read them "
                       f"(by {', '.join(who[:5])}; samples {', '.join(map(str, moved[:10]))}"
                       f"{' ...' if len(moved) > 10 else ''}): refresh, then apply again; nothing was changed")


def _unsaved(cur, job_id: int, sample_id: int) -> Version:
    """Version 0 of a sample that was never saved since history began."""
    r = cur.execute("SELECT status, labels, annotation, labeled_by, labeled_at, job_id FROM job_samples "
                    "WHERE sample_id = ?", [sample_id]).fetchall()
    r = next(x for x in r if x[5] == job_id)
    return Version(0, r[0], list(r[1]), json.loads(r[2]) if r[2] else None, r[3], r[4] or now(), "before history",
                   True)


OUTLINE_KEYS = ("shapes", "spans", "entities", "segments", "frames")
_OUTLINE_PATHS = "[" + ", ".join(f"'$.{k}'" for k in OUTLINE_KEYS) + "]"


def _versions(cur, job_id: int, sample_id: int, current: int, limit: int = MAX_LIST,
              outlines: RecentlyUsed | None = None) -> list[Version]:
    """The newest `limit` versions, each with its annotation; with `outlines` (a listing), each
    with its outline instead: read by DuckDB from the JSON of the versions not known yet (parsing
    50 versions of 1,000 polygons in Python took 0.6 s of every save of a large image)."""
    if outlines is None:
        rows = cur.execute(
            "SELECT version, status, labels, annotation, saved_by, saved_at, source, job_id FROM annotation_history "
            "WHERE sample_id = ? ORDER BY version DESC", [sample_id]).fetchall()
        out = [Version(r[0], r[1], list(r[2]), json.loads(r[3]) if r[3] else None, r[4], r[5], r[6], r[0] == current)
               for r in rows if r[7] == job_id]
        return out[:limit]
    rows = [r for r in cur.execute(
        "SELECT version, status, labels, saved_by, saved_at, source, job_id FROM annotation_history "
        "WHERE sample_id = ? ORDER BY version DESC", [sample_id]).fetchall()  # the index: sample_id alone
        if r[6] == job_id][:limit]
    known = {r[0]: outlines.get((job_id, sample_id, r[0])) for r in rows}
    missing = [v for v, o in known.items() if o is None]
    if missing:
        wanted = set(missing)
        for r in cur.execute(  # the JSON of the missing versions only (the index: sample_id alone)
                f"SELECT version, job_id, json_type(a, {_OUTLINE_PATHS}), json_array_length(a, {_OUTLINE_PATHS}), "
                "CASE WHEN json_type(a, '$.content') = 'VARCHAR' THEN left(json_extract_string(a, '$.content'), 200) END "
                "FROM (SELECT version, job_id, CASE WHEN job_id = ? AND list_contains(?::BIGINT[], version) "
                "THEN annotation END AS a FROM annotation_history WHERE sample_id = ?)",
                [job_id, missing, sample_id]).fetchall():
            if r[1] != job_id or r[0] not in wanted:
                continue
            outline = {k: n for k, t, n in zip(OUTLINE_KEYS, r[2] or [], r[3] or []) if t == "ARRAY"}
            if r[4] is not None:
                outline["content"] = r[4]
            known[r[0]] = outline
            outlines.put((job_id, sample_id, r[0]), outline)
    return [Version(r[0], r[1], list(r[2]), None, r[3], r[4], r[5], r[0] == current, known.get(r[0]) or {})
            for r in rows]


def sample_history(store: Store, job_id: int, sample_id: int, actor: str | None = None,
                   full: bool = True, limit: int = MAX_LIST) -> list[Version]:
    """Every version of the sample's annotation in the job, newest first (the current one marked);
    reading it needs the right to label the job. ``full=False``: each version's outline instead
    of its annotation (what a listing shows), the newest ``limit``."""
    from .access import require_job

    require_job(store, actor, job_id, "label")
    with store.db.transaction() as cur:
        have = current_version(cur, job_id, sample_id)
        out = _versions(cur, job_id, sample_id, have, limit, None if full else store.caches.outlines)
        if not out:  # never saved since history began: what it holds is version 0
            v = _unsaved(cur, job_id, sample_id)
            out = [v if full else replace(v, annotation=None, outline=outline_of(v.annotation))]
    return out


def outline_of(annotation: dict | None) -> dict:
    ann = annotation if isinstance(annotation, dict) else {}
    out = {k: len(ann[k]) for k in OUTLINE_KEYS if isinstance(ann.get(k), list)}
    if isinstance(ann.get("content"), str):
        out["content"] = ann["content"][:200]
    return out


def restore_version(store: Store, job_id: int, sample_id: int, version: int, actor: str | None = None,
                    expected: int | None = None) -> int:
    """Make an old version current again, as a new version (source "restore"); the annotation is
    checked against the job's label set as it is now. Returns the new version."""
    from .access import require_job
    from .annotations import _require_page, _write_annotations
    from .jobs import get_job

    require_job(store, actor, job_id, "label")
    job = get_job(store, job_id)
    _require_page(job)
    with store.db.transaction() as cur:
        check_version(cur, job_id, sample_id, expected)
        have = current_version(cur, job_id, sample_id)
        old = next((v for v in _versions(cur, job_id, sample_id, have) if v.version == int(version)), None)
        if old is None:
            raise NotFound(f"sample {sample_id} has no version {int(version)} (pruned, or never saved)")
        if old.annotation and old.labels:
            meta = sample_meta(cur, job.labeling_type, sample_id)
            try:
                ann = job.labeling_type.validate(old.annotation, job.label_set, meta)
            except ValidationError as e:
                raise ValidationError(f"version {old.version} no longer fits the job's labels: {e}") from None
        else:
            ann = None
        _write_annotations(cur, job_id, [(sample_id, ann)], actor, source="restore")
        record_event(cur, actor, "restore_version", job_id, sample_id=sample_id, version=old.version)
        return current_version(cur, job_id, sample_id)


def note_overwrite(store: Store, job_id: int, sample_id: int, over_version: int, actor: str | None = None) -> None:
    """A save that knowingly replaced a newer version (after a conflict the person chose to keep
    theirs: saved with ``expected_version=over_version``): the audit trail says so, whose version
    it replaced and the version it made (event "overwrite_annotation")."""
    from .access import require_job

    require_job(store, actor, job_id, "label")
    with store.db.transaction() as cur:
        row = cur.execute("SELECT saved_by FROM annotation_history WHERE job_id = ? AND sample_id = ? AND version = ?",
                          [job_id, sample_id, int(over_version)]).fetchall()
        version = current_version(cur, job_id, sample_id)
        record_event(cur, actor, "overwrite_annotation", job_id, sample_id=sample_id, over_version=int(over_version),
                     overwritten_by=row[0][0] if row else None, version=version)
        # the History shows it too: the version this save made is an overwrite, not a plain save
        cur.execute("UPDATE annotation_history SET source = 'overwrite' WHERE sample_id = ? AND job_id = ? "
                    "AND version = ? AND saved_by IS NOT DISTINCT FROM ?", [sample_id, job_id, version, actor])


def sample_meta(cur, labeling_type, sample_id: int) -> dict | None:
    """What the type's validate checks an annotation of this sample against: its meta (image size,
    duration...) with the text of a text sample (span offsets); None for a type that reads none
    (LabelingType.validate_reads_meta), without asking the store."""
    if not labeling_type.validate_reads_meta:
        return None
    row = cur.execute("SELECT meta, text FROM samples WHERE id = ?", [sample_id]).fetchall()
    if not row:
        return None
    meta = json.loads(row[0][0]) if row[0][0] else None
    if row[0][1] is not None:
        meta = {**(meta or {}), "text": row[0][1]}
    return meta


def history_size(store: Store, job_id: int | None = None) -> dict:
    """Rows and (roughly) bytes of the history (of one job), for the statistics."""
    where, params = ("", []) if job_id is None else (" WHERE job_id = ?", [job_id])
    rows, size = store.db.fetchone("SELECT count(*), coalesce(sum(coalesce(strlen(annotation::VARCHAR), 0) + 40), 0) "
                                   f"FROM annotation_history{where}", params)  # strlen: bytes; NULL: a cleared one
    return {"rows": int(rows), "bytes": int(size)}


def history_overview(store: Store, actor: str | None = None) -> dict:
    """An admin's view of the whole history: versions kept, their size, the oldest."""
    from .access import require_admin

    require_admin(store, actor, "reading the size of the annotation history")
    oldest = store.db.scalar("SELECT min(saved_at) FROM annotation_history WHERE source <> 'before history'")
    return {**history_size(store), "oldest": oldest}


def prune_history(store: Store, older_than_days: float, actor: str | None = None) -> int:
    """An admin's: drop history rows older than this many days, never a sample's current version.
    Returns the rows dropped."""
    from .access import require_admin

    require_admin(store, actor, "pruning the annotation history")
    days = float(older_than_days)
    if not days >= 0:
        raise ValidationError("give the age in days (0 or more) of the history to drop")
    cutoff = now() - timedelta(days=days)
    with store.db.transaction() as cur:
        n = cur.execute(
            "DELETE FROM annotation_history h WHERE saved_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM job_samples js WHERE js.job_id = h.job_id AND js.sample_id = h.sample_id "
            "  AND js.version = h.version) "
            "AND NOT EXISTS (SELECT 1 FROM trash_job_samples js WHERE js.job_id = h.job_id "
            "  AND js.sample_id = h.sample_id AND js.version = h.version)",
            [cutoff]).fetchall()[0][0]
        record_event(cur, actor, "prune_history", None, rows=n, older_than_days=days)
    return n
