"""Labels on samples: apply, remove, set one annotation; label management (rename/delete
everywhere, add a label). Every change is one transaction."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Iterable

from .core import Store
from .errors import Conflict, NotFound, ValidationError
from .events import now, record_event
from .jobs import Job, get_job
from .labelset import Label, LabelSet, check_label_name, validate_label_set
from .types import Annotation
from .access import require_job
from .history import check_version, check_versions, current_version, record as record_history, sample_meta


def _require_page(job: Job) -> None:
    if not job.labeling_type.available:
        raise ValidationError(f"{job.labeling_type.title} labeling is not available yet")


def add_labels_to_set(store: Store, job_id: int, labels: Iterable[Label], actor: str | None = None,
                      cur=None) -> Job:
    """Add labels (new names only) to the job's label set, validated by the type's rules."""
    job = get_job(store, job_id)
    existing = set(job.label_set.names())
    new = [lab for lab in labels if lab.name.strip() not in existing]
    if not new:
        return job
    label_set = validate_label_set(replace(job.label_set, labels=[*job.label_set.labels, *new]),
                                   job.labeling_type.rules)

    def write(c):
        c.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [label_set.to_json(), now(), job_id])
        record_event(c, actor, "add_labels", job_id, labels=[lab.name for lab in new])

    if cur is not None:
        write(cur)
    else:
        with store.db.transaction() as c:
            write(c)
    return get_job(store, job_id)


FEW = 32  # up to this many samples, a save writes each row and its history row directly


def _write_annotations(cur, job_id: int, rows: list[tuple[int, Annotation | None]], actor: str | None,
                       status: str = "labeled", source: str = "human",
                       read: dict[int, tuple] | None = None) -> dict[int, int]:
    """Write annotations for (sample_id, annotation) pairs; an empty one returns the sample to
    Unlabeled. Each written sample gets its next version, kept in its history (store/history.py).
    ``read``: what _current_rows read in this transaction (the row's id finds it without a scan).
    Returns {sample id: new version} for a person's save (FEW samples or fewer), else {}."""
    if not rows:  # e.g. removing a label no selected sample has; DuckDB's executemany refuses []
        return {}
    t = now()
    params = []
    for sample_id, ann in rows:
        if ann is None or not ann.labels:
            params.append(["unlabeled", [], None, None, None, job_id, sample_id])
        else:
            params.append([status, ann.labels, json.dumps(ann.data, ensure_ascii=False), actor, t, job_id, sample_id])
    sql = ("UPDATE job_samples SET status = ?, labels = ?, annotation = ?, labeled_by = ?, labeled_at = ?, "
           "from_inference = false, confidence = NULL, model = NULL")
    where = " WHERE job_id = ? AND sample_id = ?"
    if len(params) > FEW:  # many samples: one statement for all, then their versions in bulk
        cur.executemany(sql + where, params)
        record_history(cur, job_id, [sid for sid, _ in rows], actor, source)
        return {}
    # a person's save (the hot path): the version goes up in the same statement, and the history
    # row is written from what was saved (a bulk record would scan for the rows again). DuckDB
    # finds a row by (job_id, sample_id) with a scan of the table; the rowid read a moment ago in
    # this transaction reads one row group (the two ids stay in the filter: the row or nothing).
    kept, versions = [], {}
    bump = sql + ", version = coalesce(version, 0) + 1"
    for p in params:
        sid, got = p[-1], []
        if read and sid in read:
            got = cur.execute(bump + " WHERE rowid = ? AND job_id = ? AND sample_id = ? RETURNING version",
                              [*p[:-2], read[sid][2], job_id, sid]).fetchall()
        if not got:  # no row read before (or not that row): by the two ids
            got = cur.execute(bump + where + " RETURNING version", p).fetchall()
        if got:
            versions[sid] = got[0][0]
            kept.append([job_id, sid, got[0][0], p[0], p[1], p[2], actor, t, source])
    insert = "INSERT INTO annotation_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    if len(kept) == 1:  # execute is ~0.7 ms quicker than executemany for one row
        cur.execute(insert, kept[0])
    elif kept:
        cur.executemany(insert, kept)
    return versions


def _audit(cur, actor: str | None, action: str, job_id: int, changed: int, **detail) -> None:
    """The audit trail of a change of labels (SPEC F6.1). Each sample a change touches gets a
    history row saying who, when, what and from where (store/history.py), so a change of one
    sample (a person's save, the hot path) needs nothing more; a change over several samples also
    writes one event saying what was asked (the labels, how many samples). store/events.py
    list_events reads both."""
    if changed != 1:
        record_event(cur, actor, action, job_id, samples=changed, **detail)


def _current_rows(store: Store, job_id: int, sample_ids: list[int]) -> dict[int, tuple[list[str], int, int]]:
    """{sample id: (labels, version, rowid)} of the job's rows; NotFound when one is gone.
    No job_id filter in SQL: DuckDB uses the sample_id index only for a filter on that column
    alone (a scan of a million rows otherwise); other jobs' rows are dropped here."""
    if len(sample_ids) == 1:
        rows = store.db.fetchall("SELECT sample_id, labels, job_id, coalesce(version, 0), rowid FROM job_samples "
                                 "WHERE sample_id = ?", [sample_ids[0]])
    else:
        rows = store.db.fetchall(
            "SELECT sample_id, labels, job_id, coalesce(version, 0), rowid FROM job_samples "
            "WHERE sample_id IN (SELECT unnest(?::BIGINT[]))", [sample_ids])
    found = {r[0]: (list(r[1]), int(r[3]), r[4]) for r in rows if r[2] == job_id}
    missing = [s for s in sample_ids if s not in found]
    if missing:
        raise NotFound(f"{len(missing)} selected samples are no longer in this job (deleted?); refresh the page")
    return found


def apply_labels(store: Store, job_id: int, sample_ids: list[int], labels: list[str],
                 actor: str | None = None, versions: dict | None = None) -> int:
    """Classification: add labels to every selected sample in one action (F3.1). A typed name
    that is not in the label set is added to it. Returns the number of samples changed."""

    job = get_job(store, job_id, actor, "label")  # store/access.py decides
    _require_page(job)
    sample_ids = list(dict.fromkeys(int(s) for s in sample_ids))
    if not sample_ids:
        raise ValidationError("select at least one sample first")
    names = [check_label_name(n, job.labeling_type.rules) for n in labels if n and n.strip()]
    if not names:
        raise ValidationError("choose a label or type a new one")
    with store.db.transaction() as cur:
        new = [Label(n) for n in dict.fromkeys(names) if n not in job.label_set.names()]
        if new:
            job = add_labels_to_set(store, job_id, new, actor, cur=cur)
        read = _current_rows(store, job_id, sample_ids)
        check_versions(cur, job_id, versions)
        rows = []
        for sid in sample_ids:
            merged = list(dict.fromkeys([*read[sid][0], *names]))
            rows.append((sid, job.labeling_type.validate({"labels": merged}, job.label_set)))
        _write_annotations(cur, job_id, rows, actor, read=read)
        _audit(cur, actor, "apply_labels", job_id, len(rows), labels=names)
    return len(sample_ids)


def remove_labels(store: Store, job_id: int, sample_ids: list[int], labels: list[str],
                  actor: str | None = None, versions: dict | None = None) -> int:
    """Remove labels from the selected samples; a sample left with none returns to Unlabeled."""
    job = get_job(store, job_id, actor, "label")  # store/access.py decides
    _require_page(job)
    sample_ids = list(dict.fromkeys(int(s) for s in sample_ids))
    if not sample_ids:
        raise ValidationError("select at least one sample first")
    drop = set(labels)
    with store.db.transaction() as cur:
        read = _current_rows(store, job_id, sample_ids)
        check_versions(cur, job_id, versions)
        rows = [(sid, job.labeling_type.validate({"labels": [n for n in read[sid][0] if n not in drop]},
                                                 job.label_set))
                for sid in sample_ids if drop & set(read[sid][0])]
        _write_annotations(cur, job_id, rows, actor, read=read)
        _audit(cur, actor, "remove_labels", job_id, len(rows), labels=sorted(drop))
    return len(rows)


def set_labels(store: Store, job_id: int, sample_id: int, labels: list[str], actor: str | None = None,
               expected_version: int | None = None) -> int:
    """Replace the labels of one sample (a classification record opened on its page), in one
    transaction: a name not in the label set joins it. With ``expected_version`` a sample saved
    since is refused with history.VersionConflict, and the label set stays as it was. Returns
    the new version."""
    job = get_job(store, job_id, actor, "label")  # store/access.py decides
    _require_page(job)
    labels = list(dict.fromkeys(labels))
    with store.db.transaction() as cur:
        new = [Label(n) for n in labels if n not in job.label_set.names()]
        if new:
            job = add_labels_to_set(store, job_id, new, actor, cur=cur)
        read = _current_rows(store, job_id, [sample_id])
        check_version(cur, job_id, sample_id, expected_version, have=read[sample_id][1])
        ann = job.labeling_type.validate({"labels": labels}, job.label_set)
        written = _write_annotations(cur, job_id, [(sample_id, ann)], actor, read=read)  # audited by its history row
        return written.get(sample_id) or current_version(cur, job_id, sample_id)


def set_annotation(store: Store, job_id: int, sample_id: int, data: dict, actor: str | None = None,
                   expected_version: int | None = None) -> int:
    """Save one sample's whole annotation, checked by its type (used by import and every page).
    With ``expected_version`` (the version the editor read), a sample saved since by someone else
    is refused with history.VersionConflict instead of overwritten. Returns the new version."""
    job = get_job(store, job_id, actor, "label")  # store/access.py decides
    _require_page(job)
    ann = job.labeling_type.validate(data, job.label_set, sample_meta(store.db.cursor(), job.labeling_type, sample_id))
    with store.db.transaction() as cur:
        read = _current_rows(store, job_id, [sample_id])
        check_version(cur, job_id, sample_id, expected_version, have=read[sample_id][1])
        written = _write_annotations(cur, job_id, [(sample_id, ann)], actor, read=read)  # audited by its history row
        return written.get(sample_id) or current_version(cur, job_id, sample_id)


def clear_annotation(store: Store, job_id: int, sample_id: int, actor: str | None = None,
                     expected_version: int | None = None) -> None:
    """Remove a sample's whole annotation: it returns to Unlabeled (kept in its history)."""
    get_job(store, job_id, actor, "label")  # store/access.py decides
    with store.db.transaction() as cur:
        read = _current_rows(store, job_id, [sample_id])
        check_version(cur, job_id, sample_id, expected_version, have=read[sample_id][1])
        _write_annotations(cur, job_id, [(sample_id, None)], actor, read=read)  # audited by its history row


def label_usage(store: Store, job_id: int, actor: str | None = None) -> dict[str, int]:
    """Samples per label, for every label of the set (0 when unused)."""
    require_job(store, actor, job_id, "view")
    job = get_job(store, job_id)
    counts = dict(store.db.fetchall(
        "SELECT label, count(*) FROM (SELECT unnest(labels) AS label FROM job_samples WHERE job_id = ?) "
        "GROUP BY label", [job_id]))
    out = {name: counts.pop(name, 0) for name in job.label_set.names()}
    out.update(counts)  # labels used by samples but missing from the set (should not happen)
    return out


def rename_label(store: Store, job_id: int, old: str, new: str, actor: str | None = None) -> int:
    """Rename a label in the label set and on every sample. Returns the samples changed."""
    require_job(store, actor, job_id, "manage")  # store/access.py decides
    job = get_job(store, job_id)
    ls = job.label_set
    typed = [e.name for e in ls.entities] + [r.name for r in ls.relations]  # text triplet labels
    if old not in ls.names() and old not in typed:
        raise NotFound(f"label {old[:80]!r} is not in this job's label set")
    new = check_label_name(new, job.labeling_type.rules)
    if new == old:
        return 0
    if new in ls.names() or new in typed:
        raise Conflict(f"a label named {new[:80]!r} already exists: names must be unique")
    labels = [replace(lab, name=new) if lab.name == old else lab for lab in ls.labels]
    ren = (lambda n: new if n == old else n)
    label_set = validate_label_set(replace(
        ls, labels=labels, entities=[replace(e, name=ren(e.name)) for e in ls.entities],
        relations=[replace(r, name=ren(r.name), source=ren(r.source), target=ren(r.target)) for r in ls.relations]),
        job.labeling_type.rules)
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [label_set.to_json(), now(), job_id])
        if job.labeling_type.relabel is not None:
            changed = _relabel_rows(cur, job, old, new, actor)
            record_event(cur, actor, "rename_label", job_id, old=old, new=new, samples=changed)
            return changed
        ids = [r[0] for r in cur.execute(
            "UPDATE job_samples SET labels = list_transform(labels, lambda x: CASE WHEN x = ? THEN ? ELSE x END), "
            "annotation = json_object('labels', list_transform(labels, lambda x: CASE WHEN x = ? THEN ? ELSE x END)) "
            "WHERE job_id = ? AND list_contains(labels, ?) RETURNING sample_id",
            [old, new, old, new, job_id, old]).fetchall()]
        changed = record_history(cur, job_id, ids, actor, "label_management")
        record_event(cur, actor, "rename_label", job_id, old=old, new=new, samples=changed)
    return changed


def delete_label(store: Store, job_id: int, name: str, delete_samples_with_only_this: bool = False,
                 actor: str | None = None) -> int:
    """Delete a label from the set and from every sample; samples left without labels return to
    Unlabeled. Returns the samples changed."""

    require_job(store, actor, job_id, "manage")  # store/access.py decides
    job = get_job(store, job_id)
    if name in [e.name for e in job.label_set.entities]:
        raise ValidationError(f"entity label {name[:80]!r} was defined when the job was created: "
                              "entity labels of a text triplet job cannot be deleted")
    relation = name in [r.name for r in job.label_set.relations]  # text triplet: a relationship label
    if name not in job.label_set.names() and not relation:
        raise NotFound(f"label {name[:80]!r} is not in this job's label set")
    labels = [lab for lab in job.label_set.labels if lab.name != name]
    label_set = replace(job.label_set, labels=labels,
                        relations=[r for r in job.label_set.relations if r.name != name])
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [label_set.to_json(), now(), job_id])
        removed = 0
        if delete_samples_with_only_this:  # into the trash, as any deletion of samples (store/trash.py)
            from .trash import trash_samples

            only = [r[0] for r in cur.execute("SELECT sample_id FROM job_samples WHERE job_id = ? "
                                              "AND labels = [?]::VARCHAR[]", [job_id, name]).fetchall()]
            removed = trash_samples(store, cur, job, only, actor)
        if job.labeling_type.relabel is not None:
            changed = _relabel_rows(cur, job, name, None, actor)
            record_event(cur, actor, "delete_label", job_id, label=name, samples=changed + removed,
                         deleted_samples=removed)
            return changed + removed
        changed = cur.execute(
            "UPDATE job_samples SET labels = list_filter(labels, lambda x: x <> ?), "
            "annotation = CASE WHEN len(list_filter(labels, lambda x: x <> ?)) = 0 THEN NULL "
            "  ELSE json_object('labels', list_filter(labels, lambda x: x <> ?)) END, "
            "status = CASE WHEN len(list_filter(labels, lambda x: x <> ?)) = 0 THEN 'unlabeled' ELSE status END, "
            "labeled_by = CASE WHEN len(list_filter(labels, lambda x: x <> ?)) = 0 THEN NULL ELSE labeled_by END, "
            "labeled_at = CASE WHEN len(list_filter(labels, lambda x: x <> ?)) = 0 THEN NULL ELSE labeled_at END "
            "WHERE job_id = ? AND list_contains(labels, ?) RETURNING sample_id", [name] * 6 + [job_id, name]).fetchall()
        changed = record_history(cur, job_id, [r[0] for r in changed], actor, "label_management")
        record_event(cur, actor, "delete_label", job_id, label=name, samples=changed + removed,
                     deleted_samples=removed)
    return changed + removed


def _relabel_rows(cur, job: Job, old: str, new: str | None, actor: str | None) -> int:
    """Rename (new) or drop (new=None) a label inside structured annotations (shapes, spans...);
    who labeled a sample stays; a sample left with nothing returns to Unlabeled."""
    rows = cur.execute("SELECT sample_id, annotation FROM job_samples WHERE job_id = ? AND list_contains(labels, ?)",
                       [job.id, old]).fetchall()
    params = []
    for sample_id, raw in rows:
        data = job.labeling_type.relabel(json.loads(raw) if raw else {}, old, new)
        labels = job.labeling_type.label_names(data)
        params.append([labels, json.dumps(data, ensure_ascii=False) if labels else None,
                       bool(labels), bool(labels), bool(labels), job.id, sample_id])
    if not params:
        return 0
    cur.executemany(
        "UPDATE job_samples SET labels = ?, annotation = ?, "
        "status = CASE WHEN ? THEN status ELSE 'unlabeled' END, "
        "labeled_by = CASE WHEN ? THEN labeled_by ELSE NULL END, "
        "labeled_at = CASE WHEN ? THEN labeled_at ELSE NULL END WHERE job_id = ? AND sample_id = ?", params)
    return record_history(cur, job.id, [r[0] for r in rows], actor, "label_management")


def add_label(store: Store, job_id: int, name: str, color: str = "", actor: str | None = None,
              shortcut: str = "") -> Job:
    """Add a label (a color and, for the types with shortcut keys, a key; both assigned when
    not given)."""
    require_job(store, actor, job_id, "manage")  # store/access.py decides
    job = get_job(store, job_id)
    name = check_label_name(name, job.labeling_type.rules)
    if name in _all_names(job.label_set):
        raise Conflict(f"a label named {name[:80]!r} already exists: names must be unique")
    if job.labeling_type.rules.entities_relations:  # text triplet: the label box adds entity labels
        return edit_label_set(store, job_id, replace(job.label_set, entities=[*job.label_set.entities,
                                                                              Label(name, color)]), actor)
    return add_labels_to_set(store, job_id, [Label(name, color, shortcut)], actor)


def _all_names(ls: LabelSet) -> list[str]:
    return (ls.names() + [e.name for e in ls.entities] + [r.name for r in ls.relations]
            + [n for c in ls.classes for n in c.labels])


def edit_label_set(store: Store, job_id: int, label_set: LabelSet, actor: str | None = None) -> Job:
    """Replace the job's label set with an edited one (the label-set editor): new labels, entity
    and relation labels, classes, colors, shortcut keys, attributes, order. A label that samples
    use may not disappear here: renaming and deleting it changes those samples, which Rename /
    Delete everywhere do (and say how many). Labels no sample uses may go."""
    require_job(store, actor, job_id, "manage")  # store/access.py decides
    new = checked_label_set(store, get_job(store, job_id), label_set)
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [new.to_json(), now(), job_id])
        record_event(cur, actor, "edit_label_set", job_id, labels=len(_all_names(new)))
    return get_job(store, job_id)


def checked_label_set(store: Store, job, label_set: LabelSet) -> LabelSet:
    """An edited label set for a job, validated under its type's rules; refused (ValidationError) when a
    label, entity, relation or class that samples use would disappear (the label-set editor of
    Label management and of Modify the job both save through this)."""
    new = validate_label_set(label_set, job.labeling_type.rules)
    job_id = job.id
    kept = set(_all_names(new))
    used = dict(store.db.fetchall(
        "SELECT label, count(*) FROM (SELECT unnest(labels) AS label FROM job_samples WHERE job_id = ?) "
        "GROUP BY label", [job_id]))
    lost = [n for n in _all_names(job.label_set) if n not in kept and used.get(n)]
    if lost:
        shown = ", ".join(f"{n[:60]!r} is used by {used[n]} sample{'s' if used[n] != 1 else ''}"
                          for n in lost[:5]) + \
            (" ..." if len(lost) > 5 else "")
        raise ValidationError(f"{shown}: rename or delete with Rename / Delete everywhere, which change those "
                              "samples too. Nothing was changed.")
    lost_classes = {c.name for c in job.label_set.classes} - {c.name for c in new.classes}
    if lost_classes and any(used.values()):
        raise ValidationError(f"label class {sorted(lost_classes)[0][:60]!r} is used by labeled segments: "
                              "it cannot be removed here. Nothing was changed.")
    return new


def recolor_label(store: Store, job_id: int, name: str, color: str, actor: str | None = None) -> Job:
    """Change the color of a label (or an entity / relationship label) everywhere it is shown."""
    require_job(store, actor, job_id, "manage")  # store/access.py decides
    job = get_job(store, job_id)
    ls = job.label_set
    if name not in ls.names() + [e.name for e in ls.entities] + [r.name for r in ls.relations]:
        raise NotFound(f"label {name[:80]!r} is not in this job's label set")
    label_set = validate_label_set(replace(
        ls, labels=[replace(x, color=color) if x.name == name else x for x in ls.labels],
        entities=[replace(x, color=color) if x.name == name else x for x in ls.entities],
        relations=[replace(x, color=color) if x.name == name else x for x in ls.relations]),
        job.labeling_type.rules)
    with store.db.transaction() as cur:
        cur.execute("UPDATE jobs SET label_set = ?, updated_at = ? WHERE id = ?", [label_set.to_json(), now(), job_id])
        record_event(cur, actor, "recolor_label", job_id, label=name, color=color)
    return get_job(store, job_id)


def as_label_set(names: list[str]) -> LabelSet:
    return LabelSet(labels=[Label(n) for n in names])
