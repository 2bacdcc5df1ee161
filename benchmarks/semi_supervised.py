#!/usr/bin/env python3
"""Images without a pretrained backbone: how right is active learning from 10 labels per class?

    python benchmarks/semi_supervised.py --json OUT.json [--seeds 3] [--sets digits_8x8,font_digits,shapes]

The product path is the app's own: the images go through a real image-classification job and
`python app.py autolabel --kind active_learning --mode fast|precise` (autolabel.runner.run_now,
the code the app's Start button runs). Reported per image set and mode: the accuracy of the
predictions on the unlabeled images (against the truth), the run's seconds, the threshold the run
offers (calibrated at 98% on held-out labels, or the best reachable accuracy when 98% is out of
reach) and the accuracy and number of predictions above it, i.e. what confirming at the offered
threshold gives. Medians over --seeds (each draws its own 10 labels per class).

Image sets:
- digits_8x8: ../shared/data/digits_8x8 (1797 handwritten digits, 8x8 grey, 10 classes);
- font_digits: 1500 digits 0-9 rendered from the DejaVu fonts (sans, serif, mono, bold, italic,
  condensed) at 20x20 with random rotation, scale, shift, stroke blur and noise (made here: a
  second set the method was not tuned on);
- shapes: 1200 colour 32x32 images of six shapes (circle, square, triangle, cross, ring, bar) at
  random places, sizes, rotations and colours on noisy, cluttered backgrounds (made here).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
FONTS = Path("/usr/share/fonts/truetype/dejavu")


def digits_8x8() -> tuple[list[Image.Image], list[str]]:
    folder = SHARED / "digits_8x8"
    rows = list(csv.DictReader((folder / "labels.csv").open()))
    return [Image.open(folder / r["file"]).convert("L") for r in rows], [r["label"] for r in rows]


def font_digits(n: int = 1500, seed: int = 1) -> tuple[list[Image.Image], list[str]]:
    rng = np.random.default_rng(seed)
    fonts = sorted(p for p in FONTS.glob("DejaVu*.ttf") if "Math" not in p.name and "ExtraLight" not in p.name)
    if not fonts:
        raise SystemExit(f"no DejaVu fonts in {FONTS} (apt-get install fonts-dejavu-core)")
    images, labels = [], []
    for i in range(n):
        digit = str(i % 10)
        font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(rng.integers(30, 44)))
        canvas = Image.new("L", (60, 60), 0)
        ImageDraw.Draw(canvas).text((30, 30), digit, fill=255, font=font, anchor="mm")
        canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR,
                               translate=(float(rng.uniform(-4, 4)), float(rng.uniform(-4, 4))))
        canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
        a = np.asarray(canvas.resize((20, 20), Image.BILINEAR), dtype=np.float32)
        a = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
        images.append(Image.fromarray(a))
        labels.append(digit)
    return images, labels


SHAPES = ("circle", "square", "triangle", "cross", "ring", "bar")


def shapes(n: int = 1200, seed: int = 2) -> tuple[list[Image.Image], list[str]]:
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        kind = SHAPES[i % len(SHAPES)]
        bg = rng.integers(0, 256, 3)
        a = np.clip(bg + rng.normal(0, 25, (64, 64, 3)), 0, 255).astype(np.uint8)
        im = Image.fromarray(a)
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(0, 4))):  # clutter: small dots and strokes
            x, y = rng.integers(0, 64, 2)
            d.line([(int(x), int(y)), (int(x + rng.integers(-8, 8)), int(y + rng.integers(-8, 8)))],
                   fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=1)
        color = tuple(int((v + 128 + rng.integers(-40, 40)) % 256) for v in bg)
        cx, cy = rng.uniform(20, 44, 2)
        r = rng.uniform(9, 18)
        t = rng.uniform(0, math.pi)
        if kind == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        elif kind == "ring":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=color, width=max(2, int(r / 3)))
        else:
            def rot(pts):
                return [(cx + x * math.cos(t) - y * math.sin(t), cy + x * math.sin(t) + y * math.cos(t)) for x, y in pts]
            if kind == "square":
                d.polygon(rot([(-r, -r), (r, -r), (r, r), (-r, r)]), fill=color)
            elif kind == "triangle":
                d.polygon(rot([(0, -r), (r * 0.95, r * 0.7), (-r * 0.95, r * 0.7)]), fill=color)
            elif kind == "bar":
                d.polygon(rot([(-r, -r / 4), (r, -r / 4), (r, r / 4), (-r, r / 4)]), fill=color)
            else:  # cross
                w = r / 3.5
                d.polygon(rot([(-r, -w), (r, -w), (r, w), (-r, w)]), fill=color)
                d.polygon(rot([(-w, -r), (w, -r), (w, r), (-w, r)]), fill=color)
        images.append(im.resize((32, 32), Image.BILINEAR))
        labels.append(kind)
    return images, labels


SETS = {"digits_8x8": digits_8x8, "font_digits": font_digits, "shapes": shapes}


def run_once(images, labels, mode: str, seed: int, per_class: int = 10) -> dict:
    """A real job in a temporary store: 10 labels per class by a person, the rest unlabeled, then
    the product's active-learning run; its predictions scored against the truth."""
    import io

    from autolabel.runner import run_now
    from store import Settings, open_store
    from store.annotations import apply_labels
    from store.formats.common import iter_job_samples
    from store.imports import upload_files
    from store.jobs import create_job
    from store.labelset import Label, LabelSet
    from store.runs import estimate, suggested_threshold

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings(data_dir=Path(tmp) / "data", demo=False))
        try:
            classes = sorted(set(labels))
            job = create_job(store, "bench", "image_classification", label_set=LabelSet([Label(c) for c in classes]))
            files = []
            for i, im in enumerate(images):
                buf = io.BytesIO()
                im.save(buf, "PNG")
                files.append((f"{i:05d}.png", buf.getvalue()))
            upload_files(store, job.id, files)
            ids = {s.name: s.id for s in iter_job_samples(store, job.id)}
            for c in classes:
                idx = [i for i, v in enumerate(labels) if v == c]
                chosen = rng.choice(idx, per_class, replace=False)
                apply_labels(store, job.id, [ids[f"{i:05d}.png"] for i in chosen], [c])
            t = time.perf_counter()
            run = run_now(store, job.id, "active_learning", mode)
            seconds = time.perf_counter() - t
            assert run.status == "done", run.message
            truth = {ids[f"{i:05d}.png"]: v for i, v in enumerate(labels)}
            preds = [(s.id, s.labels[0], s.confidence) for s in iter_job_samples(store, job.id)
                     if s.status == "to_be_confirmed"]
            right = [truth[sid] == lab for sid, lab, _c in preds]
            cal = run.calibration
            t_off = suggested_threshold(cal)
            above = [r for (sid, lab, c), r in zip(preds, right) if t_off is not None and c >= t_off]
            return {"accuracy": float(np.mean(right)), "seconds": round(seconds, 1), "unlabeled": len(preds),
                    "offered_threshold": t_off, "target_reached": cal.get("threshold") is not None,
                    "estimated_accuracy_above": estimate(cal, t_off)[0] if t_off is not None else None,
                    "confirmed_above": len(above),
                    "accuracy_above": float(np.mean(above)) if above else None, "message": run.message}
        finally:
            store.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--modes", default="fast,precise")
    args = ap.parse_args(argv)
    out: dict = {"per_class": 10}
    for name in args.sets.split(","):
        images, labels = SETS[name]()
        out[name] = {"items": len(images), "classes": len(set(labels))}
        for mode in args.modes.split(","):
            runs = [run_once(images, labels, mode, seed) for seed in range(args.seeds)]
            med = {k: statistics.median([r[k] for r in runs]) for k in ("accuracy", "seconds")}
            out[name][mode] = {**med, "per_seed": runs}
            print(f"{name} {mode}: accuracy {med['accuracy']:.3f} in {med['seconds']:.0f} s "
                  f"(offered threshold {runs[0]['offered_threshold']}, above it {runs[0]['confirmed_above']} "
                  f"at {runs[0]['accuracy_above']})", flush=True)
    Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
