"""The "Auto labeling" panel the labeling pages of types with auto labeling show (F4.1-F4.7):
choose a kind of run (only those the type offers), its mode, uncertainty strategy, model
(registered models fitting the type; register one here), device and batch size; start it; watch
its progress (a timer polls the run while one is running) and cancel it; the run history; bulk
confirm above a confidence threshold (with the confidence histogram of To Be Confirmed) and
discard all predictions.

One panel serves every labeling page (ui.py builds it once, below the pages); like the data
panel, it is filled when a job opens and routes the events after which the open job's page
refreshes its view to that page: a run that finished, a bulk confirm, a discard."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from autolabel.models import describe, register_model
from autolabel.runner import MODEL_REQUIRED, MODEL_TASKS, offered, start_run_in_background
from pages.common import AppContext, acting_user, esc, readable_job, user_errors
from store.errors import NotFound
from store.models import list_models
from store.predictions import confidence_histogram, confirm_above, discard_predictions
from autolabel.learn import describe_calibration
from store.runs import (KINDS, MODES, Run, active_run, calibrated_run, curve_at, estimate, get_run, list_runs,
                        request_cancel, suggested_threshold)

STRATEGIES = [("Margin (top-2 gap)", "margin"), ("Least confidence", "least_confidence"), ("Entropy", "entropy")]
DEVICES = [("CPU", "cpu"), ("GPU", "gpu")]
DEFAULT_MODEL = ""  # the dropdown's value for "(default)": the runner's built-in model
POLL_SECONDS = 1.0
HISTORY_COLUMNS = ["Started", "Took", "Kind / mode", "Model · device", "Predicted / hard", "Confirm ≥",
                   "Est. accuracy", "Labels saved", "Status", "Message"]  # ten: readable at 1280 px
DEFAULT_THRESHOLD = 0.9  # the slider before any run measured a threshold
IDLE = "No auto-labeling run in progress."


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
    rows = [[r.started_at.strftime("%Y-%m-%d %H:%M"), _took(r), r.title,
             f"{r.model or '(default)'} · {r.device.upper()}" + (" · Ray" if r.engine == "ray" else ""),
             f"{r.labeled:,} / {r.hard:,}",
             *threshold_cells(r.calibration),
             r.status if r.status == "done" or not r.total else f"{r.status} at {r.done:,}/{r.total:,}", r.message or ""]
            for r in list_runs(store, job_id, actor=acting_user())]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _took(run: Run) -> str:
    if run.finished_at is None:
        return "running"
    s = max(0, int((run.finished_at - run.started_at).total_seconds()))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}" if s >= 60 \
        else f"{s} s"


def threshold_cells(cal: dict | None) -> list[str]:
    """A run's history cells: the threshold confirmed at (else the one it offers), the held-out
    accuracy above it, and the human labels it saves (confirmed, else would save)."""
    if not cal:
        return ["", "", ""]
    done = cal.get("confirmed")
    if done:
        acc = done.get("estimated_accuracy")
        return [f"{done['threshold']:.2f} (confirmed)", f"{acc:.0%}" if acc is not None else "unknown",
                f"{done['samples']:,}"]
    t = suggested_threshold(cal)
    if t is None:
        return ["none", "too few held out", "0"]
    acc, n = estimate(cal, t)
    reach = "" if cal.get("threshold") is not None else f" ({cal['target']:.0%} not shown)"
    return [f"{t:.2f}{reach}", f"{acc:.0%}" if acc is not None else "unknown", f"{n:,}" if n is not None else ""]


def advice_markdown(store, job_id, value=None) -> str:
    """Under the slider: what the latest calibrated run measured, and what confirming at the
    slider's value is worth (held-out accuracy above it, predictions it confirms)."""
    if job_id is None:
        return ""
    run = calibrated_run(store, job_id, actor=acting_user())
    if run is None:
        return "_No run has measured a threshold yet: run active learning to get one._"
    cal = run.calibration
    t = float(value) if value is not None else suggested_threshold(cal)
    head = f"**Run {run.id}**: {esc(describe_calibration(cal))}."
    if t is None:
        return head
    acc, n = estimate(cal, t)
    total = sum(cal.get("predicted") or [])
    entry = curve_at(cal, t)
    held, bound = (entry[1], entry[2]) if entry else (None, None)
    right = (f"**{acc:.0%}** of {held} held-out labeled samples above it were right (at least {bound:.0%} "
             "with 90% confidence)" if acc is not None
             else "too few held-out labeled samples above it to say how often it is right")
    saved = f"; confirms {n:,} of the run's {total:,} predictions (human labels saved)" if n is not None else ""
    return f"{head}  \nAt ≥ {t:.2f}: {right}{saved}."


def offered_threshold(store, job_id) -> float:
    run = calibrated_run(store, job_id, actor=acting_user()) if job_id is not None else None
    t = suggested_threshold(run.calibration) if run is not None else None
    return DEFAULT_THRESHOLD if t is None else t


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


class AutolabelPanel:
    """One panel for the labeling pages of every type with auto labeling, below the open job's
    page, filled for the job's type when a job opens (`load`; hidden for types without). Its
    handlers take the job's type from the job. `events`: a finished run, a bulk confirm, a
    discard, after which the open job's page refreshes its view (ui.py routes them to it)."""

    def __init__(self, ctx: AppContext, current_job: gr.State, prefix: str = ""):
        self.ctx, self.store = ctx, ctx.store
        p = f"{prefix}-al" if prefix else "al"
        with gr.Accordion("Auto labeling", open=False, visible=False, elem_id=f"{p}-panel") as self.panel:
            with gr.Row():
                self.kind = gr.Radio([], label="Kind of run", elem_id=f"{p}-kind")
                self.mode = gr.Radio([(m.capitalize(), m) for m in MODES], value="fast", label="Mode",
                                     info="fast: trains on labeled samples only; precise: also learns from unlabeled ones",
                                     elem_id=f"{p}-mode")
                self.strategy = gr.Radio(STRATEGIES, value="margin", label="Uncertainty (hard examples)",
                                         elem_id=f"{p}-strategy")
            with gr.Row():
                self.model = gr.Dropdown([], label="Model", elem_id=f"{p}-model", scale=3)
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
                self.cancel_btn = gr.Button("Cancel the run", variant="stop", scale=0, min_width=140,
                                            interactive=False, elem_id=f"{p}-cancel")
                self.status = gr.Markdown(IDLE, elem_id=f"{p}-status")
            self.history = gr.Dataframe(interactive=False, label="Run history", elem_id=f"{p}-history", wrap=True,
                                        column_widths=["11%", "5%", "11%", "10%", "7%", "11%", "7%", "7%", "6%", "25%"])
            gr.Markdown("#### To Be Confirmed")
            with gr.Row():
                with gr.Column(scale=2):
                    self.histogram = gr.Markdown(elem_id=f"{p}-histogram")
                with gr.Column(scale=2):
                    self.threshold = threshold = gr.Slider(
                        0, 1, value=DEFAULT_THRESHOLD, step=0.01, label="Confirm everything with confidence ≥",
                        info="set to the threshold the latest run measured", elem_id=f"{p}-threshold")
                    self.advice = gr.Markdown(elem_id=f"{p}-advice")
                    confirm_btn = gr.Button("Confirm above the threshold", variant="primary",
                                            elem_id=f"{p}-confirm-above")
                    discard_ok = gr.Checkbox(label="Yes: send every To Be Confirmed sample back to Unlabeled",
                                             elem_id=f"{p}-discard-confirm")
                    discard_btn = gr.Button("Discard all predictions", variant="stop", elem_id=f"{p}-discard")
        self.timer = gr.Timer(POLL_SECONDS, active=False)
        self.watching = gr.State(None)  # the id of the run the timer follows
        finished = gr.State(None)  # set to a finished run's id: its .change refreshes the page
        kind, mode, strategy, model, timer, watching = (self.kind, self.mode, self.strategy, self.model,
                                                        self.timer, self.watching)
        status, cancel_btn, history, histogram = self.status, self.cancel_btn, self.history, self.histogram
        advice = self.advice
        kind.change(self.on_kind, [current_job, kind], [mode, strategy, model])
        reg_btn.click(self.on_register, [current_job, reg_source, reg_version, kind], [model, reg_source])
        start_btn.click(self.on_start, [current_job, kind, mode, strategy, model, device, batch],
                        [status, cancel_btn, history, timer, watching])
        timer.tick(self.on_poll, [current_job, watching],
                   [status, cancel_btn, history, histogram, timer, watching, finished, threshold, advice],
                   show_progress="hidden")
        threshold.change(self.on_threshold, [current_job, threshold], [advice], show_progress="hidden")
        cancel_btn.click(self.on_cancel, [current_job, watching], [status, timer, watching])
        self.events = [
            finished.change(lambda: None, None, None, show_progress="hidden"),
            confirm_btn.click(self.on_confirm_above, [current_job, threshold], [histogram, history, advice]),
            discard_btn.click(self.on_discard, [current_job, discard_ok], [histogram, discard_ok]),
        ]

    @property
    def outputs(self) -> list:
        return [self.panel, self.status, self.cancel_btn, self.history, self.model, self.histogram, self.timer,
                self.watching, self.kind, self.mode, self.strategy, self.threshold, self.advice]

    def job_type(self, job_id) -> str | None:
        """The type of the open job as the event's user may read it (None: no job, or gone)."""
        job = readable_job(self.store, job_id)
        return job.type if job is not None else None

    def load(self, job) -> list:
        """Open a job: the panel for its type (hidden where the type has no auto labeling), its
        active run (followed by the timer), history, models, histogram."""
        kinds = _kind_choices(job.type) if job is not None else []
        if not kinds:
            return [gr.Accordion(visible=False), IDLE, gr.Button(interactive=False), history_frame(self.store, None),
                    gr.skip(), "", gr.Timer(active=False), None] + [gr.skip()] * 3 + [DEFAULT_THRESHOLD, ""]
        first = kinds[0][1]
        run = active_run(self.store, job.id, actor=acting_user())
        return [gr.Accordion(visible=True), run_status(run), gr.Button(interactive=run is not None),
                history_frame(self.store, job.id), model_update(self.store, job.type, first),
                histogram_markdown(self.store, job.id), gr.Timer(active=run is not None), run.id if run else None,
                gr.Radio(choices=kinds, value=first), gr.Radio(visible=first == "active_learning"),
                gr.Radio(visible=first == "active_learning"), offered_threshold(self.store, job.id),
                advice_markdown(self.store, job.id)]

    def on_kind(self, job_id, k):
        al = k == "active_learning"
        type_id = self.job_type(job_id)
        return (gr.Radio(visible=al), gr.Radio(visible=al),
                model_update(self.store, type_id, k) if type_id else gr.skip())

    @user_errors
    def on_register(self, request: gr.Request, job_id, source, version, k):
        rec = register_model(self.store, source, version or "1", actor=self.ctx.actor(request))
        gr.Info(f"Registered {esc(describe(rec))}")
        type_id = self.job_type(job_id)
        if type_id is None:
            return gr.skip(), ""
        update = model_update(self.store, type_id, k, rec.ref)
        if rec.ref not in [v for _, v in model_choices(self.store, type_id, k)]:
            gr.Warning(f"{esc(rec.ref)} does {esc(rec.task)}: it does not fit this kind of run")
        return update, ""

    @user_errors
    def on_start(self, request: gr.Request, job_id, k, m, strat, model_ref, dev, size):
        if job_id is None:
            raise gr.Error("open a job first")
        if not k:
            raise gr.Error("choose a kind of run")
        try:
            size = int(size or 16)
        except (TypeError, ValueError):
            raise gr.Error("the batch size is a whole number") from None
        run = start_run_in_background(self.store, job_id, k, mode=m if k == "active_learning" else None,
                                      model=model_ref or None, device=dev or "cpu", batch_size=size,
                                      strategy=strat or "margin", actor=self.ctx.actor(request))
        gr.Info(f"Started {esc(run.title)}")
        return (run_status(get_run(self.store, run.id, actor=acting_user())), gr.Button(interactive=True),
                history_frame(self.store, job_id), gr.Timer(active=True), run.id)

    def on_poll(self, job_id, run_id):
        """Each tick while a run is followed: its progress; once it ended, the final status, the
        history, and `finished` set (the page then refreshes its view)."""
        stop = [gr.skip()] * 4 + [gr.Timer(active=False), None] + [gr.skip()] * 3
        if self.job_type(job_id) is None:
            return stop
        try:
            run = get_run(self.store, run_id, actor=acting_user()) if run_id is not None \
                else active_run(self.store, job_id, actor=acting_user())
        except NotFound:
            run = None
        if run is None or run.job_id != job_id:
            run = active_run(self.store, job_id, actor=acting_user())
            if run is None:
                return stop
        if run.running:
            return [run_status(run), gr.Button(interactive=True)] + [gr.skip()] * 3 + [run.id] + [gr.skip()] * 3
        return [run_status(run), gr.Button(interactive=False), history_frame(self.store, job_id),
                histogram_markdown(self.store, job_id), gr.Timer(active=False), None, run.id,
                offered_threshold(self.store, job_id), advice_markdown(self.store, job_id)]

    def on_threshold(self, job_id, value):
        if self.job_type(job_id) is None:
            return gr.skip()
        return advice_markdown(self.store, job_id, value)

    @user_errors
    def on_cancel(self, request: gr.Request, job_id, run_id):
        run = active_run(self.store, job_id, actor=acting_user()) if job_id is not None else None
        if run is None:
            raise gr.Error("no auto-labeling run of this job is in progress")
        run = request_cancel(self.store, run.id, actor=self.ctx.actor(request))
        gr.Info("Cancelling: the run stops after the batch it is writing")
        return run_status(run), gr.Timer(active=True), run.id

    @user_errors
    def on_confirm_above(self, request: gr.Request, job_id, value):
        if job_id is None:
            raise gr.Error("open a job first")
        n = confirm_above(self.store, job_id, float(value), actor=self.ctx.actor(request))
        gr.Info(f"Confirmed {n} samples with confidence ≥ {float(value):.2f}")
        return histogram_markdown(self.store, job_id), history_frame(self.store, job_id), \
            advice_markdown(self.store, job_id, value)

    @user_errors
    def on_discard(self, request: gr.Request, job_id, ok):
        if job_id is None:
            raise gr.Error("open a job first")
        if not ok:
            raise gr.Error("tick the confirmation box first: discarding sends every To Be Confirmed sample "
                           "back to Unlabeled")
        n = discard_predictions(self.store, job_id, None, actor=self.ctx.actor(request))
        gr.Info(f"Discarded the predictions of {n} samples")
        return histogram_markdown(self.store, job_id), False


def with_prediction(item: dict, sample) -> dict:
    """A list row of a To Be Confirmed sample says its model and confidence."""
    if sample.confidence is not None:
        item["who"] = f"predicted by {sample.model or 'a model'} · confidence {sample.confidence:.2f}"
    return item
