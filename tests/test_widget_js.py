"""The widgets' JavaScript travels once per page load (/widgets/<name>.js), not once per widget in
the page's config (components/widget_js.py)."""
from __future__ import annotations

import re

import pytest

from components.widget_js import ASSETS, script, widget_js


def test_each_widget_runs_its_asset_from_one_cached_script(store):
    from fastapi.testclient import TestClient

    from server import build_server

    client = TestClient(build_server(store, defer_ui=True))  # the routes only: no UI built
    for name in ("shape_canvas", "waveform", "span_picker", "label_editor", "video_player", "record_list"):
        kw = widget_js(name)
        src = re.fullmatch(r'<script src="(/widgets/[a-z_]+\.js\?v=[0-9a-f]{12})"></script>', kw["head"]).group(1)
        assert len(kw["js_on_load"]) < 200 and f"window.__lpWidgets['{name}'](" in kw["js_on_load"]
        r = client.get(src)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        assert "immutable" in r.headers["cache-control"] and r.headers["x-content-type-options"] == "nosniff"
        body = (ASSETS / f"{name}.js").read_text(encoding="utf-8")
        assert body in r.text and r.text.startswith("(window.__lpWidgets = window.__lpWidgets || {})")
        # another version (an old page after an upgrade) gets the current script, not cached for good
        stale = client.get(f"/widgets/{name}.js?v=000000000000")
        assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    for bad in ("nope", "Shape_canvas", "shape_canvas.js%00", "a" * 300, "shape-canvas"):
        assert client.get(f"/widgets/{bad}.js").status_code == 404, bad
    for bad in ("../server", "..%2fserver", "%2e%2e%2fapp"):  # out of /widgets: never a file's text
        r = client.get(f"/widgets/{bad}.js")
        assert r.status_code != 200 and "import" not in r.text, bad


def test_custom_events_stay_visible_to_gradio():
    """gr.HTML finds a widget's custom events quoted in js_on_load: the stub names them, and a
    script that does not trigger an event named for it is refused when the UI is built."""
    import gradio as gr

    kw = widget_js("shape_canvas", ("save", "navigate"))
    with gr.Blocks():
        html = gr.HTML(**kw)
        assert callable(html.save) and callable(html.navigate)
    with pytest.raises(ValueError, match="must trigger 'nothing'"):
        widget_js("shape_canvas", ("nothing",))
    with pytest.raises(ValueError):
        script("../README")
