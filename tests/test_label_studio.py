"""Label Studio JSON (issue 17): our export read by Label Studio's own converter, its upload URLs
and cancelled annotations on import, predictions kept apart."""
from __future__ import annotations

import json

import pytest

from store.exports import export_job
from store.formats.common import iter_job_samples
from store.formats.label_studio import label_config
from store.imports import import_format
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.predictions import Prediction, confirm_samples, write_predictions
from tests.factories import new_job, upload_images, write_image

converter = pytest.importorskip("label_studio_converter", reason="label-studio-converter is not installed")


def test_label_studios_converter_reads_our_detection_export_as_coco(store, tmp_path):
    from store.annotations import set_annotation

    job = new_job(store, "det", labels=("cat", "dog"), type_id="object_detection")
    ids = upload_images(store, job.id, 2)
    set_annotation(store, job.id, ids[0], {"shapes": [
        {"type": "rectangle", "label": "cat", "points": [[2, 3], [10, 9]]},
        {"type": "polygon", "label": "dog", "points": [[1, 1], [12, 2], [6, 10]]}]})
    out = tmp_path / "ls" / "tasks.json"
    export_job(store, job.id, "label_studio", out)
    tasks = json.loads(out.read_text())
    assert [len(t["annotations"]) for t in tasks] == [1, 0]
    c = converter.Converter(config=label_config("object_detection", ["cat", "dog"]), project_dir=str(tmp_path),
                            download_resources=False)
    c.convert_to_coco(str(out), str(tmp_path / "coco"), is_dir=False)
    coco = json.loads((tmp_path / "coco" / "result.json").read_text())
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    got = sorted((cats[a["category_id"]], [round(v, 2) for v in a["bbox"]]) for a in coco["annotations"])
    assert got == [("cat", [2.0, 3.0, 8.0, 6.0]), ("dog", [1.0, 1.0, 11.0, 9.0])]


def test_label_studios_converter_reads_our_ner_export_as_conll(store, tmp_path):
    rows = tmp_path / "t.jsonl"
    rows.write_text(json.dumps({"text": "Alice met Bob in Paris", "spans": [
        {"start": 0, "end": 5, "label": "person"}, {"start": 10, "end": 13, "label": "person"},
        {"start": 17, "end": 22, "label": "place"}]}) + "\n", encoding="utf-8")
    job = create_job(store, "ner", "named_entity_recognition", label_set=LabelSet(labels=[Label("person"),
                                                                                        Label("place")]))
    import_format(store, job.id, "jsonl", str(rows))
    out = tmp_path / "ls" / "ner.json"
    export_job(store, job.id, "label_studio", out)
    c = converter.Converter(config=label_config("named_entity_recognition", ["person", "place"]),
                            project_dir=str(tmp_path), download_resources=False)
    c.convert_to_conll2003(str(out), str(tmp_path / "conll"), is_dir=False)
    text = (tmp_path / "conll" / "result.conll").read_text()
    tags = [ln.split()[-1] for ln in text.splitlines() if ln.strip() and not ln.startswith("-DOCSTART-")]
    assert tags == ["B-person", "O", "B-person", "O", "B-place"]
    back = create_job(store, "back", "named_entity_recognition", label_set=LabelSet(labels=[]))
    assert import_format(store, back.id, "label_studio", str(out)).labeled == 1
    (s,) = iter_job_samples(store, back.id)
    assert [(x["start"], x["end"], x["label"]) for x in s.annotation["spans"]] == [
        (0, 5, "person"), (10, 13, "person"), (17, 22, "place")]


def test_predictions_are_kept_apart_and_marked(store, tmp_path):
    job = new_job(store, "cls", labels=("cat", "dog"))
    ids = upload_images(store, job.id, 3)
    from store.annotations import apply_labels

    apply_labels(store, job.id, [ids[0]], ["cat"], actor="alice")
    write_predictions(store, job.id, [Prediction(ids[1], {"labels": ["dog"]}, 0.8),
                                      Prediction(ids[2], {"labels": ["cat"]}, 0.6)], model="vit@1")
    confirm_samples(store, job.id, [ids[2]], actor="bob")
    out = tmp_path / "a" / "t.json"
    export_job(store, job.id, "label_studio", out)
    tasks = {t["id"]: t for t in json.loads(out.read_text())}
    assert tasks[ids[0]]["annotations"][0]["result"][0]["value"] == {"choices": ["cat"]}
    assert tasks[ids[1]]["annotations"] == [] and tasks[ids[1]]["predictions"] == []  # not asked for
    assert tasks[ids[2]]["annotations"][0]["labelport"] == {"annotated_by": "vit@1", "confirmed_by": "bob"}
    out = tmp_path / "b" / "t.json"
    export_job(store, job.id, "label_studio", out, predictions=True)
    (pred,) = json.loads(out.read_text())[1]["predictions"]
    assert (pred["model_version"], pred["score"], pred["result"][0]["value"]) == ("vit@1", 0.8, {"choices": ["dog"]})
    # imported again: predictions are not labels
    back = new_job(store, "back", labels=("cat", "dog"))
    rec = import_format(store, back.id, "label_studio", str(out))
    assert (rec.imported, rec.labeled) == (3, 2)


def test_label_studio_upload_urls_and_cancelled_annotations(store, tmp_path):
    write_image(tmp_path / "images" / "cat.png", seed=1, size=(40, 20))
    write_image(tmp_path / "dog.png", seed=2, size=(40, 20))
    tasks = [{"id": 7, "data": {"image": "/data/upload/3/ab12cd34-cat.png"}, "annotations": [
                {"result": [{"type": "rectanglelabels", "original_width": 40, "original_height": 20,
                             "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rotation": 0,
                                       "rectanglelabels": ["cat"]}}]},
                {"was_cancelled": True, "result": [{"type": "rectanglelabels", "value": {
                    "x": 0, "y": 0, "width": 1, "height": 1, "rectanglelabels": ["dog"]}}]}]},
             {"id": 8, "data": {"image": "/data/local-files/?d=pets/dog.png"}, "annotations": [
                {"result": [{"type": "rectanglelabels", "value": {"x": 0, "y": 0, "width": 10, "height": 10,
                                                                   "rotation": 30, "rectanglelabels": ["dog"]}}]}]},
             {"id": 9, "data": {"image": "missing.png"}, "annotations": []}]
    path = tmp_path / "project.json"
    path.write_text(json.dumps(tasks))
    job = create_job(store, "ls", "object_detection", label_set=LabelSet(labels=[]))
    rec = import_format(store, job.id, "label_studio", str(path))
    assert (rec.imported, rec.labeled) == (2, 1)
    assert "task 8 result 1: a rotated rectangle (30°) cannot be imported" in rec.errors
    assert "task 9: file 'missing.png' not found beside the JSON or in images/ beside it" in rec.errors
    got = {s.name: s.annotation for s in iter_job_samples(store, job.id)}
    assert got["cat.png"]["shapes"][0]["points"] == [[4, 2], [24, 12]] and got["dog.png"] is None


def test_tasks_naming_server_files_register_nothing(store, tmp_path):
    db = str(store.settings.database)
    tasks = [{"id": i, "data": {"image": ref}, "annotations": []}
             for i, ref in enumerate(["/etc/passwd", db, "../../../../etc/shadow", "s3://other-bucket/x.png"], 1)]
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(tasks))
    job = create_job(store, "ls", "object_detection", label_set=LabelSet(labels=[]))
    rec = import_format(store, job.id, "label_studio", str(path))
    assert rec.imported == 0 and list(iter_job_samples(store, job.id)) == []
    text = create_job(store, "t", "text_classification", label_set=LabelSet(labels=[]))
    rec = import_format(store, text.id, "label_studio", str(path))  # text types take the data as text
    assert {s.text for s in iter_job_samples(store, text.id)} <= {t["data"]["image"] for t in tasks}


def _video_job(store, name="vid", frames=12):
    from store.imports import upload_files
    from tests.test_round_trips import _mp4

    job = create_job(store, name, "video_labeling", label_set=LabelSet(labels=[Label("car"), Label("person")]))
    rec = upload_files(store, job.id, [("clip.mp4", _mp4(n_frames=frames))])
    assert rec.status == "succeeded", rec.errors
    (s,) = iter_job_samples(store, job.id)
    return job, s


def _box(x1, y1, x2, y2, label="car", **kw):
    return {"type": "rectangle", "label": label, "points": [[x1, y1], [x2, y2]], **kw}


def test_video_tracks_become_videorectangle_sequences_and_come_back(store, tmp_path):
    """A track interpolated 0 -> 2, held 2 -> 4 (outside on 5), back on 7 as its last keyframe;
    a box on frame 4 alone: Label Studio's "enabled" says all of it, and the import reads it back."""
    from store.annotations import set_annotation

    job, s = _video_job(store)
    ann = {"frames": [
        {"frame": 0, "shapes": [_box(0, 0, 16, 12, track="t1")]},
        {"frame": 2, "shapes": [_box(8, 6, 24, 18, track="t1")]},
        {"frame": 4, "shapes": [_box(30, 20, 40, 30, "person")]},
        {"frame": 5, "shapes": [_box(8, 6, 24, 18, track="t1", outside=True)]},
        {"frame": 7, "shapes": [_box(32, 24, 48, 36, track="t1")]}]}
    set_annotation(store, job.id, s.id, ann)
    out = tmp_path / "ls" / "video.json"
    export_job(store, job.id, "label_studio", out)
    (task,) = json.loads(out.read_text())
    assert task["data"]["video"].endswith("clip.mp4")
    regions = {r["id"]: r for r in task["annotations"][0]["result"]}
    seq = [(i["frame"], i["enabled"], i["x"], i["width"]) for i in regions["t1"]["value"]["sequence"]]
    assert seq == [(1, True, 0.0, 25.0), (3, True, 12.5, 25.0), (5, False, 12.5, 25.0), (8, False, 50.0, 25.0)]
    assert regions["t1"]["value"]["labels"] == ["car"] and regions["t1"]["value"]["framesCount"] == 12
    (single,) = [r for k, r in regions.items() if k != "t1"]
    assert [(i["frame"], i["enabled"]) for i in single["value"]["sequence"]] == [(5, False)]
    assert single["value"]["labels"] == ["person"]
    back = create_job(store, "back", "video_labeling", label_set=LabelSet(labels=[]))
    rec = import_format(store, back.id, "label_studio", str(out))
    assert rec.status == "succeeded" and rec.labeled == 1, rec.errors
    (b,) = iter_job_samples(store, back.id)
    got = {fr["frame"]: [(sh["label"], sh["points"], sh.get("track"), bool(sh.get("outside"))) for sh in fr["shapes"]]
           for fr in b.annotation["frames"]}
    want = {fr["frame"]: [(sh["label"], sh["points"], sh.get("track"), bool(sh.get("outside"))) for sh in fr["shapes"]]
            for fr in ann["frames"]}
    assert got == want


def test_a_label_studio_video_track_lasts_to_the_end_and_needs_no_sizes(store, tmp_path):
    """Written by Label Studio: no original sizes (the video is probed), a last keyframe with
    interpolation on lasts to the end of the video (framesCount), a disabled keyframe before a gap
    hides the box until the next one."""
    job, s = _video_job(store)
    (tmp_path / "clip.mp4").write_bytes(store.locations.read(s.uri))
    tasks = [{"id": 1, "data": {"video": "/data/upload/1/0a1b2c3d-clip.mp4"}, "annotations": [{"result": [
        {"id": "abc", "type": "videorectangle", "from_name": "box", "to_name": "video",
         "value": {"labels": ["car"], "framesCount": 12, "sequence": [
             {"frame": 2, "enabled": False, "x": 0, "y": 0, "width": 50, "height": 50},
             {"frame": 6, "enabled": True, "x": 50, "y": 50, "width": 25, "height": 25}]}}]}]}]
    path = tmp_path / "from_ls.json"
    path.write_text(json.dumps(tasks))
    back = create_job(store, "ls", "video_labeling", label_set=LabelSet(labels=[]))
    rec = import_format(store, back.id, "label_studio", str(path))
    assert rec.status == "succeeded" and rec.labeled == 1, rec.errors
    (b,) = iter_job_samples(store, back.id)
    got = [(fr["frame"], [(sh["points"], bool(sh.get("outside"))) for sh in fr["shapes"]]) for fr in b.annotation["frames"]]
    assert got == [(1, [([[0.0, 0.0], [32.0, 24.0]], False)]), (2, [([[0.0, 0.0], [32.0, 24.0]], True)]),
                   (5, [([[32.0, 24.0], [48.0, 36.0]], False)]), (11, [([[32.0, 24.0], [48.0, 36.0]], False)])]
    bad = [{"id": 2, "data": {"video": "clip.mp4"}, "annotations": [{"result": [
        {"id": "x", "type": "videorectangle", "value": {"labels": ["car"], "sequence": [{"frame": 0, "x": 1}]}}]}]}]
    path.write_text(json.dumps(bad))
    rec = import_format(store, back.id, "label_studio", str(path))
    assert any("from 1" in e for e in rec.errors), rec.errors


def test_we_read_what_label_studios_converter_writes_from_coco(store, tmp_path):
    """Label Studio's own COCO -> Label Studio conversion (label-studio-converter's import), read by
    our importer: the same boxes and polygons as reading the COCO file itself."""
    from label_studio_converter.imports.coco import convert_coco_to_ls

    write_image(tmp_path / "a.png", seed=1, size=(40, 20))
    write_image(tmp_path / "b.png", seed=2, size=(30, 30))
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 20},
                       {"id": 2, "file_name": "b.png", "width": 30, "height": 30}],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 2, 20, 10], "area": 200,
                             "iscrowd": 0, "segmentation": []},
                            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [3, 3, 12, 12], "area": 72,
                             "iscrowd": 0, "segmentation": [[3, 3, 15, 3, 9, 15]]}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    convert_coco_to_ls(str(tmp_path / "coco.json"), str(tmp_path / "ls.json"))
    ls = create_job(store, "from-ls", "object_detection", label_set=LabelSet(labels=[]))
    rec = import_format(store, ls.id, "label_studio", str(tmp_path / "ls.json"))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 2, 2), rec.errors
    got = {s.name: sorted((sh["type"], sh["label"], [[round(x, 2), round(y, 2)] for x, y in sh["points"]])
                          for sh in s.annotation["shapes"]) for s in iter_job_samples(store, ls.id)}
    assert got["a.png"] == [("rectangle", "cat", [[4.0, 2.0], [24.0, 12.0]])]
    assert ("polygon", "dog", [[3.0, 3.0], [15.0, 3.0], [9.0, 15.0]]) in got["b.png"]
    direct = create_job(store, "direct", "object_detection", label_set=LabelSet(labels=[]))
    import_format(store, direct.id, "coco", str(tmp_path / "coco.json"))
    want = {s.name: sorted((sh["type"], sh["label"], [[round(x, 2), round(y, 2)] for x, y in sh["points"]])
                           for sh in s.annotation["shapes"]) for s in iter_job_samples(store, direct.id)}
    # the converter writes a polygon's bounding box as a rectangle of its own: that rectangle aside, the same
    assert {k: [v for v in vs if v in want[k]] for k, vs in got.items()} == want
