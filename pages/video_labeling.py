"""Video labeling page (SPEC F3.11, F3.12): the videos of the view on the left (paged, tabs with
counts); on the right the video player (play, pause, one frame back / forward with , and .,
"Draw on this frame"), below it the shape canvas showing that exact frame
(``/media/{id}/frame?index=N``) with its shapes (the six detection tools); Save (Ctrl+S) writes the
frame's shapes into the video's annotation with the frame index and its time; a track id box gives
shapes a track (two keyframes of one object are interpolated by ``store.video.interpolate_tracks``,
shown read-only in the Label List); the Label List grouped by time point with jump-to, delete one
label, delete all labels of a time point; Labeling Description; Add data / Export.

Annotation: {"frames": [{"frame": int, "time": float, "shapes": [shape (+ "track": str)]}]}."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.audio_list import audio_list, list_item, list_value, preview_id
from components.data_panel import build_data_panel, history_frame
from components.shape_canvas import SHAPE_TOOLS, action_of, canvas_value, new_labels_of, shape_canvas, shapes_of
from components.video_player import draw_request, player_value, video_player
from store.annotations import add_labels_to_set, clear_annotation, set_annotation
from store.errors import NotFound
from store.jobs import get_job
from store.labelset import Label
from store.samples import TABS, SampleQuery, counts, get_sample, query_samples

from .common import AppContext, UserError, acting_user, esc, keep_unsaved, refuse_if_unsaved, user_errors

PAGE_SIZE = 20
LIST_COLUMNS = ["Frame", "Time (s)", "#", "Label", "Shape", "Track", "Kind"]
SELECTION_JS = """(v) => {
  const r = document.querySelector('#vid-canvas .sc-root'); const w = r && r.__shapeCanvas;
  if (!w || !v || typeof v !== 'object') return v;
  const s = w.state();
  return { ...v, shapes: s.shapes, selected: s.selected, dirty: s.dirty, action: null, message: null };
}"""


@dataclass
class VideoLabelingPage:
    load_outputs: list
    load: Any  # (job_id) -> updates


def _labels_for_canvas(job) -> list[dict]:
    return [{"name": lab.name, "color": lab.color or "#e6194b", "attributes": lab.attributes}
            for lab in job.label_set.labels]


def frames_of(annotation) -> list[dict]:
    """The keyframes of a stored annotation, sorted by frame (bad entries skipped)."""
    frames = (annotation or {}).get("frames") if isinstance(annotation, dict) else None
    out = [f for f in (frames or []) if isinstance(f, dict) and isinstance(f.get("frame"), int)]
    return sorted(out, key=lambda f: f["frame"])


def interpolated_frames(annotation, fps: float | None = None) -> list[dict]:
    """Interpolated boxes between two keyframes of a track ({"frame", "time", "shapes"}), from
    store.video.interpolate_tracks ({frame: [box]}); empty when it is not there."""
    if not frames_of(annotation):
        return []
    try:
        from store.video import interpolate_tracks

        result = interpolate_tracks(annotation)
    except Exception:  # noqa: BLE001 - a read-only view: it never breaks the page
        return []
    if isinstance(result, dict) and isinstance(result.get("frames"), list):
        result = {f.get("frame"): f.get("shapes") for f in result["frames"] if isinstance(f, dict)}
    out = []
    for frame, shapes in sorted((result or {}).items(), key=lambda kv: kv[0]):
        shapes = [x for x in shapes or [] if isinstance(x, dict)]
        if isinstance(frame, int) and shapes:
            out.append({"frame": frame, "time": round(frame / fps, 6) if fps else None, "shapes": shapes})
    return out


def label_list(annotation, fps: float | None = None) -> pd.DataFrame:
    rows = []
    for f in frames_of(annotation):
        for i, s in enumerate(f.get("shapes") or []):
            rows.append([f["frame"], round(float(f.get("time") or 0), 3), i + 1, s.get("label", ""),
                         str(s.get("type", "")).replace("_", " "), s.get("track") or "", "keyframe"])
    for f in interpolated_frames(annotation, fps):
        for s in f["shapes"]:
            rows.append([f["frame"], round(float(f["time"]), 3) if f["time"] is not None else "", "",
                         s.get("label", ""), str(s.get("type", "rectangle")).replace("_", " "),
                         s.get("track") or "", "interpolated"])
    rows.sort(key=lambda r: (r[0], r[6] != "keyframe", r[2] if r[2] != "" else 0))
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def time_point_choices(annotation) -> list[tuple[str, int]]:
    out = []
    for f in frames_of(annotation):
        n = len(f.get("shapes") or [])
        labels = ", ".join(dict.fromkeys(str(s.get("label", "")) for s in f.get("shapes") or []))
        out.append((f"frame {f['frame']} · {float(f.get('time') or 0):.3f} s · {n} label{'s' if n != 1 else ''}"
                    f" ({labels})", f["frame"]))
    return out


def label_choices(annotation) -> list[tuple[str, str]]:
    out = []
    for f in frames_of(annotation):
        for i, s in enumerate(f.get("shapes") or []):
            track = f" · track {s['track']}" if s.get("track") else ""
            out.append((f"frame {f['frame']} · #{i + 1} {s.get('label', '')} ({s.get('type', '')}){track}",
                        f"{f['frame']}:{i}"))
    return out


def build(ctx: AppContext, current_job: gr.State) -> VideoLabelingPage:
    store = ctx.store
    with gr.Row():
        header = gr.Markdown("Pick a job in My Creations, then press Label.", elem_id="vid-header")
        describe_btn = gr.Button("Labeling Description", size="sm", scale=0, elem_id="vid-describe")
    description = gr.Markdown(visible=False, elem_id="vid-description", elem_classes=["lp-description"])
    tab = gr.Radio([(v, k) for k, v in TABS.items()], value="all", label="Status", elem_id="vid-tabs")
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            records = audio_list(open_on_click=True, elem_id="vid-list")
            with gr.Row():
                prev_page = gr.Button("◀", size="sm", min_width=40, elem_id="vid-prev-page")
                page_info = gr.Markdown("", elem_id="vid-page-info")
                next_page = gr.Button("▶", size="sm", min_width=40, elem_id="vid-next-page")
        with gr.Column(scale=3):
            player = video_player(elem_id="vid-player")
            sample_info = gr.Markdown(elem_id="vid-sample-info")
            frame_info = gr.Markdown("Pause the video and press **Draw on this frame**.", elem_id="vid-frame-info")
            canvas = shape_canvas(elem_id="vid-canvas")
            with gr.Row():
                save_btn = gr.Button("Save this frame (Ctrl+S)", variant="primary", scale=0, min_width=170,
                                     elem_id="vid-save")
                discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id="vid-discard")
                track_box = gr.Textbox(label="Track id (a new shape gets it on save; or set it on the selected shape)",
                                       max_lines=1, scale=2, elem_id="vid-track")
                track_btn = gr.Button("Set track on selected shape", scale=0, min_width=170, elem_id="vid-set-track")
            with gr.Accordion("Label List (by time point)", open=True, elem_id="vid-label-list"):
                list_table = gr.Dataframe(interactive=False, label="Labels", elem_id="vid-labels")
                with gr.Row():
                    tp_pick = gr.Dropdown([], label="Time point", scale=3, elem_id="vid-time-point")
                    jump_btn = gr.Button("Jump to", scale=0, min_width=100, elem_id="vid-jump")
                    del_tp_btn = gr.Button("Delete all labels of this time point", variant="stop", scale=0,
                                           min_width=240, elem_id="vid-delete-time-point")
                with gr.Row():
                    label_pick = gr.Dropdown([], label="Label", scale=3, elem_id="vid-label-pick")
                    del_label_btn = gr.Button("Delete this label", variant="stop", scale=0, min_width=160,
                                              elem_id="vid-delete-label")
                clear_btn = gr.Button("Delete all labels of this video", variant="stop", size="sm",
                                      elem_id="vid-clear")
    data = build_data_panel(ctx, current_job, "video_labeling", prefix="vid-")
    page_state = gr.State(1)
    frame_state = gr.State(None)  # {"frame": N, "time": t} open on the canvas, or None
    pending_tracks = gr.State({})  # shape id -> track id, set on shapes not saved yet
    nonce = gr.State(0)
    described = gr.State(False)

    # helpers --------------------------------------------------------------------------------
    def page_of(job_id, tab_v, page):
        return query_samples(store, job_id, SampleQuery(status=tab_v or "all", page=int(page or 1),
                                                        page_size=PAGE_SIZE), actor=acting_user())

    def meta_of(s) -> dict:
        m = s.meta if isinstance(s.meta, dict) else {}
        fps = float(m.get("fps") or 0) or 25.0
        count = int(m.get("frame_count") or 0) or max(1, round(float(m.get("duration") or 0) * fps))
        return {"width": int(m.get("width") or 0), "height": int(m.get("height") or 0), "fps": fps,
                "frame_count": count, "duration": float(m.get("duration") or count / fps)}

    def frame_canvas(job, s, frame: int | None, previous=None, message=None):
        prev = previous if isinstance(previous, dict) else {}
        labels = _labels_for_canvas(job)
        if frame is None:
            return canvas_value(None, "", 0, 0, [], labels, SHAPE_TOOLS, tool=prev.get("tool"),
                                label=prev.get("label")), None
        m = meta_of(s)
        frame = max(0, min(int(frame), m["frame_count"] - 1))
        stored = next((f for f in frames_of(s.annotation) if f["frame"] == frame), None)
        time = round(frame / m["fps"], 6) if stored is None else float(stored.get("time") or frame / m["fps"])
        value = canvas_value(s.id, f"/media/{s.id}/frame?index={frame}", m["width"], m["height"],
                             (stored or {}).get("shapes", []), labels, SHAPE_TOOLS, tool=prev.get("tool"),
                             label=prev.get("label"), message=message)
        return value, {"frame": frame, "time": time}

    def frame_text(fs, s=None) -> str:
        if not fs:
            return "Pause the video and press **Draw on this frame** (or jump to a time point of the Label List)."
        keys = {f["frame"]: f for f in frames_of(s.annotation)} if s is not None else {}
        n = len((keys.get(fs["frame"]) or {}).get("shapes", []))
        return (f"Drawing on **frame {fs['frame']}** · {fs['time']:.3f} s · {n} saved label{'s' if n != 1 else ''}"
                " on this frame · Ctrl+S saves the frame")

    def view(job_id, tab_v, page, open_id=None, frame=None, seek=None, nonce_v=0, previous=None, message=None):
        """Every output of the page; ``frame`` opens that frame on the canvas ("first": the first
        labeled time point or none), ``seek`` moves the player there."""
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        try:
            job = get_job(store, job_id, actor=acting_user())
        except NotFound:
            return ["This job no longer exists: pick another one in My Creations."] + [gr.skip()] * (
                len(view_outputs) - 1)
        c = counts(store, job_id, actor=acting_user())
        p = page_of(job_id, tab_v, page)
        if open_id is None and p.items:
            open_id = p.items[0].id
        tabs = [(f"{v} ({c.total if k == 'all' else c.by_status[k]})", k) for k, v in TABS.items()]
        head = (f"### {esc(job.name)}\n{esc(job.labeling_type.title)} · {c.by_status['labeled']}/{c.total} "
                "labeled · keys: , / . one frame back / forward, k play / pause, 1-6 tools, Ctrl+S save the frame, "
                "A / D previous / next video")
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        items = [{**list_item(s, colors), "content": ""} for s in p.items]
        nonce_v = int(nonce_v or 0) + 1
        if open_id is not None:
            s = get_sample(store, job_id, int(open_id), actor=acting_user())
            m = meta_of(s)
            if frame == "first":
                frames = frames_of(s.annotation)
                frame = frames[0]["frame"] if frames else None
            value, fs = frame_canvas(job, s, frame, previous, message)
            target = seek if seek is not None else (fs["frame"] if fs else 0)
            pv = player_value(s.id, m["fps"], m["frame_count"], m["duration"], seek_frame=target, nonce=nonce_v)
            who = (f"labeled by **{esc(s.labeled_by)}** on {s.labeled_at:%Y-%m-%d %H:%M}"
                   if s.labeled_by and s.labeled_at else "not labeled yet")
            nkeys = len(frames_of(s.annotation))
            info = (f"**{esc(s.name)}** · {m['width']}×{m['height']} px · {m['fps']:g} fps · {m['frame_count']} frames"
                    f" · {m['duration']:.2f} s · {nkeys} labeled time point{'s' if nkeys != 1 else ''} · {who}")
            ann, fps = s.annotation, m["fps"]
            ftext = frame_text(fs, s)
        else:
            value, fs = frame_canvas(job, None, None, previous)
            pv, info, ann, ftext, fps = player_value(), "No video in this view.", None, frame_text(None), None
        return [head, gr.Radio(choices=tabs, value=tab_v or "all"),
                list_value(items, [open_id] if open_id is not None else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} videos", pv, info, ftext, value, label_list(ann, fps),
                gr.Dropdown(choices=time_point_choices(ann), value=fs["frame"] if fs and any(
                    f["frame"] == fs["frame"] for f in frames_of(ann)) else None),
                gr.Dropdown(choices=label_choices(ann), value=None), p.page, fs, {}, nonce_v,
                job.instructions or "_This job has no labeling instructions._"]

    view_outputs = [header, tab, records, page_info, player, sample_info, frame_info, canvas, list_table,
                    tp_pick, label_pick, page_state, frame_state, pending_tracks, nonce, description]
    # what keep_unsaved leaves alone: the open video, its frame and its shapes
    EDITOR = (player, sample_info, frame_info, canvas, list_table, tp_pick, frame_state, pending_tracks, nonce)

    def load(job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return view(job_id, "all", 1, open_id=sample_id, frame="first") + [history_frame(ctx, job_id)]

    def _sid(value):
        return value.get("sample_id") if isinstance(value, dict) else None

    def _dirty(value) -> bool:
        return isinstance(value, dict) and bool(value.get("dirty"))

    def _open_id(list_v, player_v, value):
        sid = _sid(value)
        if sid is None and isinstance(player_v, dict):
            sid = player_v.get("sample_id")
        if sid is None and isinstance(list_v, dict):
            sel = list_v.get("selected") or []
            sid = sel[0] if sel else None
        return sid

    # handlers -------------------------------------------------------------------------------
    @user_errors
    def on_filter(job_id, tab_v, value, n):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        return keep_unsaved(view(job_id, tab_v, 1, open_id=_open_if_dirty(value), frame="first", nonce_v=n,
                                 previous=value), view_outputs, EDITOR, _dirty(value))

    def pager(delta):
        @user_errors
        def go(job_id, tab_v, page, value, n):
            if job_id is None:
                return [gr.skip()] * len(view_outputs)
            return keep_unsaved(view(job_id, tab_v, max(1, int(page or 1) + delta), open_id=_open_if_dirty(value),
                                     frame="first", nonce_v=n, previous=value), view_outputs, EDITOR, _dirty(value))
        return go

    def _open_if_dirty(value):
        return int(_sid(value)) if _dirty(value) and _sid(value) is not None else None

    @user_errors
    def on_open(job_id, tab_v, page, list_v, value, n):
        sid = preview_id(list_v)
        if job_id is None or sid is None:
            return [gr.skip()] * len(view_outputs)
        refuse_if_unsaved(_dirty(value) and _sid(value) != sid, "frame")
        return view(job_id, tab_v, page, open_id=sid, frame="first", nonce_v=n, previous=value)

    @user_errors
    def on_draw(job_id, tab_v, page, player_v, value, n):
        req = draw_request(player_v)
        sid = player_v.get("sample_id") if isinstance(player_v, dict) else None
        if job_id is None or req is None or sid is None:
            return [gr.skip()] * len(view_outputs)
        refuse_if_unsaved(_dirty(value), "frame")
        return view(job_id, tab_v, page, open_id=int(sid), frame=req[0], seek=req[0], nonce_v=n, previous=value)

    def _neighbour(job_id, tab_v, page, sample_id, step):
        p = page_of(job_id, tab_v, page)
        ids = [s.id for s in p.items]
        if sample_id in ids:
            i = ids.index(sample_id) + step
            if 0 <= i < len(ids):
                return ids[i], p.page
        target = p.page + step
        if 1 <= target <= p.pages:
            q = page_of(job_id, tab_v, target)
            if q.items:
                return (q.items[0].id if step > 0 else q.items[-1].id), q.page
        return None, p.page

    @user_errors
    def on_navigate(job_id, tab_v, page, list_v, player_v, value, n):
        action = action_of(value)
        if job_id is None or action not in ("prev", "next"):
            return [gr.skip()] * len(view_outputs)
        sid = _open_id(list_v, player_v, value)
        target, new_page = _neighbour(job_id, tab_v, page, sid, 1 if action == "next" else -1)
        if target is None:
            gr.Info("This is the " + ("last" if action == "next" else "first") + " video of the view")
            return view(job_id, tab_v, page, open_id=sid, frame="first", nonce_v=n, previous=value)
        return view(job_id, tab_v, new_page, open_id=target, frame="first", nonce_v=n, previous=value)

    def _write(request, job_id, sid, frames):
        frames = sorted((f for f in frames if f.get("shapes")), key=lambda f: f["frame"])
        if frames:
            set_annotation(store, job_id, int(sid), {"frames": frames}, actor=ctx.actor(request))
        else:
            clear_annotation(store, job_id, int(sid), actor=ctx.actor(request))

    @user_errors
    def on_save(request: gr.Request, job_id, tab_v, page, value, fs, pending, track, n):
        sid = _sid(value)
        if job_id is None or sid is None or not fs:
            raise UserError("pause the video and press Draw on this frame first")
        new = [Label(lab["name"], lab.get("color") or "") for lab in new_labels_of(value)]
        if new:
            add_labels_to_set(store, job_id, new, ctx.actor(request))
        s = get_sample(store, job_id, int(sid), actor=acting_user())
        frames = frames_of(s.annotation)
        stored = next((f for f in frames if f["frame"] == fs["frame"]), None)
        old_tracks = {str(x.get("id")): x.get("track") for x in (stored or {}).get("shapes", [])}
        pending = pending if isinstance(pending, dict) else {}
        track = (track or "").strip()
        drawn = shapes_of(value)
        given = {sh["id"]: pending.get(sh["id"], old_tracks.get(sh["id"])) for sh in drawn}
        used = {str(t) for t in given.values() if t}
        shapes = []
        for sh in drawn:
            t = given[sh["id"]]
            if not t and sh["id"] not in old_tracks and sh["id"] not in pending and track and track not in used:
                t = track  # the first new shape gets the box's track (a track is once per frame)
                used.add(t)
            if t:
                sh = {**sh, "track": str(t)}
            shapes.append(sh)
        others = [f for f in frames if f["frame"] != fs["frame"]]
        if shapes:
            others.append({"frame": int(fs["frame"]), "time": float(fs["time"]), "shapes": shapes})
        _write(request, job_id, sid, others)
        k = len(shapes)
        msg = (f"Saved {k} shape{'' if k == 1 else 's'} on frame {fs['frame']}" if k
               else f"Saved: no shapes left on frame {fs['frame']}")
        gr.Info(msg)
        return view(job_id, tab_v, page, open_id=int(sid), frame=fs["frame"], nonce_v=n, previous=value,
                    message=msg)

    @user_errors
    def on_discard(job_id, tab_v, page, list_v, player_v, value, fs, n):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        sid = _open_id(list_v, player_v, value)
        return view(job_id, tab_v, page, open_id=sid, frame=fs["frame"] if fs else "first", nonce_v=n,
                    previous=value)

    @user_errors
    def on_jump(job_id, tab_v, page, list_v, player_v, value, frame, n):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        if frame is None:
            raise UserError("choose a time point of the Label List first")
        refuse_if_unsaved(_dirty(value), "frame")
        sid = _open_id(list_v, player_v, value)
        return view(job_id, tab_v, page, open_id=sid, frame=int(frame), seek=int(frame), nonce_v=n, previous=value)

    @user_errors
    def on_delete_time_point(request: gr.Request, job_id, tab_v, page, list_v, player_v, value, fs, frame, n):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        if frame is None:
            raise UserError("choose a time point of the Label List first")
        sid = _open_id(list_v, player_v, value)
        s = get_sample(store, job_id, int(sid), actor=acting_user())
        frames = frames_of(s.annotation)
        gone = next((f for f in frames if f["frame"] == int(frame)), None)
        if gone is None:
            raise UserError(f"frame {frame} has no labels")
        _write(request, job_id, sid, [f for f in frames if f["frame"] != int(frame)])
        k = len(gone.get("shapes") or [])
        gr.Info(f"Deleted the {k} label{'s' if k != 1 else ''} of frame {frame}")
        keep = fs["frame"] if fs else None
        return view(job_id, tab_v, page, open_id=int(sid), frame=keep, nonce_v=n, previous=value)

    @user_errors
    def on_delete_label(request: gr.Request, job_id, tab_v, page, list_v, player_v, value, fs, choice, n):
        if job_id is None:
            return [gr.skip()] * len(view_outputs)
        if not choice:
            raise UserError("choose a label of the Label List first")
        frame, index = (int(x) for x in str(choice).split(":"))
        sid = _open_id(list_v, player_v, value)
        s = get_sample(store, job_id, int(sid), actor=acting_user())
        frames = frames_of(s.annotation)
        out = []
        for f in frames:
            if f["frame"] == frame:
                shapes = list(f.get("shapes") or [])
                if not 0 <= index < len(shapes):
                    raise UserError("this label is gone already: the list was refreshed")
                shapes.pop(index)
                f = {**f, "shapes": shapes}
            out.append(f)
        _write(request, job_id, sid, out)
        gr.Info(f"Deleted label #{index + 1} of frame {frame}")
        return view(job_id, tab_v, page, open_id=int(sid), frame=fs["frame"] if fs else None, nonce_v=n,
                    previous=value)

    @user_errors
    def on_clear(request: gr.Request, job_id, tab_v, page, list_v, player_v, value, n):
        sid = _open_id(list_v, player_v, value)
        if job_id is None or sid is None:
            raise UserError("open a video first")
        clear_annotation(store, job_id, int(sid), actor=ctx.actor(request))
        gr.Info("Deleted every label of this video")
        return view(job_id, tab_v, page, open_id=int(sid), frame=None, nonce_v=n)

    def on_set_track(value, pending, track):
        track = (track or "").strip()
        sel = value.get("selected") if isinstance(value, dict) else None
        if not track:
            raise UserError("type a track id first")
        if not sel:
            raise UserError("select a shape on the frame first (V, then click it)")
        gr.Info(f"Track {esc(track)} set on the selected shape: Save (Ctrl+S) to keep it")
        return {**(pending if isinstance(pending, dict) else {}), str(sel): track}

    def on_pick_row(df, evt: gr.SelectData):
        """A click on a Label List row picks its time point (and its label when a keyframe)."""
        try:
            row = evt.index[0]
            frame = int(df.iloc[row]["Frame"])
            idx = df.iloc[row]["#"]
            label = f"{frame}:{int(idx) - 1}" if str(idx) not in ("", "nan") else None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError):
            return gr.skip(), gr.skip()
        return frame, (label if label else gr.skip())

    inputs = [current_job, tab, page_state]
    tab.input(on_filter, [current_job, tab, canvas, nonce], view_outputs)
    prev_page.click(pager(-1), inputs + [canvas, nonce], view_outputs)
    next_page.click(pager(1), inputs + [canvas, nonce], view_outputs)
    records.preview(on_open, inputs + [records, canvas, nonce], view_outputs)
    player.draw(on_draw, inputs + [player, canvas, nonce], view_outputs)
    save_inputs = inputs + [canvas, frame_state, pending_tracks, track_box, nonce]
    canvas.save(on_save, save_inputs, view_outputs)
    save_btn.click(lambda v: {**v, "action": "save"} if isinstance(v, dict) else v, [canvas], [canvas]).then(
        on_save, save_inputs, view_outputs)
    canvas.navigate(on_navigate, inputs + [records, player, canvas, nonce], view_outputs)
    discard_btn.click(on_discard, inputs + [records, player, canvas, frame_state, nonce], view_outputs)
    jump_btn.click(on_jump, inputs + [records, player, canvas, tp_pick, nonce], view_outputs)
    del_tp_btn.click(on_delete_time_point, inputs + [records, player, canvas, frame_state, tp_pick, nonce],
                     view_outputs)
    del_label_btn.click(on_delete_label, inputs + [records, player, canvas, frame_state, label_pick, nonce],
                        view_outputs)
    clear_btn.click(on_clear, inputs + [records, player, canvas, nonce], view_outputs)
    # the selection stays in the browser until the next edit: read it from the widget first
    track_btn.click(None, [canvas], [canvas], js=SELECTION_JS).then(
        on_set_track, [canvas, pending_tracks, track_box], [pending_tracks])
    list_table.select(on_pick_row, [list_table], [tp_pick, label_pick])
    describe_btn.click(lambda shown: (gr.Markdown(visible=not shown), not shown), [described],
                       [description, described])
    for event in data.events:
        event.success(on_discard, inputs + [records, player, canvas, frame_state, nonce], view_outputs)
    return VideoLabelingPage(view_outputs + [data.history], load)
