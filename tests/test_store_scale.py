"""Paging and filters of big jobs: the paths query_samples takes for deep pages and file-name filters
(counts per range of sample ids, a samples-only count when the job holds its whole dataset) give the
rows a plain sort would; and the scale benchmark runs. No timings are asserted here."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from store import datasets, jobs
from store.annotations import apply_labels
from store.imports import write_annotations_bulk
from store.labelset import Label, LabelSet
from store.samples import SampleQuery, delete_samples, get_sample, query_samples
from store.types import Annotation

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["cat", "dog", "bird", "fish"]
NAMES = ["IMG_{i}.JPG", "cats/Kitten-{i}.png", "写真/猫_{i}.png", "Café/crème_{i}.jpeg", "a%b_{i}.jpg"]


def _register(store, job, paths):
    table = pa.table({"uri": [f"s3://bucket/{job.id}/{p}" for p in paths], "path": paths,
                      "size": pa.array([1] * len(paths), pa.int64())})
    ids = datasets.register_samples(store, job.dataset_id, table)
    with store.db.transaction() as cur:
        jobs._add_to_jobs(cur, job.dataset_id, list(ids.values()), job.id)
    return [ids[f"s3://bucket/{job.id}/{p}"] for p in paths]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Two jobs registered in turns (so each job's sample ids have gaps), 12,000 samples in the
    first, a third of them labeled by two labelers; rows kept for a reference in Python."""
    import store as store_pkg

    st = store_pkg.open_store(store_pkg.Settings(data_dir=tmp_path_factory.mktemp("scale") / "data", demo=False))
    rng = random.Random(7)
    label_set = LabelSet(labels=[Label(n) for n in LABELS])
    a = jobs.create_job(st, "big-a", "image_classification", label_set=label_set)
    b = jobs.create_job(st, "big-b", "image_classification", label_set=label_set)
    rows = {}
    for chunk in range(6):
        paths = [NAMES[i % len(NAMES)].format(i=f"{chunk}-{i}") for i in range(2000)]
        for sid, path in zip(_register(st, a, paths), paths):
            rows[sid] = {"path": path, "status": "unlabeled", "labels": [], "by": None}
        _register(st, b, [f"other/{chunk}-{i}.png" for i in range(1500)])
    chosen = rng.sample(sorted(rows), 4000)
    with st.db.transaction() as cur:
        for k, actor in enumerate(("alice", "bob")):
            status = "labeled" if k == 0 else "to_be_confirmed"
            batch = []
            for sid in chosen[k::2]:
                names = rng.sample(LABELS, rng.randint(1, 2))
                batch.append((sid, Annotation({"labels": names}, names)))
                rows[sid].update(status=status, labels=names, by=actor)
            write_annotations_bulk(cur, a.id, batch, actor, status=status)
    yield st, a, rows
    st.close()


def _expected(rows, q: SampleQuery) -> list[int]:
    out = []
    for sid in sorted(rows):
        r = rows[sid]
        if q.status != "all" and r["status"] != q.status:
            continue
        if q.labels and not set(q.labels) & set(r["labels"]):
            continue
        if q.labeled_by and r["by"] != q.labeled_by:
            continue
        if q.name and q.name.strip().lower() not in r["path"].lower():
            continue
        out.append(sid)
    return out


QUERIES = [SampleQuery(), SampleQuery(status="unlabeled"), SampleQuery(status="labeled"),
           SampleQuery(status="to_be_confirmed"), SampleQuery(labels=("cat",)), SampleQuery(labels=("dog", "fish")),
           SampleQuery(name="kitten"), SampleQuery(name="KITTEN"), SampleQuery(name="猫_"), SampleQuery(name="CAFÉ"),
           SampleQuery(name="%b_"), SampleQuery(name="zzz"), SampleQuery(labeled_by="bob"),
           SampleQuery(status="labeled", labels=("bird",), name="img")]


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: repr(q)[:60])
def test_every_page_matches_a_plain_sort(big, q):
    st, job, rows = big
    want = _expected(rows, q)
    for size in (50, 7, 500):
        pages = max(1, -(-len(want) // size))
        for page in sorted({1, 2, pages // 3, pages // 2, pages - 1, pages, pages + 5, 10**6} - {0}):
            got = query_samples(st, job.id, SampleQuery(**{**q.__dict__, "page": page, "page_size": size}))
            start = (min(page, pages) - 1) * size
            assert (got.total, got.page) == (len(want), min(page, pages))
            assert [s.id for s in got.items] == want[start:start + size], (page, size)


def test_name_filter_when_the_job_lacks_some_samples_of_its_dataset(big, tmp_path):
    st, job, rows = big
    copy = jobs.copy_job(st, job.id, name="big-a-part")
    gone = [sid for sid in sorted(rows) if "Kitten" in rows[sid]["path"]][::3]
    delete_samples(st, copy.id, gone)
    want = [sid for sid in sorted(rows) if "kitten" in rows[sid]["path"].lower() and sid not in set(gone)]
    last = query_samples(st, copy.id, SampleQuery(name="kitten", page=10**6, page_size=50))
    assert last.total == len(want)
    assert [s.id for s in last.items] == want[(last.pages - 1) * 50:]


def test_name_filter_reads_the_path_when_path_lower_is_missing(big):
    st, job, rows = big
    sid = next(s for s in sorted(rows) if rows[s]["path"].startswith("Café"))
    st.db.fetchall("UPDATE samples SET path_lower = NULL WHERE id = ?", [sid])
    try:
        assert sid in [s.id for s in query_samples(st, job.id, SampleQuery(name="café/CRÈME", page_size=500)).items]
    finally:
        st.db.fetchall("UPDATE samples SET path_lower = lower(path) WHERE id = ?", [sid])


def test_labels_of_a_sample_in_two_jobs_change_in_one(big):
    st, job, rows = big
    copy = jobs.copy_job(st, job.id, name="big-a-copy")
    sid = next(s for s in sorted(rows) if rows[s]["status"] == "unlabeled")
    apply_labels(st, copy.id, [sid], ["fish"])
    assert get_sample(st, copy.id, sid).labels == ["fish"]
    assert get_sample(st, job.id, sid).labels == [] and get_sample(st, job.id, sid).status == "unlabeled"
    apply_labels(st, job.id, [sid], ["cat"])
    assert get_sample(st, job.id, sid).labels == ["cat"] and get_sample(st, copy.id, sid).labels == ["fish"]
    jobs.delete_job(st, copy.id)


def test_scale_benchmark_runs_small(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import store_scale
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "bench.json"
    assert store_scale.main(["--samples", "3000", "--repeat", "2", "--saves", "5", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    for key in ("register_per_s", "page_p95_ms", "save_p95_ms", "counts_ms", "job_list_ms", "rss_mb", "views"):
        assert key in result
    assert result["samples"] == 3000
    assert {v["items"] for v in result["views"].values()} <= set(range(51)) and len(result["views"]) == 24
