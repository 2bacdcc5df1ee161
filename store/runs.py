"""Auto-labeling runs (F4.2, F4.4): the preconditions, one run per job at a time, progress,
cancel, history, and restart safety (a run the app was stopped in is marked failed, never left
"running"). The work itself is done by autolabel/; this module keeps the record and the rules."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .jobs import get_job
from .access import require_job
from .types import REGISTRY

KINDS = {
    "active_learning": "Active learning",
    "prelabel": "Pre-labeling",
    "grouping": "Auto grouping",
    "tracking": "Automatic tracking",  # video: a box followed through frames (autolabel/tracking.py)
}
MODES = ("fast", "precise")
# Which kinds each labeling type offers: the types' autolabel_kinds (store/types/).
KINDS_BY_TYPE: dict[str, tuple[str, ...]] = {t.id: t.autolabel_kinds for t in REGISTRY.values() if t.autolabel_kinds}
FINAL = ("done", "failed", "cancelled")
MAX_BATCH = 512
# F4.2 thresholds
MIN_CLASSES, MIN_PER_CLASS = 2, 5
MIN_DETECTION_IMAGES = 5


@dataclass(frozen=True)
class Run:
    id: int
    job_id: int
    kind: str
    mode: str | None
    model: str | None
    device: str
    batch_size: int
    status: str  # running | done | failed | cancelled
    started_at: datetime
    finished_at: datetime | None
    total: int
    done: int
    labeled: int
    hard: int
    cancel_requested: bool
    message: str | None
    created_by: str | None
    # what confirming its predictions is worth (autolabel/learn.py calibrate), and "confirmed":
    # {"threshold", "samples", "estimated_accuracy", "by"} once someone confirmed above a threshold
    calibration: dict | None = None
    engine: str = "local"  # where it computed: "local" (threads of the app) or "ray" (a Ray cluster)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def progress(self) -> float:
        return self.done / self.total if self.total else (1.0 if self.status == "done" else 0.0)

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, self.kind) + (f" ({self.mode})" if self.mode else "")

    def as_dict(self) -> dict:
        return {"id": self.id, "job_id": self.job_id, "kind": self.kind, "mode": self.mode, "model": self.model,
                "device": self.device, "batch_size": self.batch_size, "status": self.status,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "total": self.total, "done": self.done, "labeled": self.labeled, "hard": self.hard,
                "cancel_requested": self.cancel_requested, "message": self.message, "created_by": self.created_by,
                "progress": round(self.progress, 4), "calibration": self.calibration, "engine": self.engine}


_COLUMNS = ("id, job_id, kind, mode, model, device, batch_size, status, started_at, finished_at, total, done, "
            "labeled, hard, cancel_requested, message, created_by")
_READ = _COLUMNS + ", calibration, engine"
ENGINES = ("local", "ray")  # the app's threads, or a Ray cluster (autolabel/engine.py)


def _run(r) -> Run:
    *rest, cal, engine = r
    return Run(*rest, calibration=json.loads(cal) if isinstance(cal, str) else cal, engine=engine or "local")


def get_run(store: Store, run_id: int, actor: str | None = None) -> Run:
    """One run; a run of a job the actor may not read does not exist for them."""
    r = store.db.fetchone(f"SELECT {_READ} FROM runs WHERE id = ?", [run_id])
    if not r:
        raise NotFound(f"auto-labeling run {run_id} does not exist")
    try:
        require_job(store, actor, r[1], "read")
    except NotFound:
        raise NotFound(f"auto-labeling run {run_id} does not exist") from None
    return _run(r)


def list_runs(store: Store, job_id: int, limit: int = 50, actor: str | None = None) -> list[Run]:
    """The job's run history, newest first."""
    require_job(store, actor, job_id, "read")
    return [_run(r) for r in store.db.fetchall(
        f"SELECT {_READ} FROM runs WHERE job_id = ? ORDER BY id DESC LIMIT ?", [job_id, limit])]


def active_run(store: Store, job_id: int, actor: str | None = None) -> Run | None:
    require_job(store, actor, job_id, "read")
    r = store.db.fetchone(f"SELECT {_READ} FROM runs WHERE job_id = ? AND status = 'running'", [job_id])
    return _run(r) if r else None


def check_preconditions(store: Store, job_id: int, kind: str, mode: str | None = None) -> None:
    """F4.2: refuse, with a message a user can act on, a run that cannot work."""
    job = get_job(store, job_id)
    offered = KINDS_BY_TYPE.get(job.type, ())
    if kind not in KINDS:
        raise ValidationError(f"unknown auto-labeling kind {kind!r}: one of {', '.join(KINDS)}")
    if kind in job.labeling_type.page_run_kinds:  # started from the page on one sample: its own checks
        if active_run(store, job_id):
            raise Conflict("another auto-labeling run of this job is in progress: wait for it or cancel it")
        return
    if kind not in offered:
        raise ValidationError(f"{KINDS[kind]} is not available for {job.labeling_type.title} jobs"
                              + (f" (available: {', '.join(KINDS[k] for k in offered)})" if offered else ""))
    if kind == "active_learning" and mode not in MODES:
        raise ValidationError("active learning runs in mode 'fast' or 'precise'")
    if active_run(store, job_id):
        raise Conflict("another auto-labeling run of this job is in progress: wait for it or cancel it")
    if kind == "grouping":
        if not store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [job_id]):
            raise ValidationError("the job has no samples to group: add data first")
        return
    pending = store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status <> 'labeled'", [job_id])
    if not pending:
        raise ValidationError("every sample is already labeled: auto labeling needs at least 1 unlabeled sample")
    if kind != "active_learning":
        return
    counts = dict(store.db.fetchall(
        "SELECT label, count(DISTINCT sample_id) FROM (SELECT sample_id, unnest(labels) AS label FROM job_samples "
        "WHERE job_id = ? AND status = 'labeled') GROUP BY label", [job_id]))
    noun = "images" if job.labeling_type.media == "image" else "samples"
    if job.labeling_type.active_learning_needs == "annotated_samples":
        images = store.db.scalar(
            "SELECT count(*) FROM job_samples WHERE job_id = ? AND status = 'labeled' AND len(labels) > 0", [job_id])
        if images < MIN_DETECTION_IMAGES:
            raise ValidationError(f"detection active learning needs at least {MIN_DETECTION_IMAGES} labeled images "
                                  f"with at least 1 box (now {images})")
        return
    enough = {k: v for k, v in counts.items() if v >= MIN_PER_CLASS}
    if len(enough) < MIN_CLASSES:
        have = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no labeled samples"
        raise ValidationError(f"active learning needs at least {MIN_CLASSES} labels each used on at least "
                              f"{MIN_PER_CLASS} labeled {noun} (now {have})")


def start_run(store: Store, job_id: int, kind: str, mode: str | None = None, model: str | None = None,
              device: str = "cpu", batch_size: int = 16, actor: str | None = None, engine: str = "local") -> Run:
    """Check the preconditions and record a running run; the caller then does the work."""
    require_job(store, actor, job_id, "label")  # store/access.py decides
    if device not in ("cpu", "gpu"):
        raise ValidationError("device is 'cpu' or 'gpu'")
    if engine not in ENGINES:
        raise ValidationError(f"engine is one of {', '.join(ENGINES)}")
    if not 1 <= int(batch_size) <= MAX_BATCH:
        raise ValidationError(f"batch size lies between 1 and {MAX_BATCH}")
    mode = mode if kind == "active_learning" else None
    with store.db.transaction() as cur:  # the writer lock makes check-then-insert atomic
        check_preconditions(store, job_id, kind, mode)
        rid = store.db.next_id(cur, "seq_run")
        cur.execute(f"INSERT INTO runs ({_COLUMNS}, engine) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, NULL, 0, 0, 0, "
                    "0, false, NULL, ?, ?)", [rid, job_id, kind, mode, model, device, int(batch_size), now(), actor,
                                              engine])
        record_event(cur, actor, "start_run", job_id, run=rid, kind=kind, mode=mode, model=model, engine=engine)
    return get_run(store, rid)


def update_progress(store: Store, run_id: int, done: int, total: int, message: str | None = None) -> bool:
    """Record progress; returns False when a cancel was asked for (the worker then stops)."""
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET done = ?, total = ?, message = coalesce(?, message) "
                    "WHERE id = ? AND status = 'running'", [int(done), int(total), message, run_id])
    return not cancel_requested(store, run_id)


def cancel_requested(store: Store, run_id: int) -> bool:
    return bool(store.db.scalar("SELECT cancel_requested FROM runs WHERE id = ?", [run_id]))


def request_cancel(store: Store, run_id: int, actor: str | None = None) -> Run:
    run = get_run(store, run_id, actor=actor)
    require_job(store, actor, run.job_id, "label")
    if not run.running:
        raise Conflict(f"run {run_id} is not running (it is {run.status})")
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET cancel_requested = true, message = 'cancelling…' WHERE id = ?", [run_id])
        record_event(cur, actor, "cancel_run", run.job_id, run=run_id)
    return get_run(store, run_id)


def finish_run(store: Store, run_id: int, status: str, message: str | None = None, labeled: int | None = None,
               hard: int | None = None, calibration: dict | None = None) -> Run:
    if status not in FINAL:
        raise ValueError(f"a run finishes as one of {FINAL}")
    with store.db.transaction() as cur:
        cur.execute("UPDATE runs SET status = ?, finished_at = ?, message = coalesce(?, message), "
                    "labeled = coalesce(?, labeled), hard = coalesce(?, hard), calibration = coalesce(?, calibration) "
                    "WHERE id = ? AND status = 'running'",
                    [status, now(), message, labeled, hard,
                     json.dumps(calibration) if calibration is not None else None, run_id])
    return get_run(store, run_id)


GRID = 100  # a calibration's thresholds: 0.00, 0.01 ... 1.00 (autolabel/learn.py calibrate)


def suggested_threshold(cal: dict | None) -> float | None:
    """The threshold to offer: the calibrated one, else the one of the best reachable accuracy."""
    if not cal:
        return None
    t = cal.get("threshold")
    if t is not None:
        return float(t)
    return float(cal["best_threshold"]) if cal.get("best_threshold") is not None else None


def _grid_index(t: float) -> int:
    return int(min(GRID, max(0, math.ceil(float(t) * GRID - 1e-9))))


def curve_at(cal: dict | None, t: float) -> list | None:
    """The calibration's curve entry at threshold t: [held-out accuracy above t (None under the
    minimum support), held-out predictions above t, the accuracy's lower bound]; None without one."""
    curve = (cal or {}).get("curve") or []
    i = _grid_index(t)
    return curve[i] if i < len(curve) else None


def estimate(cal: dict | None, t: float) -> tuple[float | None, int | None]:
    """(held-out accuracy above t or None, how many of the run's predictions are above t)."""
    if not cal:
        return None, None
    entry = curve_at(cal, t)
    pred = cal.get("predicted")
    return (entry[0] if entry else None), (int(sum(pred[_grid_index(t):])) if pred else None)


def calibrated_run(store: Store, job_id: int, actor: str | None = None) -> Run | None:
    """The job's latest finished run that measured its confidence threshold (None: no such run)."""
    require_job(store, actor, job_id, "read")
    r = store.db.fetchone(f"SELECT {_READ} FROM runs WHERE job_id = ? AND status = 'done' AND calibration IS NOT NULL "
                          "ORDER BY id DESC LIMIT 1", [job_id])
    return _run(r) if r else None


def note_confirmation(cur, job_id: int, threshold: float, samples: int, actor: str | None) -> None:
    """In a bulk confirm's transaction (store/predictions.py confirm_above): note on the job's
    latest calibrated run what was confirmed above which threshold, with the held-out accuracy
    above it (the run history shows it)."""
    r = cur.execute("SELECT id, calibration FROM runs WHERE job_id = ? AND status = 'done' AND calibration IS NOT NULL "
                    "ORDER BY id DESC LIMIT 1", [job_id]).fetchone()
    if not r or not samples:
        return
    cal = json.loads(r[1]) if isinstance(r[1], str) else dict(r[1])
    prev = cal.get("confirmed") or {}
    cal["confirmed"] = {"threshold": float(threshold), "samples": int(samples) + int(prev.get("samples") or 0),
                        "estimated_accuracy": estimate(cal, threshold)[0], "by": actor}
    cur.execute("UPDATE runs SET calibration = ? WHERE id = ?", [json.dumps(cal), r[0]])


def recover_interrupted_runs(store: Store) -> int:
    """On start: runs left 'running' by a stopped app are marked failed (their partial results,
    written in whole batches, stay in To Be Confirmed)."""
    with store.db.transaction() as cur:
        n = cur.execute("UPDATE runs SET status = 'failed', finished_at = ?, message = "
                        "'interrupted: the app stopped during the run; start it again' WHERE status = 'running'",
                        [now()]).fetchall()[0][0]
    return n
