"""The REST API over HTTP: every endpoint of /api/v1 and its errors, against the real app.

One app process (``--no-demo``, a temporary data folder) serves the whole module. Each test makes
its own jobs (unique names) from copies of real images (``shared/data/digits_8x8``) in temporary
folders, and checks what each answer says by reading the state back through the API (the test
never opens the server's DuckDB file: one writer process). Every error is checked for its status
and the JSON shape {"error": {"status", "message"}}.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
import re
import shutil
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.app_server import AppServer

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT.parent / "shared" / "data" / "digits_8x8"
_names = itertools.count(1)


# -- fixtures and helpers ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits() -> Path:
    if not (DIGITS / "images").is_dir():
        pytest.skip(f"real images absent: {DIGITS}/images (the shared data folder is not mounted)")
    return DIGITS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api-app")
    app = AppServer(tmp / "data", tmp / "server", ui=False)  # the REST API only
    app.start()
    yield app
    app.stop()
    log = app.log(tail=10**7)
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-6000:]}"


@pytest.fixture(scope="module")
def api(server):
    with httpx.Client(base_url=server.url + "/api/v1", timeout=60) as client:
        yield client


def digit_labels(digits: Path) -> dict[str, str]:
    """file name -> the digit it shows, from the dataset's labels.csv."""
    with open(digits / "labels.csv", newline="") as f:
        return {Path(row["file"]).name: row["label"] for row in csv.DictReader(f)}


def copy_images(digits: Path, folder: Path, n: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = sorted((digits / "images").glob("*.png"))[start:start + n]
    return [Path(shutil.copyfile(p, folder / p.name)) for p in files]


def unique(prefix: str = "job") -> str:
    return f"{prefix}-{next(_names)}"


def err(r: httpx.Response, status: int, contains: str | None = None) -> str:
    """Assert an error answer: the status, JSON {"error": {"status", "message"}}; returns the message."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == status
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip()
    if contains is not None:
        assert contains.lower() in message.lower(), message
    return message


def ok(r: httpx.Response, status: int = 200):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None


def make_job(api, folder: Path | None = None, labels=("zero", "one", "two"), type_id="image_classification",
             **extra) -> dict:
    body = {"name": unique(extra.pop("prefix", "job")), "type": type_id, "labels": list(labels), **extra}
    if folder is not None:
        body["dataset"] = str(folder)
    return ok(api.post("/jobs", json=body), 201)


def page(api, job_id: int, **params) -> dict:
    return ok(api.get(f"/jobs/{job_id}/samples", params={"page_size": 500, **params}))


def sample_ids(api, job_id: int, **params) -> list[int]:
    return [s["id"] for s in page(api, job_id, **params)["items"]]


def label(api, job_id: int, ids: list[int], labels: list[str]) -> int:
    return ok(api.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": ids, "labels": labels}))[
        "samples_changed"]


@pytest.fixture
def labeled_job(api, digits, tmp_path) -> dict:
    """A job of 6 copied images: 2 labeled zero, 1 labeled one and two, 3 unlabeled."""
    copy_images(digits, tmp_path / "images", 6)
    job = make_job(api, tmp_path / "images")
    ids = sample_ids(api, job["id"])
    assert label(api, job["id"], ids[:2], ["zero"]) == 2
    assert label(api, job["id"], ids[2:3], ["one", "two"]) == 1
    return {**job, "ids": ids}


# -- jobs -----------------------------------------------------------------------------------------

def test_create_job_with_label_names(api):
    name = unique("names")
    job = ok(api.post("/jobs", json={"name": name, "type": "image_classification", "labels": ["cat", "dog"],
                                     "description": "pets", "instructions": "# Cats and dogs"}), 201)
    assert job["name"] == name and job["type"] == "image_classification" and job["description"] == "pets"
    assert [lab["name"] for lab in job["label_set"]["labels"]] == ["cat", "dog"]
    assert job["counts"] == {"total": 0, "unlabeled": 0, "labeled": 0, "to_be_confirmed": 0}
    again = ok(api.get(f"/jobs/{job['id']}"))
    assert again["name"] == name and again["instructions"] == "# Cats and dogs"
    assert again["label_set"] == job["label_set"]
    assert re.search(r"[+-]\d\d:\d\d$|Z$", again["created_at"]), "timestamps carry their offset"


def test_create_job_with_a_full_label_set(api):
    label_set = {"labels": [{"name": "car", "color": "#FF8800", "attributes": {"colour": ["red", "blue"]}},
                            "person"]}
    job = ok(api.post("/jobs", json={"name": unique("full-set"), "type": "object_detection", "labels": label_set}),
             201)
    labels = ok(api.get(f"/jobs/{job['id']}"))["label_set"]["labels"]
    assert labels[0]["name"] == "car" and labels[0]["color"] == "#ff8800"
    assert labels[0]["attributes"] == {"colour": ["red", "blue"]}
    assert labels[1]["name"] == "person" and labels[1]["color"].startswith("#"), "a default color is assigned"


def test_create_job_on_a_real_dataset_folder(api, digits):
    job = make_job(api, digits / "images")
    n = len(list((digits / "images").glob("*.png")))
    assert job["counts"]["total"] == n and job["counts"]["unlabeled"] == n
    assert ok(api.get(f"/jobs/{job['id']}"))["counts"]["total"] == n


def test_create_job_refusals(api, tmp_path):
    name = unique("taken")
    ok(api.post("/jobs", json={"name": name, "type": "image_classification"}), 201)
    before = len(ok(api.get("/jobs")))
    err(api.post("/jobs", json={"name": name, "type": "image_classification"}), 409, "already exists")
    err(api.post("/jobs", json={"name": unique(), "type": "no_such_type"}), 400, "type")
    err(api.post("/jobs", json={"name": unique()}), 400, "type")
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification", "labels": ["a/b"]}), 400, "a/b")
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification", "labels": ["x", "x"]}), 400)
    err(api.post("/jobs", json={"name": "x" * 101, "type": "image_classification"}), 400, "limit")
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification", "description": "d" * 257}),
        400, "description")
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification",
                                "dataset": str(tmp_path / "missing")}), 404, "not found")
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification", "dataset_id": 10**9}), 404)
    err(api.post("/jobs", json={"name": unique(), "type": "image_classification", "team_labeling": "yes"}), 400)
    err(api.post("/jobs", content=b"{not json", headers={"content-type": "application/json"}), 400)
    err(api.post("/jobs", content=b'{"name": "bad\\ud800", "type": "image_classification"}',
                 headers={"content-type": "application/json"}), 400, "surrogate")
    assert len(ok(api.get("/jobs"))) == before, "nothing was saved by a refused request"


def test_job_list_filters_by_type_and_searches_names(api):
    token = unique("Needle")
    a = make_job(api, prefix=f"{token}-images")
    b = ok(api.post("/jobs", json={"name": f"{token.lower()}-texts", "type": "text_classification"}), 201)
    found = {j["name"]: j for j in ok(api.get("/jobs", params={"search": token.upper()}))}
    assert set(found) == {a["name"], b["name"]}, "search is a case-insensitive substring"
    texts = ok(api.get("/jobs", params={"search": token, "type": "text_classification"}))
    assert [j["id"] for j in texts] == [b["id"]]
    row = found[a["name"]]
    assert {"total", "labeled", "unlabeled", "to_be_confirmed", "progress", "dataset", "created_at"} <= set(row)
    assert ok(api.get("/jobs", params={"search": "no-such-job-name-anywhere"})) == []
    assert ok(api.get("/jobs", params={"type": "video_labeling", "search": token})) == []


def test_job_list_progress(api, labeled_job):
    row = next(j for j in ok(api.get("/jobs", params={"search": labeled_job["name"]}))
               if j["id"] == labeled_job["id"])
    assert (row["total"], row["labeled"], row["unlabeled"]) == (6, 3, 3)
    assert row["progress"] == pytest.approx(0.5)


def test_get_job_errors(api):
    err(api.get("/jobs/999999999"), 404, "not found")
    err(api.get("/jobs/abc"), 400, "job_id")
    err(api.get("/jobs/0"), 400)
    err(api.get(f"/jobs/{2**70}"), 400)


def test_patch_job_renames_and_edits_texts(api):
    job = make_job(api)
    new = unique("renamed")
    out = ok(api.patch(f"/jobs/{job['id']}", json={"name": new, "description": "new text"}))
    assert out["name"] == new and out["description"] == "new text"
    got = ok(api.get(f"/jobs/{job['id']}"))
    assert got["name"] == new and got["description"] == "new text"
    assert [lab["name"] for lab in got["label_set"]["labels"]] == ["zero", "one", "two"], "labels untouched"
    other = make_job(api)
    err(api.patch(f"/jobs/{job['id']}", json={"name": other["name"]}), 409, "already exists")
    err(api.patch(f"/jobs/{job['id']}", json={"name": "  "}), 400, "empty")
    err(api.patch("/jobs/999999999", json={"name": unique()}), 404)
    assert ok(api.get(f"/jobs/{job['id']}"))["name"] == new


def test_patch_job_labels(api, labeled_job):
    jid = labeled_job["id"]
    out = ok(api.patch(f"/jobs/{jid}", json={"labels": ["zero", "one", "two", "three"]}))
    assert [lab["name"] for lab in out["label_set"]["labels"]] == ["zero", "one", "two", "three"]
    # dropping an unused label is fine; dropping a used one is refused (label management does that)
    ok(api.patch(f"/jobs/{jid}", json={"labels": ["zero", "one", "two"]}))
    msg = err(api.patch(f"/jobs/{jid}", json={"labels": ["one", "two"]}), 400, "zero")
    assert "used by 2 samples" in msg
    assert [lab["name"] for lab in ok(api.get(f"/jobs/{jid}"))["label_set"]["labels"]] == ["zero", "one", "two"]
    # a full label set
    out = ok(api.patch(f"/jobs/{jid}", json={"labels": {"labels": ["zero", "one", "two", {"name": "four"}]}}))
    assert [lab["name"] for lab in out["label_set"]["labels"]] == ["zero", "one", "two", "four"]
    err(api.patch(f"/jobs/{jid}", json={"labels": ["ok", "not ok!"]}), 400, "not ok!")


def test_copy_job(api, labeled_job):
    jid = labeled_job["id"]
    copy = ok(api.post(f"/jobs/{jid}/copy"), 201)
    assert copy["id"] != jid and copy["name"].startswith(labeled_job["name"] + "-copy-")
    assert copy["dataset_id"] == labeled_job["dataset_id"]
    assert copy["counts"] == {"total": 6, "unlabeled": 6, "labeled": 0, "to_be_confirmed": 0}, "no results copied"
    assert copy["label_set"] == ok(api.get(f"/jobs/{jid}"))["label_set"]
    named = ok(api.post(f"/jobs/{jid}/copy", json={"name": unique("copied"), "description": "a copy"}), 201)
    assert named["description"] == "a copy"
    err(api.post(f"/jobs/{jid}/copy", json={"name": named["name"]}), 409)
    err(api.post("/jobs/999999999/copy"), 404)


def test_delete_job_keeps_the_dataset(api, digits, tmp_path):
    copy_images(digits, tmp_path / "images", 3)
    job = make_job(api, tmp_path / "images")
    r = api.delete(f"/jobs/{job['id']}")
    assert r.status_code == 204 and r.content == b""
    err(api.get(f"/jobs/{job['id']}"), 404)
    err(api.delete(f"/jobs/{job['id']}"), 404)
    assert job["id"] not in [j["id"] for j in ok(api.get("/jobs"))]
    again = ok(api.post("/jobs", json={"name": unique(), "type": "image_classification",
                                       "dataset_id": job["dataset_id"]}), 201)
    assert again["counts"]["total"] == 3, "the dataset and its samples stay"
    assert all(p.exists() for p in (tmp_path / "images").iterdir()), "files stay"


def test_stats(api, labeled_job):
    stats = ok(api.get(f"/jobs/{labeled_job['id']}/stats"))
    assert (stats["total"], stats["labeled"], stats["unlabeled"], stats["to_be_confirmed"]) == (6, 3, 3, 0)
    assert stats["labels"] == {"zero": 2, "one": 1, "two": 1}
    assert stats["annotators"] == {"local": 3}
    assert len(stats["progress"]) == 1 and stats["progress"][0]["cumulative"] == 3
    err(api.get("/jobs/999999999/stats"), 404)


# -- label management ---------------------------------------------------------------------------

def test_labels_list_with_counts(api, labeled_job):
    out = ok(api.get(f"/jobs/{labeled_job['id']}/labels"))
    assert [(lab["name"], lab["samples"]) for lab in out["labels"]] == [("zero", 2), ("one", 1), ("two", 1)]
    assert [lab["name"] for lab in out["label_set"]["labels"]] == ["zero", "one", "two"]
    err(api.get("/jobs/999999999/labels"), 404)


def test_add_label(api, labeled_job):
    jid = labeled_job["id"]
    out = ok(api.post(f"/jobs/{jid}/labels", json={"name": "three"}), 201)
    assert out["labels"] == ["zero", "one", "two", "three"]
    err(api.post(f"/jobs/{jid}/labels", json={"name": "three"}), 409, "already exists")
    err(api.post(f"/jobs/{jid}/labels", json={"name": "no spaces"}), 400)
    err(api.post(f"/jobs/{jid}/labels", json={"name": ""}), 400, "empty")
    err(api.post(f"/jobs/{jid}/labels", json={}), 400, "name")
    err(api.post("/jobs/999999999/labels", json={"name": "x"}), 404)
    assert [lab["name"] for lab in ok(api.get(f"/jobs/{jid}/labels"))["labels"]] == ["zero", "one", "two", "three"]


def test_rename_label_everywhere(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    assert ok(api.patch(f"/jobs/{jid}/labels/zero", json={"name": "nought"})) == {"samples_changed": 2}
    assert [lab["name"] for lab in ok(api.get(f"/jobs/{jid}/labels"))["labels"]] == ["nought", "one", "two"]
    for sid in ids[:2]:
        s = ok(api.get(f"/jobs/{jid}/samples/{sid}"))
        assert s["labels"] == ["nought"] and s["annotation"] == {"labels": ["nought"]}
    assert sample_ids(api, jid, label="zero") == []
    assert sample_ids(api, jid, label="nought") == ids[:2]
    err(api.patch(f"/jobs/{jid}/labels/one", json={"name": "two"}), 409, "already exists")
    err(api.patch(f"/jobs/{jid}/labels/missing", json={"name": "other"}), 404, "missing")
    err(api.patch(f"/jobs/{jid}/labels/one", json={"name": "a b"}), 400)
    assert ok(api.get(f"/jobs/{jid}/stats"))["labels"] == {"nought": 2, "one": 1, "two": 1}


def test_delete_label_everywhere(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    assert ok(api.delete(f"/jobs/{jid}/labels/one")) == {"samples_changed": 1}
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[2]}"))["labels"] == ["two"]
    assert ok(api.delete(f"/jobs/{jid}/labels/two")) == {"samples_changed": 1}
    s = ok(api.get(f"/jobs/{jid}/samples/{ids[2]}"))
    assert s["labels"] == [] and s["status"] == "unlabeled", "a sample left without labels is unlabeled"
    err(api.delete(f"/jobs/{jid}/labels/two"), 404)
    # delete_samples_with_only_this removes the samples that had only that label from the job
    assert ok(api.delete(f"/jobs/{jid}/labels/zero", params={"delete_samples_with_only_this": "true"})) == {
        "samples_changed": 2}
    assert page(api, jid)["total"] == 4
    assert [lab["name"] for lab in ok(api.get(f"/jobs/{jid}/labels"))["labels"]] == []


# -- samples ------------------------------------------------------------------------------------

def test_samples_page_tabs_and_filters(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    all_ = page(api, jid)
    assert all_["total"] == 6 and all_["pages"] == 1 and [s["id"] for s in all_["items"]] == ids
    first = all_["items"][0]
    assert first["file_url"] == f"/api/v1/samples/{first['id']}/file" and first["name"].endswith(".png")
    assert sample_ids(api, jid, status="labeled") == ids[:3]
    assert sample_ids(api, jid, status="unlabeled") == ids[3:]
    assert sample_ids(api, jid, status="to_be_confirmed") == []
    err(api.get(f"/jobs/{jid}/samples", params={"status": "done"}), 400, "status")
    # label filter: any of the repeated label= parameters
    assert sample_ids(api, jid, label="zero") == ids[:2]
    assert sample_ids(api, jid, label=["zero", "two"]) == ids[:3]
    assert sample_ids(api, jid, label="nobody") == []
    # name: a substring of the file name
    name = all_["items"][4]["name"]
    assert sample_ids(api, jid, name=name[1:-4].upper()) == [ids[4]]
    assert sample_ids(api, jid, labeled_by="local") == ids[:3]
    assert sample_ids(api, jid, labeled_by="someone-else") == []
    assert sample_ids(api, jid, status="labeled", label="two") == [ids[2]]
    err(api.get("/jobs/999999999/samples"), 404)


def test_samples_paging(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    p2 = page(api, jid, page=2, page_size=4)
    assert (p2["page"], p2["pages"], p2["total"]) == (2, 2, 6) and [s["id"] for s in p2["items"]] == ids[4:]
    beyond = page(api, jid, page=99, page_size=4)
    assert beyond["page"] == 2 and [s["id"] for s in beyond["items"]] == ids[4:], "a page beyond the end clamps"
    empty = page(api, jid, label="nobody", page=3)
    assert (empty["page"], empty["pages"], empty["items"]) == (1, 1, [])
    err(api.get(f"/jobs/{jid}/samples", params={"page_size": 0}), 400, "page_size")
    err(api.get(f"/jobs/{jid}/samples", params={"page_size": 501}), 400, "page_size")
    err(api.get(f"/jobs/{jid}/samples", params={"page": 0}), 400, "page")
    err(api.get(f"/jobs/{jid}/samples", params={"page": "x"}), 400, "page")
    err(api.get(f"/jobs/{jid}/samples?page=1&page=2"), 400, "once")


def test_hard_examples(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    assert ok(api.post(f"/jobs/{jid}/samples/hard", json={"sample_ids": ids[4:], "coefficient": 0.8,
                                                           "reason": "blurry"})) == {"samples_changed": 2}
    assert sample_ids(api, jid, hard="true") == ids[4:]
    assert sample_ids(api, jid, hard="false") == ids[:4]
    s = ok(api.get(f"/jobs/{jid}/samples/{ids[5]}"))
    assert s["hard"] is True and s["hard_coefficient"] == 0.8 and s["hard_reason"] == "blurry"
    assert [x["id"] for x in page(api, jid, hard_first="true")["items"][:2]] == ids[4:]
    err(api.post(f"/jobs/{jid}/samples/hard", json={"sample_ids": ids[:1], "coefficient": 2}), 400, "coefficient")
    err(api.post(f"/jobs/{jid}/samples/hard", json={"sample_ids": []}), 400, "sample_ids")
    assert ok(api.post(f"/jobs/{jid}/samples/hard", json={"sample_ids": ids[4:5], "hard": False})) == {
        "samples_changed": 1}
    assert sample_ids(api, jid, hard="true") == ids[5:]


def test_one_sample(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    s = ok(api.get(f"/jobs/{jid}/samples/{ids[2]}"))
    assert s["id"] == ids[2] and s["labels"] == ["one", "two"] and s["status"] == "labeled"
    assert s["labeled_by"] == "local" and s["labeled_at"] and s["meta"]["width"] == 8
    err(api.get(f"/jobs/{jid}/samples/999999999"), 404, "not in this job")
    other = make_job(api)
    err(api.get(f"/jobs/{other['id']}/samples/{ids[0]}"), 404, "not in this job")
    err(api.get(f"/jobs/{jid}/samples/-1"), 404)


def test_put_annotation(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    url = f"/jobs/{jid}/samples/{ids[3]}/annotation"
    s = ok(api.put(url, json={"annotation": {"labels": ["two", "one", "two"]}}))
    assert s["labels"] == ["two", "one"] and s["status"] == "labeled" and s["labeled_by"] == "local"
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[3]}"))["annotation"] == {"labels": ["two", "one"]}
    err(api.put(url, json={"annotation": {"labels": ["seven"]}}), 400, "seven")
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[3]}"))["labels"] == ["two", "one"], "a refusal changes nothing"
    err(api.put(url, json={"annotation": {"labels": "two"}}), 400)
    err(api.put(url, json={"labels": ["two"]}), 400, "annotation")
    err(api.put(f"/jobs/{jid}/samples/999999999/annotation", json={"annotation": {"labels": []}}), 404)
    s = ok(api.put(url, json={"annotation": {"labels": []}}))
    assert s["status"] == "unlabeled" and s["labels"] == [] and s["labeled_by"] is None
    assert ids[3] in sample_ids(api, jid, status="unlabeled")


def test_delete_annotation(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    r = api.delete(f"/jobs/{jid}/samples/{ids[0]}/annotation")
    assert r.status_code == 204
    s = ok(api.get(f"/jobs/{jid}/samples/{ids[0]}"))
    assert s["status"] == "unlabeled" and s["labels"] == [] and s["annotation"] is None
    assert ok(api.get(f"/jobs/{jid}/stats"))["labels"]["zero"] == 1
    err(api.delete(f"/jobs/{jid}/samples/999999999/annotation"), 404)
    err(api.delete(f"/jobs/999999999/samples/{ids[0]}/annotation"), 404)


def test_bulk_labels_add_and_remove(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    assert label(api, jid, ids[3:], ["two", "fresh"]) == 3
    assert "fresh" in [lab["name"] for lab in ok(api.get(f"/jobs/{jid}/labels"))["labels"]], \
        "a typed new label joins the set"
    assert sample_ids(api, jid, label="fresh") == ids[3:]
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[3]}"))["labels"] == ["two", "fresh"]
    out = ok(api.post(f"/jobs/{jid}/samples/labels/remove", json={"sample_ids": ids[2:], "labels": ["two"]}))
    assert out == {"samples_changed": 4}
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[2]}"))["labels"] == ["one"]
    assert ok(api.get(f"/jobs/{jid}/samples/{ids[3]}"))["labels"] == ["fresh"]
    out = ok(api.post(f"/jobs/{jid}/samples/labels/remove", json={"sample_ids": ids[3:], "labels": ["fresh"]}))
    assert out == {"samples_changed": 3}
    assert sample_ids(api, jid, status="unlabeled") == ids[3:], "no labels left: back to unlabeled"
    # removing a label no selected sample has changes nothing (and is no error)
    assert ok(api.post(f"/jobs/{jid}/samples/labels/remove",
                       json={"sample_ids": ids[3:], "labels": ["zero"]})) == {"samples_changed": 0}
    err(api.post(f"/jobs/{jid}/samples/labels", json={"sample_ids": [999999999], "labels": ["zero"]}), 404)
    err(api.post(f"/jobs/{jid}/samples/labels", json={"sample_ids": ids[:1], "labels": ["a b"]}), 400)
    err(api.post(f"/jobs/{jid}/samples/labels", json={"sample_ids": [], "labels": ["zero"]}), 400, "sample_ids")
    err(api.post(f"/jobs/{jid}/samples/labels", json={"sample_ids": ["1"], "labels": ["zero"]}), 400)
    err(api.post(f"/jobs/{jid}/samples/labels", json={"sample_ids": [2**63], "labels": ["zero"]}), 400)
    assert ok(api.get(f"/jobs/{jid}/stats"))["labels"] == {"zero": 2, "one": 1, "two": 0, "fresh": 0}


def test_delete_samples(api, labeled_job):
    jid, ids = labeled_job["id"], labeled_job["ids"]
    out = ok(api.post(f"/jobs/{jid}/samples/delete", json={"sample_ids": [ids[5], 999999999]}))
    assert out == {"removed": 1, "files_deleted": 0, "errors": []}
    err(api.get(f"/jobs/{jid}/samples/{ids[5]}"), 404)
    assert page(api, jid)["total"] == 5
    err(api.post(f"/jobs/{jid}/samples/delete", json={"sample_ids": []}), 400)
    err(api.post("/jobs/999999999/samples/delete", json={"sample_ids": ids[:1]}), 404)


def test_delete_samples_with_their_source_files(api, digits, tmp_path):
    files = copy_images(digits, tmp_path / "copies", 3)
    job = make_job(api, tmp_path / "copies")
    by_name = {s["name"]: s["id"] for s in page(api, job["id"])["items"]}
    out = ok(api.post(f"/jobs/{job['id']}/samples/delete",
                      json={"sample_ids": [by_name[files[0].name]], "delete_source": True}))
    assert out == {"removed": 1, "files_deleted": 1, "errors": []}
    assert not files[0].exists() and files[1].exists() and files[2].exists()
    assert sorted(s["name"] for s in page(api, job["id"])["items"]) == sorted(p.name for p in files[1:])
    err(api.get(f"/samples/{by_name[files[0].name]}/file"), 404)


# -- data in: imports, references, synchronize -----------------------------------------------

def test_import_a_folder_and_the_history(api, digits, tmp_path):
    job = make_job(api)
    copy_images(digits, tmp_path / "more", 4, start=10)
    rec = ok(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path / "more")}), 201)
    assert (rec["status"], rec["found"], rec["imported"], rec["labeled"]) == ("succeeded", 4, 4, 0)
    assert rec["mode"] == "local folder" and rec["errors"] == []
    assert page(api, job["id"])["total"] == 4
    again = ok(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path / "more")}), 201)
    assert again["imported"] == 4 and page(api, job["id"])["total"] == 4, "files already there are not doubled"
    history = ok(api.get(f"/jobs/{job['id']}/imports"))
    assert [h["id"] for h in history] == [again["id"], rec["id"]], "newest first"
    assert history[1]["path"] == str(tmp_path / "more") and history[1]["finished_at"]
    err(api.get("/jobs/999999999/imports"), 404)


def test_import_manifest(api, digits, tmp_path):
    job = make_job(api)
    files = copy_images(digits, tmp_path / "m", 3)
    truth = digit_labels(digits)
    lines = [{"source": str(files[0]), "annotation": [{"type": "modelarts/image_classification",
                                                       "name": "zero"}]},
             {"source": files[1].name, "annotation": [{"name": "d" + truth[files[1].name]}]},
             {"source": files[2].name}]
    manifest = tmp_path / "m" / "import.manifest"
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    rec = ok(api.post(f"/jobs/{job['id']}/imports", json={"path": str(manifest), "format": "manifest"}), 201)
    assert (rec["status"], rec["imported"], rec["labeled"], rec["format"]) == ("succeeded", 3, 2, "manifest")
    assert sorted(sample_ids(api, job["id"], label="zero") + sample_ids(api, job["id"], label="d1")) == \
        sorted(sample_ids(api, job["id"], status="labeled"))
    assert "d1" in [lab["name"] for lab in ok(api.get(f"/jobs/{job['id']}/labels"))["labels"]], \
        "labels the file uses join the set"


def test_import_csv(api, digits, tmp_path):
    job = make_job(api)
    files = copy_images(digits, tmp_path / "c" / "images", 4)
    truth = digit_labels(digits)
    table = tmp_path / "c" / "labels.csv"
    table.write_text("file,label\n" + "".join(f"images/{p.name},d{truth[p.name]}\n" for p in files[:3])
                     + f"images/{files[3].name},\n")
    rec = ok(api.post(f"/jobs/{job['id']}/imports", json={"path": str(table), "format": "csv"}), 201)
    assert (rec["imported"], rec["labeled"]) == (4, 3)
    got = {s["name"]: s["labels"] for s in page(api, job["id"])["items"]}
    assert got == {p.name: ([f"d{truth[p.name]}"] if i < 3 else []) for i, p in enumerate(files)}


def test_import_imagefolder(api, digits, tmp_path):
    job = make_job(api)
    copy_images(digits, tmp_path / "sorted" / "zero", 2, start=0)
    copy_images(digits, tmp_path / "sorted" / "one", 1, start=1)
    rec = ok(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path / "sorted"),
                                                          "format": "imagefolder"}), 201)
    assert (rec["imported"], rec["labeled"]) == (3, 3)
    stats = ok(api.get(f"/jobs/{job['id']}/stats"))
    assert stats["labels"]["zero"] == 2 and stats["labels"]["one"] == 1 and stats["labeled"] == 3


def test_import_refusals(api, tmp_path):
    job = make_job(api)
    err(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path), "format": "parquet-x"}), 400, "format")
    msg = err(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path / "absent")}), 404)
    assert "absent" in msg
    err(api.post(f"/jobs/{job['id']}/imports", json={"path": str(tmp_path / "absent.manifest"),
                                                     "format": "manifest"}), 404, "not found")
    err(api.post(f"/jobs/{job['id']}/imports", json={"path": "  "}), 400)
    err(api.post(f"/jobs/{job['id']}/imports", json={"path": "/tmp/a\u0000b"}), 400, "NUL")
    err(api.post(f"/jobs/{job['id']}/imports", json={}), 400, "path")
    err(api.post("/jobs/999999999/imports", json={"path": str(tmp_path)}), 404)
    assert page(api, job["id"])["total"] == 0
    failed = ok(api.get(f"/jobs/{job['id']}/imports"))
    assert failed and all(h["status"] == "failed" and h["errors"] for h in failed), "failures are recorded"


def test_add_samples_by_reference(api, digits, tmp_path):
    job = make_job(api)
    good = copy_images(digits, tmp_path / "refs", 3)
    fake = tmp_path / "refs" / "not-an-image.png"
    fake.write_text("hello")
    rec = ok(api.post(f"/jobs/{job['id']}/samples", json={"samples": [
        {"source": str(good[0]), "labels": ["zero"]}, {"source": str(good[1])}, {"source": str(fake)}]}), 201)
    assert (rec["imported"], rec["labeled"], rec["status"]) == (2, 1, "partial")
    assert len(rec["errors"]) == 1 and "not-an-image.png" in rec["errors"][0]
    assert sorted(s["name"] for s in page(api, job["id"])["items"]) == sorted([good[0].name, good[1].name])
    # verify_files false: registered as they are (a trusted listing), checked when first shown
    rec = ok(api.post(f"/jobs/{job['id']}/samples", json={"verify_files": False, "samples": [
        {"source": str(good[2]), "labels": ["one"]}, {"source": str(fake)},
        {"source": str(tmp_path / "refs" / "missing.png")}]}), 201)
    assert (rec["imported"], rec["labeled"], rec["status"]) == (3, 1, "succeeded")
    assert page(api, job["id"])["total"] == 5
    assert sample_ids(api, job["id"], label="one") == sample_ids(api, job["id"], name=good[2].name)
    err(api.post(f"/jobs/{job['id']}/samples", json={"samples": [{"source": "relative/x.png"}]}), 400, "relative")
    err(api.post(f"/jobs/{job['id']}/samples", json={"samples": []}), 400, "samples")
    err(api.post(f"/jobs/{job['id']}/samples", json={"samples": [{"source": str(good[0]), "labels": ["a b"]}]}),
        400)
    err(api.post("/jobs/999999999/samples", json={"samples": [{"source": str(good[0])}]}), 404)


def test_sync_picks_up_new_files(api, digits, tmp_path):
    folder = tmp_path / "growing"
    copy_images(digits, folder, 2)
    job = make_job(api, folder)
    assert job["counts"]["total"] == 2
    copy_images(digits, folder, 3, start=2)
    rec = ok(api.post(f"/jobs/{job['id']}/sync"))
    assert (rec["mode"], rec["found"], rec["imported"]) == ("synchronize", 5, 3)
    assert ok(api.post(f"/jobs/{job['id']}/sync"))["imported"] == 0, "running it twice adds nothing"
    assert page(api, job["id"])["total"] == 5
    err(api.post("/jobs/999999999/sync"), 404)


# -- data out: exports, downloads, files ---------------------------------------------------------

def test_export_to_a_server_path(api, labeled_job, tmp_path):
    jid = labeled_job["id"]
    out = tmp_path / "out" / "job.manifest"
    res = ok(api.post(f"/jobs/{jid}/exports", json={"format": "manifest", "out": str(out)}))
    assert res == {"format": "manifest", "path": str(out), "samples": 6}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 6 and sum(1 for r in rows if r.get("annotation")) == 3
    folder = tmp_path / "out" / "classes"
    res = ok(api.post(f"/jobs/{jid}/exports", json={"format": "imagefolder", "out": str(folder)}))
    assert res["samples"] == 3
    assert sorted(p.name for p in folder.iterdir()) == ["one", "two", "zero"]
    assert len(list((folder / "zero").iterdir())) == 2
    err(api.post(f"/jobs/{jid}/exports", json={"format": "imagefolder", "out": str(folder)}), 400, "not empty")
    err(api.post(f"/jobs/{jid}/exports", json={"format": "nope", "out": str(tmp_path / "x")}), 400, "format")
    err(api.post(f"/jobs/{jid}/exports", json={"format": "manifest"}), 400, "out")
    err(api.post("/jobs/999999999/exports", json={"format": "manifest", "out": str(tmp_path / "y")}), 404)


def test_download_exports(api, labeled_job):
    jid = labeled_job["id"]
    r = api.get(f"/jobs/{jid}/export", params={"format": "manifest"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    assert f"job-{jid}.manifest" in r.headers["content-disposition"]
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == 6 and {a["name"] for x in rows for a in x.get("annotation", [])} == {"zero", "one", "two"}
    r = api.get(f"/jobs/{jid}/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert len(list(csv.reader(io.StringIO(r.text)))) == 1 + 6 + 1, "header, a row per label, unlabeled rows"
    r = api.get(f"/jobs/{jid}/export", params={"format": "imagefolder"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    files = [n for n in names if not n.endswith("/")]
    assert len(files) == 4 and {n.split("/")[0] for n in files} == {"zero", "one", "two"}
    err(api.get(f"/jobs/{jid}/export", params={"format": "nope"}), 400, "format")
    err(api.get(f"/jobs/{jid}/export"), 400, "format")
    err(api.get("/jobs/999999999/export", params={"format": "manifest"}), 404)


def test_sample_file(api, labeled_job, tmp_path):
    s = page(api, labeled_job["id"])["items"][0]
    r = api.get(f"/samples/{s['id']}/file")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == Path(s["uri"]).read_bytes()
    assert s["file_url"].endswith(f"/samples/{s['id']}/file")
    err(api.get("/samples/999999999/file"), 404)
    err(api.get("/samples/abc/file"), 400)


# -- the API as a whole ---------------------------------------------------------------------------

def test_unknown_paths_and_methods_answer_json_errors(api, server):
    err(api.get("/no/such/endpoint"), 404)
    err(api.get("/jobs/1/labels/a%0Ab/x"), 404)
    r = api.put("/jobs")
    err(r, 405)
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_openapi_declares_the_error_responses(api):
    spec = ok(api.get("/openapi.json"))
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert "422" not in codes, f"{method} {path}: validation errors are 400 here"
            assert {"400", "404"} <= codes, f"{method} {path} declares {codes}"
    assert "409" in spec["paths"]["/jobs"]["post"]["responses"]
    assert spec["components"]["schemas"]["ErrorOut"]["required"] == ["error"]
    assert api.get("/docs").status_code == 200


# -- the README's Python example ----------------------------------------------------------------

def readme_python_example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use from Python", 1)
    assert len(section) == 2, "README.md has a '## Use from Python' section"
    return re.search(r"```python\n(.*?)```", section[1], re.S).group(1)


def test_readme_python_example_runs(api, server, digits, tmp_path, capsys):
    code = readme_python_example()
    assert "http://127.0.0.1:7860/api/v1" in code and '"/data/digits"' in code
    copy_images(digits, tmp_path / "digits", 5)
    code = code.replace("http://127.0.0.1:7860", server.url).replace('"/data/digits"', repr(str(tmp_path / "digits")))
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out
    job = next(j for j in ok(api.get("/jobs", params={"search": "digits"})) if j["name"] == "digits")
    stats = ok(api.get(f"/jobs/{job['id']}/stats"))
    assert (stats["total"], stats["labeled"]) == (5, 1) and stats["labels"]["zero"] == 1
    assert "'labeled': 1" in printed


def test_an_app_started_without_the_web_ui_serves_the_api_only(server):
    """`python app.py --no-ui` (this module's server): the API answers, pages say the UI is off."""
    r = httpx.get(server.url + "/", headers={"Accept": "text/html"}, timeout=30)
    assert r.status_code == 404 and "--no-ui" in r.text
    assert httpx.get(server.url + "/healthz", timeout=30).json()["ui"] == "off"
    assert httpx.get(server.url + "/api/v1/jobs", timeout=30).status_code == 200
