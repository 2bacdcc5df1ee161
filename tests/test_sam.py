"""SAM on the server (issue 18): a registered SamModel fits the extreme-points outline first and
answers click to segment (store/samples.py sample_outline, sample_segment, segment_tools;
media/sam.py; the routes /media/{id}/outline, /media/{id}/sam, /media/{id}/segment-tools).

The SAM here is tiny and built from a config (tests/tiny_models.py sam_model): with `fill` its
masks cover the whole image, so what comes back is known (the box prompt's rectangle, or the
image); with random weights only the plumbing is checked. The image embedding of a sample is
kept for the next clicks (store.caches.sam)."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from autolabel.models import register_model
from store.errors import ValidationError
from store.samples import sample_outline, sample_segment, segment_tools

from . import tiny_models as T
from .factories import new_job

W, H = 80, 48
EXTREME = [[40, 8], [70, 24], [40, 40], [10, 24]]  # top, right, bottom, left of the ellipse below


def ellipse_png() -> bytes:
    img = Image.new("RGB", (W, H), (20, 30, 40))
    ImageDraw.Draw(img).ellipse((10, 8, 70, 40), fill=(230, 200, 60))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def sample(store):
    from store.imports import upload_files

    job = new_job(store, labels=("blob",), type_id="image_segmentation")
    rec = upload_files(store, job.id, [("e.png", ellipse_png())])
    assert rec.status == "succeeded", rec.errors
    return store.db.scalar("SELECT sample_id FROM job_samples WHERE job_id = ?", [job.id])


def inside(points, box=(0, 0, W, H)) -> bool:
    x0, y0, x1, y1 = box
    return len(points) >= 3 and all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)


def test_sam_registers_for_the_segmentation_tools(store, tmp_path):
    from store.models import list_models

    record = register_model(store, str(T.sam_model(tmp_path / "sam")))
    assert record.task == "mask-generation" and record.labels == []
    assert [m.ref for m in list_models(store, "image_segmentation")] == [record.ref]
    assert list_models(store, "image_classification") == []
    from autolabel.runner import run_now

    job = new_job(store, "cls", labels=("a", "b"))  # no run takes it
    with pytest.raises(ValidationError, match="does mask-generation"):
        run_now(store, job.id, "prelabel", model=record.ref)


def test_extreme_points_fit_with_sam_when_one_is_registered(store, sample, tmp_path):
    before = sample_outline(store, sample, EXTREME)
    assert before["method"] in ("grabcut", "octagon") and "model" not in before
    assert segment_tools(store, sample) == {"sam": False, "model": None, "extreme_points": "grabcut",
                                            "max_clicks": 32}
    record = register_model(store, str(T.sam_model(tmp_path / "sam")))
    assert not store.caches.sam.has_embedding(record.source, (record.id, sample))
    got = sample_outline(store, sample, EXTREME)
    assert got["method"] == "sam" and got["model"] == record.ref and "note" not in got
    # the tiny SAM's mask is the whole image, cut to the points' box: the polygon is that box
    xs, ys = [p[0] for p in got["points"]], [p[1] for p in got["points"]]
    assert inside(got["points"], (10, 8, 70, 40)) and min(xs) < 12 and max(xs) > 68 and min(ys) < 10 and max(ys) > 38
    assert store.caches.sam.has_embedding(record.source, (record.id, sample))  # the next clicks reuse it
    assert segment_tools(store, sample) == {"sam": True, "model": record.ref, "extreme_points": "sam",
                                            "max_clicks": 32}


def test_click_to_segment_with_positive_and_negative_clicks(store, sample, tmp_path):
    with pytest.raises(ValidationError, match="needs a SAM model"):
        sample_segment(store, sample, [[40, 24]])
    record = register_model(store, str(T.sam_model(tmp_path / "sam")))
    got = sample_segment(store, sample, [[40, 24], [30, 20]], [[75, 5]])
    assert got["method"] == "sam" and got["model"] == record.ref and 0 <= got["score"] <= 1
    assert inside(got["points"])  # the whole image here
    boxed = sample_segment(store, sample, [], [[2, 2]], box=[60, 40, 20, 10])  # a box alone; any corner order
    assert inside(boxed["points"], (20, 10, 60, 40))
    far = sample_segment(store, sample, [[-1e9, 1e9]])  # clamped to the image
    assert inside(far["points"])
    assert store.caches.sam.has_embedding(record.source, (record.id, sample))
    for pos, neg, box, message in (
            ([], [], None, "at least one positive click or a box"),
            ([], [[1, 1]], None, "at least one positive click or a box"),
            ([[1, 1]] * 33, [], None, "at most 32 points"),
            ([[1, 1]], [[1, 1]] * 33, None, "at most 32 points"),
            ([[float("nan"), 1]], [], None, "finite numbers"),
            ([[1, float("inf")]], [], None, "finite numbers"),
            ([[1, 2, 3]], [], None, "x,y pairs"),
            ([["1", 2]], [], None, "x,y pairs"),
            ([[1, 1]], [], [5, 5, 5, 30], "no area"),
            ([[1, 1]], [], [0, 0, 1], "four numbers"),
            ([[1, 1]], [], [0, 0, float("nan"), 4], "finite")):
        with pytest.raises(ValidationError, match=message):
            sample_segment(store, sample, pos, neg, box)


def test_random_sam_weights_and_a_broken_model(store, sample, tmp_path):
    """Random weights: whatever SAM finds comes back as a polygon in the image (or nothing), never
    an error; a SAM model that cannot load: the outline falls back to GrabCut and says why, click
    to segment refuses with the reason."""
    import shutil

    from store.models import delete_model

    record = register_model(store, str(T.sam_model(tmp_path / "random", fill=False)))
    got = sample_segment(store, sample, [[40, 24]], [[12, 40], [70, 10]])
    assert got["points"] == [] or inside(got["points"])
    assert sample_outline(store, sample, EXTREME)["method"] in ("sam", "grabcut", "octagon")
    delete_model(store, record.id)
    broken = register_model(store, str(T.sam_model(tmp_path / "broken")), version="2")
    shutil.rmtree(tmp_path / "broken")
    got = sample_outline(store, sample, EXTREME)
    assert got["method"] in ("grabcut", "octagon") and got["model"] == broken.ref and "failed" in got["note"]
    with pytest.raises(ValidationError, match=r"SAM \(broken@2\) failed"):
        sample_segment(store, sample, [[40, 24]])


def test_image_embeddings_are_kept_for_the_next_clicks(tmp_path, monkeypatch):
    """The vision encoder runs once per image while its embedding is kept (the last
    `embeddings_kept` images): further clicks on it run only the prompt encoder and mask decoder."""
    import numpy as np
    from transformers import SamModel

    from media.sam import SamSegmenter

    encoded = []
    real = SamModel.get_image_embeddings
    monkeypatch.setattr(SamModel, "get_image_embeddings", lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    source = str(T.sam_model(tmp_path / "sam"))
    seg = SamSegmenter(embeddings_kept=2)
    image = np.zeros((H, W, 3), np.uint8)
    for key in ("a", "b", "c", "c", "b"):
        seg.mask(source, key, image, [(5, 5)])
    assert len(encoded) == 3  # a, b, c once each
    assert [seg.has_embedding(source, k) for k in ("a", "b", "c")] == [False, True, True]
    with pytest.raises(ValueError, match="positive point or a box"):
        seg.mask(source, "a", image, [], [(1, 1)])


def test_segment_routes(store, sample, tmp_path):
    from fastapi.testclient import TestClient

    from server import build_server

    client = TestClient(build_server(store, defer_ui=True))  # media routes only: no UI built
    tools = client.get(f"/media/{sample}/segment-tools")
    assert tools.status_code == 200 and tools.json()["sam"] is False
    r = client.get(f"/media/{sample}/sam", params={"pos": "40,24"})
    assert r.status_code == 422 and "needs a SAM model" in r.json()["detail"]
    record = register_model(store, str(T.sam_model(tmp_path / "sam")))
    assert client.get(f"/media/{sample}/segment-tools").json() == {
        "sam": True, "model": record.ref, "extreme_points": "sam", "max_clicks": 32}
    r = client.get(f"/media/{sample}/sam", params={"pos": "40,24,30,20", "neg": "75,5", "box": "5,5,75,45"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store", r.text
    body = r.json()
    assert body["method"] == "sam" and body["model"] == record.ref and inside(body["points"], (5, 5, 75, 45))
    outline = client.get(f"/media/{sample}/outline", params={"points": ",".join(str(v) for p in EXTREME for v in p)})
    assert outline.status_code == 200 and outline.json()["method"] == "sam"
    for params, message in (({}, "at least one positive click or a box"),
                            ({"pos": "1"}, "x,y pairs"),
                            ({"pos": "1,2,3"}, "x,y pairs"),
                            ({"pos": "a,b"}, "x,y pairs"),
                            ({"pos": "1,nan"}, "finite"),
                            ({"pos": ",".join(["1"] * 66)}, "at most 64 numbers"),
                            ({"neg": "1,1"}, "at least one positive click or a box"),
                            ({"pos": "1,1", "box": "1,2,3"}, "four numbers"),
                            ({"pos": "1,1", "box": "0,0,1,1,2"}, "at most 4 numbers"),
                            ({"box": "0,0,inf,3"}, "finite"),
                            ({"box": "3,3,3,30"}, "no area")):
        r = client.get(f"/media/{sample}/sam", params=params)
        assert r.status_code == 422 and message in r.json()["detail"], (params, r.text)
    assert client.get("/media/999999/sam", params={"pos": "1,1"}).status_code == 404
    assert client.get("/media/999999/segment-tools").status_code == 404
