"""The Ray engine (issue 19): auto-labeling runs computed on a Ray cluster, written by the app.

The app is the Ray driver: it connects to the cluster from a node of it (LABELPORT_RAY_ADDRESS:
"auto", or HEAD:6379; "local": a Ray instance started in this process, to try it on one machine;
not Ray Client's ray://, which runs neither Ray Data's streaming execution nor streaming tasks),
hands the work to it
and writes what comes back into the store, batch by batch, with the same store functions as the
local engine: one transaction per batch, progress from the batches written, a cancel stops the
cluster's work (the Ray Data execution and its actors, or the task), a worker that dies is
restarted by Ray Data with its chunk retried (a one-task run fails instead), and a driver that
dies takes its job's actors and tasks with it (the run is then marked failed on restart, its
batches kept, as for local runs).

What goes to the workers: the run's job, model record and options (autolabel/engine.py
WorkerContext), the URIs of the samples' files and how to reach S3 (store/workers.py: the
credentials are a task argument, never runtime_env env_vars, which Ray logs), and the app's own
code (the autolabel, store and media packages, as the job's runtime environment's py_modules, so
the workers run exactly the app's code). What the workers need beforehand: the app's requirements
(requirements.txt + requirements-ray.txt), the model (a folder at the same path, or a Hub id in
their cache), and the files (the same paths, e.g. a shared mount, or S3).
"""
from __future__ import annotations

import logging
import pickle
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from store.errors import ValidationError
from store.workers import sample_files, worker_storage

from .engine import WorkerContext, worker_context
from .runner import RunContext

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("autolabel", "store", "media")  # what the workers import of the app
POLL_S = 1.0  # how often the app looks for a cancel while a task works
CONNECT_TIMEOUT_S = 5.0
_lock = threading.Lock()
_connected: dict = {}  # {"address": the address this process connected with}


def _ray():
    try:
        import ray
    except ImportError:
        raise ValidationError("the Ray engine needs Ray, which is not installed here: "
                              "pip install -r requirements-ray.txt (on the app and on every worker)") from None
    return ray


def connect(address: str = ""):
    """Connect this process to the cluster once (a process has one Ray connection); returns ray.
    Connected already (by an earlier run, or by whoever embeds the app): that connection."""
    ray = _ray()
    address = (address or "").strip()
    with _lock:
        if ray.is_initialized():
            was = _connected.get("address")
            if address and was is not None and address != was:
                raise ValidationError(f"this app is connected to the Ray cluster at {was}: it cannot run on "
                                      f"{address} too (restart it with LABELPORT_RAY_ADDRESS={address})")
            _quiet_ray_data()
            return ray
        if not address:
            raise ValidationError("the Ray engine needs the cluster's address: set LABELPORT_RAY_ADDRESS or "
                                  "--ray-address (auto: the cluster this machine is a node of; HEAD:6379; "
                                  "local: a Ray instance in this process)")
        if address.startswith("ray://"):
            raise ValidationError("Ray Client addresses (ray://) cannot run the app's work (Ray Data's streaming "
                                  "execution and streaming tasks): make the app's machine a node of the cluster "
                                  "(ray start --address HEAD:6379 --num-cpus 0) and use LABELPORT_RAY_ADDRESS=auto")
        _probe(address)
        kw: dict[str, Any] = {"namespace": "labelport", "log_to_driver": False, "logging_level": logging.WARNING,
                              "runtime_env": code_env()}
        if address == "local":
            kw["include_dashboard"] = False
        try:
            ray.init(address=None if address == "local" else address, **kw)
        except Exception as e:  # noqa: BLE001 - a wrong address, a cluster down: a message to act on
            import os

            token = "" if os.environ.get("RAY_AUTH_MODE") else (
                "; a cluster started by `ray start` wants its token: RAY_AUTH_MODE=token, and RAY_AUTH_TOKEN "
                "or the token file (ray get-auth-token on the head)")
            raise ValidationError(f"cannot connect to the Ray cluster at {address}: "
                                  f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}{token} "
                                  "(see README, Scaling out)") from None
        _connected["address"] = address
        _quiet_ray_data()
        log.info("connected to the Ray cluster at %s: %s", address,
                 {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")})
        return ray


def _probe(address: str) -> None:
    """A HOST:PORT that does not answer is refused in seconds (Ray itself retries for minutes
    before it gives up)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local": Ray finds (or starts) the cluster on this machine
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ValidationError(f"cannot connect to the Ray cluster at {address}: nothing answers there "
                              f"({e.strerror or e}); start it with `ray start --head` (see README, Scaling out)") from None


def _quiet_ray_data() -> None:
    """No progress bars or execution banners in the app's output."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def check_cluster(address: str, device: str) -> None:
    """Before a run is recorded: Ray installed, the cluster reachable, a GPU there for --device gpu."""
    ray = connect(address)
    if device == "gpu" and not ray.cluster_resources().get("GPU"):
        raise ValidationError("GPU was chosen but the Ray cluster has no GPU: choose CPU or add a GPU worker "
                              "(ray start --address HEAD:6379 on a machine with CUDA)")


def code_env() -> dict:
    """The job's runtime environment (given to ray.init: Ray uploads local packages for a whole
    job only): the app's packages, so the workers run the app's code. A process that connects to
    Ray itself before the app does (a test, a benchmark, an embedding app) passes it too. No
    secrets here: Ray writes runtime environments into its logs."""
    return {"py_modules": [str(ROOT / p) for p in CODE_PACKAGES], "excludes": ["__pycache__", "*.pyc"]}


def _threads(ctx: RunContext) -> int:
    """CPU threads (and Ray CPUs) of one worker: option ray_threads, default 1."""
    return max(1, int(ctx.options.get("ray_threads") or 1))


def pool_size(ctx: RunContext, chunks: int) -> int:
    """Actors for map work: one per GPU (--device gpu) or per `ray_threads` CPUs of the cluster
    (option ray_workers: fewer); never more than the cluster holds (the rest would wait for ever)
    nor than the chunks."""
    res = _ray().cluster_resources()
    fits = int(res.get("CPU", 1) // _threads(ctx))
    if ctx.device == "gpu":
        fits = min(fits, int(res.get("GPU", 0)))
    n = int(ctx.options.get("ray_workers") or fits)
    return max(1, min(n, fits, chunks))


def _original(e: BaseException) -> BaseException:
    """The exception the work raised, out of Ray's wrappers (RayTaskError, UserCodeException)."""
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        inner = getattr(e, "cause", None) or e.__cause__
        if inner is None or not isinstance(inner, BaseException):
            break
        e = inner
        if not type(e).__module__.startswith("ray."):
            break
    return e


def _reraise(e: BaseException):
    cause = _original(e)
    if cause is e or type(cause).__module__.startswith("ray."):
        raise RuntimeError(f"the Ray cluster failed the run: {type(e).__name__}: {str(e).splitlines()[0][:300]}") \
            from None
    raise cause from None


# -- map work: Ray Data over an actor pool --------------------------------------------------------

class ChunkActor:
    """One worker of a run's actor pool: makes the worker object once (the model loads), then
    computes chunk after chunk. A row of the dataset is one chunk: its samples and their files."""

    def __init__(self, worker: Callable, wctx: WorkerContext, args: tuple, threads: int):
        _use_threads(threads)
        self.ctx = wctx
        self.error: BaseException | None = None
        try:
            self.work = worker(wctx, *args)
        except Exception as e:  # noqa: BLE001 - a model that cannot load: sent back with the first chunk
            self.error = e  # (an actor dying in its constructor would be restarted for ever)
        _use_threads(threads)

    def __call__(self, batch: dict) -> dict:
        """Each chunk's result, or the error it met, as ("ok" | "error", value): the app raises
        the work's own exception (Ray's wrappers do not carry it across)."""
        import numpy as np

        index, results = [], []
        for i, packed in zip(batch["chunk"], batch["work"]):
            index.append(int(i))
            try:
                if self.error is not None:
                    raise self.error
                samples, files = pickle.loads(packed)
                self.ctx.files = files
                results.append(_packed(("ok", self.work(samples))))
            except Exception as e:  # noqa: BLE001 - fails the run in the app, with its reason
                results.append(_packed(("error", e)))
        return {"chunk": np.asarray(index, dtype=np.int64), "result": np.asarray(results, dtype=object)}


def _use_threads(threads: int) -> None:
    """At most `threads` CPU threads in this worker: torch's, when the work loaded torch (features
    without a model do not, and need not pay its import); the math libraries' through the
    environment before they load."""
    import os
    import sys

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _packed(value: tuple) -> bytes:
    try:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        kind, e = value
        return pickle.dumps((kind, RuntimeError(f"{type(e).__name__}: {e}")), protocol=pickle.HIGHEST_PROTOCOL)


def _unpacked(data: bytes):
    kind, value = pickle.loads(data)
    if kind == "error":
        raise value
    return value


def map_chunks_on_ray(ctx: RunContext, worker: Callable, chunks: list[list], args: tuple) -> Iterator[tuple[int, Any]]:
    """engine.map_chunks on the cluster: (chunk index, result) in the order results arrive."""
    if not chunks:
        return
    ray = connect(ctx.store.settings.ray_address)
    files = sample_files(ctx.store, ctx.job.id, [s.sample_id for c in chunks for s in c], actor=ctx.actor)
    wctx = worker_context(ctx, {}, worker_storage(ctx.store, files))
    items = [{"chunk": i, "work": pickle.dumps((chunk, {s.sample_id: files[s.sample_id] for s in chunk}),
                                               protocol=pickle.HIGHEST_PROTOCOL)}
             for i, chunk in enumerate(chunks)]
    threads = _threads(ctx)
    size = pool_size(ctx, len(chunks))
    ds = ray.data.from_items(items, override_num_blocks=len(items))  # one chunk a block: the local batches
    out = ds.map_batches(ChunkActor, fn_constructor_args=(worker, wctx, args, threads), batch_size=None,
                         batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=size), num_cpus=threads,
                         num_gpus=1 if ctx.device == "gpu" else 0)
    log.info("run %s on Ray: %d chunks over %d actors (%s)", ctx.run.id, len(chunks), size,
             "GPU" if ctx.device == "gpu" else f"{threads} CPU each")
    rows = iter(out.iter_rows())
    try:
        for row in rows:
            yield int(row["chunk"]), _unpacked(row["result"])
    except ray.exceptions.RayError as e:
        _reraise(e)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # stops the execution: its actors go (a cancel, or a failure in the app)


# -- one-task work -------------------------------------------------------------------------------

def _work_task(fn: Callable, wctx: WorkerContext, args: tuple, threads: int):
    """On a worker: run the generator fn(wctx, *args) in a thread; yield ("progress", (done,
    total, message)) and ("item", item) to the app as they come."""
    _use_threads(threads)
    q: queue.Queue = queue.Queue()
    wctx.sink = lambda p: q.put(("progress", p))

    def work():
        try:
            for item in fn(wctx, *args):
                q.put(("item", item))
            q.put(("end", None))
        except Exception as e:  # noqa: BLE001 - sent to the app, which raises it
            q.put(("error", e))

    threading.Thread(target=work, name="labelport-work", daemon=True).start()
    while True:
        kind, payload = q.get()
        if kind == "end":
            return
        if kind == "error":
            yield "packed_error", _packed(("error", payload))
            return
        yield kind, payload


_remote: dict = {}


def run_work_on_ray(ctx: RunContext, fn: Callable, args: tuple, sample_ids: list[int]) -> Iterator:
    """engine.run_work as one Ray task (a streaming generator): items back as yielded, progress
    recorded on the run, a cancel (looked for every POLL_S) cancels the task."""
    ray = connect(ctx.store.settings.ray_address)
    files = sample_files(ctx.store, ctx.job.id, sample_ids, actor=ctx.actor) if sample_ids else {}
    wctx = worker_context(ctx, files, worker_storage(ctx.store, files))
    if "task" not in _remote:
        _remote["task"] = ray.remote(_work_task)
    threads = _threads(ctx)
    gen = _remote["task"].options(num_returns="streaming", num_cpus=threads,
                                  num_gpus=1 if ctx.device == "gpu" else 0,
                                  max_retries=0).remote(fn, wctx, args, threads)
    finished = False
    try:
        while True:
            ready, _ = ray.wait([gen], timeout=POLL_S)
            if not ready:
                ctx.check_cancel()
                continue
            try:
                ref = next(gen)
            except StopIteration:
                finished = True
                return
            kind, payload = ray.get(ref)
            if kind == "progress":
                ctx.progress(*payload)
            elif kind == "packed_error":
                finished = True
                _unpacked(payload)  # raises the work's exception
            else:
                yield payload
    except ray.exceptions.RayError as e:
        finished = True
        _reraise(e)
    finally:
        if not finished:
            try:
                ray.cancel(gen, force=True)  # a cancel, or a failure in the app: the task stops
            except Exception as e:  # noqa: BLE001 - it may be gone already
                log.debug("cancel of run %s's task: %s", ctx.run.id, e)
