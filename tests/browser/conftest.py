"""Browser-test fixtures: the real app in a subprocess (one per test, on a fresh data folder) and a
Playwright page in Debian's Chromium.

Each test gets ``app`` (a started ``tests.app_server.AppServer``) and may call ``app.stop()`` and
then ``app.open_store()`` / ``app.cli_json(...)`` to check what was saved: DuckDB allows one
writer process, so the store is only opened after the server stopped. Teardown stops it anyway.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app_server import AppServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
                 "--disable-dev-shm-usage"]
ARTIFACTS = os.environ.get("LABELPORT_TEST_ARTIFACTS")  # a folder: keep a screenshot of failures


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); never `playwright install`")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_configure(config):
    config.addinivalue_line("markers", "demo: start the app without --no-demo (first start creates demo-shapes)")


@pytest.fixture
def app(tmp_path, request):
    """The app started with --no-demo (or, marked ``demo``, with the demo job) on tmp_path/data;
    stopped (pages closed, terminate, then kill) at teardown."""
    demo = request.node.get_closest_marker("demo") is not None
    server = AppServer(tmp_path / "data", tmp_path / "server", demo=demo)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught JavaScript errors of the page (filled by ``page``)."""
    return []


@pytest.fixture
def page(browser, app, page_errors, request, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    # 45 s: opening a labeling page keeps Chromium busy for ~10 s on an idle 2-core machine (the
    # page's speed is issue 15's); with the other test worker running it takes longer still
    context.set_default_timeout(45_000)
    from playwright.sync_api import expect

    expect.set_options(timeout=45_000)  # assertions too
    pg = context.new_page()
    pg.on("pageerror", lambda e: page_errors.append(str(e)))
    # app.stop() closes the page first: an open page keeps the server from exiting on SIGTERM
    app.before_stop.append(lambda: _close(context, pg, request, tmp_path, app))
    yield pg
    _close(context, pg, request, tmp_path, app)


def _close(context, pg, request, tmp_path, app) -> None:
    """Close the browser context once; on a failed test keep a screenshot and show the server log."""
    if getattr(context, "_lp_closed", False):
        return
    context._lp_closed = True
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        out = Path(ARTIFACTS) if ARTIFACTS else tmp_path
        out.mkdir(parents=True, exist_ok=True)
        shot = out / f"{request.node.name}.png"
        try:
            pg.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
        except Exception:  # the page may be gone
            pass
        print(f"server log:\n{app.log()}")
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep


class BrowserLogins:
    """Users logged in through /login, each in a browser context of their own; every context is
    closed before the server stops (an open page keeps it from exiting)."""

    def __init__(self, browser, server: AppServer, password: str, viewport: dict, timeout_ms: int):
        self.browser, self.server, self.password = browser, server, password
        self.viewport, self.timeout_ms = viewport, timeout_ms
        self.contexts: list = []
        server.before_stop.append(self.close_all)

    def close_all(self) -> None:
        while self.contexts:
            try:
                self.contexts.pop().close()
            except Exception:  # already closed
                pass

    def login(self, username: str, password: str | None = None, expect_ok: bool = True, query: str = ""):
        """A new context logs in as `username` from the app's page (with `query`: a deep link,
        which the log-in keeps)."""
        import re

        from playwright.sync_api import expect

        context = self.browser.new_context(viewport=self.viewport, locale="en-US")
        context.set_default_timeout(self.timeout_ms)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(self.server.url + "/" + (f"?{query}" if query else ""))
        expect(page).to_have_url(re.compile(r"/login\?next=" if query else r"/login"))
        page.locator("#username").fill(username)
        page.locator("#password").fill(password or self.password)
        page.locator("#login-submit").click()
        if expect_ok:
            expect(page.locator("#lp-user")).to_contain_text(f"Logged in as {username}", timeout=self.timeout_ms)
            expect(page.locator("#lp-user #lp-logout")).to_have_count(1)
        return page
