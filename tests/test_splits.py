"""Train / validation / test splits of an export (issue 17, store/formats/splits.py)."""
from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from store.errors import ValidationError
from store.exports import export_job
from store.formats.splits import assign_splits, parse_split
from tests.factories import new_job, upload_images


def test_a_split_spec_is_checked():
    assert parse_split("train=0.8, val=0.1,test=0.1") == [("train", 0.8), ("val", 0.1), ("test", 0.1)]
    assert parse_split(None) == [] and parse_split(" ") == []
    for bad, why in (("train=0.8,val=0.1", "add up to 1"), ("train", "name=fraction"), ("train=x,val=1", "not a fraction"),
                     ("a=0.5,a=0.5", "named twice"), ("a=1.5,b=-0.5", "above 0"), ("../x=1", "name=fraction")):
        with pytest.raises(ValidationError, match=why):
            parse_split(bad)


def test_splits_are_stratified_by_label_and_follow_the_seed():
    samples = [(i, "cat") for i in range(80)] + [(100 + i, "dog") for i in range(20)]
    parts = parse_split("train=0.8,val=0.1,test=0.1")
    got = assign_splits(samples, parts, seed=7)
    by = Counter((("cat" if sid < 100 else "dog"), split) for sid, split in got.items())
    assert by == {("cat", "train"): 64, ("cat", "val"): 8, ("cat", "test"): 8,
                  ("dog", "train"): 16, ("dog", "val"): 2, ("dog", "test"): 2}
    assert assign_splits(samples, parts, seed=7) == got and assign_splits(samples, parts, seed=8) != got
    tiny = assign_splits([(1, "a"), (2, "a"), (3, "a")], parse_split("train=0.5,val=0.5"), seed=0)
    assert sorted(Counter(tiny.values()).values()) == [1, 2]  # largest remainders: every sample placed
    # labels with one sample each spread over the splits (the rounding carried from label to label)
    singles = assign_splits([(i, f"label{i}") for i in range(10)], parse_split("train=0.8,val=0.2"), seed=0)
    assert Counter(singles.values()) == {"train": 8, "val": 2}


def test_exports_lay_the_splits_out(store, tmp_path):
    from store.annotations import apply_labels

    job = new_job(store, "s", labels=("cat", "dog"))
    ids = upload_images(store, job.id, 10, prefix="p")
    apply_labels(store, job.id, ids[:6], ["cat"])
    apply_labels(store, job.id, ids[6:9], ["dog"])  # the last one stays unlabeled
    out = tmp_path / "c" / "labels.csv"
    export_job(store, job.id, "csv", out, split="train=0.7,val=0.3", seed=1)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert Counter((r["label"], r["split"]) for r in rows) == {
        ("cat", "train"): 4, ("cat", "val"): 2, ("dog", "train"): 2, ("dog", "val"): 1, ("", ""): 1}
    man = tmp_path / "m" / "x.manifest"
    export_job(store, job.id, "manifest", man, split="train=0.7,val=0.3", seed=1)
    rows = [json.loads(ln) for ln in man.read_text(encoding="utf-8").splitlines()]
    assert Counter((r["usage"], r.get("split")) for r in rows) == {("TRAIN", "train"): 6, ("EVAL", "val"): 3,
                                                                   ("INFERENCE", None): 1}
