"""A team labeler's session in Chromium at 1280x720 (issue: one access model): the labeler sees
only what a labeler may do. The creator's labeling page of the team job is refused when asked
from My Creations; the tabs that are not theirs (Storage, Team review) are hidden; the job's
samples never show up on the labeling page; My Participations lists their work. A reviewer sees
Team review. Checked in the store afterwards: nothing the labeler did changed the job's labels."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.conftest import BrowserLogins  # noqa: E402

PASSWORD = "labeler-session-1"
JOB = "team cats"
LONG = 45_000


@pytest.fixture
def team_app(tmp_path):
    server = AppServer(tmp_path / "data", tmp_path / "server")
    with server.open_store() as store:
        from store.users import add_user
        from tests.factories import team_cats

        job = team_cats(store, PASSWORD, n=4)
        add_user(store, "root", "root@example.org", PASSWORD, is_admin=True, actor="cli")
        server.job_id = job.id
    server.start()
    yield server
    server.stop()


@pytest.fixture
def login(browser: Browser, team_app: AppServer):
    logins = BrowserLogins(browser, team_app, PASSWORD, {"width": 1280, "height": 720}, LONG)
    yield logins.login
    logins.close_all()


def tab(page: Page, name: str):
    return page.get_by_role("tab", name=name, exact=True)


def test_a_labeler_sees_only_a_labelers_pages(login, team_app):
    page = login("ann")
    expect(tab(page, "My Participations")).to_be_visible(timeout=LONG)
    expect(tab(page, "Storage")).to_have_count(0)
    expect(tab(page, "Team review")).to_have_count(0)
    # the footer points at the REST API's documentation, not at Gradio's page of UI events (issue 15)
    expect(page.locator("#lp-api-docs")).to_have_attribute("href", "/api/v1/docs")
    expect(page.get_by_text("Use via API")).to_have_count(0)
    # the team job is listed (the labeler is part of it) but its labeling page is the creator's
    expect(page.locator("#job-picker input")).to_have_value(re.compile(JOB), timeout=LONG)
    page.locator("#job-label").click()
    expect(page.get_by_text("the labeling page is the job creator's").first).to_be_visible(timeout=LONG)
    # nothing of the job reached the labeling page: no thumbnail of its files was rendered
    expect(page.locator("img[src*='/media/']")).to_have_count(0)
    tab(page, "My Participations").click()
    expect(page.locator("#tab-participations")).to_contain_text(JOB, timeout=LONG)

    reviewer = login("rev")
    expect(tab(reviewer, "Team review")).to_be_visible(timeout=LONG)
    expect(tab(reviewer, "Storage")).to_have_count(0)

    # an admin's Storage tab shows where the store is (it crashed with a raw AttributeError: issue 15)
    admin = login("root")
    tab(admin, "Storage").click()
    expect(admin.locator("#storage-status")).to_contain_text("Store:", timeout=LONG)
    expect(admin.locator("#storage-status")).to_contain_text("Mirror:")
    expect(admin.locator('[data-testid="toast-body"]')).to_have_count(0)

    team_app.stop()
    with team_app.open_store() as store:
        assert store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ? AND status <> 'unlabeled'",
                               [team_app.job_id]) == 0
        assert store.db.scalar("SELECT count(*) FROM job_samples WHERE job_id = ?", [team_app.job_id]) == 4
