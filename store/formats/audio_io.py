"""Audio readers and writers of `csv`, `jsonl` and `manifest` (SPEC F7.1, F8.2).

csv (sound_classification): `file,label` rows, as for image classification.
jsonl, one audio file a line ("source" absolute, s3:// or relative to the .jsonl; "file",
"audio" and "path" are read too):
    sound_classification {"source": "a.wav", "labels": ["dog_bark"]}    ("label": "x" is read too)
    speech_labeling      {"source": "a.wav", "content": "the transcript"}
    speech_paragraph     {"source": "a.wav", "segments": [{"start": 0.39, "end": 0.8, "label": "nine",
                          "content": "nine"}]}   (multi-label mode: "labels": {class: label})
manifest, one line per file, annotation[] by type:
    modelarts/audio_classification  {"name": label}
    modelarts/audio_content         {"property": {"@modelarts:content": transcript}}
    modelarts/audio_segmentation    {"name": label, "property": {"@modelarts:start_time": "00:00:00.394",
                                     "@modelarts:end_time": "00:00:00.798", "@modelarts:content": ...,
                                     "@modelarts:source": ...}}
    Times are hh:mm:ss.SSS (a number of seconds, mm:ss.SSS and ss.SSS are read too). In
    multi-label mode a segment's class labels are in "@labelport:labels" ({class: label}; our
    extension), and "name" holds them joined by commas. Export writes the same.
Exports name each file by its absolute path or s3:// URL. Unknown single-mode labels are added
to the job's label set on import (F8.4)."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from ..core import Store
from ..errors import ValidationError
from .common import ImportItem
from .splits import split_field, usage_of
from .registry import FORMATS
from .common import export_ref, iter_job_samples, made_by, prepare_out_file, read_text_file, resolve_reference
from .csv_format import read_file_label_csv, write_file_label_csv
from .manifest import read_manifest_lines

AUDIO_TYPES = ("sound_classification", "speech_labeling", "speech_paragraph")
CLASSIFICATION, CONTENT, SEGMENTATION = ("modelarts/audio_classification", "modelarts/audio_content",
                                         "modelarts/audio_segmentation")
ANNOTATION_TYPES = {"sound_classification": CLASSIFICATION, "speech_labeling": CONTENT,
                    "speech_paragraph": SEGMENTATION}
SOURCE_KEYS = ("source", "file", "audio", "path")
CLASS_LABELS = "@labelport:labels"


def hms(seconds: float) -> str:
    """Seconds as hh:mm:ss.SSS (rounded to the millisecond)."""
    ms = int(round(float(seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    return f"{h:02d}:{m:02d}:{rem // 1000:02d}.{rem % 1000:03d}"


def parse_time(value, what: str) -> float:
    """hh:mm:ss.SSS, mm:ss.SSS, ss.SSS or a number, in seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} is missing (hh:mm:ss.SSS)")
    parts = value.strip().split(":")
    try:
        if len(parts) > 3 or any(p.strip() == "" for p in parts):
            raise ValueError
        nums = [float(p) for p in parts]
        if any(n < 0 for n in nums) or any(n != int(n) for n in nums[:-1]) or (len(nums) > 1 and nums[-1] >= 60) \
                or (len(nums) == 3 and nums[1] >= 60):
            raise ValueError
    except ValueError:
        raise ValidationError(f"{what} {value[:40]!r} is not a time hh:mm:ss.SSS") from None
    total = 0.0
    for n in nums:
        total = total * 60 + n
    return total


def _time(value) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else None


def _rel(source: str) -> str:
    return source.rsplit("/", 1)[-1] if source.startswith("s3://") else source


def _item(type_id: str, uri: str, rel: str, ann: dict | None) -> ImportItem:
    """An ImportItem; its labels are the single-mode names the annotation uses (added to the set)."""
    if not ann:
        return ImportItem(uri, rel)
    if type_id == "sound_classification":
        names = ann.get("labels") or []
    elif type_id == "speech_paragraph":
        names = [s.get("label") for s in ann.get("segments") or [] if isinstance(s, dict)]
    else:
        names = []
    names = list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))
    return ImportItem(uri, rel, ann, names)


# -- jsonl ----------------------------------------------------------------------------------------
def _jsonl_annotation(type_id: str, row: dict) -> dict | None:
    if type_id == "sound_classification":
        labels = row.get("labels", row.get("label"))
        labels = [labels] if isinstance(labels, str) else labels
        return {"labels": labels} if labels else None
    if type_id == "speech_labeling":
        content = row.get("content", row.get("transcript", row.get("text")))
        return {"content": content} if content not in (None, "") else None
    segs = row.get("segments")
    return {"segments": segs} if segs else None


def read_audio_jsonl(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str]]:
    text, base = read_text_file(store, path)
    items, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValidationError("each line is a JSON object")
            ref = next((row[k] for k in SOURCE_KEYS if isinstance(row.get(k), str) and row[k].strip()), None)
            if ref is None:
                raise ValidationError('each line needs a "source" (the audio file)')
            items.append(_item(type_id, resolve_reference(ref, base), _rel(ref), _jsonl_annotation(type_id, row)))
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not valid JSON ({e.msg})")
        except ValidationError as e:
            problems.append(f"line {n}: {e}")
    return items, problems


def write_audio_jsonl(store: Store, job, out: Path, type_id: str) -> int:
    out = prepare_out_file(out)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            a = s.annotation or {}
            row: dict = {"id": s.id, **split_field(s), "source": export_ref(store, s.uri, out.parent)}
            if s.meta.get("duration") is not None:
                row["duration"] = s.meta["duration"]
            if type_id == "sound_classification":
                row["labels"] = list(s.labels or [])
            elif type_id == "speech_labeling":
                row["content"] = a.get("content", "") if s.labels else ""
            else:
                row["segments"] = a.get("segments") or [] if s.labels else []
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


# -- manifest -------------------------------------------------------------------------------------
def manifest_annotation(type_id: str, anns, where: str) -> dict | None:
    if not isinstance(anns, list):
        raise ValidationError(f'{where}: "annotation" must be a list')
    want = ANNOTATION_TYPES[type_id]
    labels, contents, segments = [], [], []
    for k, a in enumerate(anns, start=1):
        w = f"{where} annotation {k}"
        if not isinstance(a, dict):
            raise ValidationError(f"{w}: not an object")
        if a.get("type", want) != want:
            raise ValidationError(f"{w}: type {str(a.get('type'))[:60]!r} is not an annotation of this job's type ({want})")
        prop = a.get("property") if isinstance(a.get("property"), dict) else {}
        name = a.get("name")
        if type_id == "sound_classification":
            if not isinstance(name, str) or not name.strip():
                raise ValidationError(f'{w}: "name" (the label) is missing')
            labels.append(name)
        elif type_id == "speech_labeling":
            content = prop.get("@modelarts:content")
            if not isinstance(content, str):
                raise ValidationError(f"{w}: property @modelarts:content (the transcript) is missing")
            contents.append(content)
        else:
            seg: dict = {"start": parse_time(prop.get("@modelarts:start_time"), f"{w}: @modelarts:start_time"),
                         "end": parse_time(prop.get("@modelarts:end_time"), f"{w}: @modelarts:end_time")}
            if isinstance(prop.get(CLASS_LABELS), dict):
                seg["labels"] = prop[CLASS_LABELS]
            elif isinstance(name, str) and name.strip():
                seg["label"] = name
            else:
                raise ValidationError(f'{w}: "name" (the segment\'s label) is missing')
            if a.get("id") not in (None, ""):
                seg["id"] = a["id"]
            for key, field in (("@modelarts:content", "content"), ("@modelarts:source", "source")):
                if isinstance(prop.get(key), str) and prop[key] != "":
                    seg[field] = prop[key]
            segments.append(seg)
    if type_id == "sound_classification":
        return {"labels": list(dict.fromkeys(labels))} if labels else None
    if type_id == "speech_labeling":
        if len(contents) > 1:
            raise ValidationError(f"{where}: {len(contents)} transcripts; a file has one")
        return {"content": contents[0]} if contents and contents[0] != "" else None
    return {"segments": segments} if segments else None


def read_audio_manifest(store: Store, path: str, type_id: str) -> tuple[list[ImportItem], list[str]]:
    lines, _base, problems = read_manifest_lines(store, path)
    items = []
    for n, row, uri in lines:
        try:
            ann = manifest_annotation(type_id, row.get("annotation") or [], f"line {n}")
        except ValidationError as e:
            problems.append(str(e))
            continue
        items.append(_item(type_id, uri, _rel(row["source"]), ann))
    return items, problems


def write_audio_manifest(store: Store, job, out: Path, type_id: str) -> int:
    out = prepare_out_file(out)
    want = ANNOTATION_TYPES[type_id]
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for s in iter_job_samples(store, job.id):
            a = s.annotation or {} if s.labels else {}
            common = {**made_by(s), "creation-time": _time(s.labeled_at),
                      **({"confidence": s.confidence} if s.confidence is not None else {})}
            anns = []
            if type_id == "sound_classification":
                anns = [{"type": want, "name": name, **common} for name in s.labels or []]
            elif type_id == "speech_labeling":
                if a.get("content"):
                    anns = [{"type": want, "property": {"@modelarts:content": a["content"]}, **common}]
            else:
                for seg in a.get("segments") or []:
                    prop = {"@modelarts:start_time": hms(seg["start"]), "@modelarts:end_time": hms(seg["end"])}
                    if isinstance(seg.get("labels"), dict):
                        prop[CLASS_LABELS] = seg["labels"]
                        name = ",".join(seg["labels"].values())
                    else:
                        name = seg.get("label")
                    if seg.get("content") not in (None, ""):
                        prop["@modelarts:content"] = seg["content"]
                    if seg.get("source") not in (None, ""):
                        prop["@modelarts:source"] = seg["source"]
                    anns.append({"type": want, "name": name, "id": seg.get("id"), "property": prop, **common})
            row = {"source": export_ref(store, s.uri, out.parent), "usage": usage_of(s, bool(anns)), **split_field(s),
                   "id": str(s.id)}
            if anns:
                row["annotation"] = anns
            if s.hard:
                row["hard"] = "true"
                row["hard-coefficient"] = s.hard_coefficient
                row["hard-reasons"] = s.hard_reason
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _register() -> None:
    FORMATS["csv"].readers["sound_classification"] = read_file_label_csv
    FORMATS["csv"].writers["sound_classification"] = write_file_label_csv
    for t in AUDIO_TYPES:
        FORMATS["jsonl"].readers[t] = partial(read_audio_jsonl, type_id=t)
        FORMATS["jsonl"].writers[t] = partial(write_audio_jsonl, type_id=t)
        FORMATS["manifest"].readers[t] = partial(read_audio_manifest, type_id=t)
        FORMATS["manifest"].writers[t] = partial(write_audio_manifest, type_id=t)


_register()
