"""Small builders for store tests: image bytes and files, jobs with samples (no fixtures here)."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200)]


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (16, 12), mode: str = "RGB", color=None,
                seed: int = 0) -> bytes:
    """A small image encoded as `fmt`; `seed` changes the pixels so files differ."""
    if color is None:
        color = COLORS[seed % len(COLORS)]
        if mode in ("L", "P", "1", "I;16"):
            color = (seed * 37) % 256
        elif mode == "LA":
            color = ((seed * 37) % 256, 200)
        elif mode == "RGBA":
            color = (*COLORS[seed % len(COLORS)], 128)
        elif mode == "CMYK":
            color = (seed % 256, 100, 50, 0)
    img = Image.new(mode, size, color)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def write_image(path: Path, fmt: str = "PNG", seed: int = 0, size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(fmt, size=size, seed=seed))
    return path


def make_image_folder(root: Path, classes: dict[str, int], top: int = 0) -> dict[str, list[Path]]:
    """`root/<class>/<class>_<i>.png` for each class; `top` unlabeled images directly in root."""
    out: dict[str, list[Path]] = {}
    seed = 0
    for cls, n in classes.items():
        out[cls] = [write_image(root / cls / f"{cls}_{i}.png", seed=(seed := seed + 1)) for i in range(n)]
    out[""] = [write_image(root / f"loose_{i}.png", seed=i) for i in range(top)]
    return out


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height, all black, streamed through zlib: a few tens of kB on
    disk, and never more than one row in memory while it is built."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = []
    block = row * 256
    done = 0
    while done < height:
        n = min(256, height - done)
        parts.append(comp.compress(block if n == 256 else row * n))
        done += n
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + \
        png_chunk(b"IEND", b"")


def new_job(store, name: str = "job", labels=("cat", "dog"), type_id: str = "image_classification", **kw):
    """A job on a new empty (upload) dataset."""
    from store.jobs import create_job
    from store.labelset import Label, LabelSet

    return create_job(store, name, type_id, label_set=LabelSet(labels=[Label(n) for n in labels]), **kw)


def upload_images(store, job_id: int, n: int, prefix: str = "img", start: int = 0) -> list[int]:
    """Upload n small PNGs named <prefix>_<i>.png; returns the new sample ids in upload order."""
    from store.imports import upload_files
    from store.samples import SampleQuery, query_samples

    before = {s.id for s in query_samples(store, job_id, SampleQuery(page_size=500)).items}
    rec = upload_files(store, job_id, [(f"{prefix}_{i}.png", image_bytes(seed=i)) for i in range(start, start + n)])
    assert rec.status == "succeeded", rec.errors
    after = query_samples(store, job_id, SampleQuery(page_size=500)).items
    return [s.id for s in after if s.id not in before]


def bulk_labeled(store, job, n: int, label: str = "cat", actor: str = "importer") -> list[int]:
    """n samples registered in one statement and labeled `label` with their history, as an import
    does (and benchmarks/store_scale.py): thousands of labeled samples in a second."""
    import json

    import pyarrow as pa

    from store.datasets import register_samples
    from store.imports import write_annotations_bulk
    from store.jobs import _add_to_jobs
    from store.types import Annotation

    table = pa.table({"uri": [f"store://bulk/{i}.png" for i in range(n)], "path": [f"bulk/{i}.png" for i in range(n)],
                      "size": pa.array([1] * n, pa.int64()), "meta": [json.dumps({"width": 1, "height": 1})] * n})
    ids = sorted(register_samples(store, job.dataset_id, table).values())
    with store.db.transaction() as cur:
        _add_to_jobs(cur, job.dataset_id, ids, job.id)
        write_annotations_bulk(cur, job.id, [(s, Annotation({"labels": [label]}, [label])) for s in ids], actor)
    return ids


def table_count(store, table: str) -> int:
    return store.db.scalar(f"SELECT count(*) FROM {table}")


def team_cats(store, password: str, n: int = 4, users: tuple[str, ...] = ("boss", "ann", "rev")):
    """Users (name@example.org, `password`) and boss's image classification job "team cats" of n
    images, labeled by the team "crew" (ann labeler, rev reviewer). Returns the job."""
    from store.team_jobs import make_team_job
    from store.teams import add_members, create_team
    from store.users import add_user

    for name in users:
        add_user(store, name, f"{name}@example.org", password, actor="cli")
    job = new_job(store, "team cats", labels=("cat", "dog"), actor="boss")
    upload_images(store, job.id, n, prefix="cat")
    team = create_team(store, "crew", owner="boss")
    add_members(store, team.id, [("ann@example.org", "Ann", "labeler"), ("rev@example.org", "Rev", "reviewer")],
                actor="boss")
    make_team_job(store, job.id, team.id, labelers=["ann@example.org"], reviewers=["rev@example.org"],
                  actor="boss", seed=1)
    return job
