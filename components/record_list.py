"""The record list of the list-and-label pages: one record per sample with its label chips, and per
kind what it shows: an image's thumbnail, as a card of a grid (image classification), an audio
file with a play button and its duration (sound classification, speech pages), a video file
(video page), or a text (text classification). One <audio> element plays any file of the list
(``/media/{id}/file``).

A gr.HTML widget (assets/record_list.js) whose value is a dict:
    {"items": [{"id", "name", "audio" | None, "thumb", "duration", "text", "labels": [{"name", "color"}],
                "content", "status", "who", "hard", "selected"}],
     "labels": [{"name", "color", "shortcut"}], "selected": [ids], "preview": id | None,
     "apply": {"label": name, "ids": [ids]} | None, "remove": {"id": id, "label": name} | None,
     "open_on_click": bool, "noun": "images" | "files" | "texts"}

Classification (``open_on_click`` False): a click checks a row; the label buttons, or a label's
shortcut key followed by a confirmation in the page (Enter / Esc), set ``apply`` and fire
``apply``; a chip's × sets ``remove`` and fires ``remove``; a record's "view" button (or a
double click) sets ``preview``, fires ``preview`` and scrolls ``open_target`` (an element id:
where the page shows the opened record) into view. Speech and video pages
(``open_on_click`` True): a click opens the row (``preview``, fires ``preview``). ``noun`` is
what the widget's messages call a record ("Check files first"). Every text reaches the page as
text (textContent), never as HTML.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from components.widget_js import widget_js

from components.sample_grid import preview_id, selected_ids  # noqa: F401  (same value shape)
from components.text_list import remove_request  # noqa: F401  (a chip's ×: the same request)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEMPLATE = '<div class="al-root" data-testid="record-list-root"></div>'
SNIPPET = 300
TEXT_SNIPPET = 400  # characters of a text shown in the list

CSS = """
.al-root { display: flex; flex-direction: column; gap: 6px; }
.al-root [hidden] { display: none !important; }
.al-labels { display: flex; flex-wrap: wrap; gap: 6px; }
.al-label-btn { display: inline-flex; align-items: center; gap: 5px; border: 1px solid var(--border-color-primary);
  border-radius: 6px; padding: 3px 8px; background: var(--block-background-fill); cursor: pointer; font-size: 13px; color: inherit; }
.al-label-btn kbd { font-size: 11px; border: 1px solid var(--border-color-primary); border-radius: 3px; padding: 0 4px; }
.al-swatch { width: 10px; height: 10px; border-radius: 3px; display: inline-block; }
.al-confirm { display: flex; gap: 8px; align-items: center; padding: 6px 10px; border-radius: 6px;
  border: 2px solid var(--color-accent); background: var(--color-accent-soft); font-size: 14px; }
.al-confirm button { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 2px 10px; cursor: pointer; }
.al-yes { background: var(--color-accent); color: white; }
.al-message { min-height: 1.1em; font-size: 13px; }
.al-message.al-error { color: #d9480f; font-weight: 600; }
.al-player { display: flex; gap: 8px; align-items: center; font-size: 12px; }
.al-player audio { height: 32px; flex: 1; }
.al-list { display: flex; flex-direction: column; gap: 5px; }
.al-row { display: flex; gap: 8px; align-items: center; border: 2px solid var(--border-color-primary);
  border-radius: 8px; padding: 4px 8px; cursor: pointer; background: var(--block-background-fill); }
.al-row.lp-selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.al-check { pointer-events: none; }
.al-check:checked { background-color: var(--checkbox-background-color-selected, var(--color-accent)); border-color: var(--checkbox-border-color-selected, var(--color-accent)); }
.al-play { border: 1px solid var(--border-color-primary); border-radius: 50%; width: 30px; height: 30px; cursor: pointer;
  background: var(--block-background-fill); color: inherit; flex: none; }
.al-body { flex: 1; min-width: 0; }
.al-name { display: flex; gap: 8px; font-size: 14px; }
.al-name span:first-child { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.al-dur, .al-who { font-size: 11px; color: var(--body-text-color-subdued); }
.al-text { font-size: 14px; white-space: pre-wrap; word-break: break-word; max-height: 6.5em; overflow: hidden; }
.al-content { font-size: 13px; white-space: pre-wrap; word-break: break-word; max-height: 4.5em; overflow: hidden; }
.al-meta { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.al-chips { display: flex; gap: 4px; flex-wrap: wrap; }
.al-chip { display: inline-flex; align-items: center; gap: 2px; font-size: 12px; border-radius: 6px; padding: 0 2px 0 6px;
  background: color-mix(in srgb, var(--al-c, #888) 25%, transparent); border: 1px solid var(--al-c, #888); }
.al-chip-del { border: none; background: transparent; cursor: pointer; padding: 0 3px; font-size: 12px; color: inherit; }
.al-empty, .al-none { padding: 20px; text-align: center; color: var(--body-text-color-subdued); }
.al-open { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 1px 6px; cursor: zoom-in;
  background: var(--block-background-fill); color: inherit; font-size: 12px; flex: none; }
.al-hard { background: #d9480f; color: #fff; font-size: 11px; padding: 0 6px; border-radius: 8px; }
.al-list.al-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; }
.al-grid .al-empty { grid-column: 1 / -1; }
.al-row.al-card { flex-direction: column; align-items: stretch; gap: 0; padding: 0; overflow: hidden; user-select: none; }
.al-thumb { position: relative; aspect-ratio: 1; background: #222; display: flex; align-items: center; justify-content: center; }
.al-thumb img { max-width: 100%; max-height: 100%; image-rendering: pixelated; }
.al-card .al-check { position: absolute; top: 6px; left: 6px; width: 18px; height: 18px; margin: 0; }
.al-card .al-hard { position: absolute; top: 6px; right: 6px; }
.al-card .al-open { position: absolute; bottom: 4px; right: 4px; background: rgba(255,255,255,.85); color: #222; border: none; }
.al-card .al-body { padding: 4px 6px; font-size: 12px; }
.al-card .al-name { font-size: 12px; }
"""


def _who(sample) -> str:
    return (f"{sample.labeled_by} · {sample.labeled_at:%Y-%m-%d %H:%M}" if sample.labeled_by and sample.labeled_at
            else "")


def _chips(sample, colors: dict[str, str]) -> list[dict]:
    return [{"name": n, "color": colors.get(n) or "#888888"} for n in dict.fromkeys(sample.labels)]


def _record(sample, colors: dict[str, str], **shown) -> dict:
    """What every record carries: its id, name, chips, status, who labeled it, the hard mark, and
    the version a bulk label change carries (issue 20); `shown`: what its kind shows."""
    return {"id": sample.id, "name": sample.name, "audio": None, "labels": _chips(sample, colors),
            "status": sample.status, "who": _who(sample), "hard": bool(getattr(sample, "hard", False)),
            "version": getattr(sample, "version", None), **shown}


def _snippet(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def file_item(sample, colors: dict[str, str]) -> dict:
    """A file's row: play button, name, duration, chips (and a transcript's start)."""
    ann = sample.annotation if isinstance(sample.annotation, dict) else {}
    content = ann.get("content") if isinstance(ann.get("content"), str) else ""
    meta = sample.meta if isinstance(sample.meta, dict) else {}
    return _record(sample, colors, audio=f"/media/{int(sample.id)}/file", duration=meta.get("duration"),
                   content=_snippet(content, SNIPPET))


def image_item(sample, colors: dict[str, str]) -> dict:
    """An image's card: its thumbnail, name and chips, a hard example's mark."""
    return _record(sample, colors, thumb=f"/media/{int(sample.id)}/thumb")


def text_item(sample, colors: dict[str, str]) -> dict:
    """A text's row: the text (its start) and its chips; nothing to play."""
    return _record(sample, colors, text=_snippet(sample.text or "", TEXT_SNIPPET))


def list_value(items: list[dict], selected=(), labels=(), open_on_click: bool = False, noun: str = "files",
               open_target: str | None = None) -> dict:
    """``open_on_click`` (speech pages): a click opens a row instead of checking it (kept in the
    value: the widget reads it from there); ``noun``: what its messages call a record;
    ``open_target``: the element id of where an opened record shows (scrolled into view)."""
    sel = set(selected or ())
    out = [{**it, "selected": it["id"] in sel} for it in items]
    return {"items": out, "selected": [it["id"] for it in out if it["selected"]],
            "labels": [{"name": lab.name, "color": lab.color or "", "shortcut": lab.shortcut or ""}
                       for lab in labels],
            "preview": None, "apply": None, "remove": None, "open_on_click": bool(open_on_click), "noun": noun,
            "open_target": open_target}


def apply_request(value) -> tuple[str, list[int]] | None:
    a = value.get("apply") if isinstance(value, dict) else None
    try:
        return (str(a["label"]), [int(i) for i in a["ids"]]) if isinstance(a, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def record_list(open_on_click: bool = False, elem_id: str = "record-list", **kwargs) -> gr.HTML:
    return gr.HTML(value=list_value([], open_on_click=open_on_click), html_template=TEMPLATE, css_template=CSS,
                   **widget_js("record_list", ("apply", "remove", "preview")),
                   elem_id=elem_id, open_on_click=open_on_click, apply_default_css=False, **kwargs)
