#!/usr/bin/env python3
"""The REST API at scale, over HTTP, against the real app: one image-classification job of N samples.

    python benchmarks/api.py --samples 100000 --json OUT.json

Builds a store in a temporary folder with store/ functions (N samples registered from an Arrow
listing, one job, 20 labels, 30% of the samples labeled), closes it, starts the app
(``python app.py --data-dir ... --port ... --no-demo``) and measures with one keep-alive httpx
client, 20 timed repetitions after 2 warm-ups each:

- page_*: the first, middle and last page of 50 (GET /jobs/{id}/samples);
- filtered: a page filtered by a file-name substring (``name=kitten``, 10% of the samples);
- save: saving one label on one random sample (POST /jobs/{id}/samples/labels);
- overview: the job with its counts (GET /jobs/{id}) and the job list (GET /jobs);
- import_per_s: N references (absolute paths) added to an empty job in one
  POST /jobs/{id}/samples with verify_files false;
- startup_s: from starting the process to the first answered API request;
- ui_ready_s: from starting the process to the web UI mounted (/healthz says "ready"; the UI
  is built after the server listens, server.DeferredUI).

Targets (2 cores): page p50 < 35 ms, filtered < 100 ms, save < 25 ms, overview < 70 ms,
import > 30,000/s, startup < 5 s. Reference, Label Studio 1.23.2 on the same machine at 100k
tasks: page ~175 ms, filtered ~500 ms, save ~110 ms, overview ~350 ms, import ~3,000/s, startup
~42 s. This is a benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pyarrow as pa  # noqa: E402

LABELS = [f"label_{i:02d}" for i in range(20)]
LABELERS = ["alice", "bob", "chen", "dörte"]
LABELED_SHARE = 0.30
PAGE_SIZE = 50
WARMUP, REPEAT = 2, 20
TARGETS = {"page_p50_ms": 35, "filtered_p50_ms": 100, "save_p50_ms": 25, "overview_p50_ms": 70,
           "import_per_s": 30_000, "startup_s": 5}
REFERENCE = {"page_p50_ms": 175, "filtered_p50_ms": 500, "save_p50_ms": 110, "overview_p50_ms": 350,
             "import_per_s": 3_000, "startup_s": 42}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def make_paths(n: int, folder: str = "/srv/bench") -> list[str]:
    """N distinct, realistic file paths under `folder` (the same names as store_scale.py)."""
    from benchmarks.store_scale import make_paths as relative_paths

    return [f"{folder}/{p}" for p in relative_paths(n, random.Random(n))]


def build_store(data_dir: Path, n: int, rng: random.Random) -> dict:
    """The store, built in-process with store/ functions, then closed (one writer process)."""
    import store
    from store import datasets, imports, jobs
    from store.labelset import Label, LabelSet
    from store.types import Annotation

    st = store.open_store(store.Settings(data_dir=data_dir, demo=False))
    try:
        label_set = LabelSet(labels=[Label(name) for name in LABELS])
        job = jobs.create_job(st, "bench", "image_classification", label_set=label_set)
        paths = make_paths(n)
        table = pa.table({"uri": pa.array(paths, pa.string()),
                          "path": pa.array([p.split("/", 3)[-1] for p in paths], pa.string()),
                          "size": pa.array([rng.randint(20_000, 4_000_000) for _ in paths], pa.int64())})
        ids = sorted(datasets.register_samples(st, job.dataset_id, table).values())
        with st.db.transaction() as cur:
            jobs._add_to_jobs(cur, job.dataset_id, ids, job.id)
        by_actor: dict[str, list] = {}
        for i, sid in enumerate(rng.sample(ids, int(n * LABELED_SHARE))):
            names = rng.sample(LABELS, 1 if rng.random() < 0.7 else 2)
            by_actor.setdefault(LABELERS[i % len(LABELERS)], []).append((sid, Annotation({"labels": names}, names)))
        with st.db.transaction() as cur:
            for actor, rows in by_actor.items():
                imports.write_annotations_bulk(cur, job.id, rows, actor)
        target = jobs.create_job(st, "bench-import", "image_classification", label_set=label_set)
        return {"job_id": job.id, "import_job_id": target.id, "sample_ids": ids}
    finally:
        st.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(data_dir: Path, work: Path) -> tuple[subprocess.Popen, str, float, float]:
    """Start the app; returns (process, base URL, seconds to the first answered API request,
    seconds to the web UI ready)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")}
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(work / "gradio"),
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    log = open(work / "server.log", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--data-dir", str(data_dir), "--port", str(port), "--no-demo"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    with httpx.Client(timeout=2) as c:
        while time.perf_counter() - t0 < 180:
            if proc.poll() is not None:
                tail = (work / "server.log").read_text()[-3000:]
                raise RuntimeError(f"the app exited with {proc.returncode}: {tail}")
            try:
                if c.get(base + "/jobs").status_code == 200:
                    api_s = time.perf_counter() - t0
                    health = base.rsplit("/api/v1", 1)[0] + "/healthz"
                    while c.get(health).json().get("ui", "ready") == "starting" and time.perf_counter() - t0 < 180:
                        time.sleep(0.02)
                    return proc, base, api_s, time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("the app did not answer within 180 s")


def timed(client: httpx.Client, method: str, url: str, make_kwargs=None) -> dict:
    """WARMUP + REPEAT requests; p50/p95 in ms of the timed ones."""
    times = []
    for i in range(WARMUP + REPEAT):
        kwargs = make_kwargs() if make_kwargs else {}
        t = time.perf_counter()
        r = client.request(method, url, **kwargs)
        elapsed = time.perf_counter() - t
        r.raise_for_status()
        if i >= WARMUP:
            times.append(elapsed)
    return {"p50_ms": round(statistics.median(times) * 1000, 2), "p95_ms": round(percentile(times, 95) * 1000, 2)}


def measure(base: str, built: dict, n: int, rng: random.Random) -> dict:
    jid = built["job_id"]
    views: dict[str, dict] = {}
    with httpx.Client(base_url=base, timeout=600) as c:
        pages = c.get(f"/jobs/{jid}/samples", params={"page_size": PAGE_SIZE}).json()["pages"]
        for where, page in {"first": 1, "middle": (pages + 1) // 2, "last": pages}.items():
            params = {"page": page, "page_size": PAGE_SIZE}
            views[f"page:{where}"] = {"page": page, **timed(c, "GET", f"/jobs/{jid}/samples",
                                                            lambda p=params: {"params": p})}
        filtered = c.get(f"/jobs/{jid}/samples", params={"name": "kitten", "page_size": PAGE_SIZE}).json()
        assert filtered["total"] == n // 10 + (1 if n % 10 > 5 else 0), filtered["total"]
        views["filtered:name"] = {"total": filtered["total"], **timed(
            c, "GET", f"/jobs/{jid}/samples", lambda: {"params": {"name": "kitten", "page_size": PAGE_SIZE}})}
        views["filtered:name@middle"] = timed(c, "GET", f"/jobs/{jid}/samples", lambda: {
            "params": {"name": "kitten", "page_size": PAGE_SIZE, "page": max(1, filtered["pages"] // 2)}})
        views["save"] = timed(c, "POST", f"/jobs/{jid}/samples/labels", lambda: {"json": {
            "sample_ids": [rng.choice(built["sample_ids"])], "labels": [rng.choice(LABELS)]}})
        views["overview:job"] = timed(c, "GET", f"/jobs/{jid}")
        views["overview:jobs"] = timed(c, "GET", "/jobs")
        views["stats"] = timed(c, "GET", f"/jobs/{jid}/stats")

        refs = [{"source": p} for p in make_paths(n, folder="/srv/imported")]
        body = json.dumps({"samples": refs, "verify_files": False}).encode()
        t = time.perf_counter()
        r = c.post(f"/jobs/{built['import_job_id']}/samples", content=body,
                   headers={"content-type": "application/json"})
        import_s = time.perf_counter() - t
        r.raise_for_status()
        assert r.json()["imported"] == n, r.text[:500]
    return {"views": views, "import_s": round(import_s, 2), "import_body_mb": round(len(body) / 2**20, 1)}


def run(n: int, work: Path) -> dict:
    rng = random.Random(20240312)
    data_dir = work / "data"
    t = time.perf_counter()
    built = build_store(data_dir, n, rng)
    build_s = time.perf_counter() - t
    print(f"store of {n:,} samples built in {build_s:.1f} s (not timed)")
    proc, base, startup_s, ui_s = start_app(data_dir, work)
    try:
        print(f"app answered {startup_s:.2f} s after start; web UI ready after {ui_s:.2f} s")
        m = measure(base, built, n, rng)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    v = m["views"]
    page_views = [v["page:first"], v["page:middle"], v["page:last"]]
    return {
        "samples": n,
        "page_p50_ms": max(x["p50_ms"] for x in page_views),
        "page_p95_ms": max(x["p95_ms"] for x in page_views),
        "filtered_p50_ms": v["filtered:name"]["p50_ms"],
        "save_p50_ms": v["save"]["p50_ms"],
        "save_p95_ms": v["save"]["p95_ms"],
        "overview_p50_ms": max(v["overview:job"]["p50_ms"], v["overview:jobs"]["p50_ms"]),
        "import_per_s": round(n / m["import_s"]),
        "startup_s": round(startup_s, 2),
        "ui_ready_s": round(ui_s, 2),
        "views": v,
        "setup": {"build_s": round(build_s, 1), "import_s": m["import_s"], "import_body_mb": m["import_body_mb"],
                  "cpus": os.cpu_count(), "repeat": REPEAT, "warmup": WARMUP},
    }


def print_table(r: dict) -> None:
    print()
    print(f"{'view':24} {'p50 ms':>8} {'p95 ms':>8}")
    for name, v in r["views"].items():
        print(f"{name:24} {v['p50_ms']:>8.1f} {v['p95_ms']:>8.1f}")
    print()
    print(f"{'metric':18} {'value':>10} {'target':>10} {'Label Studio':>13}")
    for key, target in TARGETS.items():
        higher_better = key == "import_per_s"
        met = r[key] > target if higher_better else r[key] < target
        sign = ">" if higher_better else "<"
        print(f"{key:18} {r[key]:>10,} {sign + format(target, ','):>10} {REFERENCE[key]:>13,}  "
              f"{'ok' if met else 'MISSED'}")
    print(f"{'page_p95_ms':18} {r['page_p95_ms']:>10,}")
    print(f"{'save_p95_ms':18} {r['save_p95_ms']:>10,}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--keep", type=Path, help="build the store in this (empty) folder and keep it")
    args = ap.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.samples, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="labelport-api-bench-") as tmp:
            result = run(args.samples, Path(tmp))
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
