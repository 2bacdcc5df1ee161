"""Tracks of video labeling (SPEC F3.11, issue 16): an object across the frames of one video.

A track is the shapes of a video annotation that carry the same "track" id. Each stored shape is
a keyframe of its track; between two keyframes the track is interpolated:

- two visible keyframes of the same kind and vertex count: each vertex (and a circle's radius)
  moves linearly with the frame index (rectangles, polygons, lines, points, circles);
- otherwise (another kind, another vertex count) the earlier keyframe's shape is held until the
  next keyframe;
- a keyframe with "outside": true says the object left the view on that frame: no shape from
  there until the track's next keyframe (a visible keyframe before it is held up to it);
- "occluded": true (the object is hidden behind another) is kept by the frames that follow it;
- the track ends at its last keyframe (as if the frame after it were marked outside).

An interpolated shape takes the label and attributes of the earlier keyframe and carries
"track", "interpolated": true, and "occluded" when set. Pure functions on the annotation's JSON:
the store's validation (store/types/video_labeling.py), the exports and the pages share them.
"""
from __future__ import annotations

from .errors import ValidationError

Keyframe = tuple[int, dict]  # (frame, shape)


def keyframes(annotation: dict | None) -> dict[str, list[Keyframe]]:
    """{track id: [(frame, shape), ...] sorted by frame} of the annotation's tracked shapes."""
    out: dict[str, list[Keyframe]] = {}
    for fr in (annotation or {}).get("frames") or []:
        for s in fr.get("shapes") or []:
            if s.get("track"):
                out.setdefault(str(s["track"]), []).append((int(fr["frame"]), s))
    for items in out.values():
        items.sort(key=lambda t: t[0])
    return out


def redundant_outside(items: list[Keyframe]) -> set[int]:
    """Frames of a track's outside keyframes that change nothing: the first keyframe of a track
    (nothing before it), one after another outside keyframe, and the last keyframe when it comes
    right after a visible one (the track ends at its last keyframe anyway). Dropping them gives
    every track one spelling, so an export and its import compare equal."""
    out: set[int] = set()
    prev: Keyframe | None = None
    for i, (f, s) in enumerate(items):
        if s.get("outside"):
            last = i == len(items) - 1
            if prev is None or prev[1].get("outside") or (last and f == prev[0] + 1):
                out.add(f)
                continue
        prev = (f, s)
    return out


def _lerp_points(a: list, b: list, t: float) -> list:
    return [[round(p[0] + (q[0] - p[0]) * t, 3), round(p[1] + (q[1] - p[1]) * t, 3)] for p, q in zip(a, b)]


def _between(track: str, a: dict, b: dict, f: int, t: float) -> dict:
    """The shape of a track on frame f, a fraction t of the way from keyframe a to keyframe b."""
    same = (not b.get("outside") and a.get("type") == b.get("type")
            and len(a.get("points") or []) == len(b.get("points") or []))
    shape = {"id": f"{track}@{f}", "type": a["type"], "label": a["label"], "track": track,
             "points": _lerp_points(a["points"], b["points"], t) if same else [list(p) for p in a["points"]],
             "interpolated": True}
    if a.get("type") == "circle":
        ra, rb = float(a.get("radius") or 0), float(b.get("radius") or 0)
        shape["radius"] = round(ra + (rb - ra) * t, 3) if same else ra
    if a.get("occluded"):
        shape["occluded"] = True
    if a.get("attributes"):
        shape["attributes"] = dict(a["attributes"])
    return shape


TOLERANCE = 2.0  # pixels, or RELATIVE of the box's size when more: how far an interpolated box may
RELATIVE = 0.04  # stray from a tracked one (a tracker's own jitter is smoothed out, not kept)


def thin(boxes: dict[int, list[float]], tolerance: float | None = None) -> list[int]:
    """The frames to keep as keyframes so that linear interpolation between them stays within
    `tolerance` pixels of every box (each box [x1, y1, x2, y2]; by default TOLERANCE, or RELATIVE
    of the first box's larger side); the first and last always stay."""
    frames = sorted(boxes)
    if len(frames) <= 2:
        return frames
    if tolerance is None:
        x1, y1, x2, y2 = boxes[frames[0]]
        tolerance = max(TOLERANCE, RELATIVE * max(x2 - x1, y2 - y1))
    keep = {frames[0], frames[-1]}
    todo = [(0, len(frames) - 1)]
    while todo:
        a, b = todo.pop()
        fa, fb = frames[a], frames[b]
        ba, bb = boxes[fa], boxes[fb]
        worst, at = 0.0, None
        for i in range(a + 1, b):
            t = (frames[i] - fa) / (fb - fa)
            err = max(abs(u + (v - u) * t - w) for u, v, w in zip(ba, bb, boxes[frames[i]]))
            if err > worst:
                worst, at = err, i
        if at is not None and worst > tolerance:
            keep.add(frames[at])
            todo += [(a, at), (at, b)]
    return sorted(keep)


def interpolate_tracks(annotation: dict | None) -> dict[int, list[dict]]:
    """The shapes of each track on the frames between its keyframes: {frame: [shape, ...]}."""
    out: dict[int, list[dict]] = {}
    for track, items in keyframes(annotation).items():
        for (f1, a), (f2, b) in zip(items, items[1:]):
            if a.get("outside") or f2 - f1 < 2:
                continue
            for f in range(f1 + 1, f2):
                out.setdefault(f, []).append(_between(track, a, b, f, (f - f1) / (f2 - f1)))
    return dict(sorted(out.items()))


def frames_with_interpolation(annotation: dict | None) -> dict[int, list[dict]]:
    """Every frame's visible shapes: the stored ones (but outside keyframes) and the tracks'
    interpolated shapes between keyframes."""
    out: dict[int, list[dict]] = {}
    for fr in (annotation or {}).get("frames") or []:
        shown = [s for s in fr.get("shapes") or [] if not s.get("outside")]
        if shown:
            out.setdefault(int(fr["frame"]), []).extend(shown)
    for f, shapes in interpolate_tracks(annotation).items():
        out.setdefault(f, []).extend(shapes)
    return dict(sorted(out.items()))


EDITS = ("outside", "occluded", "delete", "delete_keyframe", "move_keyframe")


def edit_track(annotation: dict | None, frame: int, track: str, action: str,
               to: int | None = None) -> tuple[dict, str]:
    """The annotation after an edit of one track on `frame`, and what to tell the user:
    "outside" marks the object gone from this frame (until the track's next keyframe), "occluded"
    toggles the flag on this frame's keyframe (made from the interpolated shape when there is
    none), "delete" removes every keyframe of the track, "delete_keyframe" its keyframe on
    `frame` (the frames around it are interpolated again), "move_keyframe" moves that keyframe
    to frame `to` (never onto another keyframe of the track, never past the track's neighbours:
    the order of its keyframes stays)."""
    if action not in EDITS:
        raise ValidationError(f"unknown track edit {action!r}: {', '.join(EDITS)}")
    frames = sorted(({**f, "shapes": [dict(x) for x in f.get("shapes") or []]}
                     for f in (annotation or {}).get("frames") or []), key=lambda f: int(f["frame"]))
    if track not in keyframes(annotation):
        raise ValidationError(f"pick a track of this video first ({track!r} is none of them)" if track
                              else "pick a track of this video first")
    if action == "delete":
        n = sum(1 for f in frames for x in f["shapes"] if x.get("track") == track)
        for f in frames:
            f["shapes"] = [x for x in f["shapes"] if x.get("track") != track]
        return {"frames": frames}, f"Deleted track {track} ({n} keyframe{'s' if n != 1 else ''})"
    if action in ("delete_keyframe", "move_keyframe"):
        return _edit_keyframe(frames, frame, track, action, to)
    entry = next((f for f in frames if f["frame"] == frame), None)
    key = next((x for x in (entry or {}).get("shapes", []) if x.get("track") == track), None)
    if key is None:
        ghost = next((x for x in interpolate_tracks(annotation).get(frame, []) if x["track"] == track), None)
        if ghost is None:
            raise ValidationError(f"track {track} is not on frame {frame}: go to a frame where it is shown")
        key = {k: v for k, v in ghost.items() if k not in ("interpolated", "id")}
        if entry is None:
            entry = {"frame": frame, "shapes": []}
            frames.append(entry)
        entry["shapes"].append(key)
    if action == "outside":
        if key.get("outside"):
            key.pop("outside")
            return {"frames": frames}, f"Track {track} is in view again on frame {frame}"
        key["outside"] = True
        return {"frames": frames}, f"Track {track} is outside from frame {frame} (until its next keyframe)"
    if key.get("occluded"):
        key.pop("occluded")
        return {"frames": frames}, f"Track {track} is no longer occluded from frame {frame}"
    key["occluded"] = True
    return {"frames": frames}, f"Track {track} is occluded from frame {frame} (until its next keyframe)"


def _edit_keyframe(frames: list[dict], frame: int, track: str, action: str, to: int | None) -> tuple[dict, str]:
    entry = next((f for f in frames if f["frame"] == frame), None)
    key = next((x for x in (entry or {}).get("shapes", []) if x.get("track") == track), None)
    if key is None:
        raise ValidationError(f"track {track} has no keyframe on frame {frame} (interpolated frames follow "
                              "from the keyframes around them)")
    if action == "move_keyframe" and to == frame:
        return {"frames": frames}, f"The keyframe of track {track} stays on frame {frame}"
    entry["shapes"].remove(key)
    if action == "delete_keyframe":
        left = sum(1 for f in frames for x in f["shapes"] if x.get("track") == track)
        tail = f" ({left} keyframe{'s' if left != 1 else ''} left)" if left else ": the track is gone"
        return {"frames": [f for f in frames if f["shapes"]]}, f"Deleted the keyframe of track {track} on frame {frame}{tail}"
    if not isinstance(to, int) or isinstance(to, bool) or to < 0:
        raise ValidationError("say the frame to move the keyframe to (a frame number, 0 or more)")
    others = sorted(f["frame"] for f in frames for x in f["shapes"] if x.get("track") == track)
    before = [f for f in others if f < frame]
    after = [f for f in others if f > frame]
    if (before and to <= before[-1]) or (after and to >= after[0]):
        lo = before[-1] + 1 if before else 0
        hi = f"frame {after[0] - 1}" if after else "the end"
        raise ValidationError(f"a keyframe of track {track} moves between its neighbours: frame {lo} to {hi}")
    target = next((f for f in frames if f["frame"] == to), None)
    if target is None:
        target = {"frame": to, "shapes": []}
        frames.append(target)
    target.pop("time", None)  # the store derives it from the frame
    target["shapes"].append(key)
    frames = sorted((f for f in frames if f["shapes"]), key=lambda f: f["frame"])
    return {"frames": frames}, f"Moved the keyframe of track {track} from frame {frame} to frame {to}"


def track_ranges(annotation: dict | None) -> dict[str, list[tuple[int, int]]]:
    """{track: [(first, last), ...]}: the frame ranges where each track is visible."""
    out: dict[str, list[tuple[int, int]]] = {}
    for track, items in keyframes(annotation).items():
        ranges: list[tuple[int, int]] = []
        start = None
        for i, (f, s) in enumerate(items):
            if s.get("outside"):
                if start is not None:
                    ranges.append((start, f - 1))
                    start = None
                continue
            if start is None:
                start = f
            if i == len(items) - 1:
                ranges.append((start, f))
        out[track] = ranges
    return out


__all__ = ["EDITS", "Keyframe", "edit_track", "frames_with_interpolation", "interpolate_tracks", "keyframes", "redundant_outside",
           "thin", "track_ranges"]
