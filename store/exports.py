"""Exporting a job's labels in a registered format (SPEC F7, CLI `export`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .core import Store
from .events import record_event
from .jobs import get_job


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: str
    samples: int


def export_job(store: Store, job_id: int, fmt: str, out: str | Path, actor: str | None = None,
               server_path: bool = True, split: str | None = None, seed: int = 0, predictions: bool = False,
               absolute_paths: bool = False, masks: bool = False) -> ExportResult:
    """Write the job in a format to `out`. A path the user named on the server (server_path) is
    an admin's, inside LABELPORT_EXPORT_ROOT, and never an existing file (store/access.py);
    server_path=False is for the app's own temporary folder of a download. `split`
    ("train=0.8,val=0.2") and `seed`: the labeled samples split, stratified by label
    (store/formats/splits.py). To Be Confirmed predictions are written only with `predictions`
    (marked as such where the format can say it); files are named relative to the file that names
    them unless `absolute_paths` (a download, server_path=False, names them absolutely: a path
    relative to the app's temporary folder would mean nothing where it is downloaded to); `masks`: segmentation masks too where the format has them (VOC)
    (store/formats/common.py export_options)."""
    from .access import check_export_target, require_job

    require_job(store, actor, job_id, "read")  # store/access.py decides
    if server_path:
        check_export_target(store, actor, out)
    from .formats import get_format
    from .formats.common import export_options, iter_job_samples
    from .formats.splits import assign_splits, export_splits, parse_split, stratum

    parts = parse_split(split)
    job = get_job(store, job_id)
    writer = get_format(fmt).writer_for(job.type)
    mapping = None
    if parts:
        mapping = assign_splits(((s.id, stratum(s)) for s in iter_job_samples(store, job_id, labeled_only=True)),
                                parts, int(seed))
    with export_splits(mapping), export_options(absolute_paths=absolute_paths or not server_path, predictions=predictions,
                                                       masks=masks):
        n = writer(store, job, Path(out))
    with store.db.transaction() as cur:
        record_event(cur, actor, "export", job_id, format=fmt, path=str(out), samples=n,
                     **({"split": split, "seed": int(seed)} if parts else {}),
                     **({"predictions": True} if predictions else {}))
    return ExportResult(fmt, str(Path(out).absolute()), n)
