"""Published versions (SPEC F1.6, F7, F8.3): immutable numbered versions in object storage, their
parquet readable by pandas and Hugging Face `datasets`, exports of the frozen version, a dataset
card, S3 storage, the API and the command line."""
from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from store.annotations import apply_labels, remove_labels, set_annotation
from store.errors import NotFound, ValidationError
from store.exports import export_job
from store.formats.common import iter_job_samples
from store.imports import import_format
from store.jobs import create_job
from store.labelset import Label, LabelSet
from store.types import REGISTRY
from store.versions import export_version, get_version, list_versions, publish_version
from tests.factories import image_bytes, new_job, upload_images


def csv_labels(path: Path) -> dict[str, list[str]]:
    """{file name: labels} of a file,label CSV (one label a row)."""
    out: dict[str, set] = {}
    for r in list(csv.reader(path.open(encoding="utf-8")))[1:]:
        out.setdefault(Path(r[0]).name, set()).update(c for c in r[1:] if c)
    return {k: sorted(v) for k, v in out.items()}


def labeled_job(store):
    job = new_job(store, "pets", labels=("cat", "dog"))
    ids = upload_images(store, job.id, 4, prefix="p")
    apply_labels(store, job.id, ids[:2], ["cat"], actor="alice")
    apply_labels(store, job.id, [ids[1]], ["dog"], actor="bob")
    return job, ids


V1 = {"p_0.png": ["cat"], "p_1.png": ["cat", "dog"], "p_2.png": [], "p_3.png": []}


def test_publish_then_change_labels_the_old_version_keeps_its_labels(store, tmp_path):
    job, ids = labeled_job(store)
    v1 = publish_version(store, job.id, "first cut", actor="alice")
    assert (v1.number, v1.samples, v1.labeled, v1.description, v1.created_by) == (1, 4, 2, "first cut", "alice")
    assert v1.label_counts == {"cat": 2, "dog": 1}
    folder = Path(v1.location)
    assert folder == store.settings.objects_root.resolve() / "versions" / "pets" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "data.parquet", "manifest.jsonl", "train.parquet"]
    assert v1.bytes == sum(p.stat().st_size for p in folder.iterdir())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    # change the labels, publish again: version 2, version 1 untouched
    remove_labels(store, job.id, [ids[0]], ["cat"])
    apply_labels(store, job.id, [ids[2], ids[3]], ["dog"])
    v2 = publish_version(store, job.id)
    assert (v2.number, v2.labeled, v2.label_counts) == (2, 3, {"cat": 1, "dog": 3})
    assert [v.number for v in list_versions(store, job.id)] == [2, 1]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert get_version(store, job.id, 1) == v1

    # the export of v1 is v1, in every format, not the live job
    export_version(store, job.id, 1, "csv", tmp_path / "v1.csv")
    assert csv_labels(tmp_path / "v1.csv") == V1
    export_version(store, job.id, 2, "csv", tmp_path / "v2.csv")
    assert csv_labels(tmp_path / "v2.csv") == {"p_0.png": [], "p_1.png": ["cat", "dog"], "p_2.png": ["dog"],
                                                "p_3.png": ["dog"]}
    res = export_version(store, job.id, 1, "imagefolder", tmp_path / "v1-folder")
    assert res.samples == 2
    assert sorted(p.relative_to(tmp_path / "v1-folder").as_posix() for p in (tmp_path / "v1-folder").rglob("*.png")) \
        == ["cat/p_0.png", "cat/p_1.png", "dog/p_1.png"]
    export_version(store, job.id, 1, "parquet", tmp_path / "v1.parquet")
    assert (tmp_path / "v1.parquet").read_bytes() == before["data.parquet"]
    export_version(store, job.id, 1, "manifest", tmp_path / "v1.manifest")
    lines = [json.loads(x) for x in (tmp_path / "v1.manifest").read_text().splitlines()]
    assert [[a["name"] for a in r.get("annotation", [])] for r in lines] == [["cat"], ["cat", "dog"], [], []]

    # importing a version's parquet gives its labels back
    back = new_job(store, "back", labels=())
    rec = import_format(store, back.id, "parquet", str(folder / "data.parquet"))
    assert (rec.status, rec.imported, rec.labeled) == ("succeeded", 4, 2)
    assert {s.name: sorted(s.labels) for s in iter_job_samples(store, back.id)} == V1

    with pytest.raises(NotFound):
        export_version(store, job.id, 3, "csv", tmp_path / "v3.csv")
    with pytest.raises(ValidationError, match="cannot export"):
        export_version(store, job.id, 1, "conll", tmp_path / "v1.conll")


def test_version_parquet_reads_with_pandas_and_datasets(store, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    datasets = pytest.importorskip("datasets")
    job, _ = labeled_job(store)
    v1 = publish_version(store, job.id)
    data = str(Path(v1.location) / "data.parquet")

    df = pd.read_parquet(data)
    assert list(df.columns[:3]) == ["id", "file_name", "source"]
    assert {"status", "labels", "annotation", "labeled_by", "labeled_at", "hard", "confidence"} <= set(df.columns)
    assert len(df) == 4 and sorted(df.status) == ["labeled", "labeled", "unlabeled", "unlabeled"]
    row = df[df.file_name == "p_1.png"].iloc[0]
    assert list(row.labels) == ["cat", "dog"] and json.loads(row.annotation) == {"labels": ["cat", "dog"]}
    assert Path(row.source).is_file()  # a readable path

    ds = datasets.load_dataset("parquet", data_files=data, cache_dir=str(tmp_path / "hf-cache"))["train"]
    assert ds.num_rows == 4
    got = {r["file_name"]: r["labels"] for r in ds}
    assert got == {"p_0.png": ["cat"], "p_1.png": ["cat", "dog"], "p_2.png": [], "p_3.png": []}

    card = (Path(v1.location) / "README.md").read_text(encoding="utf-8")
    header = card.split("---\n")[1]
    assert card.startswith("---\n") and "- config_name: labelport\n  data_files: data.parquet" in header
    assert "- config_name: default\n  data_files:\n  - split: train\n    path: train.parquet" in header
    assert "license: unknown" in header and "task_categories:\n- image-classification" in header
    assert "| cat | 2 |" in card and "datasets.load_dataset(\"parquet\"" in card and "pd.read_parquet" in card


def test_detection_version_manifest_names_its_voc_files_relatively(store, tmp_path):
    job = new_job(store, "boxes", labels=("car",), type_id="object_detection")
    from store.imports import upload_files

    upload_files(store, job.id, [("a.png", image_bytes(size=(64, 48))), ("b.png", image_bytes(size=(64, 48), seed=1))])
    sid = next(s.id for s in iter_job_samples(store, job.id) if s.name == "a.png")
    shapes = [{"type": "rectangle", "label": "car", "points": [[2, 3], [30, 20]]}]
    set_annotation(store, job.id, sid, {"shapes": shapes})
    v = publish_version(store, job.id)
    folder = Path(v.location)
    row = json.loads((folder / "manifest.jsonl").read_text().splitlines()[0])
    assert row["annotation"][0]["annotation-loc"] == "manifest_annotations/a.xml"
    assert (folder / "manifest_annotations" / "a.xml").is_file()
    set_annotation(store, job.id, sid, {"shapes": []})  # cleared after publishing
    back = new_job(store, "back", labels=("car",), type_id="object_detection")
    rec = import_format(store, back.id, "manifest", str(folder / "manifest.jsonl"))
    assert rec.labeled == 1, rec.errors
    export_version(store, job.id, 1, "coco", tmp_path / "coco" / "v1.json")
    coco = json.loads((tmp_path / "coco" / "v1.json").read_text())
    assert [a["bbox"] for a in coco["annotations"]] == [[2, 3, 28, 17]]


def test_text_version_export_in_the_types_formats(store, tmp_path):
    from store.imports import upload_files

    job = create_job(store, "ner", "named_entity_recognition", label_set=LabelSet([Label("person")]))
    upload_files(store, job.id, [("t.txt", b"Alice met Bob\nNobody here\n")])
    sid = next(s.id for s in iter_job_samples(store, job.id) if s.text == "Alice met Bob")
    set_annotation(store, job.id, sid, {"spans": [{"start": 0, "end": 5, "label": "person"}]})
    publish_version(store, job.id)
    set_annotation(store, job.id, sid, {"spans": [{"start": 10, "end": 13, "label": "person"}]})
    export_version(store, job.id, 1, "conll", tmp_path / "v1.conll")
    assert (tmp_path / "v1.conll").read_text().split("\n")[:3] == ["Alice\tB-person", "met\tO", "Bob\tO"]
    export_job(store, job.id, "conll", tmp_path / "live.conll")
    assert (tmp_path / "live.conll").read_text().split("\n")[:3] == ["Alice\tO", "met\tO", "Bob\tB-person"]
    df = pd.read_parquet(Path(get_version(store, job.id, 1).location) / "data.parquet")
    assert list(df.text) == ["Alice met Bob", "Nobody here"]


def test_publish_on_s3_storage(s3_store, s3_bucket, tmp_path):
    _, bucket, client = s3_bucket
    job, ids = labeled_job(s3_store)
    v1 = publish_version(s3_store, job.id, "on s3")
    assert v1.location == f"s3://{bucket}/labelport/versions/pets/v1/"
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="labelport/versions/")["Contents"])
    assert keys == [f"labelport/versions/pets/v1/{n}" for n in ("README.md", "data.parquet", "manifest.jsonl",
                                                                 "train.parquet")]
    card = client.get_object(Bucket=bucket, Key="labelport/versions/pets/v1/README.md")["Body"].read().decode()
    assert card.startswith("---\n") and "data_files: data.parquet" in card
    apply_labels(s3_store, job.id, ids[2:], ["dog"])
    v2 = publish_version(s3_store, job.id)
    assert v2.number == 2 and v2.location.endswith("/versions/pets/v2/")
    export_version(s3_store, job.id, 1, "csv", tmp_path / "v1.csv")
    assert csv_labels(tmp_path / "v1.csv") == V1
    # the version's parquet imports straight from S3 (sources are s3:// URLs)
    back = new_job(s3_store, "back", labels=())
    rec = import_format(s3_store, back.id, "parquet", v1.location + "data.parquet")
    assert (rec.status, rec.labeled) == ("succeeded", 2), rec.errors


def test_api_versions(store, tmp_path):
    from fastapi.testclient import TestClient

    from api import build_api

    job, ids = labeled_job(store)
    client = TestClient(build_api(store))
    r = client.post(f"/jobs/{job.id}/versions", json={"description": "api"})
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["number"], v["samples"], v["labeled"], v["label_counts"]) == (1, 4, 2, {"cat": 2, "dog": 1})
    assert v["files"][0].endswith("/versions/pets/v1/data.parquet")
    apply_labels(store, job.id, ids[2:], ["dog"])
    assert client.post(f"/jobs/{job.id}/versions", json={}).json()["number"] == 2
    assert [x["number"] for x in client.get(f"/jobs/{job.id}/versions").json()] == [2, 1]
    assert client.get(f"/jobs/{job.id}/versions/1").json()["description"] == "api"
    assert client.get(f"/jobs/{job.id}/versions/9").status_code == 404
    assert client.get(f"/jobs/{job.id + 100}/versions").status_code == 404
    # download (no path) and write on the server (a path)
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (tmp_path / "dl.csv").write_bytes(r.content)
    assert csv_labels(tmp_path / "dl.csv") == V1
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "imagefolder"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "manifest",
                                                               "path": str(tmp_path / "v1.manifest")})
    assert r.status_code == 200 and r.json()["samples"] == 4 and (tmp_path / "v1.manifest").is_file()
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "manifest",
                                                               "path": str(tmp_path / "v1.manifest")})
    assert r.status_code == 409  # never over an existing file
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "csv", "path": "relative.csv"})
    assert r.status_code == 400
    r = client.post(f"/jobs/{job.id}/versions/1/exports", json={"format": "conll"})
    assert r.status_code == 400 and "cannot export" in r.json()["error"]["message"]
    assert "/jobs/{job_id}/versions/{number}/exports" in client.get("/openapi.json").json()["paths"]


def test_cli_publish_and_versions(tmp_path, capsys):
    from cli import main

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        (images / f"d_{i}.png").write_bytes(image_bytes(seed=i))
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["create-job", "--name", "digits", "--type", "image_classification", "--dataset", str(images),
                 "--labels", "a,b", *data]) == 0
    assert main(["versions", "--job", "digits", *data]) == 0
    assert "no published versions" in capsys.readouterr().out
    assert main(["publish", "--job", "digits", "--description", "first", "--json", *data]) == 0
    v = json.loads(capsys.readouterr().out)
    assert (v["number"], v["samples"], v["labeled"], v["description"], v["created_by"]) == (1, 3, 0, "first", "cli")
    assert main(["publish", "--job", "digits", *data]) == 0
    assert "version 2" in capsys.readouterr().out
    assert main(["versions", "--job", "digits", "--json", *data]) == 0
    assert [x["number"] for x in json.loads(capsys.readouterr().out)["versions"]] == [2, 1]
    assert main(["publish", "--job", "nope", *data]) == 2


def test_data_panel_versions_publish_list_and_export(store):
    """The Versions part of the Add data / Export panel every labeling page shows."""
    import gradio as gr

    from components.data_panel import DataPanel
    from pages.common import AppContext

    job, _ = labeled_job(store)
    with gr.Blocks() as demo:
        panel = DataPanel(AppContext(store), gr.State(job.id))
    history, files, fmt, example, out_fmt, ver_fmt = panel.load(job)  # filled for the job's type
    assert "PNG" in files.label and out_fmt.value in {v for _, v in out_fmt.choices}
    assert ver_fmt.value == "parquet" and fmt.value == "manifest" and example
    fns = {getattr(f.fn, "__name__", ""): f.fn for f in demo.fns.values()}
    frame, _ = fns["on_versions"](job.id)
    assert frame.empty
    frame, pick, desc = fns["on_publish"](None, job.id, "from the page")
    assert frame.iloc[0]["Version"] == 1 and frame.iloc[0]["Labeled"] == 2 and desc == ""
    assert frame.iloc[0]["Per label"] == "cat: 2, dog: 1"
    frame, pick, _ = fns["on_publish"](None, job.id, "split", "train=0.5,val=0.5", 3, True)  # the page's split fields
    v2 = get_version(store, job.id, 2)
    assert pick.value == 2 and sorted(p.name for p in Path(v2.location).glob("*.parquet")) == [
        "data.parquet", "train.parquet", "val.parquet"]
    with pytest.raises(gr.Error, match="add up to 1"):
        fns["on_publish"](None, job.id, "bad", "train=0.5", 0, False)
    path = Path(fns["on_version_export"](None, job.id, 1, "parquet"))
    assert path.suffix == ".parquet" and len(pd.read_parquet(path)) == 4
    assert Path(fns["on_version_export"](None, job.id, 1, "imagefolder")).suffix == ".zip"
    with pytest.raises(gr.Error, match="choose a published version"):
        fns["on_version_export"](None, job.id, None, "csv")


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_every_type_publishes_and_exports_its_version_in_each_format(store, tmp_path, type_id):
    """A version of each type, exported in every format of the type: the same samples as the live
    job's export, and the version's manifest imports with the same labeled count."""
    from store.formats import formats_for
    from tests.test_round_trips import FILE_EXTENSIONS, LABELS, build

    job = build(store, type_id)
    v = publish_version(store, job.id)
    assert v.labeled > 0 and (Path(v.location) / "README.md").is_file()
    for fmt in formats_for(type_id, "write"):
        ext = FILE_EXTENSIONS.get(fmt)
        name = f"export.{ext}" if ext else "export"
        got = export_version(store, job.id, 1, fmt, tmp_path / "version" / fmt / name)
        want = export_job(store, job.id, fmt, tmp_path / "live" / fmt / name)
        assert got.samples == want.samples, fmt
    back = create_job(store, "back", type_id, label_set=LABELS[type_id])
    rec = import_format(store, back.id, "manifest", str(Path(v.location) / "manifest.jsonl"))
    assert (rec.status, rec.labeled) == ("succeeded", v.labeled), rec.errors[:3]


def hf_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return pytest.importorskip("datasets")


@pytest.mark.parametrize("type_id", list(REGISTRY))
def test_every_types_version_is_training_ready(store, tmp_path, monkeypatch, type_id):
    """train.parquet of a version loads with `datasets` as typed features (issue 17): ClassLabel,
    Image / Audio with their bytes, tokens + ner_tags, objects with COCO-order boxes."""
    from tests.test_round_trips import build

    datasets = hf_env(monkeypatch, tmp_path)
    job = build(store, type_id)
    v = publish_version(store, job.id)
    ds = datasets.load_dataset("parquet", data_files=str(Path(v.location) / "train.parquet"),
                               cache_dir=str(tmp_path / "c"))["train"]
    assert ds.num_rows == v.labeled
    f = ds.features
    if "audio" in f:  # decoding audio needs torchcodec: read the column as it is stored
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    if type_id in ("image_classification", "text_classification", "sound_classification"):
        assert f["labels"].feature.names == job.label_set.names()
        assert all(r["labels"] for r in ds)
    if type_id in ("image_classification", "object_detection", "image_segmentation"):
        assert isinstance(f["image"], datasets.Image) and ds[0]["image"].size[0] > 0  # decoded from the bytes
    if type_id in ("sound_classification", "speech_labeling", "speech_paragraph"):
        assert isinstance(f["audio"], datasets.Audio)
        assert ds[0]["audio"]["bytes"]  # embedded
    if type_id in ("object_detection", "image_segmentation"):
        assert f["objects"]["category"].feature.names == job.label_set.names()
        boxes = [b for r in ds for b in r["objects"]["bbox"]]
        assert boxes and all(len(b) == 4 and b[2] >= 0 and b[3] >= 0 for b in boxes)
    if type_id == "named_entity_recognition":
        names = f["ner_tags"].feature.names
        assert names[0] == "O" and any(n.startswith("B-") for r in ds for n in map(names.__getitem__, r["ner_tags"]))
        assert all(len(r["tokens"]) == len(r["ner_tags"]) for r in ds)
    if type_id == "text_triplet":
        assert f["entities"]["label"].names if hasattr(f["entities"], "keys") else f["entities"].feature["label"].names


def test_a_version_folder_loads_by_split_and_versions_do_not_mix(store, tmp_path, monkeypatch):
    datasets = hf_env(monkeypatch, tmp_path)
    job = new_job(store, "pets", labels=("cat", "dog"))
    ids = upload_images(store, job.id, 10, prefix="p")
    apply_labels(store, job.id, ids[:6], ["cat"])
    apply_labels(store, job.id, ids[6:], ["dog"])
    v1 = publish_version(store, job.id, split="train=0.5,val=0.5", seed=4)
    card = (Path(v1.location) / "README.md").read_text(encoding="utf-8")
    assert "split `train=0.5,val=0.5` with seed 4" in card
    ds = datasets.load_dataset(v1.location, cache_dir=str(tmp_path / "c"))
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 5, "val": 5}
    assert ds["train"].features["label"].names == ["cat", "dog"]
    assert sorted(Counter(ds["train"]["label"]).values()) == [2, 3]  # stratified: 3 cats + 2 dogs
    remove_labels(store, job.id, ids[6:], ["dog"])
    apply_labels(store, job.id, ids[6:], ["cat"])
    v2 = publish_version(store, job.id, reference=True)
    ds2 = datasets.load_dataset(v2.location, cache_dir=str(tmp_path / "c"))
    assert list(ds2) == ["train"] and ds2["train"].num_rows == 10
    assert set(ds2["train"]["label"]) == {0}  # v2's rows, not v1's from the cache
    raw = ds2["train"].with_format("arrow")[0:1].column("image")[0].as_py()
    assert raw["bytes"] is None and Path(raw["path"]).is_file()  # --reference: the file's path
    ds1 = datasets.load_dataset(v1.location, cache_dir=str(tmp_path / "c"))
    assert ds1["train"].num_rows == 5  # and v1 still its own


def test_an_opened_records_labels_and_a_new_label_are_one_save(store):
    """The classification page's open record saves its labels with a name new to the label set
    in one store call (set_labels): a sample saved since refuses the save, and the new name does
    not join the set either; the save at the current version stores both."""
    from store.history import VersionConflict
    from store.jobs import get_job

    job = new_job(store)
    (sid,) = upload_images(store, job.id, 1)
    v1 = set_annotation(store, job.id, sid, {"labels": ["cat"]})
    v2 = set_annotation(store, job.id, sid, {"labels": ["dog"]})
    from store.annotations import set_labels

    with pytest.raises(VersionConflict):
        set_labels(store, job.id, sid, ["cat", "lynx"], expected_version=v1)
    assert get_job(store, job.id).label_set.names() == ["cat", "dog"]
    v3 = set_labels(store, job.id, sid, ["cat", "lynx"], expected_version=v2)
    assert v3 == v2 + 1 and get_job(store, job.id).label_set.names() == ["cat", "dog", "lynx"]
    with pytest.raises(ValidationError):  # a name the type refuses: nothing saved
        set_labels(store, job.id, sid, ["<script>"], expected_version=v3)
    assert get_job(store, job.id).label_set.names() == ["cat", "dog", "lynx"]
