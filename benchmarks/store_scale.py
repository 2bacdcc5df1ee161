#!/usr/bin/env python3
"""How the store behaves with a big job: one image-classification job of N samples.

    python benchmarks/store_scale.py --samples 1000000 --json OUT.json

Builds a store in a temporary folder (a real DuckDB file, local object storage), registers N
samples from a listing (an Arrow table uri/path/size), attaches them to one job, labels 30% of
them over 20 labels (plus 2% to be confirmed) and then times, server side, through store/
functions only:

- register_per_s: samples per second for register_samples + attaching them to the job;
- page views of 50 on every tab and filter at the first, middle and last page (p50/p95 ms);
- saving one label with apply_labels on random samples (p50/p95 ms), each save keeping its
  version in the annotation history (store/history.py): the history's rows and KB per 1,000 saves;
- saving a whole annotation with the version the page read (If-Match; p50/p95 ms);
- label counts / counts (ms);
- the job list with progress for 100 jobs (ms);
- the peak RSS of the process (MB).

Targets at 1,000,000 samples on 2 cores: page_p95_ms < 50, save_p95_ms < 20,
register_per_s > 20000, rss_mb < 1500. This is a benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

import store  # noqa: E402
from store import annotations, datasets, imports, jobs, samples  # noqa: E402
from store.labelset import Label, LabelSet  # noqa: E402
from store.samples import SampleQuery  # noqa: E402
from store.types import Annotation  # noqa: E402

LABELS = [f"label_{i:02d}" for i in range(20)]
LABELERS = ["alice", "bob", "chen", "dörte"]
LABELED_SHARE = 0.30
TBC_SHARE = 0.02  # pre-labels waiting for confirmation, so the To Be Confirmed tab has pages
PAGE_SIZE = 50


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): of 20 timings, p95 is the 19th."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    try:
        import psutil

        peak = max(peak, psutil.Process().memory_info().rss // 1024)
    except ImportError:
        pass
    return round(peak / 1024, 1)


def make_paths(n: int, rng: random.Random) -> list[str]:
    """N distinct, realistic file names: camera dumps, named folders, a share of unicode."""
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 4:
            month, day = 1 + i % 12, 1 + (i // 12) % 28
            out.append(f"batch_{i // 5000:03d}/IMG_2024{month:02d}{day:02d}_{i:07d}.jpg")
        elif kind == 4:
            out.append(f"cats/kitten-{i:07d}.png")
        elif kind == 5:
            out.append(f"dogs/Puppy_{i:07d}.JPEG")
        elif kind == 6:
            out.append(f"scans/{rng.choice(['front', 'back', 'side'])}/scan {i:07d} (copy).webp")
        elif kind == 7:
            out.append(f"写真/猫_{i:07d}.png")
        elif kind == 8:
            out.append(f"фото/снимок-{i:07d}.jpg")
        else:
            out.append(f"café/crème brûlée/{i:07d}_é.jpeg")
    return out


def listing_table(paths: list[str], rng: random.Random) -> pa.Table:
    return pa.table({
        "uri": pa.array(["s3://bench-bucket/data/" + p for p in paths], pa.string()),
        "path": pa.array(paths, pa.string()),
        "size": pa.array([rng.randint(20_000, 4_000_000) for _ in paths], pa.int64()),
    })


def attach(st, dataset_id: int, job_id: int, sample_ids: list[int]) -> None:
    with st.db.transaction() as cur:
        jobs._add_to_jobs(cur, dataset_id, sample_ids, job_id)


def time_views(st, job_id: int, repeat: int, rng: random.Random) -> dict[str, dict]:
    views = {
        "tab:all": SampleQuery(),
        "tab:unlabeled": SampleQuery(status="unlabeled"),
        "tab:labeled": SampleQuery(status="labeled"),
        "tab:to_be_confirmed": SampleQuery(status="to_be_confirmed"),
        "filter:label": SampleQuery(labels=(LABELS[7],)),
        "filter:name": SampleQuery(name="kitten"),
        "filter:name_unicode": SampleQuery(name="猫_"),
        "filter:labeled_by": SampleQuery(labeled_by="bob"),
    }
    out: dict[str, dict] = {}
    for view, q in views.items():
        first = samples.query_samples(st, job_id, q)
        pages = {"first": 1, "middle": max(1, (first.pages + 1) // 2), "last": first.pages}
        for where, page in pages.items():
            pq = SampleQuery(**{**q.__dict__, "page": page, "page_size": PAGE_SIZE})
            times, cpu = [], []
            for _ in range(repeat):
                t, c = time.perf_counter(), time.process_time()
                result = samples.query_samples(st, job_id, pq)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            out[f"{view}@{where}"] = {"page": page, "pages": first.pages, "total": first.total,
                                      "items": len(result.items), "p50_ms": ms(statistics.median(times)),
                                      "p95_ms": ms(percentile(times, 95)),
                                      # CPU of this process (all threads): what other load cannot inflate
                                      "cpu_p50_ms": ms(statistics.median(cpu))}
    return out


def run(n: int, repeat: int, saves: int, data_dir: Path) -> dict:
    rng = random.Random(20240312)
    load_start = os.getloadavg()[0]
    settings = store.Settings(data_dir=data_dir, demo=False)
    st = store.open_store(settings)
    label_set = LabelSet(labels=[Label(name) for name in LABELS])
    print(f"store at {data_dir}, {n:,} samples")

    t = time.perf_counter()
    paths = make_paths(n, rng)
    table = listing_table(paths, rng)
    del paths
    print(f"listing built in {time.perf_counter() - t:.1f} s (not timed)")
    rss_by_phase = {"listing": peak_rss_mb()}  # peak so far, after each phase

    # -- registering: register_samples + attaching to the job --------------------------------
    job = jobs.create_job(st, "scale", "image_classification", label_set=label_set)
    t = time.perf_counter()
    ids = datasets.register_samples(st, job.dataset_id, table)
    t_reg = time.perf_counter() - t
    sample_ids = list(ids.values())
    t1 = time.perf_counter()
    attach(st, job.dataset_id, job.id, sample_ids)
    t_attach = time.perf_counter() - t1
    register_s = time.perf_counter() - t
    del table, ids
    register_per_s = round(n / register_s)
    print(f"registered {n:,} samples in {t_reg:.2f} s + attached in {t_attach:.2f} s: {register_per_s:,}/s")
    rss_by_phase["register"] = peak_rss_mb()

    # -- labeling 30% in bulk (setup, not a metric) ---------------------------------------------
    sample_ids.sort()
    chosen = rng.sample(sample_ids, int(n * (LABELED_SHARE + TBC_SHARE)))
    n_labeled = int(n * LABELED_SHARE)
    t = time.perf_counter()
    by_actor: dict[tuple[str, str], list] = {}
    for i, sid in enumerate(chosen):
        names = rng.sample(LABELS, 1 if rng.random() < 0.7 else 2)
        status = "labeled" if i < n_labeled else "to_be_confirmed"
        by_actor.setdefault((LABELERS[i % len(LABELERS)], status), []).append(
            (sid, Annotation({"labels": names}, names)))
    with st.db.transaction() as cur:
        for (actor, status), rows in by_actor.items():
            imports.write_annotations_bulk(cur, job.id, rows, actor, status=status)
    label_setup_s = time.perf_counter() - t
    del by_actor, chosen
    print(f"labeled {n_labeled:,} (+{int(n * TBC_SHARE):,} to be confirmed) in {label_setup_s:.2f} s (setup)")
    rss_by_phase["label"] = peak_rss_mb()

    # -- views ------------------------------------------------------------------------------
    views = time_views(st, job.id, repeat, rng)
    rss_by_phase["views"] = peak_rss_mb()

    # -- saving one label (each save keeps a history row: store/history.py) ---------------------
    from store.history import history_size

    hist_before = history_size(st)
    save_times = []
    for _ in range(saves):
        sid = rng.choice(sample_ids)
        label = rng.choice(LABELS)
        t = time.perf_counter()
        annotations.apply_labels(st, job.id, [sid], [label], actor="alice")
        save_times.append(time.perf_counter() - t)
    hist_after = history_size(st)
    # -- saving a whole annotation with the version read (If-Match on the API) -----------------
    versioned = []
    for _ in range(saves):
        sid = rng.choice(sample_ids)
        version = samples.get_sample(st, job.id, sid).version  # what the page opened (untimed)
        t = time.perf_counter()
        annotations.set_annotation(st, job.id, sid, {"labels": [rng.choice(LABELS)]}, actor="alice",
                                   expected_version=version)
        versioned.append(time.perf_counter() - t)

    # -- counts ---------------------------------------------------------------------------------
    lc, ct = [], []
    for _ in range(max(3, repeat // 2)):
        t = time.perf_counter()
        samples.label_counts(st, job.id)
        lc.append(time.perf_counter() - t)
        t = time.perf_counter()
        samples.counts(st, job.id)
        ct.append(time.perf_counter() - t)

    # -- job list with 100 jobs ---------------------------------------------------------------
    t = time.perf_counter()
    for k in range(99):
        small = jobs.create_job(st, f"small-{k:02d}", "image_classification", label_set=label_set)
        small_paths = [f"small/{k:02d}/img_{j}.jpg" for j in range(5)]
        small_ids = datasets.register_samples(st, small.dataset_id, listing_table(small_paths, rng))
        attach(st, small.dataset_id, small.id, list(small_ids.values()))
    jobs_setup_s = time.perf_counter() - t
    rss_by_phase["saves_counts_jobs"] = peak_rss_mb()
    jl = []
    for _ in range(max(3, repeat // 2)):
        t = time.perf_counter()
        listed = jobs.list_jobs(st)
        jl.append(time.perf_counter() - t)
    assert len(listed) == 100

    result = {
        "samples": n,
        "register_per_s": register_per_s,
        "page_p95_ms": max(v["p95_ms"] for v in views.values()),
        "save_p50_ms": ms(statistics.median(save_times)),
        "save_p95_ms": ms(percentile(save_times, 95)),
        "save_if_match_p50_ms": ms(statistics.median(versioned)),
        "save_if_match_p95_ms": ms(percentile(versioned, 95)),
        # what the history keeps: rows and (roughly) bytes per 1,000 single-label saves
        "history_rows_per_1000_saves": round((hist_after["rows"] - hist_before["rows"]) * 1000 / max(1, saves)),
        "history_kb_per_1000_saves": round((hist_after["bytes"] - hist_before["bytes"]) * 1000 / max(1, saves) / 1024, 1),
        "history_rows_total": history_size(st)["rows"],
        "label_counts_ms": ms(statistics.median(lc)),
        "counts_ms": ms(statistics.median(ct)),
        "job_list_ms": ms(statistics.median(jl)),
        "rss_mb": peak_rss_mb(),
        "setup": {"register_s": round(t_reg, 2), "attach_s": round(t_attach, 2),
                  "label_bulk_s": round(label_setup_s, 2), "small_jobs_s": round(jobs_setup_s, 2),
                  "db_file_mb": round(settings.database.stat().st_size / 2**20, 1),
                  "cpus": os.cpu_count(), "peak_rss_mb_after": rss_by_phase,
                  # other processes on the machine inflate wall times: the 1-minute load average
                  "load_avg": [round(load_start, 2), round(os.getloadavg()[0], 2)]},
        "views": views,
    }
    st.close()
    return result


def print_table(r: dict) -> None:
    print()
    print(f"{'view':32} {'page':>7} {'total':>9} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8}")
    for name, v in r["views"].items():
        print(f"{name:32} {v['page']:>7} {v['total']:>9} {v['p50_ms']:>8.1f} {v['p95_ms']:>8.1f} "
              f"{v['cpu_p50_ms']:>8.1f}")
    print(f"\nload average (1 min) at start / end: {r['setup']['load_avg']} on {r['setup']['cpus']} CPUs")
    print()
    targets = {"register_per_s": ("> 20000", lambda x: x > 20000), "page_p95_ms": ("< 50", lambda x: x < 50),
               "save_p95_ms": ("< 20", lambda x: x < 20), "save_if_match_p95_ms": ("< 20", lambda x: x < 20),
               "rss_mb": ("< 1500", lambda x: x < 1500)}
    for key in ("register_per_s", "page_p95_ms", "save_p50_ms", "save_p95_ms", "save_if_match_p95_ms",
                "history_rows_per_1000_saves", "history_kb_per_1000_saves", "label_counts_ms", "counts_ms",
                "job_list_ms", "rss_mb"):
        target, ok = targets.get(key, ("", None))
        mark = "" if ok is None else ("ok" if ok(r[key]) else "MISSED")
        print(f"{key:28} {r[key]:>12,} {target:>8} {mark}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--repeat", type=int, default=20, help="timings per page view (p95 of 20 = the 19th)")
    ap.add_argument("--saves", type=int, default=200, help="single-label saves to time")
    ap.add_argument("--keep", type=Path, help="build the store in this folder and keep it")
    args = ap.parse_args(argv)
    if args.keep:
        result = run(args.samples, args.repeat, args.saves, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="labelport-bench-") as tmp:
            result = run(args.samples, args.repeat, args.saves, Path(tmp) / "data")
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
