#!/usr/bin/env python3
"""Video labeling: time to seek and return one frame (what /media/{id}/frame?index=N serves).

    python benchmarks/video.py --json OUT.json [--n 60] [--seed 0]

On each MP4 clip in ../shared/data/video, builds a store in a temporary folder, creates a video
labeling job on that folder (files read in place) and calls store.video.video_frame at random
timestamps (uniform over the clip's duration, turned into a frame index with the clip's fps).
Each call opens the file, seeks to the keyframe at or before the frame, decodes forward to that
exact frame and encodes it as JPEG (downscaled to at most 1280 px a side), as the route does.
The frame index of each file (demuxed once, no decoding) is built by a warm-up call before
timing, as the server's cache keeps it. Reports per clip: p50, p95, max (ms), frames, size,
keyframes; and seek_p95_ms = the worst clip's p95. Target: seek_p95_ms < 100. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402
from store import jobs, video  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "video"


def percentile(values: list[float], p: float) -> float:
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--n", type=int, default=60, help="random timestamps per clip")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    clips = {}
    with tempfile.TemporaryDirectory() as tmp:
        st = store.open_store(store.Settings(data_dir=Path(tmp) / "data", demo=False))
        try:
            job = jobs.create_job(st, "video", "video_labeling", source=str(DATA))
            rows = st.db.fetchall("SELECT s.id, s.path, s.meta FROM samples s JOIN job_samples js "
                                  "ON js.sample_id = s.id WHERE js.job_id = ? ORDER BY s.path", [job.id])
            for sid, path, meta in rows:
                meta = json.loads(meta)
                name = path.rsplit("/", 1)[-1]
                video.video_frame(st, sid, 0)  # warm-up: the frame index of the file
                container, index, _ = video.open_video(st, sid)
                keyframes = len(index.key_pts)
                container.close()
                times = []
                for _ in range(args.n):
                    t = rng.uniform(0, meta["duration"])
                    i = min(int(t * meta["fps"]), meta["frame_count"] - 1)
                    t0 = time.perf_counter()
                    video.video_frame(st, sid, i)
                    times.append((time.perf_counter() - t0) * 1000)
                clips[name] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
                               "max_ms": round(max(times), 2), "frames": meta["frame_count"],
                               "size": f"{meta['width']}x{meta['height']}", "keyframes": keyframes,
                               "samples": len(times)}
                print(f"{name}: p50 {clips[name]['p50_ms']:.1f} ms, p95 {clips[name]['p95_ms']:.1f} ms "
                      f"({meta['frame_count']} frames {clips[name]['size']}, {keyframes} keyframes)")
        finally:
            st.close()
    result = {"seek_p95_ms": max(c["p95_ms"] for c in clips.values()),
              "seek_p50_ms": max(c["p50_ms"] for c in clips.values()),
              "target_seek_p95_ms": 100, "clips": clips, "cpu_count": os.cpu_count()}
    print(f"seek_p95_ms (worst clip) {result['seek_p95_ms']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
