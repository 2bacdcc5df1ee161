"""Where auto-labeling runs compute (issue 19): the engine of a run is "local" (threads of the app,
the default) or "ray" (a Ray cluster: LABELPORT_ENGINE / LABELPORT_RAY_ADDRESS, or the CLI's
--engine ray --ray-address ADDR). The run records which (store/runs.py, Run.engine).

Handlers do not care which engine runs them; they hand their computing to one of two calls and
write what comes back into the store themselves, in the app (the store is the app's only):

- `map_chunks(ctx, Worker, chunks, *args)`: data-parallel work over samples, chunk by chunk
  (pre-labeling with a Predictor; features for active learning and auto grouping). `Worker(ctx,
  *args)` is made once per worker (it loads the model), then called on one chunk (a list of
  RunSample) after another; yields (chunk index, result) as results come. Local: this thread,
  in order. Ray: Ray Data `map_batches` over an actor pool sized to the cluster (one chunk per
  block, so every chunk is the batch the local engine would predict: the same results), results
  in the order they finish.
- `run_work(ctx, fn, *args, sample_ids=...)`: work that does not split (fine-tuning a detector,
  the semi-supervised network, tracking a box through a video): a generator function
  `fn(ctx, *args)`; its items come back as it yields them and its `ctx.progress` reaches the
  run. Local: this thread. Ray: one task (on a GPU worker with --device gpu).

The work reads samples' files only through `ctx.sample_bytes` / `ctx.open_audio` /
`ctx.open_video`: a RunContext reads through the store; a WorkerContext, on a Ray worker, reads
the URIs the app handed it (store/workers.py) and sends its progress back to the app.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from store.core import Store
from store.errors import NotFound, ValidationError
from store.runs import ENGINES
from store.workers import SampleFile, WorkerFiles, WorkerStorage

from .runner import RunContext


def check_engine(store: Store, engine: str, device: str) -> str:
    """The engine a run may use, checked before the run is recorded: Ray installed and its
    cluster reachable (and holding a GPU for --device gpu); a local GPU run needs CUDA here."""
    engine = (engine or "local").strip().lower()
    if engine not in ENGINES:
        raise ValidationError(f"engine is one of {', '.join(ENGINES)} (not {engine!r})")
    if engine == "ray":
        from .ray_engine import check_cluster

        check_cluster(store.settings.ray_address, device)
    elif device == "gpu":
        import torch

        if not torch.cuda.is_available():
            raise ValidationError("GPU was chosen but this machine has no CUDA device: choose CPU")
    return engine


def where(ctx: RunContext) -> str:
    """For progress messages: where the work runs."""
    return " on the Ray cluster" if ctx.engine == "ray" else ""


@dataclass
class WorkerContext(RunContext):
    """A RunContext on a Ray worker: no store; files from their URIs; progress goes to `sink`
    (set on the worker: the task sends it to the app, which records it and answers a cancel by
    stopping the task)."""
    files: dict[int, SampleFile] = field(default_factory=dict)
    storage: WorkerStorage | None = None
    sink: Callable[[tuple], None] | None = None

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        if self.sink is not None:
            self.sink((int(done), int(total), message))

    def check_cancel(self) -> None:  # the app checks, and stops the work
        return None

    def _file(self, sample_id: int) -> SampleFile:
        try:
            return self.files[int(sample_id)]
        except KeyError:
            raise NotFound(f"sample {sample_id} was not handed to this worker") from None

    @property
    def reader(self) -> WorkerFiles:
        r = self.__dict__.get("_reader")
        if r is None:
            r = self.__dict__["_reader"] = WorkerFiles(self.storage)
        return r

    def sample_bytes(self, sample_id: int) -> bytes:
        return self.reader.read(self._file(sample_id))

    def open_audio(self, sample_id: int):
        return self.reader.open_audio(self._file(sample_id))

    def open_video(self, sample_id: int):
        return self.reader.open_video(self._file(sample_id))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_reader", None)
        state["sink"] = None
        return state


def worker_context(ctx: RunContext, files: dict[int, SampleFile], storage: WorkerStorage) -> WorkerContext:
    """What a worker needs of a run's context: the job, run, model and options; no store."""
    return WorkerContext(None, ctx.job, ctx.run, ctx.model, ctx.strategy, ctx.actor,  # type: ignore[arg-type]
                         dict(ctx.options), files=files, storage=storage)


def map_chunks(ctx: RunContext, worker: Callable[..., Callable[[list], Any]], chunks: list[list],
               *args) -> Iterator[tuple[int, Any]]:
    """(chunk index, worker(chunk)) for every chunk, on the run's engine (see the module's doc)."""
    if ctx.engine == "ray":
        from .ray_engine import map_chunks_on_ray

        yield from map_chunks_on_ray(ctx, worker, chunks, args)
        return
    made = None
    for i, chunk in enumerate(chunks):
        if made is None:
            made = worker(ctx, *args)
        yield i, made(chunk)


def run_work(ctx: RunContext, fn: Callable[..., Iterator], *args, sample_ids: list[int] = ()) -> Iterator:
    """The items of the generator `fn(ctx, *args)`, computed on the run's engine; `sample_ids`:
    the samples whose files the work reads (handed to a Ray worker)."""
    if ctx.engine == "ray":
        from .ray_engine import run_work_on_ray

        yield from run_work_on_ray(ctx, fn, args, list(sample_ids))
        return
    yield from fn(ctx, *args)
