"""Property-based run of the REST API's OpenAPI spec (schemathesis) against the real app.

The app runs as a subprocess (``--no-demo``, a temporary data folder) with one image
classification job of six samples, copies of real images from ``shared/data/digits_8x8`` in a
temporary folder. Schemathesis generates valid and invalid requests for every operation of
``/api/v1/openapi.json`` and checks each answer: no server error (5xx), a documented status code,
the documented content type and response schema, 4xx for input the spec forbids, 405 with
``Allow`` for undocumented methods.

Bounded to run in about a minute on two cores: 10 examples per operation, no deadline, no
example database (nothing is written into the repository).

Ids: random ids nearly always name nothing (404), so half of the valid (positive) cases are
steered to the job and its samples (``steer_ids``), so that handlers run to the end. A generated
``DELETE /jobs/{id}`` of that job deletes a fresh copy instead, so the job lives through the run.

Paths on the server: operations that read or write a path the client names (``POST /jobs``
``dataset``, ``POST /jobs/{id}/imports`` ``path``, ``POST /jobs/{id}/samples`` ``source``,
``POST /jobs/{id}/exports`` ``out``) are kept, but every generated path string is rewritten to a
name inside a temporary sandbox folder before the request is sent, so a generated ``/`` or ``~``
never makes the app scan, read or write outside it. ``delete_source`` only ever reaches the
sandbox and the copied images.

Not checked: ``positive_data_acceptance`` (schemathesis expects every schema-valid request to be
accepted, but the API rightly answers 400 to requests whose JSON is well-formed and whose content
breaks a rule of the product, e.g. a label name with '/' or an unknown labeling type) -- those
answers are still checked for their status, shape and schema.
"""
from __future__ import annotations

import shutil
import zlib
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from tests.app_server import AppServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ROOT.parent / "shared" / "data" / "digits_8x8" / "images"
PATH_FIELDS = {("POST", "/jobs"): "dataset", ("POST", "/jobs/{job_id}/imports"): "path",
               ("POST", "/jobs/{job_id}/exports"): "out", ("POST", "/jobs/{job_id}/versions/{number}/exports"): "path",
               ("POST", "/models"): "source"}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture(scope="module")
def app(tmp_path_factory, sandbox):
    if not DIGITS.is_dir():
        pytest.skip(f"real images absent: {DIGITS} (shared data folder not mounted)")
    tmp = tmp_path_factory.mktemp("schemathesis-app")
    images = tmp / "images"
    images.mkdir()
    for p in sorted(DIGITS.glob("*.png"))[:6]:
        shutil.copyfile(p, images / p.name)
    server = AppServer(tmp / "data", tmp / "server", ui=False).start()  # the REST API only
    try:
        with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as c:
            job = c.post("/jobs", json={"name": "fuzzed", "type": "image_classification", "dataset": str(images),
                                        "labels": ["zero", "one", "two"]})
            assert job.status_code == 201, job.text
            job_id = job.json()["id"]
            items = c.get(f"/jobs/{job_id}/samples").json()["items"]
            assert len(items) == 6
            r = c.post(f"/jobs/{job_id}/samples/labels", json={"sample_ids": [items[0]["id"], items[1]["id"]],
                                                               "labels": ["zero"]})
            assert r.status_code == 200, r.text
        server.job_id = job_id
        server.sample_ids = [it["id"] for it in items]
        yield server
    finally:
        server.stop()
    if "Traceback" in server.log(tail=10**7):
        print(server.log())


@pytest.fixture(scope="module")
def api_schema(app):
    # /users is the admin's account management: a fuzzed POST /users would add the first user and
    # turn this single-user app multi-user for every later case (tests/test_users_admin.py tests it)
    return schemathesis.openapi.from_url(app.url + "/api/v1/openapi.json").exclude(path_regex="^/users")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex="^/users")  # see api_schema


def _in_sandbox(value, sandbox: Path):
    """A generated path string becomes a file name inside the sandbox (other values stay: they
    test the type checks)."""
    if isinstance(value, str) and "\x00" not in value:
        return str(sandbox / (quote(value, safe="")[:120] or "empty"))
    return value


def confine_paths(case, sandbox: Path) -> None:
    key = (case.operation.method.upper(), case.operation.path)
    body = case.body
    if not isinstance(body, dict):
        return
    if key in PATH_FIELDS and PATH_FIELDS[key] in body:
        body[PATH_FIELDS[key]] = _in_sandbox(body[PATH_FIELDS[key]], sandbox)
    if key == ("POST", "/jobs/{job_id}/samples") and isinstance(body.get("samples"), list):
        for ref in body["samples"]:
            if isinstance(ref, dict) and "source" in ref:
                ref["source"] = _in_sandbox(ref["source"], sandbox)


def steer_ids(case, app) -> None:
    """Every other valid case targets the fuzzed job and its samples; a delete of the job itself
    deletes a fresh copy of it."""
    params = case.path_parameters or {}
    digest = zlib.crc32(repr((case.body, case.query, params)).encode())
    if case.meta is not None and case.meta.generation.mode.is_positive and digest % 2:
        if "job_id" in params:
            params["job_id"] = app.job_id
        if "sample_id" in params:
            params["sample_id"] = app.sample_ids[digest % len(app.sample_ids)]
        if isinstance(case.body, dict) and isinstance(case.body.get("sample_ids"), list):
            case.body["sample_ids"] = app.sample_ids[: 1 + digest % 3]
    if (case.operation.method.upper(), case.operation.path) == ("DELETE", "/jobs/{job_id}") \
            and str(params.get("job_id")) == str(app.job_id):
        with httpx.Client(base_url=app.url + "/api/v1", timeout=30) as c:
            copy = c.post(f"/jobs/{app.job_id}/copy", json={})
            assert copy.status_code == 201, copy.text
            params["job_id"] = copy.json()["id"]


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@schema.parametrize()
def test_api_conforms_to_its_spec(case, app, sandbox):
    confine_paths(case, sandbox)
    steer_ids(case, app)
    case.call_and_validate(base_url=app.url + "/api/v1", excluded_checks=[positive_data_acceptance], timeout=30)
