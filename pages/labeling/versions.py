"""The open sample's versions on a labeling page (issue 20): nothing a person does loses labels.

One `VersionPanel` per labeling page, laid out by the page (the notices near its Save button,
the History accordion below its editor) and filled by the page's view for the sample it opens:

- the version the page opened (``opened``: {"sample_id", "version"}), which a save carries as
  ``expected_version``; a save that meets a newer version is not made: the notice near Save
  says who changed the sample, when and which version, and offers **Reload theirs** (the page's
  Discard: the sample opens fresh, the unsaved work goes only on this click), **Keep mine** (the
  page's save again, over the newer version, recorded as an overwrite) and, on pages that can
  show it, **Compare** (a table of what differs: only in mine, only in theirs, changed);
- "Also open by NAME" when others opened the same sample in the last two minutes (a notice,
  not a lock: store/presence.py);
- the History of the open sample, newest first, with Restore (refused while the editor holds
  unsaved changes; restoring is a new version).

Handlers are small callable objects (like base.LabelAction), not closures in a build()."""
from __future__ import annotations

import json
from typing import Callable

import gradio as gr
import pandas as pd

from store.errors import Forbidden
from store.history import VersionConflict, note_overwrite, outline_of, restore_version, sample_history
from store.presence import note_open

from ..common import UserError, acting_user, esc, readonly_table, refuse_if_unsaved, user_errors

HISTORY_COLUMNS = ["Version", "When", "Who", "Source", "Labels"]
COMPARE_COLUMNS = ["Change", "Mine (not saved)", "Theirs"]
HISTORY_SHOWN = 50
TIME = "%Y-%m-%d %H:%M:%S"


# -- what a save carries ---------------------------------------------------------------------------------
def opened_of(sample) -> dict | None:
    """The page's memory of the sample it shows: its id and the version it read."""
    return {"sample_id": int(sample.id), "version": int(sample.version)} if sample is not None else None


def _version_for(state, sid) -> int | None:
    if isinstance(state, dict) and state.get("sample_id") is not None and sid is not None \
            and int(state["sample_id"]) == int(sid) and state.get("version") is not None:
        return int(state["version"])
    return None


def expected_version(opened, sid, over=None) -> int | None:
    """The version a save of sample `sid` is based on: the newer one the person chose to save
    over (Keep mine), else the one the page opened; None when the page knows none (no check)."""
    chosen = _version_for(over, sid)
    return chosen if chosen is not None else _version_for(opened, sid)


def conflict_text(current) -> str:
    """"Changed by NAME at TIME (version N)" and what the choices do (current: history.Version)."""
    who = esc(current.saved_by or "someone")
    return (f"**Changed by {who} at {current.saved_at:{TIME}} (version {current.version}).** "
            "Your changes are not saved. *Reload theirs* opens their version (yours are dropped), "
            "*Keep mine* saves yours over it.")


# -- the History table -----------------------------------------------------------------------------------
ITEM_KEYS = (("shapes", "shape"), ("spans", "span"), ("entities", "entity"), ("segments", "segment"),
             ("frames", "time point"))


def labels_summary(version) -> str:
    """What a version holds, in a few words: its labels and how many shapes, spans... it has."""
    outline = version.outline if version.outline is not None else outline_of(version.annotation)
    names = ", ".join(version.labels[:8]) + (" …" if len(version.labels) > 8 else "")
    for key, word in ITEM_KEYS:
        if key in outline:
            n = outline[key]
            return f"{names} ({n} {word}{'' if n == 1 else 's'})" if n else "nothing (unlabeled)"
    if isinstance(outline.get("content"), str):
        return f"transcript: {outline['content'][:60]}" + ("…" if len(outline["content"]) > 60 else "")
    return names or "nothing (unlabeled)"


def history_frame(versions) -> pd.DataFrame:
    rows = [[f"{v.version}{' (current)' if v.current else ''}", f"{v.saved_at:{TIME}}", v.saved_by or "",
             v.source, labels_summary(v)] for v in versions[:HISTORY_SHOWN]]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def history_choices(versions) -> list[tuple[str, int]]:
    """The versions one may restore (all but the current one)."""
    return [(f"version {v.version} · {v.saved_at:{TIME}} · {v.saved_by or 'someone'}", v.version)
            for v in versions if not v.current]


# -- Compare: what differs between mine and theirs -------------------------------------------------------
def _round_points(points) -> list:
    return [[round(float(p[0]), 1), round(float(p[1]), 1)] for p in points or []
            if isinstance(p, (list, tuple)) and len(p) == 2]


def shape_key(s: dict) -> str:
    return json.dumps([s.get("type"), s.get("label"), _round_points(s.get("points")), round(float(s.get("radius") or 0), 1),
                       s.get("attributes") or {}], sort_keys=True, default=str)


def describe_shape(s: dict | None) -> str:
    if not s:
        return ""
    pts = _round_points(s.get("points"))
    kind = str(s.get("type", "")).replace("_", " ")
    if kind == "rectangle" and len(pts) == 2:
        where = f"({pts[0][0]:g}, {pts[0][1]:g})–({pts[1][0]:g}, {pts[1][1]:g})"
    elif kind in ("circle", "point") and pts:
        where = f"at ({pts[0][0]:g}, {pts[0][1]:g})" + (f" r {float(s.get('radius') or 0):g}" if kind == "circle" else "")
    else:
        where = f"{len(pts)} points"
    attrs = ", ".join(f"{k}={v}" for k, v in (s.get("attributes") or {}).items())
    return f"{s.get('label', '')} {kind} {where}" + (f" [{attrs}]" if attrs else "")


def changes(mine: list, theirs: list, key: Callable, pair: Callable, describe: Callable, noun: str) -> list[list]:
    """Rows of what differs: items equal in both are counted, an item of mine paired with one of
    theirs (`pair`: the same shape id, the same text span) is "Changed", the rest is only in one."""
    left = list(theirs)
    rest, same = [], 0
    for m in mine:
        twin = next((t for t in left if key(t) == key(m)), None)
        if twin is None:
            rest.append(m)
        else:
            left.remove(twin)
            same += 1
    rows = []
    for m in rest:
        twin = next((t for t in left if pair(t) == pair(m)), None)
        if twin is not None:
            left.remove(twin)
        rows.append(["Changed" if twin is not None else "Only in mine", describe(m), describe(twin)])
    rows += [["Only in theirs", "", describe(t)] for t in left]
    if same:
        rows.append(["Same in both", f"{same} {noun}", f"{same} {noun}"])
    return rows or [["No difference", "", ""]]


def shape_changes(mine: list, theirs: list) -> list[list]:
    return changes(mine, theirs, shape_key, lambda s: s.get("id"), describe_shape, "shapes")


def span_changes(text: str, mine: dict, theirs: dict) -> list[list]:
    """Spans (NER) or entities and relations (triplets), as text the person reads."""
    def quote(s):
        return f"{s.get('label', '')} “{text[int(s.get('start', 0)):int(s.get('end', 0))]}”" if s else ""

    def where(s):
        return (s.get("start"), s.get("end"))

    def what(s):
        return (s.get("start"), s.get("end"), s.get("label"))

    key = "entities" if "entities" in mine or "entities" in theirs else "spans"
    rows = changes(mine.get(key) or [], theirs.get(key) or [], what, where, quote, key)
    if key == "entities":
        def rel(ann):
            ents = {e.get("id"): e for e in ann.get("entities") or []}
            return [(quote(ents.get(r.get("from"))), r.get("label"), quote(ents.get(r.get("to"))))
                    for r in ann.get("relations") or []]

        def say(r):
            return f"{r[0]} —{r[1]}→ {r[2]}" if r else ""

        rows += changes(rel(mine), rel(theirs), lambda r: r, lambda r: (r[0], r[2]), say, "relations")
    return rows


def text_changes(mine: str, theirs: str) -> list[list]:
    return [["Same in both" if (mine or "") == (theirs or "") else "Changed", mine or "", theirs or ""]]


# -- the panel -------------------------------------------------------------------------------------------
class VersionPanel:
    """The versions part of one labeling page (see the module doc). `compare(job, mine, theirs)`:
    the page's Compare rows for its editor's value and their annotation (None: no Compare)."""

    def __init__(self, page, compare: Callable | None = None):
        self.page = page
        self.store = page.store
        self.compare_rows = compare
        self.opened = gr.State(None)  # {"sample_id", "version"} the page shows
        self.conflict = gr.State(None)  # {"sample_id", "version"}: the newer version a save met

    def build_notices(self) -> None:
        """Near the Save button: the presence notice and the conflict notice with its choices."""
        eid = self.page.eid
        self.presence = gr.Markdown("", elem_id=eid("presence"), elem_classes=["lp-presence"])
        with gr.Column(visible=False, variant="panel", elem_id=eid("conflict"),
                       elem_classes=["lp-conflict"]) as self.box:
            self.message = gr.Markdown("", elem_id=eid("conflict-message"))
            with gr.Row():
                self.reload_btn = gr.Button("Reload theirs", size="sm", scale=0, min_width=130,
                                            elem_id=eid("conflict-reload"))
                self.keep_btn = gr.Button("Keep mine", variant="primary", size="sm", scale=0, min_width=120,
                                          elem_id=eid("conflict-keep"))
                self.compare_btn = gr.Button("Compare", size="sm", scale=0, min_width=110,
                                             visible=self.compare_rows is not None, elem_id=eid("conflict-compare"))
            self.compare = gr.Dataframe(pd.DataFrame(columns=COMPARE_COLUMNS), interactive=False, wrap=True,
                                        visible=False, label="Mine and theirs", elem_id=eid("conflict-table"))

    def build_history(self) -> None:
        """Below the editor: the History accordion of the open sample, with Restore."""
        eid = self.page.eid
        with gr.Accordion("History", open=False, elem_id=eid("history")):
            self.table = readonly_table(HISTORY_COLUMNS, eid("history-table"), "Versions of this sample, newest first")
            with gr.Row():
                self.pick = gr.Dropdown([], label="Version to restore", scale=3, elem_id=eid("history-version"))
                self.restore_btn = gr.Button("Restore this version", scale=0, min_width=180,
                                             elem_id=eid("history-restore"))

    @property
    def outputs(self) -> list:
        return [self.opened, self.conflict, self.presence, self.box, self.message, self.compare, self.table, self.pick]

    # -- what the page's view shows -------------------------------------------------------------------
    def values(self, job_id, sample) -> list:
        """The outputs for the sample the page shows (None: none): its version, who else has it
        open, its history; the conflict notice closed."""
        closed = [gr.Column(visible=False), "", gr.Dataframe(visible=False)]
        if sample is None or job_id is None:
            return [None, None, "", *closed, history_frame([]), gr.Dropdown(choices=[], value=None)]
        actor = acting_user()
        try:
            others = note_open(self.store, job_id, sample.id, actor=actor)
            versions = sample_history(self.store, job_id, sample.id, actor=actor, full=False)
        except Forbidden:  # one who may read the job but not label it: no presence, no history
            others, versions = [], []
        presence = f"Also open by {', '.join(f'**{esc(u)}**' for u in others)}" if others else ""
        return [opened_of(sample), None, presence, *closed, history_frame(versions),
                gr.Dropdown(choices=history_choices(versions), value=None)]

    def conflict_updates(self, e: VersionConflict, outputs: list) -> list:
        """The page's outputs after a save met a newer version: the notice opens, nothing else
        changes (the editor keeps the unsaved work)."""
        out = [gr.skip()] * len(outputs)
        out[outputs.index(self.conflict)] = {"sample_id": e.sample_id, "version": e.current.version}
        out[outputs.index(self.box)] = gr.Column(visible=True)
        out[outputs.index(self.message)] = conflict_text(e.current)
        out[outputs.index(self.compare)] = gr.Dataframe(pd.DataFrame(columns=COMPARE_COLUMNS), visible=False)
        return out

    def save(self, job_id, sid, opened, over, write: Callable[[int | None], object]) -> VersionConflict | None:
        """Run `write(expected_version)` (a store save); the conflict when the sample moved on,
        else None (a save over a newer version, Keep mine, is recorded as an overwrite)."""
        expected = expected_version(opened, sid, over)
        try:
            write(expected)
        except VersionConflict as e:
            return e
        if _version_for(over, sid) is not None:
            note_overwrite(self.store, job_id, int(sid), int(expected), actor=acting_user())
        return None

    # -- events ---------------------------------------------------------------------------------------
    def wire(self, reopen: Callable, reopen_inputs: list, keep: Callable, keep_inputs: list, outputs: list,
             mine=None, reopen_outputs: list | None = None) -> None:
        """Reload theirs and Restore reopen the sample (`reopen(*reopen_inputs)`, the page's
        Discard); Keep mine runs the page's save with `keep_inputs` + [opened, conflict]; Compare
        reads the editor (`mine`)."""
        shown = reopen_outputs if reopen_outputs is not None else outputs
        self.reload_btn.click(reopen, reopen_inputs, shown)
        self.keep_btn.click(keep, keep_inputs + [self.opened, self.conflict], outputs)
        if self.compare_rows is not None and mine is not None:
            self.compare_btn.click(CompareVersions(self), [self.page.current_job, mine, self.conflict], [self.compare])
        self.restore_btn.click(RestoreVersion(self.page, reopen), reopen_inputs + [self.opened, self.pick], shown)


class CompareVersions:
    """Compare: the editor's unsaved value beside the version the save met, as rows of changes."""

    def __init__(self, panel: VersionPanel):
        self.panel = panel
        self.__name__ = "compare_versions"

    def __call__(self, job_id, mine, conflict):
        return user_errors(self._run)(job_id, mine, conflict)

    def _run(self, job_id, mine, conflict):
        if job_id is None or not isinstance(conflict, dict):
            raise UserError("nothing to compare: no save met a newer version")
        page = self.panel.page
        versions = sample_history(page.store, job_id, int(conflict["sample_id"]), actor=acting_user())
        theirs = next((v for v in versions if v.version == int(conflict["version"])), None)
        if theirs is None:
            raise UserError(f"version {conflict['version']} is gone from the history (pruned)")
        job = page.job(job_id)
        if job is None:
            raise UserError("this job no longer exists")
        rows = self.panel.compare_rows(job, mine, theirs.annotation if isinstance(theirs.annotation, dict) else {})
        columns = [COMPARE_COLUMNS[0], COMPARE_COLUMNS[1], f"Theirs (version {theirs.version}, {theirs.saved_by or 'someone'})"]
        return gr.Dataframe(pd.DataFrame(rows, columns=columns), visible=True)


class RestoreVersion:
    """Restore: the version picked in the History becomes current (a new version), then the sample
    opens again; refused while the editor holds unsaved changes (the page's one guard)."""

    def __init__(self, page, reopen: Callable):
        self.page = page
        self.reopen = reopen
        self.__name__ = "restore_version"

    def __call__(self, *args):
        return user_errors(self._run)(*args)

    def _run(self, *args):
        rest, opened, version = args[:-2], args[-2], args[-1]
        if rest[0] is None or not isinstance(opened, dict):
            raise UserError(f"open a {self.page.noun.rstrip('s')} first")
        if version is None:
            raise UserError("pick the version to restore in the History first")
        refuse_if_unsaved(self.page.unsaved(rest), self.page.noun.rstrip("s"))
        restore_version(self.page.store, rest[0], int(opened["sample_id"]), int(version), actor=acting_user(),
                        expected=opened.get("version"))
        gr.Info(f"Restored version {int(version)}: it is the current version now")
        return self.reopen(*rest)

