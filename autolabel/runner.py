"""Auto-labeling runs: one entry point for the app (background threads), the API and the CLI
(`python app.py autolabel`), the same code in all three.

`start_run_in_background` records the run (store/runs.py checks F4.2) and works in a thread;
`execute_run` does the work of one recorded run, synchronously, by the handler registered for
(job type, kind). A handler reads samples, writes predictions in whole batches (each batch is
one transaction, so a stop of the app leaves whole batches in To Be Confirmed) and reports
progress through `RunContext.progress`, which raises `Cancelled` once a cancel was asked for.
"""
from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass, field
from typing import Callable

from store import Store
from store.errors import StoreError, ValidationError
from store.jobs import Job, get_job
from store.models import ModelRecord, check_model_fits, find_model
from store.runs import KINDS, Run, cancel_requested, finish_run, get_run, start_run, update_progress

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """A cancel was asked for: the run stops after the batch it was writing."""


@dataclass
class Outcome:
    labeled: int = 0
    hard: int = 0
    message: str = ""
    calibration: dict | None = None  # autolabel/learn.py calibrate: what confirming its predictions is worth


@dataclass
class RunContext:
    store: Store
    job: Job
    run: Run
    model: ModelRecord | None
    strategy: str = "margin"
    actor: str | None = None
    options: dict = field(default_factory=dict)

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        if not update_progress(self.store, self.run.id, done, total, message):
            raise Cancelled()

    def check_cancel(self) -> None:
        """Raise Cancelled once a cancel was asked for (without touching the progress)."""
        if cancel_requested(self.store, self.run.id):
            raise Cancelled()

    @property
    def batch_size(self) -> int:
        return self.run.batch_size

    @property
    def device(self) -> str:
        return self.run.device

    @property
    def engine(self) -> str:
        return self.run.engine

    # A sample's file, as the work reads it: here through the store; on a Ray worker, from its URI
    # (autolabel/engine.py WorkerContext). Predictors and feature sources read only through these.
    def sample_bytes(self, sample_id: int) -> bytes:
        from store.samples import sample_bytes

        return sample_bytes(self.store, sample_id)

    def open_audio(self, sample_id: int):
        from store.audio import open_audio

        return open_audio(self.store, sample_id)

    def open_video(self, sample_id: int):
        """(container, frame index) of a video sample."""
        from store.video import open_video

        container, index, _path = open_video(self.store, sample_id)
        return container, index


Handler = Callable[[RunContext], Outcome]
# (type id, kind) -> handler; filled by the modules imported at the bottom.
HANDLERS: dict[tuple[str, str], Handler] = {}
# (type id, kind) -> model tasks it accepts (None: no model needed or a default exists)
MODEL_TASKS: dict[tuple[str, str], tuple[str, ...]] = {}
MODEL_REQUIRED: set[tuple[str, str]] = set()


def handler(type_id: str, kind: str, tasks: tuple[str, ...] = (), model_required: bool = False):
    def register(fn: Handler) -> Handler:
        HANDLERS[(type_id, kind)] = fn
        MODEL_TASKS[(type_id, kind)] = tasks
        if model_required:
            MODEL_REQUIRED.add((type_id, kind))
        return fn
    return register


def _resolve_model(store: Store, job: Job, kind: str, model: str | None) -> ModelRecord | None:
    key = (job.type, kind)
    if key not in HANDLERS:
        raise ValidationError(f"{KINDS.get(kind, kind)} is not available for {job.labeling_type.title} jobs")
    if not model:
        if key in MODEL_REQUIRED:
            tasks = " or ".join(MODEL_TASKS.get(key) or ()) or "the job's"
            raise ValidationError(f"{KINDS.get(kind, kind)} needs a registered model whose task is {tasks}: register "
                                  "one (a Hugging Face model id or a local folder) and pick it")
        return None
    record = find_model(store, model)
    check_model_fits(record, job.type, MODEL_TASKS.get(key) or None)
    return record


def prepare_run(store: Store, job_id: int, kind: str, mode: str | None = None, model: str | None = None,
                device: str = "cpu", batch_size: int = 16, actor: str | None = None,
                engine: str | None = None) -> tuple[Run, ModelRecord | None]:
    """Check everything (F4.2, model task, device, engine) and record the run as running. The
    engine is the app's setting (LABELPORT_ENGINE / LABELPORT_RAY_ADDRESS) unless one is given."""
    from .engine import check_engine

    job = get_job(store, job_id)
    record = _resolve_model(store, job, kind, model)
    engine = check_engine(store, engine or store.settings.engine, device)
    run = start_run(store, job_id, kind, mode, record.ref if record else None, device, batch_size, actor, engine)
    return run, record


def execute_run(store: Store, run: Run, record: ModelRecord | None = None, strategy: str = "margin",
                actor: str | None = None, options: dict | None = None) -> Run:
    """Do the work of a recorded run; always leaves it done, cancelled or failed."""
    try:
        job = get_job(store, run.job_id)
        fn = HANDLERS[(job.type, run.kind)]
        ctx = RunContext(store, job, run, record, strategy, actor, dict(options or {}))
        out = fn(ctx)
        return finish_run(store, run.id, "done", out.message or "finished", out.labeled, out.hard, out.calibration)
    except Cancelled:
        return finish_run(store, run.id, "cancelled", "cancelled; results written before the cancel stay in "
                                                      "To Be Confirmed")
    except StoreError as e:
        return finish_run(store, run.id, "failed", str(e))
    except Exception as e:  # a model that fails to load or run: recorded, never a stuck run
        log.error("auto-labeling run %s failed:\n%s", run.id, traceback.format_exc())
        return finish_run(store, run.id, "failed", f"{type(e).__name__}: {str(e)[:400]}")


def run_now(store: Store, job_id: int, kind: str, mode: str | None = None, model: str | None = None,
            device: str = "cpu", batch_size: int = 16, strategy: str = "margin", actor: str | None = None,
            options: dict | None = None, engine: str | None = None) -> Run:
    """Record and execute a run in this thread (CLI, tests)."""
    run, record = prepare_run(store, job_id, kind, mode, model, device, batch_size, actor, engine)
    return execute_run(store, run, record, strategy, actor, options)


_threads: dict[int, threading.Thread] = {}


def start_run_in_background(store: Store, job_id: int, kind: str, mode: str | None = None,
                            model: str | None = None, device: str = "cpu", batch_size: int = 16,
                            strategy: str = "margin", actor: str | None = None,
                            options: dict | None = None, engine: str | None = None) -> Run:
    """Record a run and work on it in a background thread; returns at once (F4.4). On the Ray
    engine the thread is the driver: the work runs on the cluster, the writes here."""
    run, record = prepare_run(store, job_id, kind, mode, model, device, batch_size, actor, engine)
    t = threading.Thread(target=execute_run, args=(store, run, record, strategy, actor, options),
                         name=f"autolabel-run-{run.id}", daemon=True)
    _threads[run.id] = t
    t.start()
    return run


def wait_for_run(store: Store, run_id: int, timeout: float | None = None) -> Run:
    t = _threads.get(run_id)
    if t is not None:
        t.join(timeout)
    return get_run(store, run_id)


def offered(type_id: str) -> list[str]:
    """The kinds of run a labeling type offers, in display order."""
    return [k for k in ("active_learning", "prelabel", "grouping") if (type_id, k) in HANDLERS]


# handlers register themselves
from . import active_learning  # noqa: E402,F401
from . import prelabel, detection  # noqa: E402,F401
from . import tracking  # noqa: E402,F401  (video: automatic tracking)
