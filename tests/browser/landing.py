"""Waiting for the page's landing: on a load the server places the user where the address bar's
link says (pages/links.py; it may select a tab). A click made before that answer can be undone
by it, so a test that reloads waits for it first."""
from __future__ import annotations

LANDED = '.lp-link[data-landed="1"]'


def reload_and_land(page, timeout: float = 60_000) -> None:
    """Reload, then wait until the landing placed the page (assets/links.js's element says so)."""
    page.reload()
    page.locator(LANDED).wait_for(state="attached", timeout=timeout)
