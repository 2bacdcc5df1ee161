"""My Creations: the job list (F1.3) with create, modify, copy and delete (F1.1, F1.4, F1.5)."""
from __future__ import annotations

import json

from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from store.datasets import list_datasets
from store.imports import create_job_with_uploads
from store.jobs import copy_job, create_job, delete_job, get_job, list_jobs, modify_job, source_refusals
from components.label_editor import editor_value, label_editor, label_set_of
from store.labelset import Label, LabelSet, split_label_list
from store.access import parse_id, require_job
from store.types import REGISTRY, get_type
from auth import multi_user

from .common import AppContext, PageHandlers, UserError, esc, kept_or_first, type_choices, user_errors

DATASET_MODES = ["Upload files", "Existing dataset", "Local folder", "S3 prefix"]
COLUMNS = ["Name", "Type", "Dataset", "Progress", "Pending confirmation", "Created", "Description"]


@dataclass
class JobsPage:
    table: gr.Dataframe
    job: gr.Dropdown
    label_btn: gr.Button
    stats_btn: gr.Button
    refresh: callable
    default_job: gr.Textbox  # hidden: the jobs listed and the default pick, as JSON (ui.land, KEEP_PICK_JS)


def visible_jobs(ctx: AppContext, actor: str | None, type_id: str | None = None, search: str | None = None):
    """The jobs the user may see (F6.1, store/access.py); actor None (building the page, no
    request yet): all of them in single-user mode, none once users exist (the page load fills the
    user's list)."""
    if actor is None:
        if multi_user(ctx.store):
            return []
        actor = ctx.actor(None)
    return list_jobs(ctx.store, type_id, search, actor=actor)


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


class JobsHandlers(PageHandlers):
    """My Creations' events."""

    def refresh(self, type_id="", text="", picked=None, actor=None):
        """The job table and the job picker (keeping the picked job while it is listed)."""
        choices = _choices(self.ctx, actor)
        return (jobs_frame(self.ctx, type_id, text, actor),
                gr.Dropdown(choices=choices, value=kept_or_first(choices, picked)))

    def on_filter(self, type_id, text, picked, request: gr.Request):
        return self.refresh(type_id, text, picked, self.ctx.actor(request))

    def on_row_select(self, frame: pd.DataFrame, evt: gr.SelectData, request: gr.Request):
        index = evt.index if isinstance(evt.index, (list, tuple)) else [evt.index]
        if frame is None or not index or not isinstance(index[0], int) or not 0 <= index[0] < len(frame):
            return gr.skip()  # a click on an empty table (or a made-up event)
        name = frame.iloc[index[0], 0]
        for label, jid in _choices(self.ctx, self.ctx.actor(request)):
            if label.split("  ·  ")[0] == name:
                return jid
        return gr.skip()

    def on_mode(self, mode, request: gr.Request):
        existing = gr.update(visible=mode == "Existing dataset",
                             choices=_dataset_choices(self.ctx, self.ctx.actor(request)))
        return [existing if m == "Existing dataset" else gr.update(visible=mode == m) for m in DATASET_MODES]

    def on_type(self, type_id, labels):
        """Team labeling where the type has it; the label editor keeps its rows, with the new
        type's columns (colors, keys, attributes, entities and relations, classes)."""
        t = get_type(type_id)
        return gr.Checkbox(interactive=t.team_labeling, value=False), editor_value(label_set_of(labels), t.rules)

    @user_errors
    def on_create(self, name, type_id, desc, mode, files, existing, folder, s3, labels, instr, team,
                  request: gr.Request):
        store, actor = self.store, self.ctx.actor(request)
        label_set = label_set_of(labels) if isinstance(labels, dict) else parse_labels_text(labels)
        kwargs = dict(label_set=label_set, description=desc, instructions=instr, team_labeling=team, actor=actor)
        if mode == "Existing dataset":
            if existing is None:
                raise UserError("pick an existing dataset, or choose another dataset option")
            job = create_job(store, name, type_id, dataset_id=existing, **kwargs)
        elif mode in ("Local folder", "S3 prefix"):
            job = create_job(store, name, type_id, source=folder if mode == "Local folder" else s3, **kwargs)
            refused = source_refusals(store, job.id, actor=actor)
            if refused:
                gr.Warning(f"{len(refused)} files refused: " + "; ".join(esc(e) for e in refused[:3])
                           + (" …" if len(refused) > 3 else ""))
        elif files:  # one store step: if no file can be used, no empty job is left behind
            job, rec = create_job_with_uploads(store, name, type_id, [(_orig_name(f), f) for f in files], **kwargs)
            if rec.errors:
                gr.Warning(f"{len(rec.errors)} files refused: " + "; ".join(rec.errors[:3]))
        else:
            job = create_job(store, name, type_id, **kwargs)
        frame, picker = self.refresh(picked=job.id, actor=actor)
        done(f"Created job {job.name}.")
        return (frame, picker, f"Created job **{_md(job.name)}**.", "", None,
                gr.Dropdown(choices=_dataset_choices(self.ctx, actor)))

    def managed_job(self, job_id, actor):
        """The picked job, when the user may manage it."""
        if job_id is None:
            raise UserError("pick a job first")
        require_job(self.store, actor, job_id, "manage")
        return get_job(self.store, parse_id(job_id, "job id"), actor=actor)

    @user_errors
    def on_load(self, job_id, request: gr.Request):
        """The picked job in the form; the label-set editor names the job it was filled for."""
        job = self.managed_job(job_id, self.ctx.actor(request))
        value = editor_value(job.label_set, get_type(job.type).rules)
        value["job_id"] = job.id
        return job.name, job.description, job.instructions, value

    @user_errors
    def on_save(self, job_id, name, desc, instr, labels, request: gr.Request):
        """Name, description, instructions and the label set in one store call (labels samples use
        stay: Rename / Delete everywhere in Label management change those samples)."""
        job = self.managed_job(job_id, self.ctx.actor(request))
        shown = labels.get("job_id") if isinstance(labels, dict) else None
        if shown != job.id:
            raise UserError("load the picked job into the form first (the form shows "
                            + ("another job" if shown is not None else "no job") + ")")
        job = modify_job(self.store, job_id, name=name, description=desc, instructions=instr,
                         label_set=label_set_of(labels), actor=self.ctx.actor(request))
        frame, picker = self.refresh(picked=job.id, actor=self.ctx.actor(request))
        done(f"Saved job {job.name}.")
        return frame, picker, f"Saved job **{_md(job.name)}**."

    @user_errors
    def on_copy(self, job_id, name, desc, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        job = copy_job(self.store, job_id, name or None, desc or None, actor=self.ctx.actor(request))
        frame, picker = self.refresh(picked=job.id, actor=self.ctx.actor(request))
        done(f"Copied to {job.name}.")
        return frame, picker, f"Copied to **{_md(job.name)}**.", ""

    @user_errors
    def on_delete(self, job_id, confirmed, request: gr.Request):
        if job_id is None:
            raise UserError("pick a job first")
        if not confirmed:
            raise UserError("tick the confirmation box first: deleting a job moves it and its labels to the Trash")
        name = self.managed_job(job_id, self.ctx.actor(request)).name
        delete_job(self.store, job_id, actor=self.ctx.actor(request))
        frame, picker = self.refresh(actor=self.ctx.actor(request))
        days = f"{self.store.settings.trash_days:g}"
        done(f"Moved job {name} to the Trash (restorable for {days} days).")
        return frame, picker, f"Moved job **{_md(name)}** to the Trash (restorable for {days} days).", False

    def on_page_load(self, request: gr.Request, picked=None):
        """A fresh job list for every visitor: the jobs they may see, and the job the picker should
        show (`picked`: a deep link's job; else the first). Without a link the picker's value is
        not sent: a job the user picked before this answer stays picked (KEEP_PICK_JS fills an
        empty picker with the default), so Label does not open another job than the one shown."""
        actor = self.ctx.actor(request)
        choices = _choices(self.ctx, actor)
        default = kept_or_first(choices, picked)
        picker = gr.Dropdown(choices=choices, value=default) if picked is not None else gr.Dropdown(choices=choices)
        listed = json.dumps({"default": default, "ids": [v for _, v in choices]})
        return jobs_frame(self.ctx, "", "", actor), picker, listed


# after the page's load event: the job picker keeps a job that is still listed (one the user picked
# before the load answered, or the page's own), else takes the default the load sent
KEEP_PICK_JS = ("(picked, listed) => { const d = JSON.parse(listed || '{}');"
                " return (d.ids || []).includes(picked) ? picked : (d.default ?? null); }")


def create_form(ctx: AppContext) -> SimpleNamespace:
    """The "Create a job" accordion (open while the user has no job)."""
    with gr.Accordion("Create a job", open=not visible_jobs(ctx, None), elem_id="create-job"):
        with gr.Row():
            name = gr.Textbox(label="Name", placeholder="empty: a random name like task-3f9a", elem_id="create-name")
            type_ = gr.Dropdown(type_choices(), value="image_classification", label="Scene / labeling type",
                                elem_id="create-type")
        desc = gr.Textbox(label="Description (at most 256 characters)", max_length=256, elem_id="create-desc")
        mode = gr.Radio(DATASET_MODES, value="Upload files", label="Dataset", elem_id="create-mode")
        files = gr.File(file_count="multiple", label="Files to upload", elem_id="create-files")
        existing = gr.Dropdown(label="Existing dataset", choices=_dataset_choices(ctx), visible=False)
        folder = gr.Textbox(label="Local folder on the server", placeholder="/path/to/images", visible=False)
        s3 = gr.Textbox(label="S3 prefix", placeholder="s3://bucket/prefix/", visible=False)
        gr.Markdown("**Labels** — type them separated by commas (Enter adds them as rows), then set colors, "
                    "shortcut keys and attributes as the type has them; or paste a JSON label set.",
                    elem_classes=["lp-hint"])
        labels = label_editor(value=editor_value(None, get_type("image_classification").rules), label="Labels",
                              elem_id="create-labels")
        instr = gr.Textbox(label="Labeling instructions (Markdown, shown as Labeling Description)", lines=4,
                           elem_id="create-instructions")
        team = gr.Checkbox(label="Team labeling", value=False)
        create_btn = gr.Button("Create job", variant="primary", elem_id="create-submit")
    return SimpleNamespace(name=name, type=type_, desc=desc, mode=mode, files=files, existing=existing,
                           folder=folder, s3=s3, labels=labels, instr=instr, team=team, create_btn=create_btn)


def change_forms(trash_days: float) -> SimpleNamespace:
    """The accordions that modify, copy or delete the picked job (deleting moves it to the Trash)."""
    with gr.Accordion("Modify the picked job", open=False, elem_id="modify-job"):
        m_name = gr.Textbox(label="Name", elem_id="modify-name")
        m_desc = gr.Textbox(label="Description", max_length=256)
        m_instr = gr.Textbox(label="Labeling instructions (Markdown)", lines=4)
        m_labels = label_editor(label="Labels", elem_id="modify-labels")  # filled by "Load the picked job"
        with gr.Row():
            load_btn = gr.Button("Load the picked job")
            save_btn = gr.Button("Save changes", variant="primary", elem_id="modify-save")
    with gr.Accordion("Copy or delete the picked job", open=False, elem_id="copy-delete-job"):
        with gr.Row():
            k_name = gr.Textbox(label="Name of the copy (empty: <name>-copy-xxxx)", elem_id="copy-name")
            k_desc = gr.Textbox(label="Description of the copy (empty: the same)")
            copy_btn = gr.Button("Copy job", elem_id="copy-submit")
        gr.Markdown(f"Deleting a job moves it with its labels, history and team work to the **Trash** "
                    f"(restorable for {trash_days:g} days); the dataset and its files stay.", elem_id="delete-note")
        with gr.Row():
            d_confirm = gr.Checkbox(label="Yes, move the picked job and its labels to the Trash",
                                    elem_id="delete-confirm")
            delete_btn = gr.Button("Delete job", variant="stop", elem_id="delete-submit")
    return SimpleNamespace(modify=[m_name, m_desc, m_instr, m_labels], load_btn=load_btn, save_btn=save_btn,
                           k_name=k_name, k_desc=k_desc, copy_btn=copy_btn, d_confirm=d_confirm,
                           delete_btn=delete_btn)


def build(ctx: AppContext) -> JobsPage:
    """My Creations. Picking or creating a job here never changes the job the Labeling, Quick review
    and Task statistics tabs act on: only opening it does (Label, Statistics, a link; ui.place).
    (A pick used to set it, so a page still showing job A labeled into the picked job B, and a
    pick answered late could undo an opening.)"""
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
    c = create_form(ctx)
    f = change_forms(ctx.store.settings.trash_days)
    status = gr.Markdown(elem_id="jobs-status")
    default_job = gr.Textbox(value="", visible=False, elem_id="job-default")

    # wiring ---------------------------------------------------------------------------------
    h = JobsHandlers(ctx)
    listed = [table, job]
    type_filter.change(h.on_filter, [type_filter, search, job], listed)
    search.submit(h.on_filter, [type_filter, search, job], listed)
    refresh_btn.click(h.on_filter, [type_filter, search, job], listed)
    table.select(h.on_row_select, [table], [job])
    c.mode.change(h.on_mode, [c.mode], [c.files, c.existing, c.folder, c.s3])
    c.type.change(h.on_type, [c.type, c.labels], [c.team, c.labels])
    c.create_btn.click(h.on_create, [c.name, c.type, c.desc, c.mode, c.files, c.existing, c.folder, c.s3, c.labels,
                                     c.instr, c.team], listed + [status, c.name, c.files, c.existing])
    f.load_btn.click(h.on_load, [job], f.modify)
    f.save_btn.click(h.on_save, [job] + f.modify, listed + [status])
    f.copy_btn.click(h.on_copy, [job, f.k_name, f.k_desc], listed + [status, f.k_name])
    f.delete_btn.click(h.on_delete, [job, f.d_confirm], listed + [status, f.d_confirm])
    return JobsPage(table, job, label_btn, stats_btn, h.on_page_load, default_job)


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
