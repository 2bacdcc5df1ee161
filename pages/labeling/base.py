"""The labeling view: what every labeling page has, written once (issue 15).

A labeling page is a `LabelingView` subclass for one widget (the check list of classification,
the span picker, the shape canvas, the transcript, the segments, the video player). The base
lays out the parts every page shares and answers their events:

- the header (job name, progress, a hint) with the Labeling Description toggle;
- the status tabs with their counts;
- label management (rename / recolor / delete everywhere, add), refused while the editor holds
  unsaved changes;
- the Add data / Export and Auto labeling panels (after their events the page's view refreshes);
- the neighbour of the open sample across pages (Next / Previous), the pager;
- bulk label changes carrying the versions the list showed (SelectionActions.carry_versions).
The open sample's versions (the version a save carries, edit conflicts, presence, the History)
are versions.py's VersionPanel, which every page with an editor lays out and fills.

Handlers are methods (the page object is the small state they take: the store, the components,
the type) or small callable objects, never closures inside `build`; each calls one store function
with the event's user, so they can be unit-tested and followed. Subclasses write `view()` (the
page's outputs for a job, a tab, a page, an open sample) and their widget's own handlers."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

import gradio as gr
import pandas as pd

from components.label_editor import editor_value, label_editor
from store.annotations import remove_labels
from store.errors import Conflict, NotFound
from store.predictions import confirm_samples
from store.jobs import get_job
from store.samples import TABS, SampleQuery, counts, query_samples
from store.types import REGISTRY, get_type

from ..common import (AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, unsaved_message,
                      user_errors)
from ..label_actions import LabelActions

PICK_A_JOB = "Pick a job in My Creations, then press Label."
GONE = "This job no longer exists: pick another one in My Creations."
NO_INSTRUCTIONS = "_This job has no labeling instructions._"
TAB_CHOICES = [(v, k) for k, v in TABS.items()]

__all__ = ["GONE", "LabelingView", "LabelAction", "Pager", "PICK_A_JOB", "status_tabs", "unsaved_message"]


def status_tabs(c, tab_v: str | None) -> gr.Radio:
    """The status tabs with their counts (c: store.samples.counts)."""
    return gr.update(choices=[(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()],
                    value=tab_v or "all")


def page_types(module: str) -> tuple[str, ...]:
    """The types whose registry entry (store/types, `page`) names this page module, in the
    registry's order: the types one page labels."""
    return tuple(t.id for t in REGISTRY.values() if t.page == module)


def header_text(job, c, hint: str) -> str:
    return (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} labeled"
            + (f" · {hint}" if hint else ""))


def instructions(job) -> str:
    return job.instructions or NO_INSTRUCTIONS


def toggle_description(shown: bool):
    """Labeling Description: show or hide the job's instructions."""
    return gr.update(visible=not shown), not shown


def skips(n: int) -> list:
    return [gr.skip()] * n


def who_labeled(s) -> str:
    """Who labeled a sample and when, as the open sample's description says it."""
    return (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}" if s.labeled_by and s.labeled_at
            else "not labeled yet")


class LabelingView(ABC):
    """The shared parts of a labeling page. Subclasses set `noun` (plural, as messages say it:
    "texts", "files"), call the `build_*` methods in their layout, define `view()`, `outputs`
    (view's outputs) and `inputs` (what view's handlers take), then `wire_shared()`."""

    noun = "samples"
    hint = ""
    delete_noun = None  # what the second delete choice removes ("texts"); default: noun
    editor: tuple = ()  # the editor and what describes its open sample (keep_editor leaves them alone)

    def __init__(self, ctx: AppContext, current_job: gr.State, type_id: str, prefix: str,
                 ids: dict[str, str] | None = None, type_ids: tuple[str, ...] = ()):
        self.ctx = ctx
        self.store = ctx.store
        self.current_job = current_job
        self.type_id = type_id  # the type the layout follows (its rules); type_ids: every type the page labels
        self.type_ids = type_ids or (type_id,)
        # what differs between a page's types comes with the job; the layout's one choice (labels
        # have colors: the recolor row, the color columns) must hold for all of them
        if len({REGISTRY[t].rules.colors for t in self.type_ids}) != 1:
            raise ValueError(f"one page's types must agree on label colors: {self.type_ids}")
        self.prefix = prefix
        self._elem_ids = ids or {}
        self.labels = LabelActions(ctx.store, self.delete_noun or self.noun)
        self.add_name = self.add_key = self.add_color = self.add_btn = None
        self.label_editor = None  # build_label_management makes it
        self.rules = REGISTRY[type_id].rules
        self.outputs: list = []
        self.inputs: list = []

    def eid(self, name: str) -> str:
        """The element id of a part: "<prefix>-<name>" unless the page keeps an older id."""
        return self._elem_ids.get(name, f"{self.prefix}-{name}" if self.prefix else name)

    # -- layout ------------------------------------------------------------------------------------
    def build_header(self) -> None:
        with gr.Row():
            self.header = gr.Markdown(PICK_A_JOB, elem_id=self.eid("header"))
            self.describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id=self.eid("describe"))
        self.description = gr.Markdown(visible=False, elem_id=self.eid("description"),
                                       elem_classes=["lp-description"])
        self.described = gr.State(False)

    def build_tabs(self, **kwargs) -> gr.Radio:
        self.tab = gr.Radio(TAB_CHOICES, value="all", label="Status", elem_id=self.eid("tabs"), **kwargs)
        return self.tab

    def build_label_management(self, table: bool = True, add: bool = False, note: str = "") -> None:
        """The Label management accordion: the label table (unless the page shows it elsewhere),
        rename, recolor (types whose labels have colors) and delete everywhere; `add`: a row to add
        a label (with its color)."""
        colors = self.rules.colors
        choices = self.labels.delete_choices
        with gr.Accordion("Label management", open=False, elem_id=self.eid("label-management")) as self.management:
            if table:
                self.labels_table = gr.Dataframe(interactive=False, label="Labels", elem_id=self.eid("labels-table"))
            self.lm_label = gr.Dropdown([], label="Label", elem_id=self.eid("lm-label"))
            with gr.Row():
                self.lm_new = gr.Textbox(label="New name", elem_id=self.eid("lm-new-name"))
                self.lm_rename = gr.Button("Rename everywhere", elem_id=self.eid("lm-rename"))
            with gr.Row(visible=colors):
                self.lm_color = gr.ColorPicker(value="#3366ff", label="New color", elem_id=self.eid("lm-color"))
                self.lm_recolor = gr.Button("Change color", elem_id=self.eid("lm-recolor"))
            with gr.Row():
                self.lm_mode = gr.Radio(choices, value=choices[0], label="Delete", elem_id=self.eid("lm-delete-mode"))
                self.lm_delete = gr.Button("Delete the chosen label", variant="stop", elem_id=self.eid("lm-delete"))
            if add:
                with gr.Row() as self.add_row:  # a page of several types may hide it for some (spans.py)
                    self.build_add_label("Add a label")
            if note:
                self.lm_note = gr.Markdown(note)
            gr.Markdown("**The label set** — names, colors, shortcut keys, attributes, entity and relation "
                        "labels, classes; a comma list adds rows; JSON for power users. Saving keeps the "
                        "labels samples use (Rename / Delete everywhere change those samples).",
                        elem_classes=["lp-hint"])
            self.label_editor = label_editor(elem_id=self.eid("label-editor"))
            self.lm_save_set = gr.Button("Save the label set", variant="primary", elem_id=self.eid("lm-save-set"))

    def build_add_label(self, title: str = "New label", key: bool = False, button: str = "Add label",
                        size: str | None = None) -> None:
        """A label's name, (shortcut key,) color and the Add button."""
        self.add_name = gr.Textbox(label=title, elem_id=self.eid("add-name"))
        self.add_key = None
        if key:
            with gr.Row():
                self.add_key = gr.Textbox(label="Shortcut key", max_length=1, elem_id=self.eid("add-key"))
                self.add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id=self.eid("add-color"))
        else:
            self.add_color = gr.ColorPicker(value="#3366ff", label="Color", elem_id=self.eid("add-color"))
        self.add_btn = gr.Button(button, elem_id=self.eid("add"), **({"size": size} if size else {}))
        if not self.rules.colors:
            self.add_color.visible = False

    def build_paged_list(self, widget: Callable[..., gr.HTML], name: str = "list", **column) -> gr.HTML:
        """The list of the view (`widget`, opened by a click) in a column (`column`: its scale,
        min_width) with ◀ page ▶ under it (prev_page, page_info, next_page)."""
        with gr.Column(**column):
            listed = widget(open_on_click=True, elem_id=self.eid(name))
            with gr.Row():
                self.prev_page = gr.Button("◀", size="sm", min_width=40, elem_id=self.eid("prev-page"))
                self.page_info = gr.Markdown("", elem_id=self.eid("page-info"))
                self.next_page = gr.Button("▶", size="sm", min_width=40, elem_id=self.eid("next-page"))
        return listed

    def build_panels(self) -> None:
        """The page's side of the Add data / Export and Auto labeling panels, which ui.py builds
        once below every page: it refreshes this page after their events for a job it shows."""
        self.data = PanelRefresh(self)
        auto = any(get_type(t).autolabel_kinds for t in self.type_ids)
        self.auto = PanelRefresh(self, none=not auto)

    # -- what view() uses --------------------------------------------------------------------------
    def job(self, job_id):
        """The open job as the event's user may read it; None when it was deleted meanwhile."""
        try:
            return get_job(self.store, job_id, actor=acting_user())
        except NotFound:
            return None

    def counts(self, job_id):
        return counts(self.store, job_id, actor=acting_user())

    @staticmethod
    def sample_query(tab_v, page, size: int, **filters) -> SampleQuery:
        return SampleQuery(status=tab_v or "all", page=int(page or 1), page_size=int(size), **filters)

    def query(self, job_id, tab_v, page, size: int, **filters):
        return query_samples(self.store, job_id, self.sample_query(tab_v, page, size, **filters), actor=acting_user())

    def listing(self, job_id, tab_v, page, size: int, open_id=None, **filters):
        """What a view shows: (job, counts, the page of the view, the open sample: `open_id` or
        the page's first); None when the job was deleted meanwhile."""
        job = self.job(job_id)
        if job is None:
            return None
        p = self.query(job_id, tab_v, page, size, **filters)
        return job, self.counts(job_id), p, open_id if open_id is not None or not p.items else p.items[0].id

    def gone(self) -> list:
        """The view's updates when the job was deleted meanwhile: say so, change nothing else."""
        return [GONE] + skips(len(self.outputs) - 1)

    def neighbour(self, job_id, tab_v, page, sample_id, step: int, size: int, in_order: bool = True, **filters):
        """The sample after (step 1) or before (-1) the open one in the view, across pages:
        (sample id or None at the end, its page). `in_order`: a sample that left the view (saved
        on the Unlabeled tab) is followed by the next id of its page (views are in id order)."""
        p = self.query(job_id, tab_v, page, size, **filters)
        ids = [s.id for s in p.items]
        if sample_id in ids:
            i = ids.index(sample_id) + step
            if 0 <= i < len(ids):
                return ids[i], p.page
        elif in_order and sample_id is not None:
            later = [i for i in ids if (i > sample_id if step > 0 else i < sample_id)]
            if later:
                return (later[0] if step > 0 else later[-1]), p.page
        target = p.page + step
        if 1 <= target <= p.pages:
            q = self.query(job_id, tab_v, target, size, **filters)
            if q.items:
                return (q.items[0].id if step > 0 else q.items[-1].id), q.page
        return None, p.page

    def step_to(self, job_id, tab_v, page, sample_id, step: int, size: int, **filters):
        """Next / Previous: the neighbour (sample id, page); at an end of the view it says so and
        the open sample stays (sample_id, page)."""
        target, new_page = self.neighbour(job_id, tab_v, page, sample_id, step, size, **filters)
        if target is None:
            gr.Info(f"This is the {'last' if step > 0 else 'first'} {self.noun.rstrip('s')} of the view")
            return sample_id, page
        return target, new_page

    def keep_editor(self, out: list, dirty: bool) -> list:
        """view()'s updates for a list that moved (tab, filter, page): while the editor holds
        unsaved changes, it and what describes its sample (`editor`) stay as they are."""
        return keep_unsaved(out, self.outputs, self.editor, dirty)

    def label_frame(self, job, c, count_column: str | None = None) -> tuple[pd.DataFrame, list[str]]:
        """The label table (name, color, how many samples use it) and the label names."""
        names = job.label_set.names()
        count = count_column or self.noun.capitalize()
        if not self.rules.colors:
            return pd.DataFrame([(n, c.by_label.get(n, 0)) for n in names], columns=["Label", count]), names
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        return pd.DataFrame([(n, colors.get(n, ""), c.by_label.get(n, 0)) for n in names],
                            columns=["Label", "Color", count]), names

    @property
    def load_outputs(self) -> list:
        return self.outputs

    def editor_of(self, job_id):
        """The label-set editor's value for a job (it names the job: a save for another job is refused)."""
        job = self.job(job_id) if job_id is not None else None
        if job is None:
            return gr.skip()
        value = editor_value(job.label_set, REGISTRY[job.type].rules)  # the job's type: a page may label several
        value["job_id"] = job.id
        return value

    # -- the shared events -------------------------------------------------------------------------
    def wire_shared(self, refresh: Callable, label_inputs: list | None = None, add: bool = True,
                    label_outputs_extra: tuple = ("lm_new", "lm_new", "lm_new", "add_name")) -> None:
        """Labeling Description, label management and the panels' refresh. `refresh(*inputs)`:
        the view after a panel's event; label actions take [own inputs] + `label_inputs`
        (default self.inputs) and are LabelAction objects of this page; `add`: wire the Add label
        row too (pages whose add takes more, e.g. a shortcut key, wire their own)."""
        inputs = label_inputs if label_inputs is not None else self.inputs
        self.describe_btn.click(toggle_description, [self.described], [self.description, self.described])
        extra = [getattr(self, name) for name in label_outputs_extra]
        editor = self.label_editor
        self.lm_rename.click(LabelAction(self, self.labels.rename, inputs, editor=True), [self.lm_label, self.lm_new] + inputs,
                             self.outputs + [extra[0], editor])
        self.lm_recolor.click(LabelAction(self, self.labels.recolor, inputs, editor=True), [self.lm_label, self.lm_color] + inputs,
                              self.outputs + [extra[1], editor])
        self.lm_delete.click(LabelAction(self, self.labels.delete, inputs, editor=True), [self.lm_label, self.lm_mode] + inputs,
                             self.outputs + [extra[2], editor])
        if add and self.add_btn is not None:
            for event in (self.add_btn.click, self.add_name.submit):
                event(LabelAction(self, self.labels.add, inputs, editor=True), [self.add_name, self.add_color] + inputs,
                      self.outputs + [extra[3], editor])
        self.lm_save_set.click(LabelAction(self, self.labels.edit, inputs, clear=False, editor=True), [editor] + inputs,
                               self.outputs + [editor])
        self.management.expand(self.editor_of, [self.current_job], [editor])
        for event in self.data.events + self.auto.events:  # an import, a finished run, a bulk confirm
            event.success(refresh, inputs, self.outputs)

    # -- hooks the label actions use ---------------------------------------------------------------
    def unsaved(self, args: tuple) -> bool:
        """True when the page's editor (one of the inputs) holds unsaved changes; pages with an
        editor say how to tell."""
        return False

    def after_label_action(self, args: tuple) -> list:
        """The view after a label was renamed, recolored, deleted or added (args: self.inputs' values)."""
        return self.view(*args)

    @abstractmethod
    def view(self, *args) -> list:
        """Every output of the page for a job, a tab, a page (and the open sample)."""


class PanelRefresh:
    """A labeling page's side of a shared panel (components/data_panel.py, autolabel_panel.py):
    ui.py sets `state` to a new value after the panel's events (an import, a finished run...)
    for a job of the page's type; `events` are what the page wires its refresh to, like Gradio
    events (`event.success(fn, inputs, outputs)`, inputs starting with the open job). `none`: the
    page has no such panel."""

    def __init__(self, page: "LabelingView", none: bool = False):
        self.page = page
        self.state = None if none else gr.State(None)
        self.events = [] if none else [self]

    def success(self, fn, inputs, outputs, **kwargs):
        return self.state.change(ItsTypesOnly(self.page, fn, len(outputs)), inputs, outputs, **kwargs)


class ItsTypesOnly:
    """A page's refresh, run only for a job of the page's types. Gradio reports a State listed
    among an event's outputs as changed when another event changed it meanwhile, even with
    gr.skip() for it: the shape page's refresh then ran for the image job an upload went to."""

    def __init__(self, page: "LabelingView", fn: Callable, n_outputs: int):
        self.page, self.fn, self.n = page, fn, n_outputs
        self.__name__ = getattr(fn, "__name__", "refresh")

    def __call__(self, job_id, *rest):
        job = self.page.job(job_id) if job_id is not None else None
        if job is None or job.type not in self.page.type_ids:
            return skips(self.n)
        return self.fn(job_id, *rest)


def shown_versions(value, ids) -> dict[int, int] | None:
    """The versions the list showed for these samples ({id: version}, from its items), which a
    bulk label change carries: a sample saved since refuses the change (issue 20)."""
    items = value.get("items") if isinstance(value, dict) else None
    wanted = {int(i) for i in ids}
    got = {int(it["id"]): int(it["version"]) for it in items or []
           if isinstance(it, dict) and it.get("version") is not None and it.get("id") in wanted}
    return got or None


class SelectionActions:
    """Remove and Confirm on the samples checked in a list (the check list, the image grid):
    the page says which are checked (`checked(value)`) and its view keeps them checked. Label
    changes carry the versions the list showed (`carry_versions`)."""

    def noun_in(self, value) -> str:
        """What the list's records are called in a message (a page of several kinds says per job)."""
        return self.noun

    def carry_versions(self, change: Callable[[dict | None], int], value, ids) -> int | None:
        """Run a bulk label change `change(versions)` with the versions the list showed; when one
        of the samples was saved since (a Conflict: nothing changed) its message shows and None
        is returned: the caller refreshes the view."""
        try:
            return change(shown_versions(value, ids))
        except Conflict as e:
            gr.Warning(esc(str(e)), title="Not done")
            return None

    @user_errors
    def on_remove(self, value, labels, *args):
        if not labels:
            raise UserError("pick the labels to remove first")
        ids = self.checked(value)
        n = self.carry_versions(lambda versions: remove_labels(self.store, args[0], ids, list(labels),
                                                               actor=acting_user(), versions=versions), value, ids)
        if n is not None:
            gr.Info(f"Removed from {n} {self.noun_in(value)}")
        return self.view(*args, selected=ids)

    @user_errors
    def on_confirm(self, value, *args):
        if args[0] is None:
            raise UserError("open a job first")
        n = confirm_samples(self.store, args[0], self.checked(value), actor=acting_user())
        gr.Info(f"Confirmed {n} {self.noun_in(value)}: they are Labeled")
        return self.view(*args)


class LabelAction:
    """A label management event of a page: refuses while the editor holds unsaved changes (its
    annotation names the labels), runs the action as the event's user, refreshes the view and
    empties the text box the action read (unless `clear` is False); the label-set editor shows
    the set as it is now."""

    def __init__(self, page: LabelingView, action: Callable[..., Any], inputs: list | None = None,
                 clear: bool = True, editor: bool = False):
        self.page = page
        self.action = action
        self.inputs = inputs
        self.clear = clear
        self.editor = editor  # the label-set editor is its last output
        self.__name__ = f"label_{getattr(action, '__name__', 'action')}"

    def __call__(self, *args):  # the user from the event's context: callable objects get no gr.Request
        return user_errors(self._run)(*args)

    def _run(self, *args):
        n_own = len(args) - len(self.inputs if self.inputs is not None else self.page.inputs)
        own, rest = args[:n_own], args[n_own:]
        job_id = rest[0]
        if job_id is None:
            raise UserError("open a job first")
        refuse_if_unsaved(self.page.unsaved(rest), self.page.noun.rstrip("s"))
        self.action(acting_user(), job_id, *own)
        return (self.page.after_label_action(rest) + ([""] if self.clear else [])
                + ([self.page.editor_of(job_id)] if self.editor else []))


class Pager:
    """◀ / ▶ of a paged list: the view of the page before or after (inputs: job, tab, page, ...);
    `view`: what gives it (default: the page's view)."""

    def __init__(self, page: LabelingView, delta: int, page_index: int = 2, view: Callable | None = None):
        self.page = page
        self.delta = delta
        self.page_index = page_index
        self.view = view
        self.__name__ = "previous_page" if delta < 0 else "next_page"

    def __call__(self, *args):
        args = list(args)
        args[self.page_index] = max(1, int(args[self.page_index] or 1) + self.delta)
        return (self.view or self.page.view)(*args)


class FirstPage(Pager):
    """A filter or tab changed: the first page of the new view."""

    def __init__(self, page: LabelingView, page_index: int = 2, view: Callable | None = None):
        super().__init__(page, 0, page_index, view)
        self.__name__ = "first_page"

    def __call__(self, *args):
        args = list(args)
        args[self.page_index] = 1
        return (self.view or self.page.view)(*args)
