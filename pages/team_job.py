"""Team job (F5.3, F5.4, F5.9): for the job picked in My Creations: make it a team labeling job
(team, mode, labelers, reviewers, manager, options, overlap), the members with their work,
annotator management (add, change role, remove, re-send the email, reassign), Task Manager
assignment, and the job's notifications. Layout and wiring only: rules in store/team_jobs.py."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pandas as pd

from store.access import parse_id
from store.errors import StoreError
from store.jobs import get_job
from store.notify import list_outbox
from store.samples import SampleQuery, page_sample_ids
from store.team_jobs import (MODES, STATES, add_job_member, assign_samples, get_team_job, job_members, job_role,
                             make_team_job, reassign, remove_job_member, resend_notification,
                             review_queue)
from store.teams import ROLES, get_team, list_members

from .common import AppContext, PageHandlers, UserError, esc, readonly_table, user_errors
from .teams import my_teams

MEMBER_COLUMNS = ["Email", "Role", "Assigned", "Open"]
OUTBOX_COLUMNS = ["To", "Subject", "Message", "Queued", "Sent", "Error"]
MODE_CHOICES = [(title, key) for key, title in MODES.items()]
ROLE_CHOICES = [(title, key) for key, title in ROLES.items()]


@dataclass
class TeamJobPage:
    outputs: list
    load: Any


def unassigned_sample_ids(ctx: AppContext, job_id: int, assigned: set[int], actor: str | None) -> list[int]:
    """The job's samples not labeled yet and not assigned to anyone."""
    ids: list[int] = []
    for status in ("unlabeled", "to_be_confirmed"):
        page = 1
        while True:
            got = page_sample_ids(ctx.store, job_id, SampleQuery(status=status, page=page, page_size=500), actor)
            ids += got
            if len(got) < 500:
                break
            page += 1
    return [i for i in ids if i not in assigned]


def members_frame(members: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[m["email"], m["role_title"], m["assigned"], m["open"]] for m in members],
                        columns=MEMBER_COLUMNS)


def outbox_frame(mails: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[m["to"], m["subject"], m["body"], m["created_at"][:19].replace("T", " "),
                          (m["sent_at"] or "")[:19].replace("T", " "), m["error"] or ""] for m in mails],
                        columns=OUTBOX_COLUMNS)


class TeamJobHandlers(PageHandlers):
    """The Team job tab's events."""

    def team_member_choices(self, team_id, actor, role=None):
        if team_id is None:
            return []
        return [(f"{m.email} ({ROLES[m.role]})", m.email) for m in list_members(self.store, int(team_id), actor=actor)
                if role is None or m.role == role]

    def setup_defaults(self, team_id, actor):
        """Choices for the set-up: labelers and reviewers start as the team's roles say."""
        members = list_members(self.store, parse_id(team_id, "team id"), actor=actor) if team_id is not None else []
        everyone = [(f"{m.email} ({ROLES[m.role]})", m.email) for m in members]
        managers = [(f"{m.email}", m.email) for m in members if m.role == "manager"]
        return (gr.Dropdown(choices=everyone, value=[m.email for m in members if m.role == "labeler"]),
                gr.Dropdown(choices=everyone, value=[m.email for m in members if m.role == "reviewer"]),
                gr.Dropdown(choices=managers, value=managers[0][1] if managers else None))

    def tj_view(self, job_id, actor) -> list:
        """Everything the tab shows for the job."""
        hide = [gr.Column(visible=False), gr.Column(visible=False)]
        skip_rest = [gr.skip()] * 11
        if job_id is None:
            return ["Pick a job in My Creations, then open this tab."] + hide + skip_rest
        try:
            job = get_job(self.store, parse_id(job_id, "job id"), actor=actor)
            role = job_role(self.store, job.id, actor)
        except StoreError:
            role = None
        if role is None:  # a job one is not part of does not exist for them (store/access.py)
            return ["This job does not exist (or no longer exists)."] + hide + skip_rest
        if role not in ("owner", "manager"):
            return [f"### Team job: {esc(job.name)}\nOnly the job's creator or its Team Manager manages the "
                    "team labeling of this job."] + hide + skip_rest
        tj = get_team_job(self.store, job.id, actor=actor)
        if tj is None:
            if not job.labeling_type.team_labeling:
                return [f"### Team job: {esc(job.name)}\n{esc(job.labeling_type.title)} jobs have no team "
                        "labeling."] + hide + skip_rest
            return self.setup_view(job, actor)
        return self.manage_view(job, tj, actor)

    def setup_view(self, job, actor) -> list:
        """The tab for a job that is not a team job yet: the set-up form with the user's teams."""
        teams = my_teams(self.ctx, actor)
        team_choices = [(t.name, t.id) for t in teams]
        first = team_choices[0][1] if team_choices else None
        lab, rev, man = self.setup_defaults(first, actor)
        hint = "" if teams else " You have no team yet: create one in Labeling Teams."
        return ([f"### Team job: {esc(job.name)}\nNot a team labeling job yet.{hint}",
                 gr.Column(visible=True), gr.Column(visible=False),
                 gr.Dropdown(choices=team_choices, value=first), lab, rev, man]
                + [gr.skip()] * 7)

    def manage_view(self, job, tj, actor) -> list:
        """The tab for a team job: its members and their work, the pickers, the outbox."""
        team = get_team(self.store, tj.team_id, actor)
        members = job_members(self.store, job.id, actor)
        assigned_total = sum(m["assigned"] for m in members)
        job_emails = [m["email"] for m in members]
        team_emails = self.team_member_choices(team.id, actor)
        labelers = [m["email"] for m in members if m["role"] == "labeler"]
        free = unassigned_sample_ids(self.ctx, job.id, self.assigned_sample_ids(job.id, actor), actor)
        mails = [m for m in list_outbox(self.store, limit=1000) if m["job_id"] == job.id]
        head = (f"### Team job: {esc(job.name)}\nTeam **{esc(team.name)}** · mode **{MODES[tj.mode]}** · "
                f"overlap {tj.overlap} · {assigned_total} assignments to {len(labelers)} labeler(s) · "
                f"{len(free)} unassigned unlabeled samples"
                + (f" · Team Manager {esc(tj.manager)}" if tj.manager else "")
                + (" · new files are assigned automatically" if tj.auto_assign_new else ""))
        return [head, gr.Column(visible=False), gr.Column(visible=True)] + [gr.skip()] * 4 + [
            members_frame(members), gr.Dropdown(choices=team_emails, value=None),
            gr.Dropdown(choices=job_emails, value=None), gr.Dropdown(choices=team_emails, value=None),
            f"{len(free)} samples of the job are not labeled and not assigned.",
            gr.Dropdown(choices=team_emails, value=labelers), outbox_frame(mails)]

    def assigned_sample_ids(self, job_id: int, actor: str) -> set[int]:
        """Sample ids assigned to anyone: the assignments in every state (the owner and the
        manager read them through the review queue)."""
        ids: set[int] = set()
        for state in STATES:
            page = 1
            while True:
                items, total = review_queue(self.store, job_id, actor, state=state, page=page, page_size=500)
                ids |= {a.sample_id for a in items}
                if page * 500 >= total:
                    break
                page += 1
        return ids

    @user_errors
    def tj_load(self, job_id, request: gr.Request):
        return self.tj_view(job_id, self.ctx.actor(request))

    @user_errors
    def tj_on_team(self, team_id, request: gr.Request):
        return self.setup_defaults(team_id, self.ctx.actor(request))

    @user_errors
    def tj_on_make(self, job_id, team_id, mode, labelers, reviewers, manager, auto, pre, overlap,
                   request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a job in My Creations first")
        if team_id is None:
            raise UserError("pick a team (create one in Labeling Teams)")
        counts = make_team_job(self.store, int(job_id), int(team_id), mode, list(labelers or []),
                               list(reviewers or []), manager or None, bool(auto), bool(pre), int(overlap or 1),
                               actor=actor)
        done = ", ".join(f"{esc(e)}: {n}" for e, n in counts.items()) or "no samples assigned yet"
        return self.tj_view(job_id, actor) + [f"The job is a team labeling job now ({done})."]

    def member_action(self, job_id, email, role, request: gr.Request, change, message: str) -> list:
        """Annotator management: `change(job id, actor)` on the picked member, then the tab and `message`."""
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a job in My Creations first")
        if not email:
            raise UserError("pick a member first")
        change(int(job_id), actor)
        return self.tj_view(job_id, actor) + [message.format(email=esc(email), role=ROLES.get(role, role))]

    @user_errors
    def tj_do_add(self, job_id, email, role, request: gr.Request):
        return self.member_action(job_id, email, role, request,
                                  lambda job, actor: add_job_member(self.store, job, email, role, actor=actor),
                                  "{email} is {role} on the job.")

    @user_errors
    def tj_do_remove(self, job_id, email, role, request: gr.Request):
        return self.member_action(job_id, email, role, request,
                                  lambda job, actor: remove_job_member(self.store, job, email, actor=actor),
                                  "Removed {email} from the job.")

    @user_errors
    def tj_do_resend(self, job_id, email, role, request: gr.Request):
        return self.member_action(job_id, email, role, request,
                                  lambda job, actor: resend_notification(self.store, job, email, actor=actor),
                                  "Queued the email to {email} again.")

    @user_errors
    def tj_on_reassign(self, job_id, source, target, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None or not source or not target:
            raise UserError("pick the member to take samples from and the one to give them to")
        if source == target:
            raise UserError("pick two different members")
        n = reassign(self.store, int(job_id), source, target, actor=actor)
        return self.tj_view(job_id, actor) + [f"Moved {n} sample(s) from {esc(source)} to {esc(target)}."]

    @user_errors
    def tj_on_assign(self, job_id, labelers, request: gr.Request):
        actor = self.ctx.actor(request)
        if job_id is None:
            raise UserError("pick a job in My Creations first")
        free = unassigned_sample_ids(self.ctx, int(job_id), self.assigned_sample_ids(int(job_id), actor), actor)
        if not free:
            raise UserError("every unlabeled sample of the job is assigned already")
        counts = assign_samples(self.store, int(job_id), free, list(labelers or []), actor=actor)
        done = ", ".join(f"{esc(e)}: {n}" for e, n in counts.items()) or "nothing"
        return self.tj_view(job_id, actor) + [f"Assigned {done}."]


def setup_form() -> SimpleNamespace:
    """The column that makes the picked job a team labeling job (shown while it is not one)."""
    with gr.Column(visible=False, elem_id="tj-setup-col") as col:
        gr.Markdown("### Make the picked job a team labeling job\nTeam mode assigns every unlabeled sample at "
                    "once, at random and evenly, to the labelers; Task Manager mode leaves assignment to the "
                    "team's Team Manager.")
        with gr.Row():
            team = gr.Dropdown(label="Team", choices=[], value=None, elem_id="tj-team")
            mode = gr.Radio(MODE_CHOICES, value="team", label="Mode", elem_id="tj-mode")
            overlap = gr.Number(value=1, precision=0, minimum=1, label="Overlap (labelers per sample)",
                                elem_id="tj-overlap")
        with gr.Row():
            labelers = gr.Dropdown(label="Labelers", choices=[], value=[], multiselect=True, elem_id="tj-labelers")
            reviewers = gr.Dropdown(label="Reviewers", choices=[], value=[], multiselect=True, elem_id="tj-reviewers")
            manager = gr.Dropdown(label="Team Manager (Task Manager mode)", choices=[], value=None,
                                  elem_id="tj-manager")
        with gr.Row():
            auto = gr.Checkbox(label="Assign new files automatically", value=False, elem_id="tj-auto")
            pre = gr.Checkbox(label="Load auto-labeling results as pre-labels", value=False, elem_id="tj-prelabels")
        make_btn = gr.Button("Make team labeling job", variant="primary", elem_id="tj-make")
    return SimpleNamespace(col=col, team=team, mode=mode, overlap=overlap, labelers=labelers, reviewers=reviewers,
                           manager=manager, auto=auto, pre=pre, make_btn=make_btn)


def manage_panel() -> SimpleNamespace:
    """The column of a team job: members and their work, annotator management, assignment, outbox."""
    with gr.Column(visible=False, elem_id="tj-manage-col") as col:
        members_table = readonly_table(MEMBER_COLUMNS, "tj-members", "Members of the job and their work", wrap=False)
        with gr.Accordion("Annotator management", open=False, elem_id="tj-manage-acc"):
            with gr.Row():
                email = gr.Dropdown(label="Member (of the job's team)", choices=[], value=None,
                                    allow_custom_value=True, elem_id="tj-member-pick")
                role = gr.Radio(ROLE_CHOICES, value="labeler", label="Role", elem_id="tj-member-role")
            with gr.Row():
                add_btn = gr.Button("Add or change role", elem_id="tj-member-add")
                remove_btn = gr.Button("Remove from the job", variant="stop", elem_id="tj-member-remove")
                resend_btn = gr.Button("Re-send the email", elem_id="tj-member-resend")
            gr.Markdown("**Reassign** a member's unfinished samples to another member (then they can be removed).")
            with gr.Row():
                r_from = gr.Dropdown(label="From", choices=[], value=None, elem_id="tj-reassign-from")
                r_to = gr.Dropdown(label="To", choices=[], value=None, elem_id="tj-reassign-to")
                reassign_btn = gr.Button("Reassign", elem_id="tj-reassign")
        with gr.Accordion("Assign unassigned samples (Task Manager)", open=False, elem_id="tj-assign-acc"):
            unassigned_md = gr.Markdown(elem_id="tj-unassigned")
            with gr.Row():
                g_labelers = gr.Dropdown(label="Labelers", choices=[], value=[], multiselect=True,
                                         elem_id="tj-assign-labelers", scale=3)
                assign_btn = gr.Button("Assign evenly", variant="primary", elem_id="tj-assign", scale=1)
        with gr.Accordion("Notifications of this job (outbox)", open=False, elem_id="tj-outbox-acc"):
            outbox = readonly_table(OUTBOX_COLUMNS, "tj-outbox")
    return SimpleNamespace(col=col, members_table=members_table, email=email, role=role, add_btn=add_btn,
                           remove_btn=remove_btn, resend_btn=resend_btn, r_from=r_from, r_to=r_to,
                           reassign_btn=reassign_btn, unassigned_md=unassigned_md, g_labelers=g_labelers,
                           assign_btn=assign_btn, outbox=outbox)


def build(ctx: AppContext, job_picker: gr.Dropdown) -> TeamJobPage:
    header = gr.Markdown("Pick a job in My Creations, then open this tab.", elem_id="tj-header")
    refresh_btn = gr.Button("Refresh", size="sm", elem_id="tj-refresh")
    s = setup_form()
    m = manage_panel()
    status = gr.Markdown(elem_id="tj-status")

    # wiring ---------------------------------------------------------------------------------
    h = TeamJobHandlers(ctx)
    outputs = [header, s.col, m.col, s.team, s.labelers, s.reviewers, s.manager, m.members_table,
               m.email, m.r_from, m.r_to, m.unassigned_md, m.g_labelers, m.outbox]
    member_inputs = [job_picker, m.email, m.role]
    refresh_btn.click(h.tj_load, [job_picker], outputs)
    s.team.input(h.tj_on_team, [s.team], [s.labelers, s.reviewers, s.manager])
    s.make_btn.click(h.tj_on_make, [job_picker, s.team, s.mode, s.labelers, s.reviewers, s.manager, s.auto, s.pre,
                                    s.overlap], outputs + [status])
    m.add_btn.click(h.tj_do_add, member_inputs, outputs + [status])
    m.remove_btn.click(h.tj_do_remove, member_inputs, outputs + [status])
    m.resend_btn.click(h.tj_do_resend, member_inputs, outputs + [status])
    m.reassign_btn.click(h.tj_on_reassign, [job_picker, m.r_from, m.r_to], outputs + [status])
    m.assign_btn.click(h.tj_on_assign, [job_picker, m.g_labelers], outputs + [status])
    return TeamJobPage(outputs, h.tj_load)
