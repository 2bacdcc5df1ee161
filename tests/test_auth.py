"""Users from the command line (add-user, list-users, hash-password) and the users file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
                          timeout=120, env=env)


def test_add_and_list_users(tmp_path):
    data = str(tmp_path / "data")
    r = app("add-user", "alice", "--email", "Alice@Example.org", "--admin", "--password-stdin", "--data-dir", data,
            stdin="long enough password\n")
    assert r.returncode == 0, r.stderr
    assert "added user alice <alice@example.org> (admin)" in r.stdout
    r = app("add-user", "bob", "--password-stdin", "--data-dir", data, stdin="short\n")
    assert r.returncode == 2 and "too short" in r.stderr and "8 characters" in r.stderr
    r = app("add-user", "alice", "--password-stdin", "--data-dir", data, stdin="another password\n")
    assert r.returncode == 2 and "exists already" in r.stderr
    users = json.loads(app("list-users", "--json", "--data-dir", data).stdout)["users"]
    assert [(u["username"], u["email"], u["is_admin"]) for u in users] == [("alice", "alice@example.org", True)]

    from store import Settings, open_store
    from store.users import verify_password

    store = open_store(Settings(data_dir=Path(data), demo=False))
    try:
        assert verify_password(store, "alice", "long enough password").username == "alice"
        assert verify_password(store, "alice", "wrong password") is None
        assert store.db.scalar("SELECT password_hash FROM users").startswith("$argon2id$")  # never plain text
    finally:
        store.close()


def test_user_commands_on_a_stopped_app(tmp_path):
    """disable-user, enable-user, make-admin, reset-password, invite-user, approve-user straight on
    the store (tests/test_users_admin.py runs them through a running app)."""
    data = str(tmp_path / "data")
    assert app("add-user", "alice", "--admin", "--password-stdin", "--data-dir", data,
               stdin="long enough password\n").returncode == 0
    r = app("add-user", "local", "--password-stdin", "--data-dir", data, stdin="long enough password\n")
    assert r.returncode == 2 and "reserved" in r.stderr
    r = app("invite-user", "bob", "--email", "bob@example.org", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    assert "added user bob <bob@example.org>" in r.stdout and "/invite/" in r.stdout.splitlines()[-1]
    r = app("make-admin", "alice", "--remove", "--data-dir", data)
    assert r.returncode == 2 and "last active admin" in r.stderr
    assert "disabled bob" in app("disable-user", "bob", "--data-dir", data).stdout
    r = app("reset-password", "bob", "--password-stdin", "--data-dir", data, stdin="bob's new password\n")
    assert r.returncode == 0, r.stderr
    assert app("enable-user", "bob", "--data-dir", data).returncode == 0
    assert app("approve-user", "bob", "--data-dir", data).returncode == 0
    users = {u["username"]: u for u in json.loads(app("list-users", "--json", "--data-dir", data).stdout)["users"]}
    assert users["bob"]["has_password"] and not users["bob"]["disabled"] and users["alice"]["is_admin"]

    from store import Settings, open_store
    from store.users import verify_password

    store = open_store(Settings(data_dir=Path(data), demo=False))
    try:
        assert verify_password(store, "bob", "bob's new password").username == "bob"
        actors = store.db.fetchall("SELECT DISTINCT actor FROM events WHERE action IN ('add_user', 'disable_user', "
                                   "'enable_user', 'set_password', 'approve_user', 'invite_user')")
        assert actors == [("cli",)]
    finally:
        store.close()


def test_hash_password_for_a_users_file(tmp_path):
    r = app("hash-password", stdin="file user password\n")
    assert r.returncode == 0, r.stderr
    digest = r.stdout.strip()
    assert digest.startswith("$argon2id$")
    assert app("hash-password", stdin="tiny\n").returncode == 2
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps([{"username": "carol", "email": "carol@example.org", "password_hash": digest,
                                       "admin": False}]), encoding="utf-8")

    from store import Settings, open_store
    from store.users import load_users_file, verify_password

    store = open_store(Settings(data_dir=tmp_path / "data", demo=False))
    try:
        assert load_users_file(store, users_file) == 1
        assert load_users_file(store, users_file) == 0  # users already there stay as they are
        assert verify_password(store, "carol", "file user password").email == "carol@example.org"
    finally:
        store.close()
