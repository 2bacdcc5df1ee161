"""Deep links in Chromium at 1280x720 (issue 15), and the labeling page's layout at that size: the address bar follows the job, the tab and the
open sample; a link opened before logging in lands there after the log-in; each role lands where
its role reaches (the creator's labeling page, a labeler's My Participations, a reviewer's Team
review); a link to a job one may not see, or a malformed one, lands on My Creations with a message
and shows nothing of the job."""
from __future__ import annotations

import re
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.conftest import BrowserLogins  # noqa: E402

PASSWORD = "deep-links-1"
LONG = 45_000


@pytest.fixture(scope="module")
def links_app(tmp_path_factory):
    """One app for the module (the tests read and navigate; none of them saves)."""
    tmp_path = tmp_path_factory.mktemp("links")
    server = AppServer(tmp_path / "data", tmp_path / "server")
    with server.open_store() as store:
        from tests.factories import new_job, team_cats, upload_images

        team_job = team_cats(store, PASSWORD, n=3, users=("boss", "ann", "rev", "out"))
        boxes = new_job(store, "boxes", labels=("cell",), type_id="object_detection", actor="boss")
        from store.samples import SampleQuery, query_samples

        server.team_job, server.boxes = team_job.id, boxes.id
        server.team_samples = [x.id for x in query_samples(store, team_job.id, SampleQuery()).items]
        server.box_samples = upload_images(store, boxes.id, 3, prefix="box")
    server.start()
    yield server
    server.stop()
    print(f"server log:\n{server.log()[-6000:]}")  # shown when the test failed


@pytest.fixture
def visit(browser: Browser, links_app: AppServer):
    """visit(user, query): a new browser context opens /?query before logging in, logs in as user
    on the page it is sent to, and returns the page."""
    logins = BrowserLogins(browser, links_app, PASSWORD, {"width": 1280, "height": 720}, LONG)
    yield lambda user, query: logins.login(user, query=query)
    logins.close_all()


def wait_query(page: Page, **want) -> None:
    """The address bar says exactly `want` (assets/links.js keeps it in step)."""
    expected = "&".join(f"{k}={v}" for k, v in want.items())
    page.wait_for_function(
        "(want) => { const q = new URLSearchParams(location.search); const w = new URLSearchParams(want);"
        " if ([...q.keys()].length !== [...w.keys()].length) return false;"
        " for (const [k, v] of w) if (q.get(k) !== v) return false; return true; }", arg=expected, timeout=LONG)


def toast(page: Page):
    return page.locator(".toast-body").filter(has_text=re.compile(".+")).first


def test_a_link_to_a_sample_survives_the_login_and_the_address_bar_follows(visit, links_app):
    job, samples = links_app.boxes, links_app.box_samples
    page = visit("boss", f"job={job}&tab=label&sample={samples[1]}")
    canvas = page.locator("#page-shapes [data-open-sample]")
    expect(canvas).to_have_attribute("data-open-sample", str(samples[1]), timeout=LONG)
    wait_query(page, job=job, tab="label", sample=samples[1])
    # at 1280x720 the work starts in the upper half of the window: the header is one line, the
    # filters are compact (the canvas started 501 px down, under a 140 px header: issue 15)
    top = page.evaluate("() => ({bar: document.querySelector('#lp-topbar').getBoundingClientRect().height,"
                        " canvas: document.querySelector('#page-shapes canvas').getBoundingClientRect().top})")
    assert top["bar"] < 50 and top["canvas"] < 360, top
    # the next image (D in the canvas): the address follows the open sample
    canvas.click(position={"x": 5, "y": 5})
    page.keyboard.press("d")
    expect(canvas).to_have_attribute("data-open-sample", str(samples[2]), timeout=LONG)
    wait_query(page, job=job, tab="label", sample=samples[2])
    # another tab: the job stays, the sample goes
    page.get_by_role("tab", name="Task statistics", exact=True).click()
    wait_query(page, job=job, tab="stats")
    page.reload()
    expect(page.locator("#stats-header")).to_contain_text("boxes", timeout=LONG)
    wait_query(page, job=job, tab="stats")
    page.get_by_role("tab", name="My Creations", exact=True).click()
    wait_query(page)


def test_each_role_lands_where_it_may(visit, links_app):
    job = links_app.team_job
    ann = visit("ann", f"job={job}&tab=label")  # the labeler asks for the creator's page
    expect(toast(ann)).to_contain_text("not yours to open: here is My Participations", timeout=LONG)
    expect(ann.locator("#part-preview .lp-team-preview")).to_have_attribute("data-job", str(job), timeout=LONG)
    sample = ann.locator("#part-preview .lp-team-preview").get_attribute("data-sample")
    wait_query(ann, job=job, tab="participations", sample=sample)
    expect(ann.locator("#tab-label img[src*='/media/']")).to_have_count(0)

    rev = visit("rev", f"job={job}")  # no tab: the reviewer's own
    expect(rev.locator("#tab-team-review")).to_be_visible(timeout=LONG)
    expect(rev.locator("#rv-job input")).to_have_value(re.compile("team cats"), timeout=LONG)
    wait_query(rev, job=job, tab="team-review")

    boss = visit("boss", f"job={job}")  # the creator: the labeling page
    expect(boss.locator("#page-checklist")).to_contain_text("team cats", timeout=LONG)
    wait_query(boss, job=job, tab="label")


def test_a_link_to_an_image_of_the_grid_opens_its_preview(visit, links_app):
    """The classification page has no editor: a link's sample opens below the grid, and the open
    record is the one the address bar names."""
    job, samples = links_app.team_job, links_app.team_samples
    boss = visit("boss", f"job={job}&tab=label&sample={samples[2]}")
    opened = boss.locator("#checklist-preview-link [data-open-sample]")
    expect(opened).to_have_attribute("data-open-sample", str(samples[2]), timeout=LONG)
    expect(boss.locator("#checklist-preview-image img")).to_have_count(1, timeout=LONG)
    wait_query(boss, job=job, tab="label", sample=samples[2])
    # the preview offers its link (for a reviewer, an email): the same place
    expect(opened).to_have_attribute("href", f"?job={job}&tab=label&sample={samples[2]}")
    # at 1280x720 the cards start in the upper 60% of the page: the status row is one line and the
    # pager's labels sit beside their fields (the first card was ~455 px down)
    top = boss.evaluate("() => ({card: document.querySelector('#checklist-list .al-card').getBoundingClientRect().top"
                        " + window.scrollY, tabs: document.querySelector('#checklist-tabs').getBoundingClientRect().height,"
                        " pager: document.querySelector('#checklist-toolbar').getBoundingClientRect().height})")
    assert top["card"] < 420 and top["tabs"] < 50 and top["pager"] < 60, top


# (every other spelling and tab: tests/test_access.py::test_deep_links_land_where_the_role_reaches)
BAD_LINKS = [
    ("job={boxes}&tab=label&sample={sample}", "does not exist, or you are not a member of it"),
    ("job=%2B{boxes}&tab=stats", "not valid"),
]


def test_an_outsiders_link_shows_nothing_of_the_job(visit, links_app):
    for query, message in BAD_LINKS:
        page = visit("out", query.format(boxes=links_app.boxes, sample=links_app.box_samples[0]))
        expect(toast(page)).to_contain_text(message, timeout=LONG)
        expect(page.locator("#tab-jobs")).to_be_visible()
        wait_query(page)  # back to the plain address
        expect(page.locator("img[src*='/media/']")).to_have_count(0)
        expect(page.locator("#job-table")).not_to_contain_text("boxes")
        page.context.close()
