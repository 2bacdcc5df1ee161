"""Speech paragraph labeling: labeled time segments of an audio file (SPEC F1.2, F3.10).

An annotation is
    {"segments": [{"id": "S1", "start": 0.394, "end": 0.798,
                   "label": name,                 # single-label mode (label_set.labels)
                   "labels": {class: label},      # multi-label mode (label_set.classes)
                   "content": "spoken words",     # when given (jobs with speech_content)
                   "source": "who or what"}]}     # optional (manifest @modelarts:source)
Times are seconds, kept to the millisecond; 0 <= start < end <= duration (meta["duration"]);
segments may overlap; an exact duplicate (same start, end and labels) is refused. Segments are
kept sorted by start, end; ids are unique, missing ids get S1, S2, ... In multi-label mode a
segment has at least one class label; every class named must exist and its label belong to it.
An annotation without segments returns the sample to Unlabeled."""
from __future__ import annotations

import math

from ..errors import ValidationError
from ..labelset import MAX_CLASS_NAME, LabelRules, LabelSet
from .base import AUDIO_EXTENSIONS, Annotation, LabelingType

RULES = LabelRules(name_pattern="class", colors=True, classes=True, max_name=MAX_CLASS_NAME)
MAX_SEGMENTS = 10_000
MAX_CONTENT = 100_000


def _seconds(v, what: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValidationError(f"{where}: {what} must be a number of seconds, got {str(v)[:40]!r}")
    return round(float(v), 3)


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    segs = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segs, list):
        raise ValidationError('a speech paragraph annotation is {"segments": [{"start", "end", "label"}, ...]}')
    if len(segs) > MAX_SEGMENTS:
        raise ValidationError(f"{len(segs):,} segments: a file has at most {MAX_SEGMENTS:,}")
    duration = (meta or {}).get("duration")
    limit = math.floor(float(duration) * 1000 + 1e-6) / 1000 if isinstance(duration, (int, float)) else None
    multi = bool(label_set.classes)
    names = set(label_set.names())
    classes = {c.name: set(c.labels) for c in label_set.classes}
    out, ids, seen = [], set(), set()
    for i, s in enumerate(segs, start=1):
        where = f"segment {i}"
        if not isinstance(s, dict):
            raise ValidationError(f"{where} is not an object with start, end and a label")
        start, end = _seconds(s.get("start"), "start", where), _seconds(s.get("end"), "end", where)
        if limit is not None and limit < end <= float(duration) + 0.001:
            end = limit  # rounding to the millisecond pushed it past the end
        if start < 0:
            raise ValidationError(f"{where} starts before the audio ({start} s)")
        if end <= start:
            raise ValidationError(f"{where} ends at {end} s, not after its start at {start} s: "
                                  "a segment must end after it starts")
        if limit is not None and end > limit:
            raise ValidationError(f"{where} ends at {end} s, past the end of the audio ({float(duration):.3f} s)")
        seg: dict = {"id": None, "start": start, "end": end}
        if multi:
            labels = s.get("labels")
            if not isinstance(labels, dict) or not labels:
                raise ValidationError(f"{where}: in multi-label mode a segment has \"labels\": "
                                      "{class: label} with at least one class")
            for cname, lab in labels.items():
                if cname not in classes:
                    raise ValidationError(f"{where}: label class {str(cname)[:60]!r} is not in this job's label set")
                if lab not in classes[cname]:
                    raise ValidationError(f"{where}: {str(lab)[:60]!r} is not a label of class {cname!r}")
            seg["labels"] = {c.name: labels[c.name] for c in label_set.classes if c.name in labels}
            key = tuple(sorted(seg["labels"].items()))
        else:
            label = s.get("label")
            if not isinstance(label, str) or label not in names:
                raise ValidationError(f"{where}: label {str(label)[:80]!r} is not in this job's label set")
            seg["label"] = label
            key = label
        content = s.get("content")
        if content not in (None, ""):
            if not isinstance(content, str) or len(content) > MAX_CONTENT:
                raise ValidationError(f"{where}: content must be text of at most {MAX_CONTENT:,} characters")
            seg["content"] = content
        elif label_set.speech_content:
            seg["content"] = ""
        source = s.get("source")
        if source not in (None, ""):
            if not isinstance(source, str) or len(source) > 1024:
                raise ValidationError(f"{where}: source must be text of at most 1,024 characters")
            seg["source"] = source
        if (start, end, key) in seen:
            raise ValidationError(f"{where} repeats another segment ({start}-{end} s, same labels)")
        seen.add((start, end, key))
        sid = s.get("id")
        sid = str(sid)[:64] if sid not in (None, "") else None
        if sid is not None and sid in ids:
            raise ValidationError(f"{where}: id {sid!r} is used twice: ids must be unique")
        if sid is not None:
            ids.add(sid)
        seg["id"] = sid
        out.append(seg)
    n = 0
    for seg in out:
        if seg["id"] is None:
            n += 1
            while f"S{n}" in ids:
                n += 1
            seg["id"] = f"S{n}"
            ids.add(seg["id"])
    out.sort(key=lambda x: (x["start"], x["end"]))
    data = {"segments": out}
    return Annotation(data, label_names(data))


def label_names(data: dict) -> list[str]:
    names = []
    for s in data.get("segments") or []:
        if isinstance(s.get("labels"), dict):
            names += [v for v in s["labels"].values() if isinstance(v, str)]
        elif isinstance(s.get("label"), str):
            names.append(s["label"])
    return list(dict.fromkeys(names))


def relabel(data: dict, old: str, new: str | None) -> dict:
    """Rename a label (or a class label) on every segment; dropping it drops single-label
    segments with it, and the class entry of multi-label segments (a segment left with no
    class label goes)."""
    segs = []
    for s in data.get("segments") or []:
        if isinstance(s.get("labels"), dict):
            labels = {c: (new if v == old else v) for c, v in s["labels"].items() if not (v == old and new is None)}
            if not labels:
                continue
            s = {**s, "labels": labels}
        elif s.get("label") == old:
            if new is None:
                continue
            s = {**s, "label": new}
        segs.append(s)
    return {**data, "segments": segs}


TYPE = LabelingType(
    id="speech_paragraph", order=8, title="Speech paragraph labeling", scene="audio", media="audio",
    rules=RULES, team_labeling=True, formats=("manifest", "jsonl", "label_studio", "parquet"), validate=validate,
    relabel=relabel, label_names=label_names, extensions=AUDIO_EXTENSIONS,
    description="Labeled time segments, optionally with their spoken content.", page="pages.speech_paragraph",
    widget="segments", task_categories=("automatic-speech-recognition", "audio-classification"))
