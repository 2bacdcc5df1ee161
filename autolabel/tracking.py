"""Automatic tracking (issue 16): follow a box of a track forward through a video with a
classical tracker (OpenCV's CSRT, or KCF: faster, less exact), and write what it found as
keyframes of that track, which the labeler then corrects.

A run of kind "tracking" (store/runs.py) on a video job, options:
    sample_id, frame (where the box is), track (its id), frames (how many frames on, default 50;
    the track's next keyframe stops it earlier), tracker ("csrt" | "kcf").
The box on `frame` is the track's keyframe there, or its interpolated box. The tracker runs
frame by frame (progress every few frames; a cancel stops it and writes nothing); it stops where
it loses the object or the box leaves the picture. The boxes found are thinned to the keyframes
that linear interpolation needs to stay within a few pixels of every tracked box
(store/tracks.py interpolates the rest), and are added only on frames where the track has no
keyframe yet, up to the track's next keyframe: what a person drew is never overwritten.
"""
from __future__ import annotations

from store.annotations import set_annotation
from store.errors import ValidationError
from store.samples import get_sample
from store.tracks import frames_with_interpolation, keyframes, thin

from . import engine
from .runner import Outcome, RunContext, handler

MAX_FRAMES = 2000
DEFAULT_FRAMES = 50
TRACKERS = ("csrt", "kcf")
CSRT_SCALE_STEP, CSRT_TEMPLATE = 1.05, 120


def make_tracker(kind: str):
    import cv2

    if kind == "kcf":
        return cv2.TrackerKCF_create()
    params = cv2.TrackerCSRT_Params()
    # measured on benchmarks/tracking.py's clips (three seeds and sizes): OpenCV's defaults (scale
    # step 1.02, template 200 px) miss fast changes of size (mean IoU 0.62-0.79) at 16-20 frames/s;
    # a coarser scale step over the same 33 scales and a 120 px template give 0.83-0.88 at 40-60
    params.scale_step = CSRT_SCALE_STEP
    params.number_of_scales = 33
    params.template_size = CSRT_TEMPLATE
    return cv2.TrackerCSRT_create(params)


def track_boxes(frames, box: list[float], kind: str = "csrt", progress=None) -> dict[int, list[float]]:
    """Follow `box` ([x1, y1, x2, y2] on the first of `frames`, an iterable of (index, RGB array))
    with the tracker; {frame index: box} of every frame it held the object on (the first included)."""
    import cv2

    tracker, out, first = make_tracker(kind), {}, True
    for n, (i, rgb) in enumerate(frames):
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        if first:
            x1, y1, x2, y2 = box
            tracker.init(bgr, (int(round(x1)), int(round(y1)), max(1, int(round(x2 - x1))), max(1, int(round(y2 - y1)))))
            out[i], first = [float(v) for v in box], False
            continue
        ok, (x, y, bw, bh) = tracker.update(bgr)
        if not ok or bw < 1 or bh < 1 or x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            break  # lost, or gone out of the picture
        out[i] = [max(0.0, float(x)), max(0.0, float(y)), min(float(w), float(x + bw)), min(float(h), float(y + bh))]
        if progress is not None:
            progress(n)
    return out


def _options(opts: dict) -> tuple[int, int, str, int, str]:
    try:
        sid, frame = int(opts["sample_id"]), int(opts["frame"])
    except (KeyError, TypeError, ValueError):
        raise ValidationError("automatic tracking needs the video (sample_id) and the frame of the box") from None
    track = str(opts.get("track") or "").strip()
    if not track:
        raise ValidationError("select a box with a track id: automatic tracking follows one track")
    try:
        n = int(DEFAULT_FRAMES if opts.get("frames") in (None, "") else opts["frames"])
    except (TypeError, ValueError):
        raise ValidationError("the number of frames to track is a whole number") from None
    if not 1 <= n <= MAX_FRAMES:
        raise ValidationError(f"track between 1 and {MAX_FRAMES:,} frames on")
    kind = str(opts.get("tracker") or "csrt").lower()
    if kind not in TRACKERS:
        raise ValidationError(f"tracker is one of {', '.join(TRACKERS)}")
    return sid, frame, track, n, kind


def plan(annotation: dict, frame: int, track: str, n: int, frame_count: int) -> tuple[dict, int]:
    """(the track's box on `frame`, the last frame to track to)."""
    shown = frames_with_interpolation(annotation).get(frame, [])
    box = next((s for s in shown if s.get("track") == track), None)
    if box is None:
        raise ValidationError(f"track {track!r} has no shape on frame {frame}: select a box of the track there")
    if box["type"] != "rectangle":
        raise ValidationError("automatic tracking follows boxes (rectangles); this track is "
                              f"{box['type'].replace('_', ' ')}s")
    later = [f for f, _s in keyframes(annotation).get(track, []) if f > frame]
    stop = min(frame + n, frame_count - 1)
    if later:  # up to the track's next keyframe, never over it
        stop = min(stop, later[0] - 1)
    if stop <= frame:
        raise ValidationError(f"nothing to track: the track's next keyframe is frame {frame + 1}"
                              if later else "nothing to track: this is the video's last frame")
    return box, stop


def merge(annotation: dict, track: str, label: str, found: dict[int, list[float]], start: int) -> tuple[dict, int]:
    """The annotation with the found boxes as new keyframes of `track` (frames after `start`,
    before the track's next keyframe, where it has none); and how many were added."""
    have = {f for f, _s in keyframes(annotation).get(track, [])}
    later = [f for f in have if f > start]
    limit = min(later) if later else None
    frames = {int(fr["frame"]): {**fr, "shapes": list(fr.get("shapes") or [])} for fr in annotation.get("frames") or []}
    added = 0
    for f in thin(found):
        if f <= start or f in have or (limit is not None and f >= limit):
            continue
        x1, y1, x2, y2 = (round(v, 2) for v in found[f])
        frames.setdefault(f, {"frame": f, "shapes": []})["shapes"].append(
            {"type": "rectangle", "label": label, "points": [[x1, y1], [x2, y2]], "track": track})
        added += 1
    return {"frames": [frames[f] for f in sorted(frames)]}, added


def tracking_work(ctx: RunContext, sid: int, frame: int, stop: int, box: list[float], kind: str, total: int):
    """Decode frames `frame`..`stop` of the video and track `box` through them; yields the boxes
    found (the engine's work: on Ray, one task on a worker that reads the video's URI)."""
    from media.video import iter_frames

    container, index = ctx.open_video(sid)
    try:
        frames = ((i, f.to_ndarray(format="rgb24")) for i, f in iter_frames(container, index, frame, stop))
        yield track_boxes(frames, box, kind, lambda k: ctx.progress(k, total) if k % 10 == 0 else None)
    finally:
        container.close()


@handler("video_labeling", "tracking")
def run_tracking(ctx: RunContext) -> Outcome:
    sid, frame, track, n, kind = _options(ctx.options)
    sample = get_sample(ctx.store, ctx.job.id, sid, actor=ctx.actor)
    count = int(sample.meta.get("frame_count") or 0)
    box, stop = plan(sample.annotation or {}, frame, track, n, count)
    total = stop - frame
    ctx.progress(0, total, f"tracking {track} from frame {frame} to {stop} ({kind.upper()}){engine.where(ctx)}")
    (found,) = list(engine.run_work(ctx, tracking_work, sid, frame, stop, [*box["points"][0], *box["points"][1]],
                                    kind, total, sample_ids=[sid]))
    last = max(found)
    current = get_sample(ctx.store, ctx.job.id, sid, actor=ctx.actor).annotation or {}  # as it is now
    merged, added = merge(current, track, box["label"], found, frame)
    if added:
        set_annotation(ctx.store, ctx.job.id, sid, merged, actor=ctx.actor)
    lost = f"; lost the object after frame {last}" if last < stop else ""
    ctx.progress(total, total)
    return Outcome(labeled=added, message=f"tracked {track} over frames {frame}-{last}: {added} keyframes added{lost}")
