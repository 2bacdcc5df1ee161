"""My Participations (F5.5): the team jobs I am a member of with my samples per state; open one of
my samples, label it (or fix a rejected one) and save it: it goes To Be Reviewed. Layout and
wiring only: the rules are in store/team_jobs.py.

The open sample is edited with the widget of its job's type, as on the labeling pages: a label
multiselect (classification), the shape canvas (object detection / segmentation), the span picker
(named entity recognition, text triplet) or the waveform segment editor (speech paragraph); a
JSON editor only for a type without a widget. Only the open job's widget is shown."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components import shape_canvas as sc
from components import span_picker as sp
from components import waveform as wf
from store.errors import ValidationError
from store.jobs import get_job
from store.samples import sample_meta, sample_size
from store.team_jobs import STATES, my_jobs, my_samples, save_my_annotation

from .common import AppContext, PageHandlers, UserError, esc, item_view, kept_or_first, readonly_table, user_errors

STATE_TITLES = {"unlabeled": "Unlabeled", "to_be_confirmed": "To be confirmed", "rejected": "Rejected",
                "to_be_reviewed": "To be reviewed", "approved": "Approved", "accepted": "Accepted"}
CLASSIFICATION = {"image_classification", "text_classification", "sound_classification"}
SHAPE_TOOLS = {"object_detection": ["rectangle", "polygon", "circle", "line", "dashed_line", "point"],
               "image_segmentation": ["polygon", "extreme_points"]}
SPAN_TYPES = {"named_entity_recognition": "ner", "text_triplet": "triplet"}
WAVEFORM_TYPES = {"speech_paragraph"}
JOB_COLUMNS = ["Job", "Type", "My role"] + [STATE_TITLES[s] for s in STATES] + ["Waiting for review (all)"]
SAMPLE_COLUMNS = ["Sample", "File", "State", "Labels", "Reason (rejected)", "Rating"]
PAGE_SIZE = 500


@dataclass
class ParticipationsPage:
    outputs: list
    load: Any
    inputs: list  # what load reads: the job picker and the state filter
    open: Any  # (job id, sample id or None, request): a deep link (pages/links.py)


def file_name(path: str) -> str:
    return str(path or "").replace("\\", "/").rstrip("/").split("/")[-1] or str(path)


def widget_of(type_id: str) -> str:
    """Which editor a type gets here: "labels" | "canvas" | "picker" | "waveform" | "json"."""
    if type_id in CLASSIFICATION:
        return "labels"
    if type_id in SHAPE_TOOLS:
        return "canvas"
    if type_id in SPAN_TYPES:
        return "picker"
    if type_id in WAVEFORM_TYPES:
        return "waveform"
    return "json"


def canvas_labels(job) -> list[dict]:
    return [{"name": lab.name, "color": lab.color or "#e6194b", "attributes": lab.attributes}
            for lab in job.label_set.labels]


def preview_html(job, sample_id: int, path: str, text: str | None, body: bool = True) -> str:
    """The sample as the browser shows it: image and audio from the app's media routes (which
    check the user may see the sample), text escaped; with ``body`` False only the file name (the
    type's widget shows the sample itself)."""
    media = job.labeling_type.media
    name = f'<div class="lp-team-file">{esc(file_name(path))}</div>'
    if not body:
        return f'<div class="lp-team-preview" data-job="{int(job.id)}" data-sample="{int(sample_id)}">{name}</div>'
    if media == "image":
        body = f'<img class="lp-team-image" src="/media/{int(sample_id)}/display" alt="{esc(file_name(path))}">'
    elif media == "audio":
        body = f'<audio class="lp-team-audio" controls preload="metadata" src="/media/{int(sample_id)}/file"></audio>'
    elif media == "video":
        body = f'<video class="lp-team-video" controls preload="metadata" src="/media/{int(sample_id)}/file"></video>'
    else:
        body = f'<pre class="lp-team-text">{esc(text if text is not None else "")}</pre>'
    return f'<div class="lp-team-preview" data-job="{int(job.id)}" data-sample="{int(sample_id)}">{name}{body}</div>'


def annotation_json(annotation: dict | None) -> str:
    return json.dumps(annotation or {}, ensure_ascii=False, indent=2)


def _widget_value(value, sample_id: int) -> dict:
    if not isinstance(value, dict) or value.get("sample_id") is None:
        raise ValidationError("open a sample first")
    if int(value["sample_id"]) != int(sample_id):
        raise ValidationError("the editor shows another sample: open the sample again")
    return value


def parse_annotation(job, labels, text, sample_id=None, canvas=None, picker=None, wave=None) -> dict:
    """The payload to save, from the open job's widget: the picked labels (classification), the
    shape canvas, the span picker, the waveform editor, or the JSON editor's object."""
    kind = widget_of(job.type)
    if kind == "labels":
        return {"labels": list(labels or [])}
    if kind == "canvas":
        return {"shapes": sc.shapes_of(_widget_value(canvas, sample_id))}
    if kind == "picker":
        return sp.annotation_of(_widget_value(picker, sample_id))
    if kind == "waveform":
        return wf.annotation_of(_widget_value(wave, sample_id))
    try:
        data = json.loads(text or "{}")
    except ValueError as e:
        raise ValidationError(f"the annotation is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ValidationError("the annotation is a JSON object")
    return data


def hidden_widgets() -> list:
    return [gr.HTML(visible=False) for _ in range(3)]


def info_md(jb, item, kind: str) -> str:
    """What the side column says about the open assignment."""
    lines = [f"**{esc(file_name(item.path))}** · state **{STATE_TITLES[item.state]}**"]
    if item.state == "rejected" and item.reason:
        lines.append(f'<div class="lp-team-reason">Rejected: {esc(item.reason)}</div>')
    if item.rating:
        lines.append(f"Rating: **{esc(item.rating)}**")
    if item.state in ("approved", "accepted"):
        lines.append("This sample is closed: it can no longer be edited.")
    if kind == "json":
        lines.append(f"Edit the annotation as JSON in the {esc(jb.labeling_type.title)} schema.")
    elif kind != "labels":
        lines.append("Label the sample in the editor below, then press Save.")
    return "\n\n".join(lines)


class ParticipationsHandlers(PageHandlers):
    """The My Participations tab's events."""

    SAMPLE_OUTPUTS = 9  # samples table, sample picker, preview, info, labels, editor, canvas, picker, waveform

    def jobs_view(self, actor, picked=None):
        mine = my_jobs(self.store, actor)
        frame = pd.DataFrame([[j["name"], j["type"].replace("_", " "), j["role_title"]]
                              + [j["states"][s] for s in STATES] + [j["to_review"]] for j in mine],
                             columns=JOB_COLUMNS)
        choices = [(f'{j["name"]} ({j["role_title"]})', j["job_id"]) for j in mine]
        value = kept_or_first(choices, picked)
        return frame, gr.Dropdown(choices=choices, value=value), value

    def sample_list(self, job_id, st, actor):
        items, total = my_samples(self.store, int(job_id), actor, None if st in (None, "", "all") else st, 1,
                                  PAGE_SIZE)
        return items, total

    def widgets_for(self, jb, item, kind, actor) -> list:
        """canvas, picker, waveform: the open type's loaded with the assignment's annotation (or its
        pre-label) and the job's label set, the others hidden."""
        out = hidden_widgets()
        ann = item.annotation if isinstance(item.annotation, dict) else None
        if kind == "canvas":
            tools = SHAPE_TOOLS[jb.type]
            w, h = sample_size(self.store, item.sample_id, actor)
            out[0] = gr.HTML(value=sc.canvas_value(item.sample_id, f"/media/{int(item.sample_id)}/display", w, h,
                                                    (ann or {}).get("shapes", []), canvas_labels(jb), tools,
                                                    tool=tools[0]), visible=True)
        elif kind == "picker":
            mode = SPAN_TYPES[jb.type]
            ls = jb.label_set
            out[1] = gr.HTML(value=sp.picker_value(item.sample_id, item.text, ann,
                                                   ls.entities if mode == "triplet" else ls.labels,
                                                   ls.relations, mode=mode), visible=True)
        elif kind == "waveform":
            meta = sample_meta(self.store, item.sample_id, actor)
            out[2] = gr.HTML(value=wf.waveform_value(item.sample_id, meta.get("duration") or 0.0, ann, jb.label_set),
                             visible=True)
        return out

    def open_view(self, job_id, item, actor=None) -> list:
        """preview, info, labels, editor, canvas, picker, waveform for one assignment (or empty)."""
        if item is None:
            return ["", "No sample open.", gr.Dropdown(choices=[], value=[]),
                    gr.Code(value="{}", visible=False)] + hidden_widgets()
        jb = get_job(self.store, int(job_id), actor)
        kind = widget_of(jb.type)
        return [preview_html(jb, item.sample_id, item.path, item.text, body=kind in ("labels", "json")),
                info_md(jb, item, kind),
                gr.Dropdown(choices=jb.label_set.names(), value=list(item.labels), visible=kind == "labels"),
                gr.Code(value=annotation_json(item.annotation), visible=kind == "json",
                        label=f"Annotation (JSON in the {jb.labeling_type.title} schema)")
                ] + self.widgets_for(jb, item, kind, actor)

    def samples_view(self, job_id, st, actor, open_id=None, keep=None) -> list:
        """samples table, sample picker, then the opened sample's view."""
        if job_id is None:
            return ([pd.DataFrame(columns=SAMPLE_COLUMNS), gr.Dropdown(choices=[], value=None)]
                    + self.open_view(None, None))
        items, total = self.sample_list(job_id, st, actor)
        frame = pd.DataFrame([[a.sample_id, file_name(a.path), STATE_TITLES[a.state], ", ".join(a.labels),
                               a.reason or "", a.rating or ""] for a in items], columns=SAMPLE_COLUMNS)
        if keep is not None and keep.sample_id not in {a.sample_id for a in items}:
            items = [keep] + list(items)  # the sample just saved stays open though it left this state
        choices = [(f"{file_name(a.path)} · {STATE_TITLES[a.state]}", a.sample_id) for a in items]
        current = next((a for a in items if a.sample_id == open_id), None) or (items[0] if items else None)
        return ([frame, gr.Dropdown(choices=choices, value=current.sample_id if current else None,
                                    label=f"Open a sample ({total} in this state)" if st not in (None, "", "all")
                                    else f"Open a sample ({total} assigned to you)")]
                + self.open_view(job_id, current, actor))

    @user_errors
    def part_load(self, picked, st, request: gr.Request):
        actor = self.ctx.actor(request)
        frame, picker, value = self.jobs_view(actor, picked)
        return [frame, picker] + self.samples_view(value, st, actor)

    @user_errors
    def part_open(self, job_id, sample_id, request: gr.Request):
        """A deep link: the job (when it is one of the user's) with the sample open (when it is theirs)."""
        actor = self.ctx.actor(request)
        frame, picker, value = self.jobs_view(actor, job_id)
        return [frame, picker] + self.samples_view(value, "all", actor, open_id=sample_id)

    @user_errors
    def part_on_job(self, job_id, st, request: gr.Request):
        actor = self.ctx.actor(request)
        return [self.jobs_view(actor, job_id)[0]] + self.samples_view(job_id, st, actor)

    @user_errors
    def part_on_sample(self, job_id, sample_id, request: gr.Request):
        if job_id is None or sample_id is None:
            return self.open_view(None, None)
        actor = self.ctx.actor(request)
        items, _ = self.sample_list(job_id, "all", actor)
        return self.open_view(job_id, next((a for a in items if a.sample_id == int(sample_id)), None), actor)

    @user_errors
    def part_on_save(self, job_id, st, sample_id, picked_labels, text, canvas_v, picker_v, wave_v,
                     request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None or sample_id is None:
            raise UserError("open a sample first")
        jb = get_job(self.store, int(job_id), actor)
        data = parse_annotation(jb, picked_labels, text, int(sample_id), canvas_v, picker_v, wave_v)
        a = save_my_annotation(self.store, jb.id, int(sample_id), actor, data)
        frame, picker, _ = self.jobs_view(actor, jb.id)
        # keep the saved sample open, even when it left the state shown
        rest = self.samples_view(jb.id, st, actor, a.sample_id, keep=a)
        msg = (f"Saved {esc(file_name(a.path))}: **{STATE_TITLES[a.state]}**." if a.state != "unlabeled"
               else f"Saved {esc(file_name(a.path))} without labels: it stays unlabeled.")
        return [frame] + rest + [msg]

    @user_errors
    def part_on_next(self, job_id, st, sample_id, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a job first")
        items, _ = self.sample_list(job_id, st, actor)
        if not items:
            raise UserError("no sample in this state")
        ids = [a.sample_id for a in items]
        later = [i for i in ids if sample_id is None or i > int(sample_id)]
        nxt = later[0] if later else ids[0]
        return self.samples_view(job_id, st, actor, nxt)

    @user_errors
    def part_on_navigate(self, job_id, st, sample_id, value, request: gr.Request):
        """A / D (◀ ▶) in the canvas, Alt+Left / Alt+Right in the waveform: the next sample
        (these events come only with nothing unsaved)."""
        if job_id is None:
            return [gr.skip()] * self.SAMPLE_OUTPUTS
        return self.part_on_next(job_id, st, sample_id, request)


def build(ctx: AppContext) -> ParticipationsPage:
    gr.Markdown("## My Participations\nThe team labeling jobs you are a member of. Label your samples and save "
                "them: they go to review. Rejected samples show the reviewer's reason: fix them and save again.")
    jobs_table = readonly_table(JOB_COLUMNS, "part-jobs", "My jobs (my samples per state)")
    with gr.Row():
        job = gr.Dropdown(label="Job", choices=[], value=None, elem_id="part-job", scale=3)
        state = gr.Radio([("All", "all")] + [(STATE_TITLES[s], s) for s in STATES], value="all",
                         label="My samples in state", elem_id="part-state", scale=5)
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="part-refresh")
    samples_table = readonly_table(SAMPLE_COLUMNS, "part-samples", "My samples")
    with item_view("Open a sample", "part-sample", "part") as (sample, preview, info):
        labels = gr.Dropdown(label="Labels", choices=[], value=[], multiselect=True, elem_id="part-labels")
        editor = gr.Code(value="{}", language="json", label="Annotation (JSON in this labeling type's schema)",
                         visible=False, elem_id="part-json")
    # the type's widget, full width under the preview (distinct elem_ids: the labeling pages hold
    # their own instances in the same app)
    canvas = sc.shape_canvas(elem_id="part-canvas", visible=False)
    picker = sp.span_picker(elem_id="part-picker", visible=False)
    wave = wf.waveform(elem_id="part-waveform", visible=False)
    with gr.Row():
        save_btn = gr.Button("Save", variant="primary", elem_id="part-save", scale=0, min_width=120)
        next_btn = gr.Button("Next", elem_id="part-next", scale=0, min_width=120)
    status = gr.Markdown(elem_id="part-status")

    # wiring ---------------------------------------------------------------------------------
    h = ParticipationsHandlers(ctx)
    open_outputs = [preview, info, labels, editor, canvas, picker, wave]
    sample_outputs = [samples_table, sample] + open_outputs
    assert len(sample_outputs) == h.SAMPLE_OUTPUTS
    outputs = [jobs_table, job] + sample_outputs
    save_inputs = [job, state, sample, labels, editor, canvas, picker, wave]
    save_outputs = [jobs_table] + sample_outputs + [status]
    refresh_btn.click(h.part_load, [job, state], outputs)
    job.input(h.part_on_job, [job, state], [jobs_table] + sample_outputs)
    state.input(h.part_on_job, [job, state], [jobs_table] + sample_outputs)
    sample.input(h.part_on_sample, [job, sample], open_outputs)
    save_btn.click(h.part_on_save, save_inputs, save_outputs)
    for widget in (canvas, picker, wave):
        widget.save(h.part_on_save, save_inputs, save_outputs)  # Ctrl+S / the widget's own Save
    for widget in (canvas, wave):
        widget.navigate(h.part_on_navigate, [job, state, sample, widget], sample_outputs)
    next_btn.click(h.part_on_next, [job, state, sample], sample_outputs)
    return ParticipationsPage(outputs, h.part_load, [job, state], h.part_open)
