"""A (cold) start: the REST API answers while the web UI is still being built (server.DeferredUI);
every other path says "starting" (503, a page that reloads itself) until the UI is mounted."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from pathlib import Path

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
        # what the start built left the collector's generations (server.settle_heap)
        assert gc.get_freeze_count() > 100_000
        gc.unfreeze()  # this test process's own objects go back to the collector
        page = client.get("/")
        assert page.status_code == 200 and "Labelport" in page.text and "starting" not in page.text.lower()[:500]
        assert client.get("/config").status_code == 200
        assert client.get("/api/v1/jobs").status_code == 200  # the app's routes stay in front of the UI's
        assert client.get("/api/v1/no-such-route").status_code == 404


def test_gradio_is_imported_without_writing_its_editor_stubs(tmp_path):
    """app.py imports gradio with its .pyi writer off (gradio_import.py): the components still work,
    and once gradio is imported, asking again changes nothing."""
    root = Path(__file__).resolve().parent.parent
    script = (
        "import gradio_import\n"
        "assert gradio_import.skip_stub_writing() is True\n"
        "assert gradio_import.skip_stub_writing() is True  # twice: still one finder\n"
        "import sys, gradio as gr, gradio.component_meta as meta\n"
        "assert meta.create_or_modify_pyi is gradio_import._no_stub\n"
        "assert sum(isinstance(f, gradio_import._StubSkipper) for f in sys.meta_path) == 1\n"
        "with gr.Blocks() as demo:\n"
        "    box = gr.Textbox(label='name')\n"
        "    box.submit(lambda s: s.upper(), box, box)\n"
        "assert demo.config['components'] and demo.fns\n"
        "assert gradio_import.skip_stub_writing() is False  # too late once imported: says so\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")}
    env.update({"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(tmp_path)})
    res = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr


def test_the_ui_is_built_and_mounted_without_gradios_throwaway_apps(store, monkeypatch):
    """gr.Blocks() and the end of `with gr.Blocks()` each build a FastAPI app (and the second two
    full configs) that mount_gradio_app replaces; it computes the config twice itself. Mounted
    through gradio_import: one app, one config, and Gradio's queue runs events through the
    mounted app (blocks.app). Outside the build nothing is patched."""
    from fastapi import FastAPI
    from gradio.blocks import Blocks
    from gradio.routes import App

    import server
    from ui import CSS

    real_create, real_config = App.__dict__["create_app"], Blocks.__dict__["get_config_file"]
    calls = {"apps": 0, "configs": 0}

    def counted_create(*args, **kwargs):
        calls["apps"] += 1
        return real_create.__func__(*args, **kwargs)

    def counted_config(self):
        calls["configs"] += 1
        return real_config(self)

    monkeypatch.setattr(App, "create_app", staticmethod(counted_create))
    monkeypatch.setattr(Blocks, "get_config_file", counted_config)
    app = server.mount_ui(FastAPI(), store)
    assert calls == {"apps": 1, "configs": 1}
    gradio_app = app.router.routes[-1].app
    demo = gradio_app.get_blocks()
    assert demo.app is gradio_app  # what the queue calls the events through
    assert len(demo.config["components"]) > 500 and CSS in demo.config["css"]
    assert App.__dict__["create_app"].__func__ is counted_create and Blocks.get_config_file is counted_config


def test_gradios_front_end_is_served_mended():
    """The three front-end patches (gradio_frontend.py) all apply to the pinned Gradio; the mended
    files replace Gradio's at the same paths, ahead of its mount; every other asset is Gradio's."""
    import gradio_frontend
    from gradio_frontend import PATCHES, assets_dir, mended

    files, applied = mended()
    assert applied == tuple(p.name for p in PATCHES), "a patch no longer applies: Gradio's front end changed"
    assert set(files) == {next(n for n in files if n.startswith(p.prefix)) for p in PATCHES}
    for p in PATCHES:
        body = next(v for n, v in files.items() if n.startswith(p.prefix)).decode()
        assert p.old not in body and body.count(p.new) == 1 and body.startswith(p.prelude)

    from fastapi import FastAPI

    app = FastAPI()
    assert gradio_frontend.install_route(app) == len(files)
    client = TestClient(app)
    for name, body in files.items():
        r = client.get(f"/assets/{name}")
        assert r.status_code == 200 and r.content == body
        assert r.headers["content-type"].startswith("text/javascript") and r.headers["cache-control"] == "no-cache"
        again = client.get(f"/assets/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
        original = (assets_dir() / name).read_bytes()
        assert original != body and len(body) - len(original) < 1000  # a mend, not another file


def test_the_running_ui_serves_the_mended_front_end(store):
    from gradio_frontend import assets_dir, mended
    from server import build_server

    files, _ = mended()
    with TestClient(build_server(store)) as client:
        for name, body in files.items():
            assert client.get(f"/assets/{name}").content == body  # the app's route, before Gradio's
        index = next(assets_dir().glob("index-*.js")).name
        r = client.get(f"/assets/{index}")
        assert r.status_code == 200 and r.content == (assets_dir() / index).read_bytes()
        assert client.get("/assets/../../../etc/passwd").status_code in (400, 404)


def test_ctrl_c_stops_the_app_quietly(tmp_path):
    """Ctrl+C (SIGINT) on `python app.py`: the app stops without a traceback or a list of
    "leaked" objects (what settle_heap froze goes back to the collector on shutdown)."""
    import signal

    from tests.app_server import AppServer

    server = AppServer(tmp_path / "data", tmp_path / "server").start()
    proc = server.proc
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        log = server.log(tail=10**6)
        assert "the web UI is ready" in log
        assert "Traceback" not in log and "leaked" not in log, log[-3000:]
    finally:
        server.stop()
