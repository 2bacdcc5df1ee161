"""A fake OpenID Connect provider on 127.0.0.1 (a thread running uvicorn) for the Hugging Face
sign-in tests (tests/test_oauth.py) and the hostile-user sweep (tests/hostile.py)."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from tests.app_server import free_port

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
HTML = {"accept": "text/html"}
NO_OAUTH = {"OAUTH_CLIENT_ID": "", "OAUTH_CLIENT_SECRET": "", "OPENID_PROVIDER_URL": "", "OAUTH_SCOPES": "",
            "SPACE_HOST": ""}
ALICE = {"sub": "123", "preferred_username": "hf-alice", "name": "Alice", "email": "alice@example.org",
         "email_verified": True}


def _jwt(claims: dict) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class FakeProvider:
    """/oauth/authorize sends the browser straight back with a code (and remembers the nonce);
    /oauth/token wants the client credentials (HTTP Basic), a code it gave and the same
    redirect_uri, and answers with an id_token carrying the nonce (``id_token``: "match", "wrong",
    "missing nonce" or "none"); /oauth/userinfo the token, and answers ``identity``."""

    def __init__(self, identity: dict | None = None):
        self.codes: dict[str, tuple[str, str | None]] = {}  # code -> (redirect_uri, nonce)
        self.tokens: dict[str, dict] = {}  # access token -> the identity it was given for
        self.token_requests = 0
        self.identity: dict = dict(identity or ALICE)
        self.id_token = "match"
        self.nonces: list[str | None] = []
        app = FastAPI()

        @app.get("/oauth/authorize")
        def authorize(client_id: str, redirect_uri: str, response_type: str, scope: str, state: str,
                      nonce: str | None = None):
            assert client_id == CLIENT_ID and response_type == "code" and "openid" in scope.split()
            code = secrets.token_hex(8)
            self.codes[code] = (redirect_uri, nonce)
            self.nonces.append(nonce)
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
                    or self.codes[code][0] != form.get("redirect_uri")):
                return JSONResponse({"error": "invalid_grant", "error_description": "bad code"}, status_code=400)
            _, nonce = self.codes.pop(code)
            access = secrets.token_hex(16)
            self.tokens[access] = dict(self.identity)
            body = {"access_token": access, "token_type": "bearer", "expires_in": 3600}
            claims = {"sub": self.identity.get("sub"), "aud": CLIENT_ID, "iss": self.url}
            if self.id_token == "match":
                body["id_token"] = _jwt({**claims, "nonce": nonce})
            elif self.id_token == "wrong":
                body["id_token"] = _jwt({**claims, "nonce": "someone-elses-nonce"})
            elif self.id_token == "missing nonce":
                body["id_token"] = _jwt(claims)
            return body

        @app.get("/oauth/userinfo")
        def userinfo(request: Request):
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return self.tokens[auth[7:]]

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
