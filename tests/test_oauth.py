"""Hugging Face sign-in on a Space (F6.1, issue 14), against a fake OpenID Connect provider on
127.0.0.1: state and nonce in a signed cookie, accounts matched by `sub`, the email kept only when
verified, the LABELPORT_HF_ALLOW allow-list (names and `org:` entries) and approval of the rest."""
from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.app_server import AppServer
from tests.fake_openid import ALICE, CLIENT_ID, CLIENT_SECRET, HTML, NO_OAUTH, FakeProvider, _jwt


@pytest.fixture
def provider():
    p = FakeProvider().start()
    try:
        yield p
    finally:
        p.stop()


def oauth_server(tmp_path, provider: FakeProvider, **env) -> AppServer:
    return AppServer(tmp_path / "data", tmp_path / "server", extra_env={
        **NO_OAUTH, "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_PROVIDER_URL": provider.url + "/", "OAUTH_SCOPES": "openid profile email", **env})


def client(server: AppServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, trust_env=False, follow_redirects=False, timeout=30)


def start_sign_in(c: httpx.Client, server: AppServer) -> tuple[str, dict]:
    """GET /login/huggingface: the provider URL it sends to, and its query."""
    r = c.get("/login/huggingface", headers=HTML)
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return location, query


def at_provider(location: str) -> str:
    """The browser at the provider: where it is sent back to (the app's callback)."""
    r = httpx.get(location, trust_env=False, follow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    return r.headers["location"]


def path_of(url: str) -> str:
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


def sign_in(server: AppServer, c: httpx.Client | None = None) -> httpx.Response:
    """The whole round trip in one browser (a new one unless given); the callback's answer."""
    own = c is None
    c = c or client(server)
    try:
        location, _ = start_sign_in(c, server)
        r = c.get(path_of(at_provider(location)), headers=HTML)
        if own:
            r.read()
        return r
    finally:
        if own:
            c.close()


def test_hugging_face_sign_in(tmp_path, provider):
    server = oauth_server(tmp_path, provider, LABELPORT_HF_ALLOW="someone-else, HF-Alice")
    try:
        server.start()
        with client(server) as c:
            # OAuth configured, no user yet: multi-user all the same
            r = c.get("/", headers=HTML)
            assert r.status_code == 303 and r.headers["location"].endswith("/login")
            assert c.get("/api/v1/me").status_code == 401
            page = c.get("/login", headers=HTML).text
            assert "Sign in with Hugging Face" in page and 'href="/login/huggingface"' in page
            assert page.index("Sign in with Hugging Face") < page.index('name="password"')  # above the form

            location, query = start_sign_in(c, server)
            assert location.startswith(provider.url + "/oauth/authorize?")
            assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
            assert query["scope"] == "openid profile email" and len(query["state"]) >= 32
            assert len(query["nonce"]) >= 32 and query["nonce"] != query["state"]
            assert query["redirect_uri"] == server.url + "/login/huggingface/callback"
            cookie = c.cookies.get("labelport_oauth_state")
            assert cookie and query["state"] not in cookie and query["nonce"] not in cookie  # signed, not plain
            back = at_provider(location)
            assert back.startswith(server.url + "/login/huggingface/callback?")
            r = c.get(path_of(back), headers=HTML)
            assert r.status_code == 303 and r.headers["location"] == "/", r.text
            assert "labelport_session" in r.cookies
            me = c.get("/api/v1/me").json()
            assert me["username"] == "hf-alice" and me["email"] == "alice@example.org" and me["multi_user"]
            assert c.get("/", headers=HTML).status_code == 200
            # the same callback again: the state cookie is gone
            r = c.get(path_of(back), headers=HTML)
            assert r.status_code == 400 and "labelport_session" not in r.cookies

        with client(server) as c:  # a wrong state: refused, no session
            location, query = start_sign_in(c, server)
            back = at_provider(location.replace(query["state"], "not-the-state"))
            r = c.get(path_of(back), headers=HTML)
            assert r.status_code == 400 and "labelport_session" not in r.cookies
            assert "Sign-in refused" in r.text and 'href="/login"' in r.text
            assert c.get("/api/v1/me").status_code == 401

        with client(server) as c, client(server) as other:  # a state started by another browser
            location, _ = start_sign_in(other, server)
            r = c.get(path_of(at_provider(location)), headers=HTML)
            assert r.status_code == 400 and "labelport_session" not in r.cookies

        with client(server) as c:  # a forged state cookie (the browser's own state, re-signed by nobody)
            location, query = start_sign_in(c, server)
            raw = c.cookies.get("labelport_oauth_state")
            body, mac = raw.split(".")
            c.cookies.set("labelport_oauth_state", body + "." + mac[::-1], path="/login/huggingface")
            r = c.get(path_of(at_provider(location)), headers=HTML)
            assert r.status_code == 400 and "labelport_session" not in r.cookies and "Sign-in" in r.text

        with client(server) as c:  # the provider refuses the code: a clear page, no session, no 500
            location, query = start_sign_in(c, server)
            before = provider.token_requests
            r = c.get("/login/huggingface/callback?" + urlencode({"code": "forged", "state": query["state"]}),
                      headers=HTML)
            assert provider.token_requests == before + 1
            assert r.status_code == 502 and "labelport_session" not in r.cookies
            assert "Sign-in failed" in r.text and "bad code" in r.text and 'href="/login"' in r.text
            assert c.get("/api/v1/me").status_code == 401

        with client(server) as c:  # the user declines at the provider
            _, query = start_sign_in(c, server)
            r = c.get("/login/huggingface/callback?" + urlencode({"error": "access_denied", "state": query["state"]}),
                      headers=HTML)
            assert r.status_code == 400 and "access_denied" in r.text and "labelport_session" not in r.cookies

        for mode in ("wrong", "missing nonce"):  # an id_token of another sign-in: refused
            provider.id_token = mode
            r = sign_in(server)
            assert r.status_code == 502 and "nonce" in r.text and "labelport_session" not in r.cookies, mode
        provider.id_token = "none"  # no id_token at all (scope without openid): userinfo decides
        assert sign_in(server).status_code == 303
        provider.id_token = "match"

        # a stranger starts 2,100 sign-ins: nothing is kept on the server, a sign-in in flight still ends well
        with client(server) as c, client(server) as stranger:
            location, _ = start_sign_in(c, server)
            for _ in range(2100):
                assert stranger.get("/login/huggingface").status_code == 302
            r = c.get(path_of(at_provider(location)), headers=HTML)
            assert r.status_code == 303 and "labelport_session" in r.cookies

        # matched by sub: a new name for the same account is the same user
        provider.identity = {**ALICE, "preferred_username": "alice-renamed"}
        with client(server) as c:
            assert sign_in(server, c).status_code == 303
            assert c.get("/api/v1/me").json()["username"] == "hf-alice"
        # the same name with another sub: never that account
        provider.identity = {**ALICE, "sub": "999", "email": "mallory@example.org"}
        r = sign_in(server)
        assert r.status_code == 403 and "another Hugging Face account" in r.text
        assert "labelport_session" not in r.cookies

        with client(server) as c:  # the app keeps serving, and signs in again
            provider.identity = dict(ALICE)
            assert c.get("/healthz").json()["ok"] is True
            assert sign_in(server, c).status_code == 303
            assert c.get("/api/v1/me").json()["username"] == "hf-alice"
    finally:
        server.stop()

    with server.open_store() as store:
        from store.users import all_users

        (user,) = all_users(store)
        assert (user.username, user.source, user.email, user.is_admin, user.pending) == (
            "hf-alice", "huggingface", "alice@example.org", False, False)
        assert store.db.fetchone("SELECT hf_sub, email_verified FROM users") == ("123", True)
        assert len(store.db.get_meta("cookie_secret")) == 64  # the signing key, made on first need


def test_without_an_allow_list_new_accounts_wait_for_approval(tmp_path, provider):
    server = oauth_server(tmp_path, provider)
    bob = {"sub": "b-1", "preferred_username": "hf-bob", "email": "bob@example.org", "email_verified": False}
    carol = {"sub": "c-1", "preferred_username": "hf-carol", "email": "carol@example.org", "email_verified": True}
    with server.open_store() as store:  # a team that lists bob's (unverified) email
        from store.teams import add_members, create_team
        from store.users import add_user

        add_user(store, "boss", "boss@example.org", "a long password", is_admin=True, actor="cli")
        team = create_team(store, "team", "", owner="boss")
        add_members(store, team.id, [("bob@example.org", "Bob", "labeler")], actor="boss")
    try:
        server.start()
        for who in (bob, carol, bob):  # twice for bob: still waiting
            provider.identity = who
            with client(server) as c:
                r = sign_in(server, c)
                assert r.status_code == 403 and "labelport_session" not in r.cookies
                assert "Waiting for approval" in r.text and "admin" in r.text
                assert c.get("/api/v1/me").status_code == 401
                assert c.get("/", headers=HTML).status_code == 303
    finally:
        server.stop()
    with server.open_store() as store:
        from store.users import approve_user, get_user, set_disabled

        b, c_ = get_user(store, "hf-bob"), get_user(store, "hf-carol")
        assert b.pending and c_.pending and b.email is None  # not verified: links to no team membership
        assert c_.email == "carol@example.org"
        assert store.db.scalar("SELECT count(*) FROM sessions") == 0
        approve_user(store, "hf-bob", actor="cli")
        approve_user(store, "hf-carol", actor="cli")
        set_disabled(store, "hf-carol", True, actor="cli")
    try:
        server.start()
        provider.identity = bob
        with client(server) as c:
            assert sign_in(server, c).status_code == 303
            me = c.get("/api/v1/me").json()
            assert me["username"] == "hf-bob" and me["email"] is None
            assert c.get("/api/v1/me/jobs").status_code == 200
        provider.identity = carol
        r = sign_in(server)
        assert r.status_code == 403 and "disabled" in r.text and "labelport_session" not in r.cookies
    finally:
        server.stop()


def test_an_org_on_the_allow_list(tmp_path, provider):
    server = oauth_server(tmp_path, provider, LABELPORT_HF_ALLOW="org:My-Lab")
    try:
        server.start()
        cases = [  # orgs as objects (Hugging Face's userinfo), as strings, none of the list
            ({"sub": "d-1", "preferred_username": "hf-dan", "orgs": [
                {"sub": "o-1", "name": "My Lab", "preferred_username": "my-lab"}]}, 303),
            ({"sub": "e-1", "preferred_username": "hf-eve", "orgs": ["other", "my-lab"]}, 303),
            ({"sub": "f-1", "preferred_username": "hf-fay", "orgs": [{"preferred_username": "not-my-lab"}]}, 403),
            ({"sub": "g-1", "preferred_username": "my-lab"}, 403),  # a user named like the org is not the org
        ]
        for identity, status in cases:
            provider.identity = identity
            with client(server) as c:
                r = sign_in(server, c)
                assert r.status_code == status, (identity, r.text)
                assert (c.get("/api/v1/me").status_code == 200) == (status == 303)
    finally:
        server.stop()
    with server.open_store() as store:
        rows = store.db.fetchall("SELECT username, pending FROM users ORDER BY username")
        assert rows == [("hf-dan", False), ("hf-eve", False), ("hf-fay", True), ("my-lab", True)]


def test_a_local_user_of_the_same_name_is_not_taken_over(tmp_path, provider):
    server = oauth_server(tmp_path, provider, LABELPORT_HF_ALLOW="hf-alice")
    with server.open_store() as store:
        from store.users import add_user

        add_user(store, "hf-alice", "other@example.org", password="a long password", actor="cli")
    try:
        server.start()
        with client(server) as c:
            location, _ = start_sign_in(c, server)
            r = c.get(path_of(at_provider(location)), headers=HTML)
            assert r.status_code == 403 and "labelport_session" not in r.cookies and 'href="/login"' in r.text
            assert "password" in r.text
            assert c.post("/api/v1/login", json={"username": "hf-alice", "password": "a long password"}
                          ).status_code == 200  # the password form still works
    finally:
        server.stop()
    with server.open_store() as store:
        assert store.db.fetchone("SELECT source, hf_sub, email FROM users") == ("local", None, "other@example.org")


def test_without_oauth_settings_there_is_no_hugging_face_sign_in(tmp_path):
    server = AppServer(tmp_path / "data", tmp_path / "server", extra_env=NO_OAUTH)
    try:
        server.start()
        with client(server) as c:
            assert c.get("/login/huggingface", headers=HTML).status_code == 404
            assert c.get("/login/huggingface/callback?code=x&state=y", headers=HTML).status_code == 404
            page = c.get("/login", headers=HTML).text
            assert "Hugging Face" not in page and 'name="password"' in page
            assert c.get("/api/v1/me").json()["multi_user"] is False  # single-user, as before
    finally:
        server.stop()


def test_redirect_uri_on_a_space_and_config(store, monkeypatch):
    from fastapi.testclient import TestClient

    from auth_oauth import install_oauth, oauth_config, parse_allow_list

    assert oauth_config({}) is None and oauth_config({"OAUTH_CLIENT_ID": "x"}) is None
    config = oauth_config({"OAUTH_CLIENT_ID": "cid", "OAUTH_CLIENT_SECRET": "s", "OPENID_PROVIDER_URL":
                           "https://hf.example/", "OAUTH_SCOPES": " openid  profile ", "SPACE_HOST": "me-app.hf.space",
                           "LABELPORT_HF_ALLOW": " Alice ,org:Lab-1,, org: ,bob"})
    assert config.provider_url == "https://hf.example" and config.scopes == "openid profile"
    assert (config.allow_users, config.allow_orgs) == ({"alice", "bob"}, {"lab-1"})
    assert parse_allow_list(None) == (frozenset(), frozenset())
    assert config.allows("ALICE", []) and config.allows("zed", ["LAB-1"]) and not config.allows("lab-1", [])
    monkeypatch.setenv("SPACE_HOST", "me-app.hf.space")
    app = FastAPI()
    install_oauth(app, store, config)
    r = TestClient(app).get("/login/huggingface", follow_redirects=False)
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert r.headers["location"].startswith("https://hf.example/oauth/authorize?")
    assert query["redirect_uri"] == ["https://me-app.hf.space/login/huggingface/callback"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=none" in cookie
    assert "path=/login/huggingface" in cookie and "max-age=600" in cookie


def test_the_state_cookie_is_signed_and_short_lived(store):
    from auth_oauth import id_token_claims, org_names, sign, signing_secret, unsign

    key = signing_secret(store)
    assert len(key) == 32 and signing_secret(store) == key
    assert bytes.fromhex(store.db.get_meta("cookie_secret")) == key
    value = sign(key, {"state": "s", "nonce": "n", "exp": 1000})
    assert unsign(key, value, now=999) == {"state": "s", "nonce": "n", "exp": 1000}
    assert unsign(key, value, now=1001) is None  # expired
    assert unsign(b"another key" * 3, value, now=999) is None
    body, mac = value.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"state": "x", "nonce": "n", "exp": 1000}).encode()).rstrip(b"=")
    assert unsign(key, forged.decode() + "." + mac, now=999) is None
    for junk in (None, "", "a.b.c", "nodot", "a" * 5000, "!!.??"):
        assert unsign(key, junk, now=0) is None
    assert id_token_claims(_jwt({"nonce": "n1", "sub": "1"}))["nonce"] == "n1"
    assert org_names([{"preferred_username": "a", "name": "A"}, "b", 3, {"x": 1}, " "]) == ["a", "A", "b"]
    assert org_names("not a list") == []
