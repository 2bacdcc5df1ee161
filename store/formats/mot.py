"""MOT challenge ground truth, format id `mot` (issue 16): video labeling's boxes for tracking
benchmarks and trackers, both ways.

A folder per video, named after it, as MOTChallenge (and CVAT's MOT 1.1) lay a sequence out:

    <video stem>/seqinfo.ini      [Sequence] name, imDir, frameRate, seqLength, imWidth, imHeight, imExt
    <video stem>/gt/gt.txt        frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility
    <video stem>/gt/labels.txt    the class names, one a line (class 1 is the first)

Frames are numbered from 1 (our frame 0 is MOT's frame 1); `id` is a track's number (from 1, in
the order tracks first appear; a box without a track gets a number of its own); every frame a
track is visible on has its line, interpolated frames included (store/tracks.py), outside ones
not; conf is 1 (the box counts), visibility 1.0, or 0.5 when the box is occluded. Only
rectangles are written (MOT boxes). seqinfo.ini also names the video (labelport_source) and each
number's own track id (labelport_tracks, JSON).

Import: a sequence folder (or a folder of them, or a gt.txt): the video is seqinfo.ini's
labelport_source, else `<name>.mp4` in the sequence folder or beside it; class names from
gt/labels.txt (else "class N"); lines with conf 0 (ignored boxes) are skipped. Each id is a
track: the frames it is listed on become keyframes where linear interpolation between them does
not give the listed box (store/tracks.py fills the rest), a gap is an outside keyframe, and a
visibility under 1 is occluded. A track of one frame is a box of its own.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from ..tracks import frames_with_interpolation, thin
from .common import ImportItem, export_ref, iter_job_samples, prepare_out_dir
from .splits import split_folder
from .registry import Format, register

TYPE = "video_labeling"


def _num(v: float) -> str:
    return f"{float(v):.2f}".rstrip("0").rstrip(".")


def mot_lines(annotation: dict | None, classes: dict[str, int],
              names: dict[int, str] | None = None) -> tuple[list[str], int]:
    """(gt.txt lines sorted by frame then id, shapes left out as not boxes); `names` gets each
    numbered track's own id."""
    ids: dict[str, int] = {}
    lines: list[tuple[int, int, str]] = []
    skipped = 0
    count = 0
    for frame, shapes in frames_with_interpolation(annotation or {}).items():
        for s in shapes:
            if s["type"] != "rectangle":
                skipped += 1
                continue
            if s.get("track") and s["track"] in ids:
                tid = ids[s["track"]]
            else:
                count += 1
                tid = count
                if s.get("track"):
                    ids[s["track"]] = tid
                    if names is not None:
                        names[tid] = s["track"]
            (x1, y1), (x2, y2) = s["points"]
            x, y, w, h = min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1)
            cls = classes.setdefault(s["label"], len(classes) + 1)
            vis = "0.5" if s.get("occluded") else "1"
            lines.append((frame + 1, tid, f"{frame + 1},{tid},{_num(x)},{_num(y)},{_num(w)},{_num(h)},1,{cls},{vis}"))
    lines.sort(key=lambda t: (t[0], t[1]))
    return [t[2] for t in lines], skipped


def write_mot(store: Store, job, out: Path) -> int:
    """A MOT sequence folder for every video of the job with boxes."""
    out = prepare_out_dir(out)
    classes = {name: i for i, name in enumerate(job.label_set.names(), start=1)}
    used: set[str] = set()
    seqs: list[Path] = []
    for s in iter_job_samples(store, job.id, labeled_only=True):
        names: dict[int, str] = {}
        lines, _skipped = mot_lines(s.annotation, classes, names)
        if not lines:
            continue
        stem = Path(s.name).stem or f"video_{s.id}"
        if stem.lower() in used:
            stem = f"{s.id}_{stem}"
        used.add(stem.lower())
        seq = split_folder(out, s) / stem  # with splits, MOTChallenge's layout: <split>/<sequence>/
        (seq / "gt").mkdir(parents=True)
        (seq / "gt" / "gt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        m = s.meta or {}
        (seq / "seqinfo.ini").write_text(
            "[Sequence]\n"
            f"name={stem}\nimDir=img1\nframeRate={_num(m.get('fps') or 0)}\nseqLength={int(m.get('frame_count') or 0)}\n"
            f"imWidth={int(m.get('width') or 0)}\nimHeight={int(m.get('height') or 0)}\nimExt=.jpg\n"
            f"labelport_source={export_ref(store, s.uri, seq)}\n"
            f"labelport_tracks={json.dumps({str(k): v for k, v in names.items()}, ensure_ascii=False)}\n",
            encoding="utf-8")
        seqs.append(seq)
    for seq in seqs:  # the classes of the whole job, the same numbers in every sequence
        (seq / "gt" / "labels.txt").write_text("".join(f"{name}\n" for name in classes), encoding="utf-8")
    return len(seqs)


# -- import ----------------------------------------------------------------------------------------
MAX_GT_BYTES = 200 * 2**20


def _keyframes(rows: list[tuple[int, list[float], bool]]) -> list[tuple[int, list[float], bool, bool]]:
    """(frame, box, occluded, outside) keyframes of one id's rows (frame, box, occluded), sorted by
    frame: each run of consecutive frames thinned to what interpolation needs (exactly, to 0.02
    px; a change of occluded keeps its frame), a gap an outside keyframe after the run."""
    out: list[tuple[int, list[float], bool, bool]] = []
    runs: list[list[tuple[int, list[float], bool]]] = []
    for row in rows:
        if runs and row[0] == runs[-1][-1][0] + 1:
            runs[-1].append(row)
        else:
            runs.append([row])
    for k, run in enumerate(runs):
        keep = set(thin({f: b for f, b, _o in run}, tolerance=0.02))
        keep |= {f for (f, _b, o), (_g, _c, p) in zip(run[1:], run) if o != p}
        out += [(f, b, o, False) for f, b, o in run if f in keep]
        if k + 1 < len(runs):
            f, b, o = run[-1]
            out.append((f + 1, b, False, True))
    return out


def _read_sequence(store: Store, files: dict[str, str], seq: str) -> tuple[str | None, list[dict], list[str], list[str]]:
    """(video uri, frames, label names, problems) of the sequence folder `seq` (files: rel -> uri)."""
    import configparser

    from .common import resolve_reference

    problems: list[str] = []
    pre = f"{seq}/" if seq else ""
    ini = configparser.ConfigParser(interpolation=None)
    if f"{pre}seqinfo.ini" in files:
        try:
            ini.read_string(store.locations.read(files[f"{pre}seqinfo.ini"]).decode("utf-8", "replace"))
        except configparser.Error as e:
            problems.append(f"{pre}seqinfo.ini: {str(e)[:200]}")
    info = ini["Sequence"] if ini.has_section("Sequence") else {}
    name = info.get("name") or (seq.rsplit("/", 1)[-1] if seq else "")
    gt_uri = files[f"{pre}gt/gt.txt"]
    base = Path(gt_uri).parent.parent if not gt_uri.startswith("s3://") else None
    video = None
    if info.get("labelport_source"):
        video = resolve_reference(info["labelport_source"], base)
    else:
        for cand in (f"{pre}{name}.mp4", f"{seq.rsplit('/', 1)[0] + '/' if '/' in seq else ''}{name}.mp4"):
            if cand in files:
                video = files[cand]
                break
    if video is None:
        return None, [], [], [f"{pre or 'the folder'}: no video for sequence {name!r} (seqinfo.ini labelport_source, "
                              f"or {name}.mp4 in or beside the sequence folder)"]
    try:  # our export: each number's own track id
        track_names = json.loads(info.get("labelport_tracks") or "{}")
        track_names = track_names if isinstance(track_names, dict) else {}
    except ValueError:
        track_names = {}
    names = []
    if f"{pre}gt/labels.txt" in files:
        names = [x.strip() for x in store.locations.read(files[f"{pre}gt/labels.txt"]).decode("utf-8", "replace")
                 .splitlines() if x.strip()]
    data = store.locations.read(gt_uri)
    if len(data) > MAX_GT_BYTES:
        return video, [], [], [f"{pre}gt/gt.txt: {len(data) / 2**20:.0f} MB is too large"]
    tracks: dict[int, list[tuple[int, list[float], bool]]] = {}
    classes: dict[int, str] = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            if len(cells) < 6:
                raise ValueError("fewer than 6 values")
            frame, tid = int(float(cells[0])), int(float(cells[1]))
            x, y, w, h = (float(c) for c in cells[2:6])
            conf = float(cells[6]) if len(cells) > 6 and cells[6] else 1.0
            cls = int(float(cells[7])) if len(cells) > 7 and cells[7] else 1
            vis = float(cells[8]) if len(cells) > 8 and cells[8] else 1.0
            if frame < 1 or w <= 0 or h <= 0 or not all(map(math.isfinite, (x, y, w, h, conf, vis))):
                raise ValueError("frame from 1, a positive width and height")
        except ValueError as e:
            problems.append(f"{pre}gt/gt.txt line {n}: {str(e)[:80]}")
            continue
        if conf == 0:
            continue  # an ignored box (MOT: not considered)
        classes.setdefault(tid, names[cls - 1] if 0 < cls <= len(names) else f"class {cls}")
        tracks.setdefault(tid, []).append((frame - 1, [x, y, x + w, y + h], vis < 1))
    frames: dict[int, list[dict]] = {}
    for tid, rows in tracks.items():
        rows.sort(key=lambda r: r[0])
        keys = _keyframes(rows)
        one = len(rows) == 1
        for f, (x1, y1, x2, y2), occluded, outside in keys:
            shape = {"type": "rectangle", "label": classes[tid],
                     "points": [[round(x1, 2), round(y1, 2)], [round(x2, 2), round(y2, 2)]]}
            if not one:
                shape["track"] = str(track_names.get(str(tid)) or tid)
            if occluded:
                shape["occluded"] = True
            if outside:
                shape["outside"] = True
            frames.setdefault(f, []).append(shape)
    out = [{"frame": f, "shapes": frames[f]} for f in sorted(frames)]
    return video, out, list(dict.fromkeys(classes.values())), problems


def read_mot(store: Store, path: str) -> tuple[list[ImportItem], list[str]]:
    path = path.strip().rstrip("/")
    if path.endswith("gt/gt.txt") or path.endswith("gt.txt"):
        path = path.rsplit("/", 2)[0] if path.endswith("gt/gt.txt") else path.rsplit("/", 1)[0]
    src = path if path.startswith("s3://") else str(Path(path).expanduser().absolute())
    files = {rel: uri for uri, rel, _size in store.locations.list_source(src)}
    seqs = sorted({rel[: -len("gt/gt.txt")].rstrip("/") for rel in files if rel == "gt/gt.txt" or rel.endswith("/gt/gt.txt")})
    if not seqs:
        raise ValidationError(f"{path}: no MOT sequence (gt/gt.txt) found")
    items, problems = [], []
    for seq in seqs:
        video, frames, names, bad = _read_sequence(store, files, seq)
        problems += bad
        if video is not None:
            items.append(ImportItem(video, video.rsplit("/", 1)[-1], {"frames": frames} if frames else None, names))
    return items, problems


register(Format("mot", "MOT challenge",
                "A folder per video: gt/gt.txt (frame,id,left,top,width,height,conf,class,visibility; frames "
                "from 1, interpolated frames included), gt/labels.txt, seqinfo.ini; boxes only.",
                readers={TYPE: read_mot}, writers={TYPE: write_mot}, example="mot_gt.txt"))
