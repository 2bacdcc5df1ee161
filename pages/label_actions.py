"""Label management actions shared by the labeling pages: rename, recolor, delete (with the two
choices of F3.5), add. Each checks the page's input, calls one store function and says what
happened; the page refreshes its own view."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from store import Store
from components.label_editor import label_set_of
from store.annotations import add_label, delete_label, edit_label_set, recolor_label, rename_label

from .common import UserError, esc


def delete_choices(noun: str) -> list[str]:
    return ["delete the label", f"delete the label and the {noun} that have only this label"]


@dataclass(frozen=True)
class LabelActions:
    store: Store
    noun: str  # what a sample is called on the page: texts, files

    @property
    def delete_choices(self) -> list[str]:
        return delete_choices(self.noun)

    def rename(self, actor: str, job_id: int, old: str, new: str) -> None:
        if not old:
            raise UserError("choose the label to rename")
        n = rename_label(self.store, job_id, old, new, actor=actor)
        gr.Info(f"Renamed on {n} {self.noun}")

    def recolor(self, actor: str, job_id: int, name: str, color: str) -> None:
        if not name:
            raise UserError("choose the label to recolor")
        recolor_label(self.store, job_id, name, color, actor=actor)
        gr.Info(f"Color of {esc(name)} changed")

    def delete(self, actor: str, job_id: int, name: str, how: str) -> None:
        if not name:
            raise UserError("choose the label to delete")
        with_samples = how == self.delete_choices[1]
        n = delete_label(self.store, job_id, name, delete_samples_with_only_this=with_samples, actor=actor)
        gr.Info(f"Deleted the label {esc(name)} ({n} {self.noun} changed{' or deleted' if with_samples else ''})")

    def add(self, actor: str, job_id: int, name: str, color: str, shortcut: str = "") -> None:
        add_label(self.store, job_id, name, color or "", shortcut=(shortcut or "").strip(), actor=actor)
        gr.Info(f"Label {esc((name or '').strip())} added")

    def edit(self, actor: str, job_id: int, value: dict) -> None:
        """Save the label-set editor's set (it names the job it was filled for)."""
        shown = value.get("job_id") if isinstance(value, dict) else None
        if shown is not None and shown != job_id:
            raise UserError("the label editor shows another job's labels: close and reopen Label management")
        if shown is None:
            raise UserError("open Label management again to load this job's labels, then edit them")
        job = edit_label_set(self.store, job_id, label_set_of(value), actor=actor)
        ls = job.label_set
        n = len(ls.labels) + len(ls.entities) + len(ls.relations) + len(ls.classes)
        gr.Info(f"Label set saved ({n} {'entries' if ls.entities or ls.classes else 'labels'})")
