"""The transcript page: speech labeling (F3.9, F3.12).

The files of the view on the left (paged, tabs with counts); the open file's player and its
"Speech Content" box on the right; Label saves the transcript (the file moves to Labeled) and a
labeled file opens again to be edited later. The list, Previous / Next, Discard and Delete come
from the open-sample view (open_sample.py); Labeling Description, Add data / Export and Auto
labeling from the labeling view (base.py).

Keys (they work while typing in the box): Ctrl+Enter labels and opens the next file, Ctrl+S
labels, Ctrl+Space plays / pauses, Alt+Left / Alt+Right open the previous / next file (refused
while the box holds unsaved text)."""
from __future__ import annotations

import gradio as gr

from components.record_list import file_item
from store.annotations import set_annotation
from store.errors import NotFound
from store.predictions import confirm_samples

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import instructions, skips, toggle_description, who_labeled
from .open_sample import PAGE_SIZE, OpenSampleView
from .versions import text_changes

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


def content_of(s) -> str:
    """A sample's stored transcript ("" when it has none)."""
    ann = s.annotation if isinstance(s.annotation, dict) else {}
    return ann.get("content") if isinstance(ann.get("content"), str) else ""


def file_info(s) -> str:
    """The open file: name, duration, status, who labeled it, the model's prediction."""
    dur = (s.meta or {}).get("duration")
    info = (f"**{esc(s.name)}** · {float(dur):.1f} s · " if isinstance(dur, (int, float)) else
            f"**{esc(s.name)}** · ") + f"{s.status.replace('_', ' ')} · {who_labeled(s)}"
    if s.confidence is not None:
        info += f" · predicted by {esc(s.model or 'a model')} with confidence {s.confidence:.2f}"
    return info


def compare_transcripts(job, text, theirs: dict) -> list[list]:
    """Compare after a conflict: the box's transcript beside the newer version's."""
    return text_changes(text, theirs.get("content") if isinstance(theirs.get("content"), str) else "")


class TranscriptPage(OpenSampleView):
    hint = "play the file, type what is said, Ctrl+Enter labels and opens the next"
    cleared = "Deleted the transcript: the file is back in Unlabeled"
    compare = staticmethod(compare_transcripts)

    def __init__(self, ctx: AppContext, current_job: gr.State, type_id: str = "speech_labeling"):
        super().__init__(ctx, current_job, type_id, "sl")
        self.build_top(scale=2, min_width=260)
        self.build_panels()
        self.open_state = gr.State(None)
        self.inputs = [current_job, self.tab, self.page_state, self.open_state, self.content]
        self.outputs = [self.header, self.tab, self.records, self.page_info, self.player, self.content,
                        self.sample_info, self.page_state, self.open_state, self.description] + self.versions.outputs
        self.editor = (self.content, *self.versions.outputs)
        self._wire()

    def build_editor(self) -> None:
        self.player = gr.HTML(value={"name": "", "audio": ""}, html_template=PLAYER_TEMPLATE, css_template=PLAYER_CSS,
                              js_on_load=PLAYER_JS, elem_id=self.eid("player"), apply_default_css=False)
        self.content = gr.Textbox(label="Speech Content", lines=4, placeholder="Type what is said in the file",
                                  elem_id=self.eid("content"))
        with gr.Row():
            self.label_btn = gr.Button("Label (Ctrl+S)", variant="primary", scale=0, min_width=130,
                                       elem_id=self.eid("label"))
            self.label_next_btn = gr.Button("Label & next (Ctrl+Enter)", variant="primary", scale=0, min_width=200,
                                            elem_id=self.eid("label-next"))
            self.build_moves()
            self.clear_btn = gr.Button("Delete the transcript", variant="stop", scale=0, min_width=160,
                                       elem_id=self.eid("clear"))
            self.confirm_btn = gr.Button("Confirm", scale=0, min_width=100, elem_id=self.eid("confirm"))
        self.sample_info = gr.Markdown(elem_id=self.eid("sample-info"))
        self.versions.build_notices()
        gr.Markdown(KEYS_HELP, elem_classes=["lp-hint"])
        self.versions.build_history()

    def _wire(self) -> None:
        inputs, outputs = self.inputs, self.outputs
        self.wire_list()
        self.records.preview(self.on_open, inputs + [self.records], outputs)
        self.label_btn.click(self.on_label, inputs + [self.versions.opened], outputs)
        self.label_next_btn.click(self.on_label_next, inputs + [self.versions.opened], outputs)
        self.versions.wire(self.on_discard, inputs, self.on_label, inputs, outputs, mine=self.content)
        self.confirm_btn.click(self.on_confirm, inputs, outputs)
        self.describe_btn.click(toggle_description, [self.described], [self.description, self.described])
        for event in self.data.events:
            event.success(self.on_discard, inputs, outputs)
        for event in self.auto.events:
            event.success(self.on_auto_done, inputs, outputs)

    # -- the view ------------------------------------------------------------------------------------
    def list_items(self, job, samples) -> list[dict]:
        return [{**file_item(s, {}), "labels": []} for s in samples]

    def editor_view(self, job, c, p, open_id, message=None) -> list:
        """[player, transcript, file info, page, open file, instructions] and its versions."""
        if open_id is not None:
            s = self.sample(job.id, open_id)
            text, info, pv = content_of(s), file_info(s), {"name": s.name, "audio": f"/media/{s.id}/file"}
        else:
            s, text, info, pv = None, "", "No file in this view.", {"name": "", "audio": ""}
        return [pv, text, info, p.page, open_id, instructions(job), *self.versions.values(job.id, s)]

    # -- the editor ----------------------------------------------------------------------------------
    def open_id(self, sid, text=None):
        return sid

    def is_dirty(self, job_id, sid, text) -> bool:
        """The box differs from the stored transcript."""
        if sid is None:
            return False
        try:
            return (text or "") != (content_of(self.sample(job_id, sid)) if job_id is not None else "")
        except NotFound:
            return False

    def _save(self, job_id, sid, text, opened, over=None):
        """Save the transcript; the conflict when the file was saved since it opened (else None)."""
        if job_id is None or sid is None:
            raise UserError("open a file first")
        if not (text or "").strip():
            raise UserError("type the speech content first (Delete the transcript empties it)")
        return self.versions.save(job_id, sid, opened, over, lambda expected: set_annotation(
            self.store, job_id, int(sid), {"content": text}, actor=acting_user(), expected_version=expected))

    # -- events ------------------------------------------------------------------------------------
    @user_errors
    def on_open(self, job_id, tab_v, page, sid, text, list_v):
        target = self.to_open(job_id, list_v, sid, text)
        if target is None:
            return skips(len(self.outputs))
        return self.view(job_id, tab_v, page, open_id=target)

    @user_errors
    def on_label(self, job_id, tab_v, page, sid, text, opened=None, over=None):
        """Label (Ctrl+S); Keep mine after a conflict (`over`: the newer version)."""
        conflict = self._save(job_id, sid, text, opened, over)
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        gr.Info("Labeled")
        return self.view(job_id, tab_v, self.page_holding(job_id, tab_v, int(page or 1), sid), open_id=sid)

    @user_errors
    def on_label_next(self, job_id, tab_v, page, sid, text, opened=None):
        target, _ = self.neighbour(job_id, tab_v, page, sid, 1, PAGE_SIZE) if job_id is not None else (None, page)
        conflict = self._save(job_id, sid, text, opened)
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        if target is None:
            gr.Info("Labeled: this was the last file of the view")
            return self.view(job_id, tab_v, page, open_id=sid)
        gr.Info("Labeled")
        return self.view(job_id, tab_v, self.page_holding(job_id, tab_v, int(page or 1), target), open_id=target)

    @user_errors
    def on_confirm(self, job_id, tab_v, page, sid, text):
        if job_id is None or sid is None:
            raise UserError("open a file first")
        if self.is_dirty(job_id, sid, text):
            raise UserError("the transcript has unsaved changes: Label it (Ctrl+S), which confirms it too")
        confirm_samples(self.store, job_id, [int(sid)], actor=acting_user())
        gr.Info("Confirmed: the file is Labeled")
        return self.view(job_id, tab_v, self.page_holding(job_id, tab_v, int(page or 1), sid), open_id=sid)

    @user_errors
    def on_auto_done(self, job_id, tab_v, page, sid, text):
        """After a finished run, a bulk confirm or discard; an unsaved transcript stays in the box."""
        if job_id is None:
            return skips(len(self.outputs))
        dirty = bool((text or "").strip()) and self.is_dirty(job_id, sid, text)  # an empty box: take the prediction
        return self.keep_editor(self.view(job_id, tab_v, page, open_id=sid), dirty)

