"""Hugging Face sign-in on a Space (F6.1, issue 14): the OpenID Connect authorization-code flow.

A Space whose README header has `hf_oauth: true` gets OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET,
OAUTH_SCOPES, OPENID_PROVIDER_URL and SPACE_HOST from Hugging Face. With the client id and the
provider URL set, auth.py installs two routes:

- GET /login/huggingface: a random `state` and `nonce`, kept in the browser only, in a signed
  (HMAC-SHA256), ten-minute, HTTP-only cookie (no server-side table a stranger could fill), then a
  redirect to the provider's /oauth/authorize with both;
- GET /login/huggingface/callback?code&state: the cookie's signature and age are checked and its
  state must be the one in the URL (so the sign-in is the one this browser started); the code is
  exchanged for a token at /oauth/token (client id and secret by HTTP Basic); an id_token in that
  answer must carry the same nonce; /oauth/userinfo says who it is.

Accounts are matched by the provider's `sub` (users.hf_sub), never by name: a password account or
another Hugging Face account of the same name is never taken over. The email is recorded (and so
links to team membership) only when userinfo says `email_verified`. LABELPORT_HF_ALLOW
(comma-separated user names and `org:NAME` entries) lists who gets an account at once; anyone
else is recorded as pending and waits for an admin's approval (no session until then). Disabled
or pending accounts never get a session.

Anything the provider refuses or answers wrongly ends on a page that says so, with a link back
to /login; never a 500. No dependency beyond httpx."""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from store import Store
from store.errors import Forbidden, StoreError
from store.users import create_session, ensure_oauth_user

log = logging.getLogger(__name__)
LOGIN_PATH = "/login/huggingface"
CALLBACK_PATH = "/login/huggingface/callback"
STATE_COOKIE = "labelport_oauth_state"
STATE_TTL = 600  # seconds between leaving for the provider and coming back
PROVIDER_TIMEOUT = 15.0
SECRET_META_KEY = "cookie_secret"
_secret_lock = threading.Lock()


@dataclass(frozen=True)
class OAuthConfig:
    client_id: str
    client_secret: str
    provider_url: str  # e.g. https://huggingface.co (no trailing slash)
    scopes: str = "openid profile"
    space_host: str | None = None
    allow_users: frozenset[str] = field(default_factory=frozenset)  # lower-case names (LABELPORT_HF_ALLOW)
    allow_orgs: frozenset[str] = field(default_factory=frozenset)  # lower-case org names (`org:NAME`)

    @property
    def authorize_url(self) -> str:
        return self.provider_url + "/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.provider_url + "/oauth/token"

    @property
    def userinfo_url(self) -> str:
        return self.provider_url + "/oauth/userinfo"

    def allows(self, username: str, orgs: list[str]) -> bool:
        return username.lower() in self.allow_users or any(o.lower() in self.allow_orgs for o in orgs)


def parse_allow_list(value: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """LABELPORT_HF_ALLOW: "alice, bob, org:my-lab" -> ({alice, bob}, {my-lab}), lower-case."""
    users, orgs = set(), set()
    for item in (value or "").split(","):
        item = item.strip()
        if item.lower().startswith("org:"):
            if item[4:].strip():
                orgs.add(item[4:].strip().lower())
        elif item:
            users.add(item.lower())
    return frozenset(users), frozenset(orgs)


def oauth_config(environ=None) -> OAuthConfig | None:
    """The Space's OAuth settings, or None when OAUTH_CLIENT_ID or OPENID_PROVIDER_URL is unset
    (or empty)."""
    env = os.environ if environ is None else environ
    client_id = (env.get("OAUTH_CLIENT_ID") or "").strip()
    provider = (env.get("OPENID_PROVIDER_URL") or "").strip().rstrip("/")
    if not client_id or not provider:
        return None
    users, orgs = parse_allow_list(env.get("LABELPORT_HF_ALLOW"))
    return OAuthConfig(client_id=client_id, client_secret=env.get("OAUTH_CLIENT_SECRET") or "",
                       provider_url=provider,
                       scopes=" ".join((env.get("OAUTH_SCOPES") or "openid profile").split()),
                       space_host=(env.get("SPACE_HOST") or "").strip() or None,
                       allow_users=users, allow_orgs=orgs)


# -- the signed state cookie ---------------------------------------------------------------------------
def signing_secret(store: Store) -> bytes:
    """The app's cookie-signing key: random, made on first need and kept in the store's meta table
    (so it survives restarts, and the mirror keeps it on a Space)."""
    cached = store.db.__dict__.get("_cookie_secret")
    if cached:
        return cached
    with _secret_lock:
        value = store.db.get_meta(SECRET_META_KEY)
        if not value:
            value = secrets.token_hex(32)
            store.db.set_meta(SECRET_META_KEY, value)
        key = bytes.fromhex(value)
        store.db.__dict__["_cookie_secret"] = key
        return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, payload: dict) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return body + "." + _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def unsign(key: bytes, value: str | None, now: float | None = None) -> dict | None:
    """The payload of a value made by ``sign``; None when forged, malformed or past its "exp"."""
    if not value or len(value) > 4000 or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), (int, float)):
        return None
    if payload["exp"] < (time.time() if now is None else now):
        return None
    return payload


# -- pages -----------------------------------------------------------------------------------------------
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


def redirect_uri_for(config: OAuthConfig, request: Request, public_url: str | None = None) -> str:
    if config.space_host:
        return f"https://{config.space_host}{CALLBACK_PATH}"
    if public_url:
        return public_url.rstrip("/") + CALLBACK_PATH
    return str(request.base_url).rstrip("/") + CALLBACK_PATH


# -- the provider ------------------------------------------------------------------------------------------
class ProviderError(Exception):
    """The provider refused or answered something unusable; the message is safe to show."""


@dataclass(frozen=True)
class Identity:
    sub: str
    username: str
    email: str | None
    email_verified: bool
    orgs: list[str]


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


def id_token_claims(id_token: str) -> dict:
    """The payload of a JWT, undecoded otherwise. Its signature is not checked: the token came
    straight from the provider's token endpoint over TLS, authenticated with the client secret
    (OpenID Connect Core 3.1.3.7: TLS validation may stand in for the signature there). What it
    is used for is the nonce, which ties the answer to this browser's sign-in."""
    parts = id_token.split(".") if isinstance(id_token, str) else []
    if len(parts) != 3:
        raise ProviderError("Hugging Face sent an id_token that is not a JWT.")
    try:
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        raise ProviderError("Hugging Face sent an id_token that cannot be read.") from None
    if not isinstance(claims, dict):
        raise ProviderError("Hugging Face sent an id_token that cannot be read.")
    return claims


def org_names(claim) -> list[str]:
    """The userinfo `orgs` claim: a list of objects (`preferred_username`, `name`) or of strings."""
    names: list[str] = []
    for item in claim if isinstance(claim, list) else []:
        if isinstance(item, str) and item.strip():
            names.append(item.strip())
        elif isinstance(item, dict):
            names.extend(v.strip() for v in (item.get("preferred_username"), item.get("name"))
                         if isinstance(v, str) and v.strip())
    return names


def fetch_identity(config: OAuthConfig, code: str, redirect_uri: str, nonce: str) -> Identity:
    """Who signed in, for an authorization code: the token (with its id_token's nonce checked),
    then the userinfo."""
    try:
        with httpx.Client(timeout=PROVIDER_TIMEOUT) as client:
            token = _provider_json(client.post(
                config.token_url, auth=(config.client_id, config.client_secret),
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                headers={"Accept": "application/json"}), "sign-in code")
            access = token.get("access_token")
            if not isinstance(access, str) or not access:
                raise ProviderError("Hugging Face gave no access token.")
            id_sub = None
            if token.get("id_token") is not None:
                claims = id_token_claims(token["id_token"])
                if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
                    raise ProviderError("The answer from Hugging Face does not belong to this sign-in (nonce).")
                id_sub = claims.get("sub")
            info = _provider_json(client.get(config.userinfo_url, headers={
                "Authorization": f"Bearer {access}", "Accept": "application/json"}), "user information request")
    except httpx.HTTPError as e:
        log.warning("Hugging Face sign-in: the provider could not be reached: %s", type(e).__name__)
        raise ProviderError("Hugging Face could not be reached; try again in a moment.") from None
    sub = info.get("sub")
    sub = str(sub).strip() if isinstance(sub, (str, int)) and not isinstance(sub, bool) else ""
    if not sub:
        raise ProviderError("Hugging Face did not say which account this is (no sub).")
    if id_sub is not None and str(id_sub) != sub:
        raise ProviderError("Hugging Face named two different accounts in one sign-in.")
    username = next((v.strip() for v in (info.get("preferred_username"), info.get("name"))
                     if isinstance(v, str) and v.strip()), None)
    if not username:
        raise ProviderError("Hugging Face did not say who you are (no user name).")
    email = info.get("email") if isinstance(info.get("email"), str) and info.get("email") else None
    verified = info.get("email_verified") is True or str(info.get("email_verified")).lower() == "true"
    return Identity(sub=sub, username=username, email=email, email_verified=verified,
                    orgs=org_names(info.get("orgs")))


# -- the routes ------------------------------------------------------------------------------------------
def install_oauth(app: FastAPI, store: Store, config: OAuthConfig) -> None:
    """The two routes (before Gradio is mounted, so they win). auth.py makes them open paths."""
    from auth import cookie_flags, public_url, safe_next, set_session_cookie

    @app.get(LOGIN_PATH, include_in_schema=False)
    def hf_login(request: Request, next: str | None = None):  # noqa: A002 - a deep link to return to
        redirect_uri = redirect_uri_for(config, request, public_url(store))
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        query = urlencode({"client_id": config.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": config.scopes, "state": state, "nonce": nonce})
        resp = RedirectResponse(f"{config.authorize_url}?{query}", status_code=302)
        cookie = sign(signing_secret(store), {"state": state, "nonce": nonce, "redirect_uri": redirect_uri,
                                              "next": safe_next(next), "exp": int(time.time()) + STATE_TTL})
        # on a Space the app may sit in huggingface.co's iframe: there only SameSite=None cookies travel
        flags = cookie_flags(request)
        if redirect_uri.startswith("https://"):
            flags["secure"] = True
        resp.set_cookie(STATE_COOKIE, cookie, max_age=STATE_TTL, path=LOGIN_PATH, httponly=True, **flags)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get(CALLBACK_PATH, include_in_schema=False)
    def hf_callback(request: Request, code: str | None = None, state: str | None = None,
                    error: str | None = None, error_description: str | None = None):
        resp = _callback(request, code, state, error, error_description)
        resp.delete_cookie(STATE_COOKIE, path=LOGIN_PATH, httponly=True, **cookie_flags(request))
        return resp

    def _callback(request: Request, code, state, error, error_description):
        raw = request.cookies.get(STATE_COOKIE)
        started = unsign(signing_secret(store), raw)
        if not raw:
            return error_page("Sign-in refused", "This sign-in link is not the one this browser started "
                              "(or it was already used). Start again from the log-in page.", 400)
        if started is None:
            return error_page("Sign-in expired", "This sign-in took too long or its cookie was changed. "
                              "Start again from the log-in page.", 400)
        if (not state or len(state) > 200 or not isinstance(started.get("state"), str)
                or not secrets.compare_digest(state, started["state"])):
            return error_page("Sign-in refused", "This sign-in link is not the one this browser started "
                              "(or it came without its state). Start again from the log-in page.", 400)
        if error:
            return error_page("Sign-in cancelled", f"Hugging Face did not sign you in: "
                              f"{(error_description or error)[:200]}.", 400)
        if not code or len(code) > 2000:
            return error_page("Sign-in refused", "Hugging Face sent no sign-in code. Start again.", 400)
        try:
            who = fetch_identity(config, code, str(started.get("redirect_uri") or ""), str(started.get("nonce") or ""))
        except ProviderError as e:
            log.warning("Hugging Face sign-in failed: %s", e)
            return error_page("Sign-in failed", str(e), 502)
        allowed = config.allows(who.username, who.orgs)
        try:
            user = ensure_oauth_user(store, who.sub, who.username, who.email, who.email_verified, allowed)
        except StoreError as e:
            log.warning("Hugging Face sign-in of %r (sub %s) refused: %s", who.username[:64], who.sub[:64], e)
            return error_page("Sign-in refused", f"{str(e)[:1].upper()}{str(e)[1:300]}. Ask an admin of this "
                              "server, or log in with your user name and password.", 403)
        if user.disabled:
            return error_page("Account disabled", f"The account {user.username} is disabled on this server. "
                              "Ask an admin of this server.", 403)
        if user.pending:
            log.info("Hugging Face sign-in of %s: waiting for an admin's approval", user.username)
            return error_page("Waiting for approval", f"You signed in as {user.username}. Your account is "
                              "waiting for an admin's approval; come back once an admin has approved it.", 403)
        try:
            token = create_session(store, user.username)
        except Forbidden as e:
            return error_page("Sign-in refused", str(e), 403)
        resp = RedirectResponse(safe_next(str(started.get("next") or "/")), status_code=303)
        set_session_cookie(resp, request, token)
        log.info("Hugging Face sign-in of %s", user.username)
        return resp
