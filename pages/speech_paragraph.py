"""Speech paragraph labeling page (F3.10, F3.12): the files of the view on the left (paged, tabs
with counts); the waveform segment editor for the open file on the right (drag to make a segment,
adjust its edges, play the file or one segment, the selected segment's label — one select per
class in multi-label mode — and its content when the job has speech content on; the segments
table with delete); Label / Save (Ctrl+S), previous / next (Alt+Left / Alt+Right), discard;
"Detect speech" fills the segments from voice-activity detection for the labeler to correct
(unsaved until Save); label management; Labeling Description; Add data / Export."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.audio_list import audio_list, list_item, list_value, preview_id
from components.data_panel import build_data_panel, history_frame
from components.waveform import annotation_of, unlabeled_segments, waveform, waveform_value
from store.annotations import clear_annotation, set_annotation
from store.errors import NotFound
from store.jobs import get_job
from store.samples import TABS, SampleQuery, counts, get_sample, query_samples

from .label_actions import LabelActions, delete_choices
from .common import AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, user_errors

PAGE_SIZE = 20
DELETE_CHOICES = delete_choices("files")


@dataclass
class SpeechParagraphPage:
    load_outputs: list
    load: Any  # (job_id) -> updates


def build(ctx: AppContext, current_job: gr.State) -> SpeechParagraphPage:
    store = ctx.store
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="spg-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="spg-describe")
    description = gr.Markdown(visible=False, elem_id="spg-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="spg-tabs")
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            records = audio_list(open_on_click=True, elem_id="spg-list")
            with gr.Row():
                prev_page = gr.Button("◀", size="sm", min_width=40, elem_id="spg-prev-page")
                page_info = gr.Markdown("", elem_id="spg-page-info")
                next_page = gr.Button("▶", size="sm", min_width=40, elem_id="spg-next-page")
        with gr.Column(scale=3):
            editor = waveform(elem_id="spg-waveform")
            with gr.Row():
                save_btn = gr.Button("Label / Save (Ctrl+S)", variant="primary", scale=0, min_width=170,
                                     elem_id="spg-save")
                prev_btn = gr.Button("◀ Previous", scale=0, min_width=110, elem_id="spg-prev")
                next_btn = gr.Button("Next ▶", scale=0, min_width=100, elem_id="spg-next")
                discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id="spg-discard")
                detect_btn = gr.Button("Detect speech", scale=0, min_width=130, elem_id="spg-detect")
                clear_btn = gr.Button("Delete Labels on Current File", variant="stop", scale=0, min_width=200,
                                      elem_id="spg-clear")
            sample_info = gr.Markdown(elem_id="spg-sample-info")
    with gr.Accordion("Label management", open=False, elem_id="spg-label-management"):
        labels_table = gr.Dataframe(interactive=False, label="Labels", elem_id="spg-labels-table")
        lm_label = gr.Dropdown([], label="Label", elem_id="spg-lm-label")
        with gr.Row():
            lm_new = gr.Textbox(label="New name", elem_id="spg-lm-new-name")
            lm_rename = gr.Button("Rename everywhere", elem_id="spg-lm-rename")
        with gr.Row():
            lm_color = gr.ColorPicker(value="#3366ff", label="New color", elem_id="spg-lm-color")
            lm_recolor = gr.Button("Change color", elem_id="spg-lm-recolor")
        with gr.Row():
            lm_mode = gr.Radio(DELETE_CHOICES, value=DELETE_CHOICES[0], label="Delete", elem_id="spg-lm-delete-mode")
            lm_delete = gr.Button("Delete the chosen label", variant="stop", elem_id="spg-lm-delete")
        with gr.Row():
            add_name = gr.Textbox(label="Add a label (single-label mode)", elem_id="spg-add-name")
            add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id="spg-add-color")
            add_btn = gr.Button("Add label", elem_id="spg-add")
    data = build_data_panel(ctx, current_job, "speech_paragraph", prefix="spg-")
    page_state = gr.State(1)
    described = gr.State(False)

    # wiring ---------------------------------------------------------------------------------
    def page_of(job_id, tab_v, page):
        return query_samples(store, job_id, SampleQuery(status=tab_v or "all", page=int(page or 1),
                                                        page_size=PAGE_SIZE), actor=acting_user())

    def editor_for(job, sample_id, message=None, segments=None):
        s = get_sample(store, job.id, sample_id, actor=acting_user())
        dur = (s.meta or {}).get("duration") or 0.0
        value = waveform_value(sample_id, dur, s.annotation, job.label_set, message=message, segments=segments,
                               dirty=segments is not None)
        who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
               else "not labeled yet")
        n = len(value["segments"])
        return value, (f"**{esc(s.name)}** · {float(dur):.2f} s · {n} segment{'s' if n != 1 else ''} · "
                       f"{s.status.replace('_', ' ')} · {who}")

    def label_rows(job, c):
        ls = job.label_set
        if ls.classes:
            rows = [(cl.name, name, "", c.by_label.get(name, 0)) for cl in ls.classes for name in cl.labels]
            return pd.DataFrame(rows, columns=["Class", "Label", "Color", "Files"]), [r[1] for r in rows]
        rows = [("", lab.name, lab.color or "", c.by_label.get(lab.name, 0)) for lab in ls.labels]
        return pd.DataFrame(rows, columns=["Class", "Label", "Color", "Files"]), [r[1] for r in rows]

    def view(job_id, tab_v, page, open_id=None, message=None, segments=None):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        try:
            job = get_job(store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists: pick another one in My Creations."] + [gr.skip()] * (
                len(view_outputs) - 1)
        c = counts(store, job_id, actor=acting_user())
        p = page_of(job_id, tab_v, page)
        if open_id is None and p.items:
            open_id = p.items[0].id
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        ls = job.label_set
        mode = (f"multi-label mode ({len(ls.classes)} classes)" if ls.classes else "single-label mode") + (
            " · speech content on" if ls.speech_content else "")
        head = (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {mode} · "
                f"{c.by_status['labeled']}/{c.total} labeled · drag on the waveform to make a segment, Ctrl+S saves")
        items = []
        for s in p.items:
            it = list_item(s, {lab.name: lab.color for lab in ls.labels})
            it["content"] = ""
            items.append(it)
        if open_id is not None:
            value, info = editor_for(job, int(open_id), message, segments)
        else:
            value, info = waveform_value(None, 0, None, ls), "No file in this view."
        frame, names = label_rows(job, c)
        return [head, gr.Radio(choices=tabs, value=tab_v or "all"),
                list_value(items, [open_id] if open_id is not None else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} files", value, info, p.page, frame,
                gr.Dropdown(choices=names, value=None),
                job.instructions or "_This job has no labeling instructions._"]

    view_outputs = [header, tab, records, page_info, editor, sample_info, page_state, labels_table, lm_label,
                    description]

    def load(job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return view(job_id, "all", 1, open_id=sample_id) + [history_frame(ctx, job_id)]

    def _dirty(value) -> bool:
        return isinstance(value, dict) and bool(value.get("dirty"))

    def _sid(value):
        return value.get("sample_id") if isinstance(value, dict) else None

    @user_errors
    def on_filter(job_id, tab_v, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return keep_unsaved(view(job_id, tab_v, 1, open_id=_open_if_dirty(value)), view_outputs, EDITOR, _dirty(value))

    def pager(delta):
        @user_errors
        def go(job_id, tab_v, page, value):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            return keep_unsaved(view(job_id, tab_v, max(1, int(page or 1) + delta), open_id=_open_if_dirty(value)),
                                view_outputs, EDITOR, _dirty(value))
        return go

    def _open_if_dirty(value):
        return int(_sid(value)) if _dirty(value) and _sid(value) is not None else None

    @user_errors
    def on_open(job_id, list_v, value):
        sid = preview_id(list_v)
        if job_id is None or sid is None:
            return [gr.skip()] * 2
        refuse_if_unsaved(_dirty(value) and _sid(value) != sid, "file")
        return list(editor_for(get_job(store, job_id, actor=acting_user()), sid))

    def _neighbour(job_id, tab_v, page, sample_id, step):
        p = page_of(job_id, tab_v, page)
        ids = [s.id for s in p.items]
        if sample_id in ids:
            i = ids.index(sample_id) + step
            if 0 <= i < len(ids):
                return ids[i], p.page
        target = p.page + step
        if 1 <= target <= p.pages:
            q = page_of(job_id, tab_v, target)
            if q.items:
                return (q.items[0].id if step > 0 else q.items[-1].id), q.page
        return None, p.page

    def move(job_id, tab_v, page, value, step):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        refuse_if_unsaved(_dirty(value), "file")
        sid = _sid(value)
        target, new_page = _neighbour(job_id, tab_v, page, sid, step)
        if target is None:
            gr.Info("This is the " + ("last" if step > 0 else "first") + " file of the view")
            return view(job_id, tab_v, page, open_id=sid)
        return view(job_id, tab_v, new_page, open_id=target)

    def mover(step):
        @user_errors
        def go(job_id, tab_v, page, value):
            return move(job_id, tab_v, page, value, step)
        return go

    @user_errors
    def on_navigate(job_id, tab_v, page, value):
        action = value.get("action") if isinstance(value, dict) else None
        if action not in ("prev", "next"):
            return [gr.skip()] * len(view_outputs)
        return move(job_id, tab_v, page, value, -1 if action == "prev" else 1)

    @user_errors
    def on_save(request: gr.Request, job_id, tab_v, page, value):
        sid = _sid(value)
        if job_id is None or sid is None:
            raise UserError("open a file first")
        ann = annotation_of(value)
        missing = unlabeled_segments(value)
        if missing:
            raise UserError(f"segment{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:10]))} "
                           "of the table ha" + ("ve" if len(missing) > 1 else "s") + " no label yet: pick one, "
                           "or delete the segment")
        set_annotation(store, job_id, int(sid), ann, actor=ctx.actor(request))
        n = len(ann["segments"])
        msg = f"Saved {n} segment{'s' if n != 1 else ''}" if n else \
            "Saved: no segments left, the file is back in Unlabeled"
        gr.Info(msg)
        return view(job_id, tab_v, page, open_id=int(sid), message=msg)

    @user_errors
    def on_discard(job_id, tab_v, page, value):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return view(job_id, tab_v, page, open_id=_sid(value))

    @user_errors
    def on_detect(job_id, tab_v, page, value):
        sid = _sid(value)
        if job_id is None or sid is None:
            raise UserError("open a file first")
        from store.audio import detect_speech

        found = detect_speech(store, int(sid), actor=acting_user())
        had = len(value.get("segments") or []) if isinstance(value, dict) else 0
        if had:
            gr.Warning(f"The {had} segment{'s' if had != 1 else ''} shown were replaced by the detected ones "
                       "(not saved: Discard changes brings them back)")
        msg = (f"Detected {len(found)} speech segment{'s' if len(found) != 1 else ''}: check and label them, "
               "then Save (Ctrl+S)") if found else "No speech detected in this file"
        gr.Info(msg)
        return view(job_id, tab_v, page, open_id=int(sid), message=msg, segments=found)

    @user_errors
    def on_clear(request: gr.Request, job_id, tab_v, page, value):
        sid = _sid(value)
        if job_id is None or sid is None:
            raise UserError("open a file first")
        clear_annotation(store, job_id, int(sid), actor=ctx.actor(request))
        gr.Info("Deleted the segments of this file")
        return view(job_id, tab_v, page, open_id=int(sid), message="Segments deleted")

    def _label_action(fn):
        @user_errors
        def act(request: gr.Request, *args):
            *own, job_id, tab_v, page, value = args
            if job_id is None:
                raise UserError("open a job first")
            refuse_if_unsaved(_dirty(value), "file")  # the editor's segments name the labels
            fn(ctx.actor(request), job_id, *own)
            return view(job_id, tab_v, page, open_id=_sid(value)) + [""]
        return act

    labels_ = LabelActions(store, "files")

    EDITOR = (editor, sample_info)  # what keep_unsaved leaves alone
    inputs = [current_job, tab, page_state, editor]
    tab.input(on_filter, [current_job, tab, editor], view_outputs)
    prev_page.click(pager(-1), inputs, view_outputs)
    next_page.click(pager(1), inputs, view_outputs)
    records.preview(on_open, [current_job, records, editor], [editor, sample_info])
    editor.save(on_save, inputs, view_outputs)
    editor.navigate(on_navigate, inputs, view_outputs)
    save_btn.click(on_save, inputs, view_outputs)
    prev_btn.click(mover(-1), inputs, view_outputs)
    next_btn.click(mover(1), inputs, view_outputs)
    discard_btn.click(on_discard, inputs, view_outputs)
    detect_btn.click(on_detect, inputs, view_outputs)
    clear_btn.click(on_clear, inputs, view_outputs)
    lm_rename.click(_label_action(labels_.rename), [lm_label, lm_new] + inputs, view_outputs + [lm_new])
    lm_recolor.click(_label_action(labels_.recolor), [lm_label, lm_color] + inputs, view_outputs + [lm_new])
    lm_delete.click(_label_action(labels_.delete), [lm_label, lm_mode] + inputs, view_outputs + [lm_new])
    add_btn.click(_label_action(labels_.add), [add_name, add_color] + inputs, view_outputs + [add_name])
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described],
                       [description, described])
    for event in data.events:
        event.success(on_discard, inputs, view_outputs)
    return SpeechParagraphPage(view_outputs + [data.history], load)
