"""Log in, sessions and cross-site protection for the web app and the REST API (F6.1, issue 14).

With no configured user the app is single-user: everything is open on the machine it runs on
and actions are recorded as the local user (the header says so). Once users exist (a users file,
`python app.py add-user`), every page, media file and API call needs a session: a random token
in an HTTP-only cookie set by the login form (/login) or by POST /api/v1/login. The Gradio UI gets
the user from the same cookie (gradio's `auth_dependency`), so `request.username` is the user in
every page handler. On a Hugging Face Space with OAuth (OAUTH_CLIENT_ID, OPENID_PROVIDER_URL set)
auth_oauth.py adds "Sign in with Hugging Face", and the app is multi-user from the start.

Hardening, all enforced here on the server:
- password log-ins are throttled per account and per client address, with exponential backoff
  (429 + Retry-After), and at most a few Argon2 checks run at once (store/throttle.py);
- a disabled or pending account never gets a session (store/users.py create_session/session_user);
- the session cookie is HTTP-only, SameSite=Lax (SameSite=None; Secure on a Space, which shows the
  app in an iframe of huggingface.co), Secure on HTTPS;
- every state-changing request (POST, PUT, PATCH, DELETE; log-in included) whose Origin (or,
  without one, Referer) is another site's is refused (403); scripts that send neither pass;
- log-out is a POST; every response says who may frame it (X-Frame-Options / CSP frame-ancestors),
  Referrer-Policy: same-origin, and HSTS on HTTPS."""
from __future__ import annotations

import html
import logging
import os
import re
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders

from local_admin import bearer_actor
from store import Store
from store.errors import Forbidden
from store.throttle import LoginGuard, LoginRefused
from store.users import create_session, end_session, session_user, users_configured, verify_password

log = logging.getLogger(__name__)
COOKIE = "labelport_session"
OPEN_PATHS = ("/login", "/logout", "/healthz", "/api/v1/login", "/favicon.ico",
              "/login/huggingface", "/login/huggingface/callback")  # 404 unless OAuth is configured
OPEN_PREFIXES = ("/invite/",)  # one-time invitation links (invite.py): the token is the proof
_OAUTH = {"on": False}  # Hugging Face OAuth (a Space with hf_oauth: true), set by install_auth
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_USERNAME, MAX_PASSWORD = 256, 1024
HF_FRAME_ANCESTORS = "https://huggingface.co https://*.huggingface.co"
HSTS = "max-age=31536000"
LOGIN_GUARD = LoginGuard()  # one per process: the app is one process (DuckDB's single writer)


def multi_user(store: Store) -> bool:
    """Users exist, or Hugging Face OAuth is configured (its users are recorded on first sign-in)."""
    return _OAUTH["on"] or users_configured(store)


def on_space() -> bool:
    """Running on a Hugging Face Space (shown in an iframe of huggingface.co, HTTPS at its proxy)."""
    return bool((os.environ.get("SPACE_HOST") or "").strip())


def current_user(store: Store, request: Request) -> str | None:
    """The logged-in user, or None (no session; or single-user mode)."""
    return session_user(store, request.cookies.get(COOKIE))


def _forwarded_proto(headers) -> str:
    return (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()


def is_https(request: Request) -> bool:
    """HTTPS as the browser sees it: the request's scheme, or X-Forwarded-Proto from a proxy that
    ends TLS. (A client that lies here only changes the cookie flags and headers of its own
    answers.)"""
    return request.url.scheme == "https" or _forwarded_proto(request.headers) == "https"


def cookie_flags(request: Request) -> dict:
    """SameSite=Lax everywhere but on a Space: there the app runs in huggingface.co's iframe, where
    only SameSite=None cookies travel (and those must be Secure). Secure whenever on HTTPS."""
    if on_space():
        return {"samesite": "none", "secure": True}
    return {"samesite": "lax", "secure": is_https(request)}


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, max_age=14 * 24 * 3600, path="/", **cookie_flags(request))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, **cookie_flags(request))


def client_address(request: Request) -> str:
    """Who is asking, for the per-client throttle. Behind uvicorn's trusted proxies
    (FORWARDED_ALLOW_IPS) the client is already the forwarded one. On a Space every request comes
    from Hugging Face's proxy, which appends the address it saw to X-Forwarded-For: the entry
    LABELPORT_PROXY_HOPS (default 1) from the right (entries further left are the client's own
    say and could be forged)."""
    peer = request.client.host if request.client else "unknown"
    if not on_space():
        return peer
    try:
        hops = max(1, int(os.environ.get("LABELPORT_PROXY_HOPS") or 1))
    except ValueError:
        hops = 1
    chain = [p.strip() for p in (request.headers.get("x-forwarded-for") or "").split(",") if p.strip()]
    return chain[-hops][:64] if len(chain) >= hops else peer


class LoginFailed(Exception):
    """A refused log-in: the status (401 wrong, 403 account blocked, 429 throttled, 503 busy), a
    message for the person, and headers (Retry-After)."""

    def __init__(self, message: str, status: int, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


WRONG = "wrong user name or password"  # the same answer for an unknown user


def password_login(store: Store, request: Request, username: str, password: str) -> tuple[str, str]:
    """Check a user name and password, throttled; (user name, new session token) or LoginFailed.
    Unknown users cost the same Argon2 check as known ones (store/users.py verify_password)."""
    username, password = username or "", password or ""
    client = client_address(request)
    try:
        ticket = LOGIN_GUARD.enter(username, client)
    except LoginRefused as e:
        log.warning("log-in refused (%s) for %r from %s", e.status, username[:64], client)
        raise LoginFailed(str(e), e.status, {"Retry-After": str(e.retry_after)}) from None
    user = None
    try:
        if len(username) <= MAX_USERNAME and len(password) <= MAX_PASSWORD:
            user = verify_password(store, username, password)
    finally:
        LOGIN_GUARD.leave(ticket, ok=user is not None)
    if user is None:
        log.warning("failed login for %r from %s", username[:64], client)
        raise LoginFailed(WRONG, 401)
    try:
        return user.username, create_session(store, user.username)
    except Forbidden as e:  # disabled, or waiting for approval: the password was right, still no session
        raise LoginFailed(f"{str(e)[:1].upper()}{str(e)[1:]}.", 403) from None


# -- pages -------------------------------------------------------------------------------------------
_STYLE = """<style>body{{font-family:system-ui,sans-serif;background:#f6f7f9;display:flex;justify-content:center;
align-items:center;min-height:100vh;margin:0}}form{{background:#fff;padding:2rem 2.5rem;border-radius:10px;
box-shadow:0 2px 12px #0002;min-width:300px}}h1{{font-size:1.4rem;margin:0 0 1rem}}label{{display:block;
margin:.8rem 0 .2rem;font-size:.9rem}}input{{width:100%;padding:.5rem;box-sizing:border-box;border:1px solid #ccc;
border-radius:6px}}button{{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#f97316;
color:#fff;font-size:1rem;cursor:pointer}}.err{{color:#b91c1c;font-size:.9rem;margin-top:.6rem}}
.hf{{display:block;text-align:center;padding:.6rem;border-radius:6px;background:#111827;color:#fff;
text-decoration:none}}.or{{text-align:center;color:#6b7280;font-size:.85rem;margin:.8rem 0 0}}</style>"""

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in · Labelport</title>
<meta name="viewport" content="width=device-width, initial-scale=1">""" + _STYLE + """</head>
<body><form method="post" action="/login"><h1>Labelport</h1>{oauth}
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password"
autocomplete="current-password" required>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">Log in</button>{error}</form></body></html>"""

_LOGOUT_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log out · Labelport</title>
<meta name="viewport" content="width=device-width, initial-scale=1">""" + _STYLE + """</head>
<body><form method="post" action="/logout"><h1>Log out of Labelport?</h1>
<button type="submit" id="logout-confirm">Log out</button></form></body></html>"""

_HF_BUTTON = ('<a class="hf" id="login-huggingface" href="/login/huggingface{query}" target="_top">Sign in with Hugging Face'
              '</a><p class="or">or with a user name and password</p>')


# where a log-in may return to: the app's own page with a deep link's query (pages/links.py), nothing
# else (no other path, host or scheme: not an open redirect)
_NEXT = re.compile(r"/(\?[A-Za-z0-9_=&%.\-]{0,300})?")


def safe_next(value: str | None) -> str:
    """The page to return to after logging in: `value` when it is the app's page with a link's
    query, else the app's page."""
    return value if value and _NEXT.fullmatch(value) else "/"


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install_auth(app: FastAPI, store: Store) -> None:
    from auth_oauth import install_oauth, oauth_config

    oauth = oauth_config()
    _OAUTH["on"] = oauth is not None
    if oauth is not None:
        install_oauth(app, store, oauth)

    def login_page(message: str = "", status: int = 200, headers: dict | None = None, next_page: str = "/"
                   ) -> HTMLResponse:
        error = f'<p class="err" id="login-error">{html.escape(message)}</p>' if message else ""
        back = safe_next(next_page)
        hf = _HF_BUTTON.format(query=html.escape("?" + urlencode({"next": back}), quote=True) if back != "/" else "")
        page = _PAGE.format(error=error, oauth=hf if oauth is not None else "",
                            next=html.escape(safe_next(next_page), quote=True))
        return _no_store(HTMLResponse(page, status_code=status, headers=headers))

    @app.get("/login", include_in_schema=False)
    def login_get(error: str | None = None, next: str | None = None):  # noqa: A002 - the query's name
        return login_page("Wrong user name or password." if error else "", next_page=safe_next(next))

    @app.post("/login", include_in_schema=False)
    def login_form(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/")):  # noqa: A002
        back = safe_next(next)
        try:
            _, token = password_login(store, request, username, password)
        except LoginFailed as e:
            if e.status == 401:  # the classic: back to the form, which says so
                return RedirectResponse("/login?" + urlencode({"error": 1, **({"next": back} if back != "/" else {})}),
                                        status_code=303)
            return login_page(str(e), e.status, e.headers, next_page=back)
        resp = RedirectResponse(back, status_code=303)
        set_session_cookie(resp, request, token)
        return resp

    @app.get("/logout", include_in_schema=False)
    def logout_page():
        """Log-out changes state, so it is a POST (a link or an image elsewhere cannot log anyone
        out); a GET gets the button."""
        return _no_store(HTMLResponse(_LOGOUT_PAGE))

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request):
        end_session(store, request.cookies.get(COOKIE))
        resp = RedirectResponse("/login", status_code=303)
        clear_session_cookie(resp, request)
        return resp

    app.add_middleware(SessionMiddleware, store=store)
    app.add_middleware(SecurityHeadersMiddleware)  # added last: the outermost, so every answer has them


# -- cross-site checks ---------------------------------------------------------------------------------
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin value; None when it has none (e.g. "null")."""
    try:
        u = urlsplit(url.strip())
        scheme, host, port = u.scheme.lower(), (u.hostname or "").lower(), u.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def public_url(store: Store) -> str | None:
    """LABELPORT_PUBLIC_URL (or https://SPACE_HOST) when configured; None for the built-in default."""
    from store.settings import Settings

    url = getattr(getattr(store, "settings", None), "public_url", None)
    return url if url and url != Settings.__dataclass_fields__["public_url"].default else None


def own_origins(store: Store, request: Request) -> set[tuple[str, str, int]]:
    """This app's origins: the Host the request came to (by its scheme, or the proxy's
    X-Forwarded-Proto), LABELPORT_PUBLIC_URL, and https://SPACE_HOST on a Space."""
    out: set[tuple[str, str, int]] = set()
    host = request.headers.get("host")
    if host:
        for scheme in {request.url.scheme, _forwarded_proto(request.headers)} & set(_DEFAULT_PORTS):
            o = _origin_of(f"{scheme}://{host}")
            if o:
                out.add(o)
    public = public_url(store)
    space = (os.environ.get("SPACE_HOST") or "").strip()
    for url in (public, f"https://{space}" if space else None):
        o = _origin_of(url) if url else None
        if o:
            out.add(o)
    return out


def cross_site_refusal(store: Store, request: Request) -> str | None:
    """Why a state-changing request is refused as cross-site, or None. A browser names the page
    that sent it (Origin; else Referer); it must be this app's. Neither header: not a browser's
    form or script from another site (gradio_client, curl, the CLI), allowed."""
    origin = request.headers.get("origin")
    referer = request.headers.get("referer") if origin is None else None
    if origin is None and not referer:
        return None
    sent = origin if origin is not None else referer
    o = _origin_of(sent)
    if o is not None and o in own_origins(store, request):
        return None
    what = "Origin" if origin is not None else "Referer"
    return (f"cross-site request refused: its {what} ({sent[:100]}) is not this site. "
            "Use the app's own pages, or send the request without a browser.")


class SessionMiddleware:
    """Every HTTP request passes here (a plain ASGI middleware: cheaper than a BaseHTTPMiddleware
    on the hot path of many labelers saving at once). Refuses cross-site state changes, then sets
    request.state.user."""

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
        if scope.get("method", "GET").upper() in UNSAFE_METHODS:  # login CSRF too: before the open paths
            refusal = cross_site_refusal(store, Request(scope))
            if refusal:
                log.warning("%s %s: %s", scope.get("method"), path[:200], refusal)
                return await JSONResponse({"error": {"status": 403, "message": refusal}},
                                          status_code=403)(scope, receive, send)
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES) or not multi_user(store):
            return await self.app(scope, receive, send)
        request = Request(scope)
        # the CLI while the app runs: the app's local admin token (local_admin.py) is the system actor "cli"
        user = current_user(store, request) or bearer_actor(request.headers.get("authorization"))
        if user:
            state["user"] = user  # who may read which file: the routes ask store/access.py
            return await self.app(scope, receive, send)
        if path.startswith("/api/"):
            response = JSONResponse({"error": {"status": 401, "message": "log in first (POST /api/v1/login)"}},
                                    status_code=401)
        elif request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            back = safe_next(path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""))
            response = RedirectResponse("/login" + (f"?{urlencode({'next': back})}" if back != "/" else ""),
                                        status_code=303)
        else:
            response = JSONResponse({"error": {"status": 401, "message": "log in first"}}, status_code=401)
        await response(scope, receive, send)


def frame_ancestors() -> str:
    return f"frame-ancestors {HF_FRAME_ANCESTORS}" if on_space() else "frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """Headers on every answer: who may frame the app (nobody; huggingface.co on a Space), HSTS on
    HTTPS, Referrer-Policy: same-origin. A route's own Content-Security-Policy (the media routes'
    "sandbox") is kept, with frame-ancestors appended."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        space = on_space()
        https = scope.get("scheme") == "https" or any(
            k == b"x-forwarded-proto" and v.split(b",")[0].strip().lower() == b"https"
            for k, v in scope.get("headers", ()))
        ancestors = frame_ancestors()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                csp = headers.get("content-security-policy")
                if csp is None:
                    headers["Content-Security-Policy"] = ancestors
                elif "frame-ancestors" not in csp.lower():
                    headers["Content-Security-Policy"] = f"{csp.rstrip().rstrip(';')}; {ancestors}"
                if space:
                    if "x-frame-options" in headers:
                        del headers["x-frame-options"]
                elif "x-frame-options" not in headers:
                    headers["X-Frame-Options"] = "DENY"
                if https and "strict-transport-security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
                if "referrer-policy" not in headers:
                    headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)
