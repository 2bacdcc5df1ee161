"""Automatic tracking (issue 16): a box of a track followed forward with OpenCV's CSRT on a real
H.264 clip whose true boxes are known (benchmarks/synthetic.tracking_clip), written as keyframes
that interpolation fills between; what a person drew is never overwritten; cancel writes
nothing; bad requests get a reason."""
import pytest

from autolabel.runner import execute_run, prepare_run, run_now
from benchmarks.synthetic import tracking_clip
from store.annotations import set_annotation
from store.errors import StoreError, ValidationError
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.runs import request_cancel
from store.samples import get_sample
from store.tracks import frames_with_interpolation, thin
from tests.test_video import page  # noqa: F401  (a fixture)

FRAMES = 40


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    truth = tracking_clip(folder / "moving.mp4", FRAMES, size=(320, 200), seed=3)
    return folder, truth


def job_with_clip(store, folder):
    job = create_job(store, "track", "video_labeling", source=str(folder), label_set=LabelSet(labels=[Label("car")]))
    sid = store.db.scalar("SELECT sample_id FROM job_samples WHERE job_id = ?", [job.id])
    return job, sid


def box(b, track="t1", label="car"):
    return {"type": "rectangle", "label": label, "points": [[b[0], b[1]], [b[2], b[3]]], "track": track}


def test_thinning_keeps_the_keyframes_interpolation_needs():
    line = {f: [f * 2.0, 0.0, f * 2.0 + 10, 10.0] for f in range(11)}  # a straight move: the ends suffice
    assert thin(line) == [0, 10]
    bent = {**line, **{f: [20 - (f - 10) * 2.0, 0.0, 30 - (f - 10) * 2.0, 10.0] for f in range(11, 21)}}
    assert thin(bent) == [0, 10, 20]
    wobble = {f: [float(f % 2) * 0.5, 0.0, 10.0, 10.0] for f in range(9)}  # within the tolerance
    assert thin(wobble) == [0, 8]


def test_tracking_writes_keyframes_that_follow_the_object_and_keeps_what_was_drawn(store, clip, page):  # noqa: F811
    folder, truth = clip
    job, sid = job_with_clip(store, folder)
    drawn = [10, 10, 40, 40]  # the person's keyframe on frame 30: wrong on purpose, and theirs
    set_annotation(store, job.id, sid, {"frames": [{"frame": 0, "shapes": [box(truth[0])]},
                                                   {"frame": 30, "shapes": [box(drawn)]}]})
    run = run_now(store, job.id, "tracking", options={"sample_id": sid, "frame": 0, "track": "t1", "frames": 100})
    assert run.status == "done", run.message
    ann = get_sample(store, job.id, sid).annotation
    keys = {fr["frame"]: fr["shapes"][0]["points"] for fr in ann["frames"]}
    assert keys[30] == [[10, 10], [40, 40]] and max(keys) == 30  # stopped before the next keyframe, kept it
    assert 2 <= len(keys) - 2 <= 29 and run.labeled == len(keys) - 2, (sorted(keys), run.message)
    shown = frames_with_interpolation(ann)
    ious = [iou([*shown[f][0]["points"][0], *shown[f][0]["points"][1]], truth[f]) for f in range(30)]
    assert sum(ious) / len(ious) > 0.7, ious
    assert "keyframes added" in run.message


def test_cancel_writes_nothing_and_bad_requests_get_a_reason(store, clip, page):  # noqa: F811
    folder, truth = clip
    job, sid = job_with_clip(store, folder)
    start = {"frames": [{"frame": 5, "shapes": [box(truth[5]), {"type": "polygon", "label": "car", "track": "p",
                                                                "points": [[1, 1], [9, 1], [5, 8]]}]}]}
    set_annotation(store, job.id, sid, start)
    before = get_sample(store, job.id, sid).annotation
    run, record = prepare_run(store, job.id, "tracking")
    request_cancel(store, run.id)
    done = execute_run(store, run, record, options={"sample_id": sid, "frame": 5, "track": "t1"})
    assert done.status == "cancelled" and get_sample(store, job.id, sid).annotation == before

    for options, reason in (({"sample_id": sid, "frame": 6, "track": "nope"}, "has no shape on frame 6"),
                            ({"sample_id": sid, "frame": 5, "track": "p"}, "follows boxes"),
                            ({"sample_id": sid, "frame": 5}, "select a box with a track id"),
                            ({"sample_id": sid, "frame": 5, "track": "t1", "frames": 0}, "between 1 and"),
                            ({"sample_id": sid, "frame": FRAMES - 1, "track": "t1"}, "has no shape"),
                            ({"frame": 5, "track": "t1"}, "needs the video")):
        r = run_now(store, job.id, "tracking", options=options)
        assert r.status == "failed" and reason in r.message, (options, r.message)
    assert get_sample(store, job.id, sid).annotation == before
    images = create_job(store, "pics", "image_classification", label_set=LabelSet(labels=[Label("a"), Label("b")]))
    with pytest.raises(StoreError, match="Automatic tracking is not available for Image classification jobs"):
        run_now(store, images.id, "tracking", options={})
    assert issubclass(ValidationError, StoreError)
