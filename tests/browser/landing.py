"""Waiting for the page's landing: on a load the server places the user where the address bar's
link says (pages/links.py; it may select a tab). A click made before that answer can be undone
by it, so a test that reloads waits for it first."""
from __future__ import annotations

LANDED = '.lp-link[data-landed="1"]'


def reload_and_land(page, timeout: float = 60_000) -> None:
    """Reload, then wait until the landing placed the page (assets/links.js's element says so)."""
    page.reload()
    page.locator(LANDED).wait_for(state="attached", timeout=timeout)


def open_job(page, choice: str) -> None:
    """My Creations: pick the job (its picker's text, "name  ·  Type"), then Label."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="My Creations").click()
    page.locator("#job-picker input").click()
    page.get_by_role("option", name=choice, exact=True).click()
    expect(page.locator("#job-picker input")).to_have_value(choice)
    page.locator("#job-label").click()
