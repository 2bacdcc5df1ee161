"""`csv`: `file,label` rows (one label a row; a file with two labels has two rows)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from .registry import Format, register
from .splits import split_field, split_names
from .common import export_ref, iter_job_samples, prepare_out_file, read_text_file, resolve_reference

FILE_COLUMNS = ("file", "path", "image", "source", "filename")


def read_file_label_csv(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    text, base = read_text_file(store, path)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationError(f"{path} is empty")
    header = [h.strip().lower() for h in rows[0]]
    if any(h in FILE_COLUMNS for h in header):
        file_col = next(i for i, h in enumerate(header) if h in FILE_COLUMNS)
        label_col = header.index("label") if "label" in header else (1 if len(header) > 1 else None)
        rows, first_line = rows[1:], 2
    else:
        file_col, label_col = 0, 1 if len(rows[0]) > 1 else None
        first_line = 1  # no header row: the first row is line 1
    items: dict[str, ImportItem] = {}
    problems: list[str] = []
    for n, row in enumerate(rows, start=first_line):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            ref = row[file_col]
            uri = resolve_reference(ref, base)
        except (IndexError, ValidationError) as e:
            problems.append(f"line {n}: {e if isinstance(e, ValidationError) else 'missing file column'}")
            continue
        item = items.get(uri)
        if item is None:
            item = items[uri] = ImportItem(uri, ref.strip().lstrip("./") or uri)
        label = row[label_col].strip() if label_col is not None and label_col < len(row) else ""
        if label:
            if item.annotation is None:
                item.annotation = {"labels": []}
            if label not in item.labels:
                item.labels.append(label)
                item.annotation["labels"].append(label)
    return list(items.values()), problems


def write_file_label_csv(store: Store, job, out: Path) -> int:
    """All samples: one row per label, and one row with an empty label for unlabeled files."""
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        splits = bool(split_names())
        w.writerow(["file", "label"] + (["split"] if splits else []))
        for sample in iter_job_samples(store, job.id):
            source = export_ref(store, sample.uri, out.parent)
            extra = [split_field(sample).get("split", "")] if splits else []
            for label in sample.labels or [""]:
                w.writerow([source, label] + extra)
            n += 1
    return n


register(Format("csv", "CSV", "Rows of file,label; paths absolute, s3:// or relative to the CSV.",
                readers={"image_classification": read_file_label_csv},
                writers={"image_classification": write_file_label_csv}, example="labels.csv"))
