"""Small helpers every page uses: user-facing errors, the acting user, job choices."""
from __future__ import annotations

import functools
import inspect
import html
import logging
from dataclasses import dataclass

import gradio as gr

from store import LOCAL_USER, Store, StoreError
from store.types import REGISTRY

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """What every page gets: the store (and later: auth, autolabel runner)."""
    store: Store

    def actor(self, request: gr.Request | None = None) -> str:
        user = getattr(request, "username", None) if request is not None else None
        return user or LOCAL_USER


def acting_user() -> str | None:
    """The user of the Gradio event being handled (Gradio keeps the event's request in a context
    variable while the handler runs), for the store's access checks (store/access.py); None
    outside an event: code, not a person."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    if request is None:
        return None
    return getattr(request, "username", None) or LOCAL_USER


def readable_job(store: Store, job_id):
    """The job as the event's user may read it (store/access.py); None for no job, a job deleted
    meanwhile, or one they may not read (the shared panels and their routing say nothing then)."""
    if job_id is None:
        return None
    from store.jobs import get_job

    try:
        return get_job(store, job_id, actor=acting_user())
    except StoreError:
        return None


class UserError(gr.Error):
    """A message for the person at the page (a toast), never a fault: no traceback in the log."""

    def __init__(self, message: str = "Error raised.", **kwargs):
        kwargs.setdefault("print_exception", False)
        super().__init__(message, **kwargs)


def user_errors(fn):
    """Show a StoreError as a Gradio error (escaped text), keep serving, change nothing."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:  # a message for the user, not a fault: no traceback in the log
            e.print_exception = False
            raise
        except StoreError as e:
            raise UserError(html.escape(str(e))) from None
        except OSError as e:
            log.exception("file error in %s", fn.__name__)
            raise UserError(html.escape(f"file error: {e}")) from None
    return wrapper


def type_choices(only_available: bool = False) -> list[tuple[str, str]]:
    scenes = {"images": "Images", "audio": "Audio", "text": "Text", "video": "Video"}
    return [(f"{scenes[t.scene]} / {t.title}" + ("" if t.available else " (labeling page coming)"), t.id)
            for t in REGISTRY.values() if t.available or not only_available]


def esc(text) -> str:
    return html.escape(str(text if text is not None else ""))


def size_text(n: int) -> str:
    """A size for people: 950 B, 12.3 KB, 4.5 MB, 1.2 GB."""
    n = int(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _as_toast(fn):
    """Run a handler; a user's error (UserError, a StoreError) becomes a toast and no output
    changes, instead of Gradio painting "Error" over every output (and hiding the control the
    message asks for)."""
    @functools.wraps(fn)  # Gradio reads the signature through __wrapped__ (gr.Request injection)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            gr.Warning(str(getattr(e, "message", e)), title="Not done")
        except StoreError as e:
            gr.Warning(html.escape(str(e)), title="Not done")
        return gr.skip()  # one skip: every output stays as it is
    return wrapper


def errors_as_toasts(demo: gr.Blocks) -> int:
    """Every event handler of the app shows a user's error as a toast and leaves its outputs as
    they are. Kept as errors: handlers that an event runs .success() after (the error must stop
    the chain: "save, then discard" must not discard after a refused save), generators and
    coroutines. Returns how many handlers were wrapped."""
    stop_chain = {fn.trigger_after for fn in demo.fns.values()
                  if fn.trigger_after is not None and fn.trigger_only_on_success}
    n = 0
    for index, block_fn in demo.fns.items():
        fn = block_fn.fn
        if (fn is None or index in stop_chain or block_fn.types_generator or inspect.iscoroutinefunction(fn)
                or getattr(fn, "_lp_toasts", False)):
            continue
        block_fn.fn = _as_toast(fn)
        block_fn.fn._lp_toasts = True
        n += 1
    return n


# -- the one unsaved-changes guard of the labeling pages (issue 15) ----------------------------------------
# Changing the list (status tab, filter, page) never drops unsaved work: the list changes and the
# editor keeps the open sample with its changes. Opening another sample (a click, Next/Previous,
# another frame) or changing the job's labels waits until they are saved or discarded: refused
# with this one message, nothing changed. (The shape canvas asks Save / Discard / Cancel itself on A/D.)
def unsaved_message(noun: str) -> str:
    return f"Unsaved changes on this {noun}: save them (Ctrl+S) or discard them first. Nothing was changed."


def refuse_if_unsaved(dirty: bool, noun: str) -> None:
    if dirty:
        raise UserError(unsaved_message(noun))


def keep_unsaved(out: list, outputs: list, editors: tuple, dirty: bool) -> list:
    """A list view's updates that leave the editor (and what describes its sample) as they are
    when it holds unsaved changes."""
    if dirty:
        for comp in editors:
            out[outputs.index(comp)] = gr.skip()
    return out


# -- parts the team and admin pages share (teams, team job, participations, team review, acceptance, users) --
import contextlib  # noqa: E402  (this block is appended to the file)


def kept_or_first(choices: list[tuple], picked):
    """The picked value while it is still one of the (label, value) choices, else the first (None: none)."""
    values = [c[1] for c in choices]
    return picked if picked in values else (values[0] if values else None)


def readonly_table(columns: list[str], elem_id: str, label: str | None = None, wrap: bool = True) -> gr.Dataframe:
    """An empty read-only table with these columns, which the page's events fill."""
    import pandas as pd

    return gr.Dataframe(pd.DataFrame(columns=columns), interactive=False, wrap=wrap, elem_id=elem_id, label=label)


@contextlib.contextmanager
def item_view(picker_label: str, picker_id: str, prefix: str):
    """Open one item of a list: its picker, then its preview (left, `{prefix}-preview`) beside a
    column with its description (`{prefix}-info`); the caller adds its controls under the description.
    Yields (picker, preview, info)."""
    picker = gr.Dropdown(label=picker_label, choices=[], value=None, elem_id=picker_id)
    with gr.Row():
        with gr.Column(scale=3):
            preview = gr.HTML(elem_id=f"{prefix}-preview")
        with gr.Column(scale=2):
            info = gr.Markdown(elem_id=f"{prefix}-info")
            yield picker, preview, info


def decision_controls(prefix: str, approve_title: str, approve_id: str, reason_label: str) -> tuple:
    """A labeled item's decision (Team review, Acceptance): a rating A-D and the approving button, or a
    reason and Reject. Returns (rating, approve button, reason, reject button)."""
    from store.team_jobs import RATINGS

    rating = gr.Radio(list(RATINGS), value="A", label="Rating", elem_id=f"{prefix}-rating")
    approve_btn = gr.Button(approve_title, variant="primary", elem_id=approve_id)
    reason = gr.Textbox(label=reason_label, lines=2, max_length=1024, elem_id=f"{prefix}-reason")
    reject_btn = gr.Button("Reject", variant="stop", elem_id=f"{prefix}-reject")
    return rating, approve_btn, reason, reject_btn


def labeled_by_lines(file: str, email: str, labels) -> list[str]:
    """The first lines of a labeled item's description: its file, its labeler, its labels (escaped)."""
    return [f"**{esc(file)}** · labeled by **{esc(email)}**",
            "Labels: " + (", ".join(f"`{esc(x)}`" for x in labels) if labels else "none")]


def item_key(sample_id, email: str) -> str:
    """One labeler's work on one sample, as a picker's value."""
    return f"{sample_id}|{email}"


def split_item_key(key: str) -> tuple[int, str]:
    sample_id, email = key.split("|", 1)
    return int(sample_id), email


class PageHandlers:
    """A page's event handlers as methods bound to the app's context: not closures inside build(), and
    not functools.partial objects, which would hide the gr.Request parameter Gradio finds by its type hint."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.store = ctx.store
