"""Task statistics (F1.7): counts per label, per status, per annotator; progress over time."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store.errors import Forbidden, NotFound
from store.jobs import get_job
from store.stats import job_stats
from store.team_jobs import agreement, annotator_stats, get_team_job

from .common import AppContext, PageHandlers, esc, size_text


def _bars(frame: pd.DataFrame, y: str) -> gr.BarPlot:
    """Bars from zero (a chart whose values are all equal otherwise shows no bar at all)."""
    top = int(frame[y].max()) if len(frame) else 0
    return gr.BarPlot(value=frame, y_lim=[0, max(1, top) * 1.1])


@dataclass
class StatisticsPage:
    outputs: list
    load: Any


class StatisticsHandlers(PageHandlers):
    """The Task statistics tab's events."""

    def team_figures(self, job_id, actor):
        """The per-annotator table and the agreement, for a team labeling job."""
        if get_team_job(self.store, job_id, actor=actor) is None:
            return [gr.Column(visible=False), gr.skip(), gr.skip(), gr.skip()]
        rows = annotator_stats(self.store, job_id, actor=actor)
        team = pd.DataFrame([[r["annotator"], r["assigned"], r["labeled"], r["approved"], r["rejected"],
                              r["accepted"], " ".join(f"{k}: {v}" for k, v in sorted(r["ratings"].items()))]
                             for r in rows],
                            columns=["Annotator", "Assigned", "Labeled", "Approved", "Rejected", "Accepted",
                                     "Ratings"])
        ag = agreement(self.store, job_id, actor=actor)
        per = pd.DataFrame([[lab, v.get("fleiss_kappa"), v.get("cohen_kappa")] for lab, v in ag["per_label"].items()],
                           columns=["Label", "Fleiss' kappa", "Cohen's kappa"])
        note = (f"Agreement on {ag['samples']} samples labeled by {ag['raters']} labelers each."
                if ag["samples"] else "No agreement yet: it needs samples labeled by several labelers (overlap).")
        return [gr.Column(visible=True), team, note, per]

    def load(self, job_id, request: gr.Request):
        if job_id is None:
            return [gr.skip()] * 10
        actor = self.ctx.actor(request)
        try:
            job = get_job(self.store, job_id, actor=actor)
            st = job_stats(self.store, job_id, actor=actor)
        except (NotFound, Forbidden):
            return ["This job no longer exists."] + [gr.skip()] * 9
        pct = f"{st.labeled / st.total:.0%}" if st.total else "0%"
        statuses = pd.DataFrame({"Status": ["Labeled", "Unlabeled", "To be confirmed"],
                                 "Samples": [st.labeled, st.unlabeled, st.to_be_confirmed]})
        labels = pd.DataFrame({"Label": list(st.labels), "Samples": list(st.labels.values())})
        progress = pd.DataFrame({"Day": [d for d, _, _ in st.progress],
                                 "Labeled so far": [c for _, _, c in st.progress]})
        annotators = pd.DataFrame({"Annotator": list(st.annotators), "Labeled samples": list(st.annotators.values())})
        return [f"### Task statistics: {esc(job.name)}\n{st.labeled}/{st.total} labeled ({pct}) · "
                f"{st.unlabeled} unlabeled · {st.to_be_confirmed} to be confirmed · "
                f"{st.history_versions:,} versions in the history ({size_text(st.history_bytes)})",
                _bars(statuses, "Samples"), _bars(labels, "Samples"), _bars(progress, "Labeled so far"),
                labels, annotators] + self.team_figures(job_id, actor)


def build(ctx: AppContext, current_job: gr.State) -> StatisticsPage:
    header = gr.Markdown("Pick a job in My Creations, then press Task statistics.", elem_id="stats-header")
    with gr.Row():
        status_plot = gr.BarPlot(x="Status", y="Samples", title="Samples per status", elem_id="stats-status")
        label_plot = gr.BarPlot(x="Label", y="Samples", title="Samples per label", elem_id="stats-labels")
    progress_plot = gr.BarPlot(x="Day", y="Labeled so far", title="Progress over time (labeled samples so far)",
                               elem_id="stats-progress")
    with gr.Row():
        label_table = gr.Dataframe(interactive=False, label="Per label", elem_id="stats-label-table")
        annotator_table = gr.Dataframe(interactive=False, label="Per annotator", elem_id="stats-annotators")
    with gr.Column(visible=False, elem_id="stats-team") as team_col:
        gr.Markdown("### Team labeling: per annotator and agreement")
        team_table = gr.Dataframe(interactive=False, label="Per annotator (team labeling)",
                                  elem_id="stats-team-annotators")
        agreement_md = gr.Markdown(elem_id="stats-agreement-info")
        agreement_table = gr.Dataframe(interactive=False, label="Inter-annotator agreement per label",
                                       elem_id="stats-agreement")
    refresh_btn = gr.Button("Refresh", size="sm")

    outputs = [header, status_plot, label_plot, progress_plot, label_table, annotator_table,
               team_col, team_table, agreement_md, agreement_table]
    h = StatisticsHandlers(ctx)
    refresh_btn.click(h.load, [current_job], outputs)
    return StatisticsPage(outputs, h.load)
