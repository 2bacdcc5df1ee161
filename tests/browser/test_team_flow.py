"""Team labeling in the running app (Chromium, Playwright sync API), with users logged in through
/login in separate browser contexts; the store is checked with the server stopped.

Before the server starts: users boss (creator), ann (labeler), rev (reviewer) and eve (outsider);
an image classification job of boss with 6 images and labels cat, dog; a team of boss with ann
(Labeler) and rev (Reviewer). Then: boss makes the job a team job (Team mode); ann labels two
samples in My Participations; rev rejects one with a reason and approves the other (B); ann sees
the reason, fixes the sample; rev approves it; boss samples 50% in an acceptance, passes the
sampled item and finishes with "All remaining pass": the two samples are the job's labels. eve
sees no job; a wrong password shows the login error.
"""
from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.app_server import AppServer  # noqa: E402
from tests.browser.conftest import BrowserLogins  # noqa: E402

PASSWORD = "team-flow-secret-1"
JOB = "team pets"
JOB_CHOICE = f"{JOB}  ·  Image classification"
TEAM = "pet team"
LONG = 60_000  # ms (a loaded 2-core machine: waits end as soon as the page is there)


@pytest.fixture
def team_app(tmp_path):
    """The app on a data folder seeded (server stopped) with users, a job and a team."""
    server = AppServer(tmp_path / "data", tmp_path / "server")
    with server.open_store() as store:
        from store.teams import add_members, create_team
        from store.users import add_user
        from tests.factories import new_job, upload_images

        add_user(store, "boss", "boss@example.org", PASSWORD, actor="cli")
        add_user(store, "ann", "ann@example.org", PASSWORD, actor="cli")
        add_user(store, "rev", "rev@example.org", PASSWORD, actor="cli")
        add_user(store, "eve", "eve@example.org", PASSWORD, actor="cli")
        job = new_job(store, JOB, labels=("cat", "dog"), actor="boss")
        upload_images(store, job.id, 6, prefix="pet")
        team = create_team(store, TEAM, "cats and dogs", owner="boss")
        add_members(store, team.id, [("ann@example.org", "Ann", "labeler"), ("rev@example.org", "Rev", "reviewer")],
                    actor="boss")
        server.job_id = job.id
    server.start()
    yield server
    server.stop()


@pytest.fixture
def login(browser: Browser, team_app: AppServer):
    """login(username[, password, expect_ok]) -> a page in its own browser context, logged in through /login."""
    logins = BrowserLogins(browser, team_app, PASSWORD, {"width": 1500, "height": 1000}, LONG)
    yield logins.login
    logins.close_all()


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def pick_label(page: Page, dropdown_id: str, option: str) -> None:
    page.locator(f"#{dropdown_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.locator(f"#{dropdown_id} input").press("Escape")
    expect(page.locator(f"#{dropdown_id} .token").filter(has_text=option)).to_have_count(1)


def clear_tokens(page: Page, dropdown_id: str) -> None:
    tokens = page.locator(f"#{dropdown_id} .token")
    while tokens.count():
        before = tokens.count()
        tokens.first.locator(".token-remove").click()
        expect(tokens).to_have_count(before - 1)


def opened_file(page: Page, info_id: str) -> str:
    """The file name the info panel shows in bold (the opened sample)."""
    strong = page.locator(f"#{info_id} strong").first
    expect(strong).to_have_text(re.compile(r"pet_\d\.png"), timeout=LONG)
    return strong.inner_text()


def test_team_labeling_review_and_acceptance(team_app: AppServer, login):
    # a wrong password: the login page says so
    bad = login("ann", "not-the-password", expect_ok=False)
    expect(bad.locator("#login-error")).to_be_visible()
    expect(bad).to_have_url(re.compile(r"/login\?error"))

    # eve is in no job: nothing in My Creations, nothing in My Participations
    eve = login("eve")
    expect(eve.locator("#job-table")).not_to_contain_text(JOB)
    expect(eve.locator("#job-picker input")).to_have_value("")
    tab(eve, "My Participations")
    expect(eve.locator("#part-sample")).to_contain_text("Open a sample")
    expect(eve.locator("#part-jobs")).not_to_contain_text(JOB)
    expect(eve.locator("#part-job input")).to_have_value("")

    # boss makes the job a team labeling job: Team mode, labeler ann, reviewer rev
    boss = login("boss")
    expect(boss.locator("#job-picker input")).to_have_value(JOB_CHOICE, timeout=LONG)
    expect(boss.locator("#job-table")).to_contain_text(JOB)
    tab(boss, "Team job")
    expect(boss.locator("#tj-header")).to_contain_text("Not a team labeling job yet", timeout=LONG)
    expect(boss.locator("#tj-team input")).to_have_value(TEAM)
    expect(boss.locator("#tj-labelers .token")).to_have_count(1)
    expect(boss.locator("#tj-labelers .token")).to_contain_text("ann@example.org")
    expect(boss.locator("#tj-reviewers .token")).to_contain_text("rev@example.org")
    boss.locator("#tj-mode").get_by_label("Team", exact=True).check()
    boss.locator("#tj-make").click()
    expect(boss.locator("#tj-status")).to_contain_text("team labeling job now (ann@example.org: 6)", timeout=LONG)
    expect(boss.locator("#tj-members")).to_contain_text("ann@example.org")
    expect(boss.locator("#tj-members")).to_contain_text("rev@example.org")
    expect(boss.locator("#tj-header")).to_contain_text("mode Team")
    boss.get_by_text("Notifications of this job (outbox)").click()
    expect(boss.locator("#tj-outbox")).to_contain_text("6 samples are assigned to you")

    # ann labels two samples in My Participations
    ann = login("ann")
    tab(ann, "My Participations")
    expect(ann.locator("#part-jobs")).to_contain_text(JOB, timeout=LONG)
    expect(ann.locator("#part-job input")).to_have_value(re.compile(re.escape(JOB)))
    expect(ann.locator("#part-preview img")).to_have_count(1)
    first = opened_file(ann, "part-info")
    pick_label(ann, "part-labels", "cat")
    ann.locator("#part-save").click()
    expect(ann.locator("#part-status")).to_contain_text(f"Saved {first}: To be reviewed", timeout=LONG)
    ann.locator("#part-next").click()
    expect(ann.locator("#part-info")).not_to_contain_text(first, timeout=LONG)
    second = opened_file(ann, "part-info")
    pick_label(ann, "part-labels", "dog")
    ann.locator("#part-save").click()
    expect(ann.locator("#part-status")).to_contain_text(f"Saved {second}: To be reviewed", timeout=LONG)

    # rev rejects the first with a reason, approves the second with B
    rev = login("rev")
    tab(rev, "Team review")
    expect(rev.locator("#rv-item")).to_contain_text("2 to be reviewed", timeout=LONG)
    expect(rev.locator("#rv-queue")).to_contain_text("ann@example.org")
    assert opened_file(rev, "rv-info") == first
    rev.locator("#rv-reject").click()  # no reason: refused
    expect(rev.locator('[data-testid="toast-body"]:is(.error, .warning)').first).to_contain_text("reason",
                                                                                               timeout=LONG)
    # the message is a toast: the Reason box it asks for stays usable, nothing is painted "Error" (issue 15)
    expect(rev.locator("#rv-reason textarea")).to_be_visible()
    expect(rev.locator("#rv-reason")).not_to_contain_text("Error")
    expect(rev.locator("#rv-info")).not_to_contain_text("Error")
    rev.locator("#rv-reason textarea").fill("that is a dog")
    rev.locator("#rv-reject").click()
    expect(rev.locator("#rv-status")).to_contain_text(f"Rejected: {first}", timeout=LONG)
    expect(rev.locator("#rv-info")).to_contain_text(second)
    rev.locator("#rv-rating").get_by_label("B", exact=True).check()
    rev.locator("#rv-approve").click()
    expect(rev.locator("#rv-status")).to_contain_text(f"Approved (B): {second}", timeout=LONG)

    # ann sees the rejected sample with the reason, fixes it
    ann.locator("#part-state").get_by_label("Rejected", exact=True).check()
    expect(ann.locator("#part-samples")).to_contain_text("that is a dog", timeout=LONG)
    expect(ann.locator("#part-info")).to_contain_text("Rejected: that is a dog")
    assert opened_file(ann, "part-info") == first
    clear_tokens(ann, "part-labels")
    pick_label(ann, "part-labels", "dog")
    ann.locator("#part-save").click()
    expect(ann.locator("#part-status")).to_contain_text(f"Saved {first}: To be reviewed", timeout=LONG)

    # rev approves the fix
    rev.locator("#rv-refresh").click()
    expect(rev.locator("#rv-item")).to_contain_text("1 to be reviewed", timeout=LONG)
    assert opened_file(rev, "rv-info") == first
    rev.locator("#rv-rating").get_by_label("A", exact=True).check()
    rev.locator("#rv-approve").click()
    expect(rev.locator("#rv-status")).to_contain_text(f"Approved (A): {first}", timeout=LONG)

    # boss: acceptance sampling 50% of the 2 labeled samples, pass the sampled one, finish
    tab(boss, "Acceptance")
    expect(boss.locator("#acc-header")).to_contain_text("No acceptance in progress", timeout=LONG)
    boss.locator("#acc-by").get_by_label("Percentage of the labeled samples").check()
    boss.locator("#acc-amount input").fill("50")
    boss.locator("#acc-start").click()
    expect(boss.locator("#acc-status")).to_contain_text("1 item(s) sampled", timeout=LONG)
    expect(boss.locator("#acc-report")).to_contain_text("sampled 1 · pending 1")
    expect(boss.locator("#acc-items")).to_contain_text("ann@example.org")
    boss.locator("#acc-rating").get_by_label("A", exact=True).check()
    boss.locator("#acc-pass").click()
    expect(boss.locator("#acc-status")).to_contain_text("Passed (A)", timeout=LONG)
    expect(boss.locator("#acc-report")).to_contain_text("passed 1")
    expect(boss.locator("#acc-report")).to_contain_text("pass rate 100%")
    boss.locator("#acc-scope").get_by_label("All remaining pass", exact=True).check()
    boss.locator("#acc-finish").click()
    expect(boss.locator("#acc-status")).to_contain_text("accepted 2", timeout=LONG)
    expect(boss.locator("#acc-history")).to_contain_text("finished")

    # the accepted work is the job's labels: Task statistics, with the per-annotator table
    tab(boss, "My Creations")
    boss.locator("#job-stats").click()
    expect(boss.locator("#stats-header")).to_contain_text("2/6 labeled", timeout=LONG)
    expect(boss.locator("#stats-team-annotators")).to_contain_text("ann@example.org")

    # the accepted samples are closed to ann
    ann.locator("#part-state").get_by_label("Accepted", exact=True).check()
    expect(ann.locator("#part-sample")).to_contain_text("2 in this state", timeout=LONG)

    team_app.stop()
    with team_app.open_store() as store:
        from store.samples import status_counts
        from store.team_jobs import annotator_stats

        assert status_counts(store, team_app.job_id)["labeled"] == 2
        stats = {r["annotator"]: r for r in annotator_stats(store, team_app.job_id)}
        assert stats["ann@example.org"]["accepted"] == 2
        assert stats["ann@example.org"]["assigned"] == 6
