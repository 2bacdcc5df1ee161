"""Hugging Face sign-in on a Space (F6.1), against a fake OpenID Connect provider on 127.0.0.1."""
from __future__ import annotations

import base64
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from tests.app_server import AppServer, free_port

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
HTML = {"accept": "text/html"}
NO_OAUTH = {"OAUTH_CLIENT_ID": "", "OAUTH_CLIENT_SECRET": "", "OPENID_PROVIDER_URL": "", "OAUTH_SCOPES": "",
            "SPACE_HOST": ""}


class FakeProvider:
    """/oauth/authorize sends the browser straight back with a code; /oauth/token wants the client
    credentials (HTTP Basic), a code it gave and the same redirect_uri; /oauth/userinfo the token."""

    def __init__(self):
        self.codes: dict[str, str] = {}  # code -> redirect_uri
        self.tokens: set[str] = set()
        self.token_requests = 0
        app = FastAPI()

        @app.get("/oauth/authorize")
        def authorize(client_id: str, redirect_uri: str, response_type: str, scope: str, state: str):
            assert client_id == CLIENT_ID and response_type == "code" and "openid" in scope.split()
            code = secrets.token_hex(8)
            self.codes[code] = redirect_uri
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

        @app.post("/oauth/token")
        async def token(request: Request):
            self.token_requests += 1
            form = await request.form()
            basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if request.headers.get("authorization") != basic:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            code = form.get("code")
            if (form.get("grant_type") != "authorization_code" or code not in self.codes
                    or self.codes.pop(code) != form.get("redirect_uri")):
                return JSONResponse({"error": "invalid_grant", "error_description": "bad code"}, status_code=400)
            access = secrets.token_hex(16)
            self.tokens.add(access)
            return {"access_token": access, "token_type": "bearer", "expires_in": 3600}

        @app.get("/oauth/userinfo")
        def userinfo(request: Request):
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return {"sub": "123", "preferred_username": "hf-alice", "name": "Alice", "email": "alice@example.org"}

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FakeProvider":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the fake provider did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def provider():
    p = FakeProvider().start()
    try:
        yield p
    finally:
        p.stop()


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


def test_hugging_face_sign_in(tmp_path, provider):
    server = AppServer(tmp_path / "data", tmp_path / "server", extra_env={
        **NO_OAUTH, "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_PROVIDER_URL": provider.url + "/", "OAUTH_SCOPES": "openid profile email"})
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
            assert query["redirect_uri"] == server.url + "/login/huggingface/callback"
            back = at_provider(location)
            assert back.startswith(server.url + "/login/huggingface/callback?")
            r = c.get(path_of(back), headers=HTML)
            assert r.status_code == 303 and r.headers["location"] == "/", r.text
            assert "labelport_session" in r.cookies
            me = c.get("/api/v1/me").json()
            assert me["username"] == "hf-alice" and me["email"] == "alice@example.org" and me["multi_user"]
            assert c.get("/", headers=HTML).status_code == 200
            # the same callback again: its state is used up
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

        with client(server) as c:  # the app keeps serving, and signs in again
            assert c.get("/healthz").json()["ok"] is True
            location, _ = start_sign_in(c, server)
            assert c.get(path_of(at_provider(location)), headers=HTML).status_code == 303
            assert c.get("/api/v1/me").json()["username"] == "hf-alice"
    finally:
        server.stop()

    with server.open_store() as store:
        from store.users import get_user, list_users

        user = get_user(store, "hf-alice")
        assert user.source == "huggingface" and user.email == "alice@example.org" and not user.is_admin
        assert [u.username for u in list_users(store)] == ["hf-alice"]


def test_a_local_user_of_the_same_name_is_not_taken_over(tmp_path, provider):
    server = AppServer(tmp_path / "data", tmp_path / "server", extra_env={
        **NO_OAUTH, "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_PROVIDER_URL": provider.url, "OAUTH_SCOPES": "openid profile email"})
    with server.open_store() as store:
        from store.users import add_user

        add_user(store, "hf-alice", "other@example.org", password="a long password")
    try:
        server.start()
        with client(server) as c:
            location, _ = start_sign_in(c, server)
            r = c.get(path_of(at_provider(location)), headers=HTML)
            assert r.status_code == 403 and "labelport_session" not in r.cookies and 'href="/login"' in r.text
            assert c.post("/api/v1/login", json={"username": "hf-alice", "password": "a long password"}
                          ).status_code == 200  # the password form still works
    finally:
        server.stop()


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


def test_redirect_uri_on_a_space_and_config():
    from fastapi.testclient import TestClient

    from auth_oauth import install_oauth, oauth_config

    assert oauth_config({}) is None and oauth_config({"OAUTH_CLIENT_ID": "x"}) is None
    config = oauth_config({"OAUTH_CLIENT_ID": "cid", "OAUTH_CLIENT_SECRET": "s", "OPENID_PROVIDER_URL":
                           "https://hf.example/", "OAUTH_SCOPES": " openid  profile ", "SPACE_HOST": "me-app.hf.space"})
    assert config.provider_url == "https://hf.example" and config.scopes == "openid profile"
    app = FastAPI()
    install_oauth(app, None, config)
    r = TestClient(app).get("/login/huggingface", follow_redirects=False)
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert r.headers["location"].startswith("https://hf.example/oauth/authorize?")
    assert query["redirect_uri"] == ["https://me-app.hf.space/login/huggingface/callback"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=none" in cookie
