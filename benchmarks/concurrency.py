#!/usr/bin/env python3
"""Team labeling under concurrency, over HTTP, against the real app.

    python benchmarks/concurrency.py --json OUT.json [--labelers 20] [--per-labeler 500]

Builds a store in a temporary folder with store/ functions: the users (a creator, a reviewer and
N labelers, Argon2 hashes), a text classification job of N x per-labeler texts (one uploaded
.txt), a team and a team labeling job that assigns every sample evenly (per-labeler each).
Closes the store and starts the app (``python app.py --data-dir ... --no-demo``). Then N labeler
threads, each with its own keep-alive httpx client logged in by POST /api/v1/login, save their
assigned samples one by one as fast as they can (PUT /jobs/{id}/my-samples/{sid}/annotation)
while a reviewer thread approves what waits (GET /jobs/{id}/review, POST /jobs/{id}/review/{sid}).
After the app stops, the store is opened and checked: every acknowledged save (an HTTP 200)
must be there exactly once, as an assignment of its labeler, To Be Reviewed or Approved, with
the label that was sent.

Reports labels_per_s (acknowledged saves over the labeling phase's wall time), save_p50_ms and
save_p95_ms (a save as the client sees it), lost (acknowledged saves missing or different in the
store), duplicated (samples with more than one assignment, or saved twice), errors (non-200
answers). Targets: p95 < 300 ms, lost = 0, duplicated = 0. The app and the client threads share
the machine's cores: on 2 cores the clients take a good part of them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402

PASSWORD = "bench-password-1"
LABELS = ["positive", "negative", "neutral"]
TARGETS = {"save_p95_ms": 300, "lost": 0, "duplicated": 0}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def email(name: str) -> str:
    return f"{name}@bench.example.org"


def build_store(data_dir: Path, labelers: list[str], per_labeler: int) -> int:
    from store import Settings, open_store
    from store.imports import upload_files
    from store.jobs import create_job
    from store.labelset import parse_labels_argument
    from store.team_jobs import make_team_job
    from store.teams import add_members, create_team
    from store.users import add_user, hash_password

    store = open_store(Settings(data_dir=data_dir, demo=False))
    try:
        h = hash_password(PASSWORD)
        for name in ["creator", "reviewer", *labelers]:
            add_user(store, name, email(name), password_hash=h, actor="cli")
        job = create_job(store, "concurrency", "text_classification", label_set=parse_labels_argument(",".join(LABELS)),
                         actor="creator")
        n = len(labelers) * per_labeler
        text = "\n".join(f"review number {i}: the product was fine, more or less" for i in range(n))
        upload_files(store, job.id, [("reviews.txt", text.encode())], actor="creator")
        team = create_team(store, "bench team", owner="creator")
        add_members(store, team.id, [(email(x), "", "labeler") for x in labelers]
                    + [(email("reviewer"), "", "reviewer")], actor="creator")
        counts = make_team_job(store, job.id, team.id, labelers=[email(x) for x in labelers],
                               reviewers=[email("reviewer")], actor="creator", seed=0)
        assert sorted(set(counts.values())) == [per_labeler], counts
        return job.id
    finally:
        store.close()


def login(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url + "/api/v1", timeout=60,
                     limits=httpx.Limits(max_connections=2, max_keepalive_connections=2))
    r = c.post("/login", json={"username": user, "password": PASSWORD})
    r.raise_for_status()
    return c


class Labeler(threading.Thread):
    def __init__(self, url: str, user: str, job_id: int, start: threading.Barrier, seed: int):
        super().__init__(name=f"labeler-{user}", daemon=True)
        self.client = login(url, user)
        self.user, self.job_id, self.start_barrier = user, job_id, start
        self.rng = random.Random(seed)
        page = self.client.get(f"/jobs/{job_id}/my-samples", params={"page_size": 500}).json()
        self.ids = [it["sample_id"] for it in page["items"]]
        p = 2
        while len(self.ids) < page["total"]:
            more = self.client.get(f"/jobs/{job_id}/my-samples", params={"page_size": 500, "page": p}).json()
            self.ids += [it["sample_id"] for it in more["items"]]
            p += 1
        self.acked: list[tuple[int, str]] = []
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self):
        self.start_barrier.wait()
        for sid in self.ids:
            label = self.rng.choice(LABELS)
            t = time.perf_counter()
            try:
                r = self.client.put(f"/jobs/{self.job_id}/my-samples/{sid}/annotation",
                                    json={"annotation": {"labels": [label]}})
            except httpx.HTTPError as e:
                self.errors.append(f"{sid}: {e!r}")
                continue
            self.latencies.append((time.perf_counter() - t) * 1000)
            if r.status_code == 200:
                self.acked.append((sid, label))
            else:
                self.errors.append(f"{sid}: {r.status_code} {r.text[:200]}")


class Reviewer(threading.Thread):
    def __init__(self, url: str, job_id: int, start: threading.Barrier, labelers: list[Labeler]):
        super().__init__(name="reviewer", daemon=True)
        self.client = login(url, "reviewer")
        self.job_id, self.start_barrier, self.labelers = job_id, start, labelers
        self.approved = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self):
        self.start_barrier.wait()
        while True:
            done = not any(lab.is_alive() for lab in self.labelers)
            queue = self.client.get(f"/jobs/{self.job_id}/review", params={"page_size": 100}).json()
            for it in queue["items"]:
                t = time.perf_counter()
                r = self.client.post(f"/jobs/{self.job_id}/review/{it['sample_id']}",
                                     json={"labeler": it["email"], "approve": True, "rating": "A"})
                self.latencies.append((time.perf_counter() - t) * 1000)
                if r.status_code == 200:
                    self.approved += 1
                else:
                    self.errors.append(f"review {it['sample_id']}: {r.status_code} {r.text[:200]}")
            if done and not queue["items"]:
                return
            if not queue["items"]:
                time.sleep(0.05)


def check_store(data_dir: Path, job_id: int, labelers: list[Labeler]) -> dict:
    from store import Settings, open_store

    store = open_store(Settings(data_dir=data_dir, demo=False))
    try:
        rows = store.db.fetchall("SELECT sample_id, email, state, labels FROM assignments WHERE job_id = ?", [job_id])
    finally:
        store.close()
    per_sample = Counter(r[0] for r in rows)
    by_key = {(r[0], r[1]): (r[2], list(r[3])) for r in rows}
    lost = 0
    saved = Counter()
    for lab in labelers:
        for sid, label in lab.acked:
            saved[sid] += 1
            state, labels = by_key.get((sid, email(lab.user)), (None, None))
            if state not in ("to_be_reviewed", "approved") or labels != [label]:
                lost += 1
    duplicated = sum(n - 1 for n in per_sample.values() if n > 1) + sum(n - 1 for n in saved.values() if n > 1)
    states = Counter(r[2] for r in rows)
    return {"lost": lost, "duplicated": duplicated, "states": dict(states)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labelers", type=int, default=20)
    ap.add_argument("--per-labeler", type=int, default=500)
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = ap.parse_args(argv)

    from tests.app_server import AppServer

    tmp = Path(tempfile.mkdtemp(prefix="labelport-concurrency-"))
    names = [f"lab{i:02d}" for i in range(1, args.labelers + 1)]
    t0 = time.perf_counter()
    job_id = build_store(tmp / "data", names, args.per_labeler)
    build_s = time.perf_counter() - t0
    server = AppServer(tmp / "data", tmp / "server").start()
    try:
        barrier = threading.Barrier(args.labelers + 2)
        labelers = [Labeler(server.url, n, job_id, barrier, seed=i) for i, n in enumerate(names)]
        reviewer = Reviewer(server.url, job_id, barrier, labelers)
        for th in [*labelers, reviewer]:
            th.start()
        barrier.wait()
        t = time.perf_counter()
        for lab in labelers:
            lab.join()
        label_s = time.perf_counter() - t
        reviewer.join(timeout=600)
        review_s = time.perf_counter() - t
        for c in [lab.client for lab in labelers] + [reviewer.client]:
            c.close()
    finally:
        server.stop()
    log = server.log(tail=10**6)
    checked = check_store(tmp / "data", job_id, labelers)
    latencies = [x for lab in labelers for x in lab.latencies]
    acked = sum(len(lab.acked) for lab in labelers)
    errors = [e for lab in labelers for e in lab.errors] + reviewer.errors
    out = {
        "labelers": args.labelers, "per_labeler": args.per_labeler, "samples": args.labelers * args.per_labeler,
        "acknowledged": acked, "labels_per_s": round(acked / label_s, 1) if label_s else None,
        "save_p50_ms": round(percentile(latencies, 50), 1), "save_p95_ms": round(percentile(latencies, 95), 1),
        "save_max_ms": round(max(latencies), 1) if latencies else None,
        "lost": checked["lost"], "duplicated": checked["duplicated"], "errors": len(errors),
        "error_examples": errors[:5], "approved": reviewer.approved,
        "review_p50_ms": round(percentile(reviewer.latencies, 50), 1),
        "review_p95_ms": round(percentile(reviewer.latencies, 95), 1),
        "labeling_s": round(label_s, 2), "with_review_s": round(review_s, 2), "build_s": round(build_s, 2),
        "final_states": checked["states"], "cpus": os.cpu_count(), "server_traceback": "Traceback" in log,
        "targets": TARGETS,
    }
    out["meets_targets"] = (out["save_p95_ms"] < TARGETS["save_p95_ms"] and out["lost"] == 0
                            and out["duplicated"] == 0)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
