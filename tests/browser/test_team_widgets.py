"""Team labeling with the labeling pages' widgets in My Participations (Chromium, Playwright sync
API); the store is checked with the server stopped.

Before the server starts: users boss (creator) and ann (labeler); a team of boss with ann; a named
entity recognition job (a .txt of two records, labels PER, LOC) and an object detection job
(3 images, labels cell, debris), both made team jobs (Team mode: every sample assigned to ann).
Then ann logs in at /login, opens My Participations: the NER job shows the span picker (no JSON
editor), she labels "Alice" PER and saves; the detection job shows the shape canvas, she draws a
rectangle and saves. The store holds the span and the rectangle, both To be reviewed.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402

PASSWORD = "team-widgets-secret-1"
NER_JOB = "team people"
OD_JOB = "team cells"
TEAM = "widget team"
LINES = ["Alice met Bob in Paris.", "Carol lives in Rome."]
LONG = 60_000  # ms (a loaded 2-core machine: waits end as soon as the page is there)


@pytest.fixture
def team_app(tmp_path):
    """The app on a data folder seeded (server stopped) with users, a team and two team jobs."""
    server = AppServer(tmp_path / "data", tmp_path / "server")
    with server.open_store() as store:
        from store.imports import upload_files
        from store.team_jobs import make_team_job
        from store.teams import add_members, create_team
        from store.users import add_user
        from tests.factories import new_job, upload_images

        add_user(store, "boss", "boss@example.org", PASSWORD, actor="cli")
        add_user(store, "ann", "ann@example.org", PASSWORD, actor="cli")
        ner = new_job(store, NER_JOB, labels=("PER", "LOC"), type_id="named_entity_recognition", actor="boss")
        rec = upload_files(store, ner.id, [("people.txt", ("\n".join(LINES) + "\n").encode())], actor="boss")
        assert rec.status == "succeeded", rec.errors
        od = new_job(store, OD_JOB, labels=("cell", "debris"), type_id="object_detection", actor="boss")
        upload_images(store, od.id, 3, prefix="cell")
        team = create_team(store, TEAM, "labelers", owner="boss")
        add_members(store, team.id, [("ann@example.org", "Ann", "labeler")], actor="boss")
        for job in (ner, od):
            counts = make_team_job(store, job.id, team.id, mode="team", labelers=["ann@example.org"],
                                   actor="boss", seed=1)
            assert sum(counts.values()) > 0
        server.ner_id, server.od_id = ner.id, od.id
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ann(browser: Browser, team_app: AppServer, page_errors) -> Page:
    """ann logged in through /login, in her own browser context."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="en-US")
    context.set_default_timeout(15_000)

    def close():
        try:
            context.close()
        except Exception:  # already closed
            pass

    team_app.before_stop.append(close)  # an open page keeps the server from exiting
    page = context.new_page()
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.goto(team_app.url + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.locator("#username").fill("ann")
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#lp-user")).to_contain_text("Logged in as ann", timeout=LONG)
    yield page
    close()


def pick_job(page: Page, name: str) -> None:
    page.locator("#part-job input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(name))).click()
    expect(page.locator("#part-job input")).to_have_value(re.compile("^" + re.escape(name)), timeout=LONG)


def select_text(page: Page, picker: str, needle: str) -> None:
    """Select `needle` in the span picker's text with the DOM selection API, release the mouse
    (as test_text_flow.py does)."""
    page.evaluate("""([picker, needle]) => {
      for (const seg of document.querySelectorAll(`#${picker} .sp-seg`)) {
        const t = seg.firstChild; const i = t ? t.data.indexOf(needle) : -1;
        if (i < 0) continue;
        const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + needle.length);
        const s = document.getSelection(); s.removeAllRanges(); s.addRange(r);
        seg.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        return;
      }
      throw new Error('text not found: ' + needle);
    }""", [picker, needle])
    expect(page.locator(f"#{picker} .sp-pending")).to_have_text(needle)


def picker_state(page: Page, picker: str) -> dict:
    return page.evaluate(f"() => document.querySelector('#{picker} .sp-root').__spanPicker.state()")


class Canvas:
    """The shape canvas (as in test_shapes_flow.py): image pixels to screen positions with the
    widget's own view transform."""

    def __init__(self, page: Page, elem_id: str):
        self.page = page
        self.sel = f"#{elem_id} .sc-root"
        self.root = page.locator(self.sel)

    def js(self, body: str, arg=None):
        fn = f"(arg) => {{ const w = document.querySelector('{self.sel}').__shapeCanvas; {body} }}"
        return self.page.evaluate(fn, arg)

    def state(self) -> dict:
        return self.js("return w.state();")

    def at(self, x: float, y: float) -> tuple[float, float]:
        c = self.js("return w.imageToClient(arg[0], arg[1]);", [x, y])
        return c["x"], c["y"]

    def wait_sample(self, sample_id: int, n_shapes: int) -> None:
        self.page.wait_for_selector(f'{self.sel}[data-rendered-sample="{sample_id}"]', timeout=LONG)
        self.page.wait_for_function(
            f"() => {{ const s = document.querySelector('{self.sel}').__shapeCanvas.state();"
            f" return s.dirty === false && s.shapes.length === {n_shapes}; }}", timeout=LONG)

    def show(self) -> None:
        self.root.locator("canvas").first.evaluate("c => c.scrollIntoView({block: 'center'})")
        box = self.root.locator("canvas").first.bounding_box()
        self.page.mouse.move(box["x"] + 20, box["y"] + 20)

    def key(self, key: str) -> None:
        box = self.root.locator("canvas").first.bounding_box()
        self.page.mouse.move(box["x"] + 20, box["y"] + 20)
        self.page.keyboard.press(key)

    def drag(self, a, b, steps: int = 6) -> None:
        self.page.mouse.move(*self.at(*a))
        self.page.mouse.down()
        self.page.mouse.move(*self.at(*b), steps=steps)
        self.page.mouse.up()


def opened_sample(page: Page) -> int:
    return int(page.locator("#part-preview .lp-team-preview").get_attribute("data-sample"))


def test_team_labeling_with_span_picker_and_shape_canvas(team_app: AppServer, ann: Page, page_errors):
    page = ann
    page.get_by_role("tab", name="My Participations", exact=True).click()
    expect(page.locator("#part-jobs")).to_contain_text(NER_JOB, timeout=LONG)
    expect(page.locator("#part-jobs")).to_contain_text(OD_JOB)

    # the NER job: the span picker with the job's labels and the open record; no JSON editor
    pick_job(page, NER_JOB)
    picker = page.locator("#part-picker")
    expect(picker.locator(".sp-text")).to_contain_text(re.compile(r"Alice|Carol"), timeout=LONG)
    expect(page.locator("#part-json")).to_be_hidden()
    expect(page.locator("#part-canvas .sc-root")).to_have_count(0)
    expect(picker.locator(".sp-label-btn")).to_have_count(2)
    if "Alice" not in picker.locator(".sp-text").inner_text():  # open the Alice record
        page.locator("#part-next").click()
        expect(picker.locator(".sp-text")).to_contain_text("Alice", timeout=LONG)
    ner_sample = opened_sample(page)
    select_text(page, "part-picker", "Alice")
    picker.locator(".sp-label-btn[data-label='PER']").click()
    expect(picker.locator("mark.sp-span[data-label='PER']")).to_contain_text("Alice")
    assert picker_state(page, "part-picker")["spans"][0]["label"] == "PER"
    page.locator("#part-save").click()
    expect(page.locator("#part-status")).to_contain_text("To be reviewed", timeout=LONG)
    expect(page.locator("#part-info")).to_contain_text("To be reviewed")
    # the saved span is what the picker shows for the sample now
    expect(picker.locator("mark.sp-span[data-label='PER']")).to_contain_text("Alice", timeout=LONG)

    # the detection job: the shape canvas with the image and the job's labels
    pick_job(page, OD_JOB)
    cv = Canvas(page, "part-canvas")
    expect(page.locator("#part-picker .sp-root")).to_have_count(0, timeout=LONG)
    expect(page.locator("#part-json")).to_be_hidden()
    expect(cv.root).to_have_count(1, timeout=LONG)
    od_sample = opened_sample(page)
    cv.wait_sample(od_sample, 0)
    expect(cv.root.locator(".sc-label-select option")).to_have_text(["cell", "debris"])
    cv.show()
    cv.key("1")  # rectangle
    cv.drag((2, 2), (12, 9))
    st = cv.state()
    assert st["dirty"] is True and len(st["shapes"]) == 1 and st["shapes"][0]["type"] == "rectangle"
    page.locator("#part-save").click()
    expect(page.locator("#part-status")).to_contain_text("To be reviewed", timeout=LONG)
    cv.wait_sample(od_sample, 1)  # the saved rectangle comes back, nothing unsaved
    assert not page_errors, page_errors

    team_app.stop()
    with team_app.open_store() as store:
        from store.team_jobs import get_assignment

        a = get_assignment(store, team_app.ner_id, ner_sample, "ann@example.org")
        assert a.state == "to_be_reviewed"
        assert a.labels == ["PER"]
        [s] = a.annotation["spans"]
        assert (s["start"], s["end"], s["label"]) == (0, 5, "PER")
        assert a.text[s["start"]:s["end"]] == "Alice"

        b = get_assignment(store, team_app.od_id, od_sample, "ann@example.org")
        assert b.state == "to_be_reviewed"
        assert b.labels == ["cell"]
        [r] = b.annotation["shapes"]
        assert r["type"] == "rectangle" and r["label"] == "cell"
        (x0, y0), (x1, y1) = r["points"]
        assert abs(x0 - 2) <= 1 and abs(y0 - 2) <= 1 and abs(x1 - 12) <= 1 and abs(y1 - 9) <= 1
