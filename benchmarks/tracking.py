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
included. overlay_ms: Chromium draws one frame's 50 shapes over the player (assets/video_player.js,
a 640 x 272 video shown 1088 px wide), the median of 200 draws (p95 in `overlay`). Targets:
track_iou >= 0.8, track_fps >= 25, overlay_ms < 16. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import math
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


OVERLAY_PAGE = """<!doctype html><html><body style="margin:0"><div id="host" style="width:1280px"></div></body></html>"""
OVERLAY_JS = r"""async ([js, value, css, tries]) => {
  const host = document.getElementById('host');
  const style = document.createElement('style'); style.textContent = css; document.head.append(style);
  host.innerHTML = '<div class="vp-root"></div>';
  const props = { value };
  new Function('element', 'props', 'trigger', 'watch', js)(host, props, () => {}, undefined);
  const api = host.querySelector('.vp-root').__videoPlayer;
  api.video.style.height = '544px';  // a 640 x 272 picture shown at 2x, as on a 1280 px wide page
  await new Promise((r) => requestAnimationFrame(() => r()));
  const canvas = host.querySelector('.vp-overlay');
  const times = [];
  for (let i = 0; i < tries; i++) {
    const t = performance.now();
    api.drawOverlay(0);
    canvas.getContext('2d').getImageData(0, 0, 1, 1);  // the drawing rasterized, not only recorded
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], p95: times[Math.floor(times.length * 0.95)],
           drawn: api.state().overlay.length };
}"""


def overlay_ms(shapes: int = 50, tries: int = 200) -> dict | None:
    """Chromium draws `shapes` shapes (boxes, polygons, circles, lines; half of them interpolated)
    over a 640 x 272 video shown 1088 px wide, with the player's own code (assets/video_player.js):
    the median and p95 time of one frame's drawing, in ms. None without Playwright or Chromium."""
    import random

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    from components.video_player import CSS

    rng = random.Random(0)
    drawn = []
    for i in range(shapes):
        x, y = rng.uniform(20, 560), rng.uniform(20, 200)
        kind = ("rectangle", "polygon", "circle", "line")[i % 4]
        pts = {"rectangle": [[x, y], [x + 60, y + 50]], "circle": [[x, y]],
               "polygon": [[x + 20 * math.cos(a / 8 * 6.283), y + 20 * math.sin(a / 8 * 6.283)] for a in range(8)],
               "line": [[x, y], [x + 40, y + 10], [x + 70, y + 40]]}[kind]
        drawn.append({"t": kind, "p": pts, "r": 15, "l": f"label{i % 5}", "c": "#ff8800", "k": f"t{i}", "i": i % 2})
    value = {"sample_id": 1, "src": "about:blank", "fps": 25, "frame_count": 250, "duration": 10, "seek": None, "draw": None,
             "overlay": {"0": drawn}, "size": [640, 272]}
    js = (ROOT / "assets" / "video_player.js").read_text(encoding="utf-8")
    exe = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_content(OVERLAY_PAGE)
            res = page.evaluate(OVERLAY_JS, [js, value, CSS, tries])
        finally:
            browser.close()
    return {"median_ms": round(res["median"], 3), "p95_ms": round(res["p95"], 3), "shapes": res["drawn"]}


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
    overlay = overlay_ms()
    print({"overlay": overlay}, flush=True)
    out = {"track_iou": round(statistics.fmean(all_ious), 3), "baseline_iou": round(statistics.fmean(base_all), 3),
           "track_fps": round(statistics.median(speeds), 1), "overlay_ms": overlay["median_ms"] if overlay else None,
           "overlay": overlay,
           "frames": args.frames, "tracker": "CSRT (autolabel/tracking.py settings)", "clips": clips,
           "machine": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2),
           "targets": {"track_iou": 0.8, "track_fps": 25, "overlay_ms": 16}}
    print(json.dumps({k: v for k, v in out.items() if k != "clips"}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
