"""Formats of image classification: imagefolder, csv, manifest (SPEC F7, F8.2): import, export,
round trips, where relative paths point, malformed input."""
from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from store.annotations import apply_labels
from store.errors import StoreError, ValidationError
from store.exports import export_job
from store.formats import FORMATS, formats_for
from store.imports import import_format, list_imports
from store.jobs import get_job
from store.samples import SampleQuery, label_counts, query_samples, status_counts
from tests.factories import make_image_folder, new_job, table_count, upload_images, write_image


def labels_by_name(store, job_id) -> dict[str, list[str]]:
    """{file name: labels} of every sample of a job."""
    return {s.name: sorted(s.labels) for s in query_samples(store, job_id, SampleQuery(page_size=500)).items}


def labeled_job(store, name="src"):
    """A job with 5 uploads: a cat, b dog, c cat+dog, d кошка (typed in), e unlabeled."""
    job = new_job(store, name, labels=("cat", "dog"))
    ids = upload_images(store, job.id, 5, prefix="p")
    apply_labels(store, job.id, [ids[0], ids[2]], ["cat"], actor="alice")
    apply_labels(store, job.id, [ids[1], ids[2]], ["dog"], actor="bob")
    apply_labels(store, job.id, [ids[3]], ["кошка"])
    return job


WANT = {"p_0.png": ["cat"], "p_1.png": ["dog"], "p_2.png": ["cat", "dog"], "p_3.png": ["кошка"], "p_4.png": []}


def test_every_format_of_image_classification_is_registered():
    assert set(formats_for("image_classification", "read")) >= {"imagefolder", "csv", "manifest"}
    assert set(formats_for("image_classification", "write")) >= {"imagefolder", "csv", "manifest"}
    for fid in ("imagefolder", "csv", "manifest"):
        assert FORMATS[fid].example_text(), f"{fid} has no example file"


# -- imagefolder ------------------------------------------------------------------------------

def test_imagefolder_import(store, tmp_path):
    make_image_folder(tmp_path / "set", {"cat": 3, "dog": 2, "猫": 1}, top=2)
    (tmp_path / "set" / "cat" / "readme.txt").write_text("x")
    (tmp_path / "set" / "dog" / ".DS_Store").write_bytes(b"x")
    job = new_job(store, "if", labels=("cat",))
    rec = import_format(store, job.id, "imagefolder", str(tmp_path / "set"))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("partial", 9, 8, 6)
    assert rec.errors == ["cat/readme.txt: skipped, not an image file"]
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "猫"]  # unknown labels added
    assert label_counts(store, job.id) == {"cat": 3, "dog": 2, "猫": 1}
    assert status_counts(store, job.id) == {"unlabeled": 2, "labeled": 6, "to_be_confirmed": 0}
    assert list_imports(store, job.id)[0].format == "imagefolder"
    # again: nothing new, the labels stay
    again = import_format(store, job.id, "imagefolder", str(tmp_path / "set"))
    assert again.imported == 8 and table_count(store, "samples") == 8
    assert label_counts(store, job.id) == {"cat": 3, "dog": 2, "猫": 1}


def test_imagefolder_class_names_must_follow_the_rules(store, tmp_path):
    make_image_folder(tmp_path / "set", {"chat noir": 1, "cat": 1})
    job = new_job(store, "if")
    with pytest.raises(ValidationError, match="'chat noir' may hold only letters"):
        import_format(store, job.id, "imagefolder", str(tmp_path / "set"))
    rec = list_imports(store, job.id)[0]
    assert rec.status == "failed" and "chat noir" in rec.errors[0]
    assert table_count(store, "samples") == 0 and get_job(store, job.id).label_set.names() == ["cat", "dog"]


def test_imagefolder_round_trip(store, tmp_path):
    job = labeled_job(store)
    res = export_job(store, job.id, "imagefolder", tmp_path / "out")
    assert res.samples == 4  # labeled samples only
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "cat/p_0.png", "cat/p_2.png", "dog/p_1.png", "dog/p_2.png", "кошка/p_3.png"]
    assert (tmp_path / "out" / "cat" / "p_0.png").read_bytes() == (
        store.settings.objects_root / "datasets" / str(job.dataset_id) / "p_0.png").read_bytes()
    back = new_job(store, "back", labels=())
    rec = import_format(store, back.id, "imagefolder", str(tmp_path / "out"))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 5, 5)
    assert label_counts(store, back.id) == {k: v for k, v in label_counts(store, job.id).items()}
    with pytest.raises(ValidationError, match="not empty"):
        export_job(store, job.id, "imagefolder", tmp_path / "out")


def test_imagefolder_of_the_real_digits(store, shared_data, tmp_path):
    """digits_8x8: lay 200 images out by class with symlinks, import, compare with labels.csv."""
    rows = list(csv.DictReader(open(shared_data / "digits_8x8" / "labels.csv", encoding="utf-8")))[:200]
    for row in rows:
        dest = tmp_path / "digits" / row["label"] / row["file"].rsplit("/", 1)[-1]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(shared_data / "digits_8x8" / row["file"])
    job = new_job(store, "digits", labels=())
    rec = import_format(store, job.id, "imagefolder", str(tmp_path / "digits"))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 200, 200)
    assert label_counts(store, job.id) == dict(Counter(r["label"] for r in rows))


# -- csv ----------------------------------------------------------------------------------------

def test_csv_relative_paths_resolve_against_the_csv_folder(store, tmp_path, monkeypatch):
    base = tmp_path / "project"
    write_image(base / "images" / "a.png", seed=1)
    write_image(base / "images" / "b.png", seed=2)
    write_image(tmp_path / "elsewhere" / "c.png", seed=3)
    (base / "lists").mkdir()
    (base / "lists" / "labels.csv").write_text(
        "file,label\n../images/a.png,cat\n../images/a.png,dog\n./../images/b.png,bird\n"
        f"{tmp_path / 'elsewhere' / 'c.png'},cat\n../images/b.png,\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")  # the working folder plays no part
    job = new_job(store, "csv", labels=("cat",))
    rec = import_format(store, job.id, "csv", str(base / "lists" / "labels.csv"))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("succeeded", 3, 3, 3)
    assert labels_by_name(store, job.id) == {"a.png": ["cat", "dog"], "b.png": ["bird"], "c.png": ["cat"]}
    uris = sorted(s.uri for s in query_samples(store, job.id, SampleQuery()).items)
    assert uris == sorted([str(base / "images" / "a.png"), str(base / "images" / "b.png"),
                           str(tmp_path / "elsewhere" / "c.png")])
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "bird"]


def test_csv_without_header_and_bad_lines_report_line_numbers(store, tmp_path):
    write_image(tmp_path / "a.png")
    (tmp_path / "l.csv").write_text("a.png,cat\n,dog\n\nmissing.png,cat\n", encoding="utf-8")
    job = new_job(store, "csv")
    rec = import_format(store, job.id, "csv", str(tmp_path / "l.csv"))
    assert rec.status == "partial" and rec.imported == 1 and rec.labeled == 1
    assert rec.errors[0] == "line 2: empty file reference"
    assert "missing.png" in rec.errors[1]
    (tmp_path / "h.csv").write_text("path,label\na.png,cat\n,dog\n", encoding="utf-8")
    rec = import_format(store, job.id, "csv", str(tmp_path / "h.csv"))
    assert rec.errors == ["line 3: empty file reference"]


def test_csv_of_the_real_digits_with_relative_paths(store, shared_data):
    src = shared_data / "digits_8x8" / "labels.csv"
    want = Counter(r["label"] for r in csv.DictReader(open(src, encoding="utf-8")))
    job = new_job(store, "digits", labels=())
    rec = import_format(store, job.id, "csv", str(src))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 1797, 1797)
    assert label_counts(store, job.id) == dict(want)
    some = query_samples(store, job.id, SampleQuery(page_size=1)).items[0]
    assert some.uri == str(shared_data / "digits_8x8" / "images" / "0000.png")


def test_csv_round_trip(store, tmp_path):
    job = labeled_job(store)
    res = export_job(store, job.id, "csv", tmp_path / "out" / "labels.csv")
    assert res.samples == 5
    rows = list(csv.reader(open(tmp_path / "out" / "labels.csv", encoding="utf-8")))
    assert rows[0] == ["file", "label"] and len(rows) == 1 + 6  # p_2 twice, p_4 with no label
    back = new_job(store, "back", labels=())
    rec = import_format(store, back.id, "csv", str(tmp_path / "out" / "labels.csv"))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 5, 4)
    assert labels_by_name(store, back.id) == WANT
    with pytest.raises(ValidationError, match="is a folder"):
        export_job(store, job.id, "csv", tmp_path / "out")


def test_csv_labels_that_break_the_rules_refuse_the_import(store, tmp_path):
    write_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png", seed=1)
    (tmp_path / "l.csv").write_text("file,label\na.png,cat\nb.png,big dog\n", encoding="utf-8")
    job = new_job(store, "csv")
    with pytest.raises(ValidationError, match="'big dog' may hold only letters"):
        import_format(store, job.id, "csv", str(tmp_path / "l.csv"))
    assert table_count(store, "samples") == 0 and list_imports(store, job.id)[0].status == "failed"


def test_empty_csv(store, tmp_path):
    (tmp_path / "e.csv").write_text("", encoding="utf-8")
    job = new_job(store, "csv")
    with pytest.raises(ValidationError, match="is empty"):
        import_format(store, job.id, "csv", str(tmp_path / "e.csv"))


# -- manifest -------------------------------------------------------------------------------------

def test_manifest_round_trip(store, tmp_path):
    from store.samples import set_hard

    job = labeled_job(store)
    first = query_samples(store, job.id, SampleQuery()).items[0]
    set_hard(store, job.id, [first.id], True, 0.9, "least confidence")
    out = tmp_path / "export" / "job.manifest"
    assert export_job(store, job.id, "manifest", out).samples == 5
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["usage"] for r in rows] == ["TRAIN"] * 4 + ["INFERENCE"]
    r2 = rows[2]
    assert [a["name"] for a in r2["annotation"]] == ["cat", "dog"]
    assert all(a["type"] == "modelarts/image_classification" and a["creation-time"] for a in r2["annotation"])
    assert rows[0]["annotation"][0]["annotated-by"] == "alice"
    assert rows[0]["hard"] == "true" and rows[0]["hard-coefficient"] == 0.9
    assert "annotation" not in rows[4]
    # files are named relative to the manifest (absolute paths when asked for)
    stored = store.settings.objects_root.resolve() / "datasets" / str(job.dataset_id) / "p_0.png"
    assert (out.parent / rows[0]["source"]).resolve() == stored and not rows[0]["source"].startswith("/")
    absolute = tmp_path / "export-abs" / "job.manifest"
    export_job(store, job.id, "manifest", absolute, absolute_paths=True)
    assert json.loads(absolute.read_text(encoding="utf-8").splitlines()[0])["source"] == str(stored)

    back = new_job(store, "back", labels=())
    rec = import_format(store, back.id, "manifest", str(out))
    assert (rec.status, rec.found, rec.imported, rec.labeled) == ("succeeded", 5, 5, 4)
    assert labels_by_name(store, back.id) == WANT
    assert get_job(store, back.id).label_set.names() == ["cat", "dog", "кошка"]


def test_manifest_relative_sources_and_bad_lines(store, tmp_path, monkeypatch):
    write_image(tmp_path / "src" / "imgs" / "a.png", seed=1)
    write_image(tmp_path / "src" / "imgs" / "b.png", seed=2)
    lines = [
        json.dumps({"source": "imgs/a.png", "annotation": [{"type": "modelarts/image_classification", "name": "cat"},
                                                           {"name": "striped"}]}),
        "{not json",
        "",
        json.dumps({"usage": "TRAIN"}),
        json.dumps(["a list"]),
        json.dumps({"source": "imgs/b.png", "annotation": [{"type": "modelarts/object_detection", "name": "box"}]}),
        json.dumps({"source": "imgs/missing.png", "annotation": [{"name": "cat"}]}),
        json.dumps({"source": "../outside.png"}),
    ]
    (tmp_path / "src" / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    job = new_job(store, "man", labels=())
    rec = import_format(store, job.id, "manifest", str(tmp_path / "src" / "m.jsonl"))
    assert rec.status == "partial" and rec.imported == 2 and rec.labeled == 1
    assert rec.errors[0].startswith("line 2: not valid JSON")
    assert rec.errors[1] == 'line 4: each line needs a "source"'
    assert rec.errors[2] == 'line 5: each line needs a "source"'
    assert any("missing.png" in e for e in rec.errors) and any("outside.png" in e for e in rec.errors)
    assert labels_by_name(store, job.id) == {"a.png": ["cat", "striped"], "b.png": []}
    assert get_job(store, job.id).label_set.names() == ["cat", "striped"]


def test_manifest_of_only_bad_lines_fails(store, tmp_path):
    (tmp_path / "m.jsonl").write_text("nope\n[]\n", encoding="utf-8")
    job = new_job(store, "man")
    rec = import_format(store, job.id, "manifest", str(tmp_path / "m.jsonl"))
    assert (rec.status, rec.imported) == ("failed", 0)
    assert [e.split(":")[0] for e in rec.errors] == ["line 1", "line 2"]


def test_export_to_unknown_format_or_type(store, tmp_path):
    job = labeled_job(store)
    with pytest.raises(ValidationError, match="unknown format"):
        export_job(store, job.id, "coco-ish", tmp_path / "x")
    det = new_job(store, "det", labels=(), type_id="object_detection")
    with pytest.raises(StoreError, match="cannot export object_detection"):
        export_job(store, det.id, "imagefolder", tmp_path / "x")


def test_predictions_stay_out_of_exports_unless_asked_and_are_marked(store, tmp_path):
    """A To Be Confirmed prediction is no label in an export (CSV, manifest); with predictions
    asked for, it is written and marked as the model's; a confirmed one says the model made it and
    who confirmed it."""
    from store.predictions import Prediction, confirm_samples, write_predictions

    from store.formats.common import iter_job_samples

    job = labeled_job(store)
    ids = {s.name: s.id for s in iter_job_samples(store, job.id)}
    write_predictions(store, job.id, [Prediction(ids["p_4.png"], {"labels": ["dog"]}, 0.7)], model="resnet@2")
    csv_out = tmp_path / "csv" / "labels.csv"
    export_job(store, job.id, "csv", csv_out)
    rows = list(csv.reader(csv_out.open(encoding="utf-8")))
    assert [r[1] for r in rows if r[0].endswith("p_4.png")] == [""]  # not a label
    man = tmp_path / "m" / "job.manifest"
    export_job(store, job.id, "manifest", man)
    row = next(json.loads(ln) for ln in man.read_text(encoding="utf-8").splitlines() if ln and "p_4" in ln)
    assert row["usage"] == "INFERENCE" and "annotation" not in row

    with_preds = tmp_path / "m2" / "job.manifest"
    export_job(store, job.id, "manifest", with_preds, predictions=True)
    row = next(json.loads(ln) for ln in with_preds.read_text(encoding="utf-8").splitlines() if ln and "p_4" in ln)
    (a,) = row["annotation"]
    assert (a["name"], a["annotated-by"], a["prediction"], a["confidence"]) == ("dog", "resnet@2", True, 0.7)

    confirm_samples(store, job.id, [ids["p_4.png"]], actor="bob")
    again = tmp_path / "m3" / "job.manifest"
    export_job(store, job.id, "manifest", again)
    row = next(json.loads(ln) for ln in again.read_text(encoding="utf-8").splitlines() if ln and "p_4" in ln)
    (a,) = row["annotation"]
    assert (a["name"], a["annotated-by"], a["confirmed-by"]) == ("dog", "resnet@2", "bob") and "prediction" not in a
