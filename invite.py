"""One-time invitation links (F6.4): GET /invite/{token} shows a small form to choose a password;
POST sets it (store.users.accept_invitation), logs the user in and goes to the app. An unknown,
used or expired link gets a page that says so (400). Both paths are open (auth.py's middleware
lets /invite/... through): the token is the proof."""
from __future__ import annotations

import html
import logging

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from store import Store, StoreError
from store.settings import Settings
from store.users import INVALID_INVITATION, MIN_PASSWORD, accept_invitation, invitation_user, invitation_url

log = logging.getLogger(__name__)
INVITE_PREFIX = "/invite/"

_FALLBACK_STYLE = """<style>body{font-family:system-ui,sans-serif;background:#f6f7f9;display:flex;
justify-content:center;align-items:center;min-height:100vh;margin:0}form,.box{background:#fff;padding:2rem 2.5rem;
border-radius:10px;box-shadow:0 2px 12px #0002;min-width:300px}h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;
margin:.8rem 0 .2rem;font-size:.9rem}input{width:100%;padding:.5rem;box-sizing:border-box;border:1px solid #ccc;
border-radius:6px}button{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:6px;background:#f97316;
color:#fff;font-size:1rem;cursor:pointer}.err{color:#b91c1c;font-size:.9rem;margin-top:.6rem}</style>"""


def _style() -> str:
    """The login page's look (auth.py), so both pages match; a copy of it if that page changed."""
    try:
        from auth import _PAGE

        start, end = _PAGE.index("<style>"), _PAGE.index("</style>") + len("</style>")
        style = _PAGE[start:end].replace("{{", "{").replace("}}", "}")
        return style.replace("</style>", ".box{background:#fff;padding:2rem 2.5rem;border-radius:10px;"
                                         "box-shadow:0 2px 12px #0002;max-width:380px}</style>")
    except (ImportError, ValueError):
        return _FALLBACK_STYLE


_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · Labelport</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
{style}</head><body>"""

_FORM = """<form method="post" action="/invite/{token}" id="invite-form"><h1>Welcome to Labelport</h1>
<p>Choose a password for <b id="invite-user">{username}</b> (at least {min} characters).</p>
<label for="password">Password</label><input id="password" name="password" type="password"
autocomplete="new-password" minlength="{min}" required autofocus>
<label for="password2">Password again</label><input id="password2" name="password2" type="password"
autocomplete="new-password" minlength="{min}" required>
<button type="submit" id="invite-submit">Set password and log in</button>{error}</form></body></html>"""

_INVALID = """<div class="box" id="invite-invalid"><h1>Invitation link not valid</h1><p>{message}</p>
<p><a href="/login">Log in</a></p></div></body></html>"""

_DONE = """<div class="box" id="invite-done"><h1>Password set</h1><p>Your password is set, but you cannot log in
yet: {message}</p><p><a href="/login">Log in</a></p></div></body></html>"""

# the token travels in the URL: keep it out of caches and of other sites' Referer headers
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_HEAD.format(title=html.escape(title), style=_style()) + body, status_code=status,
                        headers=_HEADERS)


def _invalid(message: str = INVALID_INVITATION) -> HTMLResponse:
    return _page("Invitation", _INVALID.format(message=html.escape(message)), 400)


def _form(token: str, username: str, error: str = "", status: int = 200) -> HTMLResponse:
    err = f'<p class="err" id="invite-error">{html.escape(error)}</p>' if error else ""
    return _page("Choose a password", _FORM.format(token=html.escape(token), username=html.escape(username),
                                                   min=MIN_PASSWORD, error=err), status)


def _same_site(store: Store, request: Request) -> bool:
    """The password form is posted from this app's own page (no login CSRF into someone else's
    invitation): an Origin header, when sent, names this host or the configured public URL."""
    from urllib.parse import urlsplit

    origin = request.headers.get("origin")
    if not origin:
        return True
    netloc = urlsplit(origin).netloc.lower()
    return bool(netloc) and netloc in {(request.headers.get("host") or "").lower(),
                                       urlsplit(store.settings.public_url).netloc.lower()}


def public_base(store: Store, request_base: str | None) -> str:
    """The base of links given out (invitations): LABELPORT_PUBLIC_URL (or the Space's host) when
    configured, else the URL the admin reached the app by."""
    default = Settings.__dataclass_fields__["public_url"].default
    configured = store.settings.public_url
    if configured and (configured != default or not request_base):
        return configured.rstrip("/")
    return (request_base or default).rstrip("/")


def request_base(url) -> str:
    """scheme://host[:port] of a request URL (a mounted app's base_url would carry its prefix)."""
    return f"{url.scheme}://{url.netloc}"


def link_for(store: Store, url, token: str) -> str:
    return invitation_url(public_base(store, request_base(url) if url is not None else None), token)


def install_invite(app: FastAPI, store: Store) -> None:
    @app.get(INVITE_PREFIX + "{token}", include_in_schema=False)
    def invite_form(token: str):
        try:
            user = invitation_user(store, token)
        except StoreError as e:
            return _invalid(str(e))
        return _form(token, user.username)

    @app.post(INVITE_PREFIX + "{token}", include_in_schema=False)
    def invite_accept(token: str, request: Request, password: str = Form(""), password2: str = Form("")):
        from auth import set_session_cookie
        from store.users import create_session

        if not _same_site(store, request):
            return _page("Invitation", _INVALID.format(message="This form was sent from another site: open the "
                                                                "invitation link itself."), 403)
        try:
            user = invitation_user(store, token)
        except StoreError as e:
            return _invalid(str(e))
        if password != password2:
            return _form(token, user.username, "The two passwords differ.", 400)
        try:
            user = accept_invitation(store, token, password)
        except StoreError as e:
            if str(e) == INVALID_INVITATION:
                return _invalid(str(e))
            return _form(token, user.username, str(e), 400)
        log.info("user %s accepted an invitation", user.username)
        try:
            token = create_session(store, user.username)
        except StoreError as e:  # e.g. an account still waiting for an admin's approval
            return _page("Password set", _DONE.format(message=html.escape(str(e))))
        resp = RedirectResponse("/", status_code=303, headers=_HEADERS)
        set_session_cookie(resp, request, token)
        return resp
