"""The Ray engine (issue 19) on a real local Ray cluster: one per module, `ray.init` with two CPUs
(two worker processes), the app's code shipped as the job's py_modules as the app does it.

Pre-labeling, active learning, auto grouping, detection fine-tuning and tracking run through Ray
and give what the local engine gives (bitwise, for these deterministic CPU models); a cancel
stops the cluster's work; a worker process killed mid-run leaves the run done or failed, never
running, with the batches written kept; S3 credentials reach the workers and none of Ray's logs.

Marked `ray` and skipped where Ray is not installed (`pip install -r requirements-ray.txt`, as
.ci/run does); one xdist group, so one worker process starts the one cluster.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from autolabel.models import register_model
from autolabel.runner import run_now, start_run_in_background, wait_for_run
from store.annotations import set_annotation
from store.predictions import discard_predictions
from store.runs import get_run, list_runs, request_cancel

from . import tiny_models as T
from .factories import new_job, upload_images

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

WAIT_S = 180  # the longest a run may take here before the test calls it hung


def wait_until(condition, timeout: float = WAIT_S, what: str = "the condition"):
    """Poll `condition` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


def _cluster_processes(temp: str) -> list:
    """This cluster's processes: those whose command line names its temporary folder."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(temp in part for part in (p.info["cmdline"] or [])):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPUs, stopped (and its processes gone) at the end."""
    from autolabel.ray_engine import code_env

    temp = tempfile.mkdtemp(prefix="lp-ray-", dir="/tmp")  # short: Ray's socket paths must stay short
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="labelport",
                 runtime_env=code_env(), _temp_dir=temp)
        yield temp
    finally:
        ray.shutdown()
        for p in _cluster_processes(temp):  # anything left of this cluster only
            try:
                p.kill()
            except psutil.NoSuchProcess:  # it ended by itself meanwhile: nothing left to stop
                pass
        shutil.rmtree(temp, ignore_errors=True)


def _actor_processes(temp: str, name: str) -> list:
    """The processes of this cluster's raylet whose title names `name` (Ray titles an actor's
    process ray::<its class>)."""
    out = []
    for raylet in (p for p in _cluster_processes(temp) if "raylet" in p.name()):
        for child in raylet.children(recursive=True):
            try:
                if name in " ".join(child.cmdline()):
                    out.append(child)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return out


def cpus_free() -> bool:
    return ray.available_resources().get("CPU", 0) >= 2


def predicted(store, job_id) -> dict:
    """sample id -> (status, annotation, confidence, hard, coefficient, reason): all but the model."""
    return {r[0]: (r[1], json.loads(r[2]) if r[2] else None, r[3], r[4], r[5], r[6]) for r in store.db.fetchall(
        "SELECT sample_id, status, annotation, confidence, hard, hard_coefficient, hard_reason FROM job_samples "
        "WHERE job_id = ? ORDER BY sample_id", [job_id])}


def image_job(store, tmp_path, n: int):
    job = new_job(store, labels=("cat", "dog"))
    upload_images(store, job.id, n)
    model = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog"])))
    return job, model


def test_prelabel_on_ray_gives_the_local_predictions(store, tmp_path, cluster):
    job, model = image_job(store, tmp_path, 14)
    broken = store.db.scalar("SELECT max(sample_id) FROM job_samples WHERE job_id = ?", [job.id])
    path = store.locations.local_path(store.db.scalar("SELECT uri FROM samples WHERE id = ?", [broken]))
    path.write_bytes(b"no image at all")  # skipped and reported the same way by both engines
    local = run_now(store, job.id, "prelabel", model=model.ref, batch_size=3)
    assert local.status == "done" and local.engine == "local", local.message
    want = predicted(store, job.id)
    discard_predictions(store, job.id)

    run = run_now(store, job.id, "prelabel", model=model.ref, batch_size=3, engine="ray", options={"ray_workers": 2})
    assert run.status == "done" and run.engine == "ray", run.message
    assert predicted(store, job.id) == want  # bitwise: the same confidences, hard flags and reasons
    assert run.labeled == local.labeled == 13 and run.done == run.total == 14
    same = re.compile(r" at 0x[0-9a-f]+")  # an object's address in a decoder's message
    assert same.sub("", run.message) == same.sub("", local.message).replace(f"{model.ref}:",
                                                                             f"{model.ref} on the Ray cluster:")
    assert "1 sample file(s) could not be read" in run.message
    assert [r.engine for r in list_runs(store, job.id)] == ["ray", "local"]
    wait_until(cpus_free, 60, "the run's actors going")


def test_active_learning_and_grouping_on_ray_give_the_local_results(store, cluster):
    from .test_autolabel_runs import color_job

    job, _truth = color_job(store, per_class=8, labeled=5)
    local = run_now(store, job.id, "active_learning", "fast", batch_size=4)
    assert local.status == "done", local.message
    want = predicted(store, job.id)
    discard_predictions(store, job.id)
    run = run_now(store, job.id, "active_learning", "fast", batch_size=4, engine="ray",
                  options={"ray_workers": 1})
    assert run.status == "done" and run.engine == "ray", run.message
    assert predicted(store, job.id) == want
    assert run.calibration == local.calibration and run.labeled == local.labeled == 9

    def clusters():
        return dict(store.db.fetchall("SELECT sample_id, cluster FROM job_samples WHERE job_id = ?", [job.id]))

    assert run_now(store, job.id, "grouping", batch_size=4, options={"clusters": 3}).status == "done"
    want = clusters()
    with store.db.transaction() as cur:
        cur.execute("UPDATE job_samples SET cluster = NULL WHERE job_id = ?", [job.id])
    grouped = run_now(store, job.id, "grouping", batch_size=4, engine="ray",
                      options={"clusters": 3, "ray_workers": 1})
    assert grouped.status == "done" and clusters() == want, grouped.message


def test_detection_fine_tuning_runs_as_one_ray_task(store, tmp_path, cluster):
    from .test_autolabel_detection import check_proposals, detection_job

    detector = register_model(store, str(T.detr_detector(tmp_path / "detr", ["person", "car", "tree"])))
    job, labeled, pending = detection_job(store)
    run = run_now(store, job.id, "active_learning", "fast", model=detector.ref, batch_size=4, engine="ray",
                  options={"epochs": 2, "score_threshold": 0.01})
    assert run.status == "done" and run.engine == "ray", run.message
    check_proposals(store, job, labeled, pending)
    saved = store.settings.data_dir / "models" / f"run-{run.id}"  # trained on a worker, saved by the app
    assert (saved / "config.json").is_file() and any(saved.glob("*.safetensors")), run.message
    assert register_model(store, str(saved), name="tuned").task == "object-detection"


def test_tracking_on_ray_finds_the_local_keyframes(store, cluster, tmp_path_factory):
    from benchmarks.synthetic import tracking_clip
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import get_sample

    folder = tmp_path_factory.mktemp("clip")
    truth = tracking_clip(folder / "moving.mp4", 30, size=(320, 200), seed=3)
    job = create_job(store, "track", "video_labeling", source=str(folder), label_set=LabelSet(labels=[Label("car")]))
    sid = store.db.scalar("SELECT sample_id FROM job_samples WHERE job_id = ?", [job.id])
    start = {"frames": [{"frame": 0, "shapes": [{"type": "rectangle", "label": "car", "track": "t1",
                                                 "points": [truth[0][:2], truth[0][2:]]}]}]}
    options = {"sample_id": sid, "frame": 0, "track": "t1", "frames": 25}
    set_annotation(store, job.id, sid, start)
    local = run_now(store, job.id, "tracking", options=options)
    want = get_sample(store, job.id, sid).annotation
    set_annotation(store, job.id, sid, start)
    run = run_now(store, job.id, "tracking", options=options, engine="ray")
    assert run.status == "done" and run.engine == "ray", run.message
    assert get_sample(store, job.id, sid).annotation == want and run.labeled == local.labeled > 0


def test_a_model_the_workers_cannot_load_fails_the_run_with_its_reason(store, tmp_path, cluster):
    job, model = image_job(store, tmp_path, 4)
    shutil.rmtree(tmp_path / "vit")  # registered, then gone: the workers cannot load it
    local = run_now(store, job.id, "prelabel", model=model.ref, batch_size=2)
    run = run_now(store, job.id, "prelabel", model=model.ref, batch_size=2, engine="ray",
                  options={"ray_workers": 1})
    assert local.status == run.status == "failed" and run.engine == "ray", (local.message, run.message)
    assert run.message.split(":")[0] == local.message.split(":")[0], (local.message, run.message)
    wait_until(cpus_free, 60, "the failed run's actors going")


def test_cancel_stops_the_work_on_the_cluster(store, tmp_path, cluster):
    job, model = image_job(store, tmp_path, 40)
    run = start_run_in_background(store, job.id, "prelabel", model=model.ref, batch_size=1, engine="ray",
                                  options={"ray_workers": 1})
    wait_until(lambda: get_run(store, run.id).done > 0, what="a first batch written")
    request_cancel(store, run.id)
    run = wait_for_run(store, run.id, WAIT_S)
    assert run.status == "cancelled", run.message
    written = store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status = 'to_be_confirmed'",
                              [job.id])
    assert 0 < written == run.done < 40  # what was written before the cancel stays
    wait_until(cpus_free, 60, "the cancelled run's actors going")


def test_a_worker_killed_mid_run_never_leaves_the_run_running(store, tmp_path, cluster):
    job, model = image_job(store, tmp_path, 60)
    run = start_run_in_background(store, job.id, "prelabel", model=model.ref, batch_size=1, engine="ray",
                                  options={"ray_workers": 2})
    wait_until(lambda: get_run(store, run.id).done > 0, what="a first batch written")
    actors = wait_until(lambda: _actor_processes(cluster, "ChunkActor"), 60, "the run's actor processes")
    before = get_run(store, run.id).done
    os.kill(actors[0].pid, signal.SIGKILL)
    assert before < 60, "the run ended before a worker could be killed: give it more chunks"
    run = wait_for_run(store, run.id, WAIT_S)
    assert run.status in ("done", "failed"), (run.status, run.message)
    written = store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status = 'to_be_confirmed'",
                              [job.id])
    assert written >= before  # the batches written before the death are kept
    if run.status == "done":  # Ray Data restarted the actor and retried its chunk
        assert written == 60 and run.done == 60, run.message
    wait_until(cpus_free, 60, "the run's actors going")


def test_s3_credentials_reach_the_workers_and_no_log(s3_store, tmp_path, cluster, monkeypatch, caplog):
    secret = f"canary-secret-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)  # the app's credentials (moto takes any)
    job, model = image_job(s3_store, tmp_path, 6)
    assert s3_store.db.scalar("SELECT min(uri) FROM samples").startswith("store://")
    run = run_now(s3_store, job.id, "prelabel", model=model.ref, batch_size=3, engine="ray",
                  options={"ray_workers": 1})
    assert run.status == "done" and run.labeled == 6, run.message  # the workers read the objects from S3
    assert secret not in caplog.text
    logs = [p for p in Path(cluster).rglob("*") if p.is_file() and p.suffix in (".log", ".out", ".err", ".txt")]
    assert logs
    leaked = [str(p) for p in logs if secret.encode() in p.read_bytes()]
    assert not leaked, leaked


def test_the_cli_runs_on_a_cluster_by_its_address(tmp_path, cluster):
    """`python app.py autolabel --engine ray --ray-address ADDR`: another process (the CLI) joins
    the running cluster as a driver, ships the app's code and runs there."""
    from store import Settings, open_store

    from .test_autolabel_runs import cli, color_job

    data = tmp_path / "data"
    s = open_store(Settings(data_dir=data, demo=False))
    job, _truth = color_job(s, per_class=8, labeled=5)
    s.close()
    address = ray.get_runtime_context().gcs_address
    out = cli(data, "autolabel", "--job", job.name, "--mode", "fast", "--engine", "ray", "--ray-address", address,
              "--batch-size", "4", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    assert res["status"] == "done" and res["engine"] == "ray" and res["labeled"] == 9, res
    bad = cli(data, "autolabel", "--job", job.name, "--engine", "ray", "--ray-address", "127.0.0.1:1")
    assert bad.returncode == 2 and "cannot connect to the Ray cluster at 127.0.0.1:1" in bad.stderr, bad.stderr[-2000:]


def test_a_driver_killed_mid_run_takes_its_work_along_and_the_run_is_marked_failed(tmp_path, cluster):
    """The app (here the CLI, a driver of the cluster) dies mid-run: its actors go with it, and
    the next start marks the run failed with the batches it wrote kept."""
    import subprocess
    import sys

    from store import Settings, open_store

    from .test_autolabel_runs import ROOT

    data = tmp_path / "data"
    s = open_store(Settings(data_dir=data, demo=False))
    job, model = image_job(s, tmp_path, 60)
    s.close()
    cmd = [sys.executable, "app.py", "autolabel", "--job", job.name, "--kind", "prelabel", "--model", model.ref,
           "--batch-size", "1", "--engine", "ray", "--ray-address", ray.get_runtime_context().gcs_address,
           "--data-dir", str(data)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"))
    try:
        wait_until(lambda: _actor_processes(cluster, "ChunkActor") or proc.poll() is not None, 120,
                   "the run's actors starting")
        assert proc.poll() is None, "the run ended before its driver could be killed"
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_until(lambda: not _actor_processes(cluster, "ChunkActor"), 120, "the dead driver's actors going")
    s = open_store(Settings(data_dir=data, demo=False))
    try:
        (run,) = list_runs(s, job.id)
        assert run.status == "failed" and run.engine == "ray" and "interrupted" in run.message, run
        written = s.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status = 'to_be_confirmed'",
                              [job.id])
        # whole batches, all kept (the last may be written without its progress: batches of 1 here)
        assert run.done <= written <= run.done + 1 and written < 60, (written, run.done)
    finally:
        s.close()
    wait_until(cpus_free, 60, "the cluster's CPUs free again")
