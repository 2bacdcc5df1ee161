"""The "Auto labeling" panel the labeling pages of types with auto labeling show (F4.1-F4.7):
choose a kind of run (only those the type offers), its mode, uncertainty strategy, model
(registered models fitting the type; register one here), device and batch size; start it; watch
its progress (a timer polls the run while one is running) and cancel it; the run history; bulk
confirm above a confidence threshold (with the confidence histogram of To Be Confirmed) and
discard all predictions.

Like the data panel, it returns the components a page's `load` must fill and the events after
which the page refreshes its own view (`.success(refresh, ...)`): a run that finished, a bulk
confirm, a discard."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import pandas as pd

from autolabel.models import describe, register_model
from autolabel.runner import MODEL_REQUIRED, MODEL_TASKS, offered, start_run_in_background
from pages.common import AppContext, acting_user, esc, user_errors
from store.errors import NotFound
from store.jobs import get_job
from store.models import list_models
from store.predictions import confidence_histogram, confirm_above, discard_predictions
from store.runs import KINDS, MODES, Run, active_run, get_run, list_runs, request_cancel

STRATEGIES = [("Margin (top-2 gap)", "margin"), ("Least confidence", "least_confidence"), ("Entropy", "entropy")]
DEVICES = [("CPU", "cpu"), ("GPU", "gpu")]
DEFAULT_MODEL = ""  # the dropdown's value for "(default)": the runner's built-in model
POLL_SECONDS = 1.0
HISTORY_COLUMNS = ["Start", "End", "Kind / mode", "Model", "Device", "Samples done/total", "Labeled", "Hard",
                   "Status", "Message"]
IDLE = "No auto-labeling run in progress."


@dataclass
class AutolabelPanel:
    """What a page wires: `outputs` (filled by `load(job_id)`) and `events` to refresh after."""
    outputs: list = field(default_factory=list)
    events: list = field(default_factory=list)
    load: Any = None  # (job_id) -> updates for outputs

    @property
    def enabled(self) -> bool:
        return bool(self.outputs)


def _kind_choices(type_id: str) -> list[tuple[str, str]]:
    return [(KINDS.get(k, k), k) for k in offered(type_id)]


def model_choices(store, type_id: str, kind: str | None) -> list[tuple[str, str]]:
    """Registered models fitting the type (and the kind, when it accepts only some tasks);
    "(default)" first where the kind needs no model."""
    tasks = MODEL_TASKS.get((type_id, kind)) if kind else None
    models = [m for m in list_models(store, type_id) if not tasks or m.task in tasks]
    choices = [(describe(m), m.ref) for m in models]
    if kind and (type_id, kind) not in MODEL_REQUIRED:
        choices.insert(0, ("(default)", DEFAULT_MODEL))
    return choices


def model_update(store, type_id: str, kind: str | None, value: str | None = None) -> gr.Dropdown:
    """The model dropdown for a kind: "(default)" picked where the kind has one."""
    choices = model_choices(store, type_id, kind)
    values = [v for _, v in choices]
    if value not in values:
        value = DEFAULT_MODEL if DEFAULT_MODEL in values else None
    return gr.Dropdown(choices=choices, value=value)


def run_status(run: Run | None) -> str:
    """One paragraph: the run's title, state, done/total, percent and message."""
    if run is None:
        return IDLE
    pct = f"{run.progress:.0%}"
    counts = f"{run.done:,}/{run.total:,} ({pct})" if run.total else pct
    head = f"**{esc(run.title)}** (run {run.id}) — **{esc(run.status)}** · {counts}"
    if run.model:
        head += f" · model {esc(run.model)}"
    if not run.running:
        head += f"  \n{run.labeled:,} predictions to To Be Confirmed, {run.hard:,} hard examples"
    return head + (f"  \n{esc(run.message)}" if run.message else "")


def history_frame(store, job_id) -> pd.DataFrame:
    if job_id is None:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    rows = [[r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
             r.finished_at.strftime("%Y-%m-%d %H:%M:%S") if r.finished_at else "",
             r.title, r.model or "(default)", r.device.upper(), f"{r.done}/{r.total}", r.labeled, r.hard, r.status,
             r.message or ""] for r in list_runs(store, job_id, actor=acting_user())]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def histogram_markdown(store, job_id) -> str:
    """To Be Confirmed per confidence bin, with how many a threshold at the bin's lower edge
    would confirm."""
    if job_id is None:
        return ""
    bins = confidence_histogram(store, job_id, actor=acting_user())
    total = sum(n for _, n in bins)
    if not total:
        return "_No predictions with a confidence in To Be Confirmed._"
    lines = ["| Confidence | Samples | Confirmed at a threshold of the lower edge |", "|---|---:|---:|"]
    above = total
    step = bins[1][0] - bins[0][0] if len(bins) > 1 else 1.0
    for lower, n in bins:
        lines.append(f"| {lower:.1f}–{min(1.0, lower + step):.1f} | {n} | {above} |")
        above -= n
    return f"**To Be Confirmed by confidence** ({total} samples)\n\n" + "\n".join(lines)


def build_autolabel_panel(ctx: AppContext, current_job: gr.State, type_id: str, prefix: str = "") -> AutolabelPanel:
    """Layout and wiring of the panel; `prefix` (e.g. "od") keeps element ids unique per page.
    Types that offer no auto labeling get no panel (an empty AutolabelPanel)."""
    store = ctx.store
    kinds = _kind_choices(type_id)
    if not kinds:
        return AutolabelPanel(load=lambda job_id: [])
    p = f"{prefix}-al" if prefix else "al"
    first = kinds[0][1]
    with gr.Accordion("Auto labeling", open=False, elem_id=f"{p}-panel"):
        with gr.Row():
            kind = gr.Radio(kinds, value=first, label="Kind of run", elem_id=f"{p}-kind")
            mode = gr.Radio([(m.capitalize(), m) for m in MODES], value="fast", label="Mode",
                            info="fast: trains on labeled samples only; precise: also learns from unlabeled ones",
                            visible=first == "active_learning", elem_id=f"{p}-mode")
            strategy = gr.Radio(STRATEGIES, value="margin", label="Uncertainty (hard examples)",
                                visible=first == "active_learning", elem_id=f"{p}-strategy")
        with gr.Row():
            model = gr.Dropdown(model_choices(store, type_id, first), label="Model",
                                value=DEFAULT_MODEL if (type_id, first) not in MODEL_REQUIRED else None,
                                elem_id=f"{p}-model", scale=3)
            device = gr.Radio(DEVICES, value="cpu", label="Device", elem_id=f"{p}-device", scale=1)
            batch = gr.Number(value=16, precision=0, minimum=1, maximum=512, label="Batch size",
                              elem_id=f"{p}-batch", scale=1)
        with gr.Accordion("Register a model", open=False, elem_id=f"{p}-register"):
            with gr.Row():
                reg_source = gr.Textbox(label="Hugging Face model id or local folder", scale=3,
                                        elem_id=f"{p}-register-source")
                reg_version = gr.Textbox(value="1", label="Version", scale=1, elem_id=f"{p}-register-version")
                reg_btn = gr.Button("Register", scale=0, min_width=110, elem_id=f"{p}-register-submit")
        with gr.Row():
            start_btn = gr.Button("Start", variant="primary", scale=0, min_width=120, elem_id=f"{p}-start")
            cancel_btn = gr.Button("Cancel the run", variant="stop", scale=0, min_width=140, interactive=False,
                                   elem_id=f"{p}-cancel")
            status = gr.Markdown(IDLE, elem_id=f"{p}-status")
        history = gr.Dataframe(interactive=False, label="Run history", elem_id=f"{p}-history", wrap=True)
        gr.Markdown("#### To Be Confirmed")
        with gr.Row():
            with gr.Column(scale=2):
                histogram = gr.Markdown(elem_id=f"{p}-histogram")
            with gr.Column(scale=2):
                threshold = gr.Slider(0, 1, value=0.9, step=0.01, label="Confirm everything with confidence ≥",
                                      elem_id=f"{p}-threshold")
                confirm_btn = gr.Button("Confirm above the threshold", variant="primary",
                                        elem_id=f"{p}-confirm-above")
                discard_ok = gr.Checkbox(label="Yes: send every To Be Confirmed sample back to Unlabeled",
                                         elem_id=f"{p}-discard-confirm")
                discard_btn = gr.Button("Discard all predictions", variant="stop", elem_id=f"{p}-discard")
    timer = gr.Timer(POLL_SECONDS, active=False)
    watching = gr.State(None)  # the id of the run the timer follows
    finished = gr.State(None)  # set to a finished run's id: its .change refreshes the page

    # wiring ---------------------------------------------------------------------------------
    def _job_fits(job_id) -> bool:
        if job_id is None:
            return False
        try:
            return get_job(store, job_id, actor=acting_user()).type == type_id
        except NotFound:
            return False

    def load(job_id):
        """Open a job: its active run (followed by the timer), history, models, histogram."""
        if not _job_fits(job_id):
            return [IDLE, gr.Button(interactive=False), history_frame(store, None), gr.skip(), "",
                    gr.Timer(active=False), None] + [gr.skip()] * 3
        run = active_run(store, job_id, actor=acting_user())
        return [run_status(run), gr.Button(interactive=run is not None), history_frame(store, job_id),
                model_update(store, type_id, first),
                histogram_markdown(store, job_id), gr.Timer(active=run is not None), run.id if run else None,
                gr.Radio(value=first), gr.Radio(visible=first == "active_learning"),
                gr.Radio(visible=first == "active_learning")]

    load_outputs = [status, cancel_btn, history, model, histogram, timer, watching, kind, mode, strategy]

    def autolabel_kind(k):
        al = k == "active_learning"
        return (gr.Radio(visible=al), gr.Radio(visible=al),
                model_update(store, type_id, k))

    @user_errors
    def autolabel_register(request: gr.Request, source, version, k):
        rec = register_model(store, source, version or "1", actor=ctx.actor(request))
        gr.Info(f"Registered {esc(describe(rec))}")
        update = model_update(store, type_id, k, rec.ref)
        if rec.ref not in [v for _, v in model_choices(store, type_id, k)]:
            gr.Warning(f"{esc(rec.ref)} does {esc(rec.task)}: it does not fit this kind of run")
        return update, ""

    @user_errors
    def autolabel_start(request: gr.Request, job_id, k, m, strat, model_ref, dev, size):
        if job_id is None:
            raise gr.Error("open a job first")
        try:
            size = int(size or 16)
        except (TypeError, ValueError):
            raise gr.Error("the batch size is a whole number") from None
        run = start_run_in_background(store, job_id, k, mode=m if k == "active_learning" else None,
                                      model=model_ref or None, device=dev or "cpu", batch_size=size,
                                      strategy=strat or "margin", actor=ctx.actor(request))
        gr.Info(f"Started {esc(run.title)}")
        return run_status(get_run(store, run.id, actor=acting_user())), gr.Button(interactive=True), history_frame(store, job_id), \
            gr.Timer(active=True), run.id

    def autolabel_poll(job_id, run_id):
        """Each tick while a run is followed: its progress; once it ended, the final status, the
        history, and `finished` set (the page then refreshes its view)."""
        if not _job_fits(job_id):
            return [gr.skip()] * 4 + [gr.Timer(active=False), None, gr.skip()]
        try:
            run = get_run(store, run_id, actor=acting_user()) if run_id is not None else active_run(store, job_id, actor=acting_user())
        except NotFound:
            run = None
        if run is None or run.job_id != job_id:
            run = active_run(store, job_id, actor=acting_user())
            if run is None:
                return [gr.skip()] * 4 + [gr.Timer(active=False), None, gr.skip()]
        if run.running:
            return [run_status(run), gr.Button(interactive=True), gr.skip(), gr.skip(), gr.skip(), run.id, gr.skip()]
        return [run_status(run), gr.Button(interactive=False), history_frame(store, job_id),
                histogram_markdown(store, job_id), gr.Timer(active=False), None, run.id]

    @user_errors
    def autolabel_cancel(request: gr.Request, job_id, run_id):
        run = active_run(store, job_id, actor=acting_user()) if job_id is not None else None
        if run is None:
            raise gr.Error("no auto-labeling run of this job is in progress")
        run = request_cancel(store, run.id, actor=ctx.actor(request))
        gr.Info("Cancelling: the run stops after the batch it is writing")
        return run_status(run), gr.Timer(active=True), run.id

    @user_errors
    def autolabel_confirm_above(request: gr.Request, job_id, value):
        if job_id is None:
            raise gr.Error("open a job first")
        n = confirm_above(store, job_id, float(value), actor=ctx.actor(request))
        gr.Info(f"Confirmed {n} samples with confidence ≥ {float(value):.2f}")
        return histogram_markdown(store, job_id)

    @user_errors
    def autolabel_discard(request: gr.Request, job_id, ok):
        if job_id is None:
            raise gr.Error("open a job first")
        if not ok:
            raise gr.Error("tick the confirmation box first: discarding sends every To Be Confirmed sample "
                           "back to Unlabeled")
        n = discard_predictions(store, job_id, None, actor=ctx.actor(request))
        gr.Info(f"Discarded the predictions of {n} samples")
        return histogram_markdown(store, job_id), False

    poll_outputs = [status, cancel_btn, history, histogram, timer, watching, finished]
    kind.change(autolabel_kind, [kind], [mode, strategy, model])
    reg_btn.click(autolabel_register, [reg_source, reg_version, kind], [model, reg_source])
    start_btn.click(autolabel_start, [current_job, kind, mode, strategy, model, device, batch],
                    [status, cancel_btn, history, timer, watching])
    timer.tick(autolabel_poll, [current_job, watching], poll_outputs, show_progress="hidden")
    cancel_btn.click(autolabel_cancel, [current_job, watching], [status, timer, watching])
    events = [
        finished.change(lambda: None, None, None, show_progress="hidden"),
        confirm_btn.click(autolabel_confirm_above, [current_job, threshold], [histogram]),
        discard_btn.click(autolabel_discard, [current_job, discard_ok], [histogram, discard_ok]),
    ]
    return AutolabelPanel(load_outputs, events, load)


def with_prediction(item: dict, sample) -> dict:
    """A list row of a To Be Confirmed sample says its model and confidence."""
    if sample.confidence is not None:
        item["who"] = f"predicted by {sample.model or 'a model'} · confidence {sample.confidence:.2f}"
    return item
