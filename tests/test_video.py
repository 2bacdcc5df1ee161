"""Video labeling (SPEC F3.11): MP4 probing at import, exact frames, shapes on frames, track
interpolation, and the manifest / jsonl / coco formats, on the clips in ../shared/data/video."""
import io
import json
import shutil

import av
import numpy as np
import pytest
from PIL import Image

from store.annotations import set_annotation
from store.errors import ValidationError
from store.exports import export_job
from store.imports import import_format, upload_files
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.samples import SampleQuery, query_samples, sample_thumbnail
from store.types import REGISTRY, get_type
from store.video import build_index, decode_frame, interpolate_tracks, probe_video, video_frame

VL = get_type("video_labeling")
LABELS = LabelSet(labels=[Label("car"), Label("person")])
META = {"width": 640, "height": 272, "fps": 25.0, "frame_count": 250, "duration": 10.0, "codec": "h264",
        "format": "mp4"}


@pytest.fixture
def page(monkeypatch):
    """set_annotation needs a labeling page: stand one in while the video page is being built."""
    from dataclasses import replace

    if REGISTRY["video_labeling"].page is None:
        monkeypatch.setitem(REGISTRY, "video_labeling", replace(REGISTRY["video_labeling"], page="pages.video_labeling"))


def rect(x1, y1, x2, y2, label="car", track=None):
    s = {"type": "rectangle", "label": label, "points": [[x1, y1], [x2, y2]]}
    if track:
        s["track"] = track
    return s


def make_video(container_fmt: str, n_frames: int = 5, codec: str = "mpeg4", size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_fmt) as c:
        st = c.add_stream(codec, rate=10)
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n_frames):
            img = np.full((size[1], size[0], 3), i * 40 % 255, np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        c.start_encoding()  # a file with a header even when no frame is written
        for p in st.encode():
            c.mux(p)
    return buf.getvalue()


def video_job(store, shared_data, name="video"):
    job = create_job(store, name, "video_labeling", source=str(shared_data / "video"), label_set=LABELS)
    rows = store.db.fetchall("SELECT s.id, s.path, s.meta FROM samples s JOIN job_samples js ON js.sample_id = s.id "
                             "WHERE js.job_id = ? ORDER BY s.path", [job.id])
    return job, {p.rsplit("/", 1)[-1]: (sid, json.loads(m)) for sid, p, m in rows}


def test_video_type_is_a_module_in_registry_order():
    assert list(REGISTRY)[-1] == "video_labeling"
    assert VL.validate is not None and VL.relabel is not None and VL.media == "video"
    assert {"manifest", "jsonl", "coco"} <= set(VL.formats)


def test_import_shared_clips_meta(store, shared_data):
    job, samples = video_job(store, shared_data)
    assert sorted(samples) == ["bikes.mp4", "carphone_pristine.mp4", "tree.mp4"]
    bikes = samples["bikes.mp4"][1]
    assert bikes == META
    tree = samples["tree.mp4"][1]
    assert (tree["width"], tree["height"], tree["frame_count"], tree["codec"]) == (320, 240, 449, "h264")
    assert abs(tree["duration"] - 29.933483) < 1e-3 and abs(tree["fps"] - 15.0) < 1e-3
    assert sample_thumbnail(store, samples["bikes.mp4"][0])[:4] == b"RIFF"


def test_frames_by_index_equal_sequential_decode(store, shared_data):
    job, samples = video_job(store, shared_data)
    for name, (sid, meta) in samples.items():
        path = shared_data / "video" / name
        with av.open(str(path)) as c:
            seq = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert len(seq) == meta["frame_count"]
        picks = sorted({0, 1, len(seq) // 3, len(seq) // 2, len(seq) - 2, len(seq) - 1, 37 % len(seq)})
        with av.open(str(path)) as c:
            index = build_index(c)
            for i in reversed(picks):  # backwards: every seek goes back
                assert np.array_equal(decode_frame(c, index, i).to_ndarray(format="rgb24"), seq[i]), (name, i)
        # the served JPEG is that frame (lossy: close, not equal) at the video's size
        i = picks[len(picks) // 2]
        img = np.asarray(Image.open(io.BytesIO(video_frame(store, sid, i))).convert("RGB"), dtype=np.int16)
        assert img.shape == seq[i].shape and np.abs(img - seq[i]).mean() < 6
        with pytest.raises(ValidationError, match="outside the video"):
            video_frame(store, sid, meta["frame_count"])
    # downscaled for display; shapes stay in original pixels
    sid = samples["bikes.mp4"][0]
    assert Image.open(io.BytesIO(video_frame(store, sid, 3, max_side=320, fmt="webp"))).size == (320, 136)


def test_bad_input_is_refused_with_a_reason(store, tmp_path):
    clip = (tmp_path / "ok.mp4")
    good = make_video("mp4")
    assert probe_video(good, "ok.mp4")["frame_count"] == 5  # PyAV-made MP4 (MPEG-4 part 2) is fine
    cases = {
        "random.mp4": (np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(), "not an MP4"),
        "avi.mp4": (make_video("avi"), "AVI"),
        "mkv.mp4": (make_video("matroska"), "Matroska"),
        "cut.mp4": (good[: len(good) * 2 // 3], "truncated"),
        "empty.mp4": (b"", "empty"),
        "zero.mp4": (make_video("mp4", n_frames=0), "0 frames"),
    }
    for name, (data, why) in cases.items():
        with pytest.raises(ValidationError, match=why) as e:
            probe_video(data, name)
        assert "MP4 (H.264) is required" in str(e.value), name
    # a truncated copy of a real clip, through an upload
    job = create_job(store, "up", "video_labeling", label_set=LABELS)
    clip.write_bytes(good)
    rec = upload_files(store, job.id, [("ok.mp4", clip), ("avi.mp4", cases["avi.mp4"][0]),
                                       ("cut.mp4", cases["cut.mp4"][0])])
    assert rec.imported == 1 and len(rec.errors) == 2
    assert all("MP4 (H.264) is required" in e for e in rec.errors)


def test_truncated_real_clip(shared_data):
    data = (shared_data / "video" / "bikes.mp4").read_bytes()
    for cut in (len(data) // 2, len(data) - 50):
        with pytest.raises(ValidationError, match="truncated"):
            probe_video(data[:cut], "bikes.mp4")


def test_annotation_schema_and_status(store, shared_data, page):
    ann = VL.validate({"frames": [{"frame": 50, "time": 2.0, "shapes": [rect(10, 10, 100, 80, track="a")]},
                                  {"frame": 10, "shapes": [rect(1, 1, 5, 5, "person")]},
                                  {"frame": 20, "shapes": []}]}, LABELS, META)
    assert [f["frame"] for f in ann.data["frames"]] == [10, 50]
    assert ann.data["frames"][1]["time"] == 2.0 and ann.data["frames"][0]["time"] == 0.4
    assert ann.data["frames"][1]["shapes"][0]["track"] == "a" and ann.labels == ["person", "car"]
    bad = [({"frames": [{"frame": 0, "shapes": [rect(600, 200, 700, 250)]}]}, "outside the image"),
           ({"frames": [{"frame": 250, "shapes": [rect(1, 1, 5, 5)]}]}, "outside the video"),
           ({"frames": [{"frame": -1, "shapes": [rect(1, 1, 5, 5)]}]}, "outside the video"),
           ({"frames": [{"frame": 1.5, "shapes": [rect(1, 1, 5, 5)]}]}, "whole frame index"),
           ({"frames": [{"frame": 50, "time": 3.0, "shapes": [rect(1, 1, 5, 5)]}]}, "does not match"),
           ({"frames": [{"frame": 5, "shapes": [rect(1, 1, 5, 5, track="t"), rect(2, 2, 6, 6, track="t")]}]},
            "two shapes"),
           ({"frames": [{"frame": 5, "shapes": [rect(1, 1, 5, 5, "bird")]}]}, "not in this job's label set"),
           ({"shapes": []}, "frames")]
    for data, why in bad:
        with pytest.raises(ValidationError, match=why):
            VL.validate(data, LABELS, META)
    assert VL.label_names(ann.data) == ["person", "car"]
    dropped = VL.relabel(ann.data, "person", None)
    assert [f["frame"] for f in dropped["frames"]] == [50]
    assert VL.relabel(ann.data, "car", "person")["frames"][1]["shapes"][0]["label"] == "person"

    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    set_annotation(store, job.id, sid, {"frames": [{"frame": 3, "shapes": [rect(10, 10, 50, 50)]}]})
    labeled = query_samples(store, job.id, SampleQuery(status="labeled")).items
    assert [s.id for s in labeled] == [sid]
    set_annotation(store, job.id, sid, {"frames": []})
    assert not query_samples(store, job.id, SampleQuery(status="labeled")).items


def test_interpolation_at_the_middle_frame():
    ann = VL.validate({"frames": [{"frame": 10, "shapes": [rect(0, 0, 100, 50, track="car-1"), rect(1, 1, 2, 2, "person")]},
                                  {"frame": 20, "shapes": [rect(100, 50, 300, 150, track="car-1")]}]}, LABELS, META)
    boxes = interpolate_tracks(ann.data)
    assert sorted(boxes) == list(range(11, 20))
    (mid,) = boxes[15]
    assert mid["points"] == [[50, 25], [200, 100]] and mid["track"] == "car-1" and mid["interpolated"]
    assert mid["label"] == "car"


def test_manifest_jsonl_coco_round_trip(store, shared_data, tmp_path, page):
    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    data = {"frames": [{"frame": 0, "shapes": [rect(10, 10, 110, 60, track="c1"), rect(5, 5, 20, 30, "person")]},
                       {"frame": 10, "shapes": [rect(110, 60, 310, 160, track="c1"),
                                                {"type": "polygon", "label": "person", "points": [[1, 1], [9, 1], [5, 8]]}]}]}
    set_annotation(store, job.id, sid, data)
    round_trips(store, job.id, LABELS, tmp_path)
    line = json.loads((tmp_path / "manifest" / "v.manifest").read_text().splitlines()[0])
    assert [a["property"]["@modelarts:time_in_video"] for a in line["annotation"]] == ["0.000", "0.400"]
    coco = json.loads((tmp_path / "coco" / "coco" / "v.json").read_text())
    names = [i["file_name"] for i in coco["images"]]
    assert names == [f"images/bikes_{i:06d}.jpg" for i in range(11)]  # keyframes and the frames between
    assert all((tmp_path / "coco" / "coco" / n).is_file() for n in names)
    mid = [a for a in coco["annotations"] if a["image_id"] == 6]
    assert mid == [{**mid[0], "bbox": [60, 35, 150, 75]}] and mid[0]["labelport_interpolated"]


def round_trips(store, job_id: int, labels: LabelSet, tmp_path, formats=("manifest", "jsonl", "coco")) -> dict:
    """Export the job's one labeled video in each format and import it into a new job: the same
    annotation comes back. Returns the saved annotation."""
    saved = query_samples(store, job_id, SampleQuery(status="labeled")).items[0].annotation
    names = {"manifest": "v.manifest", "jsonl": "v.jsonl", "coco": "coco/v.json"}
    for fmt in formats:
        out = tmp_path / fmt / names[fmt]
        export_job(store, job_id, fmt, out)
        job2 = create_job(store, f"v-{fmt}-{job_id}", "video_labeling", label_set=labels)
        rec = import_format(store, job2.id, fmt, str(out))
        assert rec.labeled == 1, (fmt, rec.errors)
        got = query_samples(store, job2.id, SampleQuery(status="labeled")).items[0]
        assert got.annotation == saved, fmt
    return saved


def test_4k_video_frames_are_downscaled_and_shapes_stay_in_original_pixels(store, page):
    """A 3840x2160 clip: the display frame is at most 1280 px wide, the shapes are checked and kept
    in the video's own pixels."""
    data = make_video("mp4", n_frames=3, size=(3840, 2160))
    job = create_job(store, "uhd", "video_labeling", label_set=LABELS)
    rec = upload_files(store, job.id, [("uhd.mp4", data)])
    assert rec.imported == 1, rec.errors
    sample = query_samples(store, job.id, SampleQuery()).items[0]
    assert (sample.meta["width"], sample.meta["height"]) == (3840, 2160)
    shown = Image.open(io.BytesIO(video_frame(store, sample.id, 1)))
    assert max(shown.size) <= 1280 and shown.size[0] / shown.size[1] == pytest.approx(16 / 9, rel=0.01)
    set_annotation(store, job.id, sample.id, {"frames": [{"frame": 1, "shapes": [rect(3000, 1500, 3800, 2100)]}]})
    saved = store.db.scalar("SELECT annotation FROM job_samples WHERE sample_id = ?", [sample.id])
    assert json.loads(saved)["frames"][0]["shapes"][0]["points"] == [[3000, 1500], [3800, 2100]]
    with pytest.raises(ValidationError, match="outside the image"):
        set_annotation(store, job.id, sample.id, {"frames": [{"frame": 1, "shapes": [rect(3000, 1500, 3900, 2100)]}]})


def test_an_import_keeps_unsaved_shapes_on_the_open_frame(store, shared_data, page):
    """The video page refreshes after an import (Add data): the list and counts change, and a frame
    with unsaved shapes keeps them (the refresh went through Discard and dropped them)."""
    import gradio as gr

    from pages.common import AppContext
    from pages.labeling.video import VideoPage

    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    with gr.Blocks():
        vp = VideoPage(AppContext(store), gr.State(job.id))
    unsaved = {"sample_id": sid, "dirty": True, "shapes": [rect(10, 10, 50, 50)]}
    out = dict(zip(vp.outputs, vp.on_refresh(job.id, "all", 1, None, None, unsaved, {"frame": 3}, 0)))
    for comp in vp.editor:  # the open video, its frame, its shapes and Label List stay as they are
        assert isinstance(out[comp], type(gr.skip())), comp
    assert "video" in str(out[vp.header]).lower() and out[vp.records] is not None
    clean = dict(zip(vp.outputs, vp.on_refresh(job.id, "all", 1, None, None, {**unsaved, "dirty": False},
                                                {"frame": 3}, 0)))
    assert clean[vp.canvas]["sample_id"] == sid  # nothing unsaved: the frame is shown afresh


def test_refused_files_are_named_and_an_all_refused_job_is_not_made(store, shared_data, tmp_path):
    """Issue 16: a file that is not MP4 (H.264) is named with the reason when a job is made on a
    folder (other video containers too, never skipped silently); a folder whose files are all
    refused makes no job (the name stays free), and the CLI says why."""
    from store.jobs import list_jobs, source_refusals
    from tests.test_cli import run

    mixed, bad = tmp_path / "mixed", tmp_path / "bad"
    for folder in (mixed, bad):
        folder.mkdir()
        (folder / "clip.mp4").write_bytes(b"not a video at all")
        (folder / "old.avi").write_bytes(make_video("avi"))
    shutil.copy(shared_data / "video" / "tree.mp4", mixed / "tree.mp4")
    job = create_job(store, "mixed", "video_labeling", source=str(mixed), label_set=LABELS)
    refused = source_refusals(store, job.id)
    assert sorted(r.split(":")[0] for r in refused) == ["clip.mp4", "old.avi"]
    assert all("MP4 (H.264) is required" in r for r in refused)
    with pytest.raises(ValidationError, match="no job was created: every file of .* was refused") as e:
        create_job(store, "bad", "video_labeling", source=str(bad), label_set=LABELS)
    assert "refused: old.avi: MP4 (H.264) is required" in str(e.value)
    assert [j.name for j in list_jobs(store)] == ["mixed"]
    (bad / "tree.mp4").write_bytes((shared_data / "video" / "tree.mp4").read_bytes())
    assert create_job(store, "bad", "video_labeling", source=str(bad), label_set=LABELS).name == "bad"

    data = tmp_path / "cli-data"
    out = run(data, "create-job", "--name", "m", "--type", "video_labeling", "--dataset", str(mixed), "--labels", "car")
    assert out.returncode == 0 and "refused: clip.mp4: " in out.stdout and "refused: old.avi: MP4 (H.264)" in out.stdout
    (bad / "tree.mp4").unlink()
    out = run(data, "create-job", "--name", "b", "--type", "video_labeling", "--dataset", str(bad), "--labels", "car")
    assert out.returncode != 0 and "no job was created" in out.stdout + out.stderr


def test_edits_of_stored_frames_carry_the_version_the_page_opened(store, shared_data, page):
    """Deleting a label, a time point or a track's keyframe starts from what the page shows: when
    someone saved the video since, the edit is refused with the conflict notice (nothing changed)
    instead of deleting by a place in a list that moved on; on the current version it is written."""
    import gradio as gr

    from pages.common import AppContext
    from pages.labeling.video import TrackEdit, VideoPage
    from store.samples import get_sample

    job, samples = video_job(store, shared_data)
    sid = samples["bikes.mp4"][0]
    frames = [{"frame": 2, "shapes": [rect(10, 10, 50, 50, track="a"), rect(60, 60, 90, 90)]},
              {"frame": 6, "shapes": [rect(12, 12, 52, 52, track="a")]}]  # the store adds each frame's time
    set_annotation(store, job.id, sid, {"frames": frames})
    with gr.Blocks():
        vp = VideoPage(AppContext(store), gr.State(job.id))
    opened = {"sample_id": sid, "version": 1}
    value = {"sample_id": sid, "dirty": False, "shapes": "[]"}
    args = (job.id, "all", 1, None, None, value, {"frame": 2})
    # someone else saves the video (version 2): the stale page's edits change nothing
    set_annotation(store, job.id, sid, {"frames": [frames[0]]})
    for edit in (lambda: vp.on_delete_label(*args, "2:1", 0, opened),
                 lambda: vp.on_delete_time_point(*args, 2, 0, opened),
                 lambda: TrackEdit(vp, "delete_keyframe")(*args, "a", 0, opened)):
        out = dict(zip(vp.outputs, edit()))
        assert out[vp.versions.conflict] == {"sample_id": sid, "version": 2}
        assert "Changed by" in out[vp.versions.message]
        assert get_sample(store, job.id, sid).version == 2
        assert len(get_sample(store, job.id, sid).annotation["frames"]) == 1
    # on the version it opened, the edit is written (a new version, which the page then holds)
    out = dict(zip(vp.outputs, vp.on_delete_label(*args, "2:1", 0, {"sample_id": sid, "version": 2})))
    after = get_sample(store, job.id, sid)
    assert after.version == 3 and len(after.annotation["frames"][0]["shapes"]) == 1
    assert out[vp.versions.opened] == {"sample_id": sid, "version": 3}
