"""Hugging Face sign-in on a Space (F6.1): the OpenID Connect authorization-code flow.

A Space whose README header has `hf_oauth: true` gets OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET,
OAUTH_SCOPES, OPENID_PROVIDER_URL and SPACE_HOST from Hugging Face. With the client id and the provider URL set, auth.py installs two
routes:

- GET /login/huggingface: a random `state` (kept here, in memory, for ten minutes, and in an
  HTTP-only cookie of the browser that started), then a redirect to the provider's
  /oauth/authorize;
- GET /login/huggingface/callback?code&state: the state must be the one this browser started
  with; the code is exchanged for a token at /oauth/token (client id and secret by HTTP Basic),
  /oauth/userinfo names the user (`preferred_username`, else `name`, else `sub`), who is recorded
  on first sight (source "huggingface", no password) and gets the usual session cookie.

Anything the provider refuses or answers wrongly ends on a page that says so, with a link back
to /login; never a 500. No dependency beyond httpx."""
from __future__ import annotations

import html
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from store import Store
from store.errors import StoreError
from store.users import create_session, ensure_oauth_user

log = logging.getLogger(__name__)
LOGIN_PATH = "/login/huggingface"
CALLBACK_PATH = "/login/huggingface/callback"
STATE_COOKIE = "labelport_oauth_state"
STATE_TTL = 600.0  # seconds between leaving for the provider and coming back
MAX_PENDING = 2000  # pending states kept at most (the oldest go first)
PROVIDER_TIMEOUT = 15.0


@dataclass(frozen=True)
class OAuthConfig:
    client_id: str
    client_secret: str
    provider_url: str  # e.g. https://huggingface.co (no trailing slash)
    scopes: str = "openid profile"
    space_host: str | None = None

    @property
    def authorize_url(self) -> str:
        return self.provider_url + "/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.provider_url + "/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return self.provider_url + "/oauth/userinfo"


def oauth_config(environ=None) -> OAuthConfig | None:
    """The Space's OAuth settings, or None when OAUTH_CLIENT_ID or OPENID_PROVIDER_URL is unset
    (or empty)."""
    env = os.environ if environ is None else environ
    client_id = (env.get("OAUTH_CLIENT_ID") or "").strip()
    provider = (env.get("OPENID_PROVIDER_URL") or "").strip().rstrip("/")
    if not client_id or not provider:
        return None
    return OAuthConfig(client_id=client_id, client_secret=env.get("OAUTH_CLIENT_SECRET") or "",
                       provider_url=provider,
                       scopes=" ".join((env.get("OAUTH_SCOPES") or "openid profile").split()),
                       space_host=(env.get("SPACE_HOST") or "").strip() or None)


class PendingStates:
    """States handed out by /login/huggingface, each good once and for STATE_TTL seconds."""

    def __init__(self, ttl: float = STATE_TTL, limit: int = MAX_PENDING):
        self.ttl, self.limit = ttl, limit
        self._items: dict[str, tuple[float, str]] = {}  # state -> (expires at, redirect_uri)
        self._lock = threading.Lock()

    def new(self, redirect_uri: str) -> str:
        state = secrets.token_urlsafe(32)
        t = time.monotonic()
        with self._lock:
            for key in [k for k, (exp, _) in self._items.items() if exp < t]:
                del self._items[key]
            while len(self._items) >= self.limit:  # dicts keep insertion order: the oldest first
                del self._items[next(iter(self._items))]
            self._items[state] = (t + self.ttl, redirect_uri)
        return state

    def take(self, state: str) -> str | None:
        """The redirect_uri the state was made for; None if unknown, used or expired."""
        with self._lock:
            item = self._items.pop(state, None)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · Labelport</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f6f7f9;display:flex;justify-content:center;
align-items:center;min-height:100vh;margin:0}}main{{background:#fff;padding:2rem 2.5rem;border-radius:10px;
box-shadow:0 2px 12px #0002;max-width:440px}}h1{{font-size:1.3rem;margin:0 0 1rem}}a{{color:#c2410c}}</style>
</head><body><main><h1>{title}</h1><p id="oauth-error">{message}</p>
<p><a href="/login" id="oauth-back">Back to log in</a></p></main></body></html>"""


def error_page(title: str, message: str, status: int) -> HTMLResponse:
    resp = HTMLResponse(_PAGE.format(title=html.escape(title), message=html.escape(message)), status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def redirect_uri_for(config: OAuthConfig, request: Request) -> str:
    if config.space_host:
        return f"https://{config.space_host}{CALLBACK_PATH}"
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


class ProviderError(Exception):
    """The provider refused or answered something unusable; the message is safe to show."""


def _provider_json(response: httpx.Response, what: str) -> dict:
    if response.status_code != 200:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")[:200]
        except ValueError:
            pass
        raise ProviderError(f"Hugging Face refused the {what} (HTTP {response.status_code}"
                            + (f": {detail}" if detail else "") + ").")
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"Hugging Face answered the {what} with something that is not JSON.") from None
    if not isinstance(body, dict):
        raise ProviderError(f"Hugging Face answered the {what} with an unexpected document.")
    return body


def fetch_identity(config: OAuthConfig, code: str, redirect_uri: str) -> tuple[str, str | None]:
    """(username, email) for an authorization code: the token, then the userinfo."""
    try:
        with httpx.Client(timeout=PROVIDER_TIMEOUT) as client:
            token = _provider_json(client.post(
                config.token_url, auth=(config.client_id, config.client_secret),
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                headers={"Accept": "application/json"}), "sign-in code")
            access = token.get("access_token")
            if not isinstance(access, str) or not access:
                raise ProviderError("Hugging Face gave no access token.")
            info = _provider_json(client.get(config.userinfo_url, headers={
                "Authorization": f"Bearer {access}", "Accept": "application/json"}), "user information request")
    except httpx.HTTPError as e:
        log.warning("Hugging Face sign-in: the provider could not be reached: %s", type(e).__name__)
        raise ProviderError("Hugging Face could not be reached; try again in a moment.") from None
    username = next((v.strip() for v in (info.get("preferred_username"), info.get("name"), info.get("sub"))
                     if isinstance(v, str) and v.strip()), None)
    if not username:
        raise ProviderError("Hugging Face did not say who you are (no user name).")
    email = info.get("email") if isinstance(info.get("email"), str) and info.get("email") else None
    return username, email


def install_oauth(app: FastAPI, store: Store, config: OAuthConfig) -> None:
    """The two routes (before Gradio is mounted, so they win). auth.py makes them open paths."""
    pending = PendingStates()

    @app.get(LOGIN_PATH, include_in_schema=False)
    def hf_login(request: Request):
        redirect_uri = redirect_uri_for(config, request)
        state = pending.new(redirect_uri)
        query = urlencode({"client_id": config.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": config.scopes, "state": state})
        resp = RedirectResponse(f"{config.authorize_url}?{query}", status_code=302)
        https = redirect_uri.startswith("https://")
        # On a Space the app may sit in huggingface.co's iframe: there only SameSite=None cookies travel
        resp.set_cookie(STATE_COOKIE, state, max_age=int(STATE_TTL), path=LOGIN_PATH, httponly=True,
                        secure=https, samesite="none" if https else "lax")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get(CALLBACK_PATH, include_in_schema=False)
    def hf_callback(request: Request, code: str | None = None, state: str | None = None,
                    error: str | None = None, error_description: str | None = None):
        resp = _callback(request, code, state, error, error_description)
        resp.delete_cookie(STATE_COOKIE, path=LOGIN_PATH)
        return resp

    def _callback(request: Request, code, state, error, error_description):
        cookie_state = request.cookies.get(STATE_COOKIE)
        if not state or len(state) > 200 or not cookie_state or not secrets.compare_digest(state, cookie_state):
            return error_page("Sign-in refused", "This sign-in link is not the one this browser started "
                              "(or it came without its state). Start again from the log-in page.", 400)
        redirect_uri = pending.take(state)
        if redirect_uri is None:
            return error_page("Sign-in expired", "This sign-in was already used or took too long. "
                              "Start again from the log-in page.", 400)
        if error:
            return error_page("Sign-in cancelled", f"Hugging Face did not sign you in: "
                              f"{(error_description or error)[:200]}.", 400)
        if not code or len(code) > 2000:
            return error_page("Sign-in refused", "Hugging Face sent no sign-in code. Start again.", 400)
        try:
            username, email = fetch_identity(config, code, redirect_uri)
        except ProviderError as e:
            log.warning("Hugging Face sign-in failed: %s", e)
            return error_page("Sign-in failed", str(e), 502)
        try:
            user = ensure_oauth_user(store, username, email)
        except StoreError as e:
            log.warning("Hugging Face sign-in of %r refused: %s", username[:64], e)
            return error_page("Sign-in refused", f"The user {username[:64]} cannot be recorded: {e}", 403)
        if user.source != "huggingface":  # a local or users-file account of the same name is not theirs
            log.warning("Hugging Face sign-in of %r refused: a %s user has that name", username[:64], user.source)
            return error_page("Sign-in refused", f"A user named {username[:64]} exists already on this server "
                              "and logs in with a password.", 403)
        from auth import set_session_cookie

        resp = RedirectResponse("/", status_code=303)
        set_session_cookie(resp, request, create_session(store, user.username))
        log.info("Hugging Face sign-in of %s", user.username)
        return resp
