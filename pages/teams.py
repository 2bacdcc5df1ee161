"""Labeling Teams (F5.1, F5.2): the user's teams (an admin sees all), create, edit, delete; the
picked team's members: add (several at once), edit description and role, delete. Layout and
wiring only: the rules are in store/teams.py."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store.teams import (ROLES, add_members, create_team, delete_members, delete_team, get_team, list_members,
                         require_team_owner,
                         list_teams, update_member, update_team)
from store.access import parse_id
from store.users import is_admin

from .common import AppContext, PageHandlers, UserError, esc, kept_or_first, readonly_table, user_errors

TEAM_COLUMNS = ["Name", "Description", "Owner", "Members", "Created"]
MEMBER_COLUMNS = ["Email", "Description", "Role", "Open work"]
ROLE_CHOICES = [(title, key) for key, title in ROLES.items()]


@dataclass
class TeamsPage:
    outputs: list
    load: Any


def my_teams(ctx: AppContext, actor: str):
    """The teams the user owns; an admin (and the single user) sees every team."""
    return list_teams(ctx.store, None if is_admin(ctx.store, actor) else actor)


def check_team(ctx: AppContext, team_id, actor: str):
    """The team, when the user owns it (or is an admin)."""
    if team_id is None:
        raise UserError("pick a team first")
    return require_team_owner(ctx.store, parse_id(team_id, "team id"), actor)  # the rule is the store's


def parse_member_lines(text: str) -> list[tuple[str, str, str]]:
    """Lines "email, description, role"; "email, role" and "email" work too (role: Labeler)."""
    roles = {"labeler", "reviewer", "manager", "team manager"}
    out = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if not parts[0]:
            continue
        if len(parts) >= 3:
            email, desc, role = parts[0], ", ".join(parts[1:-1]), parts[-1]
        elif len(parts) == 2 and parts[1].lower() in roles:
            email, desc, role = parts[0], "", parts[1]
        else:
            email, desc, role = parts[0], (parts[1] if len(parts) == 2 else ""), "labeler"
        out.append((email, desc, role))
    if not out:
        raise UserError("write one member per line: email, description, role")
    return out


class TeamsHandlers(PageHandlers):
    """The Labeling Teams tab's events."""

    def teams_state(self, actor: str, picked=None):
        teams = my_teams(self.ctx, actor)
        frame = pd.DataFrame([[t.name, t.description, t.owner, t.members, t.created_at.strftime("%Y-%m-%d %H:%M")]
                              for t in teams], columns=TEAM_COLUMNS)
        choices = [(t.name if t.owner == actor else f"{t.name} ({t.owner})", t.id) for t in teams]
        value = kept_or_first(choices, picked)
        return frame, gr.Dropdown(choices=choices, value=value), value

    def members_state(self, team_id, actor):
        if team_id is None:
            empty = pd.DataFrame(columns=MEMBER_COLUMNS)
            return empty, gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[], value=[])
        members = list_members(self.store, int(team_id), actor=actor)
        frame = pd.DataFrame([[m.email, m.description, ROLES[m.role], m.open_work] for m in members],
                             columns=MEMBER_COLUMNS)
        emails = [m.email for m in members]
        return frame, gr.Dropdown(choices=emails, value=None), gr.Dropdown(choices=emails, value=[])

    def everything(self, actor, picked=None):
        frame, picker, value = self.teams_state(actor, picked)
        t = get_team(self.store, value, actor=actor) if value is not None else None
        return ([frame, picker] + list(self.members_state(value, actor))
                + [t.name if t else "", t.description if t else ""])

    @user_errors
    def teams_load(self, picked, request: gr.Request):
        return self.everything(self.ctx.actor(request), picked)

    @user_errors
    def teams_on_pick(self, team_id, request: gr.Request):
        if team_id is None:
            return ["", ""] + list(self.members_state(None, None))
        actor = self.ctx.actor(request)
        t = check_team(self.ctx, team_id, actor)
        return [t.name, t.description] + list(self.members_state(t.id, actor))

    @user_errors
    def teams_on_create(self, name, desc, request: gr.Request):
        actor = self.ctx.actor(request)
        t = create_team(self.store, name, desc, owner=actor)
        return self.everything(actor, t.id) + [f"Created team **{esc(t.name)}**.", "", ""]

    @user_errors
    def teams_on_save(self, team_id, name, desc, request: gr.Request):
        actor = self.ctx.actor(request)
        check_team(self.ctx, team_id, actor)
        t = update_team(self.store, int(team_id), name, desc, actor=actor)
        return self.everything(actor, t.id) + [f"Saved team **{esc(t.name)}**."]

    @user_errors
    def teams_on_delete(self, team_id, confirmed, request: gr.Request):
        actor = self.ctx.actor(request)
        t = check_team(self.ctx, team_id, actor)
        if not confirmed:
            raise UserError("tick the confirmation box first")
        delete_team(self.store, t.id, actor=actor)
        return self.everything(actor) + [f"Deleted team **{esc(t.name)}**.", False]

    @user_errors
    def teams_on_add(self, team_id, lines, request: gr.Request):
        actor = self.ctx.actor(request)
        t = check_team(self.ctx, team_id, actor)
        n = add_members(self.store, t.id, parse_member_lines(lines), actor=actor)
        return self.everything(actor, t.id) + [f"Added {n} member(s) to **{esc(t.name)}**.", ""]

    @user_errors
    def teams_on_member_pick(self, team_id, email, request: gr.Request):
        if team_id is None or not email:
            return "", gr.skip()
        t = check_team(self.ctx, team_id, self.ctx.actor(request))
        m = next((m for m in list_members(self.store, t.id, actor=self.ctx.actor(request)) if m.email == email), None)
        return (m.description, m.role) if m else ("", gr.skip())

    @user_errors
    def teams_on_member_save(self, team_id, email, desc, role, request: gr.Request):
        actor = self.ctx.actor(request)
        t = check_team(self.ctx, team_id, actor)
        if not email:
            raise UserError("pick a member first")
        m = update_member(self.store, t.id, email, desc, role, actor=actor)
        return self.everything(actor, t.id) + [f"Saved {esc(m.email)}: {ROLES[m.role]}."]

    @user_errors
    def teams_on_member_delete(self, team_id, emails, request: gr.Request):
        actor = self.ctx.actor(request)
        t = check_team(self.ctx, team_id, actor)
        n = delete_members(self.store, t.id, list(emails or []), actor=actor)
        return self.everything(actor, t.id) + [f"Deleted {n} member(s)."]


def build(ctx: AppContext) -> TeamsPage:
    gr.Markdown("## Labeling Teams\nA team is a list of members (by email) with a role: Labeler, Reviewer or "
                "Team Manager (at most one). Use a team to label a job together (My Creations → Team job).")
    teams_table = readonly_table(TEAM_COLUMNS, "teams-table", "My teams")
    with gr.Row():
        team = gr.Dropdown(label="Team", choices=[], value=None, elem_id="team-picker", scale=3)
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="teams-refresh")
    with gr.Accordion("Create a team", open=False, elem_id="team-create-acc"):
        with gr.Row():
            c_name = gr.Textbox(label="Team name (at most 64 characters)", max_length=64, elem_id="team-name")
            c_desc = gr.Textbox(label="Description (at most 256 characters)", max_length=256, elem_id="team-desc")
        create_btn = gr.Button("Create team", variant="primary", elem_id="team-create")
    with gr.Accordion("Edit or delete the picked team", open=False, elem_id="team-edit-acc"):
        with gr.Row():
            e_name = gr.Textbox(label="Team name", max_length=64, elem_id="team-edit-name")
            e_desc = gr.Textbox(label="Description", max_length=256, elem_id="team-edit-desc")
        save_btn = gr.Button("Save team", elem_id="team-save")
        with gr.Row():
            d_confirm = gr.Checkbox(label="Yes, delete the picked team", elem_id="team-delete-confirm")
            delete_btn = gr.Button("Delete team", variant="stop", elem_id="team-delete")

    gr.Markdown("### Members of the picked team")
    members_table = readonly_table(MEMBER_COLUMNS, "team-members", "Members")
    with gr.Accordion("Add members", open=True, elem_id="member-add-acc"):
        m_lines = gr.Textbox(label="One member per line: email, description, role (Labeler, Reviewer or "
                                   "Team Manager)", lines=3, placeholder="ann@example.org, Ann, Labeler\n"
                                                                         "rev@example.org, Rev, Reviewer",
                             elem_id="member-lines")
        add_btn = gr.Button("Add members", variant="primary", elem_id="member-add")
    with gr.Accordion("Edit a member", open=False, elem_id="member-edit-acc"):
        with gr.Row():
            ed_email = gr.Dropdown(label="Member", choices=[], value=None, elem_id="member-pick")
            ed_desc = gr.Textbox(label="Description", max_length=256, elem_id="member-desc")
            ed_role = gr.Radio(ROLE_CHOICES, value="labeler", label="Role", elem_id="member-role")
        edit_btn = gr.Button("Save member", elem_id="member-save")
    with gr.Accordion("Delete members", open=False, elem_id="member-delete-acc"):
        gr.Markdown("A member with assigned samples must have them reassigned first (Team job → Reassign).")
        with gr.Row():
            del_emails = gr.Dropdown(label="Members to delete", choices=[], value=[], multiselect=True,
                                     elem_id="member-delete-pick", scale=3)
            del_btn = gr.Button("Delete selected members", variant="stop", elem_id="member-delete", scale=1)
    status = gr.Markdown(elem_id="teams-status")

    # wiring ---------------------------------------------------------------------------------
    h = TeamsHandlers(ctx)
    outputs = [teams_table, team, members_table, ed_email, del_emails, e_name, e_desc]
    refresh_btn.click(h.teams_load, [team], outputs)
    team.input(h.teams_on_pick, [team], [e_name, e_desc, members_table, ed_email, del_emails])
    create_btn.click(h.teams_on_create, [c_name, c_desc], outputs + [status, c_name, c_desc])
    save_btn.click(h.teams_on_save, [team, e_name, e_desc], outputs + [status])
    delete_btn.click(h.teams_on_delete, [team, d_confirm], outputs + [status, d_confirm])
    add_btn.click(h.teams_on_add, [team, m_lines], outputs + [status, m_lines])
    ed_email.input(h.teams_on_member_pick, [team, ed_email], [ed_desc, ed_role])
    edit_btn.click(h.teams_on_member_save, [team, ed_email, ed_desc, ed_role], outputs + [status])
    del_btn.click(h.teams_on_member_delete, [team, del_emails], outputs + [status])
    return TeamsPage(outputs, h.teams_load)
