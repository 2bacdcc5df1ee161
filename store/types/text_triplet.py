"""Text triplet: entity spans and relations between them (SPEC F3.7).

An annotation is
    {"entities": [{"id": "E1", "start": int, "end": int, "label": entity label}, ...],
     "relations": [{"id": "R1", "from": "E1", "to": "E2", "label": relationship label}, ...]}
Entity labels come from label_set.entities, relationship labels from label_set.relations.
Offsets as in named_entity_recognition (Python str indices, end exclusive, text from
meta["text"]); entities may overlap (nested mentions) but an exact duplicate is refused. A
relation names two existing entities (no self-relation), and the entity labels at its ends must
be the relationship label's source and target."""
from __future__ import annotations

from dataclasses import replace

from ..errors import ValidationError
from ..labelset import Label, LabelRules, LabelSet, Relation, validate_label_set
from .base import TEXT_EXTENSIONS, Annotation, LabelingType
from .named_entity_recognition import check_spans

RULES = LabelRules(colors=True, entities_relations=True)


def validate(data: dict, label_set: LabelSet, meta: dict | None = None) -> Annotation:
    if (not isinstance(data, dict) or not isinstance(data.get("entities", []), list)
            or not isinstance(data.get("relations", []), list)):
        raise ValidationError('a text triplet annotation is {"entities": [...], "relations": [...]}')
    text = (meta or {}).get("text")
    entities = check_spans(data.get("entities") or [], {e.name for e in label_set.entities}, text,
                           "entity", "E", flat=False, label_kind="entity label")
    by_id = {e["id"]: e for e in entities}
    kinds = {r.name: r for r in label_set.relations}
    relations, ids, seen = [], set(), set()
    for i, r in enumerate(data.get("relations") or [], start=1):
        if not isinstance(r, dict):
            raise ValidationError(f"relation {i} is not an object with from, to and label")
        label, src, dst = r.get("label"), r.get("from"), r.get("to")
        if not isinstance(label, str) or label not in kinds:
            raise ValidationError(f"relation {i}: relationship label {str(label)[:80]!r} is not in this job's label set")
        for end, ref in (("from", src), ("to", dst)):
            if not isinstance(ref, str) or ref not in by_id:
                raise ValidationError(f"relation {i} ({label[:60]!r}): its {end!r} entity {str(ref)[:40]!r} does not "
                                      "exist on this text; a relation links two existing entities")
        if src == dst:
            raise ValidationError(f"relation {i} ({label[:60]!r}) goes from entity {src} to itself: "
                                  "a relation links two different entities")
        kind, a, b = kinds[label], by_id[src], by_id[dst]
        if (a["label"], b["label"]) != (kind.source, kind.target):
            raise ValidationError(
                f"relation {label[:60]!r} goes from a {kind.source[:60]!r} entity to a {kind.target[:60]!r} "
                f"entity; {src} is {a['label'][:60]!r} and {dst} is {b['label'][:60]!r}")
        if (src, dst, label) in seen:
            raise ValidationError(f"relation {i} repeats {label[:60]!r} from {src} to {dst}")
        seen.add((src, dst, label))
        rid = r.get("id")
        rid = str(rid)[:64] if rid not in (None, "") else None
        if rid is not None and rid in ids:
            raise ValidationError(f"relation {i}: id {rid!r} is used twice: ids must be unique")
        if rid is not None:
            ids.add(rid)
        relations.append({"id": rid, "from": src, "to": dst, "label": label})
    n = 0
    for r in relations:
        if r["id"] is None:
            n += 1
            while f"R{n}" in ids:
                n += 1
            r["id"] = f"R{n}"
            ids.add(r["id"])
    out = {"entities": entities, "relations": relations}
    return Annotation(out, label_names(out))


def relabel(data: dict, old: str, new: str | None) -> dict:
    """Rename or drop an entity label (dropping its entities and their relations) or a
    relationship label."""
    entities, dropped = [], set()
    for e in data.get("entities") or []:
        if e.get("label") == old:
            if new is None:
                dropped.add(e.get("id"))
                continue
            e = {**e, "label": new}
        entities.append(e)
    relations = []
    for r in data.get("relations") or []:
        if r.get("from") in dropped or r.get("to") in dropped:
            continue
        if r.get("label") == old:
            if new is None:
                continue
            r = {**r, "label": new}
        relations.append(r)
    return {**data, "entities": entities, "relations": relations}


def label_names(data: dict) -> list[str]:
    return list(dict.fromkeys([e["label"] for e in data.get("entities") or []]
                              + [r["label"] for r in data.get("relations") or []]))


def extend_label_set(store, job, annotations: list[dict], actor: str | None, cur):
    """Import: entity labels and relationship labels the data uses that the set lacks are added
    (SPEC F8.4); an unknown relation gets the source/target entity labels it was seen with.
    Returns the job (reloaded when its set changed)."""
    from ..events import now, record_event
    from ..jobs import get_job

    ls = job.label_set
    ents = {e.name for e in ls.entities}
    rels = {r.name for r in ls.relations}
    new_ents: list[Label] = []
    new_rels: list[Relation] = []
    for ann in annotations:
        if not isinstance(ann, dict):
            continue
        labels_by_id = {}
        for e in ann.get("entities") or []:
            if isinstance(e, dict) and isinstance(e.get("label"), str) and e["label"].strip():
                labels_by_id[e.get("id")] = e["label"]
                if e["label"] not in ents:
                    ents.add(e["label"])
                    new_ents.append(Label(e["label"]))
        for r in ann.get("relations") or []:
            if not isinstance(r, dict) or not isinstance(r.get("label"), str) or r["label"] in rels:
                continue
            src, dst = labels_by_id.get(r.get("from")), labels_by_id.get(r.get("to"))
            if src and dst and r["label"].strip():
                rels.add(r["label"])
                new_rels.append(Relation(r["label"], src, dst))
    if not new_ents and not new_rels:
        return job
    label_set = validate_label_set(replace(ls, entities=[*ls.entities, *new_ents],
                                           relations=[*ls.relations, *new_rels]), RULES)
    cur.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [label_set.to_json(), now(), job.id])
    record_event(cur, actor, "add_labels", job.id, labels=[x.name for x in (*new_ents, *new_rels)])
    return replace(job, label_set=label_set)


TYPE = LabelingType(
    id="text_triplet", order=5, title="Text triplet", scene="text", media="text", rules=RULES, team_labeling=True,
    formats=("manifest", "jsonl", "label_studio", "parquet"), validate=validate, relabel=relabel, label_names=label_names,
    extensions=TEXT_EXTENSIONS, page="pages.text_spans", description="Entity spans and relations between them.",
    widget="spans", task_categories=("token-classification",))
