"""A (cold) start: the REST API answers while the web UI is still being built (server.DeferredUI);
every other path says "starting" (503, a page that reloads itself) until the UI is mounted."""
from __future__ import annotations

import time

from fastapi.testclient import TestClient


def test_the_api_answers_before_the_ui_is_built(store):
    from server import build_server

    app = build_server(store, defer_ui=True)
    client = TestClient(app)  # no lifespan: the server never started, the UI is never built
    assert client.get("/api/v1/jobs").status_code == 200
    assert client.get("/healthz").json()["ui"] == "starting"
    for path in ("/", "/config", "/gradio_api/info"):
        r = client.get(path)
        assert r.status_code == 503 and r.headers["retry-after"] == "1", path
        assert "Labelport is starting" in r.text and 'http-equiv=refresh' in r.text
    # the API's own unknown paths stay 404, never "starting"
    assert client.get("/api/v1/no-such-route").status_code == 404
    assert client.get("/media/1/nothing").status_code == 404


def test_the_ui_is_mounted_once_the_server_runs(store):
    from server import build_server

    app = build_server(store, defer_ui=True)
    with TestClient(app) as client:  # the lifespan runs: the server started, the UI builds in a thread
        deadline = time.monotonic() + 300
        while client.get("/healthz").json()["ui"] == "starting":
            assert time.monotonic() < deadline, "the UI was not built within 300 s"
            time.sleep(0.05)
        assert client.get("/healthz").json()["ui"] == "ready"
        page = client.get("/")
        assert page.status_code == 200 and "Labelport" in page.text and "starting" not in page.text.lower()[:500]
        assert client.get("/config").status_code == 200
        assert client.get("/api/v1/jobs").status_code == 200  # the app's routes stay in front of the UI's
        assert client.get("/api/v1/no-such-route").status_code == 404
