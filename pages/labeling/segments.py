"""The segments page: speech paragraph labeling (F3.10, F3.12).

The files of the view on the left (paged, tabs with counts); the waveform segment editor for the
open file on the right (drag to make a segment, adjust its edges, play the file or one segment,
the selected segment's label — one select per class in multi-label mode — and its content when
the job has speech content on; the segments table with delete); Label / Save (Ctrl+S), previous /
next (Alt+Left / Alt+Right), discard; "Detect speech" fills the segments from voice-activity
detection for the labeler to correct (unsaved until Save). The list, Previous / Next, Discard and
Delete come from the open-sample view (open_sample.py); label management, Labeling Description and
Add data / Export from the labeling view (base.py)."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from components.record_list import file_item
from components.waveform import annotation_of, unlabeled_segments, waveform, waveform_value
from store.annotations import set_annotation
from store.jobs import get_job

from ..common import AppContext, UserError, acting_user, esc, user_errors
from .base import instructions, skips, who_labeled
from .open_sample import OpenSampleView


def _dirty(value) -> bool:
    return isinstance(value, dict) and bool(value.get("dirty"))


def _sid(value):
    return value.get("sample_id") if isinstance(value, dict) else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def save_message(ann: dict) -> str:
    n = len(ann["segments"])
    return f"Saved {_plural(n, 'segment')}" if n else "Saved: no segments left, the file is back in Unlabeled"


def check_labeled(value) -> None:
    """Refuse to save segments that have no label yet."""
    missing = unlabeled_segments(value)
    if missing:
        raise UserError(f"segment{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing[:10]))} "
                        "of the table ha" + ("ve" if len(missing) > 1 else "s") + " no label yet: pick one, "
                        "or delete the segment")


def label_rows(job, c) -> tuple[pd.DataFrame, list[str]]:
    """The label table (class, label, color, files) and the label names."""
    ls = job.label_set
    if ls.classes:
        rows = [(cl.name, name, "", c.by_label.get(name, 0)) for cl in ls.classes for name in cl.labels]
    else:
        rows = [("", lab.name, lab.color or "", c.by_label.get(lab.name, 0)) for lab in ls.labels]
    return pd.DataFrame(rows, columns=["Class", "Label", "Color", "Files"]), [r[1] for r in rows]


class SegmentsPage(OpenSampleView):
    cleared = "Deleted the segments of this file"
    cleared_message = "Segments deleted"

    def __init__(self, ctx: AppContext, current_job: gr.State, type_id: str = "speech_paragraph"):
        super().__init__(ctx, current_job, type_id, "spg")
        self.build_top(scale=1, min_width=240)
        self.build_label_management(add=True)
        self.build_panels()
        self.inputs = [current_job, self.tab, self.page_state, self.wave]
        self.outputs = [self.header, self.tab, self.records, self.page_info, self.wave, self.sample_info,
                        self.page_state, self.labels_table, self.lm_label, self.description] + self.versions.outputs
        self.editor = (self.wave, self.sample_info, *self.versions.outputs)
        self._wire()

    def build_editor(self) -> None:
        self.wave = waveform(elem_id=self.eid("waveform"))
        with gr.Row():
            self.save_btn = gr.Button("Label / Save (Ctrl+S)", variant="primary", scale=0, min_width=170,
                                      elem_id=self.eid("save"))
            self.build_moves()
            self.detect_btn = gr.Button("Detect speech", scale=0, min_width=130, elem_id=self.eid("detect"))
            self.clear_btn = gr.Button("Delete Labels on Current File", variant="stop", scale=0, min_width=200,
                                       elem_id=self.eid("clear"))
        self.sample_info = gr.Markdown(elem_id=self.eid("sample-info"))
        self.versions.build_notices()
        self.versions.build_history()

    def build_add_label(self, title: str = "New label", **kwargs) -> None:
        super().build_add_label("Add a label (single-label mode)", **kwargs)

    def _wire(self) -> None:
        inputs, outputs = self.inputs, self.outputs
        self.wire_list()
        self.records.preview(self.on_open, [self.current_job, self.records, self.wave],
                             [self.wave, self.sample_info] + self.versions.outputs)
        self.wave.save(self.on_save, inputs + [self.versions.opened], outputs)
        self.wave.navigate(self.on_navigate, inputs, outputs)
        self.save_btn.click(self.on_save, inputs + [self.versions.opened], outputs)
        self.versions.wire(self.on_discard, inputs, self.on_save, inputs, outputs)
        self.detect_btn.click(self.on_detect, inputs, outputs)
        self.wire_shared(self.on_discard)

    # -- the view ------------------------------------------------------------------------------------
    def header_for(self, job, c) -> str:
        ls = job.label_set
        mode = (f"multi-label mode ({len(ls.classes)} classes)" if ls.classes else "single-label mode") + (
            " · speech content on" if ls.speech_content else "")
        return (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {mode} · "
                f"{c.by_status['labeled']}/{c.total} labeled · drag on the waveform to make a segment, Ctrl+S saves")

    def list_items(self, job, samples) -> list[dict]:
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        return [{**file_item(s, colors), "content": ""} for s in samples]

    def editor_for(self, job, sample_id, message=None, segments=None) -> tuple:
        """The editor's value for a file (`segments`: unsaved ones, e.g. detected), its description
        and the sample as read (its version)."""
        s = self.sample(job.id, sample_id)
        dur = (s.meta or {}).get("duration") or 0.0
        value = waveform_value(sample_id, dur, s.annotation, job.label_set, message=message, segments=segments,
                               dirty=segments is not None)
        n = len(value["segments"])
        return value, (f"**{esc(s.name)}** · {float(dur):.2f} s · {_plural(n, 'segment')} · "
                       f"{s.status.replace('_', ' ')} · {who_labeled(s)}"), s

    def editor_view(self, job, c, p, open_id, message=None, segments=None) -> list:
        """[editor, file info, page, label table, label picker, instructions] and its versions."""
        if open_id is not None:
            value, info, s = self.editor_for(job, int(open_id), message, segments)
        else:
            value, info, s = waveform_value(None, 0, None, job.label_set), "No file in this view.", None
        frame, names = label_rows(job, c)
        return [value, info, p.page, frame, gr.Dropdown(choices=names, value=None), instructions(job),
                *self.versions.values(job.id, s)]

    # -- the editor ----------------------------------------------------------------------------------
    def open_id(self, value):
        return _sid(value)

    def is_dirty(self, job_id, value) -> bool:
        return _dirty(value)

    def _open_or_refuse(self, job_id, value) -> int:
        sid = _sid(value)
        if job_id is None or sid is None:
            raise UserError("open a file first")
        return int(sid)

    # -- events ------------------------------------------------------------------------------------
    @user_errors
    def on_open(self, job_id, list_v, value):
        sid = self.to_open(job_id, list_v, value)
        if sid is None:
            return skips(2 + len(self.versions.outputs))
        value, info, s = self.editor_for(get_job(self.store, job_id, actor=acting_user()), sid)
        return [value, info, *self.versions.values(job_id, s)]

    @user_errors
    def on_navigate(self, job_id, tab_v, page, value):
        """Alt+Left / Alt+Right in the editor."""
        action = value.get("action") if isinstance(value, dict) else None
        if action not in ("prev", "next"):
            return skips(len(self.outputs))
        return self.move(-1 if action == "prev" else 1, job_id, tab_v, page, value)

    @user_errors
    def on_save(self, job_id, tab_v, page, value, opened=None, over=None):
        """Label / Save (Ctrl+S); Keep mine after a conflict (`over`: the newer version)."""
        sid = self._open_or_refuse(job_id, value)
        ann = annotation_of(value)
        check_labeled(value)
        conflict = self.versions.save(job_id, sid, opened, over, lambda expected: set_annotation(
            self.store, job_id, sid, ann, actor=acting_user(), expected_version=expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        msg = save_message(ann)
        gr.Info(msg)
        return self.view(job_id, tab_v, page, open_id=sid, message=msg)

    @user_errors
    def on_detect(self, job_id, tab_v, page, value):
        sid = self._open_or_refuse(job_id, value)
        from store.audio import detect_speech

        found = detect_speech(self.store, sid, actor=acting_user())
        had = len(value.get("segments") or []) if isinstance(value, dict) else 0
        if had:
            gr.Warning(f"The {_plural(had, 'segment')} shown were replaced by the detected ones "
                       "(not saved: Discard changes brings them back)")
        msg = (f"Detected {len(found)} speech segment{'s' if len(found) != 1 else ''}: check and label them, "
               "then Save (Ctrl+S)") if found else "No speech detected in this file"
        gr.Info(msg)
        return self.view(job_id, tab_v, page, open_id=sid, message=msg, segments=found)
