"""Train / validation / test splits of an export (issue 17): `--split train=0.8,val=0.1,test=0.1
--seed N` on every export and on publish.

The labeled samples are shuffled with the seed and cut by the fractions, per label (stratified: a
sample's first label, or its type's main label, decides its group), so each split holds each label
in proportion; the same job, spec and seed give the same splits. Writers ask `split_of(sample)`
("train" when the export has no splits) and lay the splits out as their format does: VOC
ImageSets, YOLO folders, a `split` column (CSV, Parquet) or field (JSON lines, manifests, Label
Studio's task data), one file per split (COCO, CoNLL: `per_split`), a folder per split (image
folders, MOT: `split_folder`), CVAT's `subset`.
"""
from __future__ import annotations

import math
import random
import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ValidationError

DEFAULT = "train"
MAX_SPLITS = 10
_SPLITS: ContextVar[dict | None] = ContextVar("labelport_export_splits", default=None)


def parse_split(spec: str | None) -> list[tuple[str, float]]:
    """'train=0.8,val=0.1,test=0.1' -> [("train", 0.8), ...]; fractions in (0, 1], adding up to 1
    (within 0.001); names are letters, digits, '-' and '_'."""
    if spec is None or not str(spec).strip():
        return []
    parts = []
    for item in str(spec).split(","):
        name, eq, frac = item.strip().partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
            raise ValidationError(f"split {item.strip()[:40]!r}: write name=fraction, e.g. train=0.8,val=0.2")
        try:
            f = float(frac)
        except ValueError:
            raise ValidationError(f"split {name!r}: {frac.strip()[:20]!r} is not a fraction") from None
        if not 0 < f <= 1:
            raise ValidationError(f"split {name!r}: the fraction must be above 0 and at most 1, got {f:g}")
        parts.append((name, f))
    names = [n for n, _ in parts]
    if len(set(names)) != len(names):
        raise ValidationError("a split is named twice")
    if len(parts) > MAX_SPLITS:
        raise ValidationError(f"at most {MAX_SPLITS} splits")
    total = sum(f for _, f in parts)
    if abs(total - 1) > 1e-3:
        raise ValidationError(f"the split fractions add up to {total:g}: they must add up to 1")
    return parts


def assign_splits(samples: Iterable[tuple[int, str]], parts: list[tuple[str, float]], seed: int = 0
                  ) -> dict[int, str]:
    """{sample id: split} for (sample id, stratum) pairs: each stratum shuffled with the seed and
    cut by the fractions (largest remainders, so the counts add up). What a stratum's rounding
    gives a split too many or too few is carried to the next stratum, so small strata (a label
    with one sample) spread over the splits instead of all landing in the first."""
    groups: dict[str, list[int]] = {}
    for sid, stratum in samples:
        groups.setdefault(stratum or "", []).append(int(sid))
    out: dict[int, str] = {}
    carry = [0.0] * len(parts)
    for stratum in sorted(groups):
        ids = sorted(groups[stratum])
        random.Random(f"{seed}:{stratum}").shuffle(ids)
        exact = [f * len(ids) + c for (_, f), c in zip(parts, carry)]
        counts = [max(0, math.floor(x)) for x in exact]
        for i in sorted(range(len(parts)), key=lambda i: exact[i] - counts[i], reverse=True)[:len(ids) - sum(counts)]:
            counts[i] += 1
        carry = [x - n for x, n in zip(exact, counts)]
        start = 0
        for (name, _), n in zip(parts, counts):
            for sid in ids[start:start + n]:
                out[sid] = name
            start += n
    return out


@contextmanager
def export_splits(mapping: dict[int, str] | None):
    token = _SPLITS.set(mapping)
    try:
        yield
    finally:
        _SPLITS.reset(token)


def split_of(sample) -> str:
    """The split of a sample in the export being written ("train" without splits)."""
    mapping = _SPLITS.get()
    return mapping.get(sample.id, DEFAULT) if mapping else DEFAULT


def split_names() -> list[str]:
    """The splits of the export being written, in the order given ([] without splits)."""
    mapping = _SPLITS.get()
    return list(dict.fromkeys(mapping.values())) if mapping else []


def in_split(sample, split: str | None) -> bool:
    """Whether a sample belongs in the part of an export written for `split` (None: the whole
    export, without splits). Samples outside the splits (unlabeled, predictions) belong to none."""
    if split is None:
        return True
    mapping = _SPLITS.get()
    return bool(mapping) and mapping.get(sample.id) == split


def per_split(out: Path, write: Callable[[Path, str | None], int], suffix: str = "") -> int:
    """Formats of one file per split (COCO, CoNLL): `write(out, None)` without splits, else
    `write(<out stem>_<split><out's suffix, or this one>, split)` for each split; the samples written."""
    names = split_names()
    if not names:
        return write(out, None)
    return sum(write(out.with_name(f"{out.stem}_{name}{out.suffix or suffix}"), name) for name in names)


def split_folder(out: Path, sample) -> Path:
    """Folder layouts (image folders, MOT): `out/<split>/` for a sample of an export with splits."""
    name = split_field(sample).get("split")
    return out / name if name else out


def stratum(sample) -> str:
    """What a sample is stratified by: its first label (none: "")."""
    labels = list(getattr(sample, "labels", None) or [])
    return str(labels[0]) if labels else ""


USAGE = {"train": "TRAIN", "val": "EVAL", "validation": "EVAL", "test": "TEST"}


def split_field(sample) -> dict:
    """{"split": name} for a row of a sample in an export with splits, else {}."""
    mapping = _SPLITS.get()
    name = mapping.get(sample.id) if mapping else None
    return {"split": name} if name else {}


def usage_of(sample, labeled: bool) -> str:
    """A manifest row's usage: INFERENCE unlabeled; TRAIN, EVAL or TEST by the sample's split."""
    if not labeled:
        return "INFERENCE"
    return USAGE.get(split_of(sample), "TRAIN") if _SPLITS.get() else "TRAIN"
