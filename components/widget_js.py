"""The JavaScript of the custom widgets (assets/*.js), sent to the browser once.

A gr.HTML's ``js_on_load`` travels in the page's config with every instance of the widget: the
shape canvas alone is on four pages, and the config of the whole UI held 555 KB of repeated
JavaScript that the browser downloaded, parsed and compiled on every page load. Instead, each
asset is served once, cached, from ``/widgets/<name>.js?v=<hash>`` (``install_route``) as a
function ``window.__lpWidgets[name](element, trigger, props, server, upload, watch)``; the
widget's ``js_on_load`` is a one-line call to it, and its ``head`` loads the script (gr.HTML
loads a head's script once per src and runs ``js_on_load`` after it loaded). An app showing these
widgets installs the route (server.py does).

The asset files stay what they were: the body of a ``js_on_load`` function.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ROUTE = "/widgets"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")
_ARGS = "element, trigger, props, server, upload, watch"


@lru_cache(maxsize=None)
def script(name: str) -> tuple[str, str]:
    """(the served script, its content hash) of assets/<name>.js; ValueError for another name."""
    if not _NAME.fullmatch(name or "") or not (ASSETS / f"{name}.js").is_file():
        raise ValueError(f"no widget script {name!r}")
    body = (ASSETS / f"{name}.js").read_text(encoding="utf-8")
    text = (f"(window.__lpWidgets = window.__lpWidgets || {{}})[{name!r}] = function ({_ARGS}) {{\n"
            f"{body}\n}};\n")
    return text, hashlib.sha256(text.encode()).hexdigest()[:12]


def widget_js(name: str, events: tuple[str, ...] = ()) -> dict:
    """The gr.HTML keyword arguments (``js_on_load``, ``head``) that run assets/<name>.js.
    ``events``: the custom events the script triggers; gr.HTML finds a widget's events quoted in
    its ``js_on_load``, so they are named there (and checked against the script)."""
    text, digest = script(name)
    for event in events:
        if f"'{event}'" not in text:
            raise ValueError(f"assets/{name}.js must trigger '{event}'")
    named = " ".join(f"'{e}'" for e in events)
    call = f"window.__lpWidgets[{name!r}]({_ARGS});" + (f"  // events: {named}" if events else "")
    return {"js_on_load": call, "head": f'<script src="{ROUTE}/{name}.js?v={digest}"></script>'}


def install_route(app) -> None:
    """GET /widgets/<name>.js on a FastAPI app (server.py; a test's own small app): immutable
    under its content hash `v`, no-cache for another version (an old page after an upgrade)."""
    from fastapi import HTTPException
    from fastapi.responses import Response

    @app.get(ROUTE + "/{name}.js")
    def widget_script(name: str, v: str = ""):
        try:
            text, digest = script(name)
        except ValueError:
            raise HTTPException(404, "no such widget script") from None
        cache = "public, max-age=31536000, immutable" if v == digest else "no-cache"
        return Response(text.encode(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
