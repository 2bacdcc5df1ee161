"""A person labels shapes in the running app (Chromium, Playwright sync API); the store is checked
with the server stopped.

- Object detection: a job created from the UI (JSON label set with an attribute, 3 uploaded cell
  images); the six shapes drawn with the mouse, labels picked in the widget, Ctrl+S, D; after a
  page reload the shapes are there again; move, resize, undo / redo, save; a point outside the
  image is refused; Shift+Delete + save sends the image back to Unlabeled (and Ctrl+Z + save
  restores it); COCO export from the Export panel; then the store.
- Unsaved changes: a drawn shape, D: the widget's Save / Discard / Cancel bar; Discard opens the
  next image and saves nothing; a click on another card is refused; Save in the bar saves and
  goes on, also on the Unlabeled tab (where the saved image leaves the view).
- Segmentation: a job made with the CLI from the cells COCO polygons; the canvas shows the image's
  polygons; an extreme-points polygon is drawn and saved; quick review: two crops relabeled
  "other" (Undo / Redo take back / redo both), one of them deleted, Undo, Apply.

Coordinates are image pixels, turned into screen positions by the widget's own view transform
(``__shapeCanvas.imageToClient``), as in test_shape_canvas.py.
"""
from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Locator, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.landing import open_job  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # /work/shared/data
CELLS = SHARED_DATA / "cells"
CELLS_COCO = CELLS / "cells_coco_polygons.json"
LONG = 45_000  # ms: a handler that touches the store and re-renders the page

LABEL_SET = {"labels": [{"name": "cell", "color": "#ff8800", "attributes": {"state": ["alive", "dead"]}},
                        {"name": "debris"}]}


@pytest.fixture
def cell_images(tmp_path) -> list[Path]:
    """0.png, 1.png, 2.png of the shared cells data (512 x 512), copied to tmp_path/cells."""
    if not (CELLS / "images").is_dir():
        pytest.skip(f"shared data {CELLS / 'images'} is absent: the shape flows draw on its cell images")
    folder = tmp_path / "cells"
    folder.mkdir()
    out = []
    for i in range(3):
        shutil.copy(CELLS / "images" / f"{i}.png", folder / f"{i}.png")
        out.append(folder / f"{i}.png")
    return out


# -- a server prepared with the CLI before it starts ---------------------------------------------

@pytest.fixture
def cli_server(tmp_path):
    """An AppServer not started yet: the test runs ``server.cli(...)`` (the store is free), then
    ``server.start()``. Stopped at teardown."""
    server = AppServer(tmp_path / "data", tmp_path / "server")
    yield server
    server.stop()


@pytest.fixture
def cli_page(browser, cli_server, page_errors, request, tmp_path):
    """A page like conftest's ``page``, for ``cli_server`` (closed before the server stops)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    context.set_default_timeout(45_000)  # a busy 2-core machine: opening a labeling page takes ~10 s idle
    from playwright.sync_api import expect

    expect.set_options(timeout=45_000)  # assertions too, as conftest's page
    pg = context.new_page()
    pg.on("pageerror", lambda e: page_errors.append(str(e)))
    closed = []

    def close():
        if closed:
            return
        closed.append(True)
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                shot = tmp_path / f"{request.node.name}.png"
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failure: {shot}\nserver log:\n{cli_server.log()}")
            except Exception:  # the page may be gone
                pass
        context.close()

    cli_server.before_stop.append(close)
    yield pg
    close()


# -- helpers a person's actions map to -----------------------------------------------------------

def open_accordion(page: Page, elem_id: str) -> Locator:
    acc = page.locator(f"#{elem_id}")
    head = acc.locator("button.label-wrap").first
    if "open" not in (head.get_attribute("class") or "").split():
        head.click()
    expect(head).to_have_class(re.compile(r"\bopen\b"))
    return acc


def export_download(page: Page, base_url: str, format_label: str) -> bytes:
    """Export the open job from the Export panel in a format; the downloaded file's bytes."""
    open_accordion(page, "export")
    pick_option(page, "export-format", format_label)
    page.locator("#export-submit").click()
    link = page.locator("#export-file a[href*='/file=']")
    expect(link).to_have_count(1, timeout=LONG)
    href = link.get_attribute("href")
    res = httpx.get(href if href.startswith("http") else base_url + href, timeout=30)
    assert res.status_code == 200
    return res.content


def pick_option(page: Page, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.locator(f"#{dropdown_id} input")).to_have_value(option)


def toast(page: Page, text: str | re.Pattern) -> Locator:
    return page.locator('[data-testid="toast-body"]').filter(has_text=text)


def expect_toast(page: Page, text: str | re.Pattern) -> None:
    """A toast holding `text` shows; it is closed so that the next check sees a new one."""
    t = toast(page, text).first
    expect(t).to_be_visible(timeout=LONG)
    close_toasts(page)


def close_toasts(page: Page) -> None:
    buttons = page.locator('[data-testid="toast-close"]')
    for _ in range(10):
        if not buttons.count():
            break
        try:
            buttons.first.click(timeout=2_000)
        except PlaywrightError:  # it closed by itself meanwhile
            pass
    expect(buttons).to_have_count(0)


def card(page: Page, grid: str, name: str) -> Locator:
    return page.locator(f"#{grid} .lp-card").filter(
        has=page.locator(".lp-name", has_text=re.compile("^" + re.escape(name) + "$")))


class Canvas:
    """The shape widget of one labeling page (#shapes-canvas / #shapes-canvas)."""

    def __init__(self, page: Page, elem_id: str):
        self.page = page
        self.sel = f"#{elem_id} .sc-root"
        self.root = page.locator(self.sel)

    def js(self, body: str, arg=None):
        fn = f"(arg) => {{ const w = document.querySelector('{self.sel}').__shapeCanvas; {body} }}"
        return self.page.evaluate(fn, arg)

    def state(self) -> dict:
        return self.js("return w.state();")

    def shapes(self) -> list[dict]:
        return self.state()["shapes"]

    def at(self, x: float, y: float) -> tuple[float, float]:
        c = self.js("return w.imageToClient(arg[0], arg[1]);", [x, y])
        return c["x"], c["y"]

    def wait_sample(self, sample_id: int, n_shapes: int | None = None) -> None:
        """Python's value for this sample is drawn (image loaded), nothing unsaved, and it holds
        n_shapes shapes."""
        self.page.wait_for_selector(f'{self.sel}[data-rendered-sample="{sample_id}"]', timeout=LONG)
        cond = "s.dirty === false" + ("" if n_shapes is None else f" && s.shapes.length === {n_shapes}")
        self.page.wait_for_function(
            f"() => {{ const s = document.querySelector('{self.sel}').__shapeCanvas.state(); return {cond}; }}",
            timeout=LONG)

    def wait_clean(self, n_shapes: int) -> None:
        """After a save: Python's answer came back (nothing unsaved) with n_shapes shapes."""
        self.page.wait_for_function(
            f"() => {{ const s = document.querySelector('{self.sel}').__shapeCanvas.state();"
            f" return s.dirty === false && s.shapes.length === {n_shapes}; }}", timeout=LONG)

    def show(self) -> None:
        """Scroll the drawing area to the middle of the viewport and put the pointer on it (keys
        act on the widget under the pointer, as for a person)."""
        self.root.locator("canvas").first.evaluate("c => c.scrollIntoView({block: 'center'})")
        self.hover()

    def hover(self) -> None:
        box = self.root.locator("canvas").first.bounding_box()
        self.page.mouse.move(box["x"] + 20, box["y"] + 20)

    def key(self, key: str) -> None:
        self.hover()
        self.page.keyboard.press(key)

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(*self.at(x, y))

    def drag(self, a, b, steps: int = 6) -> None:
        self.page.mouse.move(*self.at(*a))
        self.page.mouse.down()
        self.page.mouse.move(*self.at(*b), steps=steps)
        self.page.mouse.up()

    def message(self) -> Locator:
        return self.root.locator(".sc-message")

    def bar(self) -> Locator:
        return self.root.locator(".sc-confirm")


def close(a, b, tol: float = 1.0) -> bool:
    """Point lists equal within tol pixels."""
    return len(a) == len(b) and all(abs(float(p) - float(q)) <= tol
                                    for pa, pb in zip(a, b) for p, q in zip(pa, pb, strict=True))


def crop_target(url: str) -> tuple[int, list[float]]:
    """(sample id, [x1, y1, x2, y2]) of a quick-review crop's image URL /media/<id>/crop?x1=..."""
    parsed = urlparse(url)
    sid = int(parsed.path.split("/")[-2])
    q = parse_qs(parsed.query)
    return sid, [float(q[k][0]) for k in ("x1", "y1", "x2", "y2")]


def by_type(shapes: list[dict]) -> dict[str, dict]:
    return {s["type"]: s for s in shapes}


# What is drawn on 0.png (image pixels), and where it is after the edits
RECT = [[60, 60], [160, 140]]
POLY = [[220, 60], [320, 80], [280, 170]]
CIRCLE_C, CIRCLE_R = [100, 300], 40
LINE = [[250, 250], [350, 300], [400, 260]]
DASHED = [[60, 440], [200, 480]]
POINT = [[450, 450]]
RECT_MOVED = [[80, 85], [180, 165]]  # moved by (20, 25)
POLY_RESIZED = [[220, 60], [340, 100], [280, 170]]  # its 2nd vertex dragged by (20, 20)


def check_drawn(shapes: list[dict], rect=RECT, poly=POLY) -> None:
    assert [s["type"] for s in shapes] == ["rectangle", "polygon", "circle", "line", "dashed_line", "point"]
    assert len({s["id"] for s in shapes}) == 6
    got = by_type(shapes)
    assert [got[t]["label"] for t in ("rectangle", "polygon", "circle", "line", "dashed_line", "point")] == \
        ["cell", "cell", "debris", "debris", "debris", "cell"]
    assert got["rectangle"].get("attributes") == {"state": "alive"}
    assert close(got["rectangle"]["points"], rect), got["rectangle"]
    assert close(got["polygon"]["points"], poly), got["polygon"]
    assert close(got["circle"]["points"], [CIRCLE_C]) and abs(got["circle"]["radius"] - CIRCLE_R) <= 1, got["circle"]
    assert close(got["line"]["points"], LINE), got["line"]
    assert close(got["dashed_line"]["points"], DASHED), got["dashed_line"]
    assert close(got["point"]["points"], POINT), got["point"]


# -- 1 + 4: object detection, created from the UI ------------------------------------------------

def test_detection_draw_reload_edit_delete_and_export(app, page: Page, page_errors, cell_images):
    job_name = "cells od"
    page.goto(app.url)
    page.locator("#job-picker").wait_for()

    # My Creations -> Create a job: name, type, a JSON label set, 3 uploaded images
    open_accordion(page, "create-job")
    page.locator("#create-name textarea").fill(job_name)
    pick_option(page, "create-type", "Images / Object detection")
    page.locator("#create-files input[type=file]").set_input_files([str(f) for f in cell_images])
    expect(page.locator("#create-files a[href*='/file=']")).to_have_count(3, timeout=LONG)
    # the label-set editor takes a JSON label set (its power-user view), then shows it as rows
    page.locator("#create-labels .le-json-box summary").click()
    page.locator("#create-labels .le-json").fill(json.dumps(LABEL_SET))
    page.locator("#create-labels .le-json-use").click()
    expect(page.locator("#create-labels .le-label")).to_have_count(len(LABEL_SET["labels"]))
    page.locator("#create-submit").click()
    expect(page.locator("#jobs-status")).to_contain_text(f"Created job {job_name}", timeout=LONG)
    expect(page.locator("#job-picker input")).to_have_value(f"{job_name}  ·  Object detection")

    # Label: the detection page, the first image open
    page.locator("#job-label").click()
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(3, timeout=LONG)
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (3)")
    ids = {n: int(card(page, "shapes-grid", n).get_attribute("data-id")) for n in ("0.png", "1.png", "2.png")}
    cv = Canvas(page, "shapes-canvas")
    cv.wait_sample(ids["0.png"], 0)
    tools = cv.root.locator(".sc-tool").evaluate_all("bs => bs.map(b => b.dataset.tool)")
    assert tools == ["select", "rectangle", "polygon", "circle", "line", "dashed_line", "point"]
    expect(cv.root.locator(".sc-label-select option")).to_have_text(["cell", "debris"])
    cv.show()

    # the six shapes; rectangle and polygon "cell" (the rectangle's state "alive"), then "debris"
    cv.key("1")
    cv.drag(*RECT)
    cv.root.locator(".sc-attr[data-attr='state']").select_option("alive")
    cv.key("2")
    for pt in POLY:
        cv.click(*pt)
    cv.key("Enter")
    cv.root.locator(".sc-label-select").select_option("debris")
    cv.key("3")
    cv.drag(CIRCLE_C, [CIRCLE_C[0] + CIRCLE_R, CIRCLE_C[1]])
    cv.key("4")
    for pt in LINE:
        cv.click(*pt)
    cv.key("Enter")
    cv.key("5")
    for pt in DASHED:
        cv.click(*pt)
    cv.key("Enter")
    cv.root.locator(".sc-label-select").select_option("cell")
    cv.key("6")
    cv.click(*POINT[0])
    st = cv.state()
    assert st["draft"] is None and st["dirty"] is True
    check_drawn(st["shapes"])

    # Ctrl+S: saved (toast), the widget's value comes back clean; the first card shows its labels
    cv.key("Control+s")
    expect_toast(page, "Saved 6 shapes")
    cv.wait_clean(6)
    expect(page.locator("#shapes-tabs")).to_contain_text("Labeled (1)")
    expect(card(page, "shapes-grid", "0.png").locator(".lp-label")).to_have_text(["cell", "debris"])

    # D: nothing unsaved, so the next image opens at once
    cv.key("d")
    cv.wait_sample(ids["1.png"], 0)
    expect(cv.bar()).to_be_hidden()

    # reload the page: the address bar's link (issue 15) opens the job again; the first image: the six
    # shapes are back
    page.reload()
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(3, timeout=LONG)
    card(page, "shapes-grid", "0.png").click()
    cv.wait_sample(ids["0.png"], 6)
    check_drawn(cv.shapes())
    cv.show()

    # V: move the rectangle, resize the polygon (drag its 2nd vertex); undo, redo
    cv.key("v")
    cv.click(110, 100)  # select the rectangle
    assert cv.state()["selected"] == by_type(cv.shapes())["rectangle"]["id"]
    cv.drag([110, 100], [130, 125])
    assert close(by_type(cv.shapes())["rectangle"]["points"], RECT_MOVED)
    cv.click(273, 103)  # select the polygon (inside it)
    assert cv.state()["selected"] == by_type(cv.shapes())["polygon"]["id"]
    cv.drag(POLY[1], POLY_RESIZED[1])
    assert close(by_type(cv.shapes())["polygon"]["points"], POLY_RESIZED)
    assert cv.state()["dirty"] is True
    cv.key("Control+z")
    assert close(by_type(cv.shapes())["polygon"]["points"], POLY)
    assert close(by_type(cv.shapes())["rectangle"]["points"], RECT_MOVED)
    cv.key("Control+Shift+z")
    assert close(by_type(cv.shapes())["polygon"]["points"], POLY_RESIZED)
    # the page's Save button this time
    page.locator("#shapes-save").click()
    expect_toast(page, "Saved 6 shapes")
    cv.wait_clean(6)
    check_drawn(cv.shapes(), rect=RECT_MOVED, poly=POLY_RESIZED)

    # a point outside the image is refused with a visible message; nothing changes
    cv.show()
    cv.key("6")
    cv.click(-40, 250)  # left of the image, still on the canvas
    expect(cv.message()).to_be_visible()
    expect(cv.message()).to_contain_text("outside the image")
    st = cv.state()
    assert st["dirty"] is False and len(st["shapes"]) == 6
    check_drawn(st["shapes"], rect=RECT_MOVED, poly=POLY_RESIZED)

    # Shift+Delete deletes all; saved, the image is back in Unlabeled
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (2)")
    cv.key("Shift+Delete")
    assert cv.shapes() == []
    cv.key("Control+s")
    expect_toast(page, "no shapes left, the image is back in Unlabeled")
    cv.wait_clean(0)
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (3)")
    expect(page.locator("#shapes-tabs")).to_contain_text("Labeled (0)")
    expect(card(page, "shapes-grid", "0.png").locator(".lp-label")).to_have_count(0)

    # Ctrl+Z brings the six shapes back (the widget's history outlives a save); save again
    cv.key("Control+z")
    assert len(cv.shapes()) == 6 and cv.state()["dirty"] is True
    cv.key("Control+s")
    expect_toast(page, "Saved 6 shapes")
    cv.wait_clean(6)
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (2)")

    # Export panel: COCO, the download holds the shapes
    content = export_download(page, app.url, "COCO JSON")
    link = page.locator("#export-file a[href*='/file=']")
    href = link.get_attribute("href")
    # COCO writes its images beside the JSON: the download is a zip of both
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        names = zf.namelist()
        assert "images/0.png" in names, names
        coco = json.loads(zf.read(next(n for n in names if n.endswith(".json"))))
    assert [(im["file_name"], im["width"], im["height"]) for im in coco["images"]] == [("images/0.png", 512, 512)]
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(cats.values()) == ["cell", "debris"]
    anns = coco["annotations"]
    assert len(anns) == 6
    # a rectangle's segmentation is its box as a polygon (so annToMask works), a polygon's its vertices
    rects = [a for a in anns if "labelport_shape" not in a and len(a["segmentation"][0]) == 8]
    assert len(rects) == 1
    (x1, y1), (x2, y2) = RECT_MOVED
    assert all(abs(a - b) <= 1 for a, b in zip(rects[0]["bbox"], [x1, y1, x2 - x1, y2 - y1]))
    assert cats[rects[0]["category_id"]] == "cell" and rects[0].get("attributes") == {"state": "alive"}
    polys = [a for a in anns if "labelport_shape" not in a and len(a["segmentation"][0]) == 6]
    assert len(polys) == 1
    assert close(list(zip(polys[0]["segmentation"][0][::2], polys[0]["segmentation"][0][1::2])), POLY_RESIZED)
    assert sorted(a["labelport_shape"]["type"] for a in anns if "labelport_shape" in a) == \
        ["circle", "dashed_line", "line", "point"]
    # with splits: one COCO file per split (the one labeled image lands in train); a bad spec is said
    page.locator("#export-split input, #export-split textarea").first.fill("train=0.5,val=0.6")
    page.locator("#export-submit").click()
    expect_toast(page, "add up to 1.1")
    page.locator("#export-split input, #export-split textarea").first.fill("train=0.5,val=0.5")
    page.locator("#export-submit").click()
    expect(link).not_to_have_attribute("href", href, timeout=LONG)  # the new export's download
    href = link.get_attribute("href")
    res = httpx.get(href if href.startswith("http") else app.url + href, timeout=30)
    with zipfile.ZipFile(io.BytesIO(res.content)) as zf:
        assert [n for n in zf.namelist() if n.endswith(".json")] == [next(n for n in zf.namelist()
                                                                           if n.endswith("_train.json"))]
    assert not page_errors, page_errors

    # the store: 0.png labeled with the six shapes (after the edits), 1.png and 2.png unlabeled
    app.stop()
    from store.jobs import find_job
    from store.samples import SampleQuery, get_sample, query_samples
    from store.stats import job_stats

    with app.open_store() as store:
        job = find_job(store, job_name)
        assert job.type == "object_detection"
        assert job.label_set.names() == ["cell", "debris"]
        assert job.label_set.labels[0].attributes == {"state": ["alive", "dead"]}
        items = {s.name: s for s in query_samples(store, job.id, SampleQuery(page_size=50)).items}
        assert sorted(items) == ["0.png", "1.png", "2.png"]
        first = get_sample(store, job.id, ids["0.png"])
        assert first.status == "labeled" and sorted(first.labels) == ["cell", "debris"]
        check_drawn(first.annotation["shapes"], rect=RECT_MOVED, poly=POLY_RESIZED)
        assert not any(p[0] < 0 for s in first.annotation["shapes"] for p in s["points"])
        for name in ("1.png", "2.png"):
            assert items[name].status == "unlabeled" and items[name].labels == [] and not items[name].annotation
        st = job_stats(store, job.id)
        assert (st.total, st.labeled, st.unlabeled, st.to_be_confirmed) == (3, 1, 2, 0)
        assert st.labels == {"cell": 1, "debris": 1}


# -- 2: unsaved changes ----------------------------------------------------------------------------

def test_unsaved_changes_bar_discard_save_and_next(cli_server, cli_page: Page, page_errors, cell_images, tmp_path):
    page = cli_page
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(LABEL_SET), encoding="utf-8")
    cli_server.cli("create-job", "--name", "unsaved", "--type", "object_detection",
                   "--dataset", str(cell_images[0].parent), "--labels", str(labels))
    cli_server.start()

    page.goto(cli_server.url)
    expect(page.locator("#job-picker input")).to_have_value("unsaved  ·  Object detection")
    page.locator("#job-label").click()
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(3, timeout=LONG)
    ids = {n: int(card(page, "shapes-grid", n).get_attribute("data-id")) for n in ("0.png", "1.png", "2.png")}
    cv = Canvas(page, "shapes-canvas")
    cv.wait_sample(ids["0.png"], 0)
    cv.show()
    cv.key("1")
    cv.drag([50, 50], [150, 120])
    assert len(cv.shapes()) == 1 and cv.state()["dirty"] is True

    # D with an unsaved shape: the bar asks; Cancel stays, D again, Discard opens the next image
    cv.key("d")
    bar = cv.bar()
    expect(bar).to_be_visible()
    expect(bar.get_by_role("button")).to_have_text(["Save", "Discard", "Cancel"])
    bar.get_by_role("button", name="Cancel").click()
    expect(bar).to_be_hidden()
    assert len(cv.shapes()) == 1 and cv.state()["dirty"] is True
    cv.key("d")
    expect(bar).to_be_visible()
    bar.get_by_role("button", name="Discard").click()
    cv.wait_sample(ids["1.png"], 0)
    expect(bar).to_be_hidden()
    expect(page.locator("#shapes-sample-info")).to_contain_text("1.png")
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (3)")

    # back on 0.png (A: nothing unsaved on 1.png): the discarded rectangle is not there
    cv.key("a")
    cv.wait_sample(ids["0.png"], 0)
    cv.key("d")
    cv.wait_sample(ids["1.png"], 0)

    # a point on 1.png; a click on another card is refused (warning), 1.png stays open and marked
    cv.show()
    cv.key("6")
    cv.click(256, 256)
    card(page, "shapes-grid", "2.png").click()
    expect_toast(page, "unsaved changes")
    assert cv.state()["dirty"] is True and page.get_attribute(cv.sel, "data-rendered-sample") == str(ids["1.png"])
    expect(card(page, "shapes-grid", "1.png")).to_have_class(re.compile(r"\blp-selected\b"))
    expect(card(page, "shapes-grid", "2.png")).not_to_have_class(re.compile(r"\blp-selected\b"))
    # D, then Save in the bar: saved, and the next image opens
    cv.key("d")
    expect(bar).to_be_visible()
    bar.get_by_role("button", name="Save").click()
    expect_toast(page, re.compile(r"Saved 1 shape(?!s)"))
    cv.wait_sample(ids["2.png"], 0)
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (2)")

    # the Unlabeled tab (0.png, 2.png): a rectangle on 0.png, D, Save: the next unlabeled image
    # (2.png) opens, although 0.png itself left the view when it was saved
    page.locator("#shapes-tabs").get_by_text("Unlabeled (2)").click()
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(2, timeout=LONG)
    cv.wait_sample(ids["0.png"], 0)
    cv.show()
    cv.key("1")
    cv.drag([300, 320], [420, 400])
    cv.key("d")
    expect(bar).to_be_visible()
    bar.get_by_role("button", name="Save").click()
    expect_toast(page, re.compile(r"Saved 1 shape(?!s)"))
    cv.wait_sample(ids["2.png"], 0)
    expect(page.locator("#shapes-tabs")).to_contain_text("Unlabeled (1)")
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(1)
    assert not page_errors, page_errors

    cli_server.stop()
    from store.jobs import find_job
    from store.samples import SampleQuery, query_samples

    with cli_server.open_store() as store:
        job = find_job(store, "unsaved")
        items = {s.name: s for s in query_samples(store, job.id, SampleQuery(page_size=50)).items}
        assert sorted(items) == ["0.png", "1.png", "2.png"]
        # 0.png: only the rectangle saved from the Unlabeled tab, not the discarded one
        assert items["0.png"].status == "labeled"
        [rect] = items["0.png"].annotation["shapes"]
        assert (rect["type"], rect["label"]) == ("rectangle", "cell")
        assert close(rect["points"], [[300, 320], [420, 400]])
        assert items["1.png"].status == "labeled"
        [point] = items["1.png"].annotation["shapes"]
        assert point["type"] == "point" and close(point["points"], [[256, 256]])
        assert items["2.png"].status == "unlabeled" and not items["2.png"].annotation


# -- 3: segmentation from COCO, extreme points, quick review ------------------------------------

def polygon_iou(a, b, size: int = 512) -> float:
    import cv2

    masks = []
    for poly in (a, b):
        m = np.zeros((size, size), np.uint8)
        cv2.fillPoly(m, [np.round(np.asarray(poly, np.float64)).astype(np.int32)], 1)
        masks.append(m.astype(bool))
    union = np.logical_or(*masks).sum()
    return float(np.logical_and(*masks).sum() / union) if union else 0.0


def fitting_cell(coco: dict, file_name: str):
    """A cell of the image (its polygon, its 4 extreme points) where the fitted outline beats the
    octagon clearly, with the outline media/outline.py fits (the image is 512 px: the display
    image the server fits on is the image itself)."""
    from PIL import Image

    from media.outline import grabcut_outline, octagon

    image = next(im for im in coco["images"] if im["file_name"].rsplit("/", 1)[-1] == file_name)
    pixels = np.asarray(Image.open(CELLS_COCO.parent / image["file_name"]).convert("RGB"))
    polys = sorted((np.asarray(seg, np.float64).reshape(-1, 2) for a in coco["annotations"]
                    if a["image_id"] == image["id"] for seg in a["segmentation"]), key=lambda p: -np.ptp(p[:, 0]))
    inside = [p for p in polys if p.min() >= 8 and p.max() <= 504 and 40 <= np.ptp(p[:, 0]) <= 200
              and 40 <= np.ptp(p[:, 1]) <= 200]  # a whole cell, clear of the image's edges
    for poly in inside[:20]:
        xs, ys = poly[:, 0], poly[:, 1]
        clicks = [poly[int(np.argmin(ys))].tolist(), poly[int(np.argmin(xs))].tolist(),
                  poly[int(np.argmax(ys))].tolist(), poly[int(np.argmax(xs))].tolist()]
        fitted = grabcut_outline(pixels, clicks)
        if fitted and polygon_iou(fitted, poly) > polygon_iou(octagon(clicks), poly) + 0.1:
            return poly.tolist(), clicks, fitted
    raise AssertionError(f"no cell of {file_name} where the fit beats the octagon")


def test_segmentation_extreme_points_and_quick_review(cli_server, cli_page: Page, page_errors, tmp_path):
    if not CELLS_COCO.is_file():
        pytest.skip(f"shared data {CELLS_COCO} is absent: the segmentation flow imports its polygons")
    page = cli_page
    coco = json.loads(CELLS_COCO.read_text(encoding="utf-8"))
    per_file = Counter()
    names = {im["id"]: im["file_name"].rsplit("/", 1)[-1] for im in coco["images"]}
    for a in coco["annotations"]:
        per_file[names[a["image_id"]]] += 1
    total = sum(per_file.values())
    empty = tmp_path / "empty"
    empty.mkdir()
    cli_server.cli("create-job", "--name", "cells", "--type", "image_segmentation", "--dataset", str(empty),
                   "--labels", "cell,other")
    rec = cli_server.cli_json("import", "--job", "cells", "--format", "coco", str(CELLS_COCO))
    assert (rec["status"], rec["imported"], rec["labeled"], rec["errors"]) == ("succeeded", 10, 10, [])
    # an object detection job too: it shares the shape page with segmentation (ui.py), which the
    # end of this flow opens for each in turn
    cli_server.cli("create-job", "--name", "boxes", "--type", "object_detection", "--dataset",
                   str(CELLS / "images"), "--labels", "nucleus")
    cli_server.start()

    page.goto(cli_server.url)
    open_job(page, "cells  ·  Image segmentation")
    expect(page.locator("#shapes-grid .lp-card")).to_have_count(10, timeout=LONG)
    expect(page.locator("#shapes-tabs")).to_contain_text("Labeled (10)")
    first = page.locator("#shapes-grid .lp-card").first
    first_id = int(first.get_attribute("data-id"))
    first_name = first.locator(".lp-name").inner_text()
    cv = Canvas(page, "shapes-canvas")
    cv.wait_sample(first_id, per_file[first_name])
    shapes = cv.shapes()
    assert {s["type"] for s in shapes} == {"polygon"} and {s["label"] for s in shapes} == {"cell"}
    tools = cv.root.locator(".sc-tool").evaluate_all("bs => bs.map(b => b.dataset.tool)")
    assert tools == ["select", "polygon", "extreme_points"]

    # key 2: extreme points. The four extreme points of a real cell of this image, clicked: the
    # octagon through them at once, then the outline fitted to the cell by the server (GrabCut,
    # no model): it follows the cell better than the octagon did
    cell, clicks, expected = fitting_cell(coco, first_name)
    cv.show()
    cv.key("2")
    for pt in clicks:
        cv.click(*pt)
    expect(cv.root).to_have_attribute("data-outline", "fitted", timeout=LONG)
    st = cv.state()
    assert st["draft"] is None and len(st["shapes"]) == per_file[first_name] + 1
    drawn = st["shapes"][-1]
    assert drawn["type"] == "polygon" and drawn["label"] == "cell"
    from media.outline import octagon

    assert polygon_iou(drawn["points"], expected) > 0.9  # what the server fits is media/outline.py's polygon
    assert polygon_iou(drawn["points"], cell) > polygon_iou(octagon(clicks), cell) + 0.05
    # Ctrl+Z gives back the octagon through the clicked points, Ctrl+Y the fitted outline again
    cv.key("Control+z")
    proposed = cv.shapes()[-1]["points"]
    for c in clicks:
        assert any(close([c], [q]) for q in proposed), c
    cv.key("Control+y")
    assert close(cv.shapes()[-1]["points"], drawn["points"], 0.01)
    cv.key("Control+s")
    expect_toast(page, f"Saved {per_file[first_name] + 1} shapes")
    cv.wait_clean(per_file[first_name] + 1)
    drawn_id = next(s["id"] for s in cv.shapes() if close(s["points"], drawn["points"], 0.01))

    # Quick review: label "cell", Show shapes
    page.get_by_role("tab", name="Quick review").click()
    pick_option(page, "qr-label", "cell")
    page.locator("#qr-load").click()
    status = page.locator("#qr-status")
    expect(status).to_contain_text(f"{total + 1} shapes", timeout=LONG)
    expect(status).to_contain_text("0 modified")
    crops = page.locator("#qr-crops .lp-card")
    expect(crops).to_have_count(48)

    # select two crops, relabel them "other"
    for i in (0, 1):
        crops.nth(i).click()
        expect(crops.nth(i)).to_have_class(re.compile(r"\blp-selected\b"))
    pick_option(page, "qr-relabel-to", "other")
    page.locator("#qr-relabel").click()
    expect(status).to_contain_text("2 modified", timeout=LONG)
    for i in (0, 1):
        expect(crops.nth(i).locator(".lp-label")).to_have_text(["other", "Modified"])
    # Undo undoes that one action (both crops), Redo redoes it
    page.locator("#qr-undo").click()
    expect(status).to_contain_text("0 modified", timeout=LONG)
    for i in (0, 1):
        expect(crops.nth(i).locator(".lp-label")).to_have_text(["cell"])
    page.locator("#qr-redo").click()
    expect(status).to_contain_text("2 modified", timeout=LONG)
    for i in (0, 1):
        expect(crops.nth(i).locator(".lp-label")).to_have_text(["other", "Modified"])
    # delete one of the two "other" crops, then Undo once: it is back, still relabeled
    crops.nth(1).click()
    expect(crops.nth(1)).to_have_class(re.compile(r"\blp-selected\b"))
    page.locator("#qr-delete").click()
    expect(crops.nth(1).locator(".lp-label")).to_have_text(["Deleted"], timeout=LONG)
    expect(crops.nth(0).locator(".lp-label")).to_have_text(["other", "Modified"])
    page.locator("#qr-undo").click()
    expect(crops.nth(1).locator(".lp-label")).to_have_text(["other", "Modified"], timeout=LONG)
    expect(status).to_contain_text("2 modified")
    expect(crops.nth(0).locator(".lp-label")).to_have_text(["other", "Modified"])
    expect(crops.nth(2).locator(".lp-label")).to_have_text(["cell"])
    # which shapes they are: (sample, shape id) from their crop's image URL and the crop list order
    crop_names = [crops.nth(i).get_attribute("title") for i in range(3)]
    crop_urls = [crops.nth(i).locator("img").get_attribute("src") for i in range(3)]

    page.locator("#qr-apply").click()
    expect_toast(page, "Applied")
    expect(status).to_contain_text(f"{total - 1} shapes", timeout=LONG)
    expect(status).to_contain_text("0 modified")

    # the shape page, opened for the detection job and then the segmentation job again: each time
    # the tools, the labels and the images are the job's, nothing left of the other
    for choice, tools, labels in (("boxes  ·  Object detection", "rectangle", ["nucleus"]),
                                  ("cells  ·  Image segmentation", "polygon", ["cell", "other"])):
        open_job(page, choice)
        expect(page.locator("#shapes-header")).to_contain_text(choice.split()[0], timeout=LONG)
        shown = cv.root.locator(".sc-tool")
        expect(shown.nth(1)).to_have_attribute("data-tool", tools, timeout=LONG)
        expect(shown).to_have_count(7 if tools == "rectangle" else 3)
        expect(page.locator("#shapes-grid .lp-card")).to_have_count(10)
        expect(cv.root.locator(".sc-labels option")).to_have_text(labels)  # the job's labels only
    assert not page_errors, page_errors

    cli_server.stop()
    from store.jobs import find_job
    from store.samples import SampleQuery, query_samples
    from store.stats import job_stats
    from store.types.shapes import shape_bbox

    with cli_server.open_store() as store:
        job = find_job(store, "cells")
        items = query_samples(store, job.id, SampleQuery(page_size=50)).items
        assert len(items) == 10 and all(s.status == "labeled" for s in items)
        shapes = [(s, sh) for s in items for sh in s.annotation["shapes"]]
        assert len(shapes) == total + 1  # nothing deleted: the delete was undone
        others = [(s, sh) for s, sh in shapes if sh["label"] == "other"]
        assert len(others) == 2 and all(sh["type"] == "polygon" for _, sh in others)
        assert sum(sh["label"] == "cell" for _, sh in shapes) == total - 1
        by_file = Counter(s.name for s, _ in shapes)
        assert by_file == per_file + Counter({first_name: 1})
        # "other": the first crop's shape (relabeled) and the second's (relabeled, deleted, undone);
        # the third crop's is still "cell"
        for i, url in enumerate(crop_urls):
            sid, box = crop_target(url)
            found = [sh for s, sh in shapes if s.id == sid and close([shape_bbox(sh)], [box], 0.01)]
            assert len(found) == 1, (url, crop_names[i])
            assert found[0]["label"] == ("other" if i < 2 else "cell"), (url, crop_names[i])
        mine = [sh for s, sh in shapes if s.id == first_id and sh["id"] == drawn_id]
        assert len(mine) == 1 and close(mine[0]["points"], drawn["points"], 0.01)
        st = job_stats(store, job.id)
        assert (st.total, st.labeled, st.unlabeled) == (10, 10, 0)
        assert st.labels["cell"] == 10 and st.labels["other"] == len({s.id for s, _ in others})
