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

from .core import LOCAL_USER, Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MIN_PASSWORD = 8
SESSION_DAYS = 14


@dataclass(frozen=True)
class User:
    username: str
    email: str | None
    is_admin: bool
    source: str  # local | file | huggingface
    created_at: datetime

    def as_dict(self) -> dict:
        return {"username": self.username, "email": self.email, "is_admin": self.is_admin, "source": self.source,
                "created_at": self.created_at.isoformat()}


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_email(email: str) -> str:
    email = (email or "").strip().lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise ValidationError(f"{email[:80]!r} is not a valid email address")
    return email


def _user(r) -> User:
    return User(r[0], r[1], bool(r[2]), r[3], r[4])


def _cache(store: Store) -> dict:
    """In-process answers of the hot auth path (every request asks them). Only this process
    writes the store (DuckDB's single writer), and every write below drops what it changes."""
    return store.db.__dict__.setdefault("_auth_cache", {"sessions": {}})


def users_configured(store: Store) -> bool:
    c = _cache(store)
    if "configured" not in c:
        c["configured"] = bool(store.db.scalar("SELECT count(*) FROM users"))
    return c["configured"]


def add_user(store: Store, username: str, email: str | None, password: str | None = None, is_admin: bool = False,
             password_hash: str | None = None, source: str = "local", actor: str | None = None) -> User:
    username = (username or "").strip()
    if not USERNAME.fullmatch(username) or username == LOCAL_USER:
        raise ValidationError("a username is 1 to 64 letters, digits or _ . @ - (not 'local')")
    email = check_email(email) if email else None
    if password_hash is None:
        if source != "huggingface":
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
        cur.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                    [username, email, password_hash, is_admin, source, now()])
        record_event(cur, actor, "add_user", None, username=username, admin=is_admin)
    _cache(store).pop("configured", None)
    return get_user(store, username)


def get_user(store: Store, username: str) -> User:
    r = store.db.fetchone("SELECT username, email, is_admin, source, created_at FROM users WHERE username = ?",
                          [username])
    if not r:
        raise NotFound(f"user {username!r} does not exist")
    return _user(r)


def list_users(store: Store) -> list[User]:
    return [_user(r) for r in store.db.fetchall(
        "SELECT username, email, is_admin, source, created_at FROM users ORDER BY username")]


def delete_user(store: Store, username: str, actor: str | None = None) -> None:
    get_user(store, username)
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM sessions WHERE username = ?", [username])
        cur.execute("DELETE FROM users WHERE username = ?", [username])
        record_event(cur, actor, "delete_user", None, username=username)
    _forget_sessions_of(store, username)
    _cache(store).pop("configured", None)


def set_password(store: Store, username: str, password: str) -> None:
    get_user(store, username)
    if not password or len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password has at least {MIN_PASSWORD} characters")
    with store.db.transaction() as cur:
        cur.execute("UPDATE users SET password_hash = ? WHERE username = ?", [_hasher().hash(password), username])
        cur.execute("DELETE FROM sessions WHERE username = ?", [username])
    _forget_sessions_of(store, username)


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


def ensure_oauth_user(store: Store, username: str, email: str | None = None) -> User:
    """A Hugging Face OAuth login on a Space: the user is recorded on first sight."""
    try:
        return get_user(store, username)
    except NotFound:
        return add_user(store, username, email, source="huggingface", actor="oauth")


# -- sessions --------------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(store: Store, username: str) -> str:
    get_user(store, username)
    token = secrets.token_urlsafe(32)
    t = now()
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM sessions WHERE expires_at < ?", [t])
        cur.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                    [_token_hash(token), username, t, t + timedelta(days=SESSION_DAYS)])
        record_event(cur, username, "login", None)
    return token


def session_user(store: Store, token: str | None) -> str | None:
    if not token or len(token) > 200:
        return None
    key = _token_hash(token)
    sessions = _cache(store)["sessions"]
    r = sessions.get(key)
    if r is None:
        r = store.db.fetchone("SELECT username, expires_at FROM sessions WHERE token_hash = ?", [key])
        if r and len(sessions) < 10_000:
            sessions[key] = r
    if not r or r[1] < now():
        return None
    return r[0]


def _forget_sessions_of(store: Store, username: str) -> None:
    sessions = _cache(store)["sessions"]
    for key in [k for k, v in sessions.items() if v[0] == username]:
        sessions.pop(key, None)


def end_session(store: Store, token: str | None) -> None:
    if token:
        _cache(store)["sessions"].pop(_token_hash(token), None)
        with store.db.transaction() as cur:
            cur.execute("DELETE FROM sessions WHERE token_hash = ?", [_token_hash(token)])


def user_email(store: Store, username: str) -> str | None:
    return store.db.scalar("SELECT email FROM users WHERE username = ?", [username])


def is_admin(store: Store, username: str | None) -> bool:
    """The local user (single-user mode) and configured admins see and may do everything."""
    if username is None:
        return False
    if not users_configured(store):
        return True
    return bool(store.db.scalar("SELECT is_admin FROM users WHERE username = ?", [username]))
