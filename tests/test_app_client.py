"""App tests: the real app in a subprocess (first start with the demo job), driven over HTTP with
gradio_client (the UI's own event endpoints, in one session) and httpx (the media routes).

The labeling page's handlers take the current job from a gr.State, which the API does not list
as an input: a Client keeps one session, so calling /open_labeling first sets it, as pressing
"Label" does in the browser. The store is read (CLI, --json) only after the server stopped.
"""
from __future__ import annotations

import html

import httpx
import pytest

from tests.app_server import AppServer, refusal

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

DEMO = "demo-shapes"
# the labeling page's view inputs after the grid and label box: tab, hard, label filter, name,
# labeled by, cluster, origin, hard first, page, page size
VIEW_DEFAULTS = ("all", "All", [], "", "", "", "All", False, 1, 24)


@pytest.fixture
def demo_app(tmp_path):
    """The app on a fresh data folder, started without --no-demo (first start: the demo job)."""
    server = AppServer(tmp_path / "data", tmp_path / "server", demo=True)
    server.start()
    yield server
    server.stop()


def client_for(app: AppServer) -> Client:
    client = Client(app.url, verbose=False, download_files=False)
    app.before_stop.append(client.close)  # stops its heartbeat thread (the stream ends later)
    return client


def job_list(client: Client) -> tuple[dict, dict]:
    """Press Refresh in My Creations: the job table and the job picker (choices: (label, job id))."""
    return client.predict("", "", None, api_name="/on_filter")


def demo_job_id(client: Client) -> int:
    _table, picker = job_list(client)
    ids = [jid for label, jid in picker["choices"] if label.startswith(DEMO + "  ·  ")]
    assert len(ids) == 1, picker
    assert picker["value"] == ids[0]
    return int(ids[0])


def open_labeling(client: Client, job_id: int) -> dict:
    """Press Label on a job: returns the classification page's record list (items with id, name,
    thumb, label chips). The page is filled by the change event of its trigger, which a browser
    runs by itself."""
    client.predict(job_id, api_name="/open_labeling")
    out = client.predict(api_name="/load_checklist")
    grid = next(x for x in out if isinstance(x, dict) and "items" in x)
    return grid


def test_api_info_and_demo_job_on_first_start(demo_app):
    client = client_for(demo_app)
    info = client.view_api(return_format="dict", print_info=False)
    # UI plumbing is hidden from Gradio's API page (scripts use /api/v1), yet stays callable below
    assert info["named_endpoints"] == {}, sorted(info["named_endpoints"])

    table, _picker = job_list(client)
    rows = table["data"]
    assert len(rows) == 1 and rows[0][0] == DEMO
    assert rows[0][3] == "6/24 (25%)"

    job_id = demo_job_id(client)
    grid = open_labeling(client, job_id)
    assert len(grid["items"]) == 24
    assert sum(1 for it in grid["items"] if it["labels"]) == 6

    demo_app.stop()
    jobs = demo_app.cli_json("list-jobs")["jobs"]
    assert [(j["name"], j["type"], j["total"], j["labeled"]) for j in jobs] == [
        (DEMO, "image_classification", 24, 6)]

    # a second start on the same store does not offer the demo again
    demo_app.start()
    demo_app.stop()
    assert [j["name"] for j in demo_app.cli_json("list-jobs")["jobs"]] == [DEMO]


def test_media_routes(demo_app):
    client = client_for(demo_app)
    grid = open_labeling(client, demo_job_id(client))
    item = grid["items"][0]
    assert item["thumb"] == f"/media/{item['id']}/thumb"
    with httpx.Client(base_url=demo_app.url, timeout=30) as http:
        r = http.get(item["thumb"])
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/webp"
        assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WEBP"
        assert http.get(item["thumb"]).content == r.content  # cached thumbnail, same bytes

        r = http.get(f"/media/{item['id']}/file")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"].split(";")[0] == "sandbox"
        assert r.content[:8] == b"\x89PNG\r\n\x1a\n"

        unknown = max(it["id"] for it in grid["items"]) + 10_000
        assert http.get(f"/media/{unknown}/thumb").status_code == 404
        assert http.get(f"/media/{unknown}/file").status_code == 404
        assert http.get("/media/not-a-number/thumb").status_code == 404  # a malformed id is no sample (store/access.py)
        assert http.get("/healthz").json()["ok"] is True


def test_apply_label_through_the_ui_endpoints(demo_app):
    """Check two unlabeled samples and apply "circle" as the page does; a <script> label is
    refused with a readable error and changes nothing."""
    client = client_for(demo_app)
    grid = open_labeling(client, demo_job_id(client))
    chosen = [it["id"] for it in grid["items"] if not it["labels"]][:2]
    for it in grid["items"]:
        it["selected"] = it["id"] in chosen
    grid["selected"] = chosen

    out = client.predict(grid, ["circle"], *VIEW_DEFAULTS, api_name="/on_apply")
    assert "8/24 labeled" in out[0]
    new_grid = next(x for x in out if isinstance(x, dict) and "items" in x)
    labeled = {it["id"]: [chip["name"] for chip in it["labels"]] for it in new_grid["items"]}
    assert all(labeled[i] == ["circle"] for i in chosen)

    # the picker offers the job's labels only: a name it does not offer is refused before the handler
    with pytest.raises(AppError, match="is not in the list of choices"):
        client.predict(grid, ["<script>"], *VIEW_DEFAULTS, api_name="/on_apply")
    # a new label comes through Add label, which refuses <script> with a readable error
    message = refusal(client, "<script>", "", "#3366ff", grid, *VIEW_DEFAULTS, api_name="/on_add")
    # the message is HTML-escaped for the browser's toast; unescaped it names the refused label
    assert "'<script>' may hold only letters" in html.unescape(message)

    assert "check at least one image first" in refusal(client, {**grid, "selected": []}, ["circle"],
                                                   *VIEW_DEFAULTS, api_name="/on_apply")
    assert httpx.get(demo_app.url + "/healthz", timeout=10).status_code == 200

    demo_app.stop()
    stats = demo_app.cli_json("stats", "--job", DEMO)
    assert stats["total"] == 24 and stats["labeled"] == 8
    assert stats["labels"] == {"circle": 4, "square": 2, "triangle": 2}
    assert stats["annotators"] == {"demo": 6, "local": 2}


def test_gradio_event_timings_are_not_summarised_after_every_event(store, monkeypatch):
    """Gradio recomputes a pandas summary of its last 10,000 events, grouped by function, after
    every event unless told otherwise: ~0.2 s of the server's CPU per click with this UI's ~480
    functions (the hostile sweep's 954 events took 135 s with it, 12 s without). build_ui has it
    computed once per ANALYTICS_EVERY events."""
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    from ui import ANALYTICS_EVERY, build_ui

    demo = build_ui(store)
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == int(ANALYTICS_EVERY)  # (sic: Gradio's spelling)
