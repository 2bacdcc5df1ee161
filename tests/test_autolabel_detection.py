"""Detection active learning (F4.1, F4.2, F4.4): a tiny DETR (tests/tiny_models.py) fine-tuned on
the labeled rectangles of small synthetic images, fast and precise; preconditions; cancel."""
from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image, ImageDraw

from autolabel.models import register_model
from autolabel.runner import run_now, start_run_in_background, wait_for_run
from store.annotations import set_annotation
from store.errors import ValidationError
from store.imports import upload_files
from store.runs import get_run, request_cancel
from store.samples import SampleQuery, query_samples

from . import tiny_models as T
from .factories import new_job

SIZE = (48, 40)


def scene(i: int, mode: str = "RGB") -> tuple[bytes, list[dict]]:
    """A gray image with a red and/or blue rectangle; returns its PNG and the rectangles."""
    im = Image.new("RGB", SIZE, (128, 128, 128))
    draw = ImageDraw.Draw(im)
    shapes = []
    x = 4 + (i * 5) % 20
    draw.rectangle([x, 6, x + 14, 20], fill=(220, 30, 30))
    shapes.append({"type": "rectangle", "label": "red", "points": [[x, 6], [x + 15, 21]]})
    if i % 2:
        draw.rectangle([8, 24, 30, 36], fill=(30, 30, 220))
        shapes.append({"type": "rectangle", "label": "blue", "points": [[8, 24], [31, 37]]})
    if mode != "RGB":
        im = im.convert(mode)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue(), shapes


@pytest.fixture
def detector(store, tmp_path):
    return register_model(store, str(T.detr_detector(tmp_path / "detr", ["person", "car", "tree"])))


def detection_job(store, labeled: int = 6, unlabeled: int = 3):
    job = new_job(store, "boxes", labels=("red", "blue"), type_id="object_detection")
    files, truth = [], []
    for i in range(labeled + unlabeled):
        data, shapes = scene(i, "RGBA" if i == labeled else "RGB")
        files.append((f"img_{i:02d}.png", data))
        truth.append(shapes)
    rec = upload_files(store, job.id, files)
    assert rec.status == "succeeded" and not rec.errors, rec.errors
    items = sorted(query_samples(store, job.id, SampleQuery(page_size=100)).items, key=lambda s: s.path)
    ids = [s.id for s in items]
    for sid, shapes in zip(ids[:labeled], truth):
        extra = [{"type": "polygon", "label": "blue", "points": [[1, 1], [5, 1], [3, 4]]},
                 {"type": "point", "label": "red", "points": [[2, 2]]}]
        set_annotation(store, job.id, sid, {"shapes": shapes + extra})
    return job, ids[:labeled], ids[labeled:]


def predictions(store, job_id) -> dict[int, tuple[str, dict | None, float | None, bool]]:
    return {r[0]: (r[1], json.loads(r[2]) if r[2] else None, r[3], r[4]) for r in store.db.fetchall(
        "SELECT sample_id, status, annotation, confidence, hard FROM job_samples WHERE job_id = ?", [job_id])}


def check_proposals(store, job, labeled, pending):
    got = predictions(store, job.id)
    for sid in labeled:
        assert got[sid][0] == "labeled"
    proposed = [got[sid] for sid in pending if got[sid][0] == "to_be_confirmed"]
    assert proposed, got
    for status, ann, conf, _hard in proposed:
        assert 0 <= conf <= 1 and ann["shapes"]
        for shape in ann["shapes"]:
            assert shape["type"] == "rectangle" and shape["label"] in ("red", "blue")
            (x1, y1), (x2, y2) = shape["points"]
            assert 0 <= x1 < x2 <= SIZE[0] and 0 <= y1 < y2 <= SIZE[1]
    return proposed


@pytest.mark.parametrize("mode", ["fast", "precise"])
def test_detection_active_learning_proposes_rectangles(store, detector, mode):
    job, labeled, pending = detection_job(store)
    run = run_now(store, job.id, "active_learning", mode=mode, model=detector.ref, batch_size=4,
                  options={"epochs": 2, "score_threshold": 0.05, "pseudo_threshold": 0.05})
    assert run.status == "done", run.message
    proposed = check_proposals(store, job, labeled, pending)
    assert run.labeled == len(proposed) and f"{mode} detection active learning" in run.message
    assert "fine-tuned on 6 labeled images (rectangles only)" in run.message
    if mode == "precise":
        assert "pseudo-labeled images" in run.message and "then on 0 pseudo" not in run.message
    folder = store.settings.data_dir / "models" / f"run-{run.id}"
    assert str(folder) in run.message and (folder / "config.json").is_file()
    # the saved model has the job's classes and can be registered for pre-labeling
    saved = register_model(store, str(folder), name=f"finetuned-{mode}")
    assert saved.task == "object-detection" and saved.labels == ["red", "blue"]


def test_fewer_than_five_labeled_images_is_refused(store, detector):
    job, _labeled, _pending = detection_job(store, labeled=4)
    with pytest.raises(ValidationError, match="at least 5 labeled images"):
        run_now(store, job.id, "active_learning", mode="fast", model=detector.ref)


def test_images_labeled_without_rectangles_do_not_count(store, detector):
    job, labeled, _pending = detection_job(store, labeled=5)
    set_annotation(store, job.id, labeled[0], {"shapes": [{"type": "circle", "label": "red", "points": [[10, 10]],
                                                           "radius": 5}]})
    run = run_now(store, job.id, "active_learning", mode="fast", model=detector.ref, options={"epochs": 1})
    assert run.status == "failed" and "at least 5 labeled images with a rectangle (now 4)" in run.message


def test_detection_needs_a_detection_model(store, tmp_path):
    vit = register_model(store, str(T.vit_image_classifier(tmp_path / "vit", ["red", "blue"])))
    job, _labeled, _pending = detection_job(store)
    with pytest.raises(ValidationError, match="needs object-detection"):
        run_now(store, job.id, "active_learning", mode="fast", model=vit.ref)


def test_cancel_stops_the_run_from_another_thread(store, detector):
    job, _labeled, pending = detection_job(store)
    run = start_run_in_background(store, job.id, "active_learning", mode="fast", model=detector.ref, batch_size=2,
                                  options={"epochs": 1000, "score_threshold": 0.0})
    deadline = time.monotonic() + 120
    while get_run(store, run.id).done == 0 and get_run(store, run.id).running:
        assert time.monotonic() < deadline, "no progress reported"
        time.sleep(0.05)
    request_cancel(store, run.id)
    final = wait_for_run(store, run.id, timeout=120)
    assert final.status == "cancelled", final.message
    assert 0 < final.done < final.total
    assert all(predictions(store, job.id)[sid][0] == "unlabeled" for sid in pending)
