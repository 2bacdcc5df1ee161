"""My Creations: the job list (F1.3) with create, modify, copy and delete (F1.1, F1.4, F1.5)."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from store.datasets import list_datasets
from store.imports import create_job_with_uploads
from store.jobs import copy_job, create_job, delete_job, get_job, list_jobs, modify_job
from store.labelset import Label, LabelSet, split_label_list
from store.access import parse_id, require_job
from store.errors import StoreError
from store.types import REGISTRY, get_type
from auth import multi_user

from .common import AppContext, UserError, type_choices, user_errors

DATASET_MODES = ["Upload files", "Existing dataset", "Local folder", "S3 prefix"]
COLUMNS = ["Name", "Type", "Dataset", "Progress", "Pending confirmation", "Created", "Description"]


@dataclass
class JobsPage:
    table: gr.Dataframe
    job: gr.Dropdown
    label_btn: gr.Button
    stats_btn: gr.Button
    refresh: callable


def visible_jobs(ctx: AppContext, actor: str | None, type_id: str | None = None, search: str | None = None):
    """The jobs the user may see (F6.1, store/access.py); actor None (building the page, no
    request yet): all of them in single-user mode, none once users exist (the page load fills the
    user's list)."""
    if actor is None:
        if multi_user(ctx.store):
            return []
        actor = ctx.actor(None)
    return list_jobs(ctx.store, type_id, search, actor=actor)


def job_for_pages(ctx: AppContext, job_id, request: gr.Request):
    """The picked job becomes the pages' current job (labeling, quick review, statistics) only
    when the user may read all of it; a team labeler's job stays out of them (My Participations
    is theirs)."""
    if job_id is None:
        return None
    try:
        job_id = parse_id(job_id, "job id")
        require_job(ctx.store, ctx.actor(request), job_id, "read")
    except StoreError:
        return None
    return job_id


def jobs_frame(ctx: AppContext, type_id: str = "", search: str = "", actor: str | None = None) -> pd.DataFrame:
    rows = [[j.name, REGISTRY[j.type].title, j.dataset, f"{j.labeled}/{j.total} ({j.progress:.0%})",
             j.to_be_confirmed, j.created_at.strftime("%Y-%m-%d %H:%M"), j.description]
            for j in visible_jobs(ctx, actor, type_id or None, search or None)]
    return pd.DataFrame(rows, columns=COLUMNS)


def parse_labels_text(text: str) -> LabelSet:
    """The label box: a comma- or line-separated list, or a JSON label set (SPEC F8.4)."""
    text = (text or "").strip()
    if text.startswith("{"):
        return LabelSet.from_json(text)
    names = [n.strip() for part in text.splitlines() for n in split_label_list(part)]
    return LabelSet(labels=[Label(n) for n in names if n])


def build(ctx: AppContext, current_job: gr.State) -> JobsPage:
    store = ctx.store
    gr.Markdown("## My Creations")
    with gr.Row():
        type_filter = gr.Dropdown([("All types", "")] + type_choices(), value="", label="Type", scale=2)
        search = gr.Textbox(label="Search by name", placeholder="job name", scale=3)
        refresh_btn = gr.Button("Refresh", scale=1)
    table = gr.Dataframe(jobs_frame(ctx), interactive=False, wrap=True, elem_id="job-table",
                         label="Jobs (click a row to pick it)")
    with gr.Row():
        job = gr.Dropdown(label="Job", choices=_choices(ctx), value=_first(ctx), elem_id="job-picker", scale=3)
        label_btn = gr.Button("Label", variant="primary", elem_id="job-label", scale=1)
        stats_btn = gr.Button("Task statistics", elem_id="job-stats", scale=1)

    with gr.Accordion("Create a job", open=not visible_jobs(ctx, None), elem_id="create-job"):
        with gr.Row():
            c_name = gr.Textbox(label="Name", placeholder="empty: a random name like task-3f9a",
                                elem_id="create-name")
            c_type = gr.Dropdown(type_choices(), value="image_classification", label="Scene / labeling type",
                                 elem_id="create-type")
        c_desc = gr.Textbox(label="Description (at most 256 characters)", max_length=256, elem_id="create-desc")
        c_mode = gr.Radio(DATASET_MODES, value="Upload files", label="Dataset", elem_id="create-mode")
        c_files = gr.File(file_count="multiple", label="Files to upload", elem_id="create-files")
        c_existing = gr.Dropdown(label="Existing dataset", choices=_dataset_choices(ctx), visible=False)
        c_folder = gr.Textbox(label="Local folder on the server", placeholder="/path/to/images", visible=False)
        c_s3 = gr.Textbox(label="S3 prefix", placeholder="s3://bucket/prefix/", visible=False)
        c_labels = gr.Textbox(label="Labels (comma-separated, or a JSON label set)", lines=2,
                              placeholder="cat, dog, bird", elem_id="create-labels")
        c_instr = gr.Textbox(label="Labeling instructions (Markdown, shown as Labeling Description)", lines=4,
                             elem_id="create-instructions")
        c_team = gr.Checkbox(label="Team labeling", value=False)
        create_btn = gr.Button("Create job", variant="primary", elem_id="create-submit")

    with gr.Accordion("Modify the picked job", open=False, elem_id="modify-job"):
        m_name = gr.Textbox(label="Name", elem_id="modify-name")
        m_desc = gr.Textbox(label="Description", max_length=256)
        m_instr = gr.Textbox(label="Labeling instructions (Markdown)", lines=4)
        m_labels = gr.Textbox(label="Labels (comma-separated; add new ones, keep the others)", lines=2)
        with gr.Row():
            m_load = gr.Button("Load the picked job")
            m_save = gr.Button("Save changes", variant="primary", elem_id="modify-save")

    with gr.Accordion("Copy or delete the picked job", open=False, elem_id="copy-delete-job"):
        with gr.Row():
            k_name = gr.Textbox(label="Name of the copy (empty: <name>-copy-xxxx)", elem_id="copy-name")
            k_desc = gr.Textbox(label="Description of the copy (empty: the same)")
            copy_btn = gr.Button("Copy job", elem_id="copy-submit")
        gr.Markdown("Deleting a job loses its labels; the dataset and its files stay.")
        with gr.Row():
            d_confirm = gr.Checkbox(label="Yes, delete the picked job and its labels", elem_id="delete-confirm")
            delete_btn = gr.Button("Delete job", variant="stop", elem_id="delete-submit")
    status = gr.Markdown(elem_id="jobs-status")

    # wiring ---------------------------------------------------------------------------------
    def refresh(type_id="", text="", picked=None, actor=None):
        choices = _choices(ctx, actor)
        ids = [c[1] for c in choices]
        value = picked if picked in ids else (ids[0] if ids else None)
        return jobs_frame(ctx, type_id, text, actor), gr.Dropdown(choices=choices, value=value)

    def on_filter(type_id, text, picked, request: gr.Request):
        return refresh(type_id, text, picked, ctx.actor(request))

    def on_row_select(frame: pd.DataFrame, evt: gr.SelectData, request: gr.Request):
        index = evt.index if isinstance(evt.index, (list, tuple)) else [evt.index]
        if frame is None or not index or not isinstance(index[0], int) or not 0 <= index[0] < len(frame):
            return gr.skip()  # a click on an empty table (or a made-up event)
        name = frame.iloc[index[0], 0]
        for label, jid in _choices(ctx, ctx.actor(request)):
            if label.split("  ·  ")[0] == name:
                return jid
        return gr.skip()

    def on_mode(mode, request: gr.Request):
        existing = gr.update(visible=mode == "Existing dataset", choices=_dataset_choices(ctx, ctx.actor(request)))
        return [existing if m == "Existing dataset" else gr.update(visible=mode == m) for m in DATASET_MODES]

    def on_type(type_id):
        return gr.Checkbox(interactive=get_type(type_id).team_labeling, value=False)

    @user_errors
    def on_create(name, type_id, desc, mode, files, existing, folder, s3, labels, instr, team,
                  request: gr.Request):
        actor = ctx.actor(request)
        label_set = parse_labels_text(labels)
        kwargs = dict(label_set=label_set, description=desc, instructions=instr, team_labeling=team, actor=actor)
        if mode == "Existing dataset":
            if existing is None:
                raise UserError("pick an existing dataset, or choose another dataset option")
            job = create_job(store, name, type_id, dataset_id=existing, **kwargs)
        elif mode in ("Local folder", "S3 prefix"):
            job = create_job(store, name, type_id, source=folder if mode == "Local folder" else s3, **kwargs)
        elif files:  # one store step: if no file can be used, no empty job is left behind
            job, rec = create_job_with_uploads(store, name, type_id, [(_orig_name(f), f) for f in files], **kwargs)
            if rec.errors:
                gr.Warning(f"{len(rec.errors)} files refused: " + "; ".join(rec.errors[:3]))
        else:
            job = create_job(store, name, type_id, **kwargs)
        frame, picker = refresh(picked=job.id, actor=actor)
        done(f"Created job {job.name}.")
        return (frame, picker, f"Created job **{_md(job.name)}**.", "", None,
                gr.Dropdown(choices=_dataset_choices(ctx, actor)), job.id)

    @user_errors
    def on_load(job_id, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        actor = ctx.actor(request)
        require_job(store, actor, job_id, "manage")
        job = get_job(store, parse_id(job_id, "job id"), actor=actor)
        return job.name, job.description, job.instructions, ", ".join(job.label_set.names())

    @user_errors
    def on_save(job_id, name, desc, instr, labels, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        actor = ctx.actor(request)
        require_job(store, actor, job_id, "manage")
        job = get_job(store, parse_id(job_id, "job id"), actor=actor)
        wanted = parse_labels_text(labels)
        by_name = {lab.name: lab for lab in job.label_set.labels}
        merged = LabelSet(labels=[by_name.get(lab.name, lab) for lab in wanted.labels], entities=job.label_set.entities,
                          relations=job.label_set.relations, classes=job.label_set.classes,
                          speech_content=job.label_set.speech_content)
        job = modify_job(store, job_id, name=name, description=desc, instructions=instr, label_set=merged,
                         actor=ctx.actor(request))
        frame, picker = refresh(picked=job.id, actor=ctx.actor(request))
        done(f"Saved job {job.name}.")
        return frame, picker, f"Saved job **{_md(job.name)}**."

    @user_errors
    def on_copy(job_id, name, desc, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        job = copy_job(store, job_id, name or None, desc or None, actor=ctx.actor(request))
        frame, picker = refresh(picked=job.id, actor=ctx.actor(request))
        done(f"Copied to {job.name}.")
        return frame, picker, f"Copied to **{_md(job.name)}**.", ""

    @user_errors
    def on_delete(job_id, confirmed, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        if not confirmed:
            raise UserError("tick the confirmation box first: deleting a job loses its labels")
        actor = ctx.actor(request)
        require_job(store, actor, job_id, "manage")
        name = get_job(store, parse_id(job_id, "job id"), actor=actor).name
        delete_job(store, job_id, actor=ctx.actor(request))
        frame, picker = refresh(actor=ctx.actor(request))
        done(f"Deleted job {name}.")
        return frame, picker, f"Deleted job **{_md(name)}**.", False

    type_filter.change(on_filter, [type_filter, search, job], [table, job])
    search.submit(on_filter, [type_filter, search, job], [table, job])
    refresh_btn.click(on_filter, [type_filter, search, job], [table, job])
    table.select(on_row_select, [table], [job])
    def on_pick(job_id, request: gr.Request):  # Gradio passes the request by the type hint: no partial
        return job_for_pages(ctx, job_id, request)

    job.change(on_pick, [job], [current_job])
    c_mode.change(on_mode, [c_mode], [c_files, c_existing, c_folder, c_s3])
    c_type.change(on_type, [c_type], [c_team])
    create_btn.click(on_create, [c_name, c_type, c_desc, c_mode, c_files, c_existing, c_folder, c_s3, c_labels,
                                 c_instr, c_team], [table, job, status, c_name, c_files, c_existing, current_job])
    m_load.click(on_load, [job], [m_name, m_desc, m_instr, m_labels])
    m_save.click(on_save, [job, m_name, m_desc, m_instr, m_labels], [table, job, status])
    copy_btn.click(on_copy, [job, k_name, k_desc], [table, job, status, k_name])
    delete_btn.click(on_delete, [job, d_confirm], [table, job, status, d_confirm])
    def on_page_load(request: gr.Request, picked=None):
        """A fresh job list for every visitor: the jobs they may see (`picked`: a deep link's job)."""
        return refresh(picked=picked, actor=ctx.actor(request))

    return JobsPage(table, job, label_btn, stats_btn, on_page_load)


def _choices(ctx: AppContext, actor: str | None = None):
    return [(f"{j.name}  ·  {REGISTRY[j.type].title}", j.id) for j in visible_jobs(ctx, actor)]


def _first(ctx: AppContext):
    choices = _choices(ctx)
    return choices[0][1] if choices else None


def _dataset_choices(ctx: AppContext, actor: str | None = None):
    """The datasets the user may build a job on (store/access.py): their own; all for an admin."""
    if actor is None:
        if multi_user(ctx.store):
            return []
        actor = ctx.actor(None)
    return [(f"{d.name} ({d.media}, {d.samples} files)", d.id) for d in list_datasets(ctx.store, actor=actor)]


def _orig_name(f) -> str:
    """Gradio keeps the uploaded file's name as the last part of its temp path."""
    import os

    return os.path.basename(str(getattr(f, "name", f)))


def done(message: str) -> None:
    """A success says so where the eye is (a toast at the top), not only in the status line at the
    bottom of the form, off-screen on a laptop (issue 15)."""
    from .common import esc

    gr.Info(esc(message), title="Done")


def _md(text: str) -> str:
    from .common import esc

    return esc(text).replace("*", "\\*").replace("_", "\\_")
