"""The "Add data / Export" panel every labeling page shows (F2.1, F2.2, F7, F1.6): upload files,
import a folder or S3 prefix, import an annotation file in the type's formats, synchronize, the
import history, export in the type's formats (download), and published versions: publish, the
versions table, export of a version as it was published."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.common import AppContext, UserError, acting_user, esc, user_errors
from store.errors import StoreError
from store.exports import export_job
from store.objects import safe_file_name
from store.formats import FORMATS, formats_for
from store.imports import import_format, import_location, list_imports, upload_files
from store.jobs import get_job, synchronize
from store.types import get_type
from store.versions import export_version, list_versions, publish_version


# formats that write one file get its usual extension; the others write a folder (downloaded as .zip)
FILE_EXTENSIONS = {"manifest": ".manifest", "csv": ".csv", "coco": ".json", "jsonl": ".jsonl", "conll": ".conll",
                   "parquet": ".parquet"}


def history_frame(ctx: AppContext, job_id) -> pd.DataFrame:
    cols = ["Time", "Mode", "Format", "Path", "Found", "Imported", "Labeled", "Status", "Errors"]
    if job_id is None:
        return pd.DataFrame(columns=cols)
    rows = [[r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.mode, r.format or "", r.path or "", r.found,
             r.imported, r.labeled, r.status, "; ".join(r.errors[:5])] for r in list_imports(ctx.store, job_id, actor=acting_user())]
    return pd.DataFrame(rows, columns=cols)


VERSION_COLUMNS = ["Version", "Created", "By", "Samples", "Labeled", "Per label", "Description", "Location"]


def versions_frame(ctx: AppContext, job_id) -> pd.DataFrame:
    if job_id is None:
        return pd.DataFrame(columns=VERSION_COLUMNS)
    rows = [[v.number, v.created_at.strftime("%Y-%m-%d %H:%M:%S"), v.created_by or "", v.samples, v.labeled,
             ", ".join(f"{k}: {n}" for k, n in v.label_counts.items()), v.description, v.location]
            for v in list_versions(ctx.store, job_id, actor=acting_user())]
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def version_choices(ctx: AppContext, job_id) -> list[tuple[str, int]]:
    if job_id is None:
        return []
    return [(f"v{v.number} ({v.created_at:%Y-%m-%d %H:%M}, {v.labeled}/{v.samples} labeled)", v.number)
            for v in list_versions(ctx.store, job_id, actor=acting_user())]


def _export_to_download(folder: Path, tmp: Path, stem: str, written: Path) -> str:
    """The file to download: the export itself, or a zip of its folder (a layout, or files beside it)."""
    if written.is_dir() or len(list(folder.iterdir())) > 1:
        return shutil.make_archive(str(tmp / stem), "zip", folder)
    return str(written)


def _report(rec) -> None:
    text = f"Import {rec.status}: {rec.found} found, {rec.imported} imported, {rec.labeled} labeled"
    if rec.errors:
        gr.Warning(esc(text + ". " + "; ".join(rec.errors[:3])))
    else:
        gr.Info(text)


class DataPanel:
    """One panel for every labeling page, shown below the open job's page and filled for its
    type when a job opens (`load`): the files its type takes, the formats it reads and writes.
    `events`: the imports, after which the open job's page refreshes its view (ui.py routes
    them to that page)."""

    def __init__(self, ctx: AppContext, current_job: gr.State, prefix: str = ""):
        self.ctx, self.store = ctx, ctx.store
        with gr.Accordion("Add data", open=False, elem_id=f"{prefix}add-data"):
            with gr.Tab("Upload files"):
                self.up_files = gr.File(file_count="multiple", label="Files", elem_id=f"{prefix}upload-files")
                up_btn = gr.Button("Upload", elem_id=f"{prefix}upload-submit")
            with gr.Tab("Folder or S3 prefix"):
                loc = gr.Textbox(label="Local folder on the server, or s3://bucket/prefix/",
                                 elem_id=f"{prefix}import-location")
                loc_btn = gr.Button("Import files", elem_id=f"{prefix}import-location-submit")
            with gr.Tab("Annotation file (import as labeled)"):
                self.fmt = gr.Dropdown([], label="Format", elem_id=f"{prefix}import-format")
                fmt_path = gr.Textbox(label="Path of the file or folder (local or s3://)",
                                      elem_id=f"{prefix}import-path")
                fmt_file = gr.File(label="…or upload the annotation file", file_count="single")
                self.fmt_example = gr.Code("", label="Example", interactive=False)
                fmt_btn = gr.Button("Import", elem_id=f"{prefix}import-format-submit")
            sync_btn = gr.Button("Synchronize new data from the dataset's source", elem_id=f"{prefix}sync")
            self.history = gr.Dataframe(interactive=False, label="Import history", elem_id=f"{prefix}import-history")
        with gr.Accordion("Export", open=False, elem_id=f"{prefix}export"):
            with gr.Row():
                self.out_fmt = gr.Dropdown([], label="Format", elem_id=f"{prefix}export-format")
                out_btn = gr.Button("Export", elem_id=f"{prefix}export-submit", scale=0, min_width=120)
            with gr.Row():
                out_split = gr.Textbox(label="Splits (optional, stratified by label)", max_lines=1,
                                       placeholder="train=0.8,val=0.1,test=0.1", elem_id=f"{prefix}export-split")
                out_seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, scale=0, min_width=100,
                                     elem_id=f"{prefix}export-seed")
                out_preds = gr.Checkbox(value=False, label="Include To Be Confirmed predictions (marked as the model's)",
                                        elem_id=f"{prefix}export-predictions")
            out_file = gr.File(label="Download", interactive=False, elem_id=f"{prefix}export-file")
        with gr.Accordion("Versions", open=False, elem_id=f"{prefix}versions") as versions_acc:
            gr.Markdown("Publish freezes the job's samples and labels as the next numbered version in the object "
                        "storage (`data.parquet`, `manifest.jsonl`, training-ready `<split>.parquet` files that "
                        "`datasets.load_dataset` reads with typed features, a dataset card `README.md`); a version "
                        "never changes. Exports of a version hold its labels as they were published.")
            with gr.Row():
                pub_desc = gr.Textbox(label="Description of the new version", elem_id=f"{prefix}version-description",
                                      scale=3)
                pub_btn = gr.Button("Publish", variant="primary", elem_id=f"{prefix}version-publish", scale=0,
                                    min_width=120)
            with gr.Row():
                pub_split = gr.Textbox(label="Splits of the training files (optional, stratified by label)",
                                       max_lines=1, placeholder="train=0.8,val=0.1,test=0.1",
                                       elem_id=f"{prefix}version-split")
                pub_seed = gr.Number(value=0, precision=0, minimum=0, label="Seed", scale=0, min_width=100,
                                     elem_id=f"{prefix}version-seed")
                pub_ref = gr.Checkbox(value=False, label="Name images and audio by URI (default: embed their bytes)",
                                      elem_id=f"{prefix}version-reference")
            versions = gr.Dataframe(interactive=False, label="Published versions", elem_id=f"{prefix}versions-table",
                                    value=pd.DataFrame(columns=VERSION_COLUMNS))
            with gr.Row():
                ver_pick = gr.Dropdown([], label="Version", elem_id=f"{prefix}version-pick")
                self.ver_fmt = gr.Dropdown([], label="Format", elem_id=f"{prefix}version-format")
                ver_btn = gr.Button("Export version", elem_id=f"{prefix}version-export", scale=0, min_width=140)
            ver_file = gr.File(label="Download", interactive=False, elem_id=f"{prefix}version-file")
        self.events = [
            up_btn.click(self.on_upload, [current_job, self.up_files], [self.history, self.up_files]),
            loc_btn.click(self.on_location, [current_job, loc], [self.history]),
            fmt_btn.click(self.on_format, [current_job, self.fmt, fmt_path, fmt_file], [self.history]),
            sync_btn.click(self.on_sync, [current_job], [self.history]),
        ]
        self.fmt.change(format_example, [self.fmt], [self.fmt_example])
        out_btn.click(self.on_export, [current_job, self.out_fmt, out_split, out_seed, out_preds], [out_file])
        versions_acc.expand(self.on_versions, [current_job], [versions, ver_pick])
        current_job.change(self.on_versions, [current_job], [versions, ver_pick])
        pub_btn.click(self.on_publish, [current_job, pub_desc, pub_split, pub_seed, pub_ref],
                      [versions, ver_pick, pub_desc])
        ver_btn.click(self.on_version_export, [current_job, ver_pick, self.ver_fmt], [ver_file])

    @property
    def outputs(self) -> list:
        return [self.history, self.up_files, self.fmt, self.fmt_example, self.out_fmt, self.ver_fmt]

    def load(self, job) -> list:
        """The panel for an opened job (None: empty): its import history, its type's files and formats."""
        if job is None:
            return [history_frame(self.ctx, None)] + [gr.skip()] * 5
        readers, writers = formats_for(job.type, "read"), formats_for(job.type, "write")
        accepted = ", ".join(e.lstrip(".").upper() for e in get_type(job.type).extensions)
        first = "manifest" if "manifest" in readers else (readers[0] if readers else None)
        choices = lambda ids: [(FORMATS[f].title, f) for f in ids]  # noqa: E731
        return [history_frame(self.ctx, job.id), gr.File(label=f"Files ({accepted})", value=None),
                gr.Dropdown(choices=choices(readers), value=first), format_example(first),
                gr.Dropdown(choices=choices(writers), value=writers[0] if writers else None),
                gr.Dropdown(choices=choices(writers),
                            value="parquet" if "parquet" in writers else (writers[0] if writers else None))]

    @user_errors
    def on_upload(self, request: gr.Request, job_id, files):
        if job_id is None:
            raise gr.Error("open a job first")
        if not files:
            raise gr.Error("choose files to upload first")
        _report(upload_files(self.store, job_id, [(os.path.basename(str(f)), f) for f in files],
                             actor=self.ctx.actor(request)))
        return history_frame(self.ctx, job_id), None

    @user_errors
    def on_location(self, request: gr.Request, job_id, path):
        if job_id is None:
            raise gr.Error("open a job first")
        _report(import_location(self.store, job_id, path, actor=self.ctx.actor(request)))
        return history_frame(self.ctx, job_id)

    @user_errors
    def on_format(self, request: gr.Request, job_id, format_id, path, upload):
        if job_id is None:
            raise gr.Error("open a job first")
        target = str(upload) if upload else path
        if not target:
            raise gr.Error("give a path or upload the annotation file")
        _report(import_format(self.store, job_id, format_id, target, actor=self.ctx.actor(request),
                              uploaded=bool(upload)))
        return history_frame(self.ctx, job_id)

    @user_errors
    def on_sync(self, request: gr.Request, job_id):
        if job_id is None:
            raise gr.Error("open a job first")
        _report(synchronize(self.store, job_id, actor=self.ctx.actor(request)))
        return history_frame(self.ctx, job_id)

    @user_errors
    @user_errors
    def on_export(self, request: gr.Request, job_id, format_id, split=None, seed=0, predictions=False):
        if job_id is None:
            raise UserError("open a job first")
        if not format_id:
            raise UserError("choose a format")
        job = get_job(self.store, job_id, actor=acting_user())
        folder, target = _export_target(f"{job.name[:60]}-{format_id}", f"job-{job.id}-{format_id}", format_id,
                                        "labelport-export-")
        res = export_job(self.store, job_id, format_id, target, actor=self.ctx.actor(request), server_path=False,
                         split=(split or "").strip() or None, seed=int(seed or 0), predictions=bool(predictions))
        path = _export_to_download(folder, folder.parent, folder.name, Path(res.path))
        gr.Info(f"Exported {res.samples} samples as {format_id}")
        return path

    def on_versions(self, job_id):
        try:
            return versions_frame(self.ctx, job_id), gr.Dropdown(choices=version_choices(self.ctx, job_id), value=None)
        except StoreError:  # the job went away meanwhile
            return versions_frame(self.ctx, None), gr.Dropdown(choices=[], value=None)

    @user_errors
    def on_publish(self, request: gr.Request, job_id, description, split=None, seed=0, reference=False):
        if job_id is None:
            raise gr.Error("open a job first")
        v = publish_version(self.store, job_id, description or "", actor=self.ctx.actor(request),
                            split=(split or "").strip() or None, seed=int(seed or 0), reference=bool(reference))
        gr.Info(f"Published version {v.number}: {v.labeled} of {v.samples} samples labeled, at {v.location}")
        return (versions_frame(self.ctx, job_id),
                gr.Dropdown(choices=version_choices(self.ctx, job_id), value=v.number), "")

    @user_errors
    def on_version_export(self, request: gr.Request, job_id, number, format_id):
        if job_id is None:
            raise gr.Error("open a job first")
        if number is None:
            raise gr.Error("choose a published version first (publish one if there is none)")
        if not format_id:
            raise gr.Error("choose a format")
        job = get_job(self.store, job_id, actor=acting_user())
        n = int(number)
        folder, target = _export_target(f"{job.name[:60]}-v{n}-{format_id}", f"job-{job.id}-v{n}-{format_id}",
                                        format_id, "labelport-version-")
        res = export_version(self.store, job_id, n, format_id, target, actor=self.ctx.actor(request),
                             server_path=False)
        path = _export_to_download(folder, folder.parent, folder.name, Path(res.path))
        gr.Info(f"Exported version {n}: {res.samples} samples as {format_id}")
        return path


def format_example(format_id) -> str:
    return FORMATS[format_id].example_text() if format_id in FORMATS else ""


def _export_target(name: str, default: str, format_id: str, tmp_prefix: str) -> tuple[Path, Path]:
    """A fresh folder for an export (under Gradio's temp folder) and the path to write in it."""
    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix, dir=os.environ.get("GRADIO_TEMP_DIR")))
    stem = safe_file_name(name, default=default)
    folder = tmp / stem
    folder.mkdir()
    return folder, folder / (stem + FILE_EXTENSIONS.get(format_id, ""))
