"""Gradio's front end, three functions mended: the browser's work when a page loads and on each event.

Gradio 6.31's front end does per-component work by searching the whole UI, through Svelte's
reactive proxies, where a lookup would do. With this UI (882 components, 298 events) that was
most of the ~0.7 s long task of every page load in Chromium (profiled: ``find_attached_events``
0.44 s, ``set_event_args`` 0.19 s), and a walk of the layout per input on every click:

1. ``find_attached_events`` (core): for each component, the events it triggers, by filtering all
   events' targets -- components x events. Mended: one map from component id to its events,
   built once per list of events, giving the same arrays in the same order.
2. ``set_event_args`` (Blocks): at start-up for each event's target, and on every run of an
   event, it fetches the target's state (a walk of the layout) before looking whether the event
   has any event arguments; almost none has. Mended: no arguments, no fetch (the result was a
   no-op either way).
3. ``get_state`` (core): walks the layout for the component even when the component registered
   its own getter, which is then used. Mended: the walk only when there is no getter.

``install_route(app)`` serves the mended files under their own names (``/assets/<name>``, the
paths the page imports them from) ahead of Gradio's mount; every other asset is Gradio's. A patch
whose text is not in the installed Gradio (another version) is left out and logged, and the file
is served as Gradio ships it: the page then works as before, only slower. tests/test_startup.py
checks that every patch applies to the pinned Gradio and that the app serves the mended files;
tests/browser/test_gradio_frontend.py that the mended find_attached_events gives Gradio's own
result; every browser test runs on them.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

log = logging.getLogger("labelport.frontend")


@dataclass(frozen=True)
class Patch:
    name: str
    prefix: str  # the asset file's name starts with it (its hash follows)
    old: str
    new: str
    prelude: str = ""  # put before the file's code (once)


PATCHES = (
    Patch("find_attached_events", "core-",
          "find_attached_events(e,t){let n=t.filter(t=>t.targets.find(([t])=>t===e.id)).map(t=>{let n="
          "t.targets.find(([t])=>t===e.id);return n?n[1]:null}).filter(Boolean);return "
          "e.props.shared_props.attached_events=n,e}",
          # per event, the first target naming a component gives its event name (none if empty)
          "find_attached_events(e,t){let m=__lpEvents.get(t);if(!m){m=new Map;for(const d of t){const s=new Set;"
          "for(const[i,v]of d.targets){if(s.has(i))continue;s.add(i);if(v){let a=m.get(i);a||m.set(i,a=[]);"
          "a.push(v)}}}__lpEvents.set(t,m)}return e.props.shared_props.attached_events=(m.get(e.id)||[]).slice(),e}",
          prelude="const __lpEvents=new WeakMap;"),
    Patch("get_state", "core-",
          "async get_state(e){let t=this.#s.get(e),n=Z(this.root,e);return!t&&!n?null:t?await t():n?"
          "Promise.resolve({value:n.props.props.value}):null}",
          "async get_state(e){let t=this.#s.get(e);if(t)return await t();let n=Z(this.root,e);return n?"
          "{value:n.props.props.value}:null}"),
    Patch("set_event_args", "Blocks-",
          "async set_event_args(e,t){let n={},r=await this.get_state_cb?.(e);",
          "async set_event_args(e,t){if(!t||Object.keys(t).length===0)return()=>{};let n={},"
          "r=await this.get_state_cb?.(e);"),
)


def assets_dir() -> Path:
    import gradio

    return Path(gradio.__file__).resolve().parent / "templates" / "frontend" / "assets"


@lru_cache(maxsize=1)
def mended() -> tuple[dict[str, bytes], tuple[str, ...]]:
    """({asset file name: its mended text}, names of the patches that applied)."""
    folder = assets_dir()
    texts: dict[str, str] = {}  # file name -> its text, with the patches applied so far
    changed: set[str] = set()
    applied: list[str] = []
    for patch in PATCHES:
        for path in folder.glob(patch.prefix + "*.js"):
            texts.setdefault(path.name, path.read_text(encoding="utf-8"))
        hits = [name for name, text in texts.items() if name.startswith(patch.prefix) and text.count(patch.old) == 1]
        if len(hits) != 1:
            log.warning("Gradio front end: %s left as it is (its code is not in this Gradio's assets once)",
                        patch.name)
            continue
        name = hits[0]
        texts[name] = patch.prelude + texts[name].replace(patch.old, patch.new)
        changed.add(name)
        applied.append(patch.name)
    return {name: texts[name].encode("utf-8") for name in sorted(changed)}, tuple(applied)


class _Mended:
    """One mended file's route: revalidated by an ETag of its content."""

    def __init__(self, body: bytes):
        self.body = body
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def __call__(self, request: Request) -> Response:
        headers = {"ETag": self.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="text/javascript; charset=utf-8", headers=headers)


def install_route(app) -> int:
    """GET /assets/<name> for each mended file, on the FastAPI app the UI is mounted on, before the
    mount (the app's own routes come first). Returns how many files are served mended."""
    files, _ = mended()
    for name, body in files.items():
        app.add_api_route(f"/assets/{name}", _Mended(body), methods=["GET"], include_in_schema=False)
    return len(files)
