#!/usr/bin/env python3
"""Extreme points on real cells: how well does the proposed outline follow the object?

    python benchmarks/extreme_points.py --json OUT.json [--limit N]

On ../shared/data/cells (10 EM images 512x512, 1252 cell polygons in cells_coco_polygons.json):
for each true polygon, its four extreme points (top-most, right-most, bottom-most, left-most
vertex) are what a person would click; the proposal from those points is compared with the true
polygon by IoU (both rasterized at the image's size). Two proposals, the app's own functions
(media/outline.py): the octagon through the points (no image), and GrabCut seeded by them (what
the segmentation canvas asks the server for). Reported: mean and median IoU of each, how often
GrabCut declined (the canvas then keeps the octagon; counted with the octagon's IoU), and the
median milliseconds per object. Keys: iou_octagon, iou_grabcut, ms_per_object.
Objects smaller than 6 px across are skipped (nobody clicks four points on them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CELLS = ROOT.parent / "shared" / "data" / "cells"


def extreme_points(poly: np.ndarray) -> list[list[float]]:
    xs, ys = poly[:, 0], poly[:, 1]
    return [poly[int(np.argmin(ys))].tolist(), poly[int(np.argmax(xs))].tolist(),
            poly[int(np.argmax(ys))].tolist(), poly[int(np.argmin(xs))].tolist()]


def raster(poly, w: int, h: int) -> np.ndarray:
    import cv2

    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(poly, np.float64)).astype(np.int32)], 1)
    return m.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def main(argv=None) -> int:
    from media.outline import grabcut_outline, octagon

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--limit", type=int, default=0, help="at most this many objects (0: all)")
    args = ap.parse_args(argv)
    coco = json.loads((CELLS / "cells_coco_polygons.json").read_text())
    images = {im["id"]: im for im in coco["images"]}
    pixels: dict = {}
    oct_iou, gc_iou, ms, declined, n = [], [], [], 0, 0
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        for seg in ann["segmentation"]:
            poly = np.asarray(seg, np.float64).reshape(-1, 2)
            if len(poly) < 3 or np.ptp(poly[:, 0]) < 6 or np.ptp(poly[:, 1]) < 6:
                continue
            if args.limit and n >= args.limit:
                break
            n += 1
            if im["id"] not in pixels:
                pixels[im["id"]] = np.asarray(Image.open(CELLS / im["file_name"]).convert("L"))
            img = pixels[im["id"]]
            w, h = im["width"], im["height"]
            truth = raster(poly, w, h)
            pts = extreme_points(poly)
            o = iou(raster(octagon(pts), w, h), truth)
            t = time.perf_counter()
            g = grabcut_outline(img, pts)
            ms.append((time.perf_counter() - t) * 1000)
            if g is None:
                declined += 1
                gc_iou.append(o)
            else:
                gc_iou.append(iou(raster(g, w, h), truth))
            oct_iou.append(o)
    out = {"dataset": "cells (ISBI 2012 EM, 10 images 512x512)", "objects": n,
           "iou_octagon": round(float(np.mean(oct_iou)), 4), "iou_grabcut": round(float(np.mean(gc_iou)), 4),
           "median_iou_octagon": round(float(np.median(oct_iou)), 4),
           "median_iou_grabcut": round(float(np.median(gc_iou)), 4),
           "grabcut_declined": declined, "ms_per_object": round(statistics.median(ms), 1),
           "ms_per_object_p90": round(float(np.percentile(ms, 90)), 1)}
    Path(args.json).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
