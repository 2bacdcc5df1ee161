"""The shape canvas widget (components/shape_canvas.py, assets/shape_canvas.js / .css) in Chromium.

A tiny Gradio app built here (no pages/, no store): the widget on an 800x600 PNG served as a
data: URL, a command box + button that make Python set a new value, and a log textbox that the
widget's save / navigate events fill with what Python received (shapes_of, action_of, ...).
A person's actions are page.mouse / page.keyboard; coordinates are image pixels, converted to
screen positions with the widget's own view transform.
"""
from __future__ import annotations

import base64
import io
import json
import math
import os
import random
import socket

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from components.shape_canvas import (  # noqa: E402
    SEGMENTATION_TOOLS, SHAPE_TOOLS, action_of, canvas_value, new_labels_of, shape_canvas, shapes_of)

W, H = 800, 600
ROOT = "#shape-canvas .sc-root"
LABELS = [{"name": "car", "color": "#e6194b", "attributes": {"occluded": ["yes", "no"]}},
          {"name": "tree", "color": "#3cb44b"}]
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def _image_url() -> str:
    im = Image.new("RGB", (W, H), (90, 130, 160))
    d = ImageDraw.Draw(im)
    d.rectangle([100, 100, 300, 250], fill=(200, 80, 60))
    d.ellipse([450, 300, 650, 500], fill=(60, 180, 90))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


IMG = _image_url()


def random_polygons(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        cx, cy, r = rnd.uniform(40, W - 40), rnd.uniform(40, H - 40), rnd.uniform(8, 35)
        k = rnd.randint(6, 14)
        pts = [[round(cx + r * (0.6 + 0.4 * rnd.random()) * math.cos(2 * math.pi * j / k), 2),
                round(cy + r * (0.6 + 0.4 * rnd.random()) * math.sin(2 * math.pi * j / k), 2)]
               for j in range(k)]
        out.append({"id": f"p{i}", "type": "polygon", "label": LABELS[i % 2]["name"], "points": pts})
    return out


def value_for(cmd: str, prev):
    """'<kind>:<sample id>[:n]' -> the value Python sets (the previous tool / label carried over)."""
    kind, sid, *rest = (cmd or "").strip().split(":")
    prev = prev if isinstance(prev, dict) else {}
    tool, label = prev.get("tool"), prev.get("label")
    sid = int(sid)
    if kind == "empty":
        return canvas_value(sid, IMG, W, H, [], LABELS, SHAPE_TOOLS, tool=tool, label=label)
    if kind == "notool":
        return canvas_value(sid, IMG, W, H, [], LABELS, SHAPE_TOOLS)
    if kind == "shapes":
        shapes = [{"id": "r1", "type": "rectangle", "label": "car", "points": [[100, 100], [200, 200]]},
                  {"id": "p1", "type": "polygon", "label": "tree", "points": [[400, 100], [500, 100], [450, 200]]}]
        return canvas_value(sid, IMG, W, H, shapes, LABELS, SHAPE_TOOLS, tool=tool, label=label)
    if kind == "nolabels":
        return canvas_value(sid, IMG, W, H, [], [], SHAPE_TOOLS, tool=tool)
    if kind == "seg":
        return canvas_value(sid, IMG, W, H, [], LABELS, list(SEGMENTATION_TOOLS))
    if kind == "segsam":  # a SAM model registered: click to segment is offered too
        return canvas_value(sid, IMG, W, H, [], LABELS, [*SEGMENTATION_TOOLS, "segment"])
    if kind == "polys":
        return canvas_value(sid, IMG, W, H, random_polygons(int(rest[0])), LABELS, SHAPE_TOOLS, tool=tool)
    raise gr.Error(f"unknown command {cmd!r}")


def build_app() -> gr.Blocks:
    with gr.Blocks() as demo:
        canvas = shape_canvas(value=canvas_value(1, IMG, W, H, [], LABELS, SHAPE_TOOLS))
        with gr.Row():
            cmd = gr.Textbox(label="command", elem_id="sc-cmd")
            go = gr.Button("set value", elem_id="sc-set")
        log = gr.Textbox(label="last event", elem_id="sc-log", lines=3)
        count = gr.State(0)

        def record(kind):
            def handler(v, n):
                n += 1
                v = v if isinstance(v, dict) else {}
                return json.dumps({"n": n, "event": kind, "action": action_of(v), "dirty": v.get("dirty"),
                                   "tool": v.get("tool"), "label": v.get("label"), "sample_id": v.get("sample_id"),
                                   "shapes": shapes_of(v), "new_labels": new_labels_of(v)}), n
            return handler

        canvas.save(record("save"), [canvas, count], [log, count])
        canvas.navigate(record("navigate"), [canvas, count], [log, count])
        go.click(value_for, [cmd, canvas], canvas)
    return demo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """The tiny app on uvicorn in a thread, with the widgets' script route (as server.py has)."""
    import threading
    import time

    import uvicorn
    from fastapi import FastAPI

    from components.widget_js import install_route

    api = FastAPI()
    install_route(api)
    app = gr.mount_gradio_app(api, build_app(), path="")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the widget test app did not start"
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def cpage(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(app_url)
    pg.wait_for_selector(f"{ROOT}[data-render-ms]")
    pg.locator(f"{ROOT} canvas").first.hover()  # keys act on the widget under the pointer, as for a person
    yield pg
    context.close()
    assert not errors, errors


# -- helpers: a person's actions in image pixels -------------------------------------------------

def at(page: Page, x: float, y: float) -> tuple[float, float]:
    c = page.evaluate(f"([x, y]) => document.querySelector('{ROOT}').__shapeCanvas.imageToClient(x, y)", [x, y])
    return c["x"], c["y"]


def click(page: Page, x: float, y: float) -> None:
    page.mouse.click(*at(page, x, y))


def drag(page: Page, a, b, steps: int = 6) -> None:
    page.mouse.move(*at(page, *a))
    page.mouse.down()
    page.mouse.move(*at(page, *b), steps=steps)
    page.mouse.up()


def state(page: Page) -> dict:
    return page.evaluate(f"() => document.querySelector('{ROOT}').__shapeCanvas.state()")


def shape(page: Page, sid: str) -> dict:
    return next(s for s in state(page)["shapes"] if s["id"] == sid)


def last_event(page: Page) -> dict:
    text = page.locator("#sc-log textarea").input_value()
    return json.loads(text) if text else {"n": 0}


def wait_event(page: Page, before: int) -> dict:
    page.wait_for_function("n => { const t = document.querySelector('#sc-log textarea').value;"
                           " return t && JSON.parse(t).n > n; }", arg=before)
    return last_event(page)


def set_value(page: Page, cmd: str) -> None:
    """Python sets a new value (the command's sample id); wait until the widget drew it."""
    sid = cmd.split(":")[1]
    page.locator("#sc-cmd textarea, #sc-cmd input").first.fill(cmd)
    page.click("#sc-set")
    page.wait_for_selector(f'{ROOT}[data-rendered-sample="{sid}"]')


def message(page: Page):
    return page.locator(f"{ROOT} .sc-message")


def close(a, b, tol: float = 1.0) -> bool:
    return all(abs(float(p) - float(q)) <= tol for pa, pb in zip(a, b, strict=True) for p, q in zip(pa, pb, strict=True))


# -- Python helpers ------------------------------------------------------------------------------

def test_python_helpers():
    v = canvas_value(3, "/media/3/file", 640, 480,
                     [{"id": "a", "type": "circle", "label": "car", "points": [[10, 20]], "radius": 5}],
                     LABELS + [{"name": "car"}], SHAPE_TOOLS, tool="bogus", label="tree", message="hi")
    assert v["sample_id"] == 3 and v["width"] == 640 and v["tool"] is None and v["label"] == "tree"
    assert [lab["name"] for lab in v["labels"]] == ["car", "tree"] and v["labels"][0]["color"] == "#e6194b"
    assert v["dirty"] is False and v["action"] is None and v["message"] == "hi"
    assert shapes_of(v) == [{"id": "a", "type": "circle", "label": "car", "points": [[10, 20]], "radius": 5,
                             "attributes": {}}]
    assert shapes_of(None) == [] and shapes_of({"shapes": "x"}) == []
    v["labels"].append({"name": "bus", "color": "#123", "new": True})
    assert new_labels_of(v) == [{"name": "bus", "color": "#112233", "attributes": {}}]
    assert action_of({"action": "save_next"}) == "save_next" and action_of({"action": "rm -rf"}) is None
    assert canvas_value(None, "", 0, 0, [], [], ["polygon", "extreme_points", "nope"])["tools"] == \
        ["polygon", "extreme_points"]
    comp = shape_canvas()
    assert comp.elem_id == "shape-canvas" and callable(comp.save) and callable(comp.navigate)


# -- drawing ---------------------------------------------------------------------------------------

def test_draw_each_shape_with_the_mouse(cpage: Page):
    p = cpage
    p.keyboard.press("1")
    drag(p, (100, 80), (300, 220))
    p.keyboard.press("2")
    for pt in [(400, 100), (520, 120), (480, 230)]:
        click(p, *pt)
    click(p, 400, 100)  # the first point closes the polygon
    p.keyboard.press("3")
    drag(p, (200, 400), (250, 400))
    p.keyboard.press("4")
    click(p, 500, 300)
    click(p, 600, 350)
    p.mouse.dblclick(*at(p, 650, 300))  # a double-click finishes the line
    p.keyboard.press("5")
    click(p, 100, 500)
    click(p, 300, 550)
    p.keyboard.press("Enter")  # Enter finishes the dashed line
    p.keyboard.press("6")
    click(p, 700, 500)
    assert state(p)["draft"] is None

    ev = last_event(p)
    p.keyboard.press("Control+s")
    ev = wait_event(p, ev["n"])
    assert ev["event"] == "save" and ev["action"] == "save" and ev["dirty"] is True
    shapes = ev["shapes"]
    assert [s["type"] for s in shapes] == ["rectangle", "polygon", "circle", "line", "dashed_line", "point"]
    assert {s["label"] for s in shapes} == {"car"}
    assert len({s["id"] for s in shapes}) == 6
    rect, poly, circle, line, dashed, point = shapes
    assert close(rect["points"], [[100, 80], [300, 220]])
    assert close(poly["points"], [[400, 100], [520, 120], [480, 230]])
    assert close(circle["points"], [[200, 400]]) and abs(circle["radius"] - 50) <= 1
    assert close(line["points"], [[500, 300], [600, 350], [650, 300]])
    assert close(dashed["points"], [[100, 500], [300, 550]])
    assert close(point["points"], [[700, 500]])
    assert ev["tool"] == "point"


def test_click_outside_the_image_is_refused(cpage: Page):
    p = cpage
    p.keyboard.press("2")
    click(p, 300, 300)
    click(p, 400, 300)
    click(p, -60, 350)  # left of the image, still on the canvas
    expect(message(p)).to_contain_text("outside the image")
    st = state(p)
    assert st["shapes"] == [] and len(st["draft"]["points"]) == 2
    p.keyboard.press("Escape")
    assert state(p)["draft"] is None
    p.keyboard.press("1")
    drag(p, (-60, 100), (100, 200))  # a rectangle started outside
    p.keyboard.press("6")
    click(p, 820, 100)
    expect(message(p)).to_contain_text("outside the image")
    st = state(p)
    assert st["shapes"] == [] and st["dirty"] is False


def test_move_resize_undo_redo_escape_delete_all(cpage: Page):
    p = cpage
    set_value(p, "shapes:2")
    p.keyboard.press("v")
    drag(p, (150, 150), (200, 170))  # move the rectangle by (50, 20)
    assert close(shape(p, "r1")["points"], [[150, 120], [250, 220]])
    assert state(p)["dirty"] is True
    drag(p, (250, 220), (300, 260))  # its bottom-right handle
    assert close(shape(p, "r1")["points"], [[150, 120], [300, 260]])
    p.keyboard.press("Control+z")
    assert close(shape(p, "r1")["points"], [[150, 120], [250, 220]])
    p.keyboard.press("Control+z")
    assert close(shape(p, "r1")["points"], [[100, 100], [200, 200]])
    assert state(p)["dirty"] is False  # back to what Python set
    p.keyboard.press("Control+Shift+z")
    assert close(shape(p, "r1")["points"], [[150, 120], [250, 220]])
    p.keyboard.press("Control+y")
    assert close(shape(p, "r1")["points"], [[150, 120], [300, 260]])

    # Esc during a drag puts the shape back
    p.mouse.move(*at(p, 200, 200))
    p.mouse.down()
    p.mouse.move(*at(p, 400, 450), steps=5)
    assert not close(shape(p, "r1")["points"], [[150, 120], [300, 260]])
    p.keyboard.press("Escape")
    p.mouse.up()
    assert close(shape(p, "r1")["points"], [[150, 120], [300, 260]])
    expect(message(p)).to_contain_text("cancelled")

    # a move past the border is clamped, and says so
    drag(p, (200, 200), (-150, 200))
    assert close(shape(p, "r1")["points"], [[0, 120], [150, 260]])
    expect(message(p)).to_contain_text("clamped")

    # resize a polygon vertex
    drag(p, (450, 150), (450, 160))  # select + move the polygon by (0, 10)
    drag(p, (500, 110), (560, 130))  # drag its 2nd vertex
    assert close(shape(p, "p1")["points"], [[400, 110], [560, 130], [450, 210]])

    p.keyboard.press("Shift+Delete")
    assert state(p)["shapes"] == []
    p.keyboard.press("Control+z")
    assert len(state(p)["shapes"]) == 2

    ev = last_event(p)
    p.keyboard.press("Control+s")
    ev = wait_event(p, ev["n"])
    got = {s["id"]: s["points"] for s in ev["shapes"]}
    assert close(got["r1"], [[0, 120], [150, 260]]) and close(got["p1"], [[400, 110], [560, 130], [450, 210]])


def test_extreme_points_propose_an_editable_polygon(cpage: Page):
    p = cpage
    set_value(p, "seg:3")
    tools = p.locator(f"{ROOT} .sc-tool").evaluate_all("bs => bs.map(b => b.dataset.tool)")
    assert tools == ["select", "polygon", "extreme_points"]
    p.keyboard.press("2")
    clicks = [(300, 100), (150, 250), (320, 400), (500, 260)]  # top, left, bottom, right
    for pt in clicks:
        click(p, *pt)
    st = state(p)
    assert len(st["shapes"]) == 1 and st["draft"] is None
    poly = st["shapes"][0]
    assert poly["type"] == "polygon" and poly["label"] == "car" and len(poly["points"]) >= 8
    for c in clicks:
        assert any(close([c], [q]) for q in poly["points"]), c
    xs, ys = [q[0] for q in poly["points"]], [q[1] for q in poly["points"]]
    assert (min(xs), min(ys), max(xs), max(ys)) == (150, 100, 500, 400)
    # its vertices can be dragged right away
    drag(p, (500, 260), (530, 270))
    assert any(close([[530, 270]], [q]) for q in shape(p, poly["id"])["points"])


def test_click_to_segment_asks_the_server_and_keeps_the_outline_on_enter(cpage: Page):
    """The tool (offered with a SAM model registered) sends the clicks to /media/{id}/sam (a stand-in
    here, answering a box around the positive clicks minus 20 px per negative one), shows the
    outline, keeps it as an editable polygon on Enter, drops it on Esc."""
    p = cpage
    asked = []

    def sam(route):
        from urllib.parse import parse_qs, urlparse

        q = parse_qs(urlparse(route.request.url).query)
        nums = lambda k: [float(x) for x in q.get(k, [""])[0].split(",") if x]  # noqa: E731
        pos, neg = nums("pos"), nums("neg")
        asked.append((route.request.url.split("/media/")[1].split("/")[0], len(pos) // 2, len(neg) // 2))
        xs, ys = pos[0::2], pos[1::2]
        m = 40 - 20 * (len(neg) // 2)
        poly = [[min(xs) - m, min(ys) - m], [max(xs) + m, min(ys) - m], [max(xs) + m, max(ys) + m],
                [min(xs) - m, max(ys) + m]]
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({"points": poly, "method": "sam", "model": "sam@1", "score": 0.9}))

    p.route("**/media/*/sam?*", sam)
    set_value(p, "segsam:5")
    tools = p.locator(f"{ROOT} .sc-tool").evaluate_all("bs => bs.map(b => b.dataset.tool)")
    assert tools == ["select", "polygon", "extreme_points", "segment"]
    p.keyboard.press("3")
    click(p, 200, 170)
    expect(p.locator(f"{ROOT}[data-segment='proposed']")).to_have_count(1)
    p.mouse.move(*at(p, 260, 200))
    p.keyboard.down("Shift")
    click(p, 260, 200)  # not the object
    p.keyboard.up("Shift")
    p.wait_for_function(f"() => document.querySelector('{ROOT}').__shapeCanvas.state().draft?.neg?.length === 1")
    expect(p.locator(f"{ROOT}[data-segment='proposed']")).to_have_count(1)
    assert asked[-1] == ("5", 1, 1) and state(p)["shapes"] == []
    p.keyboard.press("Enter")
    st = state(p)
    assert st["draft"] is None and len(st["shapes"]) == 1
    poly = st["shapes"][0]
    assert poly["type"] == "polygon" and poly["label"] == "car"
    assert close(poly["points"], [[180, 150], [220, 150], [220, 190], [180, 190]])
    # Esc drops a proposal; Enter with nothing proposed keeps nothing
    click(p, 500, 400)
    expect(p.locator(f"{ROOT}[data-segment='proposed']")).to_have_count(1)
    p.keyboard.press("Escape")
    assert state(p)["draft"] is None and len(state(p)["shapes"]) == 1
    # a failing server says why and adds nothing
    p.unroute("**/media/*/sam?*")
    p.route("**/media/*/sam?*", lambda r: r.fulfill(status=422, content_type="application/json",
                                                    body=json.dumps({"detail": "no SAM model is registered"})))
    click(p, 600, 450)
    expect(p.locator(f"{ROOT}[data-segment='failed']")).to_have_count(1)
    expect(message(p)).to_contain_text("no SAM model is registered")
    p.keyboard.press("Enter")
    assert len(state(p)["shapes"]) == 1


def test_labels_new_label_and_escaping(cpage: Page):
    p = cpage
    set_value(p, "nolabels:4")
    p.keyboard.press("1")
    drag(p, (100, 100), (200, 200))
    expect(message(p)).to_contain_text("No label yet")
    assert state(p)["shapes"] == []
    p.fill(f"{ROOT} .sc-new-name", HOSTILE)
    p.click(f"{ROOT} .sc-add-label")
    expect(p.locator(f"{ROOT} .sc-label-select option")).to_have_text([HOSTILE + " (new)"])
    assert p.locator(f"{ROOT} img").count() == 0
    drag(p, (100, 100), (200, 200))
    st = state(p)
    assert len(st["shapes"]) == 1 and st["shapes"][0]["label"] == HOSTILE
    assert p.evaluate("window.__pwned") is None
    # the selected shape's label and attributes
    expect(p.locator(f"{ROOT} .sc-shape-label")).to_have_value(HOSTILE)
    ev = last_event(p)
    p.keyboard.press("Control+s")
    ev = wait_event(p, ev["n"])
    assert [lab["name"] for lab in ev["new_labels"]] == [HOSTILE]
    assert ev["shapes"][0]["label"] == HOSTILE


def test_attributes_of_the_selected_shape(cpage: Page):
    p = cpage
    p.keyboard.press("1")
    drag(p, (100, 100), (200, 200))
    p.select_option(f"{ROOT} .sc-attr[data-attr='occluded']", "yes")
    assert state(p)["shapes"][0]["attributes"] == {"occluded": "yes"}
    p.select_option(f"{ROOT} .sc-shape-label", "tree")
    s = state(p)["shapes"][0]
    assert s["label"] == "tree" and s["attributes"] == {}


def test_unsaved_changes_bar_on_a_and_d(cpage: Page):
    p = cpage
    bar = p.locator(f"{ROOT} .sc-confirm")
    ev = last_event(p)
    p.keyboard.press("a")  # nothing to save: navigates at once
    ev = wait_event(p, ev["n"])
    assert ev["event"] == "navigate" and ev["action"] == "prev"

    p.keyboard.press("6")
    click(p, 400, 300)
    assert state(p)["dirty"] is True
    # typing in another textbox never triggers the widget's keys
    p.locator("#sc-cmd textarea, #sc-cmd input").first.click()
    p.keyboard.type("dada 123")
    expect(bar).to_be_hidden()
    assert len(state(p)["shapes"]) == 1 and state(p)["tool"] == "point"
    p.click(f"{ROOT} .sc-status")  # back on the widget

    p.keyboard.press("d")
    expect(bar).to_be_visible()
    expect(bar.get_by_role("button")).to_have_text(["Save", "Discard", "Cancel"])
    bar.get_by_role("button", name="Cancel").click()
    expect(bar).to_be_hidden()
    assert last_event(p)["n"] == ev["n"]

    p.keyboard.press("d")
    bar.get_by_role("button", name="Save").click()
    ev = wait_event(p, ev["n"])
    assert ev["event"] == "save" and ev["action"] == "save_next" and len(ev["shapes"]) == 1

    p.keyboard.press("a")
    expect(bar).to_be_visible()
    bar.get_by_role("button", name="Discard").click()
    ev = wait_event(p, ev["n"])
    assert ev["event"] == "navigate" and ev["action"] == "prev" and ev["dirty"] is False


def test_tool_kept_for_the_next_image(cpage: Page):
    p = cpage
    p.keyboard.press("3")
    set_value(p, "empty:5")  # Python passes value.tool back
    assert state(p)["tool"] == "circle"
    set_value(p, "notool:6")  # no tool from Python: the widget keeps its own
    assert state(p)["tool"] == "circle"
    p.reload()
    p.wait_for_selector(f"{ROOT}[data-render-ms]")
    assert state(p)["tool"] == "circle"  # localStorage
    expect(p.locator(f"{ROOT} .sc-tool[data-tool='circle']")).to_have_attribute("aria-pressed", "true")


def test_zoom_pan_hide(cpage: Page):
    p = cpage
    before = at(p, 400, 300)
    s0 = state(p)["view"]["s"]
    p.mouse.move(*before)
    p.mouse.wheel(0, -400)
    p.wait_for_function(f"s => document.querySelector('{ROOT}').__shapeCanvas.state().view.s > s * 1.3", arg=s0)
    after = at(p, 400, 300)
    assert abs(after[0] - before[0]) <= 1 and abs(after[1] - before[1]) <= 1  # zoom around the cursor
    p.mouse.down(button="right")
    p.mouse.move(before[0] + 100, before[1] + 50, steps=4)
    p.mouse.up(button="right")
    moved = at(p, 400, 300)
    assert abs(moved[0] - before[0] - 100) <= 1 and abs(moved[1] - before[1] - 50) <= 1
    assert state(p)["shapes"] == []  # panning draws nothing
    p.click(f"{ROOT} .sc-zoom-reset")
    assert abs(state(p)["view"]["s"] - s0) < 1e-6
    p.keyboard.press("Shift+H")
    assert state(p)["hidden"] is True
    expect(p.locator(f"{ROOT} .sc-hide")).to_have_attribute("aria-pressed", "true")


def test_render_1000_polygons(cpage: Page):
    p = cpage
    set_value(p, "polys:7:1000")
    ms = float(p.get_attribute(ROOT, "data-render-ms"))
    st = state(p)
    assert len(st["shapes"]) == 1000
    print(f"render_1000_ms={ms:.1f}")  # measured, not asserted: benchmarks/shapes.py reports it
    assert ms > 0
    # selecting still works; the redraw time is reported, not asserted (benchmarks/shapes.py)
    p.keyboard.press("v")
    cx = sum(q[0] for q in st["shapes"][500]["points"]) / len(st["shapes"][500]["points"])
    cy = sum(q[1] for q in st["shapes"][500]["points"]) / len(st["shapes"][500]["points"])
    click(p, cx, cy)
    assert state(p)["selected"] is not None
    draw_ms = p.evaluate("() => window.__shapeCanvasLastDrawMs")
    print(f"redraw_1000_ms={draw_ms:.1f}")
    assert draw_ms > 0
