"""Log in and sessions for the web app and the REST API (F6.1).

With no configured user the app is single-user: everything is open on the machine it runs on
and actions are recorded as the local user (the header says so). Once users exist (a users file,
`python app.py add-user`), every page, media file and API call needs a session: a random token
in an HTTP-only cookie set by the login form (/login) or by POST /api/v1/login. The Gradio UI gets
the user from the same cookie (gradio's `auth_dependency`), so `request.username` is the user in
every page handler. On a Hugging Face Space with OAuth (OAUTH_CLIENT_ID, OPENID_PROVIDER_URL set)
auth_oauth.py adds "Sign in with Hugging Face", and the app is multi-user from the start."""
from __future__ import annotations

import html
import logging
import os
import re

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from store import Store
from store.team_jobs import can_see_sample
from store.users import create_session, end_session, session_user, users_configured, verify_password

log = logging.getLogger(__name__)
COOKIE = "labelport_session"
_SAMPLE_FILE = re.compile(r"/(?:media|api/v1/samples)/(\d{1,18})/")
OPEN_PATHS = ("/login", "/logout", "/healthz", "/api/v1/login", "/favicon.ico",
              "/login/huggingface", "/login/huggingface/callback")  # 404 unless OAuth is configured
_OAUTH = {"on": False}  # Hugging Face OAuth (a Space with hf_oauth: true), set by install_auth


def multi_user(store: Store) -> bool:
    """Users exist, or Hugging Face OAuth is configured (its users are recorded on first sign-in)."""
    return _OAUTH["on"] or users_configured(store)


def current_user(store: Store, request: Request) -> str | None:
    """The logged-in user, or None (no session; or single-user mode)."""
    return session_user(store, request.cookies.get(COOKIE))


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    # On a Space the app is shown in an iframe of huggingface.co (https behind a proxy): a Lax
    # cookie would not be sent there, so it is SameSite=None and Secure.
    secure = request.url.scheme == "https" or bool(os.environ.get("SPACE_HOST"))
    response.set_cookie(COOKIE, token, httponly=True, samesite="none" if secure else "lax", secure=secure,
                        max_age=14 * 24 * 3600, path="/")


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in · Labelport</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f7f9;display:flex;justify-content:center;
align-items:center;min-height:100vh;margin:0}}form{{background:#fff;padding:2rem 2.5rem;border-radius:10px;
box-shadow:0 2px 12px #0002;min-width:300px}}h1{{font-size:1.4rem;margin:0 0 1rem}}label{{display:block;
margin:.8rem 0 .2rem;font-size:.9rem}}input{{width:100%;padding:.5rem;box-sizing:border-box;border:1px solid #ccc;
border-radius:6px}}button{{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#f97316;
color:#fff;font-size:1rem;cursor:pointer}}.err{{color:#b91c1c;font-size:.9rem;margin-top:.6rem}}
.hf{{display:block;text-align:center;padding:.6rem;border-radius:6px;background:#111827;color:#fff;
text-decoration:none}}.or{{text-align:center;color:#6b7280;font-size:.85rem;margin:.8rem 0 0}}</style></head>
<body><form method="post" action="/login"><h1>Labelport</h1>{oauth}
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
autocomplete="current-password" required>
<button type="submit" id="login-submit">Log in</button>{error}</form></body></html>"""


_HF_BUTTON = ('<a class="hf" id="login-huggingface" href="/login/huggingface" target="_top">Sign in with Hugging Face'
              '</a><p class="or">or with a user name and password</p>')


def install_auth(app: FastAPI, store: Store) -> None:
    from auth_oauth import install_oauth, oauth_config

    oauth = oauth_config()
    _OAUTH["on"] = oauth is not None
    if oauth is not None:
        install_oauth(app, store, oauth)

    @app.get("/login", include_in_schema=False)
    def login_page(error: str | None = None):
        msg = '<p class="err" id="login-error">Wrong user name or password.</p>' if error else ""
        return HTMLResponse(_PAGE.format(error=msg, oauth=_HF_BUTTON if oauth is not None else ""))

    @app.post("/login", include_in_schema=False)
    def login_form(request: Request, username: str = Form(""), password: str = Form("")):
        user = verify_password(store, username, password)
        if user is None:
            log.warning("failed login for %r", html.escape(username[:64]))
            return RedirectResponse("/login?error=1", status_code=303)
        resp = RedirectResponse("/", status_code=303)
        set_session_cookie(resp, request, create_session(store, user.username))
        return resp

    @app.get("/logout", include_in_schema=False)
    @app.post("/logout", include_in_schema=False)
    def logout(request: Request):
        end_session(store, request.cookies.get(COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    app.add_middleware(SessionMiddleware, store=store)


class SessionMiddleware:
    """Every HTTP request passes here (a plain ASGI middleware: cheaper than a BaseHTTPMiddleware
    on the hot path of many labelers saving at once). Sets request.state.user."""

    def __init__(self, app, store: Store):
        self.app = app
        self.store = store

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        store = self.store
        path = scope["path"]
        state = scope.setdefault("state", {})
        state["user"] = None
        if path in OPEN_PATHS or not multi_user(store):
            return await self.app(scope, receive, send)
        request = Request(scope)
        user = current_user(store, request)
        if user:
            state["user"] = user
            m = _SAMPLE_FILE.match(path)
            if m and not can_see_sample(store, int(m.group(1)), user):  # no file of a job one is not in
                return await JSONResponse({"error": {"status": 404, "message": "sample not found"}},
                                          status_code=404)(scope, receive, send)
            return await self.app(scope, receive, send)
        if path.startswith("/api/"):
            response = JSONResponse({"error": {"status": 401, "message": "log in first (POST /api/v1/login)"}},
                                    status_code=401)
        elif request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            response = RedirectResponse("/login", status_code=303)
        else:
            response = JSONResponse({"error": {"status": 401, "message": "log in first"}}, status_code=401)
        await response(scope, receive, send)
