#!/usr/bin/env python3
"""Automatic tracking in videos (issue 16): how well and how fast a box is followed.

    python benchmarks/tracking.py --json OUT.json [--frames 100]

Accuracy: synthetic H.264 clips this script makes (benchmarks/synthetic.tracking_clip: a textured
object that moves along a curve, grows and shrinks by 35%, and passes behind a half-transparent
bar, over a textured background with two other moving shapes), three seeds at three sizes. From
the true box on frame 0, the tracker (autolabel/tracking.py, OpenCV CSRT with the app's
settings) follows the object for --frames frames, as a run does: decoded with the app's frame
iterator, from the video file. track_iou is the mean IoU against the truth over all frames of all
clips (a frame where the tracker lost the object counts 0), per clip in `clips`; OpenCV's
default CSRT settings are measured in the same process as the baseline (`baseline_iou`).
Speed: track_fps is the median over the clips (synthetic and the shared clips in
../shared/data/video, a box in the middle of frame 0) of frames tracked per second, decoding
included. overlay_ms (drawing 50 shapes on the player in Chromium) is null: the player does not
draw shapes yet. Targets: track_iou >= 0.8, track_fps >= 25. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import tracking_clip  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "video"
CLIPS = [(0, (480, 272)), (1, (640, 360)), (2, (320, 200))]


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def follow(path: Path, box: list[float], frames: int, make=None) -> tuple[dict[int, list[float]], float]:
    """The tracked boxes from frame 0 and the wall time (decode + track), as autolabel/tracking.py runs."""
    from autolabel import tracking
    from media.video import FrameIndexCache, iter_frames, open_indexed

    container, index = open_indexed(str(path), path.name, str(path), FrameIndexCache())
    t = time.perf_counter()
    try:
        decoded = ((i, f.to_ndarray(format="rgb24")) for i, f in iter_frames(container, index, 0, frames - 1))
        if make is None:
            found = tracking.track_boxes(decoded, box, "csrt")
        else:
            original = tracking.make_tracker
            tracking.make_tracker = lambda kind: make()
            try:
                found = tracking.track_boxes(decoded, box, "csrt")
            finally:
                tracking.make_tracker = original
    finally:
        container.close()
    return found, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--frames", type=int, default=100, help="frames to track from one keyframe")
    args = ap.parse_args()
    import cv2

    tmp = Path(tempfile.mkdtemp(prefix="labelport-tracking-"))
    clips, speeds, base_all, all_ious = [], [], [], []
    for seed, size in CLIPS:
        path = tmp / f"clip_{seed}.mp4"
        truth = tracking_clip(path, args.frames, size=size, seed=seed)
        found, wall = follow(path, truth[0], args.frames)
        ious = [iou(found[f], truth[f]) if f in found else 0.0 for f in range(args.frames)]
        base, _ = follow(path, truth[0], args.frames, make=cv2.TrackerCSRT_create)
        base_ious = [iou(base[f], truth[f]) if f in base else 0.0 for f in range(args.frames)]
        all_ious += ious
        base_all += base_ious
        speeds.append(len(found) / wall)
        clips.append({"clip": f"synthetic seed {seed} {size[0]}x{size[1]}", "mean_iou": round(statistics.fmean(ious), 3),
                      "min_iou": round(min(ious), 3), "baseline_mean_iou": round(statistics.fmean(base_ious), 3),
                      "frames_tracked": len(found), "fps": round(len(found) / wall, 1)})
        print(clips[-1], flush=True)
    for clip in sorted(DATA.glob("*.mp4")) if DATA.is_dir() else []:
        import av

        with av.open(str(clip)) as c:
            w, h = c.streams.video[0].width, c.streams.video[0].height
        box = [w * 0.4, h * 0.35, w * 0.6, h * 0.65]
        found, wall = follow(clip, box, args.frames)
        speeds.append(len(found) / wall)
        clips.append({"clip": clip.name, "size": f"{w}x{h}", "frames_tracked": len(found), "fps": round(len(found) / wall, 1)})
        print(clips[-1], flush=True)
    out = {"track_iou": round(statistics.fmean(all_ious), 3), "baseline_iou": round(statistics.fmean(base_all), 3),
           "track_fps": round(statistics.median(speeds), 1), "overlay_ms": None,
           "frames": args.frames, "tracker": "CSRT (autolabel/tracking.py settings)", "clips": clips,
           "machine": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2),
           "targets": {"track_iou": 0.8, "track_fps": 25}}
    print(json.dumps({k: v for k, v in out.items() if k != "clips"}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
