"""The video labeling page (SPEC F3.11, F3.12; issue 16).

The videos of the view on the left (paged, tabs with counts); on the right one picture: the video
player (play, pause, one frame back / forward with , and ., the shapes of each frame drawn over
it) and, while paused on a frame, the shape canvas in its place showing that exact frame
(``/media/{id}/frame?index=N``) with its shapes and the tracks' interpolated ones (the detection
tools: draw, select, move, resize); Save (Ctrl+S) writes the frame's shapes into the video's
annotation; a track id box gives shapes a track (keyframes of one object, interpolated between by
``store.tracks``); under the player a timeline of the tracks (drag a keyframe to move it,
right-click to delete it); the Tracks table (outside, occluded, delete a track or a keyframe);
the Label List by time point with jump-to, delete one label, delete all labels of a time point.
Label management, Labeling Description and Add data / Export come from the labeling view
(base.py).

Annotation: {"frames": [{"frame": int, "time": float, "shapes": [shape (+ "track": str)]}]}."""
from __future__ import annotations

import time

import gradio as gr
import pandas as pd

from autolabel.runner import start_run_in_background
from autolabel.tracking import DEFAULT_FRAMES as DEFAULT_TRACK_FRAMES, MAX_FRAMES as MAX_TRACK_FRAMES
from components.record_list import file_item, list_value, preview_id, record_list
from components.shape_canvas import action_of, canvas_value, shape_canvas, shapes_of
from components.video_player import draw_request, edit_request, overlay_shapes, picked_track, player_value, video_player
from store.annotations import clear_annotation, set_annotation
from store.errors import StoreError
from store.history import VersionConflict
from store.runs import get_run, request_cancel
from store.samples import get_sample
from store.tracks import edit_track, interpolate_tracks, keyframes, track_ranges
from store.types import REGISTRY
from store.access import reads_only

from ..common import AppContext, UserError, acting_user, esc, refuse_if_unsaved, user_errors
from .base import LabelingView, Pager, header_text, instructions, skips, status_tabs, who_labeled
from .canvas import add_drawn_labels, canvas_labels, is_dirty, open_if_dirty, open_sample, wire_save
from .versions import VersionPanel, expected_version

PAGE_SIZE = 20
LIST_COLUMNS = ["Frame", "Time (s)", "#", "Label", "Shape", "Track", "Kind"]
TRACK_COLUMNS = ["Track", "Label", "Shape", "Visible frames", "Keyframes", "Interpolated", "Occluded on", "Outside at"]
TRACK_POLL_S = 0.3
NO_FRAME = "Pause the video and press **Draw on this frame** (or jump to a time point of the Label List)."
SELECTION_JS = """(v) => {
  const r = document.querySelector('#vid-canvas .sc-root'); const w = r && r.__shapeCanvas;
  if (!w || !v || typeof v !== 'object') return v;
  const s = w.state();
  return { ...v, shapes: JSON.stringify(s.shapes), selected: s.selected, dirty: s.dirty, action: null, message: null };
}"""


# -- the annotation of a video -----------------------------------------------------------------------
def frames_of(annotation) -> list[dict]:
    """The keyframes of a stored annotation, sorted by frame (bad entries skipped)."""
    frames = (annotation or {}).get("frames") if isinstance(annotation, dict) else None
    out = [f for f in (frames or []) if isinstance(f, dict) and isinstance(f.get("frame"), int)]
    return sorted(out, key=lambda f: f["frame"])


def _kind(kind: str, shape: dict) -> str:
    """A Label List row's kind with the shape's flags (store/tracks.py): "keyframe · outside"."""
    return " · ".join([kind] + [flag for flag in ("outside", "occluded") if shape.get(flag)])


def label_list(annotation, fps: float | None = None) -> pd.DataFrame:
    """One row per stored shape, grouped by track (a track's keyframes together, in frame order),
    then the shapes of no track by frame; a track's interpolated frames are summed up in the
    Tracks table (track_table)."""
    rows = []
    for f in frames_of(annotation):
        for i, s in enumerate(f.get("shapes") or []):
            rows.append([f["frame"], round(float(f.get("time") or 0), 3), i + 1, s.get("label", ""),
                         str(s.get("type", "")).replace("_", " "), s.get("track") or "",
                         _kind("keyframe" if s.get("track") else "shape", s)])
    first = {}  # a track's place: its first keyframe
    for r in rows:
        if r[5]:
            first.setdefault(r[5], r[0])
    rows.sort(key=lambda r: (not r[5], first.get(r[5], r[0]), r[5], r[0], r[2]))
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def _spans(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges)


def track_table(annotation) -> pd.DataFrame:
    """One row per track: its label and kind of shape, the frames where it is visible, its
    keyframes, interpolated frames, occluded keyframes and where it left the view."""
    rows = []
    ann = annotation or {}
    ranges = track_ranges(ann)
    between = interpolate_tracks(ann)
    interpolated: dict[str, int] = {}
    for shapes in between.values():
        for x in shapes:
            interpolated[x["track"]] = interpolated.get(x["track"], 0) + 1
    for track, items in keyframes(ann).items():
        first = items[0][1]
        rows.append([track, first.get("label", ""), str(first.get("type", "")).replace("_", " "),
                     _spans(ranges.get(track, [])), len(items), interpolated.get(track, 0),
                     _spans([(f, f) for f, x in items if x.get("occluded")]),
                     _spans([(f, f) for f, x in items if x.get("outside")])])
    return pd.DataFrame(rows, columns=TRACK_COLUMNS)


def track_choices(annotation) -> list[str]:
    return list(keyframes(annotation or {}))


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


def meta_of(s) -> dict:
    """A video's size, frame rate, frame count and duration (sensible defaults where unknown)."""
    m = s.meta if isinstance(s.meta, dict) else {}
    fps = float(m.get("fps") or 0) or 25.0
    count = int(m.get("frame_count") or 0) or max(1, round(float(m.get("duration") or 0) * fps))
    return {"width": int(m.get("width") or 0), "height": int(m.get("height") or 0), "fps": fps,
            "frame_count": count, "duration": float(m.get("duration") or count / fps)}


def frame_text(fs, s=None) -> str:
    if not fs:
        return NO_FRAME
    keys = {f["frame"]: f for f in frames_of(s.annotation)} if s is not None else {}
    n = len((keys.get(fs["frame"]) or {}).get("shapes", []))
    return (f"Drawing on **frame {fs['frame']}** · {fs['time']:.3f} s · {n} saved label{'s' if n != 1 else ''}"
            " on this frame · Ctrl+S saves the frame")


# -- the canvas on one frame: its keyframes, and its tracks' interpolated shapes (issue 16) -----------
# (an interpolated shape's canvas id is "<track>@<frame>", as store/tracks.py names it)
def canvas_shapes(annotation, frame: int) -> list[dict]:
    """What the canvas shows on a frame: the stored shapes (but a track's outside keyframe: the
    object is not there) and the interpolated shapes of the tracks without a keyframe there, which
    become keyframes when moved and saved (saved_shapes)."""
    stored = next((f for f in frames_of(annotation) if f["frame"] == frame), {"shapes": []})
    shown = [x for x in stored["shapes"] if not x.get("outside")]
    have = {x.get("track") for x in stored["shapes"] if x.get("track")}
    between = interpolate_tracks(annotation or {}).get(frame, [])
    return shown + [{k: v for k, v in x.items() if k != "interpolated"} for x in between if x["track"] not in have]


def _same_place(a: dict, b: dict) -> bool:
    pa, pb = a.get("points") or [], b.get("points") or []
    return (a.get("label") == b.get("label") and len(pa) == len(pb) and abs(float(a.get("radius") or 0)
            - float(b.get("radius") or 0)) < 0.02 and all(abs(p[0] - q[0]) < 0.02 and abs(p[1] - q[1]) < 0.02
                                                          for p, q in zip(pa, pb)))


def saved_shapes(annotation, frame: int, drawn: list[dict], pending, track: str) -> list[dict]:
    """The frame's shapes to store from what the canvas holds: stored shapes keep their track
    and flags (the canvas carries neither); an interpolated shape moved, resized or relabeled
    becomes a keyframe of its track, one left as it was stays interpolated; a track's outside
    keyframe on the frame stays unless the track has a shape here again."""
    stored = next((f for f in frames_of(annotation) if f["frame"] == frame), {"shapes": []})
    kept = {str(x.get("id")): x for x in stored["shapes"]}
    between = {f"{x['track']}@{frame}": x for x in interpolate_tracks(annotation or {}).get(frame, [])}
    old_tracks = {i: x.get("track") for i, x in kept.items()}
    chosen = []
    for sh in drawn:
        ghost = between.get(str(sh.get("id")))
        if ghost is not None:
            if _same_place(sh, ghost):
                continue  # not touched: still follows from the keyframes around it
            old_tracks[str(sh["id"])] = ghost["track"]
        chosen.append(sh)
    shapes = with_tracks(chosen, old_tracks, pending, track)
    for sh in shapes:
        before = kept.get(str(sh.get("id"))) or between.get(str(sh.get("id"))) or {}
        if before.get("occluded"):
            sh["occluded"] = True
    tracks_here = {sh.get("track") for sh in shapes if sh.get("track")}
    shapes += [x for x in stored["shapes"] if x.get("outside") and x.get("track") not in tracks_here]
    return shapes


def with_tracks(drawn: list[dict], old_tracks: dict, pending, track: str) -> list[dict]:
    """The shapes of a frame with their tracks: set on the shape (pending, not saved yet), saved
    before, or the track box's for the first new shape (a track is once per frame)."""
    pending = pending if isinstance(pending, dict) else {}
    given = {sh["id"]: pending.get(sh["id"], old_tracks.get(sh["id"])) for sh in drawn}
    used = {str(t) for t in given.values() if t}
    shapes = []
    for sh in drawn:
        t = given[sh["id"]]
        if not t and sh["id"] not in old_tracks and sh["id"] not in pending and track and track not in used:
            t = track
            used.add(t)
        if t:
            sh = {**sh, "track": str(t)}
        shapes.append(sh)
    return shapes


def on_set_track(value, pending, track):
    """The track id for the shape selected on the frame, kept until Save."""
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


def on_pick_track(df: pd.DataFrame, evt: gr.SelectData):
    """A row of the Tracks table picks its track."""
    try:
        return str(df.iloc[evt.index[0]]["Track"])
    except (TypeError, IndexError, KeyError, AttributeError):
        return gr.skip()


def pick_js(player_id: str) -> str:
    """The Tracks panel's track picked on the timeline too (in the browser)."""
    return ("(t) => { const r = document.querySelector('#%s .vp-root');"
            " if (r && r.__videoPlayer) r.__videoPlayer.pick(t); }" % player_id)


def on_timeline_pick(player_v):
    """A track picked on the timeline is the Tracks panel's track too."""
    return picked_track(player_v) or gr.skip()


class TrackEdit:
    """Outside from this frame / occluded on this frame / delete its keyframe here / delete the
    track, on the video page (the Tracks panel's buttons)."""

    def __init__(self, page: "VideoPage", action: str):
        self.page, self.action = page, action
        self.__name__ = f"on_track_{action}"

    @user_errors
    def __call__(self, job_id, tab_v, page, list_v, player_v, value, fs, track, n, opened=None):
        if self.action != "delete" and not fs:
            raise UserError("open the frame first (Draw on this frame, or Jump to a time point)")
        return self.page.edit_track(job_id, tab_v, page, list_v, player_v, value, fs["frame"] if fs else -1,
                                    str(track or ""), self.action, None, n, opened)


class VideoPage(LabelingView):
    noun = "videos"
    hint = ("keys: , / . one frame back / forward, k play / pause, [ / ] keyframes of the picked track, "
            "o outside, c occluded, n new track, 1-6 tools, V select, Ctrl+S save the frame, A / D previous / next video")

    def __init__(self, ctx: AppContext, current_job: gr.State, type_id: str = "video_labeling"):
        super().__init__(ctx, current_job, type_id, "vid")
        self.tools = REGISTRY[type_id].tools  # the detection tools
        self.versions = VersionPanel(self)
        self.build_header()
        self.build_tabs()
        with gr.Row():
            self.records = self.build_paged_list(record_list, scale=1, min_width=240)
            with gr.Column(scale=3):
                self._build_editor()
                self._build_label_list()
                self.versions.build_history()
                self.build_label_management(add=True)
        self.build_panels()
        self.page_state = gr.State(1)
        self.frame_state = gr.State(None)  # {"frame": N, "time": t} open on the canvas, or None
        self.pending_tracks = gr.State({})  # shape id -> track id, set on shapes not saved yet
        self.nonce = gr.State(0)
        self.inputs = [current_job, self.tab, self.page_state]
        self.outputs = [self.header, self.tab, self.records, self.page_info, self.player, self.sample_info,
                        self.frame_info, self.canvas, self.list_table, self.tp_pick, self.label_pick,
                        self.page_state, self.frame_state, self.pending_tracks, self.nonce, self.description,
                        self.tracks_table, self.track_pick, self.labels_table, self.lm_label] + self.versions.outputs
        # what keep_unsaved leaves alone: the open video, its frame and its shapes (and its version)
        self.editor = (self.player, self.sample_info, self.frame_info, self.canvas, self.list_table, self.tp_pick,
                       self.frame_state, self.pending_tracks, self.nonce, *self.versions.outputs)
        self._wire()

    def _build_editor(self) -> None:
        self.sample_info = gr.Markdown(elem_id=self.eid("sample-info"))
        # one picture: the canvas takes the video's place while paused on the frame it shows
        self.canvas = shape_canvas(elem_id=self.eid("canvas"))
        self.player = video_player(elem_id=self.eid("player"))
        self.frame_info = gr.Markdown("Pause the video and press **Draw on this frame**.",
                                      elem_id=self.eid("frame-info"))
        with gr.Row():
            self.save_btn = gr.Button("Save this frame (Ctrl+S)", variant="primary", scale=0, min_width=170,
                                      elem_id=self.eid("save"))
            self.discard_btn = gr.Button("Discard changes", scale=0, min_width=130, elem_id=self.eid("discard"))
            self.track_box = gr.Textbox(label="Track id (a new shape gets it on save; or set it on the selected shape)",
                                        max_lines=1, scale=2, elem_id=self.eid("track"))
            self.track_btn = gr.Button("Set track on selected shape", scale=0, min_width=170,
                                       elem_id=self.eid("set-track"))
        self.versions.build_notices()
        with gr.Row(elem_id=self.eid("tracking")):  # automatic tracking (autolabel/tracking.py)
            self.track_frames = gr.Number(value=DEFAULT_TRACK_FRAMES, precision=0, minimum=1, maximum=MAX_TRACK_FRAMES,
                                          label="Frames to track", scale=0, min_width=130,
                                          elem_id=self.eid("track-frames"))
            self.track_fwd_btn = gr.Button("Track selected box forward", scale=0, min_width=210,
                                           elem_id=self.eid("track-forward"))
            self.track_cancel_btn = gr.Button("Cancel tracking", scale=0, min_width=140,
                                              elem_id=self.eid("track-cancel"))
            self.track_status = gr.Markdown("", elem_id=self.eid("track-status"))
        self.track_run = gr.State(None)  # the tracking run of this page, while it runs

    def _build_label_list(self) -> None:
        with gr.Accordion("Tracks", open=True, elem_id=self.eid("tracks-panel")):
            self.tracks_table = gr.Dataframe(interactive=False, label="Tracks (an object across frames)",
                                             elem_id=self.eid("tracks"))
            with gr.Row():
                self.track_pick = gr.Dropdown([], label="Track", scale=2, elem_id=self.eid("track-pick"))
                self.outside_btn = gr.Button("Outside from this frame", scale=0, min_width=180,
                                             elem_id=self.eid("outside"))
                self.occluded_btn = gr.Button("Occluded on this frame (toggle)", scale=0, min_width=220,
                                              elem_id=self.eid("occluded"))
                self.del_key_btn = gr.Button("Delete its keyframe on this frame", scale=0, min_width=220,
                                             elem_id=self.eid("delete-keyframe"))
                self.del_track_btn = gr.Button("Delete this track", variant="stop", scale=0, min_width=150,
                                               elem_id=self.eid("delete-track"))
        with gr.Accordion("Label List (by track, then time point)", open=True, elem_id=self.eid("label-list")):
            self.list_table = gr.Dataframe(interactive=False, label="Labels", elem_id=self.eid("labels"))
            with gr.Row():
                self.tp_pick = gr.Dropdown([], label="Time point", scale=3, elem_id=self.eid("time-point"))
                self.jump_btn = gr.Button("Jump to", scale=0, min_width=100, elem_id=self.eid("jump"))
                self.del_tp_btn = gr.Button("Delete all labels of this time point", variant="stop", scale=0,
                                            min_width=240, elem_id=self.eid("delete-time-point"))
            with gr.Row():
                self.label_pick = gr.Dropdown([], label="Label", scale=3, elem_id=self.eid("label-pick"))
                self.del_label_btn = gr.Button("Delete this label", variant="stop", scale=0, min_width=160,
                                               elem_id=self.eid("delete-label"))
            self.clear_btn = gr.Button("Delete all labels of this video", variant="stop", size="sm",
                                       elem_id=self.eid("clear"))

    def _wire(self) -> None:
        inputs, outputs, canvas, n = self.inputs, self.outputs, self.canvas, self.nonce
        opened = inputs + [self.records, self.player, canvas]  # the open video: the canvas's, the player's, the list's
        self.tab.input(self.on_filter, [self.current_job, self.tab, canvas, n], outputs)
        self.prev_page.click(Pager(self, -1, view=self.browse), inputs + [canvas, n], outputs)
        self.next_page.click(Pager(self, 1, view=self.browse), inputs + [canvas, n], outputs)
        self.records.preview(self.on_open, inputs + [self.records, canvas, n], outputs)
        self.player.draw(self.on_draw, inputs + [self.player, canvas, n], outputs)
        saving = inputs + [canvas, self.frame_state, self.pending_tracks, self.track_box, n]
        wire_save(self.save_btn, canvas, self.on_save, saving + [self.versions.opened], outputs)
        self.versions.wire(self.on_discard, opened + [self.frame_state, n], self.on_save, saving, outputs)
        canvas.navigate(self.on_navigate, opened + [n], outputs)
        self.discard_btn.click(self.on_discard, opened + [self.frame_state, n], outputs)
        self.jump_btn.click(self.on_jump, opened + [self.tp_pick, n], outputs)
        # edits of what is stored carry the version the page opened too: a video changed since is not
        # edited blind (a label deleted by its place in a list that moved on)
        version = [self.versions.opened]
        self.del_tp_btn.click(self.on_delete_time_point, opened + [self.frame_state, self.tp_pick, n] + version,
                              outputs)
        self.del_label_btn.click(self.on_delete_label, opened + [self.frame_state, self.label_pick, n] + version,
                                 outputs)
        self.clear_btn.click(self.on_clear, opened + [n, self.versions.opened], outputs)
        # the selection stays in the browser until the next edit: read it from the widget first
        self.track_btn.click(None, [canvas], [canvas], js=SELECTION_JS).then(
            on_set_track, [canvas, self.pending_tracks, self.track_box], [self.pending_tracks])
        self.list_table.select(on_pick_row, [self.list_table], [self.tp_pick, self.label_pick])
        self.tracks_table.select(on_pick_track, [self.tracks_table], [self.track_pick])
        on_track = opened + [self.frame_state, self.track_pick, n] + version
        self.outside_btn.click(TrackEdit(self, "outside"), on_track, outputs)
        self.occluded_btn.click(TrackEdit(self, "occluded"), on_track, outputs)
        self.del_key_btn.click(TrackEdit(self, "delete_keyframe"), on_track, outputs)
        self.del_track_btn.click(TrackEdit(self, "delete"), on_track, outputs)
        # the timeline: a keyframe dragged or deleted, o / c on the picked track; a row picked
        self.player.trackedit(self.on_timeline_edit, opened + [n] + version, outputs)
        self.player.trackpick(on_timeline_pick, [self.player], [self.track_pick])
        self.track_pick.input(None, [self.track_pick], None, js=pick_js(self.eid("player")))
        # automatic tracking: start a run on the selected box, follow it, then refresh (unsaved shapes stay)
        self.track_fwd_btn.click(None, [canvas], [canvas], js=SELECTION_JS).then(
            self.on_track_start, [self.current_job, canvas, self.frame_state, self.track_frames],
            [self.track_run, self.track_status]).then(
            self.on_track_progress, [self.track_run], [self.track_status], concurrency_limit=None).then(
            self.on_track_done, opened + [self.frame_state, self.track_run, n],
            outputs + [self.track_run, self.track_status])
        self.track_cancel_btn.click(self.on_track_cancel, [self.track_run], [self.track_status])
        # label management, Labeling Description; an import or a run: unsaved shapes on the open frame stay
        self.wire_shared(self.on_refresh, label_inputs=opened + [self.frame_state, n])

    # -- the view ------------------------------------------------------------------------------------
    def frame_canvas(self, job, s, frame: int | None, previous=None, message=None):
        """The canvas's value for a frame of a video (None: no frame open) and the frame's state."""
        prev = previous if isinstance(previous, dict) else {}
        labels = canvas_labels(job)
        if frame is None:
            return canvas_value(None, "", 0, 0, [], labels, self.tools, tool=prev.get("tool"),
                                label=prev.get("label")), None
        m = meta_of(s)
        frame = max(0, min(int(frame), m["frame_count"] - 1))
        stored = next((f for f in frames_of(s.annotation) if f["frame"] == frame), None)
        time = round(frame / m["fps"], 6) if stored is None else float(stored.get("time") or frame / m["fps"])
        value = canvas_value(s.id, f"/media/{s.id}/frame?index={frame}", m["width"], m["height"],
                             canvas_shapes(s.annotation, frame), labels, self.tools, tool=prev.get("tool"),
                             label=prev.get("label"), message=message)
        return value, {"frame": frame, "time": time}

    def open_video(self, job, sample_id, frame, seek, nonce_v, previous, message, picked=None):
        """The open video's parts of the view: player, description, frame text, canvas, frame
        state, annotation, frame rate."""
        s = get_sample(self.store, job.id, int(sample_id), actor=acting_user())
        m = meta_of(s)
        if frame == "first":
            frames = frames_of(s.annotation)
            frame = frames[0]["frame"] if frames else None
        value, fs = self.frame_canvas(job, s, frame, previous, message)
        target = seek if seek is not None else (fs["frame"] if fs else 0)
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        pv = player_value(s.id, m["fps"], m["frame_count"], m["duration"], seek_frame=target, nonce=nonce_v,
                          overlay=overlay_shapes(s.annotation, colors), size=(m["width"], m["height"]),
                          editing=fs["frame"] if fs else None, canvas=self.eid("canvas"), track_box=self.eid("track"),
                          picked=picked)
        nkeys = len(frames_of(s.annotation))
        info = (f"**{esc(s.name)}** · {m['width']}×{m['height']} px · {m['fps']:g} fps · {m['frame_count']} frames"
                f" · {m['duration']:.2f} s · {nkeys} labeled time point{'s' if nkeys != 1 else ''} · {who_labeled(s)}")
        return pv, info, frame_text(fs, s), value, fs, s, m["fps"]

    @reads_only
    def view(self, job_id, tab_v, page, open_id=None, frame=None, seek=None, nonce_v=0, previous=None, message=None,
             picked_track=None):
        """Every output of the page; ``frame`` opens that frame on the canvas ("first": the first
        labeled time point or none), ``seek`` moves the player there."""
        if job_id is None:
            return skips(len(self.outputs))
        found = self.listing(job_id, tab_v, page, PAGE_SIZE, open_id)
        if found is None:
            return self.gone()
        job, c, p, open_id = found
        colors = {lab.name: lab.color for lab in job.label_set.labels}
        items = [{**file_item(s, colors), "content": ""} for s in p.items]
        nonce_v = int(nonce_v or 0) + 1
        if open_id is not None:
            pv, info, ftext, value, fs, s, fps = self.open_video(job, open_id, frame, seek, nonce_v, previous,
                                                                 message, picked_track)
            ann = s.annotation
        else:
            value, fs = self.frame_canvas(job, None, None, previous)
            pv, info, ann, ftext, fps, s = player_value(), "No video in this view.", None, frame_text(None), None, None
        open_frame = fs["frame"] if fs and any(f["frame"] == fs["frame"] for f in frames_of(ann)) else None
        return [header_text(job, c, self.hint), status_tabs(c, tab_v),
                list_value(items, [open_id] if open_id is not None else [], open_on_click=True),
                f"page {p.page} of {p.pages} · {p.total:,} videos", pv, info, ftext, value, label_list(ann, fps),
                gr.Dropdown(choices=time_point_choices(ann), value=open_frame),
                gr.Dropdown(choices=label_choices(ann), value=None), p.page, fs, {}, nonce_v, instructions(job),
                track_table(ann), gr.Dropdown(choices=track_choices(ann), value=picked_track if picked_track in
                                              track_choices(ann) else None),
                *self.label_management_view(job, c), *self.versions.values(job.id, s)]

    def label_management_view(self, job, c) -> list:
        table, names = self.label_frame(job, c)
        return [table, gr.Dropdown(choices=names, value=None)]

    # -- label management (base.py): refused while the frame holds unsaved shapes ----------------------
    def unsaved(self, args: tuple) -> bool:
        return is_dirty(args[5])  # args: opened + [frame state, nonce]: the canvas is the sixth

    def after_label_action(self, args: tuple) -> list:
        return self.on_discard(*args)

    def load(self, job_id, sample_id=None):  # sample_id: a deep link's (pages/links.py checked it is the job's)
        return self.view(job_id, "all", 1, open_id=sample_id, frame="first")

    @staticmethod
    def open_id(list_v, player_v, value):
        """The open video: the canvas's, else the player's, else the one selected in the list."""
        sid = open_sample(value)
        if sid is None and isinstance(player_v, dict):
            sid = player_v.get("sample_id")
        if sid is None and isinstance(list_v, dict):
            sel = list_v.get("selected") or []
            sid = sel[0] if sel else None
        return sid

    # -- the list's events -------------------------------------------------------------------------
    @user_errors
    def browse(self, job_id, tab_v, page, value, n):
        """The list moved (tab, page): its new view; a frame with unsaved changes stays open with them."""
        if job_id is None:
            return skips(len(self.outputs))
        view = self.view(job_id, tab_v, page, open_id=open_if_dirty(value), frame="first", nonce_v=n,
                         previous=value)
        return self.keep_editor(view, is_dirty(value))

    @user_errors
    def on_filter(self, job_id, tab_v, value, n):
        return self.browse(job_id, tab_v, 1, value, n)

    @user_errors
    def on_open(self, job_id, tab_v, page, list_v, value, n):
        sid = preview_id(list_v)
        if job_id is None or sid is None:
            return skips(len(self.outputs))
        refuse_if_unsaved(is_dirty(value) and open_sample(value) != sid, "frame")
        return self.view(job_id, tab_v, page, open_id=sid, frame="first", nonce_v=n, previous=value)

    @user_errors
    def on_navigate(self, job_id, tab_v, page, list_v, player_v, value, n):
        action = action_of(value)
        if job_id is None or action not in ("prev", "next"):
            return skips(len(self.outputs))
        sid = self.open_id(list_v, player_v, value)
        target, new_page = self.step_to(job_id, tab_v, page, sid, 1 if action == "next" else -1, PAGE_SIZE)
        return self.view(job_id, tab_v, new_page, open_id=target, frame="first", nonce_v=n, previous=value)

    # -- the frame's events ------------------------------------------------------------------------
    @user_errors
    def on_draw(self, job_id, tab_v, page, player_v, value, n):
        req = draw_request(player_v)
        sid = player_v.get("sample_id") if isinstance(player_v, dict) else None
        if job_id is None or req is None or sid is None:
            return skips(len(self.outputs))
        refuse_if_unsaved(is_dirty(value), "frame")
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=req[0], seek=req[0], nonce_v=n,
                         previous=value)

    @user_errors
    def on_jump(self, job_id, tab_v, page, list_v, player_v, value, frame, n):
        if job_id is None:
            return skips(len(self.outputs))
        if frame is None:
            raise UserError("choose a time point of the Label List first")
        refuse_if_unsaved(is_dirty(value), "frame")
        sid = self.open_id(list_v, player_v, value)
        return self.view(job_id, tab_v, page, open_id=sid, frame=int(frame), seek=int(frame), nonce_v=n,
                         previous=value)

    @user_errors
    def on_discard(self, job_id, tab_v, page, list_v, player_v, value, fs, n):
        if job_id is None:
            return skips(len(self.outputs))
        sid = self.open_id(list_v, player_v, value)
        return self.view(job_id, tab_v, page, open_id=sid, frame=fs["frame"] if fs else "first", nonce_v=n,
                         previous=value)

    def on_refresh(self, job_id, tab_v, page, list_v, player_v, value, fs, n):
        """After an import: new counts and list; a frame with unsaved shapes keeps them, with its
        video, frame and Label List (an import refreshed through Discard and dropped them)."""
        return self.keep_editor(self.on_discard(job_id, tab_v, page, list_v, player_v, value, fs, n), is_dirty(value))

    # -- track edits (the Tracks panel, the timeline, the keys o and c) -------------------------------
    def edit_track(self, job_id, tab_v, page, list_v, player_v, value, frame: int, track: str, action: str,
                   to: int | None, n, opened=None):
        """One edit of a track (store.tracks.edit_track), written, and the view on the frame it
        changed (the frame a keyframe moved to)."""
        sid = self.open_id(list_v, player_v, value)
        if job_id is None or sid is None:
            raise UserError("open a video first")
        refuse_if_unsaved(is_dirty(value), "frame")
        sample = get_sample(self.store, job_id, int(sid), actor=acting_user())
        if to is not None and not 0 <= to < meta_of(sample)["frame_count"]:
            raise UserError(f"frame {to} is not in this video (0 to {meta_of(sample)['frame_count'] - 1})")
        annotation, msg = edit_track(sample.annotation, frame, track, action, to=to)
        conflict = self.write_stored(job_id, sid, annotation["frames"], opened)  # the store derives each frame's time
        if conflict is not None:
            return conflict
        gr.Info(msg)
        shown = to if to is not None else (frame if frame >= 0 else None)
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=shown, seek=shown, nonce_v=n, previous=value,
                         picked_track=None if action == "delete" else track)

    @user_errors
    def on_timeline_edit(self, job_id, tab_v, page, list_v, player_v, value, n, opened=None):
        req = edit_request(player_v)
        if job_id is None or req is None:
            return skips(len(self.outputs))
        if req["action"] == "delete":
            raise UserError("delete a whole track with the Tracks panel's button")
        return self.edit_track(job_id, tab_v, page, list_v, player_v, value, req["frame"], req["track"],
                               req["action"], req["to"], n, opened)

    # -- automatic tracking (a run of kind "tracking": autolabel/tracking.py) -----------------------
    @user_errors
    def on_track_start(self, job_id, value, fs, frames_n):
        sid = open_sample(value)
        if job_id is None or sid is None or not fs:
            raise UserError("open the frame with the box first (Draw on this frame, or Jump to a time point)")
        if is_dirty(value):
            raise UserError("save this frame first (Ctrl+S): tracking starts from a saved box")
        selected = value.get("selected") if isinstance(value, dict) else None
        stored = next((f for f in self.stored_frames(job_id, sid) if f["frame"] == fs["frame"]), {"shapes": []})
        shape = next((x for x in stored["shapes"] if x.get("id") == selected), None)
        if shape is None:
            raise UserError("select the box to track (V, then click it)")
        if not shape.get("track"):
            raise UserError("the selected box has no track id: type one, press Set track on selected shape, and save")
        try:
            run = start_run_in_background(self.store, job_id, "tracking", actor=acting_user(), options={
                "sample_id": int(sid), "frame": fs["frame"], "track": shape["track"], "frames": frames_n})
        except StoreError as e:
            raise UserError(esc(e)) from None
        return run.id, f"Tracking **{esc(shape['track'])}** from frame {fs['frame']}…"

    def on_track_progress(self, run_id):
        """The run's progress until it ends (a generator: the status line follows it)."""
        if run_id is None:
            yield gr.skip()
            return
        while True:
            run = get_run(self.store, run_id, actor=acting_user())
            if not run.running:
                return  # on_track_done tells the outcome, with the refreshed page
            yield f"Tracking… frame {run.done} of {run.total}" if run.total else "Tracking…"
            time.sleep(TRACK_POLL_S)

    def on_track_done(self, job_id, tab_v, page, list_v, player_v, value, fs, run_id, n):
        """The tracked keyframes on the page (the view as after an import: unsaved shapes stay) and
        the run's outcome in the status line, in one answer."""
        if run_id is None:
            return skips(len(self.outputs)) + [gr.skip(), gr.skip()]
        run = get_run(self.store, run_id, actor=acting_user())
        return (list(self.on_refresh(job_id, tab_v, page, list_v, player_v, value, fs, n))
                + [None, esc(run.message or run.status)])

    @user_errors
    def on_track_cancel(self, run_id):
        if run_id is None:
            raise UserError("no tracking is running on this page")
        try:
            request_cancel(self.store, run_id, actor=acting_user())
        except StoreError as e:
            raise UserError(esc(e)) from None
        return "Cancelling… nothing found so far is written"

    # -- writing the annotation --------------------------------------------------------------------
    def write_frames(self, job_id, sid, frames, expected: int | None = None) -> None:
        """The video's keyframes (those with shapes); none: the video is back in Unlabeled.
        `expected`: the version the page opened (a newer one is refused: history.VersionConflict)."""
        frames = sorted((f for f in frames if f.get("shapes")), key=lambda f: f["frame"])
        if frames:
            set_annotation(self.store, job_id, int(sid), {"frames": frames}, actor=acting_user(),
                           expected_version=expected)
        else:
            clear_annotation(self.store, job_id, int(sid), actor=acting_user(), expected_version=expected)

    def write_stored(self, job_id, sid, frames, opened) -> list | None:
        """An edit of the stored keyframes (a track, a time point, a label deleted), with the version
        the page opened: None when written, else the page's outputs showing the conflict (nothing
        was changed; Reload theirs, then edit again)."""
        try:
            self.write_frames(job_id, sid, frames, expected_version(opened, sid))
        except VersionConflict as e:
            gr.Warning(f"nothing was changed: this video was saved by {e.current.saved_by or 'someone'} since you "
                       "opened it; Reload theirs, then edit again")
            return self.versions.conflict_updates(e, self.outputs)
        return None

    def stored_frames(self, job_id, sid) -> list[dict]:
        return frames_of(get_sample(self.store, job_id, int(sid), actor=acting_user()).annotation)

    @user_errors
    def on_save(self, job_id, tab_v, page, value, fs, pending, track, n, opened=None, over=None):
        """Save the frame into the video's annotation (with the version the page opened: a video
        saved since is a conflict); Keep mine after a conflict (`over`): the frame into the newer one."""
        sid = open_sample(value)
        if job_id is None or sid is None or not fs:
            raise UserError("pause the video and press Draw on this frame first")
        add_drawn_labels(self.store, job_id, value)
        ann = get_sample(self.store, job_id, int(sid), actor=acting_user()).annotation
        frames = frames_of(ann)
        shapes = saved_shapes(ann, fs["frame"], shapes_of(value), pending, (track or "").strip())
        others = [f for f in frames if f["frame"] != fs["frame"]]
        if shapes:
            others.append({"frame": int(fs["frame"]), "time": float(fs["time"]), "shapes": shapes})
        conflict = self.versions.save(job_id, sid, opened, over,
                                      lambda expected: self.write_frames(job_id, sid, others, expected))
        if conflict is not None:
            return self.versions.conflict_updates(conflict, self.outputs)
        k = len(shapes)
        msg = (f"Saved {k} shape{'' if k == 1 else 's'} on frame {fs['frame']}" if k
               else f"Saved: no shapes left on frame {fs['frame']}")
        gr.Info(msg)
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=fs["frame"], nonce_v=n, previous=value,
                         message=msg)

    @user_errors
    def on_delete_time_point(self, job_id, tab_v, page, list_v, player_v, value, fs, frame, n, opened=None):
        if job_id is None:
            return skips(len(self.outputs))
        if frame is None:
            raise UserError("choose a time point of the Label List first")
        sid = self.open_id(list_v, player_v, value)
        frames = self.stored_frames(job_id, sid)
        gone = next((f for f in frames if f["frame"] == int(frame)), None)
        if gone is None:
            raise UserError(f"frame {frame} has no labels")
        conflict = self.write_stored(job_id, sid, [f for f in frames if f["frame"] != int(frame)], opened)
        if conflict is not None:
            return conflict
        k = len(gone.get("shapes") or [])
        gr.Info(f"Deleted the {k} label{'s' if k != 1 else ''} of frame {frame}")
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=fs["frame"] if fs else None, nonce_v=n,
                         previous=value)

    @user_errors
    def on_delete_label(self, job_id, tab_v, page, list_v, player_v, value, fs, choice, n, opened=None):
        if job_id is None:
            return skips(len(self.outputs))
        if not choice:
            raise UserError("choose a label of the Label List first")
        frame, index = (int(x) for x in str(choice).split(":"))
        sid = self.open_id(list_v, player_v, value)
        out = []
        for f in self.stored_frames(job_id, sid):
            if f["frame"] == frame:
                shapes = list(f.get("shapes") or [])
                if not 0 <= index < len(shapes):
                    raise UserError("this label is gone already: the list was refreshed")
                shapes.pop(index)
                f = {**f, "shapes": shapes}
            out.append(f)
        conflict = self.write_stored(job_id, sid, out, opened)
        if conflict is not None:
            return conflict
        gr.Info(f"Deleted label #{index + 1} of frame {frame}")
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=fs["frame"] if fs else None, nonce_v=n,
                         previous=value)

    @user_errors
    def on_clear(self, job_id, tab_v, page, list_v, player_v, value, n, opened=None):
        sid = self.open_id(list_v, player_v, value)
        if job_id is None or sid is None:
            raise UserError("open a video first")
        clear_annotation(self.store, job_id, int(sid), actor=acting_user(), expected_version=expected_version(opened, sid))
        gr.Info("Deleted every label of this video")
        return self.view(job_id, tab_v, page, open_id=int(sid), frame=None, nonce_v=n)


def build(ctx: AppContext, current_job: gr.State) -> VideoPage:
    return VideoPage(ctx, current_job)
