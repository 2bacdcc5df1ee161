"""Sign-in hardening and cross-site protection (issue 14), against the real app as a subprocess:
password log-in throttling (per account, per client, Argon2 concurrency cap), disabled and
pending accounts, the Origin/Referer check on state-changing requests (login CSRF included),
log-out by POST only, cookie flags and security headers, in local mode and in Space mode; the
throttle's arithmetic and the session rules are also checked in-process."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.app_server import AppServer

PASSWORD = "hardening-secret-1"
EVIL = "https://evil.example"
PUBLIC = "https://labels.example.org"
SPACE = "labels-app.hf.space"
HTML = {"accept": "text/html"}
NO_OAUTH = {"OAUTH_CLIENT_ID": "", "OAUTH_CLIENT_SECRET": "", "OPENID_PROVIDER_URL": "", "OAUTH_SCOPES": ""}
PARALLEL = 12  # parallel log-ins in the concurrency check (2 checked at once, 4 waiting, the rest "busy")


def _seed(store) -> int:
    """Users of the tests, a job of bob's with one image; returns the sample id."""
    from store.users import add_user, set_disabled
    from tests.factories import new_job, upload_images

    for name in ("alice", "bob", "carol", "dave", "erin", *(f"u{i}" for i in range(PARALLEL))):
        add_user(store, name, f"{name}@example.org", PASSWORD, actor="cli")
    with store.db.transaction() as cur:  # a Hugging Face sign-in waiting for approval, as it were
        cur.execute("UPDATE users SET pending = true WHERE username = 'dave'")
    set_disabled(store, "erin", True, actor="cli")
    job = new_job(store, "bob's job", actor="bob")
    return upload_images(store, job.id, 1)[0]


def _start(tmp_path_factory, name: str, env: dict) -> AppServer:
    root = tmp_path_factory.mktemp(name)
    server = AppServer(root / "data", root / "server", extra_env={**NO_OAUTH, **env})
    with server.open_store() as store:
        server.sample_id = _seed(store)
    server.start()
    return server


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    server = _start(tmp_path_factory, "local", {"SPACE_HOST": "", "LABELPORT_PUBLIC_URL": PUBLIC})
    yield server
    server.stop()
    assert "Traceback" not in server.log(tail=10**7)


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    server = _start(tmp_path_factory, "space", {"SPACE_HOST": SPACE, "SPACE_ID": "me/labels-app"})
    yield server
    server.stop()
    assert "Traceback" not in server.log(tail=10**7)


def client(server: AppServer, **headers) -> httpx.Client:
    return httpx.Client(base_url=server.url, trust_env=False, follow_redirects=False, timeout=60, headers=headers)


def api_login(c: httpx.Client, username: str, password: str = PASSWORD, **headers) -> httpx.Response:
    return c.post("/api/v1/login", json={"username": username, "password": password}, headers=headers)


def log_in(c: httpx.Client, username: str) -> httpx.Client:
    assert api_login(c, username).status_code == 200
    return c


# -- throttling -------------------------------------------------------------------------------------------
def test_password_login_is_throttled_per_account(local):
    with client(local) as c:
        for i in range(5):
            r = api_login(c, "alice", f"wrong {i}")
            assert r.status_code == 401 and r.json()["error"]["message"] == "wrong user name or password"
        r = api_login(c, "alice", "wrong again")
        assert r.status_code == 429, r.text
        assert r.json()["error"]["status"] == 429 and "Too many failed log-ins" in r.json()["error"]["message"]
        assert 1 <= int(r.headers["retry-after"]) <= 30
        r = api_login(c, "alice")  # the right password waits too: nothing is checked while it waits
        assert r.status_code == 429 and "set-cookie" not in r.headers
        r = api_login(c, " ALICE ")  # the same account, however it is spelled
        assert r.status_code == 429
        # the form says so, with the status
        r = c.post("/login", data={"username": "alice", "password": PASSWORD}, headers=HTML)
        assert r.status_code == 429 and 'id="login-error"' in r.text and "Too many failed log-ins" in r.text
        assert "labelport_session" not in r.cookies and int(r.headers["retry-after"]) >= 1
        assert api_login(c, "bob").status_code == 200  # another account from the same client still logs in


def test_a_success_resets_the_account(local):
    with client(local) as c:
        for _ in range(2):  # 6 failures in all, never 5 in a row without a success
            for i in range(3):
                assert api_login(c, "carol", f"wrong {i}").status_code == 401
            assert api_login(c, "carol").status_code == 200
        r = c.post("/login", data={"username": "carol", "password": "nope"}, headers=HTML)  # the form: as before
        assert r.status_code == 303 and r.headers["location"] == "/login?error=1"
        assert "Wrong user name or password." in c.get(r.headers["location"], headers=HTML).text


def test_concurrent_argon2_checks_are_capped(local):
    def login(i: int) -> httpx.Response:
        with client(local) as c:
            return api_login(c, f"u{i}")

    start = threading.Barrier(PARALLEL)

    def together(i: int) -> httpx.Response:
        start.wait()
        return login(i)

    with ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(together, range(PARALLEL)))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {200, 503}, [r.text for r in answers]
    assert statuses.count(200) >= 2 and 503 in statuses, statuses  # 2 checked at once, 4 waiting, the rest refused
    busy = next(r for r in answers if r.status_code == 503)
    assert "busy" in busy.json()["error"]["message"] and int(busy.headers["retry-after"]) >= 1
    with client(local) as c:  # the app keeps serving; a refused user logs in afterwards (not counted as failure)
        assert c.get("/healthz").json()["ok"] is True
        i = answers.index(busy)
        assert api_login(c, f"u{i}").status_code == 200


def test_disabled_and_pending_accounts_get_no_session(local):
    with client(local) as c:
        r = api_login(c, "dave")
        assert r.status_code == 403 and "waiting for an admin's approval" in r.json()["error"]["message"]
        assert "set-cookie" not in r.headers
        r = api_login(c, "erin")
        assert r.status_code == 403 and "disabled" in r.json()["error"]["message"] and "set-cookie" not in r.headers
        r = c.post("/login", data={"username": "erin", "password": PASSWORD}, headers=HTML)
        assert r.status_code == 403 and "disabled" in r.text and "labelport_session" not in r.cookies
        assert api_login(c, "erin", "wrong").status_code == 401  # a wrong password says nothing more
        assert c.get("/api/v1/me").status_code == 401


def test_the_client_address_on_a_space_is_the_proxys_last_entry(space):
    with client(space) as c:
        for i in range(20):  # one client, 20 accounts (unknown ones): then it waits, for every account
            assert api_login(c, f"nobody{i}", "guess", **{"x-forwarded-for": "203.0.113.6"}).status_code == 401
        r = api_login(c, "bob", **{"x-forwarded-for": "203.0.113.6"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # what the client writes before the proxy's entry changes nothing
        assert api_login(c, "bob", **{"x-forwarded-for": "198.51.100.1, 203.0.113.6"}).status_code == 429
        r = api_login(c, "bob", **{"x-forwarded-for": "203.0.113.6, 198.51.100.7"})  # another client
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()  # on a Space: the iframe of huggingface.co
        assert "httponly" in cookie and "samesite=none" in cookie and "secure" in cookie


# -- cross-site requests ------------------------------------------------------------------------------------
def test_cross_site_state_changes_are_refused(local):
    own = local.url
    with client(local) as c:
        # login CSRF: no cookie needed to be refused
        for headers in ({"origin": EVIL}, {"origin": "null"}, {"referer": EVIL + "/page"},
                        {"origin": "http://127.0.0.1:1"}, {"origin": own.replace("http:", "https:")},
                        {"origin": EVIL, "referer": own + "/login"}):
            r = api_login(c, "bob", **headers)
            assert r.status_code == 403, (headers, r.text)
            assert r.json()["error"]["status"] == 403 and "cross-site" in r.json()["error"]["message"]
            assert "set-cookie" not in r.headers and r.headers["x-frame-options"] == "DENY"
            r = c.post("/login", data={"username": "bob", "password": PASSWORD}, headers=headers)
            assert r.status_code == 403 and "labelport_session" not in r.cookies
        # the app's own pages, the public URL, and clients that send neither header
        for headers in ({"origin": own}, {"origin": PUBLIC}, {"referer": own + "/login?error=1"},
                        {"referer": PUBLIC + "/"}, {}):
            assert api_login(c, "bob", **headers).status_code == 200, headers
        r = c.post("/login", data={"username": "bob", "password": PASSWORD}, headers={**HTML, "origin": own})
        assert r.status_code == 303 and "labelport_session" in r.cookies

    with client(local) as bob:
        log_in(bob, "bob")
        jobs = bob.get("/api/v1/jobs").json()
        job_id = jobs[0]["id"]
        # with the cookie: a cross-site delete, a cross-site multipart upload, a cross-site log-out
        assert bob.delete(f"/api/v1/jobs/{job_id}", headers={"origin": EVIL}).status_code == 403
        assert bob.patch(f"/api/v1/jobs/{job_id}", json={"name": "x"}, headers={"origin": EVIL}).status_code == 403
        files = {"files": ("a.txt", b"hello", "text/plain")}
        assert bob.post("/gradio_api/upload", files=files, headers={"origin": EVIL}).status_code == 403
        assert bob.post("/api/v1/logout", headers={"referer": EVIL + "/"}).status_code == 403
        assert bob.get("/api/v1/me").json()["username"] == "bob"  # still logged in
        assert [j["name"] for j in bob.get("/api/v1/jobs").json()] == [j["name"] for j in jobs]
        # the page's own requests (Gradio's upload, the API) pass
        r = bob.post("/gradio_api/upload", files=files, headers={"origin": own})
        assert r.status_code == 200, r.text
        assert bob.patch(f"/api/v1/jobs/{job_id}", json={"name": "bob's job"},
                         headers={"origin": own}).status_code != 403


def test_logout_is_a_post(local):
    with client(local) as c:
        log_in(c, "bob")
        r = c.get("/logout", headers=HTML)  # a link or an image elsewhere cannot log anyone out
        assert r.status_code == 200 and '<form method="post" action="/logout">' in r.text
        assert c.get("/api/v1/me").json()["username"] == "bob"
        r = c.post("/logout", headers={"origin": local.url})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert 'labelport_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
        assert c.get("/api/v1/me").status_code == 401


def test_a_deep_link_survives_the_login_and_nothing_else_does(local):
    """/?job=..&tab=..&sample=.. before logging in: the form carries it and the log-in returns to
    it (issue 15); any other `next` (another host, scheme, path) returns to the app's page."""
    with client(local) as c:
        r = c.get("/?job=7&tab=label&sample=12", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F%3Fjob%3D7%26tab%3Dlabel%26sample%3D12"
        page = c.get(r.headers["location"], headers=HTML).text
        assert 'name="next" value="/?job=7&amp;tab=label&amp;sample=12"' in page
        r = c.post("/login", data={"username": "u3", "password": PASSWORD, "next": "/?job=7&tab=label&sample=12"},
                   headers={**HTML, "origin": local.url})
        assert r.status_code == 303 and r.headers["location"] == "/?job=7&tab=label&sample=12"
    for hostile in ("//evil.example/", "https://evil.example/?job=1", "/\\evil.example", "/api/v1/users",
                    "/?job=1\r\nSet-Cookie:x=1", "javascript:alert(1)", "/login?next=//evil.example"):
        with client(local) as c:
            page = c.get("/login", params={"next": hostile}, headers=HTML).text
            assert 'name="next" value="/"' in page, hostile
            r = c.post("/login", data={"username": "u4", "password": PASSWORD, "next": hostile},
                       headers={**HTML, "origin": local.url})
            assert r.status_code == 303 and r.headers["location"] == "/", (hostile, r.headers["location"])


# -- cookies and headers ---------------------------------------------------------------------------------------
def test_cookie_flags_and_security_headers_locally(local):
    with client(local) as c:
        r = api_login(c, "bob")
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        with client(local) as tls:  # behind a proxy that ends TLS
            r = api_login(tls, "bob", **{"x-forwarded-proto": "https"})
            assert "samesite=lax" in r.headers["set-cookie"].lower() and "secure" in r.headers["set-cookie"].lower()
            assert r.headers["strict-transport-security"] == "max-age=31536000"
        for path in ("/login", "/", "/healthz", "/api/v1/me", "/no-such-page", f"/media/{local.sample_id}/thumb"):
            r = c.get(path, headers=HTML)
            assert r.headers["x-frame-options"] == "DENY", path
            assert r.headers["content-security-policy"] == "frame-ancestors 'none'", path
            assert r.headers["referrer-policy"] == "same-origin", path
            assert "strict-transport-security" not in r.headers, path
        r = c.get(f"/media/{local.sample_id}/file")  # a route's own policy is kept
        assert r.status_code == 200 and r.headers["content-security-policy"] == "sandbox; frame-ancestors 'none'"


def test_cookie_flags_and_security_headers_on_a_space(space):
    with client(space) as c:
        for path in ("/login", "/healthz", "/logout"):
            r = c.get(path, headers=HTML)
            assert "x-frame-options" not in r.headers, path
            assert r.headers["content-security-policy"] == \
                "frame-ancestors https://huggingface.co https://*.huggingface.co", path
            assert r.headers["referrer-policy"] == "same-origin"
        r = c.get("/login", headers={**HTML, "x-forwarded-proto": "https"})
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        # the Space's own origin is this app's, whatever Host the proxy passes on
        assert api_login(c, "carol", **{"origin": f"https://{SPACE}"}).status_code == 200
        assert api_login(c, "carol", **{"origin": "https://huggingface.co"}).status_code == 403


# -- in-process: the throttle's arithmetic, sessions of blocked accounts ------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_backoff_doubles_up_to_its_cap_and_forgets_after_the_window():
    from store.throttle import Backoff

    clock = Clock()
    b = Backoff(free=3, base=30, cap=900, window=600, max_keys=4, clock=clock)
    waits = []
    for _ in range(10):
        assert b.wait("k") == 0  # never tries early
        b.fail("k")
        waits.append(b.wait("k"))
        clock.t += b.wait("k")  # wait exactly as long as asked, then fail again
    assert waits == [0, 0, 30, 60, 120, 240, 480, 900, 900, 900]
    clock.t += 600.5  # quiet for the window after the last wait: a new start
    assert b.wait("k") == 0
    b.fail("k")
    assert b.wait("k") == 0 and b._items["k"].failures == 1
    b.fail("k"), b.fail("k")
    assert b.wait("k") == 30
    b.forgive("k")  # the last attempt was right
    assert b.wait("k") == 0
    for key in ("a", "b", "c", "d", "e"):  # at most max_keys kept: the least recently failed go
        b.fail(key)
    assert len(b) == 4 and "k" not in b._items


def test_the_guard_counts_before_checking_and_caps_concurrency():
    from store.throttle import LoginBusy, LoginGuard, LoginThrottled

    clock = Clock()
    # an attempt counts as it starts: parallel attempts cannot slip past the limit
    g = LoginGuard(account_free=2, client_free=10, concurrency=3, queue=0, clock=clock)
    t1, t2 = g.enter("Ann", "ip1"), g.enter(" ann ", "ip1")
    with pytest.raises(LoginThrottled) as e:
        g.enter("ANN", "ip2")
    assert e.value.status == 429 and 1 <= e.value.retry_after <= 30
    g.leave(t1, ok=False), g.leave(t2, ok=False)
    with pytest.raises(LoginThrottled):
        g.enter("ann", "ip3")
    t = g.enter("bob", "ip1")
    g.leave(t, ok=True)  # a success resets the account and forgives the client that attempt
    assert "bob" not in g.accounts._items and g.clients._items["ip1"].failures == 2
    clock.t += 31
    t = g.enter("ann", "ip1")  # her wait is over: one more try
    g.leave(t, ok=True)
    assert "ann" not in g.accounts._items

    # one check at a time, one waiting: a third is told "busy" at once, and not counted
    g = LoginGuard(concurrency=1, queue=1, queue_wait=30, clock=clock)
    held = g.enter("x", "ip1")
    started, results = threading.Event(), []

    def second():
        started.set()
        results.append(g.enter("y", "ip2"))

    th = threading.Thread(target=second)
    th.start()
    started.wait()
    deadline = time.monotonic() + 10
    while g._inside < 2:  # the second one is waiting for the slot
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(LoginBusy) as busy:
        g.enter("z", "ip3")
    assert busy.value.status == 503 and busy.value.retry_after >= 1
    assert "z" not in g.accounts._items and "ip3" not in g.clients._items
    g.leave(held, ok=True)
    th.join(10)
    g.leave(results[0], ok=True)
    assert g._inside == 0
    # waiting for a slot too long: busy, and the attempt is forgiven
    quick = LoginGuard(concurrency=1, queue=5, queue_wait=0.05, clock=clock)
    held = quick.enter("x", "ipx")
    with pytest.raises(LoginBusy):
        quick.enter("y", "ipy")
    assert "y" not in quick.accounts._items and quick._inside == 1
    quick.leave(held, ok=True)


def test_blocked_accounts_have_no_session(store):
    from store.errors import Forbidden
    from store.users import add_user, create_session, session_user, set_disabled

    add_user(store, "zoe", "zoe@example.org", PASSWORD, actor="cli")
    add_user(store, "yan", "yan@example.org", PASSWORD, actor="cli")
    token = create_session(store, "zoe")
    assert session_user(store, token) == "zoe"  # now cached
    keep = create_session(store, "yan")
    set_disabled(store, "zoe", True, actor="cli")
    assert session_user(store, token) is None
    with pytest.raises(Forbidden, match="disabled"):
        create_session(store, "zoe")
    set_disabled(store, "zoe", False, actor="cli")
    token = create_session(store, "zoe")
    with store.db.transaction() as cur:  # as the store's own writers do, then they drop the cache
        cur.execute("UPDATE users SET pending = true WHERE username = 'zoe'")
    from store.users import _forget_sessions_of

    _forget_sessions_of(store, "zoe")
    assert session_user(store, token) is None and session_user(store, keep) == "yan"
    with pytest.raises(Forbidden, match="approval"):
        create_session(store, "zoe")


def test_oauth_accounts_by_sub(store):
    from store.errors import Conflict, ValidationError
    from store.users import add_user, ensure_oauth_user, get_user

    # recorded by name before subs were kept: the first sign-in adopts it
    add_user(store, "old-hf", None, source="huggingface", actor="oauth")
    assert ensure_oauth_user(store, "s-1", "old-hf", allowed=False).username == "old-hf"
    assert store.db.scalar("SELECT hf_sub FROM users WHERE username = 'old-hf'") == "s-1"
    with pytest.raises(Conflict, match="another Hugging Face account"):
        ensure_oauth_user(store, "s-2", "old-hf", allowed=True)
    add_user(store, "pw", "pw@example.org", PASSWORD, actor="cli")
    with pytest.raises(Conflict, match="password"):
        ensure_oauth_user(store, "s-3", "pw", "pw@example.org", email_verified=True, allowed=True)
    # a verified email another account has links to nothing; an unverified one is never kept
    u = ensure_oauth_user(store, "s-4", "newbie", "pw@example.org", email_verified=True, allowed=True)
    assert u.email is None and not u.pending
    u = ensure_oauth_user(store, "s-5", "other", "fresh@example.org", email_verified=False, allowed=False)
    assert u.email is None and u.pending
    u = ensure_oauth_user(store, "s-5", "other", "fresh@example.org", email_verified=True, allowed=True)
    assert u.email == "fresh@example.org" and not u.pending  # verified now, and on the allow-list now
    for bad in ("", "local", "cli"):
        with pytest.raises(ValidationError):
            ensure_oauth_user(store, "s-9" if bad else "", bad or "someone")
    assert get_user(store, "newbie").source == "huggingface"
