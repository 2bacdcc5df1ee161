"""Labeling jobs: create, list with progress, modify, copy, delete (SPEC F1.1-F1.5)."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from .core import Store
from .datasets import (Dataset, Refused, check_files, create_dataset, find_dataset_by_source, get_dataset,
                       list_source_files, normalize_source, register_samples)
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .labelset import LabelSet, validate_label_set
from .types import LabelingType, get_type
from .types.base import REFUSED_EXTENSIONS
from .access import require_job, require_job_row

MAX_JOB_NAME = 100
MAX_DESCRIPTION = 256
MAX_INSTRUCTIONS = 100_000


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    description: str
    type: str
    dataset_id: int
    instructions: str
    team_labeling: bool
    label_set: LabelSet
    created_at: datetime
    created_by: str | None
    updated_at: datetime

    @property
    def labeling_type(self) -> LabelingType:
        return get_type(self.type)


@dataclass(frozen=True)
class JobSummary:
    """A row of the job list (F1.3)."""
    id: int
    name: str
    type: str
    dataset: str
    description: str
    created_at: datetime
    total: int
    labeled: int
    unlabeled: int
    to_be_confirmed: int

    @property
    def progress(self) -> float:
        return self.labeled / self.total if self.total else 0.0


_JOB_COLUMNS = ("id, name, description, type, dataset_id, instructions, team_labeling, label_set, "
                "created_at, created_by, updated_at")


def _job(r) -> Job:
    return Job(r[0], r[1], r[2], r[3], r[4], r[5], r[6], LabelSet.from_json(r[7]), r[8], r[9], r[10])


_JOB_COLUMNS_J = ", ".join(f"j.{c}" for c in _JOB_COLUMNS.split(", "))


def get_job(store: Store, job_id: int, actor: str | None = None, action: str = "view") -> Job:
    """The job, when the actor may do ``action`` on it (store/access.py decides, in the query that
    reads the job)."""
    return _job(require_job_row(store, actor, job_id, action, _JOB_COLUMNS_J))


def find_job(store: Store, name: str) -> Job:
    r = store.db.fetchone(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE name = ?", [name])
    if not r:
        raise NotFound(f"no job named {name!r}")
    return _job(r)


def random_job_name(prefix: str = "task") -> str:
    return f"{prefix}-{secrets.token_hex(2)}"


def _check_name(store: Store, name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("job name is empty")
    if len(name) > MAX_JOB_NAME:
        raise ValidationError(f"job name has {len(name)} characters; the limit is {MAX_JOB_NAME}")
    if any(ord(c) < 32 for c in name):
        raise ValidationError("job name holds control characters")
    other = store.db.scalar("SELECT id FROM jobs WHERE name = ?", [name])
    if other is not None and other != exclude_id:
        raise Conflict(f"a job named {name!r} already exists: pick another name")
    return name


def _check_texts(description: str, instructions: str) -> tuple[str, str]:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"description has {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    instructions = instructions or ""
    if len(instructions) > MAX_INSTRUCTIONS:
        raise ValidationError(f"labeling instructions are limited to {MAX_INSTRUCTIONS:,} characters")
    return description, instructions


def create_job(store: Store, name: str | None, type_id: str, *, dataset_id: int | None = None,
               source: str | None = None, label_set: LabelSet | None = None, description: str = "",
               instructions: str = "", team_labeling: bool = False, actor: str | None = None,
               dataset_name: str | None = None) -> Job:
    """Create a job on an existing dataset (dataset_id), on a folder / s3:// prefix (source: the
    dataset is found or created and scanned), or on a new empty dataset that uploads fill.

    Access (store/access.py): an existing dataset must be the actor's (an admin's: any); a server
    folder or an s3:// source is an admin's, inside the configured roots."""
    from .access import check_source_uri, require_dataset

    ltype = get_type(type_id)
    if dataset_id is not None:
        dataset_id = require_dataset(store, actor, dataset_id)
    elif source and source.strip():
        src = source.strip()
        if src.startswith("store://"):  # the app's storage: only through a dataset one may use
            raise ValidationError("a store:// location is used through its dataset: pick the dataset instead")
        check_source_uri(store, actor, src)
    if not (name or "").strip():  # default task-xxxx: draw again while the name is taken
        for _ in range(50):
            name = random_job_name()
            if store.db.scalar("SELECT id FROM jobs WHERE name = ?", [name]) is None:
                break
    name = _check_name(store, name)
    description, instructions = _check_texts(description, instructions)
    label_set = validate_label_set(label_set or LabelSet(), ltype.rules)
    if team_labeling and not ltype.team_labeling:
        raise ValidationError(f"team labeling is not available for {ltype.title}")
    if dataset_id is not None:
        dataset = get_dataset(store, dataset_id)
        if dataset.media != ltype.media:
            raise ValidationError(f"dataset {dataset.name!r} holds {dataset.media} files; "
                                  f"{ltype.title} needs {ltype.media} files")
    elif source:
        src = normalize_source(source)
        existing = find_dataset_by_source(store, src, ltype.media)
        dataset = existing or create_dataset(store, dataset_name or _name_from_source(src), ltype.media, src, actor)
    else:
        dataset = create_dataset(store, dataset_name or f"{name}-data", ltype.media, None, actor)
    with store.db.transaction() as cur:
        job_id = store.db.next_id(cur, "seq_job")
        t = now()
        cur.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [job_id, name, description, type_id, dataset.id, instructions, team_labeling,
                     label_set.to_json(), t, actor, t])
        cur.execute("INSERT INTO job_samples (job_id, sample_id) SELECT ?, id FROM samples WHERE dataset_id = ?",
                    [job_id, dataset.id])
        record_event(cur, actor, "create_job", job_id, name=name, type=type_id, dataset_id=dataset.id)
    if source and dataset_id is None:
        def undo() -> None:  # leave no half-made job (or new empty dataset) behind: creating it again works
            with store.db.transaction() as cur:
                cur.execute("DELETE FROM job_samples WHERE job_id = ?", [job_id])
                cur.execute("DELETE FROM imports WHERE job_id = ?", [job_id])
                cur.execute("DELETE FROM jobs WHERE id = ?", [job_id])
                if existing is None:
                    cur.execute("DELETE FROM datasets WHERE id = ? AND NOT EXISTS (SELECT 1 FROM samples "
                                "WHERE dataset_id = ?)", [dataset.id, dataset.id])

        try:
            record = synchronize(store, job_id, actor=actor)
        except Exception:  # the source could not be read (S3 down, ...)
            undo()
            raise
        if record.errors and not store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [job_id]):
            undo()
            raise ValidationError(f"no job was created: every file of {src} was refused\n"
                                  + "\n".join(f"refused: {e}" for e in record.errors[:20])
                                  + (f"\n... and {len(record.errors) - 20} more" if len(record.errors) > 20 else ""))
    return get_job(store, job_id)


def source_refusals(store: Store, job_id: int, actor: str | None = None) -> list[str]:
    """The files the scan of a job's source refused when it was made, each with its reason."""
    require_job(store, actor, job_id, "read")
    row = store.db.fetchone("SELECT errors FROM imports WHERE job_id = ? AND mode = 'synchronize' ORDER BY id LIMIT 1",
                            [job_id])
    return json.loads(row[0]) if row and row[0] else []


def _name_from_source(source: str) -> str:
    return source.rstrip("/").rsplit("/", 1)[-1] or source


def synchronize(store: Store, job_id: int, actor: str | None = None):
    """Rescan the dataset's source: new files become unlabeled samples of every job on the
    dataset; existing samples and labels are untouched; running it twice adds nothing (F2.1)."""
    from .import_records import finish_import, start_import

    require_job(store, actor, job_id, "manage")
    job = get_job(store, job_id)
    dataset = get_dataset(store, job.dataset_id)
    record = start_import(store, job_id, dataset.id, "synchronize", None, dataset.source, actor)
    try:
        listing = list_source_files(store, dataset.source, job.labeling_type.extensions)
        known = {r[0] for r in store.db.fetchall("SELECT uri FROM samples WHERE dataset_id = ?", [dataset.id])}
        new = [e for e in listing if e.uri not in known]
        checked = check_files(store, new, dataset.media)
        if dataset.media in REFUSED_EXTENSIONS:  # other containers of the medium: named, with the reason
            exts, reason = REFUSED_EXTENSIONS[dataset.media]
            others = list_source_files(store, dataset.source, exts)
            checked.refused += [Refused(e.path, f"{e.path}: {reason}") for e in others]
            listing = listing + others
        if dataset.media == "text":  # a text file's records: those already there are not new
            checked.accepted = [e for e in checked.accepted if e.uri not in known]
        ids = register_samples(store, dataset.id, checked.accepted)
        with store.db.transaction() as cur:
            _add_to_jobs(cur, dataset.id, list(ids.values()))
        if ids:  # team jobs on the dataset that ask for it hand the new samples out (F5.3)
            from .team_jobs import assign_new_samples

            for (jid,) in store.db.fetchall("SELECT job_id FROM team_jobs WHERE auto_assign_new AND job_id IN "
                                            "(SELECT id FROM jobs WHERE dataset_id = ?)", [dataset.id]):
                assign_new_samples(store, jid)
        return finish_import(store, record, found=len(listing), imported=len(ids), labeled=0,
                             errors=[r.reason for r in checked.refused])
    except Exception as e:
        finish_import(store, record, errors=[str(e)], failed=True)
        raise


def _add_to_jobs(cur, dataset_id: int, sample_ids: list[int], job_id: int | None = None) -> None:
    """Add samples to the jobs of a dataset (or one job) where they are not yet."""
    if not sample_ids:
        return
    jobs = [job_id] if job_id is not None else [r[0] for r in cur.execute(
        "SELECT id FROM jobs WHERE dataset_id = ?", [dataset_id]).fetchall()]
    for jid in jobs:
        cur.execute("""INSERT INTO job_samples (job_id, sample_id)
                       SELECT ?, unnest(?::BIGINT[]) AS sid EXCEPT SELECT ?, sample_id FROM job_samples WHERE job_id = ?""",
                    [jid, sample_ids, jid, jid])


def list_jobs(store: Store, type_id: str | None = None, search: str | None = None,
              actor: str | None = None) -> list[JobSummary]:
    """The jobs the actor may see (store/access.py: their own, those they are a member of; all for
    an admin), newest first."""
    from .access import visible_job_ids

    visible = visible_job_ids(store, actor)
    sql = """
        WITH progress AS (
            SELECT job_id, count(*) AS total,
                   count(*) FILTER (WHERE status = 'labeled') AS labeled,
                   count(*) FILTER (WHERE status = 'unlabeled') AS unlabeled,
                   count(*) FILTER (WHERE status = 'to_be_confirmed') AS tbc
            FROM job_samples GROUP BY job_id)
        SELECT j.id, j.name, j.type, d.name, j.description, j.created_at,
               coalesce(p.total, 0), coalesce(p.labeled, 0), coalesce(p.unlabeled, 0), coalesce(p.tbc, 0)
        FROM jobs j JOIN datasets d ON d.id = j.dataset_id LEFT JOIN progress p ON p.job_id = j.id
        WHERE 1 = 1"""
    params: list = []
    if type_id:
        sql += " AND j.type = ?"
        params.append(type_id)
    if search:
        sql += " AND contains(lower(j.name), lower(?))"
        params.append(search.strip())
    if visible is not None:
        sql += " AND j.id IN (SELECT unnest(?::BIGINT[]))"
        params.append(sorted(visible))
    sql += " ORDER BY j.created_at DESC, j.id DESC"
    return [JobSummary(*r) for r in store.db.fetchall(sql, params)]


def modify_job(store: Store, job_id: int, *, name: str | None = None, description: str | None = None,
               instructions: str | None = None, label_set: LabelSet | None = None,
               actor: str | None = None) -> Job:
    """Change name, description, instructions and labels, in one transaction. Labels (entities,
    relations, classes) still used by samples cannot be dropped here (label management deletes
    them everywhere, on purpose): the same rule as the label-set editor's."""

    require_job(store, actor, job_id, "manage")
    job = get_job(store, job_id)
    new_name = _check_name(store, name, exclude_id=job_id) if name is not None else job.name
    description, instructions = _check_texts(
        job.description if description is None else description,
        job.instructions if instructions is None else instructions)
    new_set = job.label_set
    if label_set is not None:
        from .annotations import checked_label_set

        new_set = checked_label_set(store, job, label_set)
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET name = ?, description = ?, instructions = ?, label_set = ?, updated_at = ? "
                    "WHERE id = ?", [new_name, description, instructions, new_set.to_json(), now(), job_id])
        record_event(cur, actor, "modify_job", job_id, name=new_name)
    return get_job(store, job_id)


def copy_job(store: Store, job_id: int, name: str | None = None, description: str | None = None,
             actor: str | None = None) -> Job:
    """A new job on the same dataset with the samples as they are now, the label set and the team
    settings; no labeling results (F1.5). The job's owner's action: a copy reads every sample."""

    require_job(store, actor, job_id, "manage")
    job = get_job(store, job_id)
    name = _check_name(store, name or f"{job.name[:MAX_JOB_NAME - 10]}-copy-{secrets.token_hex(2)}")
    description, _ = _check_texts(job.description if description is None else description, "")
    with store.db.transaction() as cur:
        new_id = store.db.next_id(cur, "seq_job")
        t = now()
        cur.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [new_id, name, description, job.type, job.dataset_id, job.instructions, job.team_labeling,
                     job.label_set.to_json(), t, actor, t])
        cur.execute("INSERT INTO job_samples (job_id, sample_id) SELECT ?, sample_id FROM job_samples "
                    "WHERE job_id = ? ORDER BY sample_id", [new_id, job_id])
        record_event(cur, actor, "copy_job", new_id, source_job=job_id, name=name)
    return get_job(store, new_id)


def delete_job(store: Store, job_id: int, actor: str | None = None) -> int:
    """Delete a job: it moves to the trash with its labels, history, runs, assignments and
    reviews (store/trash.py), restorable for Settings.trash_days; the dataset and its files stay
    (F1.4). Returns the trash item's id."""
    from .trash import trash_job

    require_job(store, actor, job_id, "manage")
    job = get_job(store, job_id)
    with store.db.transaction() as cur:
        if cur.execute("SELECT count(*) FROM runs WHERE job_id = ? AND status = 'running'", [job_id]).fetchall()[0][0]:
            raise Conflict("an auto-labeling run of this job is in progress: cancel it first, then delete the job")
        trash_id = trash_job(store, cur, job, actor)
        record_event(cur, actor, "delete_job", job_id, name=job.name, trash_id=trash_id)
    return trash_id


def job_dataset(store: Store, job: Job) -> Dataset:
    return get_dataset(store, job.dataset_id)


def dump_label_set(label_set: LabelSet) -> str:
    return json.dumps(json.loads(label_set.to_json()), indent=2, ensure_ascii=False)
