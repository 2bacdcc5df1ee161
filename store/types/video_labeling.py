"""Video labeling: shapes (the detection tools) on frames of an MP4 video (SPEC F3.11).

An annotation is
    {"frames": [{"frame": int, "time": seconds, "shapes": [shape, ...]}, ...]}
one entry per time point (frame index in presentation order, 0 .. frame_count - 1), sorted by
frame, each with at least one shape. A shape is as in store/types/shapes.py (in the video's
original pixels, checked against its width and height) and may carry "track": a str id that ties
the shapes of one object across frames (each stored shape is a keyframe of its track;
store/tracks.py says how a track is interpolated between keyframes), "outside": true (the track's
object left the view from that frame on; only with a track) and "occluded": true. A track has one
label; outside keyframes that change nothing are dropped (store.tracks.redundant_outside). "time" is derived from the frame and the video's fps on save (a time
sent by the client must agree within one frame). Two entries of one frame are merged; frames
left without shapes are dropped; a video with no shapes at all is Unlabeled.
Samples carry meta {"width", "height", "fps", "frame_count", "duration", "codec", "format"}."""
from __future__ import annotations

import math

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import VIDEO_EXTENSIONS, Annotation, LabelingType
from .shapes import SHAPE_TYPES, relabel_shapes, validate_shapes

MAX_FRAMES = 100_000  # labeled time points in one video
MAX_TOTAL_SHAPES = 200_000
MAX_TRACK = 64
FLAGS = ("outside", "occluded")  # per keyframe of a track (store/tracks.py); occluded also on other shapes


def _frame_time(frame: int, fps: float | None) -> float | None:
    return round(frame / fps, 6) if fps else None


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    meta = meta or {}
    frames = data.get("frames") if isinstance(data, dict) else None
    if not isinstance(frames, list):
        raise ValidationError('a video annotation is {"frames": [{"frame": index, "time": seconds, "shapes": [...]}]}')
    if len(frames) > MAX_FRAMES:
        raise ValidationError(f"{len(frames):,} time points: the limit is {MAX_FRAMES:,}")
    count = meta.get("frame_count")
    fps = meta.get("fps")
    fps = float(fps) if isinstance(fps, (int, float)) and fps > 0 else None
    merged: dict[int, list] = {}
    for k, fr in enumerate(frames, start=1):
        if not isinstance(fr, dict):
            raise ValidationError(f"time point {k}: not an object")
        idx = fr.get("frame")
        if isinstance(idx, float) and idx.is_integer():
            idx = int(idx)
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise ValidationError(f"time point {k}: \"frame\" must be a whole frame index, got {str(idx)[:40]!r}")
        if idx < 0 or (isinstance(count, int) and count > 0 and idx >= count):
            raise ValidationError(f"frame {idx} is outside the video (frames 0..{count - 1 if count else 0})")
        t = fr.get("time")
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
                raise ValidationError(f"frame {idx}: \"time\" must be a number of seconds, got {str(t)[:40]!r}")
            if fps and abs(float(t) - idx / fps) > 1.0 / fps + 1e-6:
                raise ValidationError(f"frame {idx}: time {float(t):g} s does not match the frame "
                                      f"({idx / fps:.3f} s at {fps:g} fps)")
        shapes = fr.get("shapes")
        if shapes is None:
            shapes = []
        if not isinstance(shapes, list):
            raise ValidationError(f"frame {idx}: \"shapes\" must be a list")
        merged.setdefault(idx, []).extend(shapes)
    out_frames, total = [], 0
    for idx in sorted(merged):
        raw = merged[idx]
        if not raw:
            continue
        total += len(raw)
        if total > MAX_TOTAL_SHAPES:
            raise ValidationError(f"more than {MAX_TOTAL_SHAPES:,} shapes in one video")
        try:
            checked = validate_shapes({"shapes": raw}, label_set, meta, SHAPE_TYPES)
        except ValidationError as e:
            raise ValidationError(f"frame {idx}: {e}") from None
        tracks: set[str] = set()
        for src, shape in zip(raw, checked.data["shapes"]):
            track = src.get("track") if isinstance(src, dict) else None
            if track in (None, ""):
                continue
            if isinstance(track, bool) or not isinstance(track, (str, int)):
                raise ValidationError(f"frame {idx}: a track id is a string, got {str(track)[:40]!r}")
            track = str(track).strip()[:MAX_TRACK]
            if not track:
                continue
            if track in tracks:
                raise ValidationError(f"frame {idx}: track {track!r} is used by two shapes of the same frame")
            tracks.add(track)
            shape["track"] = track
        for src, shape in zip(raw, checked.data["shapes"]):
            for flag in FLAGS:
                value = src.get(flag) if isinstance(src, dict) else None
                if value in (None, False):
                    continue
                if value is not True:
                    raise ValidationError(f"frame {idx}: \"{flag}\" is true or false, got {str(value)[:40]!r}")
                if flag == "outside" and not shape.get("track"):
                    raise ValidationError(f"frame {idx}: only a shape of a track can be outside (it marks where "
                                          "the object left the view)")
                shape[flag] = True
        entry = {"frame": idx, "time": _frame_time(idx, fps) if fps else float(merged_time(frames, idx)),
                 "shapes": checked.data["shapes"]}
        out_frames.append(entry)
    out_frames = _check_tracks(out_frames)
    labels = [s["label"] for fr in out_frames for s in fr["shapes"] if not s.get("outside")]
    return Annotation({"frames": out_frames}, list(dict.fromkeys(labels)))


def _check_tracks(frames: list[dict]) -> list[dict]:
    """One label per track (store/tracks.py); outside keyframes that change nothing are dropped
    (store.tracks.redundant_outside), and frames left without shapes with them."""
    from ..tracks import keyframes, redundant_outside

    by_track = keyframes({"frames": frames})
    drop: set[tuple[int, str]] = set()
    for track, items in by_track.items():
        named = {s["label"]: f for f, s in items}
        if len(named) > 1:
            (a, fa), (b, fb) = list(named.items())[:2]
            raise ValidationError(f"track {track!r} has two labels ({a!r} on frame {fa}, {b!r} on frame {fb}): "
                                  "a track is one object; give the other shapes another track id")
        drop.update((f, track) for f in redundant_outside(items))
    if not drop:
        return frames
    out = []
    for fr in frames:
        shapes = [s for s in fr["shapes"] if (fr["frame"], s.get("track")) not in drop]
        if shapes:
            out.append({**fr, "shapes": shapes})
    return out


def merged_time(frames: list, idx: int) -> float:
    """Without an fps (meta unknown) the client's time is kept."""
    for fr in frames:
        if isinstance(fr, dict) and fr.get("frame") == idx and isinstance(fr.get("time"), (int, float)):
            return round(float(fr["time"]), 6)
    return 0.0


def relabel(data: dict, old: str, new: str | None) -> dict:
    frames = []
    for fr in data.get("frames", []):
        shapes = relabel_shapes({"shapes": fr.get("shapes", [])}, old, new)["shapes"]
        if shapes:
            frames.append({**fr, "shapes": shapes})
    return {**data, "frames": frames}


def label_names(data: dict) -> list[str]:
    return list(dict.fromkeys(s["label"] for fr in data.get("frames", []) for s in fr.get("shapes", [])))


TYPE = LabelingType(
    id="video_labeling", order=9, title="Video labeling", scene="video", media="video",
    rules=LabelRules(colors=True, attributes=True), formats=("manifest", "coco", "jsonl", "parquet", "cvat", "mot", "label_studio"),
    validate=validate, relabel=relabel, label_names=label_names,
    extensions=VIDEO_EXTENSIONS, description="Shapes on frames of MP4 videos.", page="pages.video_labeling",
    widget="video", tools=("rectangle", "polygon", "circle", "line", "dashed_line", "point"),
    shape_types=SHAPE_TYPES, task_categories=("object-detection",),
    page_run_kinds=("tracking",))  # automatic tracking of a box (autolabel/tracking.py)
