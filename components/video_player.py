"""The video player of the video labeling page (SPEC F3.11): an HTML5 <video> of
``/media/{id}/file`` with play / pause, one frame back / forward (keys , and .), the current frame
index and time, and "Draw on this frame"; the shapes of the frame shown are drawn over the video
(keyframes solid, a track's interpolated shapes dashed, occluded ones faint), paused and playing;
under it a timeline: one row per track, its visible frames as bars and its keyframes as marks;
a click goes to that frame and picks the track, [ and ] step through its keyframes.

A gr.HTML widget (assets/video_player.js) whose value is a dict:

    {"sample_id": int | None, "src": "/media/12/file", "fps": float, "frame_count": int,
     "duration": float, "seek": {"frame": int, "nonce": int} | None,   # set by Python: go there, paused
     "overlay": {frame: [shape]}, "size": [width, height],              # what is drawn over the video
     "editing": int | None,     # the frame open on the page's shape canvas
     "canvas": "vid-canvas", "track_box": "vid-track",  # element ids of the canvas and the track id box
     "picked": str | None,      # a track to pick on the timeline (set by Python, or by the widget)
     "draw": {"frame": int, "time": float} | None,                       # set by the widget
     "edit": {"action": str, "track": str, "frame": int, "to": int | None} | None}  # set by the widget

While the video is paused on the ``editing`` frame the shape canvas takes the video's place (one
picture: draw, select, move and resize where the frame is seen; the canvas shows the frame the
server decoded, the exact frame stored); playing, stepping or seeking shows the video with its
overlay again, and is refused while the canvas holds unsaved shapes; pausing on another frame
opens it for editing ("draw").

Frames are numbered from 0; the frame shown at time t is ``round(t * fps)`` and frame N starts at
``N / fps`` (the stored time point). "Draw on this frame" (or the key Enter on the widget) pauses,
sets ``draw`` to the paused frame and fires ``draw``. On the timeline a keyframe mark dragged to
another frame, or right-clicked (and confirmed), sets ``edit`` ("move_keyframe" with ``to``,
"delete_keyframe") and fires ``trackedit``; so do the keys o (outside) and c (occluded) on the picked
track; a click on a row picks its track and fires ``trackpick``; n puts a new track id in the track box.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from components.widget_js import widget_js

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEMPLATE = '<div class="vp-root" data-testid="video-player"></div>'

CSS = """
.vp-root { display: flex; flex-direction: column; gap: 6px; }
.vp-stage { position: relative; line-height: 0; }
.vp-root video { width: 100%; max-height: 52vh; background: #000; border-radius: 6px; }
.vp-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.vp-timeline { display: flex; flex-direction: column; gap: 3px; max-height: 160px; overflow-y: auto; }
.vp-tl-row { display: flex; align-items: center; gap: 8px; font-size: 12px; }
.vp-tl-name { width: 10em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.vp-tl-bar { position: relative; flex: 1; height: 14px; background: var(--background-fill-secondary);
  border-radius: 3px; cursor: pointer; }
.vp-tl-run { position: absolute; top: 3px; height: 8px; opacity: 0.55; border-radius: 2px; }
.vp-tl-key { position: absolute; top: 0; width: 5px; height: 14px; margin-left: -2px; background: #111;
  border-radius: 1px; cursor: ew-resize; touch-action: none; }
.vp-tl-key.vp-tl-dragging { background: var(--color-accent); }
.vp-tl-cursor { position: absolute; top: 0; width: 1px; height: 14px; background: var(--color-accent); }
.vp-tl-picked .vp-tl-name { font-weight: 600; }
.vp-tl-picked .vp-tl-bar { outline: 2px solid var(--color-accent); }
.vp-bar { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; font-size: 14px; }
.vp-bar button { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 3px 10px; cursor: pointer;
  background: var(--block-background-fill); color: inherit; }
.vp-bar button.vp-draw { background: var(--color-accent); color: white; border-color: var(--color-accent); }
.vp-pos { font-variant-numeric: tabular-nums; min-width: 16em; }
.vp-seekbar { flex: 1; min-width: 120px; }
.vp-hint { font-size: 12px; color: var(--body-text-color-subdued); }
.vp-message { min-height: 1.1em; font-size: 13px; color: #d9480f; }
.vp-empty { padding: 20px; text-align: center; color: var(--body-text-color-subdued); }
"""


def player_value(sample_id=None, fps=0.0, frame_count=0, duration=0.0, seek_frame: int | None = None,
                 nonce: int = 0, overlay: dict | None = None, size: tuple[int, int] | None = None,
                 editing: int | None = None, canvas: str = "", track_box: str = "", picked: str | None = None) -> dict:
    return {"editing": int(editing) if editing is not None else None, "canvas": canvas, "track_box": track_box,
            "picked": picked, "edit": None,
            "sample_id": int(sample_id) if sample_id is not None else None,
            "src": f"/media/{int(sample_id)}/file" if sample_id is not None else "",
            "fps": float(fps or 0), "frame_count": int(frame_count or 0), "duration": float(duration or 0),
            "seek": {"frame": int(seek_frame), "nonce": int(nonce)} if seek_frame is not None else None,
            "draw": None, "overlay": overlay or {}, "size": list(size) if size else None}


def overlay_shapes(annotation: dict | None, colors: dict[str, str]) -> dict[str, list[dict]]:
    """What the player draws over each frame (issue 16): {frame: [shape]} for every frame with a
    visible shape, keyframes and the tracks' interpolated shapes (store/tracks.py), each
    {"t": type, "p": points, "r": radius, "l": label, "c": color, "k": track, "i": interpolated,
    "o": occluded} in the video's pixels (rounded to 0.1 px)."""
    from store.tracks import frames_with_interpolation

    out: dict[str, list[dict]] = {}
    for frame, shapes in frames_with_interpolation(annotation or {}).items():
        drawn = []
        for s in shapes:
            d = {"t": s["type"], "p": [[round(x, 1), round(y, 1)] for x, y in s["points"]], "l": s["label"],
                 "c": colors.get(s["label"]) or "#ff8800"}
            if s.get("radius") is not None:
                d["r"] = round(float(s["radius"]), 1)
            if s.get("track"):
                d["k"] = s["track"]
            if s.get("interpolated"):
                d["i"] = 1
            if s.get("occluded"):
                d["o"] = 1
            drawn.append(d)
        out[str(frame)] = drawn
    return out


def draw_request(value) -> tuple[int, float] | None:
    """(frame, time) of a "Draw on this frame", or None."""
    d = value.get("draw") if isinstance(value, dict) else None
    try:
        return (int(d["frame"]), float(d["time"])) if isinstance(d, dict) else None
    except (KeyError, TypeError, ValueError):
        return None


def edit_request(value) -> dict | None:
    """A timeline edit or a key on a track: {"action", "track", "frame", "to"} checked for types
    (the store checks the rest), or None."""
    e = value.get("edit") if isinstance(value, dict) else None
    if not isinstance(e, dict):
        return None
    action, track, frame, to = e.get("action"), e.get("track"), e.get("frame"), e.get("to")
    if not isinstance(action, str) or not isinstance(track, str) or not track:
        return None
    if isinstance(frame, bool) or not isinstance(frame, int) or (to is not None and (isinstance(to, bool)
                                                                                      or not isinstance(to, int))):
        return None
    return {"action": action[:40], "track": track[:200], "frame": frame, "to": to}


def picked_track(value) -> str | None:
    p = value.get("picked") if isinstance(value, dict) else None
    return p[:200] if isinstance(p, str) and p else None


def video_player(elem_id: str = "video-player", **kwargs) -> gr.HTML:
    return gr.HTML(value=player_value(), html_template=TEMPLATE, css_template=CSS,
                   **widget_js("video_player", ("draw", "trackedit", "trackpick")),
                   elem_id=elem_id, apply_default_css=False, **kwargs)
