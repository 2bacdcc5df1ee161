"""The hostile-user sweep (issue 14): every route of the app × every user × every textual form of
the other users' ids, against one running app per mode (tests/hostile.py), then the Gradio events
(GET /config's dependencies) with the creator's ids, as a labeler of the team job and as an
outsider: every event of the shared pages and of the team job's type page, and (the outsider) every
6th event of the other type pages (local mode; the shared pages' events in Space mode). Nothing may answer 5xx; a user without access never gets 2xx; an id written any other way than plain digits is a 4xx for everyone; and
afterwards the store (read over the API as the admin), the data folder and the files outside it
are as they were, and the app still serves.

The route list is derived from the app: GET /api/v1/openapi.json (every path and method of the
REST API) and GET /openapi.json of the main app (its /media/{sample_id}/... routes). A new route
is swept without editing this file. Excluded, on purpose: POST /login (it makes sessions), POST
/logout and writes under /me/ (they may end the sweeping user's own session) and POST /teams
(anyone may make a team: a legitimate write with no id to misuse). Writes a user's role allows
(the owner's, a labeler's own assignment, a reviewer's review) are not sent with the canonical
id: they would change the store legitimately. Routes under /users, /invitations, /sessions and
/admin are the admin's: refused to everyone else, reads included.

Run with ``-rP`` (or ``-s``) to see the figures: combinations tried, time, and the grouped failures.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.hostile import (PASSWD_MARK, HostileApp, api, component_map, diff, email, excerpt, hostile_app,  # noqa: F401
                           hostile_inputs, layout_parents, load_page, new_job, page_of, skip_unless)

WORKERS = 4
ID_PARAMS = ("job_id", "sample_id", "team_id", "acceptance_id", "model_id", "run_id", "number")
EXCLUDED = {("POST", "/api/v1/login"): "makes sessions", ("POST", "/api/v1/logout"): "would end the session",
            ("POST", "/api/v1/teams"): "anyone may create a team"}
# The main app's routes when GET /openapi.json is not exposed: the /media/{sample_id}/... routes of
# server.py (a sub-process's app.routes cannot be read from here).
MEDIA_FALLBACK = {"thumb": {}, "display": {}, "crop": {"x1": 0, "y1": 0, "x2": 1, "y2": 1}, "file": {},
                  "peaks": {}, "segment": {"start": 0, "end": 1}, "frame": {"index": 0},
                  "outline": {"points": "1,0,2,1,1,2,0,1"}, "sam": {"pos": "1,1"}, "segment-tools": {}}
# Managing users (the admin's Users page and its API, once there is one): nobody else, reads included.
ADMIN_ONLY = ("/api/v1/users", "/api/v1/invitations", "/api/v1/sessions", "/api/v1/admin")
# Other path parameters: someone else's name, a member's email, a label of the job.
OTHER_PARAMS = {"username": "creator", "name": "a", "token": "x" * 32}
QUERY_VALUES = {"x1": 0, "y1": 0, "x2": 1, "y2": 1, "start": 0, "end": 1, "index": 0, "format": "manifest",
                "points": "1,0,2,1,1,2,0,1"}
# Labeler: the job and its labels (and their own assignments); Reviewer: reads, and reviews.
LABELER_GETS = {"/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/labels", "/api/v1/jobs/{job_id}/my-samples",
                "/api/v1/jobs/{job_id}/team"}
LABELER_MUST_READ = {"/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/labels"}
LEGIT_WRITES = {"labeler": {("PUT", "/api/v1/jobs/{job_id}/my-samples/{sample_id}/annotation")},
                "reviewer": {("POST", "/api/v1/jobs/{job_id}/review/{sample_id}")}}


def id_forms(n: int) -> list[tuple[str, str]]:
    """(name, path segment as an attacker writes it in the URL) for every non-canonical form of n."""
    s = str(n)
    full_width = s.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    arabic = s.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    return [("N.0", f"{s}.0"), ("+N", f"+{s}"), ("%20N", f"%20{s}"), ("0N", f"0{s}"),
            ("zero-padded to 19", s.rjust(19, "0")), ("N%20", f"{s}%20"), ("N%00", f"{s}%00"), ("Ne0", f"{s}e0"),
            ("0xN", hex(n)), ("-N", f"-{s}"), ("N/", f"{s}/"), ("full-width digits", quote(full_width)),
            ("Arabic-Indic digits", quote(arabic)), ("too big", "99999999999999999999"), ("empty", "")]


# -- routes from the app ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the full path template, e.g. /api/v1/jobs/{job_id}
    params: tuple[str, ...]  # path parameters
    query: tuple[tuple[str, Any], ...]  # required query parameters with a value
    body: Any = None  # the request body's JSON schema (resolved later), or None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p for p in self.params if p in ID_PARAMS)

    @property
    def kind(self) -> str:
        p = self.path
        if p.startswith("/media/") or p.startswith("/api/v1/samples/"):
            return "sample"
        if p.startswith("/api/v1/jobs/{job_id}"):
            return "job"
        if p.startswith(ADMIN_ONLY):
            return "users"
        for prefix, kind in (("/api/v1/teams/{team_id}", "team"), ("/api/v1/acceptances/", "acceptance"),
                             ("/api/v1/models/", "model"), ("/api/v1/runs/", "run")):
            if p.startswith(prefix):
                return kind
        return "global"


def routes_of(spec: dict, prefix: str) -> list[Route]:
    out = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE") or not isinstance(op, dict):
                continue
            params = tuple(p["name"] for p in op.get("parameters", []) if p.get("in") == "path")
            query = tuple((p["name"], QUERY_VALUES.get(p["name"], example(p.get("schema", {}), spec, p["name"], {})))
                          for p in op.get("parameters", []) if p.get("in") == "query" and p.get("required"))
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            out.append(Route(method.upper(), prefix + path, params, query, json.dumps(body) if body else None))
    return out


def discover_routes(app: HostileApp) -> tuple[list[Route], dict, list[str]]:
    notes = []
    with app.client("admin") as c:
        r = c.get("/api/v1/openapi.json")
        assert r.status_code == 200, f"GET /api/v1/openapi.json as admin -> {r.status_code}"
        api_spec = r.json()
        routes = routes_of(api_spec, "/api/v1")
        main = c.get("/openapi.json")
        media = []
        if main.status_code == 200 and "json" in main.headers.get("content-type", ""):
            media = [rt for rt in routes_of(main.json(), "") if rt.path.startswith("/media/")]
        if not media:
            notes.append("the main app's /openapi.json lists no /media route: the /media routes are hard-coded "
                         "(the subprocess's app.routes cannot be read from the test)")
            media = [Route("GET", f"/media/{{sample_id}}/{name}", ("sample_id",), tuple(q.items()))
                     for name, q in MEDIA_FALLBACK.items()]
    kept = []
    for rt in routes + media:
        if (rt.method, rt.path) in EXCLUDED:
            notes.append(f"excluded {rt.method} {rt.path}: {EXCLUDED[(rt.method, rt.path)]}")
        elif rt.method != "GET" and rt.path.startswith("/api/v1/me/"):
            notes.append(f"excluded {rt.method} {rt.path}: the user's own account (it may end the sweeping session)")
        else:
            kept.append(rt)
    return kept, api_spec, notes


# -- request bodies from the schema: required fields, minimal values, the other users' ids --------------
HOSTILE_OPTIONAL = {"dataset_id", "sample_ids", "delete_source", "out", "path", "team_id", "labelers", "reviewers",
                    "annotation", "verify_files", "labels"}


def resolve(schema: dict, spec: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    return schema or {}


def example(schema: dict, spec: dict, name: str, ctx: dict) -> Any:
    """A small valid-looking value; fields that name ids or paths get the hostile values of ctx."""
    if name in ctx:
        return ctx[name]
    s = resolve(schema, spec)
    for key in ("anyOf", "oneOf"):
        if key in s:
            options = [o for o in s[key] if resolve(o, spec).get("type") != "null"]
            return example(options[0], spec, name, ctx) if options else None
    if "allOf" in s and s["allOf"]:
        return example(s["allOf"][0], spec, name, ctx)
    if "const" in s:
        return s["const"]
    if "enum" in s:
        for preferred in ("manifest", "image_classification", "count", "labeler"):
            if preferred in s["enum"]:
                return preferred
        return s["enum"][0]
    t = s.get("type")
    if t == "object" or "properties" in s:
        props = s.get("properties", {})
        required = set(s.get("required", []))
        return {k: example(v, spec, k, ctx) for k, v in props.items() if k in required or k in HOSTILE_OPTIONAL}
    if t == "array":
        item = example(s.get("items", {}), spec, name, ctx)
        return [item] * max(1, int(s.get("minItems", 1)))
    if t == "string":
        if s.get("format") == "email" or "email" in name:
            return email("labeler")
        return "x" * max(1, int(s.get("minLength", 1)))
    if t in ("integer", "number"):
        low = s.get("minimum", s.get("exclusiveMinimum", 0))
        value = max(1, low + (1 if "exclusiveMinimum" in s else 0))
        return int(value) if t == "integer" else float(value)
    if t == "boolean":
        return False
    return {}


def body_context(app: HostileApp, route: Route, job: str, user: str | None) -> dict:
    """The values a hostile body carries: the target job's sample ids, someone else's dataset,
    server paths, delete_source."""
    o = app.objects
    samples = o.samples_team if job == "team" else o.samples_admin
    other_dataset = o.dataset_admin if user in ("creator", "labeler", "reviewer") else o.dataset_team
    exports = "/exports" in route.path
    return {
        "sample_ids": samples[1:3], "dataset_id": o.dataset_team if job == "team" and route.kind != "global"
        else other_dataset, "team_id": o.team, "delete_source": True, "verify_files": False,
        "out": str(app.canary / "sweep-export-out"),
        "path": str(app.canary / "sweep-export-out") if exports else "/etc",
        "source": "/etc" if "/models" in route.path else "/etc/passwd",
        "annotation": {"labels": ["a"]}, "labels": ["a"], "name": f"hostile-{o.marker}", "description": "hostile",
        "type": "image_classification", "format": "manifest", "reason": "hostile", "rating": "A", "approve": True,
        "passed": True, "amount": 1, "threshold": 0.0, "overwrite": True, "scope": "all_pass",
        "labeler": email("labeler"), "email": email("labeler"), "emails": [email("labeler")],
        "from_email": email("labeler"), "to_email": email("reviewer"), "labelers": [email("outsider")],
        "reviewers": [email("outsider")],
    }


# -- the combinations ---------------------------------------------------------------------------------------
@dataclass
class Combo:
    route: Route
    user: str | None
    job: str  # "team" or "admin": whose objects the ids name
    form: str  # "canonical" or the non-canonical form's name
    url: str
    body: Any
    expect: str  # "allow" | "must-2xx" | "refuse" | "refuse-404" | "4xx" | "anon"

    @property
    def who(self) -> str:
        return self.user or "anonymous"


def expectation(route: Route, user: str | None, job: str, canonical: bool) -> str:
    """What the answer must be, or "skip" for a legitimate write of the user's own role."""
    if user is None:
        return "anon"
    if not canonical:
        return "4xx"
    if route.kind == "run":  # no run exists: nobody gets 2xx
        return "refuse"
    if route.kind == "model":
        return "skip" if user == "admin" and route.method != "GET" else ("allow" if user == "admin" else "refuse")
    if route.kind == "users":
        if user == "admin":
            return "allow" if route.method == "GET" else "skip"
        return "refuse"
    if route.kind == "global":
        if route.method == "GET":
            return "allow"
        return "skip" if user == "admin" else "refuse"
    r = role(user, job)
    read = route.method == "GET"
    if r == "owner":
        return "allow" if read else "skip"
    if r is None:
        return "refuse-404"
    if (route.method, route.path) in LEGIT_WRITES.get(r, set()):
        return "skip"
    if r == "labeler":
        if read and (route.path in LABELER_GETS or route.kind in ("sample", "team")):  # members read their team
            return "must-2xx" if route.path in LABELER_MUST_READ else "allow"
        return "refuse"
    if r == "reviewer":
        return "allow" if read and route.kind in ("job", "sample", "acceptance", "team") else "refuse"
    return "refuse"


def role(user: str, job: str) -> str | None:
    """The user's role on the job: "owner" (its creator, an admin), "labeler", "reviewer" or None."""
    if user == "admin" or (job == "team" and user == "creator"):
        return "owner"
    if job == "team" and user in ("labeler", "reviewer"):
        return user
    return None


def id_values(app: HostileApp, route: Route, job: str) -> dict[str, int]:
    o = app.objects
    samples = o.samples_team if job == "team" else o.samples_admin
    return {"job_id": o.job_team if job == "team" else o.job_admin,
            "sample_id": samples[0] if route.kind == "acceptance" else samples[1],
            "team_id": o.team, "acceptance_id": o.acceptance or 1, "model_id": o.model or 1, "run_id": o.run or 1,
            "number": o.version or 1}


def fill(route: Route, values: dict[str, str]) -> str:
    path = route.path
    for p in route.params:
        path = path.replace("{" + p + "}", values[p])
    if route.query:
        path += "?" + "&".join(f"{k}={quote(str(v))}" for k, v in route.query)
    return path


def build_combos(app: HostileApp, routes: list[Route], spec: dict) -> tuple[list[Combo], int]:
    combos: list[Combo] = []
    skipped = slot = 0
    users: list[str | None] = [None, *app.users()]
    for rt in routes:
        jobs = ("team", "admin") if rt.kind in ("job", "sample") else ("team",)
        for user in users:
            for job in jobs:
                ids = id_values(app, rt, job)
                base = {p: str(ids[p]) if p in ids else
                        quote(email("labeler") if "email" in p else OTHER_PARAMS.get(p, "a"), safe="")
                        for p in rt.params}
                schema = json.loads(rt.body) if rt.body else None
                body = example(schema, spec, "", body_context(app, rt, job, user)) if schema else None
                exp = expectation(rt, user, job, True)
                if exp == "skip":
                    skipped += 1
                else:
                    combos.append(Combo(rt, user, job, "canonical", fill(rt, base), body, exp))
                if job != "team" or not rt.ids:
                    continue  # the id forms are tried on the creator's team job's ids
                for p in rt.ids:
                    slot += 1
                    for name, seg in forms_for(app, user, rt, id_forms(ids[p]), slot):
                        combos.append(Combo(rt, user, job, f"{p}={name}", fill(rt, {**base, p: seg}), body,
                                            expectation(rt, user, job, False)))
    return combos, skipped


def rotate(forms: list, slot: int, n: int) -> list:
    """n of the forms, a different n for each (route, id parameter): all of them over the sweep."""
    start = (slot * n) % len(forms)
    return [forms[(start + i) % len(forms)] for i in range(min(n, len(forms)))]


def forms_for(app: HostileApp, user: str | None, route: Route, forms: list, slot: int) -> list:
    """Which id forms a user tries on a route (the sweep's time is bounded: ~2 minutes a file).
    Local mode: every form for the outsider (no role anywhere), and for the creator (the owner) and
    the labeler on job and sample routes; five per route otherwise (rotating, so that every form
    meets every route for some user). Space mode (the same parsing code; what it
    adds is the sign-in and the bucket): six rotating forms for the outsider and the stranger, two
    for the others. Anonymous: the session middleware answers before any route, two forms."""
    if user is None:
        return rotate(forms, slot, 2)
    if app.mode == "local":
        if user == "outsider" or (user in ("creator", "labeler") and route.kind in ("job", "sample")):
            return forms
        return rotate(forms, slot, 5)
    return rotate(forms, slot, 6 if user in ("outsider", "stranger") else 2)


def phase(combo: Combo) -> int:
    """GETs first, then writes, then removals, the job deletion last: a write that wrongly
    succeeds destroys as little as possible of what the rest of the sweep needs."""
    m, p = combo.route.method, combo.route.path
    if m == "GET":
        return 0
    if m == "DELETE" and p == "/api/v1/jobs/{job_id}":
        return 3
    if m == "DELETE" or p.endswith(("/delete", "/remove", "/discard-predictions", "/finish")):
        return 2
    return 1


# -- running and judging ------------------------------------------------------------------------------------
@dataclass
class Finding:
    rule: str
    combo: Combo
    status: int
    body: str

    def line(self) -> str:
        c = self.combo
        return (f"{c.route.method} {c.url} -> {self.status} as {c.who} ({self.rule}; job {c.job}, id {c.form}): "
                f"{self.body}")

    @property
    def form(self) -> str:
        return self.combo.form.split("=", 1)[-1]

    def cause(self) -> tuple:
        """Findings with one cause: an id form answered the same way everywhere; a route that lets
        one user through; a 5xx of one route."""
        c = self.combo
        if self.rule.startswith("non-canonical"):
            return (self.rule, f"id form {self.form!r}", self.status)
        if self.rule == "5xx":
            return (self.rule, f"{c.route.method} {c.route.path}", self.status)
        return (self.rule, f"{c.route.method} {c.route.path}", c.who, self.status)


@dataclass
class Sweep:
    app: HostileApp
    findings: list[Finding] = field(default_factory=list)
    tried: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def client(self, user: str | None):
        clients = getattr(self.local, "clients", None)
        if clients is None:
            clients = self.local.clients = {}
        if user not in clients:
            clients[user] = self.app.client(user)
        return clients[user]

    def run(self, combo: Combo) -> None:
        c = self.client(combo.user)
        kw = {"json": combo.body} if combo.body is not None else {}
        try:
            r = c.request(combo.route.method, combo.url, **kw)
            status, text = r.status_code, r.text
            location = r.headers.get("location", "")
        except Exception as e:  # a dropped connection is as bad as a 500
            status, text, location = 599, f"{type(e).__name__}: {e}", ""
        found = self.judge(combo, status, text, location)
        with self.lock:
            self.tried[combo.who] += 1
            self.findings.extend(found)

    def judge(self, combo: Combo, status: int, text: str, location: str) -> list[Finding]:
        out = []
        body = excerpt(text) + (f" [Location: {location}]" if location else "")

        def bad(rule: str):
            out.append(Finding(rule, combo, status, body))

        api = combo.route.path.startswith("/api/")
        if status >= 500:
            bad("5xx")
        elif combo.expect == "anon":
            if api and status != 401:
                bad("anonymous: expected 401")
            elif not api and not (status == 401 or 300 <= status < 400):
                bad("anonymous: expected 401 or a redirect")
        elif combo.expect == "4xx" and not 400 <= status < 500:
            bad("non-canonical id: expected 4xx")
        elif combo.expect in ("refuse", "refuse-404") and 200 <= status < 300:
            bad("no access: got 2xx")
        elif combo.expect == "refuse-404" and status != 404:
            bad("no role on the job: expected 404")
        elif combo.expect == "must-2xx" and not 200 <= status < 300:
            bad("labeler lost a read (expected 2xx)")
        if 200 <= status < 300:
            out.extend(self.leaks(combo, status, text))
        return out

    def leaks(self, combo: Combo, status: int, text: str) -> list[Finding]:
        o, out = self.app.objects, []
        unseen = []
        if combo.user != "admin":
            unseen += [("admin's job", m) for m in o.markers_of("admin")]
            if combo.user not in ("creator", "labeler", "reviewer"):
                unseen += [("creator's job", m) for m in o.markers_of("team")]
            if self.app.s3:
                unseen.append(("the mirror bucket", self.app.s3["mirror_bucket"]))
        unseen.append(("/etc/passwd", PASSWD_MARK))
        for what, mark in unseen:
            if mark in text:
                i = text.index(mark)
                out.append(Finding(f"leak: shows {what}", combo, status, excerpt(text[max(0, i - 60):i + 100])))
        return out


def run_sweep(app: HostileApp, combos: list[Combo]) -> Sweep:
    sweep = Sweep(app)
    for ph in range(4):
        batch = [c for c in combos if phase(c) == ph]
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(sweep.run, batch))
    return sweep


def report(findings: list[Finding], limit: int = 80) -> str:
    groups: dict[tuple, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.cause()].append(f)
    by_rule = Counter(f.rule for f in findings)
    lines = [f"{len(findings)} failed checks, {len(groups)} causes: "
             + ", ".join(f"{n}× {rule}" for rule, n in by_rule.most_common())]
    for key, fs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0])))[:limit]:
        routes = sorted({f"{f.combo.route.method} {f.combo.route.path}" for f in fs})
        users = sorted({f.combo.who for f in fs})
        head = " | ".join(map(str, key))
        more = ""
        if len(fs) > 1:
            more = (f" — {len(fs)} requests, {len(routes)} routes ({'; '.join(routes[:4])}"
                    f"{'; ...' if len(routes) > 4 else ''}), users {', '.join(users)}")
        lines.append(f"- {head}{more}\n    e.g. {fs[0].line()}")
    if len(groups) > limit:
        lines.append(f"... {len(groups) - limit} more causes (the full list is in the report file)")
    return "\n".join(lines)


def write_report(app: HostileApp, name: str, data: dict) -> Path:
    path = app.work / f"{name}-{app.mode}.json"
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return path


def after_checks(app: HostileApp, before: dict, files: dict, canary: dict, mirror: set[str], logs: int,
                 own: OwnJob | None = None) -> list[str]:
    """What a hostile user's calls must leave as it was; `own`: the attacker's own job, theirs to change."""
    problems = []
    if not app.healthy():
        problems.append("the app no longer answers GET /healthz")
    after = app.snapshot()
    if own is not None:
        before, after, files = own.others(before), own.others(after), own.other_files(files)
    changes = diff(before, after)
    if changes:
        problems.append("the store changed (as the admin reads it):\n  " + "\n  ".join(changes))
    now = app.data_files() if own is None else own.other_files(app.data_files())
    changed = [k for k in sorted(set(files) | set(now)) if files.get(k) != now.get(k)]
    if changed:
        problems.append("files of the data folder changed: " + ", ".join(
            f"{k} ({'removed' if k not in now else 'added' if k not in files else 'modified'})" for k in changed[:20]))
    if app.canary_files() != canary:
        problems.append(f"the canary folder outside the data folder changed: {diff(canary, app.canary_files())}")
    if app.s3:
        gone = mirror - app.mirror_keys()
        if gone:
            problems.append(f"objects of the mirror bucket were deleted: {sorted(gone)[:10]}")
        from tests.hostile import list_keys

        if app.s3["other_key"] not in list_keys(app.s3["endpoint"], app.s3["other_bucket"]):
            problems.append(f"s3://{app.s3['other_bucket']}/{app.s3['other_key']} was deleted")
    errors = app.server_errors()[logs:]
    if errors:
        counted = Counter(errors)
        problems.append(f"the server logged {len(errors)} new tracebacks (not a user's refusal): "
                        + "; ".join(f"{n}× {e[:200]}" for e, n in counted.most_common(15)))
    return problems


@dataclass
class OwnJob:
    """A job of the attacker's own, open on their labeling page: what they may change."""
    job: int
    dataset: int
    name: str

    def others(self, snap: dict) -> dict:
        out = {k: v for k, v in snap.items() if k != f"job {self.job}"}
        jobs = snap.get("jobs", {})
        if isinstance(jobs.get("body"), list):
            out["jobs"] = {**jobs, "body": [j for j in jobs["body"] if j.get("id") != self.job]}
        return out

    def other_files(self, files: dict) -> dict:
        return {k: v for k, v in files.items() if f"datasets/{self.dataset}/" not in k
                and f"versions/{self.name}/" not in k}


# -- the tests ------------------------------------------------------------------------------------------------
def test_rest_sweep(hostile_app: HostileApp):
    app = hostile_app
    routes, spec, notes = discover_routes(app)
    assert any(r.path.startswith("/media/") for r in routes) and len(routes) > 50, [r.path for r in routes]
    before, files, canary = app.snapshot(), app.data_files(), app.canary_files()
    mirror, logs = app.mirror_keys(), len(app.server_errors())
    combos, skipped = build_combos(app, routes, spec)
    t0 = time.monotonic()
    sweep = run_sweep(app, combos)
    elapsed = time.monotonic() - t0
    problems = after_checks(app, before, files, canary, mirror, logs)
    path = write_report(app, "rest-sweep", {
        "mode": app.mode, "routes": len(routes), "combinations": len(combos), "skipped_legit_writes": skipped,
        "per_user": dict(sweep.tried), "seconds": round(elapsed, 1), "notes": notes,
        "stranger": app.stranger_status, "findings": [f.line() for f in sweep.findings], "after": problems})
    summary = (f"[hostile] {app.mode}: REST sweep of {len(routes)} routes × {len(app.users()) + 1} users "
               f"(with anonymous) × id forms = {len(combos)} combinations in {elapsed:.1f} s "
               f"({skipped} legitimate writes of the owner's roles not sent); per user {dict(sweep.tried)}; "
               f"stranger: {app.stranger_status or '-'}; report: {path}")
    print("\n" + summary + ("\n" + "\n".join(notes) if notes else ""))
    failures = []
    if sweep.findings:
        failures.append(report(sweep.findings))
    failures.extend(problems)
    if failures:
        pytest.fail(summary + "\n" + "\n".join(failures), pytrace=False)


# -- Gradio events ---------------------------------------------------------------------------------------------
def test_gradio_events_sweep(hostile_app: HostileApp):
    app = hostile_app
    before, files, canary = app.snapshot(), app.data_files(), app.canary_files()
    mirror, logs = app.mirror_keys(), len(app.server_errors())
    probe = app.gradio("labeler")
    config = probe.config()
    probe.close()
    comps, parents = component_map(config), layout_parents(config)
    deps = [d for d in config["dependencies"] if d.get("backend_fn")]
    pages = {d["id"]: page_of(config, d, parents, comps) for d in deps}
    # page loads first (as a browser does: they fill the session's pickers), then in fn_index order
    deps.sort(key=lambda d: (0 if any(t[1] == "load" for t in d.get("targets", [])) else 1, d["id"]))
    # every event with a backend function, as each user (the labeler is a member of the creator's
    # team job; the outsider and the Space's stranger are not)
    selection = {"outsider": deps, "labeler": deps, "stranger": deps}
    users = ["labeler", "outsider"] + (["stranger"] if "stranger" in app.tokens else [])
    sessions = {u: app.gradio(u) for u in users}
    findings: list[str] = []
    errors_during: dict[str, set[str]] = defaultdict(set)
    calls = Counter()
    statuses = Counter()
    messages = Counter()
    durations: list = []
    t0 = time.monotonic()

    def sweep_user(user: str) -> None:
        g = sessions[user]
        for dep in selection[user]:
            data = hostile_inputs(app, dep, comps)
            event = {"index": [0, 0], "value": app.objects.job_team, "selected": True} \
                if dep.get("collects_event_data") else None
            offset = app.log_size()
            t_call = time.monotonic()
            res = g.call(dep, data, event_data=event)
            durations.append((time.monotonic() - t_call, dep.get("api_name"), user))
            calls[user] += 1
            statuses[res.status] += 1
            if res.status in ("error", "refused"):
                messages[res.message[:90]] += 1
            text = res.text
            where = f"event {dep.get('api_name')} (fn_index {dep['id']}, {pages[dep['id']]}) as {user}"
            for error in app.errors_since(offset):  # users run in parallel: "during", not surely "by"
                errors_during[error[:300]].add(f"{dep.get('api_name')} (fn_index {dep['id']}) as {user}")
            if res.status == "http" and res.http_status and res.http_status >= 500:
                findings.append(f"{where}: HTTP {res.http_status} {res.message}")
            if res.status == "timeout":
                findings.append(f"{where}: {res.message}")
            marks = [*app.objects.markers_of("admin")] + ([] if user == "labeler" else
                                                          [*app.objects.markers_of("team")])
            for m in marks + [PASSWD_MARK]:
                if m in text:
                    i = text.index(m)
                    findings.append(f"{where}: leak of {m!r}: {excerpt(text[max(0, i - 80):i + 80])}")

    threads = [threading.Thread(target=sweep_user, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for error, events in sorted(errors_during.items()):
        findings.append(f"the server logged {error!r} during the events: {', '.join(sorted(events)[:8])}"
                        f"{' ...' if len(events) > 8 else ''}")
    for g in sessions.values():
        g.close()
    problems = after_checks(app, before, files, canary, mirror, logs)
    summary = (f"[hostile] {app.mode}: Gradio sweep: {len(deps)} events with a backend function; called "
               + ", ".join(f"{len(selection[u])} as {u}" for u in users) + ": "
               f"{sum(calls.values())} calls in {elapsed:.1f} s; outcomes {dict(statuses)}")
    print("\n" + summary)
    slow = sorted(durations, reverse=True)[:12]
    print("most frequent refusals: " + " | ".join(f"{n}x {m}" for m, n in messages.most_common(15)))
    print("slowest events: " + ", ".join(f"{n} as {u} {d:.1f} s" for d, n, u in slow))
    write_report(app, "gradio-sweep", {"summary": summary, "findings": findings, "after": problems})
    failures = findings[:60] + problems
    if failures:
        pytest.fail(summary + "\n" + "\n".join(failures), pytrace=False)


def test_gradio_own_page_with_others_ids(hostile_app: HostileApp):
    """The outsider opens a job of their own on the labeling page (the session's state is theirs,
    legitimately), then calls every event of that page with the creator's job and sample ids in
    every input they control: a handler must check that the samples it is given are its job's."""
    app = hostile_app
    skip_unless(app, "local")
    job, own_samples, _ = new_job(app, "outsider", "own")
    with app.client("outsider") as c:
        got = api(c, "GET", f"/api/v1/jobs/{job}")
        own = OwnJob(job, got["dataset_id"], got["name"])
    before, files, canary = app.snapshot(), app.data_files(), app.canary_files()
    mirror, logs = app.mirror_keys(), len(app.server_errors())
    g = app.gradio("outsider")
    config = g.config()
    comps, parents = component_map(config), layout_parents(config)
    load_page(g)
    opened = g.call(g.dependency("open_labeling"), [job])
    assert opened.status == "ok", f"the outsider could not open their own job: {opened.status} {opened.message}"
    shown = g.call(g.dependency("load_checklist"), [None])
    assert shown.status == "ok" and f"ownfile-{app.objects.marker}" in shown.text, \
        f"their own job's page did not show their samples: {shown.status} {excerpt(shown.text)}"
    page = [d for d in config["dependencies"] if d.get("backend_fn")
            and page_of(config, d, parents, comps) in ("page-checklist", "page-panels")
            and d.get("api_name") != "load_checklist"]
    statuses, findings = Counter(), []
    for dep in page:
        event = {"index": [0, 0], "value": app.objects.job_team, "selected": True} \
            if dep.get("collects_event_data") else None
        res = g.call(dep, hostile_inputs(app, dep, comps), event_data=event)
        statuses[res.status] += 1
        if res.status == "timeout" or (res.status == "http" and (res.http_status or 0) >= 500):
            findings.append(f"event {dep.get('api_name')}: {res.status} {res.message}")
        for m in [*app.objects.markers_of("admin"), *app.objects.markers_of("team"), PASSWD_MARK]:
            if m in res.text:
                findings.append(f"event {dep.get('api_name')}: leak of {m!r}")
    g.close()
    problems = after_checks(app, before, files, canary, mirror, logs, own=own)
    summary = (f"[hostile] own page, others' ids: {len(page)} events of the classification page and panels "
               f"with job {job} open; outcomes {dict(statuses)}")
    print("\n" + summary)
    if findings or problems:
        pytest.fail(summary + "\n" + "\n".join(findings[:60] + problems), pytrace=False)
