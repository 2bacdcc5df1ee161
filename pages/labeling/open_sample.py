"""The labeling view of pages that list the view's samples and edit one open sample (issue 15):
speech labeling (transcript.py) and speech paragraphs (segments.py).

The list on the left (paged, status tabs with counts; a click opens a sample) and the editor of
the open sample on the right, with Previous / Next (the neighbour across pages), Discard changes
and Delete labels. The one unsaved-changes guard (pages/common.py): opening another sample is
refused while the editor holds unsaved changes; moving the list (tab, page, a refresh) keeps the
open sample and its changes.

A subclass says what its editor is: `editor` (the outputs an unsaved editor keeps), `open_id`
and `is_dirty` over the editor's inputs (those after job, tab and page in `self.inputs`) and
`editor_view` (the outputs after the list's four, ending with `self.versions.values(...)`: the
open sample's version, presence and History, versions.py; its editor lays out their notices and
History)."""
from __future__ import annotations

from abc import abstractmethod

import gradio as gr

from components.record_list import record_list, list_value, preview_id
from store.annotations import clear_annotation
from store.samples import get_sample
from store.access import reads_only

from ..common import UserError, acting_user, refuse_if_unsaved, user_errors
from .base import LabelingView, Pager, header_text, skips, status_tabs
from .versions import VersionPanel, expected_version

PAGE_SIZE = 20


class OpenSampleView(LabelingView):
    """The list of the view beside the editor of the open sample; `self.inputs`: job, tab, page,
    then the editor's inputs."""

    noun = "files"
    cleared = "Deleted the labels"  # the toast after Delete
    cleared_message: str | None = None  # the editor's message after Delete
    list_widget = staticmethod(record_list)
    list_value = staticmethod(list_value)
    list_preview = staticmethod(preview_id)  # the sample a click in the list opens
    compare = None  # compare(job, editor value, their annotation): Compare's rows after a conflict (versions.py)

    # -- layout ------------------------------------------------------------------------------------
    def build_top(self, **list_column) -> None:
        """The header, the status tabs, then the list (in a column: `list_column`) beside the editor."""
        self.versions = VersionPanel(self, compare=self.compare)  # the editor lays out its notices and History
        self.build_header()
        self.build_tabs()
        with gr.Row():
            self.records = self.build_paged_list(self.list_widget, **list_column)
            with gr.Column(scale=3):
                self.build_editor()
        self.page_state = gr.State(1)

    def build_moves(self) -> None:
        """Previous, Next, Discard changes (in the editor's row of buttons)."""
        self.prev_btn = gr.Button("◀ Previous", scale=0, min_width=110, elem_id=self.eid("prev"))
        self.next_btn = gr.Button("Next ▶", scale=0, min_width=100, elem_id=self.eid("next"))
        self.discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id=self.eid("discard"))

    def wire_list(self) -> None:
        """The list's events, Previous / Next, Discard and Delete (self.clear_btn)."""
        inputs, outputs = self.inputs, self.outputs
        self.tab.input(self.on_filter, [self.current_job, self.tab] + inputs[3:], outputs)
        self.prev_page.click(Pager(self, -1, view=self.relist), inputs, outputs)
        self.next_page.click(Pager(self, 1, view=self.relist), inputs, outputs)
        self.prev_btn.click(self.previous_sample, inputs, outputs)
        self.next_btn.click(self.next_sample, inputs, outputs)
        self.discard_btn.click(self.on_discard, inputs, outputs)
        self.clear_btn.click(self.on_clear, inputs + [self.versions.opened], outputs)

    # -- the editor, as the subclass defines it ----------------------------------------------------
    @abstractmethod
    def build_editor(self) -> None:
        """Lay out the editor of the open sample."""

    @abstractmethod
    def open_id(self, *editor):
        """The open sample's id (editor: the editor's inputs' values)."""

    @abstractmethod
    def is_dirty(self, job_id, *editor) -> bool:
        """The editor holds unsaved changes."""

    @abstractmethod
    def editor_view(self, job, c, p, open_id, **kwargs) -> list:
        """The outputs after the list's four for the open sample (None: the view is empty)."""

    @abstractmethod
    def list_items(self, job, samples) -> list[dict]:
        """The list's rows for a page of samples."""

    # -- the view ------------------------------------------------------------------------------------
    def header_for(self, job, c) -> str:
        return header_text(job, c, self.hint)

    def sample(self, job_id, sample_id):
        return get_sample(self.store, job_id, int(sample_id), actor=acting_user())

    @reads_only
    def view(self, job_id, tab_v, page, open_id=None, **kwargs) -> list:
        """The page for a job, a tab, a page of the list and the open sample (None: the page's first)."""
        if job_id is None:
            return skips(len(self.outputs))
        found = self.listing(job_id, tab_v, page, PAGE_SIZE, open_id)
        if found is None:
            return self.gone()
        job, c, p, open_id = found
        listed = self.list_value(self.list_items(job, p.items), [open_id] if open_id is not None else [],
                                 open_on_click=True)
        return ([self.header_for(job, c), status_tabs(c, tab_v), listed,
                 f"page {p.page} of {p.pages} · {p.total:,} files"] + self.editor_view(job, c, p, open_id, **kwargs))

    def load(self, job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return self.view(job_id, "all", 1, open_id=sample_id)

    @user_errors
    def relist(self, job_id, tab_v, page, *editor) -> list:
        """The list moves (tab, page, a refresh); an editor with unsaved changes keeps its sample."""
        if job_id is None:
            return skips(len(self.outputs))
        dirty = self.is_dirty(job_id, *editor)
        sid = self.open_id(*editor)
        out = self.view(job_id, tab_v, page, open_id=int(sid) if dirty and sid is not None else None)
        return self.keep_editor(out, dirty)

    def page_holding(self, job_id, tab_v, page, sid) -> int:
        """The page of the list (this one or a neighbour) that holds the sample after it moved."""
        for pg in (page, page + 1, page - 1):
            if pg >= 1 and sid in {s.id for s in self.query(job_id, tab_v, pg, PAGE_SIZE).items}:
                return pg
        return page

    # -- hooks of the label actions ------------------------------------------------------------------
    def unsaved(self, args) -> bool:
        return self.is_dirty(args[0], *args[3:])

    def after_label_action(self, args) -> list:
        return self.view(*args[:3], open_id=self.open_id(*args[3:]))

    # -- events ------------------------------------------------------------------------------------
    @user_errors
    def on_filter(self, job_id, tab_v, *editor):
        return self.relist(job_id, tab_v, 1, *editor)

    def to_open(self, job_id, list_v, *editor):
        """The sample a click in the list opens (None: nothing to do); refused while the editor
        holds unsaved changes of another sample."""
        target = self.list_preview(list_v)
        if job_id is None or target is None:
            return None
        refuse_if_unsaved(target != self.open_id(*editor) and self.is_dirty(job_id, *editor), self.noun[:-1])
        return target

    def move(self, step: int, job_id, tab_v, page, *editor) -> list:
        """Open the sample after (1) or before (-1) the open one, across pages."""
        if job_id is None:
            return skips(len(self.outputs))
        refuse_if_unsaved(self.is_dirty(job_id, *editor), self.noun[:-1])
        sid = self.open_id(*editor)
        target, new_page = self.step_to(job_id, tab_v, page, sid, step, PAGE_SIZE)
        return self.view(job_id, tab_v, new_page, open_id=target)

    @user_errors
    def previous_sample(self, job_id, tab_v, page, *editor):
        return self.move(-1, job_id, tab_v, page, *editor)

    @user_errors
    def next_sample(self, job_id, tab_v, page, *editor):
        return self.move(1, job_id, tab_v, page, *editor)

    @user_errors
    def on_discard(self, job_id, tab_v, page, *editor):
        if job_id is None:
            return skips(len(self.outputs))
        return self.view(job_id, tab_v, page, open_id=self.open_id(*editor))

    @user_errors
    def on_clear(self, job_id, tab_v, page, *editor_opened):
        """Delete the open sample's labels (inputs: the editor's, then the version the page opened)."""
        editor, opened = editor_opened[:-1], editor_opened[-1]
        sid = self.open_id(*editor)
        if job_id is None or sid is None:
            raise UserError(f"open a {self.noun[:-1]} first")
        clear_annotation(self.store, job_id, int(sid), actor=acting_user(),
                         expected_version=expected_version(opened, sid))
        gr.Info(self.cleared)
        return self.view(job_id, tab_v, page, open_id=int(sid), message=self.cleared_message)

