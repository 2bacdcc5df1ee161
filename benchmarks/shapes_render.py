#!/usr/bin/env python3
"""The shape canvas with 1,000 polygons on one image, in Chromium (components/shape_canvas.py).

    python benchmarks/shapes_render.py --json OUT.json [--polygons 1000] [--runs 7]

A tiny Gradio app (the widget, a command box and a button) on an 800x600 PNG; each run Python
sets a new value holding N random polygons (6-14 vertices each, two labels) on a new sample id,
and the page reports:

- render_1000_ms (median): from the widget receiving the value (its watch('value') callback) to
  the end of the first full draw of the image and every shape (window.__shapeCanvasLastRenderMs).
  This includes the main-thread time Gradio itself spends on the new value before the frame.
- end_to_end_ms: from the button click to that draw (server round trip included).
- draw_ms: the widget's draw call of a full redraw (JS time; the browser rasterizes afterwards).
- drag_frame_ms / zoom_frame_ms: the longest main-thread task while dragging one polygon
  (30 pointer moves) or zooming with the wheel (10 steps); 0 when no task exceeded 50 ms.
- commit_task_ms: the longest task after dropping the dragged polygon (the edit reaching
  props.value: Gradio's own processing of a 1,000-polygon value dominates it).

Target: render_1000_ms < 500. Headless Chromium with --disable-gpu rasterizes the canvas in
software: a desktop browser with GPU raster draws faster. A benchmark, not a test: nothing is
asserted.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import random
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from benchmarks.synthetic import cell_polygons  # noqa: E402
from components.shape_canvas import SHAPE_TOOLS, canvas_value, shape_canvas  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                 "--disable-dev-shm-usage"]
W, H = 800, 600
LABELS = [{"name": "car", "color": "#e6194b"}, {"name": "tree", "color": "#3cb44b"}]
ROOT_SEL = "#shape-canvas .sc-root"


def image_url() -> str:
    im = Image.new("RGB", (W, H), (90, 130, 160))
    d = ImageDraw.Draw(im)
    d.rectangle([100, 100, 300, 250], fill=(200, 80, 60))
    d.ellipse([450, 300, 650, 500], fill=(60, 180, 90))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def polygons(n: int, seed: int) -> list[dict]:
    return cell_polygons(n, random.Random(seed), W, H, [lab["name"] for lab in LABELS])


def build_app(img: str) -> gr.Blocks:
    with gr.Blocks() as demo:
        canvas = shape_canvas(value=canvas_value(1, img, W, H, [], LABELS, SHAPE_TOOLS))
        cmd = gr.Textbox(elem_id="bench-cmd", label="sample:polygons")
        go = gr.Button("load", elem_id="bench-go")

        def load(c):
            sid, n = (int(x) for x in c.split(":"))
            return canvas_value(sid, img, W, H, polygons(n, sid), LABELS, SHAPE_TOOLS, tool="polygon")

        go.click(load, cmd, canvas)
    return demo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LONGTASKS = """() => { window.__lt = []; if (!window.__ltObs) { window.__ltObs = new PerformanceObserver(
  l => l.getEntries().forEach(e => window.__lt.push(e.duration))); window.__ltObs.observe({entryTypes: ['longtask']}); } }"""


def run(n: int, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    img = image_url()
    demo = build_app(img)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector(f"{ROOT_SEL}[data-render-ms]")
            page.evaluate("() => document.querySelector('#bench-go').addEventListener('click', "
                          "() => { window.__clickAt = performance.now(); }, true)")
            render, e2e, draw = [], [], []
            for i in range(runs + 1):  # the first run warms up
                sid = 100 + i
                page.locator("#bench-cmd textarea, #bench-cmd input").first.fill(f"{sid}:{n}")
                page.click("#bench-go")
                page.wait_for_selector(f'{ROOT_SEL}[data-rendered-sample="{sid}"]', timeout=60_000)
                r = page.evaluate("() => [window.__shapeCanvasLastRenderMs, window.__shapeCanvasLastRenderAt - "
                                  "window.__clickAt, window.__shapeCanvasLastDrawMs]")
                if i:
                    render.append(r[0])
                    e2e.append(r[1])
                    draw.append(r[2])
            # interaction on the last image: drag one polygon, then wheel-zoom
            api = f"document.querySelector('{ROOT_SEL}').__shapeCanvas"
            page.keyboard.press("v")
            shape = page.evaluate(f"() => {api}.state().shapes[{n // 2}]")
            cx = sum(q[0] for q in shape["points"]) / len(shape["points"])
            cy = sum(q[1] for q in shape["points"]) / len(shape["points"])

            def at(x, y):
                c = page.evaluate(f"([x, y]) => {api}.imageToClient(x, y)", [x, y])
                return c["x"], c["y"]

            page.evaluate(LONGTASKS)
            page.mouse.move(*at(cx, cy))
            page.mouse.down()
            time.sleep(0.3)
            page.evaluate("() => { window.__lt = []; }")
            for k in range(30):
                page.mouse.move(*at(cx + k, cy + k / 2))
            drag_tasks = page.evaluate("() => window.__lt")
            page.evaluate("() => { window.__lt = []; }")
            page.mouse.up()
            time.sleep(1.0)
            commit_tasks = page.evaluate("() => window.__lt")
            page.evaluate("() => { window.__lt = []; }")
            page.mouse.move(*at(400, 300))
            for _ in range(10):
                page.mouse.wheel(0, -60)
            time.sleep(0.5)
            zoom_tasks = page.evaluate("() => window.__lt")
            version = browser.version
            browser.close()
    finally:
        demo.close()
    return {
        "render_1000_ms" if n == 1000 else f"render_{n}_ms": round(statistics.median(render), 1),
        "render_runs_ms": [round(x, 1) for x in render],
        "end_to_end_ms": round(statistics.median(e2e), 1),
        "draw_ms": round(statistics.median(draw), 1),
        "drag_frame_ms": round(max(drag_tasks, default=0), 1),
        "zoom_frame_ms": round(max(zoom_tasks, default=0), 1),
        "commit_task_ms": round(max(commit_tasks, default=0), 1),
        "polygons": n,
        "vertices": sum(len(s["points"]) for s in polygons(n, 100 + runs)),
        "target_ms": 500,
        "browser": f"Chromium {version} headless, --disable-gpu (software raster)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--polygons", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    res = run(args.polygons, args.runs)
    for k, v in res.items():
        print(f"{k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
