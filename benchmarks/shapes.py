"""Shapes at scale: time to load and to save an image with 10 / 100 / 1,000 polygons (server side,
through store/ functions), and the browser time to render 1,000 shapes (Playwright + Chromium,
performance.now(), from benchmarks/shapes_render.py).

    python benchmarks/shapes.py --json OUT.json [--repeat 20] [--no-browser]

JSON keys: save_1000_ms, load_1000_ms, render_1000_ms (p50s), and a breakdown per count.
Targets: save and load < 100 ms, render < 500 ms.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def polygons(n: int, width: int, height: int, rng: random.Random, points: int = 12) -> list[dict]:
    """n cell-like polygons (12 points each) spread over the image."""
    out = []
    for i in range(n):
        cx, cy = rng.uniform(20, width - 20), rng.uniform(20, height - 20)
        r = rng.uniform(5, 18)
        pts = [[round(cx + r * math.cos(2 * math.pi * k / points), 2), round(cy + r * math.sin(2 * math.pi * k / points), 2)]
               for k in range(points)]
        out.append({"type": "polygon", "label": "cell" if i % 3 else "nucleus", "points": pts})
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def server_side(counts: list[int], repeat: int) -> dict:
    from PIL import Image

    from store import Settings, open_store
    from store.annotations import set_annotation
    from store.imports import upload_files
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.samples import SampleQuery, get_sample, query_samples

    rng = random.Random(7)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as tmp:
        st = open_store(Settings(data_dir=Path(tmp), demo=False))
        try:
            job = create_job(st, "cells", "image_segmentation",
                             label_set=LabelSet([Label("cell", "#33aa33"), Label("nucleus", "#aa3333")]))
            buf = io.BytesIO()
            Image.new("L", (1024, 1024), 128).save(buf, "PNG")
            upload_files(st, job.id, [(f"img{n}.png", buf.getvalue()) for n in counts])
            ids = {s.path: s.id for s in query_samples(st, job.id, SampleQuery(page_size=100)).items}
            for n in counts:
                sid = ids[f"img{n}.png"]
                shapes = polygons(n, 1024, 1024, rng)
                save, load = [], []
                for _ in range(repeat + 2):
                    t = time.perf_counter()
                    set_annotation(st, job.id, sid, {"shapes": shapes})
                    save.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    got = get_sample(st, job.id, sid)
                    load.append((time.perf_counter() - t) * 1000)
                    assert len(got.annotation["shapes"]) == n
                save, load = save[2:], load[2:]
                results[n] = {"save_p50_ms": round(statistics.median(save), 2),
                              "save_p95_ms": round(percentile(save, 95), 2),
                              "load_p50_ms": round(statistics.median(load), 2),
                              "load_p95_ms": round(percentile(load, 95), 2)}
        finally:
            st.close()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-browser", action="store_true", help="skip the render timing")
    args = ap.parse_args()
    counts = [10, 100, 1000]
    per = server_side(counts, args.repeat)
    out = {"save_1000_ms": per[1000]["save_p50_ms"], "load_1000_ms": per[1000]["load_p50_ms"],
           "render_1000_ms": None, "per_count": per, "repeat": args.repeat,
           "note": "server side through store/ functions on a real DuckDB file; 12-point polygons on 1024x1024"}
    if not args.no_browser:
        try:
            from benchmarks.shapes_render import run as measure_render

            render = measure_render(1000, 7)
            out["render_1000_ms"] = render["render_1000_ms"]
            out["render"] = render
        except Exception as e:  # no Chromium here: say so, keep the server figures
            out["render_error"] = f"{type(e).__name__}: {e}"[:300]
    print(f"{'polygons':>9} {'save p50':>10} {'save p95':>10} {'load p50':>10} {'load p95':>10}")
    for n, r in per.items():
        print(f"{n:>9} {r['save_p50_ms']:>10} {r['save_p95_ms']:>10} {r['load_p50_ms']:>10} {r['load_p95_ms']:>10}")
    print(f"render 1000 shapes in the browser: {out['render_1000_ms']} ms")
    print(json.dumps(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
