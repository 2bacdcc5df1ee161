"""Named entity recognition: labeled character spans of a text (SPEC F3.6).

An annotation is {"spans": [{"id": "T1", "start": int, "end": int, "label": name}, ...]}.
Offsets are character offsets into the sample's original text as Python str indices (Unicode
code points: an emoji or a CJK character is one, a combining mark typed separately is one of its
own), end exclusive: 0 <= start < end <= len(text). Spans are flat, as in CoNLL/BIO: overlapping
spans and exact duplicates are refused. The validator reads the text from meta["text"] (set by
store.annotations.set_annotation and store.imports from samples.text); without it only the
bounds it can check are checked. Spans come back sorted by (start, end)."""
from __future__ import annotations

from ..errors import ValidationError
from ..labelset import LabelRules, LabelSet
from .base import TEXT_EXTENSIONS, Annotation, LabelingType

MAX_SPANS = 10_000


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _excerpt(text: str | None, start: int, end: int) -> str:
    return f" {text[start:end][:40]!r}" if text is not None else ""


def check_spans(raw, known: set[str], text: str | None, what: str, prefix: str, flat: bool,
                label_kind: str = "label") -> list[dict]:
    """Checked spans {"id", "start", "end", "label"}, sorted by (start, end); ids kept when given
    (unique), else <prefix><n>."""
    if not isinstance(raw, list):
        raise ValidationError(f"{what} must be a list")
    if len(raw) > MAX_SPANS:
        raise ValidationError(f"{len(raw):,} {what} on one text: the limit is {MAX_SPANS:,}")
    n_text = len(text) if text is not None else None
    out, ids = [], set()
    for i, s in enumerate(raw, start=1):
        if not isinstance(s, dict):
            raise ValidationError(f"{what} {i} is not an object with start, end and label")
        start, end, label = s.get("start"), s.get("end"), s.get("label")
        if not _int(start) or not _int(end):
            raise ValidationError(f"{what} {i}: start and end must be whole numbers (character offsets), "
                                  f"got {start!r}, {end!r}"[:200])
        if not isinstance(label, str) or label not in known:
            raise ValidationError(f"{what} {i}: {label_kind} {str(label)[:80]!r} is not in this job's label set")
        if start < 0 or end <= start or (n_text is not None and end > n_text):
            limit = f" of a {n_text}-character text" if n_text is not None else ""
            raise ValidationError(f"{what} {i} ({label[:60]!r}) [{start}, {end}) is out of range{limit}: "
                                  f"offsets need 0 <= start < end <= length of the text")
        sid = s.get("id")
        sid = str(sid)[:64] if sid not in (None, "") else None
        if sid is not None and sid in ids:
            raise ValidationError(f"{what} {i}: id {sid!r} is used twice: ids must be unique")
        if sid is not None:
            ids.add(sid)
        out.append({"id": sid, "start": start, "end": end, "label": label})
    n = 0
    for s in out:  # ids for spans that came without one
        if s["id"] is None:
            n += 1
            while f"{prefix}{n}" in ids:
                n += 1
            s["id"] = f"{prefix}{n}"
            ids.add(s["id"])
    out.sort(key=lambda s: (s["start"], s["end"]))
    for a, b in zip(out, out[1:]):
        if (a["start"], a["end"], a["label"]) == (b["start"], b["end"], b["label"]):
            raise ValidationError(f"{what} {b['id']} duplicates {a['id']}: the same {a['label'][:60]!r} span "
                                  f"[{a['start']}, {a['end']}){_excerpt(text, a['start'], a['end'])}")
        if flat and b["start"] < a["end"]:
            raise ValidationError(
                f"{what} {a['id']} {a['label'][:60]!r} [{a['start']}, {a['end']}){_excerpt(text, a['start'], a['end'])} "
                f"and {b['id']} {b['label'][:60]!r} [{b['start']}, {b['end']}){_excerpt(text, b['start'], b['end'])} "
                "overlap: named entity spans are flat (as in CoNLL/BIO), remove one first")
    return out


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    if not isinstance(data, dict) or not isinstance(data.get("spans"), list):
        raise ValidationError('a named entity annotation is {"spans": [{"start", "end", "label"}, ...]}')
    text = (meta or {}).get("text")
    spans = check_spans(data["spans"], set(label_set.names()), text, "span", "T", flat=True)
    return Annotation({"spans": spans}, list(dict.fromkeys(s["label"] for s in spans)))


def relabel(data: dict, old: str, new: str | None) -> dict:
    spans = []
    for s in data.get("spans") or []:
        if s.get("label") == old:
            if new is None:
                continue
            s = {**s, "label": new}
        spans.append(s)
    return {**data, "spans": spans}


def label_names(data: dict) -> list[str]:
    return list(dict.fromkeys(s["label"] for s in data.get("spans") or []))


TYPE = LabelingType(
    id="named_entity_recognition", order=4, title="Named entity recognition", scene="text", media="text",
    rules=LabelRules(colors=True), team_labeling=True, auto_labeling=True,
    formats=("manifest", "conll", "jsonl", "label_studio", "parquet"), validate=validate, relabel=relabel,
    label_names=label_names, extensions=TEXT_EXTENSIONS, page="pages.text_spans",
    description="Labeled character spans in texts.",
    widget="spans", autolabel_kinds=("prelabel",), model_tasks=("token-classification",),
    prelabel_task="token-classification", task_categories=("token-classification",))
