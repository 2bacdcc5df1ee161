"""The engine of auto-labeling runs (issue 19) without a cluster: the setting and its CLI flags,
the engine recorded on the run, the worker's side of the work (a WorkerContext with no store
reads files from their URIs and gives the local engine's predictions), and that what travels to
workers carries no secret in its repr. The Ray cluster itself: tests/test_ray_engine.py."""
from __future__ import annotations

import inspect
import json
import pickle

import pytest

from autolabel.models import register_model
from autolabel.runner import run_now
from store import Settings
from store.errors import ValidationError
from store.predictions import run_samples
from store.runs import list_runs, start_run
from store.workers import SampleFile, WorkerFiles, WorkerStorage, sample_files, worker_storage

from . import tiny_models as T
from .factories import new_job, upload_images


def test_the_engine_setting_and_its_flags(monkeypatch):
    for key in ("LABELPORT_ENGINE", "LABELPORT_RAY_ADDRESS"):
        monkeypatch.delenv(key, raising=False)
    assert Settings.from_env().engine == "local" and Settings.from_env().ray_address == ""
    monkeypatch.setenv("LABELPORT_RAY_ADDRESS", "head:6379")
    s = Settings.from_env()
    assert (s.engine, s.ray_address) == ("ray", "head:6379")  # an address means: run there
    monkeypatch.setenv("LABELPORT_ENGINE", "local")
    assert Settings.from_env().engine == "local"  # unless the engine is said

    from cli import build_parser, settings_from_args

    monkeypatch.delenv("LABELPORT_ENGINE")
    monkeypatch.delenv("LABELPORT_RAY_ADDRESS")
    args = build_parser().parse_args(["autolabel", "--job", "j", "--ray-address", "10.0.0.5:6379"])
    assert (settings_from_args(args).engine, settings_from_args(args).ray_address) == ("ray", "10.0.0.5:6379")
    args = build_parser().parse_args(["autolabel", "--job", "j", "--engine", "local"])
    assert settings_from_args(args).engine == "local"


def test_a_run_records_its_engine(store):
    job = new_job(store)
    upload_images(store, job.id, 2)
    run = start_run(store, job.id, "grouping", engine="local")
    assert run.engine == "local" and run.as_dict()["engine"] == "local"
    with pytest.raises(ValidationError, match="engine is one of local, ray"):
        start_run(store, job.id, "grouping", engine="spark")


def test_ray_without_an_address_or_ray_is_refused_before_the_run_is_recorded(store):
    try:
        import ray

        if ray.is_initialized():
            pytest.skip("this process is connected to a Ray cluster")
        expected = "LABELPORT_RAY_ADDRESS"
    except ImportError:
        expected = "pip install -r requirements-ray.txt"
    job = new_job(store)
    upload_images(store, job.id, 2)
    with pytest.raises(ValidationError, match=expected):
        run_now(store, job.id, "grouping", engine="ray")
    assert list_runs(store, job.id) == []
    with pytest.raises(ValidationError, match="engine is one of"):
        run_now(store, job.id, "grouping", engine="threads")
    if expected == "LABELPORT_RAY_ADDRESS":  # Ray is here: addresses it cannot work with are refused clearly
        from autolabel.ray_engine import connect

        with pytest.raises(ValidationError, match=r"Ray Client addresses \(ray://\) cannot run"):
            connect("ray://head:10001")
        with pytest.raises(ValidationError, match="nothing answers there"):
            connect("127.0.0.1:1")
    assert list_runs(store, job.id) == []


def _worker_classes():
    from autolabel import prelabel
    from autolabel.active_learning import FeatureSource, semi_supervised_work
    from autolabel.detection import DetectionLearner, detection_work
    from autolabel.tracking import tracking_work

    seen, todo = [], [prelabel.Predictor]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo += cls.__subclasses__()
    return seen + [FeatureSource, DetectionLearner, detection_work, semi_supervised_work, tracking_work]


@pytest.mark.parametrize("code", _worker_classes(), ids=lambda c: c.__name__)
def test_what_runs_on_workers_reads_files_through_its_context_only(code):
    """A Ray worker has no store: predictors, feature sources and the one-task work read samples'
    files through ctx.sample_bytes / open_audio / open_video, never through the store."""
    source = inspect.getsource(code)
    assert "ctx.store" not in source and "(store," not in source, code


def test_a_worker_context_predicts_what_the_run_context_predicts(store, tmp_path):
    """The worker's side of pre-labeling, in this process: no store, files from their URIs."""
    from autolabel.engine import worker_context
    from autolabel.prelabel import ImageClassifier, PredictChunks
    from autolabel.runner import RunContext, prepare_run
    from store.jobs import get_job

    job = new_job(store)
    upload_images(store, job.id, 5)
    model = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["cat", "dog"])))
    run, record = prepare_run(store, job.id, "prelabel", model=model.ref, batch_size=2)
    ctx = RunContext(store, get_job(store, job.id), run, record)
    samples = run_samples(store, job.id)
    files = sample_files(store, job.id, [s.sample_id for s in samples])
    assert all(f.uri.startswith("/") and f.name.endswith(".png") for f in files.values())
    wctx = pickle.loads(pickle.dumps(worker_context(ctx, files, worker_storage(store, files))))  # as sent
    assert wctx.store is None and wctx.sink is None
    here, there = PredictChunks(ctx, ImageClassifier)(samples), PredictChunks(wctx, ImageClassifier)(samples)
    assert here.predictions == there.predictions and len(there.predictions) == 5
    events = []
    wctx.sink = events.append
    wctx.progress(1, 5, "reading")
    assert events == [(1, 5, "reading")]
    with pytest.raises(Exception, match="not handed to this worker"):
        wctx.sample_bytes(10_000)


def test_sample_files_are_checked_and_text_records_carry_their_text(store):
    from store.imports import upload_files

    job = new_job(store, "texts", labels=("pos", "neg"), type_id="text_classification")
    rec = upload_files(store, job.id, [("reviews.csv", b"text\ngood film\nbad film\n")])
    assert rec.status == "succeeded", rec.errors
    ids = [s.sample_id for s in run_samples(store, job.id)]
    files = sample_files(store, job.id, ids)
    assert sorted(f.text for f in files.values()) == ["bad film", "good film"]
    assert WorkerFiles().read(files[ids[0]]) == files[ids[0]].text.encode()
    other = new_job(store, "other")
    with pytest.raises(Exception, match="not in job"):
        sample_files(store, other.id, ids)


def test_worker_storage_never_shows_its_credentials():
    s = WorkerStorage("http://s3.local:9000", "eu-west-1", {"aws_access_key_id": "AKIAEXAMPLE",
                                                            "aws_secret_access_key": "very-secret"})
    for text in (repr(s), str(s), repr([s]), json.dumps({"s": repr(s)})):
        assert "very-secret" not in text and "AKIAEXAMPLE" not in text
    assert "credentials=given" in repr(s)
    assert WorkerFiles(s).storage is s
    missing = SampleFile(1, "/nonexistent/labelport/x.png", "x.png")
    with pytest.raises(Exception, match="the workers read the files at the app's paths"):
        WorkerFiles().read(missing)


def test_the_ray_requirements_are_pinned_and_optional():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    lines = [ln.strip() for ln in (root / "requirements-ray.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines and all("==" in ln for ln in lines) and any(ln.startswith("ray[") for ln in lines)
    default = [ln.split("#")[0].strip().lower() for ln in (root / "requirements.txt").read_text().splitlines()]
    assert not any(ln.startswith("ray") for ln in default)  # the default install stays as it is
    ci = (root / ".ci" / "run").read_text()
    assert ci.index("pip install -r requirements-ray.txt") < ci.index("python -m pytest")


def test_the_panel_history_names_the_ray_engine(store):
    from components.autolabel_panel import HISTORY_COLUMNS, history_frame
    from store.runs import finish_run

    job = new_job(store)
    upload_images(store, job.id, 2)
    finish_run(store, start_run(store, job.id, "grouping", engine="ray").id, "done", "grouped")
    finish_run(store, start_run(store, job.id, "grouping").id, "done", "grouped")
    cells = history_frame(store, job.id)[HISTORY_COLUMNS[3]].tolist()
    assert cells == ["(default) · CPU", "(default) · CPU · Ray"]  # newest first


def test_a_worker_context_reads_audio_as_the_run_context(store):
    """Sound features on a worker: the file opened from its URI gives the same vectors."""
    from autolabel.active_learning import FeatureChunks
    from autolabel.engine import worker_context
    from autolabel.runner import RunContext, prepare_run
    from store.imports import upload_files
    from store.jobs import get_job

    from .test_autolabel_prelabel import wav_bytes

    job = new_job(store, "sounds", labels=("low", "high"), type_id="sound_classification")
    rec = upload_files(store, job.id, [(f"tone_{f}.wav", wav_bytes(freq=f)) for f in (220.0, 880.0)])
    assert rec.status == "succeeded", rec.errors
    run, _ = prepare_run(store, job.id, "grouping")
    ctx = RunContext(store, get_job(store, job.id), run, None)
    samples = run_samples(store, job.id)
    files = sample_files(store, job.id, [s.sample_id for s in samples])
    wctx = worker_context(ctx, files, worker_storage(store, files))
    here, there = FeatureChunks(ctx)(samples), FeatureChunks(wctx)(samples)
    assert here.shape == there.shape == (2, 96) and (here == there).all()


def test_one_task_work_sends_items_progress_and_its_own_errors(store):
    """The body of a Ray task (autolabel/ray_engine.py _work_task), run in this process."""
    pytest.importorskip("ray")
    from autolabel.engine import WorkerContext
    from autolabel.ray_engine import _unpacked, _work_task

    def work(ctx, n):
        for i in range(n):
            ctx.progress(i + 1, n, "step")
            yield i * 10

    def broken(ctx):
        yield "first"
        raise ValidationError("the model has no head")

    wctx = WorkerContext(None, None, None, None)  # type: ignore[arg-type]
    assert list(_work_task(work, wctx, (2,), 1)) == [("progress", (1, 2, "step")), ("item", 0),
                                                     ("progress", (2, 2, "step")), ("item", 10)]
    out = list(_work_task(broken, wctx, (), 1))
    assert out[0] == ("item", "first") and out[1][0] == "packed_error" and len(out) == 2
    with pytest.raises(ValidationError, match="the model has no head"):
        _unpacked(out[1][1])
