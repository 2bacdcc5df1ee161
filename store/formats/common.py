"""Helpers shared by format readers and writers."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..core import Store
from ..errors import NotFound, ValidationError
from ..samples import SampleView, _VIEW_COLUMNS, _view


@dataclass
class ImportItem:
    """One sample an importer found: where its file is, and its annotation if the format has one."""
    uri: str
    path: str
    annotation: dict | None = None
    labels: list[str] = field(default_factory=list)  # names the annotation uses (to extend the label set)
    meta: dict | None = None  # what a check already found (image size, mode, format)
    text: str | None = None  # a text record (text types): the sample's text
    # what the file says of its labels ({name: {"color": "#rrggbb", "attributes": {name: [values]}}}):
    # a label the set lacks is added with them
    label_defs: dict[str, dict] | None = None


def resolve_reference(ref: str, base: Path | None) -> str:
    """A file named in a csv or manifest: s3:// URL, absolute path, or relative to `base`."""
    ref = ref.strip()
    if not ref:
        raise ValidationError("empty file reference")
    if ref.startswith(("s3://", "store://")):
        return ref
    if ref.startswith("file://"):
        ref = ref[len("file://"):]
    path = Path(ref).expanduser()
    if not path.is_absolute():
        if base is None:
            raise ValidationError(f"relative path {ref!r} needs a base folder")
        path = base / path
    return str(Path(_normalize(path)))


def _normalize(path: Path) -> str:
    # collapse `..` lexically without resolving symlinks: datasets of symlinks keep their names
    import os

    return os.path.normpath(str(path))


def read_text_file(store: Store, path: str) -> tuple[str, Path | None]:
    """The text of a local file or s3:// object and the folder relative paths start from."""
    if path.startswith("s3://"):
        data = store.locations.read(path)
        base = None
    else:
        p = Path(path).expanduser().absolute()
        if not _is_upload(p):
            store.locations.check_local_allowed(path)
        if not p.is_file():
            raise NotFound(f"file not found: {path}")
        data = p.read_bytes()
        base = p.parent
    try:
        return data.decode("utf-8-sig"), base
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text") from None


def _is_upload(path: Path) -> bool:
    """Files the web UI received (Gradio keeps uploads in its temp folder)."""
    import os
    import tempfile

    roots = [os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")]
    return any(str(path.resolve()).startswith(str(Path(r).resolve()) + os.sep) for r in roots if r)


_SNAPSHOTS: ContextVar[dict] = ContextVar("labelport_job_snapshots", default={})
# Inside export_job (issue 17): file references relative to the file written unless absolute paths
# were asked for, and To Be Confirmed predictions left out unless they were asked for.
_EXPORT: ContextVar[dict] = ContextVar("labelport_export_options", default={})


@contextmanager
def export_options(absolute_paths: bool = False, predictions: bool = False, masks: bool = False):
    token = _EXPORT.set({"absolute_paths": absolute_paths, "predictions": predictions, "masks": masks})
    try:
        yield
    finally:
        _EXPORT.reset(token)


def export_ref(store: Store, uri: str, base: Path) -> str:
    """How an export names a sample's file: relative to `base` (the folder of the file that names
    it) for a local file, in an export; else (s3://, store://, outside an export, or absolute paths
    asked for) the file's public URI."""
    opts = _EXPORT.get()
    if opts and not opts.get("absolute_paths"):
        local = store.locations.local_path(uri)
        if local is not None:
            import os

            return Path(os.path.relpath(os.path.abspath(local), os.path.abspath(base))).as_posix()
    return store.locations.public_uri(uri)


def made_by(sample: SampleView) -> dict:
    """Who made a sample's labels, as an export says it: a person; a model whose labels a person
    confirmed ({"annotated-by": model, "confirmed-by": user}); a model's prediction not yet
    confirmed (exported only when asked for: {"annotated-by": model, "prediction": True})."""
    if sample.status == "to_be_confirmed":
        return {"annotated-by": sample.model or "model", "prediction": True}
    if sample.from_inference and sample.model:
        return {"annotated-by": sample.model, "confirmed-by": sample.labeled_by or "human"}
    return {"annotated-by": sample.labeled_by or "human"}


def masks_asked() -> bool:
    """The export was asked to write segmentation masks too (VOC's --masks)."""
    return bool(_EXPORT.get().get("masks"))


def predictions_included() -> bool:
    return bool(_EXPORT.get().get("predictions"))


def _unless_prediction(sample: SampleView) -> SampleView:
    """In an export without predictions, a To Be Confirmed sample is written as unlabeled."""
    opts = _EXPORT.get()
    if opts and not opts.get("predictions") and sample.status == "to_be_confirmed":
        from dataclasses import replace

        return replace(sample, labels=[], annotation=None)
    return sample


@contextmanager
def job_snapshot(job_id: int, samples: Callable[[], Iterable[SampleView]]):
    """Inside the block, iter_job_samples(store, job_id) yields `samples()` (a frozen copy of the
    job's samples, e.g. a published version read back from its parquet) instead of the live rows:
    every writer then exports the snapshot unchanged (store/versions.py)."""
    token = _SNAPSHOTS.set({**_SNAPSHOTS.get(), job_id: samples})
    try:
        yield
    finally:
        _SNAPSHOTS.reset(token)


def iter_job_samples(store: Store, job_id: int, labeled_only: bool = False, chunk: int = 5000
                     ) -> Iterator[SampleView]:
    """Every sample of a job in id order, read in chunks (keyset paging, flat memory); inside
    job_snapshot(job_id, ...), the snapshot's samples."""
    snapshot = _SNAPSHOTS.get().get(job_id)
    if snapshot is not None:
        yield from (_unless_prediction(s) for s in snapshot() if not labeled_only or s.status == "labeled")
        return
    last = -1
    cond = "AND js.status = 'labeled'" if labeled_only else ""
    while True:
        rows = store.db.fetchall(
            f"SELECT {_VIEW_COLUMNS} FROM job_samples js JOIN samples s ON s.id = js.sample_id "
            f"WHERE js.job_id = ? AND js.sample_id > ? {cond} ORDER BY js.sample_id LIMIT ?", [job_id, last, chunk])
        if not rows:
            return
        for r in rows:
            yield _unless_prediction(_view(r))
        last = rows[-1][0]


def copy_sample_file(store: Store, sample: SampleView, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = store.locations.local_path(sample.uri)
    if local is not None and local.is_file():
        shutil.copyfile(local, dest)
    else:
        dest.write_bytes(store.locations.read(sample.uri))


def prepare_out_dir(out: Path) -> Path:
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} exists and is a file; this format writes a folder")
    if out.exists() and any(out.iterdir()):
        raise ValidationError(f"{out} is not empty: export into a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def prepare_out_file(out: Path) -> Path:
    out = Path(out).expanduser().absolute()
    if out.is_dir():
        raise ValidationError(f"{out} is a folder; this format writes a file")
    if out.exists() or out.is_symlink():
        raise ValidationError(f"{out} exists already: an export never overwrites a file; give a new path")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
