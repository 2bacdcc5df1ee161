#!/usr/bin/env python3
"""Voice-activity pre-segmentation (the speech paragraph page's "Detect speech"): quality and speed.

    python benchmarks/vad.py --json OUT.json

On ../shared/data/digit_sequences (30 WAV files of 4-8 spoken FSDD digits separated by silence,
184 ground-truth segments in segments.jsonl), builds a store in a temporary folder, creates a
speech paragraph job on that folder (files read in place) and runs store.audio.detect_speech
(silero-vad, offline JIT weights from the installed package) on every file. Reports:

- precision, recall, f1: a detected segment matches a ground-truth segment when their IoU is
  >= 0.5 (one-to-one, greedy by IoU); precision = matches / detected, recall = matches / truth;
- audio_s_per_s: seconds of audio processed per wall-clock second (reading the file + VAD; the
  model is loaded once before timing; load_s says how long that took);
- default_params: the same scores with silero-vad's own default parameters.

The parameters in store.audio.VAD_PARAMS (threshold 0.3, min_silence_duration_ms 30,
speech_pad_ms 30, min_speech_duration_ms 120) were chosen by a small grid search on this same
set (threshold 0.3/0.5/0.7 x min_silence 30/60/100 ms x pad 0/30/60 ms x min_speech 60/120 ms),
so the tuned F1 is an optimistic, in-sample number; default_params is the untuned baseline.
Target: f1 >= 0.9. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402
from store import audio, jobs  # noqa: E402
from store.formats.common import iter_job_samples  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "digit_sequences"
SILERO_DEFAULTS = dict(threshold=0.5, min_speech_duration_ms=250, min_silence_duration_ms=100, speech_pad_ms=30)


def iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def match(pred: list, truth: list, threshold: float = 0.5) -> int:
    pairs = sorted(((iou(p, t), i, j) for i, p in enumerate(pred) for j, t in enumerate(truth)), reverse=True)
    used_p, used_t, n = set(), set(), 0
    for v, i, j in pairs:
        if v < threshold:
            break
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            n += 1
    return n


def scores(tp: int, n_pred: int, n_truth: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_truth if n_truth else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def run(st, job_id: int, truth: dict, **params) -> tuple[dict, float, float]:
    tp = n_pred = n_truth = 0
    audio_s = busy = 0.0
    for s in iter_job_samples(st, job_id):
        t0 = time.perf_counter()
        found = audio.detect_speech(st, s.id, **params)
        busy += time.perf_counter() - t0
        audio_s += s.meta["duration"]
        gt = truth[Path(s.path).name]
        tp += match(found, gt)
        n_pred += len(found)
        n_truth += len(gt)
    return scores(tp, n_pred, n_truth), audio_s, busy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"{DATA} is absent: nothing to measure")
        return 2
    rows = [json.loads(line) for line in (DATA / "segments.jsonl").read_text().splitlines() if line.strip()]
    truth = {Path(r["file"]).name: [(s["start"], s["end"]) for s in r["segments"]] for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        st = store.open_store(store.Settings(data_dir=Path(tmp) / "data", demo=False))
        try:
            job = jobs.create_job(st, "vad", "speech_paragraph", source=str(DATA / "wavs"))
            t0 = time.perf_counter()
            st.caches.vad.load()  # the store's silero-vad model (store/caches.py)
            load_s = time.perf_counter() - t0
            tuned, audio_s, busy = run(st, job.id, truth)
            default, _, _ = run(st, job.id, truth, **SILERO_DEFAULTS)
        finally:
            st.close()
    out = {**tuned, "audio_s_per_s": round(audio_s / busy, 1), "files": len(rows),
           "truth_segments": sum(len(v) for v in truth.values()), "audio_s": round(audio_s, 1),
           "load_s": round(load_s, 2), "iou_threshold": 0.5, "params": audio.VAD_PARAMS,
           "default_params": {**default, "params": SILERO_DEFAULTS},
           "dataset": "../shared/data/digit_sequences (30 files, FSDD-derived)",
           "note": "params tuned on this same set (in-sample); default_params is the untuned baseline"}
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
