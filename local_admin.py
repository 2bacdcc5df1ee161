"""The running app's local admin token: how `python app.py add-user ...` (and the other user
commands) work while the app holds the DuckDB file.

At start the app writes a random token to <data-dir>/admin.token (mode 0600: readable by the
machine's user who runs the app, who may read the store anyway) and its own URL to
<data-dir>/app.url; it removes both at exit. auth.py's middleware maps
`Authorization: Bearer <that token>` to the system actor "cli" (store.access.SYSTEM_ACTORS).
A new start makes a new token, so a file left by a killed app opens nothing."""
from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
TOKEN_FILE = "admin.token"
URL_FILE = "app.url"
ACTOR = "cli"
_TOKEN: dict[str, str | None] = {"value": None}


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by this user only (mkstemp creates 0600)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def local_url(host: str, port: int) -> str:
    """The URL a command on this machine reaches the app by."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def publish(data_dir: Path, host: str, port: int):
    """Make this process's token, write the two files; returns the function that removes them."""
    data_dir = Path(data_dir)
    token = secrets.token_urlsafe(32)
    _TOKEN["value"] = token
    token_path, url_path = data_dir / TOKEN_FILE, data_dir / URL_FILE
    try:
        _write_private(token_path, token)
        _write_private(url_path, local_url(host, port))
    except OSError as e:  # a read-only data folder: the app serves, the CLI cannot reach it this way
        log.warning("cannot write %s (%s): user commands will not work while the app runs", token_path, e)

    def remove() -> None:
        try:
            if token_path.read_text(encoding="utf-8").strip() == token:  # not a newer app's
                token_path.unlink(missing_ok=True)
                url_path.unlink(missing_ok=True)
        except OSError:
            pass  # gone already (a wiped data folder): nothing to remove

    return remove


def bearer_actor(authorization: str | None) -> str | None:
    """"cli" for `Bearer <this process's token>`, else None."""
    token = _TOKEN["value"]
    if not token or not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return None
    return ACTOR if secrets.compare_digest(value.strip().encode(), token.encode()) else None


def read_token(data_dir: Path) -> str | None:
    try:
        return (Path(data_dir) / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def read_url(data_dir: Path) -> str | None:
    try:
        return (Path(data_dir) / URL_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
