#!/usr/bin/env python3
"""Mirror and restore a big store: one image-classification job of N samples (30% labeled).

    python benchmarks/mirror.py --json OUT.json            # 1,000,000 samples
    python benchmarks/mirror.py --samples 20000            # a quick run

Builds the store in a temporary folder with benchmarks/store_scale.py's builders (samples
registered from an Arrow listing, attached to a job, labeled in bulk; not timed), starts a real
S3-compatible server (``python -m moto.server`` on 127.0.0.1, over HTTP), then times

- mirror_s: store/mirror.mirror_store (snapshot of every table to Parquet, upload, manifest,
  pointer switch);
- restore_s: store/mirror.restore_store into a new, empty data folder (download, sha256 check,
  schema, rows, sequences, move into place);

and reports bytes (the mirror's size), samples and tables. Target at 1,000,000 samples: both
< 30 s. This is a benchmark, not a test: nothing is asserted (the restored row count is checked).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **AWS_ENV})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)
            return proc, endpoint
        except urllib.error.HTTPError:
            return proc, endpoint
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"moto_server did not start: {log_path.read_text(errors='replace')}")


def build(st, n: int) -> None:
    """store_scale.py's fast path: listing -> register_samples -> attach -> bulk labels."""
    from benchmarks import store_scale as ss
    from store import datasets, imports, jobs
    from store.labelset import Label, LabelSet
    from store.types import Annotation

    rng = random.Random(20240312)
    job = jobs.create_job(st, "scale", "image_classification", label_set=LabelSet(labels=[Label(x) for x in ss.LABELS]))
    ids = list(datasets.register_samples(st, job.dataset_id, ss.listing_table(ss.make_paths(n, rng), rng)).values())
    ss.attach(st, job.dataset_id, job.id, ids)
    chosen = rng.sample(ids, int(n * ss.LABELED_SHARE))
    by_actor: dict[str, list] = {}
    for i, sid in enumerate(chosen):
        names = rng.sample(ss.LABELS, 1 if rng.random() < 0.7 else 2)
        by_actor.setdefault(ss.LABELERS[i % len(ss.LABELERS)], []).append((sid, Annotation({"labels": names}, names)))
    with st.db.transaction() as cur:
        for actor, rows in by_actor.items():
            imports.write_annotations_bulk(cur, job.id, rows, actor, status="labeled")


def run(n: int, tmp: Path) -> dict:
    import boto3

    from store import Settings, open_store
    from store.mirror import mirror_store, restore_store

    os.environ.update(AWS_ENV)
    moto, endpoint = start_moto(tmp / "moto.log")
    try:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="lp-bench")
        settings = Settings(data_dir=tmp / "a", demo=False, mirror="s3://lp-bench/lp", s3_endpoint=endpoint)
        st = open_store(settings)
        t = time.perf_counter()
        build(st, n)
        print(f"built a store of {n:,} samples in {time.perf_counter() - t:.1f} s (not timed)")
        st.db.cursor().execute("CHECKPOINT")
        db_mb = settings.database.stat().st_size / 2**20

        t = time.perf_counter()
        m = mirror_store(st)
        mirror_s = time.perf_counter() - t
        st.close()
        print(f"mirror: {mirror_s:.2f} s, {m.bytes / 2**20:.1f} MiB, {m.tables} tables, {m.rows:,} rows")

        other = Settings(data_dir=tmp / "b", demo=False, mirror="s3://lp-bench/lp", s3_endpoint=endpoint)
        t = time.perf_counter()
        r = restore_store(other)
        restore_s = time.perf_counter() - t
        print(f"restore: {restore_s:.2f} s, {r.rows:,} rows")
        st2 = open_store(other)
        restored_samples = st2.db.scalar("SELECT count(*) FROM samples")
        st2.close()
        assert restored_samples == n, restored_samples
        return {"samples": n, "tables": m.tables, "rows": m.rows, "mirror_s": round(mirror_s, 2),
                "restore_s": round(restore_s, 2), "bytes": m.bytes, "db_file_mb": round(db_mb, 1),
                "restored_samples": restored_samples, "cpus": os.cpu_count(),
                "load_avg": round(os.getloadavg()[0], 2)}
    finally:
        moto.terminate()
        moto.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelport-mirror-bench-") as tmp:
        result = run(args.samples, Path(tmp))
    targets = {"mirror_s": 30, "restore_s": 30}
    for key, limit in targets.items():
        print(f"{key:10} {result[key]:>8.2f} s  (target < {limit} s: {'ok' if result[key] < limit else 'MISSED'})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
