"""`imagefolder`: one sub-folder per class (image classification)."""
from __future__ import annotations

from pathlib import Path

from ..core import Store
from .common import ImportItem
from ..types.base import IMAGE_EXTENSIONS
from .registry import Format, register
from .common import copy_sample_file, iter_job_samples, prepare_out_dir
from .splits import split_folder


def read_imagefolder(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    """Files in `<class>/` sub-folders get that class (the folder a file lies in: `train/cat/a.png`
    is a cat); files at the top are imported unlabeled."""
    src = path if path.startswith("s3://") else str(Path(path).expanduser().absolute())
    items, problems = [], []
    for uri, rel, _size in store.locations.list_source(src):
        if not rel.lower().endswith(IMAGE_EXTENSIONS) or Path(rel).name.startswith("."):
            if not Path(rel).name.startswith("."):
                problems.append(f"{rel}: skipped, not an image file")
            continue
        parts = rel.split("/")
        if len(parts) == 1:
            items.append(ImportItem(uri, rel))
        else:
            label = parts[-2]  # the folder the file lies in is its class
            items.append(ImportItem(uri, rel, {"labels": [label]}, [label]))
    return items, problems


def write_imagefolder(store: Store, job, out: Path) -> int:
    """Copy each labeled image into one folder per label (an image with two labels goes to both);
    with splits, `<split>/<label>/` (the layout torchvision's ImageFolder and Hugging Face's
    imagefolder read per split)."""
    out = prepare_out_dir(out)
    n = 0
    for sample in iter_job_samples(store, job.id, labeled_only=True):
        root = split_folder(out, sample)
        for label in sample.labels:
            dest = root / label / sample.name
            if dest.exists():
                dest = root / label / f"{sample.id}_{sample.name}"
            copy_sample_file(store, sample, dest)
        n += 1
    return n


register(Format("imagefolder", "Image folder", "One sub-folder per class, named after the class.",
                readers={"image_classification": read_imagefolder},
                writers={"image_classification": write_imagefolder}, example="imagefolder.txt"))
