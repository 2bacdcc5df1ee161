"""/api/v1/users: accounts managed in the app (F6.4), an admin's routes.

Every rule is in store/users.py (which asks store.access.require_admin): the handlers parse, call
one store function with the acting user and serialize. A non-admin gets 403 before anything is
read (the router's dependency asks the same rule early); anonymous callers get 401 from auth.py's
middleware. The CLI's user commands call these routes while the app runs, with the app's local
admin token (local_admin.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import Field

from store import Store
from store import users as users_store
from store.access import require_admin
from store.errors import ValidationError

from .deps import get_actor, get_store
from .errors import error_responses
from .models import InModel

USERNAME_PATTERN = f"^{users_store.USERNAME.pattern}$"
Username = Annotated[str, Path(pattern=USERNAME_PATTERN, max_length=64, description="the user's name")]
SessionId = Annotated[str, Path(pattern=f"^[0-9a-f]{{{users_store.SESSION_ID_LEN}}}$",
                                description="a session's id (GET .../sessions)")]


def admin_only(request: Request) -> None:
    """Refuse a non-admin (403) before the body or the path is read."""
    require_admin(get_store(request), get_actor(request), "managing users")


router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(admin_only)],
                   responses=error_responses(400, 401, 403, 404, 409))


class UserIn(InModel):
    username: str = Field(..., min_length=1, max_length=64, description="letters, digits, _ . @ -")
    email: str | None = Field(None, max_length=254, description="team membership and notifications go by it")
    password: str | None = Field(None, max_length=1024, description="an initial password (or invite)")
    admin: bool = Field(False, description="sees and manages everything")
    invite: bool = Field(False, description="no password: answer a one-time link to choose one")


class UserPatch(InModel):
    disabled: bool | None = Field(None, description="true: may not log in, sessions end now")
    admin: bool | None = None
    approved: bool | None = Field(None, description="true: a pending Hugging Face account may use the app")


class PasswordIn(InModel):
    password: str | None = Field(None, max_length=1024, description="the new password")
    invite: bool = Field(False, description="instead: a one-time link; the old password stops working")


def _link(store: Store, request: Request, token: str) -> str:
    from invite import link_for

    return link_for(store, request.url, token)


@router.get("", summary="The accounts, with their state and active sessions (admin)")
def list_users(store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return [u.as_dict() for u in users_store.list_users(store, actor=actor)]


@router.post("", status_code=201, summary="Add a user with an initial password or a one-time invitation link")
def add_user(body: UserIn, request: Request, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    if body.invite == bool(body.password):
        raise ValidationError("give either a password or invite: true (a one-time link to choose one)")
    user = users_store.add_user(store, body.username, body.email, body.password, body.admin, actor=actor,
                                invited=body.invite)
    out = user.as_dict()
    if body.invite:
        out["invitation_url"] = _link(store, request, users_store.create_invitation(store, user.username,
                                                                                    actor=actor))
    return out


@router.get("/{username}", summary="One account")
def get_user(username: Username, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    require_admin(store, actor, "managing users")
    return users_store.get_user(store, username).as_dict()


@router.patch("/{username}", summary="Disable or enable, make or remove admin, approve a pending account")
def update_user(username: Username, body: UserPatch, store: Store = Depends(get_store),
                actor: str = Depends(get_actor)):
    if body.disabled is None and body.admin is None and body.approved is None:
        raise ValidationError("nothing to change: give disabled, admin or approved")
    if body.approved is False:
        raise ValidationError("approved: true approves a pending account; to refuse one, disable or delete it")
    require_admin(store, actor, "managing users")
    user = users_store.get_user(store, username)
    if body.approved:
        user = users_store.approve_user(store, username, actor=actor)
    if body.admin is not None:
        user = users_store.set_admin(store, username, body.admin, actor=actor)
    if body.disabled is not None:
        user = users_store.set_disabled(store, username, body.disabled, actor=actor)
    return user.as_dict()


@router.post("/{username}/password", summary="Reset the password: a new one, or a one-time link (invite)")
def reset_password(username: Username, body: PasswordIn, request: Request, store: Store = Depends(get_store),
                   actor: str = Depends(get_actor)):
    if body.invite == bool(body.password):
        raise ValidationError("give either a password or invite: true (a one-time link to choose one)")
    if body.invite:
        token = users_store.create_invitation(store, username, actor=actor, reset=True)
        return {"username": username, "invitation_url": _link(store, request, token)}
    users_store.set_password(store, username, body.password, actor=actor)
    return {"username": username, "ok": True}


@router.get("/{username}/sessions", summary="The user's active sessions (never their tokens)")
def list_sessions(username: Username, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return users_store.list_sessions(store, username, actor=actor)


@router.delete("/{username}/sessions", summary="Log the user out everywhere")
def end_sessions(username: Username, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    return {"username": username, "ended": users_store.end_sessions(store, username, actor=actor)}


@router.delete("/{username}/sessions/{session_id}", status_code=204, summary="End one session")
def end_session(username: Username, session_id: SessionId, store: Store = Depends(get_store),
                actor: str = Depends(get_actor)):
    users_store.get_user(store, username)
    users_store.end_session_by_id(store, session_id, actor=actor, username=username)
    return Response(status_code=204)


@router.delete("/{username}", status_code=204, summary="Delete the account (its sessions end)")
def delete_user(username: Username, store: Store = Depends(get_store), actor: str = Depends(get_actor)):
    users_store.delete_user(store, username, actor=actor)
    return Response(status_code=204)
