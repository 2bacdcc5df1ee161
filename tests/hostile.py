"""The hostile user as a test fixture (issue 14): one running app per mode, five users, their
data, and the helpers the hostile-user tests share.

Modes (a module-scoped fixture, ``hostile_app``, parametrized; pytest runs one app at a time):
- ``local``: users added with ``python app.py add-user`` before the start, LABELPORT_ALLOW_LOCAL_PATHS
  left at its default;
- ``space``: as a Hugging Face Space: SPACE_ID and SPACE_HOST set, Hugging Face sign-in against a
  fake OpenID provider on 127.0.0.1 (``tests.fake_openid.FakeProvider``), the store mirrored to
  ``s3://<mirror bucket>/prefix`` on moto_server (a mirror is written by the CLI before the start,
  so the bucket holds ``users.parquet`` and ``sessions.parquet`` to steal), and a second bucket
  with a secret object. A "stranger" signs in with Hugging Face and, when the app gives them a
  session, is one more hostile user.

Users: ``admin`` (is_admin), ``creator`` (a normal user who makes jobs), ``labeler`` and
``reviewer`` (members of the creator's team job, by email), ``outsider`` (no role anywhere).
Data, built over HTTP as its owners would: the creator's team job T (PNG uploads through the
page's own upload and "Create job" event, then a team, members and the team job over the REST
API; one sample labeled by the labeler; an acceptance; a published version) and the admin's
plain job A (uploads). Job, sample and dataset names hold random markers, so a response that
shows them to someone without a role on the job is a leak.

``snapshot()`` reads the store's state over the API as the admin (jobs, samples with annotations,
label sets, team settings, members, imports, versions, acceptances, models, teams, users when the
API lists them); ``data_files()`` hashes the data folder (not the DuckDB file, its WAL and caches).
A hostile request must change neither.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.app_server import ROOT, AppServer, app_env
from tests.fake_openid import CLIENT_ID, CLIENT_SECRET, FakeProvider

USERS = ("admin", "creator", "labeler", "reviewer", "outsider")
COOKIE = "labelport_session"
SPACE_HOST = "hostile-space.hf.space"
MIRROR_PREFIX = "prefix"
HTTP_TIMEOUT = 60.0
EVENT_TIMEOUT = 20.0  # seconds one Gradio event may take before it counts as hung
PASSWD_MARK = "root:x:0:0"  # what /etc/passwd holds: it must never come back in a response


def password(user: str) -> str:
    return f"hostile-{user}-password-1"


def email(user: str) -> str:
    return f"{user}@example.org"


def excerpt(text: str | bytes, n: int = 160) -> str:
    """The start of a body on one line, non-printable characters as '?'."""
    if isinstance(text, bytes):
        text = text[:n * 2].decode("utf-8", "replace")
    text = "".join(ch if ch.isprintable() else " " if ch.isspace() else "?" for ch in str(text)[:n * 4])
    return " ".join(text.split())[:n]


# -- Gradio's queue, driven over HTTP as a browser does -------------------------------------------------
@dataclass
class EventResult:
    status: str  # "ok" | "refused" (a user's error: a toast, no output changed; pages/common.errors_as_toasts)
    #              | "error" (the handler raised) | "http" (the join was refused) | "timeout"
    http_status: int | None = None
    output: Any = None
    message: str = ""

    @property
    def text(self) -> str:
        return json.dumps(self.output, default=str) if self.output is not None else self.message


class GradioSession:
    """One browser tab of a user: POST /gradio_api/queue/join, then the SSE stream of the session
    until the event completes. Inputs go as they are: nothing checks them on the client side."""

    def __init__(self, base_url: str, token: str | None):
        headers = {"Cookie": f"{COOKIE}={token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=HTTP_TIMEOUT, trust_env=False)
        self.session_hash = uuid.uuid4().hex[:11]
        self._config: dict | None = None

    def close(self) -> None:
        self.http.close()

    def config(self) -> dict:
        if self._config is None:
            r = self.http.get("/config")
            assert r.status_code == 200, f"GET /config -> {r.status_code}: {excerpt(r.text)}"
            self._config = r.json()
        return self._config

    @property
    def prefix(self) -> str:
        return self.config().get("api_prefix") or "/gradio_api"

    def dependency(self, api_name: str) -> dict:
        for dep in self.config()["dependencies"]:
            if dep.get("api_name") == api_name:
                return dep
        raise AssertionError(f"the app has no Gradio event {api_name!r}")

    def upload(self, paths: list[Path]) -> list[dict]:
        import mimetypes

        files = [("files", (p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "application/octet-stream"))
                 for p in paths]
        r = self.http.post(f"{self.prefix}/upload", files=files)
        assert r.status_code == 200, f"POST {self.prefix}/upload -> {r.status_code}: {excerpt(r.text)}"
        return [{"path": server_path, "orig_name": p.name, "size": p.stat().st_size,
                 "mime_type": mimetypes.guess_type(p.name)[0], "meta": {"_type": "gradio.FileData"}}
                for server_path, p in zip(r.json(), paths)]

    def call(self, dep: dict, data: list, event_data: Any = None, timeout: float = EVENT_TIMEOUT) -> EventResult:
        trigger = dep["targets"][0][0] if dep.get("targets") else None
        payload = {"data": data, "fn_index": dep["id"], "session_hash": self.session_hash, "trigger_id": trigger,
                   "event_data": event_data}
        r = self.http.post(f"{self.prefix}/queue/join", json=payload)
        if r.status_code != 200:
            return EventResult("http", r.status_code, message=excerpt(r.text, 300))
        event_id = r.json().get("event_id")
        deadline = time.monotonic() + timeout
        warnings: list[str] = []
        try:
            with self.http.stream("GET", f"{self.prefix}/queue/data", params={"session_hash": self.session_hash},
                                  timeout=httpx.Timeout(timeout, connect=10)) as stream:
                if stream.status_code != 200:
                    return EventResult("http", stream.status_code, message="queue/data refused")
                for line in stream.iter_lines():
                    if time.monotonic() > deadline:
                        return EventResult("timeout", message=f"no answer within {timeout:.0f} s")
                    if not line.startswith("data:"):
                        continue
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "close_stream":
                        break
                    if msg.get("event_id") == event_id and msg.get("msg") == "log" and msg.get("level") == "warning":
                        warnings.append(str(msg.get("log")))
                    if msg.get("event_id") != event_id or msg.get("msg") != "process_completed":
                        continue
                    out = msg.get("output") or {}
                    if msg.get("success") and "error" not in out:
                        if warnings:
                            return EventResult("refused", 200, output=out.get("data"), message=" | ".join(warnings))
                        return EventResult("ok", 200, output=out.get("data"))
                    return EventResult("error", 200, message=str(out.get("error") or out)[:500])
        except httpx.TimeoutException:
            return EventResult("timeout", message=f"no answer within {timeout:.0f} s")
        return EventResult("timeout", message="the stream closed before the event completed")


def load_page(session: GradioSession) -> None:
    """The page's load events, as a browser runs them when the page opens (they fill the
    session's pickers: a dropdown accepts only the choices the session was shown)."""
    comps = component_map(session.config())
    for dep in session.config()["dependencies"]:
        if dep.get("backend_fn") and any(t[1] == "load" for t in dep.get("targets", [])):
            session.call(dep, [comps.get(c, {}).get("props", {}).get("value") for c in dep.get("inputs", [])])


def page_dependency(session: GradioSession, api_prefix: str, page: str) -> dict:
    """The event named api_prefix (or api_prefix_N) that belongs to a labeling type's page
    (e.g. "page-checklist")."""
    config = session.config()
    comps, parents = component_map(config), layout_parents(config)
    for dep in config["dependencies"]:
        name = str(dep.get("api_name") or "")
        if re.fullmatch(re.escape(api_prefix) + r"(_\d+)?", name) and page_of(config, dep, parents, comps) == page:
            return dep
    raise AssertionError(f"no Gradio event {api_prefix!r} on {page}")


def component_map(config: dict) -> dict[int, dict]:
    return {c["id"]: c for c in config["components"]}


def inputs_by_label(session: GradioSession, api_name: str, values: dict[str, Any]) -> list:
    """The event's inputs: the component's default, or values[label] (labels matched by prefix)."""
    dep = session.dependency(api_name)
    comps = component_map(session.config())
    out = []
    for cid in dep["inputs"]:
        props = comps.get(cid, {}).get("props", {})
        label = str(props.get("label") or "")
        value = props.get("value")
        for key, v in values.items():
            if label.lower().startswith(key.lower()):
                value = v
                break
        out.append(value)
    return out


PATH_LIKE = re.compile(r"folder|path|server|s3|location|prefix", re.I)
KEEP_DEFAULT = re.compile(r"^(page|per page|batch size|format|type|scene|confirm everything)", re.I)


def page_of(config: dict, dep: dict, parents: dict[int, list[int]], comps: dict[int, dict]) -> str:
    """The labeling type page an event belongs to ("page-checklist"), or "shared"."""
    ids = [t[0] for t in dep.get("targets", []) if t[0] is not None] + list(dep.get("inputs", [])) \
        + list(dep.get("outputs", []))
    for cid in ids:
        for a in parents.get(cid, []):
            eid = str(comps.get(a, {}).get("props", {}).get("elem_id") or "")
            if eid.startswith("page-"):
                return eid
    return "shared"


def layout_parents(config: dict) -> dict[int, list[int]]:
    parents: dict[int, list[int]] = {}

    def walk(node, anc):
        parents[node["id"]] = anc
        for ch in node.get("children", []) or []:
            walk(ch, anc + [node["id"]])

    walk(config["layout"], [])
    return parents


def hostile_inputs(app: HostileApp, dep: dict, comps: dict[int, dict]) -> list:
    """Every number, dropdown and state is the creator's job id; sample grids select the
    creator's samples; checkboxes are ticked; server-path boxes name /etc or the mirror."""
    o = app.objects
    job, samples = o.job_team, o.samples_team
    values = []
    for cid in dep.get("inputs", []):
        comp = comps.get(cid, {})
        t, props = comp.get("type"), comp.get("props", {})
        label, default = str(props.get("label") or ""), props.get("value")
        if t == "state":
            v = job
        elif KEEP_DEFAULT.match(label):
            v = default
        elif t == "number":
            v = job
        elif t == "dropdown" and label == "Team":
            v = o.team
        elif t == "dropdown" and label == "Member":
            v = o.member_email
        elif t == "dropdown":
            v = ["a"] if props.get("multiselect") else (job if not props.get("choices") else default)
        elif t == "checkbox":
            v = True
        elif t == "textbox":
            if PATH_LIKE.search(label):
                v = (f"s3://{app.s3['mirror_bucket']}/{app.s3['mirror_prefix']}/" if app.s3 and "s3" in label.lower()
                     else "/etc")
            else:
                v = default if default is not None else ""
        elif isinstance(default, dict) and "selected" in default and "items" in default:
            v = {**default, "items": [{"id": s, "selected": True, "labels": []} for s in samples],
                 "selected": list(samples)}
        elif isinstance(default, dict) and "sample_id" in default:
            v = {**default, "sample_id": samples[1]}
        else:
            v = default
        values.append(v)
    return values


# -- the app and its users ------------------------------------------------------------------------------
@dataclass
class Objects:
    """What the owners made (ids as ints; names with random markers)."""
    marker: str
    job_team: int = 0  # the creator's team job T (image classification)
    job_admin: int = 0  # the admin's plain job A
    samples_team: list[int] = field(default_factory=list)
    samples_admin: list[int] = field(default_factory=list)
    dataset_team: int = 0
    dataset_admin: int = 0
    uris_team: list[str] = field(default_factory=list)
    uris_admin: list[str] = field(default_factory=list)
    team: int = 0
    acceptance: int | None = None
    version: int | None = None
    model: int | None = None
    run: int | None = None  # no run is started (it needs a model that predicts): id forms still tried

    @property
    def team_job_name(self) -> str:
        return f"tjob-{self.marker}"

    @property
    def admin_job_name(self) -> str:
        return f"ajob-{self.marker}"

    @property
    def member_email(self) -> str:
        """A member of the creator's team with no role on any job: only the team may see them."""
        return f"tm-{self.marker}@example.org"

    def markers_of(self, job: str) -> tuple[str, ...]:
        """Strings only someone with a role on the job may see (job name, dataset name, file names)."""
        return (f"tjob-{self.marker}", f"tfile-{self.marker}", f"team-{self.marker}", f"tdesc-{self.marker}",
                self.member_email) if job == "team" else \
            (f"ajob-{self.marker}", f"afile-{self.marker}")


@dataclass
class HostileApp:
    mode: str  # "local" | "space"
    server: AppServer
    work: Path
    tokens: dict[str, str]  # user -> session token (the stranger too, in Space mode, when the app gave one)
    objects: Objects
    canary: Path  # a folder outside the data folder: files an attacker wants to read, overwrite or delete
    s3: dict = field(default_factory=dict)  # Space mode: endpoint, mirror_bucket, mirror_prefix, other_bucket, ...
    stranger_status: str = ""  # Space mode: what the Hugging Face sign-in of a stranger gave

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def users(self) -> list[str]:
        return [u for u in (*USERS, "stranger") if u in self.tokens]

    def client(self, user: str | None) -> httpx.Client:
        """A client with the user's session cookie (None: anonymous). The cookie is sent as a
        header: in Space mode it is Secure, which a cookie jar keeps off plain http."""
        headers = {"Cookie": f"{COOKIE}={self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=HTTP_TIMEOUT, follow_redirects=False,
                            trust_env=False)

    def gradio(self, user: str | None) -> GradioSession:
        return GradioSession(self.url, self.tokens.get(user) if user else None)

    def healthy(self) -> bool:
        try:
            r = httpx.get(self.url + "/healthz", timeout=10, trust_env=False)
            return r.status_code == 200 and r.json().get("ok") is True
        except (httpx.HTTPError, ValueError):
            return False

    def log_size(self) -> int:
        try:
            return self.server.log_path.stat().st_size
        except OSError:
            return 0

    def errors_since(self, offset: int) -> list[str]:
        """server_errors() of the log written after byte ``offset``."""
        try:
            with open(self.server.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [e for e in traceback_errors(text) if not e.startswith(USER_ERRORS)]

    def server_errors(self) -> list[str]:
        """The exception line of every traceback in the server's log, without the refusals Gradio
        logs for its users (gradio.exceptions.Error: a handler's gr.Error, a value not among a
        dropdown's choices)."""
        return [e for e in traceback_errors(self.server.log(tail=10**9)) if not e.startswith(USER_ERRORS)]

    # -- the state a hostile request must not change ----------------------------------------------------
    def snapshot(self) -> dict:
        """The store's state as the admin reads it over the API."""
        snap: dict[str, Any] = {}
        with self.client("admin") as c:
            def get(path: str, **params):
                r = c.get(path, params=params or None)
                if r.status_code >= 500:
                    raise AssertionError(f"snapshot: GET {path} as admin -> {r.status_code}: {excerpt(r.text)}")
                try:
                    body = r.json()
                except ValueError:
                    body = excerpt(r.text)
                return {"status": r.status_code, "body": body}

            jobs = get("/api/v1/jobs")
            snap["jobs"] = jobs
            for job in jobs["body"] if isinstance(jobs["body"], list) else []:
                jid = job["id"]
                one: dict[str, Any] = {"job": get(f"/api/v1/jobs/{jid}"), "labels": get(f"/api/v1/jobs/{jid}/labels")}
                samples, page = [], 1
                while True:
                    p = get(f"/api/v1/jobs/{jid}/samples", page=page, page_size=500)
                    if p["status"] != 200:
                        samples.append(p)
                        break
                    samples.extend(p["body"]["items"])
                    if page >= p["body"]["pages"]:
                        break
                    page += 1
                one["samples"] = samples
                for part in ("team", "members", "imports", "versions", "acceptances"):
                    one[part] = get(f"/api/v1/jobs/{jid}/{part}")
                for acc in one["acceptances"]["body"] if isinstance(one["acceptances"]["body"], list) else []:
                    if isinstance(acc, dict) and "id" in acc:
                        one[f"acceptance {acc['id']}"] = get(f"/api/v1/acceptances/{acc['id']}/items")
                snap[f"job {jid}"] = one
            snap["models"] = get("/api/v1/models")
            teams = get("/api/v1/teams")
            snap["teams"] = teams
            for team in teams["body"] if isinstance(teams["body"], list) else []:
                snap[f"team {team['id']} members"] = get(f"/api/v1/teams/{team['id']}/members")
            users = c.get("/api/v1/users")  # the admin's Users API, once there is one
            if users.status_code == 200:
                body = users.json()
                items = body.get("items", body) if isinstance(body, dict) else body
                snap["users"] = sorted(
                    (json.dumps({k: u.get(k) for k in ("username", "email", "is_admin", "disabled", "pending")},
                                sort_keys=True) for u in items if isinstance(u, dict)))
        return snap

    def data_files(self) -> dict[str, str]:
        """Files of the data folder with their SHA-256 (not the DuckDB file, its WAL, caches)."""
        out = {}
        for p in sorted(self.data_dir.rglob("*")):
            rel = p.relative_to(self.data_dir).as_posix()
            if not p.is_file() or rel.startswith("cache/") or "/cache/" in rel or p.name.startswith("labeling.duckdb"):
                continue
            if p.suffix in (".wal", ".tmp"):
                continue
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out

    def canary_files(self) -> dict[str, str]:
        return {p.relative_to(self.canary).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file()
                else "<dir>" for p in sorted(self.canary.rglob("*"))}

    def mirror_keys(self) -> set[str]:
        if not self.s3:
            return set()
        return set(list_keys(self.s3["endpoint"], self.s3["mirror_bucket"], self.s3["mirror_prefix"] + "/"))


USER_ERRORS = ("gradio.exceptions.Error",)


def traceback_errors(log: str) -> list[str]:
    """The final line (the exception) of each Python traceback in a log."""
    out = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            for nxt in lines[i + 1:]:
                if nxt and not nxt.startswith((" ", "\t")) and not nxt.startswith("Traceback"):
                    out.append(nxt.strip())
                    break
    return out


def diff(before: Any, after: Any, path: str = "", out: list | None = None, limit: int = 20) -> list[str]:
    """Where two snapshots differ (at most ``limit`` places), as 'path: before -> after'."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(before, dict) and isinstance(after, dict):
        for k in sorted(set(before) | set(after), key=str):
            if k not in after:
                out.append(f"{path}/{k}: removed (was {excerpt(json.dumps(before[k], default=str), 120)})")
            elif k not in before:
                out.append(f"{path}/{k}: added ({excerpt(json.dumps(after[k], default=str), 120)})")
            else:
                diff(before[k], after[k], f"{path}/{k}", out, limit)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (a, b) in enumerate(zip(before, after)):
            diff(a, b, f"{path}[{i}]", out, limit)
    elif isinstance(before, list) and isinstance(after, list):
        dump = [json.dumps(x, sort_keys=True, default=str) for x in before]
        added = [x for x in after if json.dumps(x, sort_keys=True, default=str) not in dump]
        kept = {json.dumps(x, sort_keys=True, default=str) for x in after}
        removed = [x for x, d in zip(before, dump) if d not in kept]
        out.append(f"{path}: {len(before)} -> {len(after)} items"
                   + (f"; added {excerpt(json.dumps(added[0], default=str), 300)}" if added else "")
                   + (f"; removed {excerpt(json.dumps(removed[0], default=str), 200)}" if removed else ""))
    elif before != after:
        out.append(f"{path}: {excerpt(json.dumps(before, default=str), 120)} -> "
                   f"{excerpt(json.dumps(after, default=str), 120)}")
    return out[:limit]


def list_keys(endpoint: str, bucket: str, prefix: str = "") -> list[str]:
    from tests.fixtures_s3 import s3_client

    client = s3_client(endpoint)
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


# -- building it -----------------------------------------------------------------------------------------
def _cli(args: list[str], data_dir: Path, env: dict, stdin: str | None = None) -> str:
    res = subprocess.run([sys.executable, "app.py", *args, "--data-dir", str(data_dir)], cwd=ROOT, env=env,
                         input=stdin, capture_output=True, text=True, timeout=180)
    if res.returncode != 0:
        raise AssertionError(f"python app.py {' '.join(args)} exited {res.returncode}: {res.stderr}{res.stdout}")
    return res.stdout


def add_users(data_dir: Path, env: dict) -> None:
    for user in USERS:
        _cli(["add-user", user, "--email", email(user), *(["--admin"] if user == "admin" else []),
              "--password-stdin"], data_dir, env, stdin=password(user) + "\n")


def login(url: str, user: str) -> str:
    """POST /api/v1/login; the session token from Set-Cookie (waits out a 429's Retry-After)."""
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT, trust_env=False) as c:
        while True:
            r = c.post("/api/v1/login", json={"username": user, "password": password(user)})
            if r.status_code == 429 and time.monotonic() < deadline:
                time.sleep(min(float(r.headers.get("retry-after") or 1), 10))
                continue
            assert r.status_code == 200, f"log in as {user}: {r.status_code} {excerpt(r.text)}"
            return session_token(r)


def session_token(r: httpx.Response) -> str | None:
    for value in r.headers.get_list("set-cookie"):
        m = re.match(rf"\s*{COOKIE}=([^;]*)", value)
        if m and m.group(1):
            return m.group(1)
    return None


def png_files(folder: Path, stem: str, n: int) -> list[Path]:
    from tests.factories import write_image

    return [write_image(folder / f"{stem}-{i}.png", seed=i + 1) for i in range(n)]


def create_job_by_upload(app_url: str, token: str, name: str, files: list[Path], team: bool) -> None:
    """As the owner does it in the browser: upload files, then "Create job" (My Creations)."""
    g = GradioSession(app_url, token)
    try:
        uploaded = g.upload(files)
        data = inputs_by_label(g, "on_create", {
            "Name": name, "Scene / labeling type": "image_classification", "Dataset": "Upload files",
            "Files to upload": uploaded, "Labels": "a, b", "Team labeling": team})
        res = g.call(g.dependency("on_create"), data, timeout=60)
        assert res.status == "ok", f"creating job {name} through the page: {res.status} {res.message}"
    finally:
        g.close()


def api(c: httpx.Client, method: str, path: str, expect: tuple[int, ...] = (200, 201, 204), **kw) -> Any:
    r = c.request(method, path, **kw)
    assert r.status_code in expect, f"setup: {method} {path} -> {r.status_code}: {excerpt(r.text, 400)}"
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None


def build_data(app: HostileApp) -> None:
    """The owners' data, made over HTTP."""
    o, url, work = app.objects, app.url, app.work
    create_job_by_upload(url, app.tokens["creator"], o.team_job_name,
                         png_files(work / "uploads-team", f"tfile-{o.marker}", 4), team=True)
    create_job_by_upload(url, app.tokens["admin"], o.admin_job_name,
                         png_files(work / "uploads-admin", f"afile-{o.marker}", 3), team=False)
    with app.client("creator") as creator, app.client("admin") as admin, app.client("labeler") as labeler:
        jobs = {j["name"]: j["id"] for j in api(admin, "GET", "/api/v1/jobs")}
        o.job_team, o.job_admin = jobs[o.team_job_name], jobs[o.admin_job_name]
        o.dataset_team = api(creator, "GET", f"/api/v1/jobs/{o.job_team}")["dataset_id"]
        o.dataset_admin = api(admin, "GET", f"/api/v1/jobs/{o.job_admin}")["dataset_id"]
        items = api(creator, "GET", f"/api/v1/jobs/{o.job_team}/samples", params={"page_size": 100})["items"]
        o.samples_team, o.uris_team = [s["id"] for s in items], [s["uri"] for s in items]
        items = api(admin, "GET", f"/api/v1/jobs/{o.job_admin}/samples", params={"page_size": 100})["items"]
        o.samples_admin, o.uris_admin = [s["id"] for s in items], [s["uri"] for s in items]
        assert len(o.samples_team) == 4 and len(o.samples_admin) == 3, (o.samples_team, o.samples_admin)
        o.team = api(creator, "POST", "/api/v1/teams", json={"name": f"team-{o.marker}"})["id"]
        api(creator, "POST", f"/api/v1/teams/{o.team}/members",
            json=[{"email": email("labeler"), "role": "labeler"}, {"email": email("reviewer"), "role": "reviewer"},
                  {"email": o.member_email, "description": f"tdesc-{o.marker}", "role": "labeler"}])
        api(creator, "POST", f"/api/v1/jobs/{o.job_team}/team",
            json={"team_id": o.team, "labelers": [email("labeler")], "reviewers": [email("reviewer")]})
        mine = api(labeler, "GET", f"/api/v1/jobs/{o.job_team}/my-samples")
        assert sorted(it["sample_id"] for it in mine["items"]) == sorted(o.samples_team), mine
        api(labeler, "PUT", f"/api/v1/jobs/{o.job_team}/my-samples/{o.samples_team[0]}/annotation",
            json={"annotation": {"labels": ["a"]}})
        o.acceptance = api(creator, "POST", f"/api/v1/jobs/{o.job_team}/acceptances",
                           json={"sample_by": "count", "amount": 1})["id"]
        o.version = api(creator, "POST", f"/api/v1/jobs/{o.job_team}/versions",
                        json={"description": "v1"})["number"]
        # a model: a sentence-transformers folder is recognized without importing transformers
        model_dir = work / "model-embed"
        model_dir.mkdir(exist_ok=True)
        (model_dir / "modules.json").write_text("[]", encoding="utf-8")
        r = admin.post("/api/v1/models", json={"source": str(model_dir), "name": f"model-{o.marker}"})
        if r.status_code == 201:
            o.model = r.json()["id"]
        elif app.mode == "local":
            raise AssertionError(f"setup: the admin could not register a model folder: {r.status_code} "
                                 f"{excerpt(r.text)}")


def new_job(app: HostileApp, user: str, tag: str, n: int = 3, team: bool = False) -> tuple[int, list[int], list[str]]:
    """A fresh image classification job of the user's, from n uploaded PNGs: (id, sample ids, uris)."""
    name = f"{tag}-{app.objects.marker}"
    files = png_files(app.work / f"uploads-{tag}", f"{tag}file-{app.objects.marker}", n)
    create_job_by_upload(app.url, app.tokens[user], name, files, team)
    with app.client(user) as c:
        jid = next(j["id"] for j in api(c, "GET", "/api/v1/jobs") if j["name"] == name)
        items = api(c, "GET", f"/api/v1/jobs/{jid}/samples", params={"page_size": 100})["items"]
    return jid, [s["id"] for s in items], [s["uri"] for s in items]


def make_canary(work: Path) -> Path:
    canary = work / "canary"
    (canary / "folder").mkdir(parents=True, exist_ok=True)
    (canary / "secret.txt").write_text("canary secret\n", encoding="utf-8")
    (canary / "existing-export.jsonl").write_text("do not overwrite\n", encoding="utf-8")
    (canary / "folder" / "inner.png").write_bytes(png_bytes())
    (canary / "folder" / "inner.txt").write_text("inside a folder\n", encoding="utf-8")
    return canary


def png_bytes(seed: int = 7) -> bytes:
    from tests.factories import image_bytes

    return image_bytes(seed=seed)


def stranger_sign_in(app: HostileApp, provider: FakeProvider) -> None:
    """A Hugging Face account nobody invited signs in; the session it gets (if any) is kept."""
    with httpx.Client(base_url=app.url, timeout=HTTP_TIMEOUT, follow_redirects=False, trust_env=False) as c:
        r = c.get("/login/huggingface", headers={"Accept": "text/html"})
        if r.status_code not in (302, 303):
            app.stranger_status = f"GET /login/huggingface -> {r.status_code}"
            return
        state_cookie = "; ".join(v.split(";", 1)[0] for v in r.headers.get_list("set-cookie"))
        back = httpx.get(r.headers["location"], follow_redirects=False, trust_env=False, timeout=30)
        if back.status_code != 302:
            app.stranger_status = f"provider answered {back.status_code}"
            return
        u = urlsplit(back.headers["location"])
        cb = c.get(f"{u.path}?{u.query}", headers={"Accept": "text/html", "Cookie": state_cookie})
        token = session_token(cb)
        app.stranger_status = f"callback -> {cb.status_code}" + (" with a session" if token else " without a session")
        if token:
            app.tokens["stranger"] = token


def _space_env(provider: FakeProvider, s3: dict) -> dict[str, str]:
    return {
        "SPACE_ID": "hostile/labelport", "SPACE_HOST": SPACE_HOST, "GRADIO_SERVER_NAME": "127.0.0.1",
        "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET, "OPENID_PROVIDER_URL": provider.url,
        "OAUTH_SCOPES": "openid profile email",
        "LABELPORT_MIRROR": f"s3://{s3['mirror_bucket']}/{MIRROR_PREFIX}", "LABELPORT_S3_ENDPOINT": s3["endpoint"],
        "LABELPORT_MIRROR_DEBOUNCE": "3600",  # no mirror during the tests: what the bucket holds stays as planted
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }


def start_hostile_app(mode: str, work: Path, request) -> tuple[HostileApp, list]:
    """Users, the app, the data. Returns the app and the callables that tear it down."""
    teardown: list = []
    work.mkdir(parents=True, exist_ok=True)
    data_dir = work / "data"
    env = app_env(work / "gradio-cli")
    extra: dict[str, str] = {"GRADIO_SERVER_NAME": "127.0.0.1"}
    s3: dict = {}
    provider = None
    if mode == "space":
        endpoint = request.getfixturevalue("s3_server")
        from tests.fixtures_s3 import s3_client

        client = s3_client(endpoint)
        tag = uuid.uuid4().hex[:10]
        s3 = {"endpoint": endpoint, "mirror_bucket": f"mirror-bucket-{tag}", "mirror_prefix": MIRROR_PREFIX,
              "other_bucket": f"other-bucket-{tag}", "other_key": "private/secret.txt",
              "other_body": b"another bucket's secret\n"}
        client.create_bucket(Bucket=s3["mirror_bucket"])
        client.create_bucket(Bucket=s3["other_bucket"])
        client.put_object(Bucket=s3["other_bucket"], Key=s3["other_key"], Body=s3["other_body"])
        client.put_object(Bucket=s3["mirror_bucket"], Key=f"{MIRROR_PREFIX}/canary.png", Body=png_bytes())
        provider = FakeProvider({"sub": "hf-stranger-sub-1", "preferred_username": "hf-stranger",
                               "name": "A Stranger", "email": "stranger@example.net", "email_verified": False})
        provider.start()
        teardown.append(provider.stop)
        extra.update(_space_env(provider, s3))
    add_users(data_dir, env)
    if mode == "space":  # a real mirror in the bucket: users.parquet (password hashes), sessions.parquet
        _cli(["mirror"], data_dir, {**env, **extra})
        s3["mirror_keys"] = list_keys(s3["endpoint"], s3["mirror_bucket"], MIRROR_PREFIX + "/")
        s3["users_parquet"] = next(k for k in s3["mirror_keys"] if k.endswith("users.parquet"))
    server = AppServer(data_dir, work / "server", extra_env=extra)
    server.start()
    teardown.insert(0, server.stop)
    app = HostileApp(mode, server, work, {}, Objects(marker=secrets.token_hex(4)), make_canary(work), s3)
    try:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(USERS)) as pool:
            app.tokens.update(zip(USERS, pool.map(lambda u: login(app.url, u), USERS)))
        build_data(app)
        if provider is not None:
            stranger_sign_in(app, provider)
    except BaseException:
        for fn in teardown:
            fn()
        raise
    return app, teardown


@pytest.fixture(scope="module", params=["local", "space"])
def hostile_app(request, tmp_path_factory):
    """One running app per mode for the whole module, with its users and data."""
    t0 = time.monotonic()
    app, teardown = start_hostile_app(request.param, tmp_path_factory.mktemp(f"hostile-{request.param}"), request)
    print(f"\n[hostile] {request.param} app with data ready in {time.monotonic() - t0:.1f} s")
    try:
        yield app
    finally:
        for fn in teardown:
            fn()


def skip_unless(app: HostileApp, mode: str) -> None:
    if app.mode != mode:
        pytest.skip(f"{mode} mode only")
