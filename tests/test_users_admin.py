"""Users in the app (F6.4, issue 14): the store's rules for managing accounts, the admin's REST
routes and Users page as admin / non-admin / anonymous against the real app, one-time invitation
links over HTTP, disabling ends sessions, and the CLI's user commands while the app runs (through
the app's API with its local admin token) and when neither the store nor the app is reachable."""
from __future__ import annotations

import json
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.app_server import ROOT, AppServer, app_env, refusal

PASSWORD = "boss-password-1"
ANN_PASSWORD = "ann-password-1"
COOKIE = "labelport_session"


# -- the store's rules -------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    from store import Settings, open_store

    s = open_store(Settings(data_dir=tmp_path / "data", demo=False))
    yield s
    s.close()


def test_first_user_in_single_user_mode_then_only_admins_manage(store):
    from store import users as u
    from store.errors import Forbidden

    u.add_user(store, "boss", "boss@example.org", PASSWORD, True, actor="local")  # single-user: the local user may
    u.add_user(store, "ann", "ann@example.org", ANN_PASSWORD, actor="boss")
    refused = [
        lambda: u.add_user(store, "eve", None, "eve-password-1", actor="ann"),
        lambda: u.list_users(store, actor="ann"),
        lambda: u.delete_user(store, "boss", actor="ann"),
        lambda: u.set_password(store, "boss", "stolen-password", actor="ann"),
        lambda: u.set_disabled(store, "boss", True, actor="ann"),
        lambda: u.set_admin(store, "ann", True, actor="ann"),
        lambda: u.approve_user(store, "ann", actor="ann"),
        lambda: u.create_invitation(store, "boss", actor="ann"),
        lambda: u.list_sessions(store, None, actor="ann"),
        lambda: u.end_sessions(store, "boss", actor="ann"),
        lambda: u.end_session_by_id(store, "0" * u.SESSION_ID_LEN, actor="ann"),
        lambda: u.add_user(store, "eve", None, "eve-password-1", actor="local"),  # no longer single-user
    ]
    for call in refused:
        with pytest.raises(Forbidden, match="admin"):
            call()
    assert [x.username for x in u.list_users(store, actor="boss")] == ["ann", "boss"]
    assert not u.get_user(store, "ann").is_admin
    assert u.verify_password(store, "boss", PASSWORD) is not None  # nothing changed
    assert [x.username for x in u.list_users(store, actor="cli")] == ["ann", "boss"]  # a system actor passes


@pytest.mark.parametrize("name", ["cli", "CLI", "local", "system", "users-file", "oauth", "autolabel"])
def test_reserved_names_are_refused(store, name):
    from store.errors import ValidationError
    from store.users import add_user

    with pytest.raises(ValidationError, match="reserved"):
        add_user(store, name, None, "long-enough-1", actor="cli")


def test_the_last_active_admin_stays(store):
    from store import users as u
    from store.access import is_admin
    from store.errors import Conflict

    u.add_user(store, "boss", None, PASSWORD, True, actor="cli")
    u.add_user(store, "ann", None, ANN_PASSWORD, actor="cli")
    for call in (lambda: u.set_admin(store, "boss", False, actor="boss"),
                 lambda: u.set_disabled(store, "boss", True, actor="boss"),
                 lambda: u.delete_user(store, "boss", actor="boss"),
                 lambda: u.set_disabled(store, "boss", True, actor="cli")):
        with pytest.raises(Conflict, match="last active admin"):
            call()
    u.set_admin(store, "ann", True, actor="boss")
    u.set_admin(store, "boss", False, actor="boss")  # another admin exists now
    assert not is_admin(store, "boss") and is_admin(store, "ann")
    with pytest.raises(Conflict):
        u.set_disabled(store, "ann", True, actor="ann")
    u.set_admin(store, "boss", True, actor="ann")
    u.set_disabled(store, "ann", True, actor="boss")
    assert not is_admin(store, "ann")  # a disabled admin has no rights
    assert u.get_user(store, "ann").disabled


def test_sessions_listed_without_tokens_and_ended(store):
    from store import users as u

    u.add_user(store, "boss", None, PASSWORD, True, actor="cli")
    u.add_user(store, "ann", None, ANN_PASSWORD, actor="cli")
    t1, t2 = u.create_session(store, "ann"), u.create_session(store, "ann")
    assert u.session_user(store, t1) == "ann" and u.session_user(store, t2) == "ann"  # cached now
    sessions = u.list_sessions(store, "ann", actor="boss")
    assert len(sessions) == 2 and u.get_user(store, "ann").active_sessions == 2
    text = json.dumps(sessions)
    assert t1 not in text and t2 not in text
    assert u._token_hash(t1) not in text  # only a short prefix of the hash names a session
    first = next(s for s in sessions if u._token_hash(t1).startswith(s["id"]))
    u.end_session_by_id(store, first["id"], actor="boss", username="ann")
    assert u.session_user(store, t1) is None and u.session_user(store, t2) == "ann"
    assert u.end_sessions(store, "ann", actor="boss") == 1
    assert u.session_user(store, t2) is None
    t3 = u.create_session(store, "ann")
    assert u.session_user(store, t3) == "ann"
    u.set_disabled(store, "ann", True, actor="boss")  # disabling ends the sessions, the cache follows
    assert u.session_user(store, t3) is None and u.list_sessions(store, "ann", actor="boss") == []


def test_invitations_are_one_time(store):
    from store import users as u
    from store.errors import ValidationError

    u.add_user(store, "boss", None, PASSWORD, True, actor="cli")
    u.add_user(store, "dora", "dora@example.org", None, actor="boss", invited=True)
    assert not u.get_user(store, "dora").has_password
    assert u.verify_password(store, "dora", "") is None
    old = u.create_invitation(store, "dora", actor="boss")
    token = u.create_invitation(store, "dora", actor="boss")  # replaces the first link
    assert store.db.scalar("SELECT count(*) FROM invitations WHERE token_hash = ?", [token]) == 0  # hash only
    with pytest.raises(ValidationError, match="not valid"):
        u.invitation_user(store, old)
    assert u.invitation_user(store, token).username == "dora"
    with pytest.raises(ValidationError, match="8 characters"):
        u.accept_invitation(store, token, "short")
    assert u.accept_invitation(store, token, "dora-password-1").username == "dora"  # still usable after a refusal
    assert u.verify_password(store, "dora", "dora-password-1") is not None
    with pytest.raises(ValidationError, match="not valid"):
        u.accept_invitation(store, token, "another-password")
    # expired
    late = u.create_invitation(store, "dora", actor="boss")
    with store.db.transaction() as cur:
        cur.execute("UPDATE invitations SET expires_at = created_at - INTERVAL 1 SECOND WHERE used_at IS NULL")
    with pytest.raises(ValidationError, match="not valid"):
        u.accept_invitation(store, late, "dora-password-2")
    # a reset by link: the old password stops working at once
    reset = u.create_invitation(store, "dora", actor="boss", reset=True)
    assert u.verify_password(store, "dora", "dora-password-1") is None
    u.accept_invitation(store, reset, "dora-password-3")
    assert u.verify_password(store, "dora", "dora-password-3") is not None
    # a disabled account's link is not valid
    link = u.create_invitation(store, "dora", actor="boss")
    u.set_disabled(store, "dora", True, actor="boss")
    with pytest.raises(ValidationError, match="not valid"):
        u.invitation_user(store, link)


# -- against the running app ---------------------------------------------------------------------------
def cli(data: Path, *args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args, "--data-dir", str(data)], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env=env or app_env(data.parent / "gradio-cli"))


def login(server: AppServer, user: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=server.url, timeout=60, trust_env=False, headers={"Origin": server.url})
    r = c.post("/api/v1/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return c


@contextmanager
def session(server: AppServer, user: str, password: str):
    c = login(server, user, password)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("users-app")
    data = tmp / "data"
    r = cli(data, "add-user", "boss", "--email", "boss@example.org", "--admin", "--password-stdin",
            stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = cli(data, "add-user", "ann", "--email", "ann@example.org", "--password-stdin", stdin=ANN_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    app = AppServer(data, tmp / "server").start()
    yield app
    app.stop()
    log = app.log(tail=10**7)
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-6000:]}"


@pytest.fixture(scope="module")
def boss(server):
    with session(server, "boss", PASSWORD) as c:
        yield c


@pytest.fixture(scope="module")
def ann(server):
    with session(server, "ann", ANN_PASSWORD) as c:
        yield c


def error(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and body["error"]["status"] == r.status_code, body
    return body["error"]["message"]


ROUTES = [("GET", "/api/v1/users", None), ("POST", "/api/v1/users", {"username": "x1", "password": "long-enough-1"}),
          ("GET", "/api/v1/users/boss", None), ("PATCH", "/api/v1/users/boss", {"disabled": True}),
          ("POST", "/api/v1/users/boss/password", {"password": "stolen-password"}),
          ("GET", "/api/v1/users/boss/sessions", None), ("DELETE", "/api/v1/users/boss/sessions", None),
          ("DELETE", "/api/v1/users/boss/sessions/0123456789abcdef", None), ("DELETE", "/api/v1/users/boss", None),
          ("PATCH", "/api/v1/users/x%20y", {"admin": True})]


def test_anonymous_and_non_admin_are_refused(server, boss, ann):
    before = boss.get("/api/v1/users").json()
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as anon:
        for method, path, body in ROUTES:
            r = anon.request(method, path, json=body)
            assert r.status_code == 401, (method, path, r.text)
            r = anon.request(method, path, json=body, headers={"Authorization": "Bearer not-the-token"})
            assert r.status_code == 401, (method, path, r.text)
    for method, path, body in ROUTES:
        r = ann.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert "admin" in error(r)
    after = boss.get("/api/v1/users").json()
    assert [(u["username"], u["disabled"], u["is_admin"]) for u in after] == \
        [(u["username"], u["disabled"], u["is_admin"]) for u in before]
    assert boss.get("/api/v1/me").status_code == 200  # boss's session was not ended


def test_admin_routes(server, boss):
    r = boss.get("/api/v1/users")
    assert r.status_code == 200
    users = {u["username"]: u for u in r.json()}
    assert users["boss"]["is_admin"] and users["boss"]["active_sessions"] >= 1 and not users["ann"]["is_admin"]
    assert "password_hash" not in json.dumps(r.json())

    r = boss.post("/api/v1/users", json={"username": "carl", "email": "Carl@Example.org", "password": "carl-password-1"})
    assert r.status_code == 201, r.text
    assert r.json()["email"] == "carl@example.org" and "invitation_url" not in r.json()
    assert error(boss.post("/api/v1/users", json={"username": "carl", "password": "carl-password-1"})) \
        .endswith("exists already")
    r = boss.post("/api/v1/users", json={"username": "cli", "password": "long-enough-1"})
    assert r.status_code == 400 and "reserved" in error(r)
    r = boss.post("/api/v1/users", json={"username": "nopass"})
    assert r.status_code == 400 and "password" in error(r)
    r = boss.post("/api/v1/users", json={"username": "x", "password": "long-enough-1", "admin": "yes"})
    assert r.status_code == 400  # strict JSON types

    for bad in ("x%20y", "-dash", "a" * 65, "%2e%2e"):
        r = boss.patch(f"/api/v1/users/{bad}", json={"disabled": True})
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
        error(r)
    r = boss.patch("/api/v1/users/nobody", json={"disabled": True})
    assert r.status_code == 404 and "does not exist" in error(r)
    r = boss.patch("/api/v1/users/carl", json={})
    assert r.status_code == 400 and "nothing to change" in error(r)

    r = boss.patch("/api/v1/users/carl", json={"admin": True})
    assert r.status_code == 200 and r.json()["is_admin"]
    r = boss.patch("/api/v1/users/carl", json={"admin": False, "approved": True})
    assert r.status_code == 200 and not r.json()["is_admin"] and not r.json()["pending"]
    r = boss.patch("/api/v1/users/boss", json={"admin": False})
    assert r.status_code == 409 and "last active admin" in error(r)

    r = boss.post("/api/v1/users/carl/password", json={"password": "carl-password-2"})
    assert r.status_code == 200, r.text
    with session(server, "carl", "carl-password-2") as carl:
        sessions = boss.get("/api/v1/users/carl/sessions").json()
        assert len(sessions) == 1 and set(sessions[0]) == {"id", "username", "created_at", "expires_at"}
        assert carl.cookies.get(COOKIE) not in json.dumps(sessions)
        r = boss.delete(f"/api/v1/users/carl/sessions/{sessions[0]['id']}")
        assert r.status_code == 204
        assert carl.get("/api/v1/me").status_code == 401
    r = boss.delete("/api/v1/users/carl")
    assert r.status_code == 204
    assert boss.get("/api/v1/users/carl").status_code == 404
    spec = boss.get("/api/v1/openapi.json").json()
    assert "/users/{username}/sessions" in spec["paths"]
    assert "403" in spec["paths"]["/users"]["get"]["responses"]


def test_invitation_round_trip_over_http(server, boss):
    r = boss.post("/api/v1/users", json={"username": "dora", "email": "dora@example.org", "invite": True})
    assert r.status_code == 201, r.text
    url = r.json()["invitation_url"]
    assert url.startswith(server.url + "/invite/") and not r.json()["has_password"]
    path = url[len(server.url):]
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False, follow_redirects=False) as browser:
        r = browser.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200 and 'id="invite-form"' in r.text and ">dora<" in r.text
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        r = browser.post(path, data={"password": "dora-password-1", "password2": "dora-password-1"},
                         headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and COOKIE not in browser.cookies  # the link still works after this
        r = browser.post(path, data={"password": "dora-password-1", "password2": "something else"})
        assert r.status_code == 400 and "differ" in r.text
        r = browser.post(path, data={"password": "short", "password2": "short"})
        assert r.status_code == 400 and "8 characters" in r.text
        r = browser.post(path, data={"password": "dora-password-1", "password2": "dora-password-1"},
                         headers={"Origin": server.url})
        assert r.status_code == 303 and r.headers["location"] == "/", r.text
        assert browser.cookies.get(COOKIE)
        me = browser.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["username"] == "dora"
        for again in (browser.get(path), browser.post(path, data={"password": "x" * 10, "password2": "x" * 10})):
            assert again.status_code == 400 and "not valid" in again.text
        r = browser.get("/invite/" + "A" * 43)
        assert r.status_code == 400 and 'id="invite-invalid"' in r.text
    with session(server, "dora", "dora-password-1") as dora:
        assert dora.get("/api/v1/me").json()["username"] == "dora"
    # a reset by link: the old password stops working at once
    r = boss.post("/api/v1/users/dora/password", json={"invite": True})
    assert r.status_code == 200 and "/invite/" in r.json()["invitation_url"]
    r = httpx.post(server.url + "/api/v1/login", json={"username": "dora", "password": "dora-password-1"},
                   trust_env=False)
    assert r.status_code != 200


def test_disable_ends_sessions(server, boss):
    r = boss.post("/api/v1/users", json={"username": "erin", "password": "erin-password-1"})
    assert r.status_code == 201, r.text
    with session(server, "erin", "erin-password-1") as erin:
        assert erin.get("/api/v1/me").status_code == 200
        r = boss.patch("/api/v1/users/erin", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] and r.json()["active_sessions"] == 0
        assert erin.get("/api/v1/me").status_code == 401
        assert erin.get("/api/v1/jobs").status_code == 401
    r = httpx.post(server.url + "/api/v1/login", json={"username": "erin", "password": "erin-password-1"},
                   trust_env=False)
    assert r.status_code in (401, 403), r.text
    assert boss.patch("/api/v1/users/erin", json={"disabled": False}).status_code == 200
    with session(server, "erin", "erin-password-1") as erin:
        assert erin.get("/api/v1/me").status_code == 200
        assert boss.delete("/api/v1/users/erin/sessions").json()["ended"] == 1
        assert erin.get("/api/v1/me").status_code == 401


def test_users_page_refuses_a_non_admin_over_gradio(server, boss, ann):
    from gradio_client import Client

    client = Client(server.url, verbose=False, download_files=False,
                    headers={"Cookie": f"{COOKIE}={ann.cookies.get(COOKIE)}"})
    server.before_stop.append(client.close)
    calls = [("/users_refresh", ["boss"]), ("/users_add", ["mallory", "", True, "Initial password", "m-password-1"]),
             ("/users_disable", ["boss"]), ("/users_make_admin", ["ann"]), ("/users_set_password", ["boss", "x" * 12]),
             ("/users_new_link", ["boss"]), ("/users_end_sessions", ["boss"]), ("/users_delete", ["boss", True])]
    for api_name, args in calls:
        assert "admin" in refusal(client, *args, api_name=api_name)
    users = {u["username"]: u for u in boss.get("/api/v1/users").json()}
    assert "mallory" not in users and not users["ann"]["is_admin"] and not users["boss"]["disabled"]
    assert boss.get("/api/v1/me").status_code == 200

    admin = Client(server.url, verbose=False, download_files=False,
                   headers={"Cookie": f"{COOKIE}={boss.cookies.get(COOKIE)}"})
    server.before_stop.append(admin.close)
    out = admin.predict("fred", "fred@example.org", False, "Invitation link", "", api_name="/users_add")
    link = out[4]
    link = link.get("value") if isinstance(link, dict) else link
    assert "/invite/" in str(link), out
    assert "fred" in {u["username"] for u in boss.get("/api/v1/users").json()}


def test_cli_while_the_app_runs(server, boss):
    data = server.data_dir
    token = data / "admin.token"
    assert token.exists() and stat.S_IMODE(token.stat().st_mode) == 0o600
    assert (data / "app.url").read_text().strip() == server.url

    r = cli(data, "add-user", "gina", "--email", "gina@example.org", "--password-stdin", stdin="gina-password-1\n")
    assert r.returncode == 0, r.stderr
    assert "added user gina <gina@example.org>" in r.stdout
    r = cli(data, "list-users", "--json")
    assert r.returncode == 0, r.stderr
    assert "gina" in {u["username"] for u in json.loads(r.stdout)["users"]}
    r = cli(data, "list-users")
    assert r.returncode == 0 and "gina\tgina@example.org\tuser\tlocal\tactive" in r.stdout
    r = cli(data, "add-user", "gina", "--password-stdin", stdin="gina-password-1\n")
    assert r.returncode == 2 and "exists already" in r.stderr and "in use" not in r.stderr
    r = cli(data, "invite-user", "hank", "--email", "hank@example.org")
    assert r.returncode == 0, r.stderr
    link = r.stdout.strip().splitlines()[-1]
    assert link.startswith(server.url + "/invite/")
    with httpx.Client(base_url=server.url, timeout=60, trust_env=False) as browser:
        assert browser.get(link[len(server.url):]).status_code == 200

    with session(server, "gina", "gina-password-1") as gina:
        r = cli(data, "disable-user", "gina")
        assert r.returncode == 0 and "disabled gina" in r.stdout, r.stderr
        assert gina.get("/api/v1/me").status_code == 401
    assert cli(data, "enable-user", "gina").returncode == 0
    r = cli(data, "make-admin", "gina")
    assert r.returncode == 0 and "gina is an admin" in r.stdout
    r = cli(data, "reset-password", "gina", "--password-stdin", stdin="gina-password-2\n")
    assert r.returncode == 0, r.stderr
    login(server, "gina", "gina-password-2").close()
    r = cli(data, "reset-password", "gina", "--invite", "--json")
    assert r.returncode == 0 and "/invite/" in json.loads(r.stdout)["invitation_url"]
    r = cli(data, "approve-user", "nobody")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = cli(data, "add-user", "x", "--password-stdin", "--url", "http://127.0.0.1:9", stdin="long-enough-1\n")
    assert r.returncode == 2 and "does not answer" in r.stderr and "--url" in r.stderr
    users = {u["username"]: u for u in boss.get("/api/v1/users").json()}
    assert users["gina"]["is_admin"] and "hank" in users


def test_cli_says_what_to_do_when_neither_store_nor_app_answers(tmp_path):
    data = tmp_path / "data"
    r = cli(data, "add-user", "boss", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from store import Settings, open_store; "
        f"s = open_store(Settings(data_dir=Path({str(data)!r}), demo=False)); print('ready', flush=True); "
        "sys.stdin.read(); s.close()")], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        r = cli(data, "list-users")
        assert r.returncode == 2
        assert "in use by another process" in r.stderr and "no running app" in r.stderr
        assert "stop the process" in r.stderr
        (data / "admin.token").write_text("stale\n")  # left by a killed app
        r = cli(data, "list-users", "--url", "http://127.0.0.1:9")
        assert r.returncode == 2 and "does not answer" in r.stderr and "stop the process" in r.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    r = cli(data, "list-users")  # the store is free again: straight to it, stale files or not
    assert r.returncode == 0 and r.stdout.startswith("boss\t")


def test_first_user_added_while_a_single_user_app_runs(tmp_path):
    """The app started single-user; `add-user` reaches it through its API, and from then on it asks
    for a login. At exit the app removes its token and address files."""
    data = tmp_path / "data"
    app = AppServer(data, tmp_path / "server").start()
    try:
        assert stat.S_IMODE((data / "admin.token").stat().st_mode) == 0o600
        with httpx.Client(base_url=app.url, timeout=60, trust_env=False) as c:  # single-user: open, as before
            assert c.get("/api/v1/users").json() == []
        r = cli(data, "add-user", "boss", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        with httpx.Client(base_url=app.url, timeout=60, trust_env=False) as c:  # multi-user from now on
            assert c.get("/api/v1/users").status_code == 401
            assert c.get("/", headers={"Accept": "text/html"}).status_code in (303, 307)
        with session(app, "boss", PASSWORD) as boss:
            assert boss.get("/api/v1/me").json()["username"] == "boss"
            r = boss.get("/gradio_api/user")  # Gradio knows the user too (its auth dependency follows)
            assert r.status_code == 200 and r.json() == "boss", r.text
    finally:
        app.stop()
    assert not (data / "admin.token").exists() and not (data / "app.url").exists()
    assert "Traceback" not in app.log(tail=10**7)
