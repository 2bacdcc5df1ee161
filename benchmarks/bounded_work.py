#!/usr/bin/env python3
"""Bounded work per request (issue 14), over HTTP, against the real app.

    python benchmarks/bounded_work.py [--json OUT.json] [--skip-range]

Builds a store in a temporary folder with store/ functions, closes it, starts the app
(``python app.py --data-dir ... --no-demo``, single-user mode) and measures the server process:

- crop: an 11 KB PNG of 9500 x 9500 1-bit pixels (``Image.new("1", (9500, 9500))``).
  ``crop_first_s``: the first GET /media/{id}/crop on a fresh server (the image is decoded);
  ``crop_warm_p50_s``: the next 10 crops of other boxes, one by one; then, on another fresh
  server with the caches emptied, 6 crops in parallel: ``parallel6_wall_s`` (all answered),
  ``parallel6_max_s`` (the slowest request) and ``parallel6_peak_rss_mb`` (the server's peak
  resident memory, VmHWM, minus its resident memory before the requests); ``distinct6_*``: the
  same for one crop of each of 6 different such images (nothing to share: only the cap on
  concurrent decodes bounds the memory).
- range: a 400 MB sparse local file (a valid PNG followed by 400 MB of zeros, made with
  ``truncate``), registered in place from its folder. ``range00_rss_mb``: the server's peak
  resident memory growth while answering GET /media/{id}/file with ``Range: bytes=0-0``;
  ``range00_s`` its time; ``full_rss_mb`` and ``full_s``: the same for the whole file, read
  by the client in chunks and thrown away.
- body: POST /api/v1/jobs with a 60 MB JSON body (a job name of 60 MB): ``body60_status``,
  ``body60_s`` and ``body60_rss_mb`` (the server's peak memory growth).

Prints a table and, with --json, writes the figures. A benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402

SIDE = 9500
RANGE_FILE_MB = 400


def rss_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def make_png(seed: int = 0) -> bytes:
    from PIL import Image

    img = Image.new("1", (SIDE, SIDE))
    img.putpixel((seed, seed), 1)  # files differ
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def build(data_dir: Path, big_folder: Path | None) -> dict:
    from store import Settings, open_store
    from store.imports import upload_files
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, query_samples

    store = open_store(Settings(data_dir=data_dir, demo=False))
    try:
        png = make_png()
        job = create_job(store, "crop-bench", "object_detection", label_set=LabelSet(labels=[Label("a")]))
        rec = upload_files(store, job.id, [("big.png", png)] + [(f"big{i}.png", make_png(i)) for i in range(1, 7)])
        assert rec.status == "succeeded", rec.errors
        ids = sorted(s.id for s in query_samples(store, job.id, SampleQuery(page_size=10)).items)
        out = {"crop_id": ids[0], "distinct_ids": ids[1:], "png_bytes": len(png)}
        if big_folder is not None:
            job2 = create_job(store, "range-bench", "image_classification", source=str(big_folder),
                              label_set=LabelSet(labels=[Label("a")]))
            items = query_samples(store, job2.id, SampleQuery(page_size=10)).items
            assert items, "the 400 MB file was not registered"
            out["range_id"] = items[0].id
        return out
    finally:
        store.close()


def make_big_file(folder: Path) -> Path:
    """A valid 16x16 PNG padded with zeros to RANGE_FILE_MB (sparse: no disk blocks for the zeros)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "big.png"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path, "PNG")
    subprocess.run(["truncate", "-s", f"{RANGE_FILE_MB}M", str(path)], check=True)
    return path


class Server:
    def __init__(self, data_dir: Path, work: Path):
        from tests.app_server import AppServer

        self.app = AppServer(data_dir, work)

    def __enter__(self):
        self.app.start()
        return self

    def __exit__(self, *exc):
        self.app.stop()

    @property
    def pid(self) -> int:
        return self.app.proc.pid

    @property
    def url(self) -> str:
        return self.app.url


def box(i: int) -> dict:
    x = 200 + (i * 731) % 8000
    y = 300 + (i * 419) % 8000
    return {"x1": x, "y1": y, "x2": x + 400, "y2": y + 300}


def parallel(srv: Server, ids: list[int], prefix: str) -> dict:
    """One crop per id, all at once, each from its own client; the server's peak memory growth."""
    base = rss_kb(srv.pid, "VmRSS")
    reset_peak(srv.pid)
    durations: list[float] = [0.0] * len(ids)
    codes: list[int] = [0] * len(ids)

    def one(i: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=600) as c:
            t = time.perf_counter()
            codes[i] = c.get(f"/media/{ids[i]}/crop", params=box(20 + i)).status_code
            durations[i] = time.perf_counter() - t

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ids))]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {f"{prefix}_wall_s": round(time.perf_counter() - t, 3), f"{prefix}_max_s": round(max(durations), 3),
            f"{prefix}_codes": codes, f"{prefix}_peak_rss_mb": round((rss_kb(srv.pid, "VmHWM") - base) / 1024, 1),
            f"{prefix}_rss_before_mb": round(base / 1024, 1)}


def bench_crop(data_dir: Path, work: Path, sid: int, distinct: list[int]) -> dict:
    out: dict = {}
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    with Server(data_dir, work) as srv, httpx.Client(base_url=srv.url, timeout=600) as c:
        t = time.perf_counter()
        r = c.get(f"/media/{sid}/crop", params=box(0))
        out["crop_first_s"] = round(time.perf_counter() - t, 3)
        out["crop_status"] = r.status_code
        times = []
        for i in range(1, 11):
            t = time.perf_counter()
            r = c.get(f"/media/{sid}/crop", params=box(i))
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:300]
        out["crop_warm_p50_s"] = round(statistics.median(times), 4)
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    with Server(data_dir, work) as srv:
        out.update(parallel(srv, [sid] * 6, "parallel6"))
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    with Server(data_dir, work) as srv:
        out.update(parallel(srv, distinct, "distinct6"))
    return out


def bench_range(data_dir: Path, work: Path, sid: int) -> dict:
    out: dict = {}
    with Server(data_dir, work) as srv, httpx.Client(base_url=srv.url, timeout=600) as c:
        c.get(f"/media/{sid}/thumb")  # warm the route's imports
        base = rss_kb(srv.pid, "VmRSS")
        reset_peak(srv.pid)
        t = time.perf_counter()
        r = c.get(f"/media/{sid}/file", headers={"Range": "bytes=0-0"})
        out["range00_s"] = round(time.perf_counter() - t, 3)
        out["range00_status"] = r.status_code
        out["range00_content_range"] = r.headers.get("content-range")
        out["range00_rss_mb"] = round((rss_kb(srv.pid, "VmHWM") - base) / 1024, 1)
        base = rss_kb(srv.pid, "VmRSS")
        reset_peak(srv.pid)
        t = time.perf_counter()
        n = 0
        with c.stream("GET", f"/media/{sid}/file") as resp:
            for chunk in resp.iter_bytes(1 << 20):
                n += len(chunk)
        out["full_s"] = round(time.perf_counter() - t, 3)
        out["full_bytes"] = n
        out["full_rss_mb"] = round((rss_kb(srv.pid, "VmHWM") - base) / 1024, 1)
    return out


def bench_body(data_dir: Path, work: Path) -> dict:
    body = b'{"name": "' + b"x" * 60_000_000 + b'", "type": "image_classification"}'
    with Server(data_dir, work) as srv, httpx.Client(base_url=srv.url, timeout=600) as c:
        c.get("/api/v1/jobs")  # warm the route's imports
        base = rss_kb(srv.pid, "VmRSS")
        reset_peak(srv.pid)
        t = time.perf_counter()
        r = c.post("/api/v1/jobs", content=body, headers={"content-type": "application/json"})
        return {"body60_status": r.status_code, "body60_s": round(time.perf_counter() - t, 3),
                "body60_rss_mb": round((rss_kb(srv.pid, "VmHWM") - base) / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--skip-range", action="store_true")
    ap.add_argument("--skip-crop", action="store_true")
    ap.add_argument("--skip-body", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="labelport-bounded-") as tmp:
        work = Path(tmp)
        big = None if args.skip_range else make_big_file(work / "big")
        data_dir = work / "data"
        built = build(data_dir, big.parent if big else None)
        results: dict = {"png_bytes": built["png_bytes"], "png_pixels": f"{SIDE}x{SIDE} 1-bit"}
        if not args.skip_crop:
            results.update(bench_crop(data_dir, work / "server", built["crop_id"], built["distinct_ids"]))
        if big is not None:
            results.update(bench_range(data_dir, work / "server", built["range_id"]))
        if not args.skip_body:
            results.update(bench_body(data_dir, work / "server"))
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")
    print(json.dumps(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
