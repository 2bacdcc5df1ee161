"""Users (F6.4): an admin's page of the accounts. The table of users (name, email, admin, source,
disabled, pending approval, created, active sessions); add a user with an initial password or a
one-time invitation link; disable and enable; reset a password (a new one or a new link); make
or remove an admin; approve a pending Hugging Face account; list a user's sessions and end them;
delete an account.

Layout and wiring only: every handler calls a store/users.py function with the request's user,
and the store refuses anyone but an admin (store.access.require_admin). ui.py shows the tab to
admins only, but a non-admin calling these events directly is refused all the same."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from store import users as users_store
from store.errors import ValidationError

from .common import AppContext, PageHandlers, UserError, esc, readonly_table, user_errors

USER_COLUMNS = ["Name", "Email", "Admin", "Source", "Disabled", "Pending approval", "Password", "Created",
                "Active sessions"]
SESSION_COLUMNS = ["Session", "Created", "Expires"]
HOW_PASSWORD, HOW_INVITE = "Initial password", "Invitation link"


@dataclass
class UsersPage:
    outputs: list  # what load fills: users table, user picker, sessions table, session picker
    load: Any


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _users_frame(users: list[users_store.User]) -> pd.DataFrame:
    rows = [[u.username, u.email or "", _yes(u.is_admin), u.source, _yes(u.disabled), _yes(u.pending),
             "set" if u.has_password else ("Hugging Face" if u.source == "huggingface" else "invited"),
             u.created_at.strftime("%Y-%m-%d %H:%M"), u.active_sessions] for u in users]
    return pd.DataFrame(rows, columns=USER_COLUMNS)


def _sessions_frame(sessions: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([[s["id"], s["created_at"][:16].replace("T", " "), s["expires_at"][:16].replace("T", " ")]
                         for s in sessions], columns=SESSION_COLUMNS)


def _state(ctx: AppContext, actor: str, picked: str | None) -> list:
    """Users table, user picker, sessions table and session picker, as the store lets the actor see."""
    users = users_store.list_users(ctx.store, actor=actor)
    names = [u.username for u in users]
    value = picked if picked in names else None
    sessions = users_store.list_sessions(ctx.store, value, actor=actor) if value else []
    return [_users_frame(users), gr.Dropdown(choices=names, value=value), _sessions_frame(sessions),
            gr.Dropdown(choices=[s["id"] for s in sessions], value=None)]


def _picked(username) -> str:
    if not username:
        raise UserError("pick a user first")
    return str(username)


def _link(ctx: AppContext, request: gr.Request | None, token: str) -> str:
    from invite import link_for

    raw = getattr(request, "request", None) if request is not None else None
    return link_for(ctx.store, getattr(raw, "url", None), token)


class UsersHandlers(PageHandlers):
    """The Users tab's events."""

    @user_errors
    def load(self, picked, request: gr.Request):
        return _state(self.ctx, self.ctx.actor(request), picked)

    @user_errors
    def add(self, username, email, admin, how, password, request: gr.Request):
        """Add a user: with an initial password, or with a one-time link shown to copy."""
        ctx, actor = self.ctx, self.ctx.actor(request)
        invite = how == HOW_INVITE
        if not invite and not password:
            raise ValidationError("type an initial password, or choose an invitation link")
        user = users_store.add_user(ctx.store, username or "", (email or "").strip() or None,
                                    None if invite else password, bool(admin), actor=actor, invited=invite)
        link = ""
        if invite:
            link = _link(ctx, request, users_store.create_invitation(ctx.store, user.username, actor=actor))
        msg = f"Added **{esc(user.username)}**" + (" (admin)" if user.is_admin else "") + (
            ": send them the one-time link below (valid "
            f"{users_store.INVITATION_DAYS} days)." if invite else ".")
        return _state(ctx, actor, user.username) + [gr.Textbox(value=link, visible=bool(link)), msg, "", ""]

    def _changed(self, username, request: gr.Request, change, message: str) -> list:
        """`change(name, actor)` on the picked user (a store call that returns the user), then the
        page's state and `message` (its {name} the user's, escaped)."""
        actor = self.ctx.actor(request)
        user = change(_picked(username), actor)
        return _state(self.ctx, actor, user.username) + [message.format(name=esc(user.username))]

    @user_errors
    def disable(self, username, request: gr.Request):
        return self._changed(username, request,
                             lambda name, actor: users_store.set_disabled(self.ctx.store, name, True, actor=actor),
                             "Disabled **{name}**: they may not log in, their sessions ended.")

    @user_errors
    def enable(self, username, request: gr.Request):
        return self._changed(username, request,
                             lambda name, actor: users_store.set_disabled(self.ctx.store, name, False, actor=actor),
                             "Enabled **{name}**.")

    @user_errors
    def make_admin(self, username, request: gr.Request):
        return self._changed(username, request,
                             lambda name, actor: users_store.set_admin(self.ctx.store, name, True, actor=actor),
                             "**{name}** is an admin now.")

    @user_errors
    def remove_admin(self, username, request: gr.Request):
        return self._changed(username, request,
                             lambda name, actor: users_store.set_admin(self.ctx.store, name, False, actor=actor),
                             "**{name}** is no longer an admin.")

    @user_errors
    def approve(self, username, request: gr.Request):
        return self._changed(username, request,
                             lambda name, actor: users_store.approve_user(self.ctx.store, name, actor=actor),
                             "Approved **{name}**.")

    @user_errors
    def set_password(self, username, password, request: gr.Request):
        actor = self.ctx.actor(request)
        name = _picked(username)
        users_store.set_password(self.ctx.store, name, password or "", actor=actor)
        return _state(self.ctx, actor, name) + [gr.Textbox(value="", visible=False),
                                                f"Changed the password of **{esc(name)}**; their sessions ended.",
                                                ""]

    @user_errors
    def new_link(self, username, request: gr.Request):
        actor = self.ctx.actor(request)
        name = _picked(username)
        token = users_store.create_invitation(self.ctx.store, name, actor=actor, reset=True)
        return _state(self.ctx, actor, name) + [
            gr.Textbox(value=_link(self.ctx, request, token), visible=True),
            f"New one-time link for **{esc(name)}** (valid {users_store.INVITATION_DAYS} days): their old "
            "password no longer works and their sessions ended.", ""]

    @user_errors
    def end_sessions(self, username, request: gr.Request):
        actor = self.ctx.actor(request)
        name = _picked(username)
        n = users_store.end_sessions(self.ctx.store, name, actor=actor)
        return _state(self.ctx, actor, name) + [f"Ended {n} session{'s' if n != 1 else ''} of **{esc(name)}**."]

    @user_errors
    def end_session(self, username, session_id, request: gr.Request):
        actor = self.ctx.actor(request)
        name = _picked(username)
        if not session_id:
            raise UserError("pick a session first")
        users_store.end_session_by_id(self.ctx.store, str(session_id), actor=actor, username=name)
        return _state(self.ctx, actor, name) + [f"Ended session {esc(session_id)} of **{esc(name)}**."]

    @user_errors
    def delete(self, username, confirmed, request: gr.Request):
        actor = self.ctx.actor(request)
        name = _picked(username)
        if not confirmed:
            raise UserError("tick the confirmation box first: deleting an account cannot be undone")
        users_store.delete_user(self.ctx.store, name, actor=actor)
        return _state(self.ctx, actor, None) + [f"Deleted **{esc(name)}**.", False]


def build(ctx: AppContext) -> UsersPage:
    gr.Markdown("## Users\nAccounts that may log in. Add a user with an initial password or a one-time "
                "invitation link (they choose their password); disable an account to lock it out at once. "
                "The command line does the same while the app runs: `python app.py list-users`, `add-user`, "
                "`invite-user`, `disable-user`, `reset-password`, `make-admin`, `approve-user`.")
    table = readonly_table(USER_COLUMNS, "users-table", "Users")
    with gr.Row():
        picker = gr.Dropdown(label="User", choices=[], value=None, elem_id="users-pick", scale=3,
                             allow_custom_value=True)  # the store says which users exist
        refresh_btn = gr.Button("Refresh", scale=1, elem_id="users-refresh")
    link = gr.Textbox(label="One-time invitation link: copy it and send it to the user (it is shown once)",
                      interactive=False, visible=False, buttons=["copy"], elem_id="users-link")
    status = gr.Markdown(elem_id="users-status")
    with gr.Accordion("Add a user", open=False, elem_id="users-add-acc"):
        with gr.Row():
            a_name = gr.Textbox(label="User name (letters, digits, _ . @ -)", max_length=64, elem_id="users-add-name")
            a_email = gr.Textbox(label="Email (team membership and notifications go by it)", max_length=254,
                                 elem_id="users-add-email")
        with gr.Row():
            a_how = gr.Radio([HOW_INVITE, HOW_PASSWORD], value=HOW_INVITE, label="How they get a password",
                             elem_id="users-add-how")
            a_password = gr.Textbox(label=f"Initial password (at least {users_store.MIN_PASSWORD} characters)",
                                    type="password", max_length=1024, elem_id="users-add-password")
            a_admin = gr.Checkbox(label="Admin (sees and manages everything)", elem_id="users-add-admin")
        add_btn = gr.Button("Add user", variant="primary", elem_id="users-add")
    with gr.Accordion("The picked user", open=True, elem_id="users-actions-acc"):
        with gr.Row():
            disable_btn = gr.Button("Disable", variant="stop", elem_id="users-disable")
            enable_btn = gr.Button("Enable", elem_id="users-enable")
            admin_btn = gr.Button("Make admin", elem_id="users-make-admin")
            unadmin_btn = gr.Button("Remove admin", elem_id="users-remove-admin")
            approve_btn = gr.Button("Approve (pending Hugging Face account)", elem_id="users-approve")
        with gr.Row():
            r_password = gr.Textbox(label="New password", type="password", max_length=1024, scale=3,
                                    elem_id="users-reset-password")
            reset_btn = gr.Button("Set password", scale=1, elem_id="users-reset")
            link_btn = gr.Button("New invitation link instead", scale=1, elem_id="users-new-link")
        sessions = readonly_table(SESSION_COLUMNS, "users-sessions", "Active sessions of the picked user", wrap=False)
        with gr.Row():
            session_pick = gr.Dropdown(label="Session", choices=[], value=None, scale=3, elem_id="users-session-pick",
                                       allow_custom_value=True)
            end_one_btn = gr.Button("End this session", scale=1, elem_id="users-end-session")
            end_all_btn = gr.Button("End all their sessions", variant="stop", scale=1, elem_id="users-end-sessions")
        with gr.Row():
            d_confirm = gr.Checkbox(label="Yes, delete the picked user", elem_id="users-delete-confirm")
            delete_btn = gr.Button("Delete user", variant="stop", elem_id="users-delete")

    state = [table, picker, sessions, session_pick]
    h = UsersHandlers(ctx)
    refresh_btn.click(h.load, [picker], state, api_name="users_refresh")
    picker.input(h.load, [picker], state, api_name="users_pick")
    add_btn.click(h.add, [a_name, a_email, a_admin, a_how, a_password], state + [link, status, a_name, a_password],
                  api_name="users_add")
    disable_btn.click(h.disable, [picker], state + [status], api_name="users_disable")
    enable_btn.click(h.enable, [picker], state + [status], api_name="users_enable")
    admin_btn.click(h.make_admin, [picker], state + [status], api_name="users_make_admin")
    unadmin_btn.click(h.remove_admin, [picker], state + [status], api_name="users_remove_admin")
    approve_btn.click(h.approve, [picker], state + [status], api_name="users_approve")
    reset_btn.click(h.set_password, [picker, r_password], state + [link, status, r_password],
                    api_name="users_set_password")
    link_btn.click(h.new_link, [picker], state + [link, status, r_password], api_name="users_new_link")
    end_all_btn.click(h.end_sessions, [picker], state + [status], api_name="users_end_sessions")
    end_one_btn.click(h.end_session, [picker, session_pick], state + [status], api_name="users_end_session")
    delete_btn.click(h.delete, [picker, d_confirm], state + [status, d_confirm], api_name="users_delete")
    return UsersPage(outputs=state, load=h.load)
