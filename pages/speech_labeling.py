"""Speech labeling page (F3.9, F3.12): the files of the view on the left (paged, tabs with
counts); the open file's player and its "Speech Content" box on the right; Label saves the
transcript (the file moves to Labeled) and a labeled file opens again to be edited later.

Keys (they work while typing in the box): Ctrl+Enter labels and opens the next file, Ctrl+S
labels, Ctrl+Space plays / pauses, Alt+Left / Alt+Right open the previous / next file (refused
while the box holds unsaved text)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.audio_list import audio_list, list_item, list_value, preview_id
from components.autolabel_panel import build_autolabel_panel
from components.data_panel import build_data_panel, history_frame
from store.annotations import clear_annotation, set_annotation
from store.errors import NotFound
from store.jobs import get_job
from store.predictions import confirm_samples
from store.samples import TABS, SampleQuery, counts, get_sample, query_samples

from .common import AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, user_errors

PAGE_SIZE = 20
KEYS_HELP = ("**Keys**: Ctrl+Enter labels and opens the next file · Ctrl+S labels · Ctrl+Space plays / pauses · "
             "Alt+← / Alt+→ previous / next file")

PLAYER_TEMPLATE = """
<div class="sl-player" data-testid="sl-player">
  <div class="sl-name">{{value.name}}</div>
  {{#if value.audio}}<audio controls preload="metadata" src="{{value.audio}}" data-testid="sl-audio"></audio>
  {{else}}<div class="sl-none">No file open.</div>{{/if}}
</div>
"""
PLAYER_CSS = """
.sl-player { display: flex; flex-direction: column; gap: 4px; }
.sl-player audio { width: 100%; }
.sl-name { font-weight: 600; word-break: break-all; }
.sl-none { color: var(--body-text-color-subdued); }
"""
# Keys for the whole page (the player's js_on_load installs them once; they act only while the
# page is shown).
PLAYER_JS = """
const click = (id) => { const b = document.getElementById(id); if (b && !b.disabled) b.click(); };
function shown() { return element.isConnected && element.offsetParent !== null; }
function onKey(e) {
  if (!element.isConnected) { window.removeEventListener('keydown', onKey, true); return; }
  if (!shown() || e.isComposing || e.repeat) return;
  const ctrl = e.ctrlKey || e.metaKey;
  let id = null;
  if (ctrl && !e.altKey && e.key === 'Enter') id = 'sl-label-next';
  else if (ctrl && !e.altKey && (e.key === 's' || e.key === 'S')) id = 'sl-label';
  else if (e.altKey && !ctrl && e.key === 'ArrowRight') id = 'sl-next';
  else if (e.altKey && !ctrl && e.key === 'ArrowLeft') id = 'sl-prev';
  else if (ctrl && !e.altKey && (e.key === ' ' || e.code === 'Space')) {
    const a = element.querySelector('audio');
    if (a) { if (a.paused) a.play().catch(() => {}); else a.pause(); }
    e.preventDefault(); e.stopPropagation(); return;
  }
  if (!id) return;
  e.preventDefault(); e.stopPropagation();
  // let the text box publish its value first
  const t = document.activeElement;
  if (t && t.tagName === 'TEXTAREA') t.dispatchEvent(new Event('input', { bubbles: true }));
  setTimeout(() => click(id), 60);
}
window.addEventListener('keydown', onKey, true);
"""


@dataclass
class SpeechLabelingPage:
    load_outputs: list
    load: Any  # (job_id) -> updates


def build(ctx: AppContext, current_job: gr.State) -> SpeechLabelingPage:
    store = ctx.store
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="sl-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="sl-describe")
    description = gr.Markdown(visible=False, elem_id="sl-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="sl-tabs")
    with gr.Row():
        with gr.Column(scale=2, min_width=260):
            records = audio_list(open_on_click=True, elem_id="sl-list")
            with gr.Row():
                prev_page = gr.Button("◀", size="sm", min_width=40, elem_id="sl-prev-page")
                page_info = gr.Markdown("", elem_id="sl-page-info")
                next_page = gr.Button("▶", size="sm", min_width=40, elem_id="sl-next-page")
        with gr.Column(scale=3):
            player = gr.HTML(value={"name": "", "audio": ""}, html_template=PLAYER_TEMPLATE, css_template=PLAYER_CSS,
                             js_on_load=PLAYER_JS, elem_id="sl-player", apply_default_css=False)
            content = gr.Textbox(label="Speech Content", lines=4, placeholder="Type what is said in the file",
                                 elem_id="sl-content")
            with gr.Row():
                label_btn = gr.Button("Label (Ctrl+S)", variant="primary", scale=0, min_width=130, elem_id="sl-label")
                label_next_btn = gr.Button("Label & next (Ctrl+Enter)", variant="primary", scale=0, min_width=200,
                                           elem_id="sl-label-next")
                prev_btn = gr.Button("◀ Previous", scale=0, min_width=110, elem_id="sl-prev")
                next_btn = gr.Button("Next ▶", scale=0, min_width=100, elem_id="sl-next")
                discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id="sl-discard")
                clear_btn = gr.Button("Delete the transcript", variant="stop", scale=0, min_width=160,
                                      elem_id="sl-clear")
                confirm_btn = gr.Button("Confirm", scale=0, min_width=100, elem_id="sl-confirm")
            sample_info = gr.Markdown(elem_id="sl-sample-info")
            gr.Markdown(KEYS_HELP, elem_classes=["lp-hint"])
    data = build_data_panel(ctx, current_job, "speech_labeling", prefix="sl-")
    auto = build_autolabel_panel(ctx, current_job, "speech_labeling", prefix="sl")
    page_state = gr.State(1)
    open_state = gr.State(None)
    described = gr.State(False)

    # wiring ---------------------------------------------------------------------------------
    def page_of(job_id, tab_v, page):
        return query_samples(store, job_id, SampleQuery(status=tab_v or "all", page=int(page or 1),
                                                        page_size=PAGE_SIZE), actor=acting_user())

    def stored_content(job_id, sid) -> str:
        if job_id is None or sid is None:
            return ""
        s = get_sample(store, job_id, int(sid), actor=acting_user())
        ann = s.annotation if isinstance(s.annotation, dict) else {}
        return ann.get("content") if isinstance(ann.get("content"), str) else ""

    def view(job_id, tab_v, page, open_id=None):
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
        items = []
        for s in p.items:
            it = list_item(s, {})
            it["labels"] = []
            items.append(it)
        if open_id is not None:
            s = get_sample(store, job_id, int(open_id), actor=acting_user())
            ann = s.annotation if isinstance(s.annotation, dict) else {}
            text = ann.get("content") if isinstance(ann.get("content"), str) else ""
            dur = (s.meta or {}).get("duration")
            who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}"
                   if s.labeled_by and s.labeled_at else "not labeled yet")
            info = (f"**{esc(s.name)}** · {float(dur):.1f} s · " if isinstance(dur, (int, float)) else
                    f"**{esc(s.name)}** · ") + f"{s.status.replace('_', ' ')} · {who}"
            if s.confidence is not None:
                info += f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
            pv = {"name": s.name, "audio": f"/media/{s.id}/file"}
        else:
            text, info, pv = "", "No file in this view.", {"name": "", "audio": ""}
        head = (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
                " · play the file, type what is said, Ctrl+Enter labels and opens the next")
        return [head, gr.Radio(choices=tabs, value=tab_v or "all"),
                list_value(items, [open_id] if open_id is not None else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} files", pv, text, info, p.page, open_id,
                job.instructions or "_This job has no labeling instructions._"]

    view_outputs = [header, tab, records, page_info, player, content, sample_info, page_state, open_state,
                    description]

    def load(job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return view(job_id, "all", 1, open_id=sample_id) + [history_frame(ctx, job_id)] + auto.load(job_id)

    def _dirty(job_id, sid, text) -> bool:
        try:
            return sid is not None and (text or "") != stored_content(job_id, sid)
        except NotFound:
            return False

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

    def _page_holding(job_id, tab_v, page, sid):
        for pg in (page, page + 1, page - 1):
            if pg >= 1 and sid in {s.id for s in page_of(job_id, tab_v, pg).items}:
                return pg
        return page

    @user_errors
    def on_filter(job_id, tab_v, sid, text):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        dirty = _dirty(job_id, sid, text)
        return keep_unsaved(view(job_id, tab_v, 1, open_id=sid if dirty else None), view_outputs, (content,), dirty)

    def pager(delta):
        @user_errors
        def go(job_id, tab_v, page, sid, text):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            dirty = _dirty(job_id, sid, text)
            return keep_unsaved(view(job_id, tab_v, max(1, int(page or 1) + delta), open_id=sid if dirty else None),
                                view_outputs, (content,), dirty)
        return go

    @user_errors
    def on_open(job_id, tab_v, page, sid, text, list_v):
        target = preview_id(list_v)
        if job_id is None or target is None:
            return [gr.skip()] * len(view_outputs)
        refuse_if_unsaved(target != sid and _dirty(job_id, sid, text), "file")
        return view(job_id, tab_v, page, open_id=target)

    def _save(request, job_id, sid, text):
        if job_id is None or sid is None:
            raise UserError("open a file first")
        if not (text or "").strip():
            raise UserError("type the speech content first (Delete the transcript empties it)")
        set_annotation(store, job_id, int(sid), {"content": text}, actor=ctx.actor(request))

    @user_errors
    def on_label(request: gr.Request, job_id, tab_v, page, sid, text):
        _save(request, job_id, sid, text)
        gr.Info("Labeled")
        return view(job_id, tab_v, _page_holding(job_id, tab_v, int(page or 1), sid), open_id=sid)

    @user_errors
    def on_label_next(request: gr.Request, job_id, tab_v, page, sid, text):
        target, _ = _neighbour(job_id, tab_v, page, sid, 1) if job_id is not None else (None, page)
        _save(request, job_id, sid, text)
        if target is None:
            gr.Info("Labeled: this was the last file of the view")
            return view(job_id, tab_v, page, open_id=sid)
        gr.Info("Labeled")
        return view(job_id, tab_v, _page_holding(job_id, tab_v, int(page or 1), target), open_id=target)

    def mover(step):
        @user_errors
        def go(job_id, tab_v, page, sid, text):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            refuse_if_unsaved(_dirty(job_id, sid, text), "file")
            target, new_page = _neighbour(job_id, tab_v, page, sid, step)
            if target is None:
                gr.Info("This is the " + ("last" if step > 0 else "first") + " file of the view")
                return view(job_id, tab_v, page, open_id=sid)
            return view(job_id, tab_v, new_page, open_id=target)
        return go

    @user_errors
    def on_discard(job_id, tab_v, page, sid, text=None):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return view(job_id, tab_v, page, open_id=sid)

    @user_errors
    def on_clear(request: gr.Request, job_id, tab_v, page, sid, text):
        if job_id is None or sid is None:
            raise UserError("open a file first")
        clear_annotation(store, job_id, int(sid), actor=ctx.actor(request))
        gr.Info("Deleted the transcript: the file is back in Unlabeled")
        return view(job_id, tab_v, page, open_id=sid)

    @user_errors
    def on_confirm(request: gr.Request, job_id, tab_v, page, sid, text):
        if job_id is None or sid is None:
            raise UserError("open a file first")
        if _dirty(job_id, sid, text):
            raise UserError("the transcript has unsaved changes: Label it (Ctrl+S), which confirms it too")
        confirm_samples(store, job_id, [int(sid)], actor=ctx.actor(request))
        gr.Info("Confirmed: the file is Labeled")
        return view(job_id, tab_v, _page_holding(job_id, tab_v, int(page or 1), sid), open_id=sid)

    @user_errors
    def on_auto_done(job_id, tab_v, page, sid, text):
        """After a finished run, a bulk confirm or discard; an unsaved transcript stays in the box."""
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        dirty = bool((text or "").strip()) and _dirty(job_id, sid, text)  # an empty box: take the prediction
        return keep_unsaved(view(job_id, tab_v, page, open_id=sid), view_outputs, (content,), dirty)

    inputs = [current_job, tab, page_state, open_state, content]
    tab.input(on_filter, [current_job, tab, open_state, content], view_outputs)
    prev_page.click(pager(-1), inputs, view_outputs)
    next_page.click(pager(1), inputs, view_outputs)
    records.preview(on_open, inputs + [records], view_outputs)
    label_btn.click(on_label, inputs, view_outputs)
    label_next_btn.click(on_label_next, inputs, view_outputs)
    prev_btn.click(mover(-1), inputs, view_outputs)
    next_btn.click(mover(1), inputs, view_outputs)
    discard_btn.click(on_discard, inputs, view_outputs)
    clear_btn.click(on_clear, inputs, view_outputs)
    confirm_btn.click(on_confirm, inputs, view_outputs)
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described],
                       [description, described])
    for event in data.events:
        event.success(on_discard, inputs, view_outputs)
    for event in auto.events:
        event.success(on_auto_done, inputs, view_outputs)
    return SpeechLabelingPage(view_outputs + [data.history] + auto.outputs, load)
