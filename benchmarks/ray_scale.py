#!/usr/bin/env python3
"""Auto labeling on a Ray cluster (issue 19): how pre-labeling scales with Ray workers.

    python benchmarks/ray_scale.py --json OUT.json [--images 5000] [--batch-size 32] [--device cpu|gpu]

The same --images PNGs (64 x 64, made here: soft shapes on a gradient, imported in place as a
job's folder) are pre-labeled by a tiny but CPU-heavy image classifier built from a config
(a ViT: 64 px, 8 px patches, 6 layers of width 192, random weights with seed 0, saved with
save_pretrained and registered as the app registers any model), through the app's own run code
(autolabel/runner.run_now; predictions written into To Be Confirmed batch by batch):

- local: the local engine with one torch thread (a Ray worker's share of the machine);
- local_all_threads: the local engine with torch's default threads (what a run gets today);
- ray1, ray2: the Ray engine on a local cluster of this machine's CPUs (ray.init, as the app
  connects: the app's code as the job's py_modules), with 1 and then 2 workers (actors) of one
  thread each (option ray_workers).

Each figure is images per second over the whole run, from the run's start to its last batch
written (the model load, the actors' start and the writes included); each run also has
first_batch_s (start to the first batch written) and steady_per_s (the rate after it), the
runs started in the background and their progress polled, as the app does. scaling_2_over_1 =
ray2_per_s / ray1_per_s (target >= 1.5 with 2 CPUs); ray_overhead_1_worker = 1 - ray1_per_s /
local_per_s (what Ray costs against the local engine at one thread); same_predictions: the
three one-thread runs wrote bitwise the same annotations, confidences and hard-example flags.
The load average is recorded before and after each run (the machine may be shared). With
--device gpu (a machine with CUDA): the local engine on the GPU and Ray with one GPU actor per
GPU; scaling is then not measured. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

LABELS = ["circle", "square", "triangle", "cross"]


def make_images(folder: Path, n: int, size: int = 64) -> None:
    """n small PNGs: a soft shape of one of the labels on a gradient, each different."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    for i in range(n):
        a, b = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
        bg = (a[None, None, :] * ramp[:, None, None] + b[None, None, :] * (1 - ramp[None, :, None]))
        im = Image.fromarray(bg.astype(np.uint8), "RGB")
        d = ImageDraw.Draw(im)
        x, y, r = (int(v) for v in rng.integers([12, 12, 6], [52, 52, 14]))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = i % len(LABELS)
        if kind == 0:
            d.ellipse([x - r, y - r, x + r, y + r], fill=color)
        elif kind == 1:
            d.rectangle([x - r, y - r, x + r, y + r], fill=color)
        elif kind == 2:
            d.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=color)
        else:
            d.line([(x - r, y - r), (x + r, y + r)], fill=color, width=3)
            d.line([(x - r, y + r), (x + r, y - r)], fill=color, width=3)
        im.filter(ImageFilter.SMOOTH).save(folder / f"img_{i:05d}.png", optimize=False)


def make_model(folder: Path) -> Path:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=64, patch_size=8, num_channels=3, hidden_size=192, num_hidden_layers=6,
                       num_attention_heads=4, intermediate_size=768, num_labels=len(LABELS),
                       id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def predictions(store, job_id: int) -> dict:
    return {r[0]: r[1:] for r in store.db.fetchall(
        "SELECT sample_id, status, annotation, confidence, hard, hard_coefficient, hard_reason FROM job_samples "
        "WHERE job_id = ? ORDER BY sample_id", [job_id])}


def timed_run(store, job_id: int, model: str, batch: int, device: str, engine: str, options: dict) -> dict:
    """One run in the background as the app starts it, its progress polled: the whole run's rate,
    and the steady rate after its first batch was written (the model loaded, the actors up)."""
    from autolabel.runner import start_run_in_background, wait_for_run
    from store.predictions import discard_predictions
    from store.runs import get_run

    discard_predictions(store, job_id)
    load = os.getloadavg()
    t = time.perf_counter()
    run = start_run_in_background(store, job_id, "prelabel", model=model, batch_size=batch, device=device,
                                  engine=engine, options=options)
    first = first_done = None
    while True:
        now = get_run(store, run.id)
        if first is None and now.done > 0:
            first, first_done = time.perf_counter() - t, now.done
        if not now.running:
            break
        time.sleep(0.1)
    run = wait_for_run(store, run.id, 60)
    seconds = time.perf_counter() - t
    if run.status != "done":
        raise SystemExit(f"{engine} run failed: {run.message}")
    steady = (run.total - first_done) / (seconds - first) if first is not None and seconds > first else None
    return {"engine": engine, "options": options, "seconds": round(seconds, 2), "images": run.total,
            "per_s": round(run.total / seconds, 1), "first_batch_s": round(first or 0.0, 2),
            "steady_per_s": round(steady, 1) if steady else None, "labeled": run.labeled,
            "load_before": [round(x, 2) for x in load], "load_after": [round(x, 2) for x in os.getloadavg()],
            "run": run.id, "message": run.message}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="write the figures here")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import ray
    import torch

    from autolabel.models import register_model
    from autolabel.ray_engine import code_env
    from store import Settings, open_store
    from store.jobs import create_job
    from store.labelset import Label, LabelSet

    work = Path(tempfile.mkdtemp(prefix="lp-ray-scale-"))
    ray_temp = tempfile.mkdtemp(prefix="lp-rs-", dir="/tmp")
    try:
        folder = work / "images"
        folder.mkdir()
        t = time.perf_counter()
        make_images(folder, args.images)
        made_s = time.perf_counter() - t
        store = open_store(Settings(data_dir=work / "data", demo=False))
        job = create_job(store, "scale", "image_classification", source=str(folder),
                         label_set=LabelSet(labels=[Label(n) for n in LABELS]))
        model = register_model(store, str(make_model(work / "vit"))).ref
        out: dict = {"images": args.images, "image_size": 64, "batch_size": args.batch_size, "device": args.device,
                     "model": "ViT 64 px, patch 8, 6 layers x 192 (random weights, from a config)",
                     "cpus": os.cpu_count(), "ray": ray.__version__, "torch": torch.__version__,
                     "python": platform.python_version(), "made_images_s": round(made_s, 1), "runs": {}}
        cpu = args.device == "cpu"
        threads = torch.get_num_threads()
        if cpu:
            torch.set_num_threads(1)
        out["runs"]["local"] = timed_run(store, job.id, model, args.batch_size, args.device, "local", {})
        want = predictions(store, job.id)
        if cpu:
            torch.set_num_threads(threads)
            out["runs"]["local_all_threads"] = timed_run(store, job.id, model, args.batch_size, "cpu", "local", {})
            out["runs"]["local_all_threads"]["threads"] = threads
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, namespace="labelport",
                 runtime_env=code_env(), _temp_dir=ray_temp, logging_level=logging.WARNING)
        same = True
        plan = [("ray1", 1), ("ray2", 2)] if cpu else [("ray_gpu", int(ray.cluster_resources().get("GPU", 1)))]
        for name, workers in plan:
            out["runs"][name] = timed_run(store, job.id, model, args.batch_size, args.device, "ray",
                                          {"ray_workers": workers, "ray_threads": 1})
            same = same and predictions(store, job.id) == want
        runs = out["runs"]
        out["local_per_s"] = runs["local"]["per_s"]
        if cpu:
            out["local_all_threads_per_s"] = runs["local_all_threads"]["per_s"]
            out["ray1_per_s"] = runs["ray1"]["per_s"]
            out["ray2_per_s"] = runs["ray2"]["per_s"]
            out["scaling_2_over_1"] = round(runs["ray2"]["per_s"] / runs["ray1"]["per_s"], 2)
            out["ray_overhead_1_worker"] = round(1 - runs["ray1"]["per_s"] / runs["local"]["per_s"], 3)
            out["ray_overhead_1_worker_s"] = round(runs["ray1"]["seconds"] - runs["local"]["seconds"], 1)
            if runs["ray1"]["steady_per_s"] and runs["ray2"]["steady_per_s"]:
                out["steady_scaling_2_over_1"] = round(runs["ray2"]["steady_per_s"] / runs["ray1"]["steady_per_s"], 2)
        else:
            out["ray_gpu_per_s"] = runs["ray_gpu"]["per_s"]
        out["same_predictions"] = same
        store.close()
    finally:
        try:
            ray.shutdown()
        finally:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(ray_temp, ignore_errors=True)

    print(f"{'run':<20}{'images/s':>10}{'seconds':>10}{'1st batch s':>13}{'steady/s':>10}   load before -> after")
    for name, r in out["runs"].items():
        print(f"{name:<20}{r['per_s']:>10}{r['seconds']:>10}{r['first_batch_s']:>13}{str(r['steady_per_s']):>10}   "
              f"{r['load_before'][0]} -> {r['load_after'][0]}")
    keys = [k for k in ("scaling_2_over_1", "steady_scaling_2_over_1", "ray_overhead_1_worker",
                        "ray_overhead_1_worker_s", "same_predictions") if k in out]
    print("  ".join(f"{k} {out[k]}" for k in keys))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
