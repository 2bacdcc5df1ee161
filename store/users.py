"""Users and sessions (F6.1). Users are configured by the admin (a users file or the command
line); passwords are hashed with Argon2id (argon2-cffi) and never stored in plain text. Without
any configured user the app runs single-user (the local user) and says so.

A session is a random token in an HTTP-only cookie; the store keeps only its SHA-256 hash."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .access import RESERVED_NAMES, require_admin, users_configured
from .core import LOCAL_USER, Store
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .events import now, record_event

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MIN_PASSWORD = 8
SESSION_DAYS = 14
INVITATION_DAYS = 7
SESSION_ID_LEN = 16  # a session is named by the first hex digits of its token's hash (never the token)
_RESERVED = {n.lower() for n in RESERVED_NAMES}
_IMPORTABLE_FROM_HERE = (LOCAL_USER, users_configured)  # users_configured lives in store/access.py now


@dataclass(frozen=True)
class User:
    username: str
    email: str | None
    is_admin: bool
    source: str  # local | file | huggingface
    created_at: datetime
    disabled: bool = False  # may not log in; their sessions were ended
    pending: bool = False  # a Hugging Face sign-in waiting for an admin's approval
    active_sessions: int = 0
    has_password: bool = False  # False: an invited user who has not chosen one yet (or Hugging Face only)

    def as_dict(self) -> dict:
        return {"username": self.username, "email": self.email, "is_admin": self.is_admin, "source": self.source,
                "created_at": self.created_at.isoformat(), "disabled": self.disabled, "pending": self.pending,
                "active_sessions": self.active_sessions, "has_password": self.has_password}


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise ValidationError(f"{email[:80]!r} is not a valid email address")
    return email


# the columns _user reads; ``?`` is the time sessions are counted at
_USER_COLS = ("u.username, u.email, u.is_admin, u.source, u.created_at, u.disabled, u.pending, "
              "(SELECT count(*) FROM sessions s WHERE s.username = u.username AND s.expires_at > ?), "
              "u.password_hash IS NOT NULL")


def _user(r) -> User:
    return User(r[0], r[1], bool(r[2]), r[3], r[4], bool(r[5]), bool(r[6]), int(r[7] or 0), bool(r[8]))


def _cache(store: Store):
    """In-process answers of the hot auth path (every request asks them): the store's own
    (store/caches.py AuthCache). Only this process writes the store (DuckDB's single writer), and
    every write below drops what it changes."""
    return store.caches.auth


def add_user(store: Store, username: str, email: str | None, password: str | None = None, is_admin: bool = False,
             password_hash: str | None = None, source: str = "local", *, actor: str | None,
             invited: bool = False, pending: bool = False, hf_sub: str | None = None,
             email_verified: bool = False) -> User:
    """Add an account (an admin's action; system actors such as the CLI may). ``invited``: no
    password yet, the user chooses one through an invitation link (create_invitation);
    ``pending``: may not use the app before an admin approves it (approve_user)."""
    require_admin(store, actor, "adding a user")
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise ValidationError("a username is 1 to 64 letters, digits or _ . @ - (starting with a letter or digit)")
    if username.lower() in _RESERVED:
        raise ValidationError(f"{username!r} is a reserved name: choose another user name")
    email = check_email(email) if email else None
    if password_hash is None:
        if source != "huggingface" and not invited:
            if not password or len(password) < MIN_PASSWORD:
                raise ValidationError(f"a password has at least {MIN_PASSWORD} characters")
            password_hash = _hasher().hash(password)
    elif not password_hash.startswith("$argon2"):
        raise ValidationError("password_hash must be an Argon2 hash (python app.py hash-password)")
    if store.db.fetchone("SELECT 1 FROM users WHERE username = ?", [username]):
        raise Conflict(f"user {username!r} exists already")
    if email and store.db.fetchone("SELECT 1 FROM users WHERE email = ?", [email]):
        raise Conflict(f"another user has the email {email}")
    with store.db.transaction() as cur:
        cur.execute("INSERT INTO users (username, email, password_hash, is_admin, source, created_at, pending, "
                    "hf_sub, email_verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [username, email, password_hash, bool(is_admin), source, now(), bool(pending), hf_sub,
                     bool(email_verified)])
        record_event(cur, actor, "add_user", None, username=username, admin=bool(is_admin))
    _cache(store).configured = None
    _cache(store).admins.clear()
    return get_user(store, username)


def get_user(store: Store, username: str) -> User:
    r = store.db.fetchone(f"SELECT {_USER_COLS} FROM users u WHERE u.username = ?", [now(), username])
    if not r:
        raise NotFound(f"user {username!r} does not exist")
    return _user(r)


def all_users(store: Store) -> list[User]:
    """Every account, unchecked: for the store's own use (list_users is the admin's view)."""
    return [_user(r) for r in store.db.fetchall(f"SELECT {_USER_COLS} FROM users u ORDER BY u.username",
                                                [now()])]


def list_users(store: Store, *, actor: str | None) -> list[User]:
    """The accounts, with their state and active sessions: an admin's view."""
    require_admin(store, actor, "listing the users")
    return all_users(store)


def _check_username(username) -> str:
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise ValidationError("a username is 1 to 64 letters, digits or _ . @ -")
    return username


def _managed_user(store: Store, actor: str | None, username, what: str) -> User:
    """The admin check of every action on an account, then the account (NotFound otherwise)."""
    require_admin(store, actor, what)
    return get_user(store, _check_username(username))


def _active_admin(u: User) -> bool:
    return u.is_admin and not u.disabled and not u.pending


def _keep_an_admin(store: Store, user: User, actor: str | None, change: str) -> None:
    """Refuse a change that takes away the last active admin (the app would have no one left to
    manage it from the web)."""
    if not _active_admin(user):
        return
    others = store.db.scalar("SELECT count(*) FROM users WHERE is_admin AND NOT disabled AND NOT pending "
                             "AND username <> ?", [user.username])
    if not others:
        who = "you are" if actor == user.username else f"{user.username} is"
        raise Conflict(f"{who} the last active admin: make another user admin before you {change}")


def delete_user(store: Store, username: str, *, actor: str | None) -> None:
    user = _managed_user(store, actor, username, "deleting a user")
    _keep_an_admin(store, user, actor, "delete this account")
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        cur.execute("DELETE FROM invitations WHERE username = ?", [user.username])
        cur.execute("DELETE FROM users WHERE username = ?", [user.username])
        record_event(cur, actor, "delete_user", None, username=user.username)
    _forget_sessions_of(store, user.username)
    _cache(store).configured = None


def _password_hash(password: str | None) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise ValidationError("a password has at most 1024 characters")
    return _hasher().hash(password)


def set_password(store: Store, username: str, password: str, *, actor: str | None) -> None:
    """Reset a user's password (an admin's action): their sessions end, open invitations lapse."""
    user = _managed_user(store, actor, username, "resetting a password")
    digest = _password_hash(password)
    with store.db.transaction() as cur:
        cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", [digest, user.username])
        cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        cur.execute("DELETE FROM invitations WHERE username = ? AND used_at IS NULL", [user.username])
        record_event(cur, actor, "set_password", None, username=user.username)
    _forget_sessions_of(store, user.username)


def set_disabled(store: Store, username: str, disabled: bool, *, actor: str | None) -> User:
    """Disable (the user may not log in; their sessions end now) or enable an account."""
    user = _managed_user(store, actor, username, "disabling or enabling a user")
    if disabled:
        _keep_an_admin(store, user, actor, "disable this account")
    with store.db.transaction() as cur:
        cur.execute("UPDATE users SET disabled = ? WHERE username = ?", [bool(disabled), user.username])
        if disabled:
            cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        record_event(cur, actor, "disable_user" if disabled else "enable_user", None, username=user.username)
    _forget_sessions_of(store, user.username)
    return get_user(store, user.username)


def set_admin(store: Store, username: str, admin: bool, *, actor: str | None) -> User:
    """Make a user an admin (sees and manages everything) or take the flag away."""
    user = _managed_user(store, actor, username, "making or removing an admin")
    if not admin:
        _keep_an_admin(store, user, actor, "remove this admin flag")
    with store.db.transaction() as cur:
        cur.execute("UPDATE users SET is_admin = ? WHERE username = ?", [bool(admin), user.username])
        record_event(cur, actor, "set_admin", None, username=user.username, admin=bool(admin))
    _forget_sessions_of(store, user.username)
    return get_user(store, user.username)


def approve_user(store: Store, username: str, *, actor: str | None) -> User:
    """Let a pending account (a new Hugging Face sign-in) use the app."""
    user = _managed_user(store, actor, username, "approving a user")
    with store.db.transaction() as cur:
        cur.execute("UPDATE users SET pending = false WHERE username = ?", [user.username])
        record_event(cur, actor, "approve_user", None, username=user.username)
    _forget_sessions_of(store, user.username)
    return get_user(store, user.username)


def verify_password(store: Store, username: str, password: str) -> User | None:
    """The user when the password is right; None otherwise (same answer for an unknown user)."""
    from argon2.exceptions import Argon2Error, InvalidHashError

    r = store.db.fetchone("SELECT password_hash FROM users WHERE username = ?", [(username or "").strip()])
    hasher = _hasher()
    if not r or not r[0]:
        try:  # spend the same time as a real check, so timing does not tell which names exist
            hasher.verify("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$"
                          "RdescudvJCsgt3ub+b+dWRWJTmaaJObG", password or "")
        except (Argon2Error, InvalidHashError):
            pass
        return None
    try:
        hasher.verify(r[0], password or "")
    except (Argon2Error, InvalidHashError):
        return None
    return get_user(store, username.strip())


def hash_password(password: str) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password has at least {MIN_PASSWORD} characters")
    return _hasher().hash(password)


def load_users_file(store: Store, path: str | Path) -> int:
    """Add the users of a JSON file: [{"username", "email", "password_hash" (or "password"),
    "admin": bool}]; users already present are left as they are. Returns how many were added."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValidationError(f"cannot read the users file {path}: {e}") from None
    if not isinstance(data, list):
        raise ValidationError('the users file holds a JSON list: [{"username", "email", "password_hash", "admin"}]')
    added = 0
    for i, u in enumerate(data, 1):
        if not isinstance(u, dict) or not u.get("username"):
            raise ValidationError(f"users file entry {i}: an object with a username")
        if store.db.fetchone("SELECT 1 FROM users WHERE username = ?", [str(u["username"]).strip()]):
            continue
        add_user(store, str(u["username"]), u.get("email"), u.get("password"), bool(u.get("admin")),
                 u.get("password_hash"), source="file", actor="users-file")
        added += 1
    return added


def ensure_oauth_user(store: Store, sub: str, username: str, email: str | None = None,
                      email_verified: bool = False, allowed: bool = False) -> User:
    """A Hugging Face sign-in (auth_oauth.py): the account of the provider's ``sub``.

    - An account with this ``hf_sub``: that one (a verified email it lacks is recorded; an
      allowed account still pending is approved).
    - Else an account of the same name: a Hugging Face account recorded before subs were kept
      (``hf_sub`` NULL) is adopted; a password account, or one of another sub, is never taken
      over (Conflict).
    - Else a new account: active when ``allowed`` (LABELPORT_HF_ALLOW), otherwise pending (no
      session until an admin approves it).

    The email is recorded only when the provider says it is verified (team membership matches
    users.email), and only when no other account has it."""
    sub = (sub or "").strip()
    username = (username or "").strip()
    if not sub or len(sub) > 200:
        raise ValidationError("the sign-in did not say which Hugging Face account it is (no sub)")
    email = email if email and email_verified else None
    if email:
        try:
            email = check_email(email)
        except ValidationError:
            email = None
    if email and store.db.fetchone("SELECT 1 FROM users WHERE email = ? AND coalesce(hf_sub, '') <> ?",
                                   [email, sub]):
        email = None  # another account has it: it links to nothing
    r = store.db.fetchone("SELECT username, email, pending FROM users WHERE hf_sub = ?", [sub])
    if r is None:
        same = store.db.fetchone("SELECT source, hf_sub FROM users WHERE username = ?", [username])
        if same is not None:
            if same[0] != "huggingface":
                raise Conflict(f"a user named {username} exists already on this server and logs in with a password")
            if same[1]:
                raise Conflict(f"the user {username} belongs to another Hugging Face account")
            with store.db.transaction() as cur:  # recorded by name before subs were kept: theirs
                cur.execute("UPDATE users SET hf_sub = ? WHERE username = ? AND hf_sub IS NULL", [sub, username])
                record_event(cur, "oauth", "link_hf_sub", None, username=username)
            r = store.db.fetchone("SELECT username, email, pending FROM users WHERE hf_sub = ?", [sub])
    if r is not None:
        name, old_email, pending = r
        if (email and not old_email) or (pending and allowed):
            with store.db.transaction() as cur:
                if email and not old_email:
                    cur.execute("UPDATE users SET email = ?, email_verified = true WHERE username = ?", [email, name])
                if pending and allowed:
                    cur.execute("UPDATE users SET pending = false WHERE username = ?", [name])
                    record_event(cur, "oauth", "approve_user", None, username=name, by="LABELPORT_HF_ALLOW")
        return get_user(store, name)
    if not USERNAME.fullmatch(username) or username.lower() in _RESERVED:
        raise ValidationError(f"the Hugging Face name {username[:64]!r} cannot be a user name here")
    return add_user(store, username, email, source="huggingface", actor="oauth", pending=not allowed, hf_sub=sub,
                    email_verified=email is not None)  # one transaction: never an account without its sub


# -- sessions --------------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, username: str) -> str:
    """A new session of an active user; Forbidden for a disabled or pending account."""
    r = store.db.fetchone("SELECT disabled, pending FROM users WHERE username = ?", [username])
    if r is None:
        raise NotFound(f"user {username!r} does not exist")
    if r[0]:
        raise Forbidden("this account is disabled; ask an admin of this server")
    if r[1]:
        raise Forbidden("this account is waiting for an admin's approval")
    token = secrets.token_urlsafe(32)
    t = now()
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM sessions WHERE expires_at < ?", [t])
        cur.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                    [_token_hash(token), username, t, t + timedelta(days=SESSION_DAYS)])
        record_event(cur, username, "login", None)
    return token


def session_user(store: Store, token: str | None) -> str | None:
    """The user of a session token; None when unknown, expired, or the account is disabled or
    pending. The answer (with the account's flag) is cached per token; whatever disables an
    account, ends its sessions or deletes it calls _forget_sessions_of."""
    if not token or len(token) > 200:
        return None
    key = _token_hash(token)
    sessions = _cache(store).sessions
    r = sessions.get(key)
    if r is None:
        r = store.db.fetchone("SELECT s.username, s.expires_at, u.disabled OR u.pending FROM sessions s "
                              "JOIN users u ON u.username = s.username WHERE s.token_hash = ?", [key])
        if r and len(sessions) < 10_000:
            sessions[key] = r
    if not r or r[1] < now() or r[2]:
        return None
    return r[0]


def _forget_sessions_of(store: Store, username: str) -> None:
    """After a change to a user's account or sessions: drop the cached session answers (all of
    them: such changes are rare, and the next request of each session asks the store again)."""
    _cache(store).sessions.clear()
    _cache(store).admins.clear()


def end_session(store: Store, token: str | None) -> None:
    if token:
        _cache(store).sessions.pop(_token_hash(token), None)
        with store.db.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])


def user_email(store: Store, username: str) -> str | None:
    return store.db.scalar("SELECT email FROM users WHERE username = ?", [username])


def is_admin(store: Store, username: str | None) -> bool:
    """The local user (single-user mode), configured admins and the system actors (the CLI) see
    and may do everything; the rule is store/access.py's (None here: nobody, not the system)."""
    from .access import is_admin as admin_rule

    return username is not None and admin_rule(store, username)


# -- sessions, as an admin sees them ------------------------------------------------------------------
def list_sessions(store: Store, username: str | None = None, *, actor: str | None) -> list[dict]:
    """Active sessions (of one user, or all): id, user, created, expires. Never the token: the id
    is the first digits of the token's SHA-256, enough to end it (end_session_by_id)."""
    require_admin(store, actor, "listing sessions")
    sql = ("SELECT token_hash, username, created_at, expires_at FROM sessions WHERE expires_at > ?")
    params: list = [now()]
    if username is not None:
        get_user(store, _check_username(username))
        sql += " AND username = ?"
        params.append(username)
    rows = store.db.fetchall(sql + " ORDER BY created_at DESC", params)
    return [{"id": r[0][:SESSION_ID_LEN], "username": r[1], "created_at": r[2].isoformat(),
             "expires_at": r[3].isoformat()} for r in rows]


def end_sessions(store: Store, username: str, *, actor: str | None) -> int:
    """Log a user out everywhere; returns how many sessions ended."""
    user = _managed_user(store, actor, username, "ending sessions")
    with store.db.transaction() as cur:
        n = cur.execute("SELECT count(*) FROM sessions WHERE username = ?", [user.username]).fetchone()[0]
        cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        record_event(cur, actor, "end_sessions", None, username=user.username, sessions=n)
    _forget_sessions_of(store, user.username)
    return int(n)


def end_session_by_id(store: Store, session_id: str, *, actor: str | None, username: str | None = None) -> None:
    """End one session named by its id (list_sessions); of ``username`` when given."""
    require_admin(store, actor, "ending sessions")
    if not isinstance(session_id, str) or not re.fullmatch(f"[0-9a-f]{{{SESSION_ID_LEN}}}", session_id):
        raise ValidationError(f"a session id is {SESSION_ID_LEN} hexadecimal digits (see the user's sessions)")
    sql, params = "SELECT token_hash, username FROM sessions WHERE starts_with(token_hash, ?)", [session_id]
    if username is not None:
        sql += " AND username = ?"
        params.append(username)
    rows = store.db.fetchall(sql, params)
    if len(rows) != 1:
        raise NotFound(f"session {session_id} not found (it may have ended already)")
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM sessions WHERE token_hash = ?", [rows[0][0]])
        record_event(cur, actor, "end_session", None, username=rows[0][1])
    _forget_sessions_of(store, rows[0][1])


# -- invitations ----------------------------------------------------------------------------------------
def create_invitation(store: Store, username: str, *, actor: str | None, days: int = INVITATION_DAYS,
                      reset: bool = False) -> str:
    """A one-time link token with which the user chooses their password (accept_invitation). The
    store keeps only its SHA-256; an earlier open invitation of the user lapses. ``reset``: the
    current password stops working now and their sessions end (a password reset by link)."""
    user = _managed_user(store, actor, username, "inviting a user")
    if user.disabled:
        raise Conflict(f"{user.username} is disabled: enable the account before inviting them")
    if not 1 <= int(days) <= 90:
        raise ValidationError("an invitation is valid for 1 to 90 days")
    token = secrets.token_urlsafe(32)
    t = now()
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM invitations WHERE username = ? AND used_at IS NULL", [user.username])
        cur.execute("INSERT INTO invitations (token_hash, username, created_by, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)", [_token_hash(token), user.username, actor, t, t + timedelta(days=days)])
        if reset:
            cur.execute("UPDATE users SET password_hash = NULL WHERE username = ?", [user.username])
            cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        record_event(cur, actor, "invite_user", None, username=user.username, reset=bool(reset))
    if reset:
        _forget_sessions_of(store, user.username)
    return token


def invitation_user(store: Store, token: str | None) -> User:
    """The user an open invitation is for; ValidationError for an unknown, used or expired link."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        raise ValidationError(INVALID_INVITATION)
    r = store.db.fetchone("SELECT username, expires_at, used_at FROM invitations WHERE token_hash = ?",
                          [_token_hash(token)])
    if not r or r[2] is not None or r[1] < now():
        raise ValidationError(INVALID_INVITATION)
    try:
        user = get_user(store, r[0])
    except NotFound:
        raise ValidationError(INVALID_INVITATION) from None
    if user.disabled:
        raise ValidationError(INVALID_INVITATION)
    return user


INVALID_INVITATION = ("this invitation link is not valid: it was used already, has expired or was replaced. "
                      "Ask an admin for a new one.")


def accept_invitation(store: Store, token: str, password: str) -> User:
    """Set the invited user's password (no actor: the token is the proof) and use the link up."""
    user = invitation_user(store, token)
    digest = _password_hash(password)
    with store.db.transaction() as cur:
        r = cur.execute("SELECT used_at FROM invitations WHERE token_hash = ?", [_token_hash(token)]).fetchall()
        if not r or r[0][0] is not None:  # two tabs posting the same link: one wins
            raise ValidationError(INVALID_INVITATION)
        cur.execute("UPDATE invitations SET used_at = ? WHERE token_hash = ?", [now(), _token_hash(token)])
        cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", [digest, user.username])
        cur.execute("DELETE FROM sessions WHERE username = ?", [user.username])
        record_event(cur, user.username, "accept_invitation", None, username=user.username)
    _forget_sessions_of(store, user.username)
    return get_user(store, user.username)


def invitation_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/invite/{token}"
