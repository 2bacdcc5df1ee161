"""Nothing a person does loses labels (issue 20), in Chromium with two users logged in (two
browser contexts): ann and bob open the same detection image; bob sees "Also open by ann"; ann
saves a box; bob saves his and meets her version: the notice names her, Compare shows both, Keep
mine saves his; the History lists both versions; restoring ann's brings her box back. Then ann
deletes the job from My Creations (it moves to the Trash), finds it in the Trash tab and restores
it; with the server stopped, the store has her box, every version and the overwrite recorded."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, Locator, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.conftest import BrowserLogins  # noqa: E402

PASSWORD = "history-flow-1"
LONG = 45_000
ANNS = [[20, 20], [80, 60]]  # image pixels of the 200 x 150 image
BOBS = [[110, 70], [180, 130]]


@pytest.fixture
def two_users_app(tmp_path):
    """ann's detection job "boxes" (one 200 x 150 image), ann and bob admins (both may label it)."""
    server = AppServer(tmp_path / "data", tmp_path / "server")
    with server.open_store() as store:
        from store.imports import upload_files
        from store.users import add_user
        from tests.factories import image_bytes, new_job

        for name in ("ann", "bob"):
            add_user(store, name, f"{name}@example.org", PASSWORD, is_admin=True, actor="cli")
        job = new_job(store, "boxes", labels=("cell",), type_id="object_detection", actor="ann")
        upload_files(store, job.id, [("one.png", image_bytes(size=(200, 150)))])
        server.job_id = job.id
        server.sample_id = store.db.scalar("SELECT sample_id FROM job_samples WHERE job_id = ?", [job.id])
    server.start()
    yield server
    server.stop()


class Canvas:
    """The detection page's shape widget, driven through the pointer and keys as a person would."""

    def __init__(self, page: Page):
        self.page = page
        self.sel = "#shapes-canvas .sc-root"

    def state(self) -> dict:
        return self.page.evaluate(f"() => document.querySelector('{self.sel}').__shapeCanvas.state()")

    def at(self, x: float, y: float) -> tuple[float, float]:
        c = self.page.evaluate(f"(p) => document.querySelector('{self.sel}').__shapeCanvas.imageToClient(p[0], p[1])",
                               [x, y])
        return c["x"], c["y"]

    def wait(self, cond: str) -> None:
        """Wait until the widget's state `s` meets a JavaScript condition."""
        self.page.wait_for_function(
            f"() => {{ const r = document.querySelector('{self.sel}'); const w = r && r.__shapeCanvas;"
            f" if (!w) return false; const s = w.state(); return {cond}; }}", timeout=LONG)

    def wait_sample(self, sid: int) -> None:
        self.page.wait_for_selector(f'{self.sel}[data-rendered-sample="{sid}"]', timeout=LONG)
        self.wait("s.dirty === false")

    def draw_box(self, box) -> None:
        self.page.locator(f"{self.sel} canvas").first.evaluate("c => c.scrollIntoView({block: 'center'})")
        self.page.mouse.move(*self.at(*box[0]))
        self.page.keyboard.press("1")  # the rectangle tool
        self.page.mouse.down()
        self.page.mouse.move(*self.at(*box[1]), steps=6)
        self.page.mouse.up()
        self.wait("s.dirty === true && s.shapes.length === 1")

    def wait_box(self, box) -> None:
        """Nothing unsaved and one shape, at `box` (within a pixel)."""
        self.wait(f"s.dirty === false && s.shapes.length === 1 && s.shapes[0].points.every((p, i) =>"
                  f" Math.abs(p[0] - {box}[i][0]) <= 1 && Math.abs(p[1] - {box}[i][1]) <= 1)")


def open_accordion(page: Page, elem_id: str) -> Locator:
    head = page.locator(f"#{elem_id} button.label-wrap").first
    if "open" not in (head.get_attribute("class") or "").split():
        head.click()
    expect(head).to_have_class(re.compile(r"\bopen\b"))
    return page.locator(f"#{elem_id}")


def on_screen(page: Page, selector: str) -> None:
    """The element comes to lie inside the viewport by itself (nobody scrolls to it)."""
    page.wait_for_function(
        """(sel) => { const el = document.querySelector(sel); if (!el) return false;
                      const r = el.getBoundingClientRect();
                      return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                             && r.left >= 0 && r.right <= window.innerWidth; }""", arg=selector, timeout=LONG)


def test_two_people_save_the_same_image_then_history_and_trash(browser: Browser, two_users_app: AppServer):
    app = two_users_app
    job, sid = app.job_id, app.sample_id
    logins = BrowserLogins(browser, app, PASSWORD, {"width": 1400, "height": 1000}, LONG)
    expect.set_options(timeout=LONG)
    link = f"job={job}&tab=label&sample={sid}"
    ann = logins.login("ann", query=link)
    ann_cv = Canvas(ann)
    ann_cv.wait_sample(sid)
    laptop = BrowserLogins(browser, app, PASSWORD, {"width": 1280, "height": 720}, LONG)
    bob = laptop.login("bob", query=link)  # a labeler's laptop: the notice must show where he saves
    bob_cv = Canvas(bob)
    bob_cv.wait_sample(sid)
    expect(bob.locator("#shapes-presence")).to_contain_text("Also open by ann")  # a notice, not a lock
    expect(bob.locator("#shapes-conflict")).to_be_hidden()

    # ann saves first (Ctrl+S); bob, who opened version 0 too, saves after her
    ann_cv.draw_box(ANNS)
    ann.keyboard.press("Control+s")
    ann_cv.wait_box(ANNS)
    bob_cv.draw_box(BOBS)
    bob.locator("#shapes-save").click()
    notice = bob.locator("#shapes-conflict")
    expect(notice).to_be_visible()
    on_screen(bob, "#shapes-conflict-message")  # beside Save at 1280x720, not below the fold
    on_screen(bob, "#shapes-save")
    expect(bob.locator("#shapes-conflict-message")).to_contain_text(re.compile(r"Changed by ann at .+ \(version 1\)"))
    assert bob_cv.state()["dirty"] is True  # his box is still there, unsaved
    bob.locator("#shapes-conflict-compare").click()
    expect(bob.locator("#shapes-conflict-table")).to_contain_text("Changed")
    expect(bob.locator("#shapes-conflict-table")).to_contain_text("(20, 20)")  # her box beside his
    bob.locator("#shapes-conflict-keep").click()  # Keep mine: saved over hers, knowingly
    bob_cv.wait_box(BOBS)
    expect(notice).to_be_hidden()

    # the History lists both versions, newest first; restoring ann's brings her box back
    history = open_accordion(bob, "shapes-history")
    rows = history.locator("#shapes-history-table").get_by_role("row")
    expect(rows.filter(has_text="2 (current)")).to_contain_text("bob")
    expect(rows.filter(has_text="ann")).to_have_count(1)
    bob.locator("#shapes-history-version input").click()
    bob.get_by_role("option", name=re.compile(r"^version 1 ")).click()
    bob.locator("#shapes-history-restore").click()
    bob_cv.wait_box(ANNS)
    expect(rows.filter(has_text="3 (current)")).to_contain_text("restore")

    # ann deletes the job from My Creations: it moves to the Trash, whence she restores it
    ann.get_by_role("tab", name="My Creations", exact=True).click()
    expect(ann.locator("#job-picker input")).to_have_value(re.compile("boxes"))
    open_accordion(ann, "copy-delete-job")
    expect(ann.locator("#delete-note")).to_contain_text("Trash (restorable for 30 days)")
    ann.locator("#delete-confirm input").check()
    ann.locator("#delete-submit").click()
    expect(ann.locator("#jobs-status")).to_contain_text("Moved job boxes to the Trash (restorable for 30 days)")
    expect(ann.locator("#job-table")).not_to_contain_text("boxes")
    ann.get_by_role("tab", name="Trash", exact=True).click()
    expect(ann.locator("#trash-table")).to_contain_text("boxes")
    expect(ann.locator("#trash-pick input")).to_have_value(re.compile("job boxes"))
    ann.locator("#trash-restore").click()
    expect(ann.locator("#trash-status")).to_contain_text("Restored job boxes")
    expect(ann.locator("#trash-table")).not_to_contain_text("boxes")
    # an admin sees the history's size here and prunes it by age (nothing is 30 days old yet)
    box = open_accordion(ann, "trash-history-box")
    expect(box.locator("#trash-history-size")).to_contain_text(re.compile(r"keeps \d+ versions \(\d"))
    box.locator("#trash-prune-days input").fill("30")
    box.locator("#trash-prune").click()
    expect(ann.get_by_text("tick the confirmation box first")).to_be_visible()  # refused: a toast
    box.locator("#trash-prune-confirm input").check()
    box.locator("#trash-prune").click()
    expect(ann.locator("#trash-status")).to_contain_text("0 versions older than 30 days dropped")
    expect(box.locator("#trash-prune-confirm input")).not_to_be_checked()
    ann.get_by_role("tab", name="My Creations", exact=True).click()
    expect(ann.locator("#job-table")).to_contain_text("boxes")

    app.stop()
    with app.open_store() as store:
        from store.events import list_events
        from store.history import sample_history
        from store.samples import get_sample

        s = get_sample(store, job, sid)
        assert s.status == "labeled" and s.version == 3
        (box,) = s.annotation["shapes"]
        assert all(abs(p - q) <= 1 for a, b in zip(box["points"], ANNS) for p, q in zip(a, b))
        assert [(v.version, v.saved_by, v.source) for v in sample_history(store, job, sid)] == [
            (3, "bob", "restore"), (2, "bob", "overwrite"), (1, "ann", "human")]
        over = [e for e in list_events(store, job, limit=500) if e["action"] == "overwrite_annotation"]
        assert [(e["actor"], e["detail"]["overwritten_by"], e["detail"]["over_version"]) for e in over] == [
            ("bob", "ann", 1)]
